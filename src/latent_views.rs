//! The latent explorer's data (the paper's Fig. 5, made interactive): reference latents of
//! healthy and anomalous images projected on the three principal axes of the healthy ones, and
//! the basis itself, so the page projects a visitor's image the same way. Computed at export
//! and stored in `model.json`.

use burn::module::Module;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::error::{LranError, Result};
use crate::model::Generator;
use crate::score::{floats, latent_score};

/// z = E(x) of a batch, `[batch × latent]`, and each image's latent score (`score::latent_score`),
/// BatchNorm in inference mode.
pub fn latents(generator: &Generator, images: Tensor<4>) -> (Vec<f32>, Vec<f32>) {
    let output = generator.valid().forward(images.inner());
    let scores = latent_score(output.latent.clone(), output.reconstructed_latent);
    (
        floats(output.latent.into_data()),
        floats(scores.into_data()),
    )
}

/// One reference image in the scatter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatentPoint {
    /// `healthy-validation`, `anomalous-test` or `normal-test`.
    pub set: String,
    /// Where the image came from (e.g. `TCGA-DU-7294:z77`), or empty.
    pub name: String,
    /// z projected on the three axes (after subtracting the healthy mean).
    pub xyz: [f32; 3],
    /// Its latent score ‖z − ẑ‖² / d.
    pub score: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatentViews {
    /// Mean of the healthy validation latents.
    pub mean: Vec<f32>,
    /// Three orthonormal principal axes of the healthy validation latents, each `latent_dim` long.
    pub axes: Vec<Vec<f32>>,
    /// Fraction of the healthy latents' variance along each axis.
    pub explained_variance: Vec<f32>,
    pub points: Vec<LatentPoint>,
}

impl LatentViews {
    /// Projects a latent vector onto the axes.
    pub fn project(&self, z: &[f32]) -> [f32; 3] {
        let mut xyz = [0.0f32; 3];
        for (k, axis) in self.axes.iter().enumerate().take(3) {
            xyz[k] = axis
                .iter()
                .zip(z.iter().zip(&self.mean))
                .map(|(a, (v, m))| a * (v - m))
                .sum();
        }
        xyz
    }
}

/// Mean and the three leading principal axes of `rows` (each `dim` long), by power iteration
/// with deflation on the covariance, in f64. Returns (mean, axes, explained variance fractions).
pub fn principal_axes(
    rows: &[Vec<f32>],
    dim: usize,
) -> Result<(Vec<f32>, Vec<Vec<f32>>, Vec<f32>)> {
    if rows.len() < 4 || dim < 3 || rows.iter().any(|r| r.len() != dim) {
        return Err(LranError::config(format!(
            "principal axes need at least 4 latents of one length ≥ 3 (got {} rows)",
            rows.len()
        )));
    }
    if rows.iter().flatten().any(|v| !v.is_finite()) {
        return Err(LranError::Diverged("a latent holds NaN or infinity".into()));
    }
    let n = rows.len() as f64;
    let mean: Vec<f64> = (0..dim)
        .map(|j| rows.iter().map(|r| r[j] as f64).sum::<f64>() / n)
        .collect();
    let mut covariance = vec![0.0f64; dim * dim];
    for row in rows {
        for i in 0..dim {
            let a = row[i] as f64 - mean[i];
            for j in i..dim {
                covariance[i * dim + j] += a * (row[j] as f64 - mean[j]) / (n - 1.0);
            }
        }
    }
    for i in 0..dim {
        for j in 0..i {
            covariance[i * dim + j] = covariance[j * dim + i];
        }
    }
    let total: f64 = (0..dim).map(|i| covariance[i * dim + i]).sum();
    let mut axes = Vec::with_capacity(3);
    let mut variances = Vec::with_capacity(3);
    for k in 0..3 {
        // A fixed, non-degenerate start: deterministic output for the same latents.
        let mut v: Vec<f64> = (0..dim)
            .map(|i| 1.0 + ((i * 7 + k * 13) % 11) as f64 / 10.0)
            .collect();
        let mut eigenvalue = 0.0;
        for _ in 0..500 {
            let mut w = vec![0.0f64; dim];
            for i in 0..dim {
                w[i] = (0..dim).map(|j| covariance[i * dim + j] * v[j]).sum();
            }
            let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm < 1e-30 {
                break;
            }
            let next: Vec<f64> = w.iter().map(|x| x / norm).collect();
            let change: f64 = next.iter().zip(&v).map(|(a, b)| (a - b).abs()).sum();
            v = next;
            eigenvalue = norm;
            if change < 1e-12 {
                break;
            }
        }
        // Deflate: remove this axis's share.
        for i in 0..dim {
            for j in 0..dim {
                covariance[i * dim + j] -= eigenvalue * v[i] * v[j];
            }
        }
        // A sign convention, so re-exports of the same model agree: largest component positive.
        let largest = v
            .iter()
            .cloned()
            .fold(0.0f64, |m, x| if x.abs() > m.abs() { x } else { m });
        let sign = if largest < 0.0 { -1.0 } else { 1.0 };
        axes.push(v.iter().map(|x| (x * sign) as f32).collect());
        variances.push(if total > 0.0 {
            (eigenvalue / total) as f32
        } else {
            0.0
        });
    }
    Ok((mean.iter().map(|&m| m as f32).collect(), axes, variances))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    /// Points spread 5, 3 and 1 along three known orthonormal directions in 6-D (+ tiny noise):
    /// the axes come back in that order, and the variance fractions match.
    #[test]
    fn principal_axes_recover_known_directions() {
        let dim = 6;
        let s = 0.5f32.sqrt();
        let directions = [
            vec![s, s, 0.0, 0.0, 0.0, 0.0],
            vec![0.0, 0.0, 1.0, 0.0, 0.0, 0.0],
            vec![s, -s, 0.0, 0.0, 0.0, 0.0],
        ];
        let spreads = [5.0, 3.0, 1.0];
        let mut rng = SplitMix64::new(9);
        let rows: Vec<Vec<f32>> = (0..2000)
            .map(|_| {
                let mut row = vec![0.25f32; dim];
                for (d, s) in directions.iter().zip(spreads) {
                    let t = rng.range(-1.0, 1.0) as f32 * s;
                    for j in 0..dim {
                        row[j] += d[j] * t;
                    }
                }
                for v in row.iter_mut() {
                    *v += rng.range(-0.01, 0.01) as f32;
                }
                row
            })
            .collect();
        let (mean, axes, variance) = principal_axes(&rows, dim).unwrap();
        assert!(mean.iter().all(|m| (m - 0.25).abs() < 0.2));
        for (axis, expected) in axes.iter().zip(&directions) {
            let dot: f32 = axis.iter().zip(expected).map(|(a, b)| a * b).sum();
            assert!(dot.abs() > 0.99, "{axis:?} vs {expected:?}");
        }
        // Uniform spreads: variance ∝ s², so 25 : 9 : 1 of 35.
        assert!((variance[0] - 25.0 / 35.0).abs() < 0.03, "{variance:?}");
        assert!((variance[2] - 1.0 / 35.0).abs() < 0.01, "{variance:?}");
        let views = LatentViews {
            mean: mean.clone(),
            axes: axes.clone(),
            explained_variance: variance,
            points: vec![],
        };
        let shifted: Vec<f32> = mean
            .iter()
            .zip(&axes[1])
            .map(|(m, a)| m + 2.0 * a)
            .collect();
        let xyz = views.project(&shifted);
        assert!((xyz[1] - 2.0).abs() < 1e-4 && xyz[0].abs() < 1e-4 && xyz[2].abs() < 1e-4);
    }

    #[test]
    fn too_few_or_broken_latents_are_refused() {
        assert!(principal_axes(&vec![vec![0.0; 5]; 3], 5).is_err());
        let mut rows = vec![vec![0.0; 5]; 10];
        rows[3][2] = f32::NAN;
        assert!(principal_axes(&rows, 5).is_err());
    }
}
