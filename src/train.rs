//! Adversarial training (GANomaly's schedule with LRAN's low-rank term): one generator step on
//! the weighted objective, then one discriminator step on real vs reconstructed images.
//! Files, progress bars and the command line live in xtask; this is the part tests drive.

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::augment::Augmentation;
use crate::card::load_weights;
use crate::config::{LossConfig, ModelConfig};
use crate::data::ImageSet;
use crate::error::{LranError, Result};
use crate::loss::{GeneratorLoss, discriminator_bce};
use crate::metrics::roc_auc;
use crate::model::{Discriminator, Generator, GeneratorOutput, drawing_weights};
use crate::rng::SplitMix64;
use crate::score::Scores;
use crate::scorer::score_set;

/// A loss above this is treated as an explosion (the reconstruction term of images in
/// [−1, 1] is at most 2·w_rec; nothing healthy comes near).
const EXPLODED_LOSS: f32 = 1e6;
/// GANomaly re-initialises a discriminator whose loss collapses below this.
const COLLAPSED_DISCRIMINATOR_LOSS: f32 = 1e-5;

/// Everything that decides a training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub model: ModelConfig,
    pub losses: LossConfig,
    /// Adam step size; GANomaly's 2e-4 by default (the paper states 2e-3).
    pub learning_rate: f64,
    pub beta1: f32,
    pub beta2: f32,
    pub batch_size: usize,
    pub seed: u64,
    /// Percentile of healthy validation scores used as the decision threshold.
    pub threshold_percentile: f64,
    /// Varies the training images (never validation or test images); none by default.
    #[serde(default)]
    pub augmentation: Option<Augmentation>,
}

impl TrainConfig {
    /// GANomaly's Adam step size (the paper states 2e-3; GANomaly's code and ours use 2e-4).
    pub const LEARNING_RATE: f64 = 2e-4;
    /// GANomaly's Adam betas.
    pub const BETA1: f32 = 0.5;
    pub const BETA2: f32 = 0.999;
    pub const BATCH_SIZE: usize = 64;
    /// The decision threshold: this percentile of healthy validation scores (a 5 % false-alarm
    /// rate on healthy images by construction).
    pub const THRESHOLD_PERCENTILE: f64 = 95.0;

    pub fn new(model: ModelConfig) -> Self {
        Self {
            model,
            losses: LossConfig::default(),
            learning_rate: Self::LEARNING_RATE,
            beta1: Self::BETA1,
            beta2: Self::BETA2,
            batch_size: Self::BATCH_SIZE,
            seed: 0,
            threshold_percentile: Self::THRESHOLD_PERCENTILE,
            augmentation: None,
        }
    }

    pub fn validate(&self) -> Result<()> {
        self.model.validate()?;
        self.losses.validate()?;
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0 && self.learning_rate < 1.0)
        {
            return Err(LranError::config(format!(
                "learning rate {} is not in (0, 1)",
                self.learning_rate
            )));
        }
        if let Some(augmentation) = &self.augmentation {
            augmentation.validate()?;
        }
        if self.batch_size < 2 {
            return Err(LranError::config(
                "batch size must be at least 2 (BatchNorm and the nuclear norm need a batch)",
            ));
        }
        Ok(())
    }

    fn adam(&self) -> ModuleOptimizer {
        AdamConfig::new()
            .with_beta_1(self.beta1)
            .with_beta_2(self.beta2)
            .with_epsilon(1e-8)
            .init()
    }
}

/// Loss values of one step, read back to the host.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct StepLosses {
    pub generator: f32,
    pub reconstruction: f32,
    pub adversarial: f32,
    pub latent: f32,
    pub low_rank: f32,
    pub discriminator: f32,
}

impl StepLosses {
    /// Each value with its name, as logs and the gate name them.
    pub fn named(&self) -> [(&'static str, f32); 6] {
        [
            ("generator", self.generator),
            ("reconstruction", self.reconstruction),
            ("adversarial", self.adversarial),
            ("latent", self.latent),
            ("low-rank", self.low_rank),
            ("discriminator", self.discriminator),
        ]
    }

    fn check(&self, step: u64) -> Result<()> {
        for (name, value) in self.named() {
            if !value.is_finite() {
                return Err(LranError::Diverged(format!(
                    "the {name} loss became {value} at step {step}; try a lower learning rate"
                )));
            }
            if value.abs() > EXPLODED_LOSS {
                return Err(LranError::Diverged(format!(
                    "the {name} loss exploded to {value:e} at step {step}; try a lower learning rate"
                )));
            }
        }
        Ok(())
    }

    fn add_scaled(&mut self, other: &StepLosses, scale: f32) {
        self.generator += other.generator * scale;
        self.reconstruction += other.reconstruction * scale;
        self.adversarial += other.adversarial * scale;
        self.latent += other.latent * scale;
        self.low_rank += other.low_rank * scale;
        self.discriminator += other.discriminator * scale;
    }
}

/// Weights and optimiser states, as bytes, for checkpoints and export.
#[derive(Debug, Clone)]
pub struct TrainerState {
    pub generator: Vec<u8>,
    pub discriminator: Vec<u8>,
    pub generator_optimizer: Vec<u8>,
    pub discriminator_optimizer: Vec<u8>,
    pub steps: u64,
}

pub struct Trainer {
    pub config: TrainConfig,
    pub generator: Generator,
    pub discriminator: Discriminator,
    generator_optimizer: ModuleOptimizer,
    discriminator_optimizer: ModuleOptimizer,
    /// The training device, with autodiff.
    device: Device,
    pub steps: u64,
    pub discriminator_resets: u64,
}

impl Trainer {
    /// Fresh weights on `device` (autodiff is added here), seeded by `config.seed`.
    pub fn new(config: TrainConfig, device: &Device) -> Result<Self> {
        config.validate()?;
        let device = device.clone().autodiff();
        let (generator, discriminator) = drawing_weights(&device, config.seed, || {
            (
                Generator::new(&config.model, &device),
                Discriminator::new(&config.model, &device),
            )
        });
        Ok(Self {
            generator_optimizer: config.adam(),
            discriminator_optimizer: config.adam(),
            config,
            generator,
            discriminator,
            device,
            steps: 0,
            discriminator_resets: 0,
        })
    }

    /// A trainer continuing from `state` (a checkpoint).
    pub fn restore(config: TrainConfig, device: &Device, state: TrainerState) -> Result<Self> {
        let mut trainer = Self::new(config, device)?;
        trainer.generator = load_weights(trainer.generator, state.generator, "generator")?;
        trainer.discriminator =
            load_weights(trainer.discriminator, state.discriminator, "discriminator")?;
        trainer.generator_optimizer = trainer
            .generator_optimizer
            .from_bytes(burn::tensor::Bytes::from_bytes_vec(
                state.generator_optimizer,
            ))
            .map_err(|e| LranError::model("generator optimiser state", format!("{e}")))?;
        trainer.discriminator_optimizer = trainer
            .discriminator_optimizer
            .from_bytes(burn::tensor::Bytes::from_bytes_vec(
                state.discriminator_optimizer,
            ))
            .map_err(|e| LranError::model("discriminator optimiser state", format!("{e}")))?;
        trainer.steps = state.steps;
        Ok(trainer)
    }

    pub fn state(&self) -> Result<TrainerState> {
        let bytes = |r: std::result::Result<burn::tensor::Bytes, burn::store::RecordError>,
                     what: &str| {
            r.map(|b| b.to_vec())
                .map_err(|e| LranError::model(what, format!("cannot serialise: {e}")))
        };
        Ok(TrainerState {
            generator: bytes(
                self.generator.clone().into_record().into_bytes(),
                "generator",
            )?,
            discriminator: bytes(
                self.discriminator.clone().into_record().into_bytes(),
                "discriminator",
            )?,
            generator_optimizer: bytes(
                self.generator_optimizer.into_bytes(),
                "generator optimiser",
            )?,
            discriminator_optimizer: bytes(
                self.discriminator_optimizer.into_bytes(),
                "discriminator optimiser",
            )?,
            steps: self.steps,
        })
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The generator's forward pass and weighted objective on `images` (on the trainer's device).
    fn generator_loss(&self, images: Tensor<4>) -> Result<(GeneratorOutput, GeneratorLoss)> {
        let weights = self.config.losses;
        let output = self.generator.forward(images.clone());
        let loss = if weights.adversarial.is_active() {
            // The generator's update needs the discriminator's features and the gradient through
            // them to the reconstruction, not the discriminator's own parameter gradients: with
            // its parameters untracked (the copy shares them, and its BatchNorm statistics), the
            // real images' pass records nothing and the fake's backward skips every
            // weight-gradient convolution. GANomaly computes those and discards them.
            let discriminator = self.discriminator.clone().no_grad();
            let real = discriminator.forward(images.clone());
            let fake = discriminator.forward(output.reconstruction.clone());
            GeneratorLoss::new(images, &output, Some((&real, &fake)), &weights)?
        } else {
            // No adversarial term: the discriminator's passes would only feed a zero weight.
            GeneratorLoss::new(images, &output, None, &weights)?
        };
        Ok((output, loss))
    }

    /// The gradient of the generator's objective on `images` for each generator parameter, in
    /// the module's visiting order, as (shape, values): no update is made. The gate compares
    /// these between devices to tell a wrong backward pass from a wrong optimiser step.
    pub fn generator_gradients(&self, images: Tensor<4>) -> Result<Vec<(Vec<usize>, Vec<f32>)>> {
        let images = images.to_device(&self.device);
        let (_, loss) = self.generator_loss(images)?;
        let gradients = loss.total.backward();
        struct Collect<'a> {
            gradients: &'a burn::tensor::Gradients,
            out: Vec<(Vec<usize>, Vec<f32>)>,
        }
        impl burn::module::ModuleVisitor for Collect<'_> {
            fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
                let value = param.val();
                let shape = value.dims().to_vec();
                let grad = value
                    .grad(self.gradients)
                    .map(|g| crate::score::floats(g.into_data()))
                    .unwrap_or_else(|| vec![0.0; shape.iter().product()]);
                self.out.push((shape, grad));
            }
        }
        let mut collect = Collect {
            gradients: &gradients,
            out: Vec::new(),
        };
        self.generator.visit(&mut collect);
        Ok(collect.out)
    }

    /// One adversarial step on a batch of normal images.
    pub fn step(&mut self, images: Tensor<4>) -> Result<StepLosses> {
        let images = images.to_device(&self.device);
        let weights = self.config.losses;
        let lr = self.config.learning_rate;

        // Generator: all four terms, gradients kept for the generator's parameters only.
        let (output, loss) = self.generator_loss(images.clone())?;
        let generator_values = Tensor::cat(
            vec![
                loss.total.clone(),
                loss.reconstruction.clone(),
                loss.adversarial.clone(),
                loss.latent.clone(),
                loss.low_rank.clone(),
            ],
            0,
        );
        let grads = GradientsParams::from_grads(loss.total.backward(), &self.generator);
        self.generator = self
            .generator_optimizer
            .step(lr, self.generator.clone(), grads);

        // Discriminator: real = 1, reconstruction (detached) = 0. Without the adversarial term
        // the discriminator has no influence, so it is not trained.
        let discriminator_loss = if weights.adversarial.is_active() {
            let real = self.discriminator.forward(images);
            let fake = self.discriminator.forward(output.reconstruction.detach());
            let loss = discriminator_bce(&real, &fake);
            let value = loss.clone().inner();
            let grads = GradientsParams::from_grads(loss.backward(), &self.discriminator);
            self.discriminator =
                self.discriminator_optimizer
                    .step(lr, self.discriminator.clone(), grads);
            value
        } else {
            Tensor::zeros([1], &self.device.clone().inner())
        };

        let values: Vec<f32> = Tensor::cat(vec![generator_values.inner(), discriminator_loss], 0)
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .map_err(|e| LranError::Diverged(format!("losses unreadable: {e:?}")))?;
        self.steps += 1;
        let losses = StepLosses {
            generator: values[0],
            reconstruction: values[1],
            adversarial: values[2],
            latent: values[3],
            low_rank: values[4],
            discriminator: values[5],
        };
        losses.check(self.steps)?;
        if weights.adversarial.is_active() && losses.discriminator < COLLAPSED_DISCRIMINATOR_LOSS {
            // As GANomaly: a discriminator that wins outright gives no gradient; start it over.
            self.discriminator_resets += 1;
            let seed = self.config.seed.wrapping_add(self.steps);
            self.discriminator = drawing_weights(&self.device, seed, || {
                Discriminator::new(&self.config.model, &self.device)
            });
            self.discriminator_optimizer = self.config.adam();
        }
        Ok(losses)
    }

    /// One pass over `train` in a seeded random order (the last partial batch is dropped, as
    /// BatchNorm and the nuclear norm want full batches). `on_step` sees each step's losses.
    pub fn train_epoch(
        &mut self,
        train: &ImageSet,
        epoch: u64,
        mut on_step: impl FnMut(&StepLosses),
    ) -> Result<StepLosses> {
        let batch = self.config.batch_size;
        if train.len() < batch {
            return Err(LranError::config(format!(
                "{} training images are fewer than one batch of {batch}",
                train.len()
            )));
        }
        let mut order: Vec<usize> = (0..train.len()).collect();
        SplitMix64::new(self.config.seed ^ epoch.wrapping_mul(0x9E37_79B9)).shuffle(&mut order);
        let batches = train.len() / batch;
        let mut mean = StepLosses::default();
        // Augmentation draws from its own stream, so switching it on leaves the order alone.
        let mut augment_rng =
            SplitMix64::new(self.config.seed ^ 0xA06E ^ epoch.wrapping_mul(0x2545_F491));
        for indices in order.chunks_exact(batch) {
            let augmentation = self
                .config
                .augmentation
                .as_ref()
                .map(|a| (a, &mut augment_rng));
            let images =
                train.augmented_batch(indices, &self.config.model, &self.device, augmentation);
            let losses = self.step(images)?;
            mean.add_scaled(&losses, 1.0 / batches as f32);
            on_step(&losses);
        }
        Ok(mean)
    }

    /// Latent and pixel scores of every image in `set`, BatchNorm in inference mode.
    pub fn score(&self, set: &ImageSet) -> Scores {
        score_set(
            &self.generator,
            set,
            &self.config.model,
            &self.device,
            self.config.batch_size.max(64),
        )
    }
}

/// Validation statistics and test AUCs of one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub latent_auc: f64,
    pub pixel_auc: f64,
}

pub fn evaluate(scores: &Scores, anomalous: &[bool]) -> Result<Evaluation> {
    Ok(Evaluation {
        latent_auc: roc_auc(&scores.latent, anomalous)?,
        pixel_auc: roc_auc(&scores.pixel, anomalous)?,
    })
}
