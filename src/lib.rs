//! # lran
//!
//! Latent Regularized Adversarial Network (Wang, Chen, Xie, Ma, arXiv 2007.04734) for
//! anomaly detection: a GAN trained on normal images only, whose generator is
//! encoder E → decoder → auxiliary encoder E′, trained with image reconstruction, adversarial
//! feature matching, latent consistency and a nuclear-norm (low-rank) penalty on the batch's
//! latent matrix. An image's anomaly score is its latent reconstruction error ‖E(x) − E′(x̂)‖².
//!
//! The crate names no backend: burn's `Device` picks one at run time (wgpu or the `flex` CPU
//! backend natively, WebGPU or CPU in the browser), so the trainer and the page run this code
//! unchanged.

pub mod augment;
pub mod card;
pub mod colormap;
pub mod config;
pub mod conv;
pub mod data;
pub mod error;
#[cfg(feature = "train")]
pub mod fit;
#[cfg(feature = "gate")]
pub mod gate;
pub mod latent_views;
#[cfg(feature = "train")]
pub mod loss;
pub mod metrics;
pub mod model;
pub mod preprocess;
pub mod protocol;
pub mod rng;
pub mod score;
pub mod scorer;
#[cfg(feature = "train")]
pub mod train;
pub mod upload;
#[cfg(target_arch = "wasm32")]
pub mod web;

pub use burn;
pub use config::{LossConfig, LossTerm, ModelConfig};
pub use error::{LranError, Result};
