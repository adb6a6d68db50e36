//! Network shapes and initialisation.

use lran::ModelConfig;
use lran::burn::module::Module;
use lran::burn::tensor::{Device, Tensor, TensorData};
use lran::model::{Discriminator, Generator};

fn random_images(config: &ModelConfig, batch: usize, device: &Device) -> Tensor<4> {
    let n = batch * config.pixels();
    let values: Vec<f32> = (0..n)
        .map(|i| ((i * 7919 % 255) as f32 / 127.5) - 1.0)
        .collect();
    Tensor::from_data(
        TensorData::new(
            values,
            [batch, config.channels, config.image_size, config.image_size],
        ),
        device,
    )
}

#[test]
fn generator_and_discriminator_shapes_for_every_supported_size_and_channel_count() {
    let device = Device::flex();
    for image_size in [32, 64, 128] {
        for channels in [1, 3, 4] {
            let config = ModelConfig {
                image_size,
                channels,
                latent_dim: 20,
                base_width: 4,
                ..ModelConfig::tiny(1)
            };
            let images = random_images(&config, 3, &device);
            let out = Generator::new(&config, &device)
                .valid()
                .forward(images.clone());
            assert_eq!(
                out.reconstruction.dims(),
                [3, channels, image_size, image_size]
            );
            assert_eq!(out.latent.dims(), [3, 20]);
            assert_eq!(out.reconstructed_latent.dims(), [3, 20]);
            let width_at_4x4 = 4 << (config.halvings() - 1);
            let d = Discriminator::new(&config, &device).valid().forward(images);
            assert_eq!(d.logits.dims(), [3]);
            assert_eq!(d.features.dims(), [3, width_at_4x4, 4, 4]);
            // tanh output
            let values: Vec<f32> = out.reconstruction.into_data().try_to_vec::<f32>().unwrap();
            assert!(values.iter().all(|v| (-1.0..=1.0).contains(v)));
        }
    }
}

#[test]
fn auxiliary_encoder_has_its_own_weights() {
    let device = Device::flex();
    let config = ModelConfig::tiny(1);
    let generator = Generator::new(&config, &device).valid();
    let images = random_images(&config, 2, &device);
    let z: Vec<f32> = generator
        .encoder
        .forward(images.clone())
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let z_aux: Vec<f32> = generator
        .auxiliary_encoder
        .forward(images)
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    assert_eq!(z.len(), z_aux.len());
    assert!(
        z.iter().zip(&z_aux).any(|(a, b)| (a - b).abs() > 1e-4),
        "E and E' share weights"
    );
}

/// Scoring runs BatchNorm in inference mode: an image's score does not depend on its batch.
#[test]
fn scores_do_not_depend_on_the_rest_of_the_batch() {
    let device = Device::flex();
    let config = ModelConfig::tiny(1);
    let generator = Generator::new(&config, &device.clone().autodiff());
    let images = random_images(&config, 4, &device);
    let together = lran::score::score_batch(&generator, images.clone());
    let alone = lran::score::score_batch(&generator, images.slice([0..1]));
    assert!(
        (together.latent[0] - alone.latent[0]).abs() < 1e-5 * together.latent[0].abs().max(1.0)
    );
    assert!((together.pixel[0] - alone.pixel[0]).abs() < 1e-5);
}

/// The convolution algorithm is the modules' own (no process-wide switch): one set of weights
/// computed both ways, side by side in one thread, gives the same outputs within f32 rounding.
#[test]
fn one_generator_computes_alike_with_either_convolution_algorithm() {
    let device = Device::flex();
    let config = ModelConfig::brain(1);
    let images = random_images(&config, 2, &device);
    let native = Generator::new(&config, &device).valid();
    let gemm = native.clone().with_conv(lran::conv::ConvAlgorithm::Gemm);
    let a = native.forward(images.clone());
    let b = gemm.forward(images.clone());
    let again = native.forward(images);
    let gemm_difference: f32 = (a.reconstruction.clone() - b.reconstruction)
        .abs()
        .max()
        .into_scalar();
    assert!(gemm_difference < 1e-4, "{gemm_difference}");
    // Another summation order shows (the matmul form did run), and the native model is
    // untouched by its clone's switch: bit for bit what it computed before.
    assert!(
        gemm_difference > 0.0,
        "the gemm model computed exactly what burn's ops did"
    );
    let repeat_difference: f32 = (a.reconstruction.clone() - again.reconstruction)
        .abs()
        .max()
        .into_scalar();
    assert_eq!(repeat_difference, 0.0);
    let latent_difference: f32 = (a.latent - b.latent).abs().max().into_scalar();
    assert!(latent_difference < 1e-4, "{latent_difference}");
}
