//! Anomaly scores. The paper's score is the latent reconstruction error ‖z − ẑ‖² (as a mean
//! over the latent); the pixel error is the baseline it is compared with. Scoring always runs
//! on a model in inference mode (`Module::valid`), so BatchNorm uses its running statistics and
//! an image's score does not depend on the rest of its batch.

use burn::module::Module;
use burn::tensor::{Tensor, TensorData};

use crate::model::{Generator, GeneratorOutput};

/// Per image: mean over the latent of (z − ẑ)².
pub fn latent_score(latent: Tensor<2>, reconstructed_latent: Tensor<2>) -> Tensor<1> {
    (latent - reconstructed_latent)
        .square()
        .mean_dim(1)
        .flatten(0, 1)
}

/// Per image: mean absolute residual over pixels and channels.
pub fn pixel_score(images: Tensor<4>, reconstruction: Tensor<4>) -> Tensor<1> {
    (images - reconstruction)
        .abs()
        .flatten::<2>(1, 3)
        .mean_dim(1)
        .flatten(0, 1)
}

/// Per pixel: absolute residual averaged over channels, `[batch, height, width]`.
pub fn residual_map(images: Tensor<4>, reconstruction: Tensor<4>) -> Tensor<3> {
    (images - reconstruction).abs().mean_dim(1).squeeze_dim(1)
}

/// Both scores of a batch, on the host.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scores {
    pub latent: Vec<f32>,
    pub pixel: Vec<f32>,
}

impl Scores {
    pub fn len(&self) -> usize {
        self.latent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.latent.is_empty()
    }

    pub fn extend(&mut self, other: Scores) {
        self.latent.extend(other.latent);
        self.pixel.extend(other.pixel);
    }
}

/// Host values of read-back float data, whatever float type the device used.
pub fn floats(data: TensorData) -> Vec<f32> {
    data.convert::<f32>()
        .try_to_vec::<f32>()
        .expect("float data converts to f32")
}

fn to_vec(tensor: Tensor<1>) -> Vec<f32> {
    floats(tensor.into_data())
}

/// Scores one batch with `generator` switched to inference mode.
pub fn score_batch(generator: &Generator, images: Tensor<4>) -> Scores {
    scores_of(inference_pass(generator, images.clone()), images)
}

fn scores_of(output: GeneratorOutput, images: Tensor<4>) -> Scores {
    Scores {
        latent: to_vec(latent_score(output.latent, output.reconstructed_latent)),
        pixel: to_vec(pixel_score(images, output.reconstruction)),
    }
}

/// Everything a viewer needs for one batch: scores, latents, reconstructions and residual maps.
#[derive(Debug, Clone)]
pub struct DetailedScores {
    pub scores: Scores,
    /// z = E(x), `[batch, latent]`.
    pub latent: TensorData,
    /// ẑ = E′(x̂), `[batch, latent]`.
    pub reconstructed_latent: TensorData,
    /// `[batch, channels, size, size]`, values in [−1, 1].
    pub reconstruction: TensorData,
    /// `[batch, size, size]`, absolute residual in model units (the input spans 2).
    pub residual: TensorData,
}

/// The tensors behind [`DetailedScores`], before they are read back: synchronously natively,
/// asynchronously where the device demands it (WebGPU in a browser). Scores, latents,
/// reconstructions and residual maps are concatenated on the device so that one read-back — one
/// round trip to the GPU, which dominates the time of a small model — fetches them all.
pub struct DetailedTensors {
    packed: Tensor<1>,
    layout: Layout,
}

/// Sizes of the parts packed in a [`DetailedTensors`].
#[derive(Debug, Clone, Copy)]
struct Layout {
    batch: usize,
    latent: usize,
    channels: usize,
    size: usize,
}

impl DetailedTensors {
    pub fn new(generator: &Generator, images: Tensor<4>) -> Self {
        let [batch, channels, size, _] = images.dims();
        let output = inference_pass(generator, images.clone());
        let [_, latent_dim] = output.latent.dims();
        let latent = latent_score(output.latent.clone(), output.reconstructed_latent.clone());
        let pixel = pixel_score(images.clone(), output.reconstruction.clone());
        let residual = residual_map(images, output.reconstruction.clone());
        let packed = Tensor::cat(
            vec![
                latent,
                pixel,
                output.latent.reshape([batch * latent_dim]),
                output.reconstructed_latent.reshape([batch * latent_dim]),
                output
                    .reconstruction
                    .reshape([batch * channels * size * size]),
                residual.reshape([batch * size * size]),
            ],
            0,
        );
        Self {
            packed,
            layout: Layout {
                batch,
                latent: latent_dim,
                channels,
                size,
            },
        }
    }

    pub fn read(self) -> DetailedScores {
        unpack(floats(self.packed.into_data()), self.layout)
    }

    pub async fn read_async(self) -> crate::Result<DetailedScores> {
        let data = self.packed.into_data_async().await.map_err(|e| {
            crate::LranError::model("device", format!("cannot read results back: {e:?}"))
        })?;
        Ok(unpack(floats(data), self.layout))
    }
}

/// Splits the packed read-back of [`DetailedTensors`] into its parts.
fn unpack(mut values: Vec<f32>, layout: Layout) -> DetailedScores {
    let Layout {
        batch,
        latent,
        channels,
        size,
    } = layout;
    let image = batch * channels * size * size;
    let latents = batch * latent;
    let residual = values.split_off(2 * batch + 2 * latents + image);
    let reconstruction = values.split_off(2 * batch + 2 * latents);
    let reconstructed_latent = values.split_off(2 * batch + latents);
    let z = values.split_off(2 * batch);
    let pixel = values.split_off(batch);
    DetailedScores {
        scores: Scores {
            latent: values,
            pixel,
        },
        latent: TensorData::new(z, [batch, latent]),
        reconstructed_latent: TensorData::new(reconstructed_latent, [batch, latent]),
        reconstruction: TensorData::new(reconstruction, [batch, channels, size, size]),
        residual: TensorData::new(residual, [batch, size, size]),
    }
}

/// A forward pass with BatchNorm in inference mode and no autodiff graph, whatever mode the
/// caller's generator is in.
fn inference_pass(generator: &Generator, images: Tensor<4>) -> GeneratorOutput {
    let generator = generator.valid();
    generator.forward(images.inner())
}
