//! Model and loss configuration: what a trained model is, stored in `model.json` beside its
//! weights so the browser rebuilds exactly the network the trainer trained.

use serde::{Deserialize, Serialize};

use crate::conv::ConvAlgorithm;
use crate::error::{LranError, Result};

/// Image sizes the DCGAN stacks support: each halves (or doubles) the size between 4 and the
/// image, so the size must be a power of two; 32–128 covers MNIST/CIFAR and the brain slices.
pub const SUPPORTED_IMAGE_SIZES: [usize; 3] = [32, 64, 128];

/// The shape of the network: image size and channels, latent size `nz`, and the base width
/// (channels of the first encoder layer, doubled at every halving).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub image_size: usize,
    pub channels: usize,
    pub latent_dim: usize,
    pub base_width: usize,
    /// How the convolutions are computed: a matter of speed, not of results or weights, so it
    /// is left out of files when it is burn's own (`native`), and a device may run a model with
    /// another one ([`ModelConfig::with_conv`]).
    #[serde(default, skip_serializing_if = "ConvAlgorithm::is_native")]
    pub conv: ConvAlgorithm,
}

/// Passes over the healthy training slices of the brain experiment (about an hour on two CPU
/// cores with [`ModelConfig::brain`]): ~2,400 optimiser steps at batch 64.
pub const BRAIN_EPOCHS: u64 = 80;

/// Passes over the training images elsewhere: the paper's and GANomaly's 15.
pub const PAPER_EPOCHS: u64 = 15;

impl ModelConfig {
    /// GANomaly's MNIST network (isize 32, nz 100, ngf = ndf = 64).
    pub fn paper(channels: usize) -> Self {
        Self {
            image_size: 32,
            channels,
            latent_dim: 100,
            base_width: 64,
            conv: ConvAlgorithm::Native,
        }
    }

    /// The brain experiment's network for CPUs: 64×64 slices, latent 100 (GANomaly's), base width
    /// 16. At the 35 IXI training subjects' ~1,930 slices an epoch takes about a minute on two
    /// CPU cores, so [`BRAIN_EPOCHS`] of them fit in about an hour (the wall time each brain
    /// results file records).
    pub fn brain(channels: usize) -> Self {
        Self {
            image_size: 64,
            channels,
            latent_dim: 100,
            base_width: 16,
            conv: ConvAlgorithm::Native,
        }
    }

    /// A small network that trains an epoch of one MNIST class in minutes on two CPU cores.
    pub fn tiny(channels: usize) -> Self {
        Self {
            image_size: 32,
            channels,
            latent_dim: 32,
            base_width: 16,
            conv: ConvAlgorithm::Native,
        }
    }

    /// This network with its convolutions computed by `algorithm`.
    pub fn with_conv(self, algorithm: ConvAlgorithm) -> Self {
        Self {
            conv: algorithm,
            ..self
        }
    }

    /// Whether `other` is the same network (the same weights fit both), whatever computes its
    /// convolutions.
    pub fn same_network(&self, other: &ModelConfig) -> bool {
        self.with_conv(ConvAlgorithm::Native) == other.with_conv(ConvAlgorithm::Native)
    }

    pub fn validate(&self) -> Result<()> {
        if !SUPPORTED_IMAGE_SIZES.contains(&self.image_size) {
            return Err(LranError::config(format!(
                "image size {} is not supported; the DCGAN stacks need one of {:?}",
                self.image_size, SUPPORTED_IMAGE_SIZES
            )));
        }
        if !(1..=4).contains(&self.channels) {
            return Err(LranError::config(format!(
                "{} image channels is not supported; use 1 to 4",
                self.channels
            )));
        }
        if self.latent_dim == 0 || self.latent_dim > 4096 {
            return Err(LranError::config(format!(
                "latent size {} is out of range 1..=4096",
                self.latent_dim
            )));
        }
        if self.base_width == 0 || self.base_width > 1024 {
            return Err(LranError::config(format!(
                "base width {} is out of range 1..=1024",
                self.base_width
            )));
        }
        Ok(())
    }

    /// Number of stride-2 halvings from the image size down to the 4×4 feature map.
    pub fn halvings(&self) -> usize {
        (self.image_size / 4).trailing_zeros() as usize
    }

    /// Pixels per image (channels × height × width).
    pub fn pixels(&self) -> usize {
        self.channels * self.image_size * self.image_size
    }
}

/// One term of the objective: its weight and whether it is on (the ablation turns terms off
/// without forgetting the weight they had).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LossTerm {
    pub weight: f32,
    pub enabled: bool,
}

impl LossTerm {
    pub const fn on(weight: f32) -> Self {
        Self {
            weight,
            enabled: true,
        }
    }

    /// The factor the term enters the loss with: 0 when switched off.
    pub fn factor(&self) -> f32 {
        if self.enabled { self.weight } else { 0.0 }
    }

    pub fn is_active(&self) -> bool {
        self.enabled && self.weight != 0.0
    }
}

/// The generator's objective:
/// `w_rec·L1(x, x̂) + w_adv·‖f(x) − f(x̂)‖² + w_lat·‖E(x) − E′(x̂)‖² + w_lr·‖Z‖*/B`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LossConfig {
    /// Image reconstruction, L1 (GANomaly's contextual loss).
    pub reconstruction: LossTerm,
    /// Adversarial: feature matching on the discriminator's penultimate features.
    pub adversarial: LossTerm,
    /// Latent consistency, mean squared error between E(x) and E′(x̂).
    pub latent: LossTerm,
    /// Low rank: nuclear norm of the batch's latent matrix, divided by the batch size so the
    /// weight does not depend on it.
    pub low_rank: LossTerm,
}

impl Default for LossConfig {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl LossConfig {
    /// GANomaly's weights (w_rec 50, w_adv 1, w_lat 1) and the low-rank weight 0.1, all on.
    pub const DEFAULT: LossConfig = LossConfig {
        reconstruction: LossTerm::on(50.0),
        adversarial: LossTerm::on(1.0),
        latent: LossTerm::on(1.0),
        low_rank: LossTerm::on(0.1),
    };

    pub fn validate(&self) -> Result<()> {
        for (name, term) in self.named_terms() {
            if !term.weight.is_finite() || term.weight < 0.0 {
                return Err(LranError::config(format!(
                    "the {name} loss weight must be finite and non-negative, got {}",
                    term.weight
                )));
            }
        }
        Ok(())
    }

    pub fn named_terms(&self) -> [(&'static str, LossTerm); 4] {
        [
            ("reconstruction", self.reconstruction),
            ("adversarial", self.adversarial),
            ("latent", self.latent),
            ("low-rank", self.low_rank),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_convolution_algorithm_is_configuration_but_not_the_network() {
        let native = ModelConfig::brain(1);
        let gemm = native.with_conv(ConvAlgorithm::Gemm);
        assert_ne!(native, gemm);
        assert!(native.same_network(&gemm));
        assert!(!native.same_network(&ModelConfig::tiny(1)));
        // Files written before the field existed, and native ones, carry no `conv`.
        let text = serde_json::to_string(&native).unwrap();
        assert!(!text.contains("conv"), "{text}");
        assert_eq!(serde_json::from_str::<ModelConfig>(&text).unwrap(), native);
        let text = serde_json::to_string(&gemm).unwrap();
        assert!(text.contains("\"conv\":\"gemm\""), "{text}");
        assert_eq!(serde_json::from_str::<ModelConfig>(&text).unwrap(), gemm);
    }

    #[test]
    fn halvings_reach_four_by_four() {
        for (size, halvings) in [(32, 3), (64, 4), (128, 5)] {
            let config = ModelConfig {
                image_size: size,
                ..ModelConfig::tiny(1)
            };
            assert_eq!(config.halvings(), halvings);
            assert_eq!(size >> config.halvings(), 4);
        }
    }

    #[test]
    fn unsupported_shapes_are_refused_with_a_reason() {
        let bad_size = ModelConfig {
            image_size: 48,
            ..ModelConfig::tiny(1)
        };
        assert!(
            bad_size
                .validate()
                .unwrap_err()
                .to_string()
                .contains("image size 48")
        );
        let bad_channels = ModelConfig::tiny(5);
        assert!(
            bad_channels
                .validate()
                .unwrap_err()
                .to_string()
                .contains("5 image channels")
        );
        assert!(ModelConfig::paper(3).validate().is_ok());
    }

    #[test]
    fn switched_off_terms_contribute_nothing() {
        let mut losses = LossConfig::default();
        losses.latent.enabled = false;
        assert_eq!(losses.latent.factor(), 0.0);
        assert_eq!(losses.reconstruction.factor(), 50.0);
        losses.low_rank.weight = f32::NAN;
        assert!(losses.validate().is_err());
    }
}
