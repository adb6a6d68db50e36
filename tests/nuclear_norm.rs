//! The low-rank term: its value against an independent SVD (one-sided Jacobi, written here in
//! f64 and sharing nothing with burn's), and its gradient against central finite differences.

use lran::burn::tensor::{Device, Tensor, TensorData};
use lran::loss::nuclear_norm;
use lran::rng::SplitMix64;

fn random_matrix(rows: usize, cols: usize, seed: u64) -> Vec<f32> {
    let mut rng = SplitMix64::new(seed);
    (0..rows * cols)
        .map(|_| (rng.below(2001) as f32 - 1000.0) / 500.0)
        .collect()
}

/// Hestenes' one-sided Jacobi SVD: rotate column pairs until all are orthogonal; the column
/// norms are then the singular values. Works on the tall orientation of the matrix.
fn jacobi_nuclear_norm(values: &[f32], rows: usize, cols: usize) -> f64 {
    let (m, n, at) = if rows >= cols {
        (rows, cols, false)
    } else {
        (cols, rows, true)
    };
    // columns[j][i] = A[i][j] of the tall matrix
    let mut columns: Vec<Vec<f64>> = (0..n)
        .map(|j| (0..m).map(|i| if at { values[j * cols + i] } else { values[i * cols + j] } as f64).collect())
        .collect();
    for _sweep in 0..60 {
        let mut rotated = false;
        for p in 0..n {
            for q in p + 1..n {
                let alpha: f64 = columns[p].iter().map(|x| x * x).sum();
                let beta: f64 = columns[q].iter().map(|x| x * x).sum();
                let gamma: f64 = columns[p].iter().zip(&columns[q]).map(|(x, y)| x * y).sum();
                if gamma.abs() <= 1e-15 * (alpha * beta).sqrt() {
                    continue;
                }
                rotated = true;
                let zeta = (beta - alpha) / (2.0 * gamma);
                let t = zeta.signum() / (zeta.abs() + (1.0 + zeta * zeta).sqrt());
                let c = 1.0 / (1.0 + t * t).sqrt();
                let s = c * t;
                for i in 0..m {
                    let (x, y) = (columns[p][i], columns[q][i]);
                    columns[p][i] = c * x - s * y;
                    columns[q][i] = s * x + c * y;
                }
            }
        }
        if !rotated {
            break;
        }
    }
    columns
        .iter()
        .map(|c| c.iter().map(|x| x * x).sum::<f64>().sqrt())
        .sum()
}

fn value(values: &[f32], rows: usize, cols: usize, device: &Device) -> f32 {
    let z = Tensor::<2>::from_data(TensorData::new(values.to_vec(), [rows, cols]), device);
    nuclear_norm(z).unwrap().into_scalar::<f32>()
}

#[test]
fn equals_the_sum_of_singular_values_of_an_independent_svd() {
    let device = Device::flex();
    // Tall, wide, square, the training shape (batch 64 × latent 100), and a rank-deficient one.
    for (rows, cols, seed) in [(7, 3, 1), (3, 7, 2), (5, 5, 3), (64, 100, 4)] {
        let values = random_matrix(rows, cols, seed);
        let ours = value(&values, rows, cols, &device) as f64;
        let reference = jacobi_nuclear_norm(&values, rows, cols);
        assert!(
            (ours - reference).abs() < 1e-4 * reference,
            "{rows}×{cols}: {ours} vs {reference}"
        );
    }
    // Rank one: u vᵀ has a single singular value ‖u‖·‖v‖.
    let (u, v) = ([1.0f32, 2.0, 2.0], [3.0f32, 4.0]);
    let outer: Vec<f32> = u
        .iter()
        .flat_map(|a| v.iter().map(move |b| a * b))
        .collect();
    assert!((value(&outer, 3, 2, &device) - 15.0).abs() < 1e-4);
}

#[test]
fn gradient_matches_finite_differences() {
    let device = Device::flex().autodiff();
    let (rows, cols) = (6, 4);
    let values = random_matrix(rows, cols, 11);
    let z = Tensor::<2>::from_data(TensorData::new(values.clone(), [rows, cols]), &device)
        .require_grad();
    let grads = nuclear_norm(z.clone()).unwrap().backward();
    let analytic: Vec<f32> = z
        .grad(&grads)
        .expect("gradient of Z")
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();

    let host = Device::flex();
    let eps = 1e-2f32;
    for i in 0..values.len() {
        let mut plus = values.clone();
        let mut minus = values.clone();
        plus[i] += eps;
        minus[i] -= eps;
        let numeric =
            (value(&plus, rows, cols, &host) - value(&minus, rows, cols, &host)) / (2.0 * eps);
        assert!(
            (numeric - analytic[i]).abs() < 2e-3,
            "entry {i}: finite difference {numeric}, autodiff {}",
            analytic[i]
        );
    }
    // And the gradient is not trivially zero.
    assert!(analytic.iter().map(|g| g.abs()).sum::<f32>() > 0.5);
}
