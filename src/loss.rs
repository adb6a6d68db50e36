//! The four terms of the LRAN objective and the discriminator's loss, each a function of its
//! own so tests can check them one by one and the ablation can switch them off.

use burn::linalg::svd;
use burn::tensor::{Device, Tensor, TensorData};

use crate::config::LossConfig;
use crate::error::{LranError, Result};
use crate::model::{DiscriminatorOutput, GeneratorOutput};

/// Sweeps budget for the host SVD's bidiagonal QR; far above what a 64×100 matrix needs.
const SVD_SWEEPS: usize = 100;

/// Image reconstruction: mean absolute error between input and reconstruction.
pub fn reconstruction_l1(images: Tensor<4>, reconstruction: Tensor<4>) -> Tensor<1> {
    (images - reconstruction).abs().mean()
}

/// Generator's adversarial term (GANomaly): match the discriminator's penultimate features of
/// real and reconstructed images, mean squared error.
pub fn feature_matching(real_features: Tensor<4>, fake_features: Tensor<4>) -> Tensor<1> {
    (real_features - fake_features).square().mean()
}

/// Latent consistency: mean squared error between E(x) and E′(x̂).
pub fn latent_l2(latent: Tensor<2>, reconstructed_latent: Tensor<2>) -> Tensor<1> {
    (latent - reconstructed_latent).square().mean()
}

/// Binary cross-entropy on logits, `softplus(l) − l·y`, written so no exp overflows.
pub fn bce_with_logits(logits: Tensor<1>, target: f32) -> Tensor<1> {
    let softplus = logits.clone().clamp_min(0.0) + logits.clone().abs().neg().exp().log1p();
    (softplus - logits * target).mean()
}

/// Discriminator: real images are 1, reconstructions 0; the two halves averaged (GANomaly).
pub fn discriminator_bce(real: &DiscriminatorOutput, fake: &DiscriminatorOutput) -> Tensor<1> {
    (bce_with_logits(real.logits.clone(), 1.0) + bce_with_logits(fake.logits.clone(), 0.0)) * 0.5
}

/// Nuclear norm ‖Z‖* (sum of singular values) of a `[batch, latent]` matrix, differentiable.
///
/// With Z = U Σ Vᵀ, ‖Z‖* = tr(Σ) = Σᵢⱼ Zᵢⱼ (UVᵀ)ᵢⱼ and ∂‖Z‖*/∂Z = UVᵀ (wherever the singular
/// values are distinct and non-zero; elsewhere UVᵀ is a subgradient). So the SVD runs once,
/// outside autodiff, on the host, and the loss is the elementwise product of Z with the constant
/// UVᵀ: its value is the nuclear norm and its gradient is UVᵀ.
///
/// Fails (instead of letting the SVD panic) when Z holds a NaN or an infinity.
pub fn nuclear_norm(latent: Tensor<2>) -> Result<Tensor<1>> {
    let device = latent.device();
    let shape = latent.dims();
    let constant = latent.clone().inner();
    let data = constant.into_data();
    let values: Vec<f32> = data
        .try_to_vec::<f32>()
        .map_err(|e| LranError::Diverged(format!("latent matrix unreadable: {e:?}")))?;
    if values.iter().any(|v| !v.is_finite()) {
        return Err(LranError::Diverged(
            "the latent matrix holds NaN or infinite values; lower the learning rate".into(),
        ));
    }
    let polar = polar_factor(values, shape, &device.clone().inner());
    Ok((latent * polar).sum())
}

/// UVᵀ of a host matrix, returned on `device` (without autodiff, so it enters as a constant).
fn polar_factor(values: Vec<f32>, shape: [usize; 2], device: &Device) -> Tensor<2> {
    let host = Device::flex();
    let matrix = Tensor::<2>::from_data(TensorData::new(values, shape), &host);
    let (u, _singular_values, vt) = svd::<2, 1>(matrix, SVD_SWEEPS);
    let polar = u.matmul(vt).into_data();
    Tensor::from_data(polar, device)
}

/// The generator's loss terms for one batch, unweighted, and their weighted total.
#[derive(Debug, Clone)]
pub struct GeneratorLoss {
    pub reconstruction: Tensor<1>,
    pub adversarial: Tensor<1>,
    pub latent: Tensor<1>,
    /// ‖Z‖* / batch.
    pub low_rank: Tensor<1>,
    pub total: Tensor<1>,
}

impl GeneratorLoss {
    /// Combines the terms with `weights`. `discriminated` holds the discriminator's view of the
    /// real and reconstructed images; without it (the adversarial term switched off, so the
    /// caller skips two discriminator passes and their backward) the term is 0. The latent and
    /// reconstruction terms are always computed (for the metrics log); the nuclear norm, whose
    /// SVD runs on the host, only when its term is on.
    pub fn new(
        images: Tensor<4>,
        output: &GeneratorOutput,
        discriminated: Option<(&DiscriminatorOutput, &DiscriminatorOutput)>,
        weights: &LossConfig,
    ) -> Result<Self> {
        let [batch, _] = output.latent.dims();
        let reconstruction = reconstruction_l1(images, output.reconstruction.clone());
        let adversarial = match discriminated {
            Some((real, fake)) => feature_matching(real.features.clone(), fake.features.clone()),
            None => Tensor::zeros([1], &output.latent.device()),
        };
        let latent = latent_l2(output.latent.clone(), output.reconstructed_latent.clone());
        let low_rank = if weights.low_rank.is_active() {
            nuclear_norm(output.latent.clone())? / batch as f32
        } else {
            Tensor::zeros([1], &output.latent.device())
        };
        let total = reconstruction.clone() * weights.reconstruction.factor()
            + adversarial.clone() * weights.adversarial.factor()
            + latent.clone() * weights.latent.factor()
            + low_rank.clone() * weights.low_rank.factor();
        Ok(Self {
            reconstruction,
            adversarial,
            latent,
            low_rank,
            total,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tensor2(values: &[f32], shape: [usize; 2]) -> Tensor<2> {
        Tensor::from_data(TensorData::new(values.to_vec(), shape), &Device::flex())
    }

    fn scalar(t: Tensor<1>) -> f32 {
        t.into_scalar::<f32>()
    }

    #[test]
    fn l1_and_l2_match_hand_computation() {
        let a = tensor2(&[1.0, 2.0, 3.0, 4.0], [2, 2]);
        let b = tensor2(&[0.0, 2.0, 5.0, 4.5], [2, 2]);
        // |1| + 0 + |−2| + |−0.5| = 3.5 over 4; squares 1 + 0 + 4 + 0.25 = 5.25 over 4.
        assert!((scalar(latent_l2(a.clone(), b.clone())) - 5.25 / 4.0).abs() < 1e-6);
        let a4 = a.reshape([1, 1, 2, 2]);
        let b4 = b.reshape([1, 1, 2, 2]);
        assert!((scalar(reconstruction_l1(a4, b4)) - 3.5 / 4.0).abs() < 1e-6);
    }

    #[test]
    fn bce_with_logits_matches_the_textbook_formula_and_survives_large_logits() {
        let logits = [-3.0f32, 0.0, 2.5];
        let t = Tensor::<1>::from_data(TensorData::new(logits.to_vec(), [3]), &Device::flex());
        let expected_real: f32 = logits
            .iter()
            .map(|&l| -(1.0 / (1.0 + (-l).exp())).ln())
            .sum::<f32>()
            / 3.0;
        let expected_fake: f32 = logits
            .iter()
            .map(|&l| -(1.0 - 1.0 / (1.0 + (-l).exp())).ln())
            .sum::<f32>()
            / 3.0;
        assert!((scalar(bce_with_logits(t.clone(), 1.0)) - expected_real).abs() < 1e-5);
        assert!((scalar(bce_with_logits(t, 0.0)) - expected_fake).abs() < 1e-5);
        let huge = Tensor::<1>::from_data(
            TensorData::new(vec![-500.0f32, 500.0], [2]),
            &Device::flex(),
        );
        let value = scalar(bce_with_logits(huge, 1.0));
        assert!(value.is_finite() && (value - 250.0).abs() < 1e-3, "{value}");
    }

    #[test]
    fn nuclear_norm_refuses_nan() {
        let z = tensor2(&[1.0, f32::NAN, 0.0, 1.0], [2, 2]);
        let err = nuclear_norm(z).unwrap_err();
        assert!(err.to_string().contains("NaN"), "{err}");
    }
}
