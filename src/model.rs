//! The network: GANomaly's DCGAN encoder/decoder stacks arranged as the LRAN generator
//! (E → decoder → E′) and a DCGAN discriminator. No backend is named here: the `Device` the
//! modules are built on decides where they run, so the trainer and the browser share this code.

use burn::module::{Initializer, Module};
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::tensor::activation::{leaky_relu, relu, tanh};
use burn::tensor::{Device, Tensor};

use crate::config::ModelConfig;
use crate::conv::{ConvAlgorithm, apply_conv_transpose4, apply_conv4};

/// DCGAN initialisation (Radford et al.): N(0, 0.02) for convolutions…
fn conv_init() -> Initializer {
    Initializer::Normal {
        mean: 0.0,
        std: 0.02,
    }
}

/// …and N(1, 0.02) for BatchNorm scales (shifts start at 0).
fn batch_norm(features: usize, device: &Device) -> BatchNorm {
    let mut norm = BatchNormConfig::new(features).init(device);
    norm.gamma = Initializer::Normal {
        mean: 1.0,
        std: 0.02,
    }
    .init([features], device);
    norm
}

/// 4×4 convolution without bias (BatchNorm follows, or the layer is linear into the latent):
/// every convolution of the networks, so the checks of `lran::conv` compare against these.
pub fn conv4(
    input: usize,
    output: usize,
    stride: usize,
    padding: usize,
    device: &Device,
) -> Conv2d {
    Conv2dConfig::new([input, output], [4, 4])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(
            padding, padding, padding, padding,
        ))
        .with_bias(false)
        .with_initializer(conv_init())
        .init(device)
}

/// 4×4 transposed convolution without bias: every upsampling of the decoder.
pub fn conv_transpose4(
    input: usize,
    output: usize,
    stride: usize,
    padding: usize,
    device: &Device,
) -> ConvTranspose2d {
    ConvTranspose2dConfig::new([input, output], [4, 4])
        .with_stride([stride, stride])
        .with_padding([padding, padding])
        .with_bias(false)
        .with_initializer(conv_init())
        .init(device)
}

/// A stride-2 halving: conv, optional BatchNorm, LeakyReLU(0.2).
#[derive(Module, Debug)]
pub struct DownBlock {
    conv: Conv2d,
    norm: Option<BatchNorm>,
}

impl DownBlock {
    fn forward(&self, x: Tensor<4>, algorithm: ConvAlgorithm) -> Tensor<4> {
        let x = apply_conv4(&self.conv, x, algorithm);
        let x = match &self.norm {
            Some(norm) => norm.forward(x),
            None => x,
        };
        leaky_relu_02(x)
    }
}

/// LeakyReLU with GANomaly's slope 0.2.
///
/// Why not burn's `leaky_relu` in training: autodiff has no operation of its own for it and
/// records its decomposition (a comparison, a scaled copy and a `mask_where`), whose backward
/// takes about four passes over the activation. Written as `x · slope`, with the slope (1 where
/// x ≥ 0, 0.2 below) taken from a detached copy, the backward is one multiplication, and the
/// values and gradients are the same to the bit. Untracked (scoring) keeps the backend's fused
/// single-pass kernel.
fn leaky_relu_02(x: Tensor<4>) -> Tensor<4> {
    const SLOPE: f64 = 0.2;
    #[cfg(feature = "train")]
    if x.is_tracked() {
        let negative = x.clone().detach().lower_elem(0.0);
        let slope = x.ones_like().mask_fill(negative, SLOPE);
        return x * slope;
    }
    leaky_relu(x, SLOPE)
}

/// The DCGAN encoder (GANomaly's `Encoder`): halvings down to a 4×4 map, then a 4×4 "valid"
/// convolution to `out_channels` values per image. As in GANomaly the first halving has no
/// BatchNorm (normalising raw pixels would discard their absolute intensity).
#[derive(Module, Debug)]
pub struct DcganEncoder {
    blocks: Vec<DownBlock>,
    head: Conv2d,
    /// How the convolutions are computed (the configuration's; not part of the weights).
    #[module(skip)]
    algorithm: ConvAlgorithm,
}

impl DcganEncoder {
    pub fn new(config: &ModelConfig, out_channels: usize, device: &Device) -> Self {
        let mut blocks = Vec::with_capacity(config.halvings());
        let mut width = config.base_width;
        blocks.push(DownBlock {
            conv: conv4(config.channels, width, 2, 1, device),
            norm: None,
        });
        for _ in 1..config.halvings() {
            blocks.push(DownBlock {
                conv: conv4(width, width * 2, 2, 1, device),
                norm: Some(batch_norm(width * 2, device)),
            });
            width *= 2;
        }
        Self {
            blocks,
            head: conv4(width, out_channels, 1, 0, device),
            algorithm: config.conv,
        }
    }

    /// The 4×4 feature map before the head: the discriminator's penultimate features.
    pub fn features(&self, images: Tensor<4>) -> Tensor<4> {
        self.blocks
            .iter()
            .fold(images, |x, block| block.forward(x, self.algorithm))
    }

    /// `[batch, channels, size, size]` → `[batch, out_channels]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.head(self.features(images)).flatten(1, 3)
    }

    /// The head convolution alone, on a 4×4 feature map.
    fn head(&self, features: Tensor<4>) -> Tensor<4> {
        apply_conv4(&self.head, features, self.algorithm)
    }
}

/// A stride-2 doubling: transposed conv, BatchNorm, ReLU.
#[derive(Module, Debug)]
pub struct UpBlock {
    conv: ConvTranspose2d,
    norm: BatchNorm,
}

impl UpBlock {
    fn forward(&self, x: Tensor<4>, algorithm: ConvAlgorithm) -> Tensor<4> {
        relu(
            self.norm
                .forward(apply_conv_transpose4(&self.conv, x, algorithm)),
        )
    }
}

/// The DCGAN decoder (GANomaly's `Decoder`), the encoder's mirror: latent → 4×4 map → doublings
/// → image in [−1, 1] through tanh.
#[derive(Module, Debug)]
pub struct DcganDecoder {
    stem: UpBlock,
    blocks: Vec<UpBlock>,
    head: ConvTranspose2d,
    latent_dim: usize,
    /// How the convolutions are computed (the configuration's; not part of the weights).
    #[module(skip)]
    algorithm: ConvAlgorithm,
}

impl DcganDecoder {
    pub fn new(config: &ModelConfig, device: &Device) -> Self {
        let halvings = config.halvings();
        let mut width = config.base_width << (halvings - 1);
        let stem = UpBlock {
            conv: conv_transpose4(config.latent_dim, width, 1, 0, device),
            norm: batch_norm(width, device),
        };
        let mut blocks = Vec::with_capacity(halvings - 1);
        for _ in 1..halvings {
            blocks.push(UpBlock {
                conv: conv_transpose4(width, width / 2, 2, 1, device),
                norm: batch_norm(width / 2, device),
            });
            width /= 2;
        }
        let head = conv_transpose4(width, config.channels, 2, 1, device);
        Self {
            stem,
            blocks,
            head,
            latent_dim: config.latent_dim,
            algorithm: config.conv,
        }
    }

    /// `[batch, latent]` → `[batch, channels, size, size]`.
    pub fn forward(&self, latent: Tensor<2>) -> Tensor<4> {
        let [batch, _] = latent.dims();
        let x = self.stem.forward(
            latent.reshape([batch, self.latent_dim, 1, 1]),
            self.algorithm,
        );
        let x = self
            .blocks
            .iter()
            .fold(x, |x, block| block.forward(x, self.algorithm));
        tanh(apply_conv_transpose4(&self.head, x, self.algorithm))
    }
}

/// What one generator pass produces.
#[derive(Debug, Clone)]
pub struct GeneratorOutput {
    /// x̂ = decoder(E(x)).
    pub reconstruction: Tensor<4>,
    /// z = E(x), `[batch, latent]`.
    pub latent: Tensor<2>,
    /// ẑ = E′(x̂), `[batch, latent]`.
    pub reconstructed_latent: Tensor<2>,
}

/// Burn draws initial weights from one random stream per backend and process, which
/// `Device::seed` restarts, and draws them lazily, when a parameter is first read. Two models
/// built at once on different threads (tests side by side, a gate beside a training) would
/// interleave their draws, and neither would get the weights its seed names: that is what made
/// the CPU gate test fail now and then beside the wgpu gates (the draw gave another network,
/// on which the two convolution formulations differ more). So every lran construction that
/// draws weights goes through here: under one lock, the stream is seeded, the module (a tuple
/// for several) is built and every parameter is read, so all draws happen inside. Loading
/// weights into a new module draws nothing (its lazy parameters are replaced unread), so
/// loaders need not come here (nor the page, which only loads).
#[cfg(feature = "train")]
pub(crate) fn drawing_weights<M: Module>(
    device: &Device,
    seed: u64,
    build: impl FnOnce() -> M,
) -> M {
    /// Reads every parameter, so a lazily initialised one draws its values now.
    struct Touch;
    impl burn::module::ModuleVisitor for Touch {
        fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
            let _ = param.val();
        }
    }
    static WEIGHT_DRAWS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _drawing = WEIGHT_DRAWS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    device.seed(seed);
    let module = build();
    module.visit(&mut Touch);
    module
}

/// The LRAN/GANomaly generator: encoder E, decoder, and the auxiliary encoder E′ that has E's
/// architecture and its own weights.
#[derive(Module, Debug)]
pub struct Generator {
    pub encoder: DcganEncoder,
    pub decoder: DcganDecoder,
    pub auxiliary_encoder: DcganEncoder,
}

impl Generator {
    pub fn new(config: &ModelConfig, device: &Device) -> Self {
        Self {
            encoder: DcganEncoder::new(config, config.latent_dim, device),
            decoder: DcganDecoder::new(config, device),
            auxiliary_encoder: DcganEncoder::new(config, config.latent_dim, device),
        }
    }

    /// The same generator with its convolutions computed by `algorithm` (weights unchanged).
    pub fn with_conv(mut self, algorithm: ConvAlgorithm) -> Self {
        self.encoder.algorithm = algorithm;
        self.decoder.algorithm = algorithm;
        self.auxiliary_encoder.algorithm = algorithm;
        self
    }

    pub fn forward(&self, images: Tensor<4>) -> GeneratorOutput {
        let latent = self.encoder.forward(images);
        let reconstruction = self.decoder.forward(latent.clone());
        let reconstructed_latent = self.auxiliary_encoder.forward(reconstruction.clone());
        GeneratorOutput {
            reconstruction,
            latent,
            reconstructed_latent,
        }
    }
}

/// What the discriminator says about a batch.
#[derive(Debug, Clone)]
pub struct DiscriminatorOutput {
    /// One real-vs-fake logit per image, `[batch]` (sigmoid is applied inside the loss, which
    /// is numerically safer than GANomaly's sigmoid + BCE).
    pub logits: Tensor<1>,
    /// Penultimate 4×4 features, the target of the generator's feature matching.
    pub features: Tensor<4>,
}

/// The DCGAN discriminator: the encoder stack with a one-logit head.
#[derive(Module, Debug)]
pub struct Discriminator {
    pub body: DcganEncoder,
}

impl Discriminator {
    pub fn new(config: &ModelConfig, device: &Device) -> Self {
        Self {
            body: DcganEncoder::new(config, 1, device),
        }
    }

    pub fn forward(&self, images: Tensor<4>) -> DiscriminatorOutput {
        let features = self.body.features(images);
        let logits = self.body.head(features.clone()).flatten(0, 3);
        DiscriminatorOutput { logits, features }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
        tensor.into_data().try_to_vec::<f32>().unwrap()
    }

    fn moments(v: &[f32]) -> (f32, f32) {
        let mean = v.iter().sum::<f32>() / v.len() as f32;
        (
            mean,
            (v.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / v.len() as f32).sqrt(),
        )
    }

    /// DCGAN initialisation: convolutions N(0, 0.02), BatchNorm scales N(1, 0.02), shifts 0.
    #[test]
    fn weights_follow_the_dcgan_initialisation() {
        let device = Device::flex();
        device.seed(3);
        let generator = Generator::new(&ModelConfig::paper(1), &device);
        let (mut conv, mut gamma, mut beta) = (vec![], vec![], vec![]);
        for encoder in [&generator.encoder, &generator.auxiliary_encoder] {
            for block in &encoder.blocks {
                conv.extend(values(block.conv.weight.val()));
                if let Some(norm) = &block.norm {
                    gamma.extend(values(norm.gamma.val()));
                    beta.extend(values(norm.beta.val()));
                }
            }
            conv.extend(values(encoder.head.weight.val()));
        }
        for block in std::iter::once(&generator.decoder.stem).chain(&generator.decoder.blocks) {
            conv.extend(values(block.conv.weight.val()));
            gamma.extend(values(block.norm.gamma.val()));
            beta.extend(values(block.norm.beta.val()));
        }
        conv.extend(values(generator.decoder.head.weight.val()));
        assert!(
            conv.len() > 1_000_000 && gamma.len() > 500,
            "{} {}",
            conv.len(),
            gamma.len()
        );
        let (conv_mean, conv_std) = moments(&conv);
        let (gamma_mean, gamma_std) = moments(&gamma);
        assert!(
            conv_mean.abs() < 1e-3 && (conv_std - 0.02).abs() < 5e-4,
            "conv {conv_mean} {conv_std}"
        );
        assert!(
            (gamma_mean - 1.0).abs() < 5e-3 && (gamma_std - 0.02).abs() < 3e-3,
            "gamma {gamma_mean} {gamma_std}"
        );
        assert!(beta.iter().all(|&b| b == 0.0));
        // No bias anywhere: BatchNorm's shift (or nothing, before the latent) plays its part.
        assert!(generator.encoder.head.bias.is_none() && generator.decoder.head.bias.is_none());
    }
}
