//! burn-flex's fused BatchNorm as lran builds it (the vendored patch in vendor/burn-flex,
//! docs/flex-batch-norm.md): the training pass's output and batch statistics, its three
//! gradients through autodiff, and the inference pass, each against the definition computed
//! here in f64, for ranks 2 and 4, sizes that leave remainders in the vectorised sums, a batch
//! wider than the thread pool, a non-contiguous input, and every float type flex stores.

mod common;

use common::assert_close;
use lran::burn::tensor::module::{batch_norm, batch_norm_train};
use lran::burn::tensor::{DType, Device, Tensor, TensorData};

const EPSILON: f64 = 1e-5;

/// A fixed, irregular pattern in [offset − 1, offset + 1] (the same on every run and machine),
/// of f32 values: the tensors are built from f32 data, so f64's check sees the same inputs.
fn pattern(len: usize, seed: usize, offset: f64) -> Vec<f64> {
    (0..len)
        .map(|i| ((i * 7919 + seed * 104_729) % 997) as f64 / 498.5 - 1.0 + offset)
        .map(|v| f64::from(v as f32))
        .collect()
}

fn tensor<const D: usize>(
    values: &[f64],
    shape: [usize; D],
    dtype: DType,
    device: &Device,
) -> Tensor<D> {
    let data = TensorData::new(values.iter().map(|&v| v as f32).collect::<Vec<_>>(), shape);
    Tensor::<D>::from_data(data, device).cast(dtype)
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    // Read back in f64: every stored type converts to it exactly.
    t.cast(DType::F64)
        .into_data()
        .convert::<f64>()
        .try_to_vec::<f64>()
        .unwrap()
}

/// BatchNorm by its definition, in f64, for `[n, c, s]` flattened NCHW data.
struct Definition {
    mean: Vec<f64>,
    variance: Vec<f64>,
    output: Vec<f64>,
    dx: Vec<f64>,
    dgamma: Vec<f64>,
    dbeta: Vec<f64>,
}

fn definition(
    x: &[f64],
    gamma: &[f64],
    beta: &[f64],
    r: &[f64],
    n: usize,
    c: usize,
    s: usize,
) -> Definition {
    let at = |i: usize, ch: usize, k: usize| (i * c + ch) * s + k;
    let count = (n * s) as f64;
    let mut d = Definition {
        mean: vec![0.0; c],
        variance: vec![0.0; c],
        output: vec![0.0; x.len()],
        dx: vec![0.0; x.len()],
        dgamma: vec![0.0; c],
        dbeta: vec![0.0; c],
    };
    for ch in 0..c {
        let cells = || (0..n).flat_map(move |i| (0..s).map(move |k| at(i, ch, k)));
        let mean = cells().map(|j| x[j]).sum::<f64>() / count;
        let variance = cells().map(|j| (x[j] - mean).powi(2)).sum::<f64>() / count;
        let std = (variance + EPSILON).sqrt();
        let normalized = |j: usize| (x[j] - mean) / std;
        for j in cells() {
            d.output[j] = gamma[ch] * normalized(j) + beta[ch];
        }
        // The loss is Σ output · r, so the output's gradient is r.
        d.dbeta[ch] = cells().map(|j| r[j]).sum();
        d.dgamma[ch] = cells().map(|j| r[j] * normalized(j)).sum();
        for j in cells() {
            d.dx[j] = gamma[ch] / std
                * (r[j] - d.dbeta[ch] / count - normalized(j) * d.dgamma[ch] / count);
        }
        d.mean[ch] = mean;
        d.variance[ch] = variance;
    }
    d
}

/// Training pass, gradients and inference pass of one shape and type against the definition.
fn check<const D: usize>(shape: [usize; D], dtype: DType, tolerance: f64, transposed: bool) {
    let what = format!(
        "{shape:?} {dtype:?}{}",
        if transposed { " transposed" } else { "" }
    );
    let device = Device::flex().autodiff();
    let (n, c) = (shape[0], shape[1]);
    let s: usize = shape[2..].iter().product();
    let len = n * c * s;
    // Offset from zero, as activations are: a mean far from 0 tests the centred variance.
    let x = pattern(len, 1, 3.0);
    let gamma = pattern(c, 2, 1.0);
    let beta = pattern(c, 3, 0.0);
    let r = pattern(len, 4, 0.0);

    let xt = if transposed {
        // The same values stored with the last two axes swapped, then swapped back: a strided
        // view the kernel must read in logical order.
        let mut stored = shape;
        stored.swap(D - 1, D - 2);
        let [a, b] = [shape[D - 2], shape[D - 1]];
        let mut swapped = vec![0.0; len];
        for block in 0..len / (a * b) {
            for i in 0..a {
                for j in 0..b {
                    swapped[block * a * b + j * a + i] = x[block * a * b + i * b + j];
                }
            }
        }
        tensor(&swapped, stored, dtype, &device).swap_dims(D - 1, D - 2)
    } else {
        tensor(&x, shape, dtype, &device)
    }
    .require_grad();
    let gt = tensor(&gamma, [c], dtype, &device).require_grad();
    let bt = tensor(&beta, [c], dtype, &device).require_grad();
    let rt = tensor(&r, shape, dtype, &device);

    let want = definition(&x, &gamma, &beta, &r, n, c, s);
    let result = batch_norm_train(xt.clone(), gt.clone(), bt.clone(), EPSILON);
    assert_close(
        &format!("output {what}"),
        &values(result.output.clone()),
        &want.output,
        tolerance,
    );
    assert_close(
        &format!("mean {what}"),
        &values(result.mean),
        &want.mean,
        tolerance,
    );
    assert_close(
        &format!("variance {what}"),
        &values(result.variance),
        &want.variance,
        tolerance,
    );
    let grads = (result.output * rt).sum().backward();
    assert_close(
        &format!("dx {what}"),
        &values(xt.grad(&grads).unwrap()),
        &want.dx,
        tolerance,
    );
    assert_close(
        &format!("dgamma {what}"),
        &values(gt.grad(&grads).unwrap()),
        &want.dgamma,
        tolerance,
    );
    assert_close(
        &format!("dbeta {what}"),
        &values(bt.grad(&grads).unwrap()),
        &want.dbeta,
        tolerance,
    );

    // Inference (untracked, so flex's own `batch_norm` runs) with statistics from elsewhere.
    let plain = Device::flex();
    let running_mean = pattern(c, 5, 3.0);
    let running_variance: Vec<f64> = pattern(c, 6, 1.5)
        .iter()
        .map(|v| f64::from((v.abs() + 0.1) as f32))
        .collect();
    let inferred = batch_norm(
        tensor(&x, shape, dtype, &plain),
        tensor(&gamma, [c], dtype, &plain),
        tensor(&beta, [c], dtype, &plain),
        tensor(&running_mean, [c], dtype, &plain),
        tensor(&running_variance, [c], dtype, &plain),
        EPSILON,
    );
    let expected: Vec<f64> = (0..len)
        .map(|j| {
            let ch = j / s % c;
            gamma[ch] * (x[j] - running_mean[ch]) / (running_variance[ch] + EPSILON).sqrt()
                + beta[ch]
        })
        .collect();
    assert_close(
        &format!("inference {what}"),
        &values(inferred),
        &expected,
        tolerance,
    );
}

/// Each stored float type, with a tolerance for its precision (inputs are rounded to it too).
const TYPES: [(DType, f64); 4] = [
    (DType::F64, 1e-9),
    (DType::F32, 1e-4),
    (DType::F16, 3e-2),
    (DType::BF16, 1e-1),
];

#[test]
fn training_pass_gradients_and_inference_match_the_definition_rank4() {
    for (dtype, tolerance) in TYPES {
        // The networks' own shapes are [64, C, s, s]; these leave remainders after 16 lanes.
        check([5, 3, 4, 6], dtype, tolerance, false);
        check([70, 2, 3, 3], dtype, tolerance, false);
        check([3, 4, 17, 1], dtype, tolerance, false);
        check([4, 3, 5, 7], dtype, tolerance, true);
    }
}

#[test]
fn training_pass_gradients_and_inference_match_the_definition_rank2() {
    for (dtype, tolerance) in TYPES {
        check([9, 5], dtype, tolerance, false);
        check([33, 1], dtype, tolerance, false);
    }
}
