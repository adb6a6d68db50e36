//! BatchNorm's three passes, each fused into one or two sweeps over the tensor (patch of the
//! vendored copy, see `docs/flex-batch-norm.md` in the lran repository).
//!
//! Why: burn-backend's defaults build BatchNorm out of tensor operations. In training,
//! `batch_norm_train` swaps batch and channel axes twice (two full layout copies), then runs a
//! subtraction, a square, two means and four broadcast element-wise passes;
//! `batch_norm_train_backward` runs about a dozen more. Every one of them allocates and sweeps a
//! tensor as large as the activation. Here:
//!
//! - statistics: one pass per channel over its `n` contiguous runs (the mean, then the centred
//!   sum of squares from the same cache-warm run);
//! - forward (training and inference): one pass, `y = a[c]·x + b[c]`;
//! - backward: one pass for the two per-channel sums (Σ dy, Σ dy·(x − μ)), one for
//!   `dx = a[c]·dy + b[c]·x + d[c]`.
//!
//! Per-channel coefficients are computed in f64; f16 and bf16 go through f32, as flex's other
//! normalisations do.

use alloc::vec;
use alloc::vec::Vec;

use burn_backend::DType;
use burn_backend::ops::{BatchNormTrain, BatchNormTrainBackward};
use burn_std::{Bytes, Shape, bf16, f16};
use bytemuck::Pod;
use num_traits::{Float, ToPrimitive};

use crate::ops::module::{cast_from_f32, cast_to_f32};
use crate::{Flex, FlexTensor, Layout};

/// The element types computed natively.
trait Real: Float + Pod + Send + Sync + burn_backend::Element {}
impl Real for f32 {}
impl Real for f64 {}

/// `[n, c, …]` → (n, c, elements per sample and channel).
fn sizes(x: &FlexTensor) -> (usize, usize, usize) {
    let shape = x.layout().shape();
    assert!(
        shape.num_dims() >= 2,
        "batch_norm: input must be [batch, channels, ...], got {:?}",
        shape
    );
    let n = shape[0];
    let c = shape[1];
    let spatial = shape[2..].iter().product();
    (n, c, spatial)
}

fn contiguous_as(t: FlexTensor, dtype: DType) -> FlexTensor {
    match dtype {
        DType::F16 => cast_to_f32(t, f16::to_f32),
        DType::BF16 => cast_to_f32(t, bf16::to_f32),
        _ => t.into_contiguous(),
    }
}

fn back_to(t: FlexTensor, dtype: DType) -> FlexTensor {
    match dtype {
        DType::F16 => cast_from_f32(t, f16::from_f32),
        DType::BF16 => cast_from_f32(t, bf16::from_f32),
        _ => t,
    }
}

fn tensor<T: Real>(data: Vec<T>, shape: Shape) -> FlexTensor {
    FlexTensor::new(
        Bytes::from_elems(data),
        Layout::contiguous(shape),
        T::dtype(),
    )
}

fn per_channel<T: Real>(values: &[f64]) -> FlexTensor {
    tensor(
        values.iter().map(|&v| T::from(v).unwrap()).collect(),
        Shape::new([values.len()]),
    )
}

fn f64_of<T: Real>(v: T) -> f64 {
    ToPrimitive::to_f64(&v).unwrap()
}

fn as_f64<T: Real>(t: &FlexTensor) -> Vec<f64> {
    t.storage::<T>().iter().map(|&v| f64_of(v)).collect()
}

/// Σ of a run with independent lanes, so the compiler vectorises it (a single running sum is a
/// dependency chain it may not reorder).
fn lane_sum<T: Real>(run: &[T], mut term: impl FnMut(T) -> T) -> f64 {
    const LANES: usize = 16;
    let mut lanes = [T::zero(); LANES];
    let mut chunks = run.chunks_exact(LANES);
    for chunk in &mut chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane = *lane + term(v);
        }
    }
    let mut total = 0f64;
    for &v in chunks.remainder() {
        total += f64_of(term(v));
    }
    total + lanes.iter().map(|&v| f64_of(v)).sum::<f64>()
}

/// The two sums Σ `terms(a, b)[k]` over two runs in one sweep, with independent lanes.
fn lane_sum_pair<T: Real>(a: &[T], b: &[T], mut terms: impl FnMut(T, T) -> [T; 2]) -> [f64; 2] {
    const LANES: usize = 16;
    let mut lanes = [[T::zero(); LANES]; 2];
    let mut ca = a.chunks_exact(LANES);
    let mut cb = b.chunks_exact(LANES);
    for (xa, xb) in (&mut ca).zip(&mut cb) {
        for i in 0..LANES {
            let [t0, t1] = terms(xa[i], xb[i]);
            lanes[0][i] = lanes[0][i] + t0;
            lanes[1][i] = lanes[1][i] + t1;
        }
    }
    let mut totals = [0f64; 2];
    for (&va, &vb) in ca.remainder().iter().zip(cb.remainder()) {
        let [t0, t1] = terms(va, vb);
        totals[0] += f64_of(t0);
        totals[1] += f64_of(t1);
    }
    [0, 1].map(|k| totals[k] + lanes[k].iter().map(|&v| f64_of(v)).sum::<f64>())
}

/// One value per channel, each computed by `per_channel(c)` (in parallel across channels).
fn for_channels(c: usize, per_channel: impl Fn(usize) -> [f64; 2] + Sync + Send) -> Vec<[f64; 2]> {
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        (0..c).into_par_iter().map(per_channel).collect()
    }
    #[cfg(not(feature = "rayon"))]
    {
        (0..c).map(per_channel).collect()
    }
}

/// `out[n, c, s] = kernel(c, inputs…)` for each sample's `[c, s]` block, in parallel across
/// samples.
fn map_samples<T: Real>(
    out: &mut [T],
    sample: usize,
    spatial: usize,
    kernel: impl Fn(usize, usize, &mut [T]) + Sync + Send,
) {
    if sample == 0 || spatial == 0 {
        return;
    }
    let per_sample = |(n, block): (usize, &mut [T])| {
        for (c, run) in block.chunks_mut(spatial).enumerate() {
            kernel(n * sample + c * spatial, c, run);
        }
    };
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        out.par_chunks_mut(sample).enumerate().for_each(per_sample);
    }
    #[cfg(not(feature = "rayon"))]
    {
        out.chunks_mut(sample).enumerate().for_each(per_sample);
    }
}

/// Per channel: the mean and the biased variance over the batch and the spatial positions.
fn statistics<T: Real>(x: &[T], n: usize, c: usize, spatial: usize) -> Vec<[f64; 2]> {
    let count = (n * spatial) as f64;
    let sample = c * spatial;
    for_channels(c, |ch| {
        let runs = || (0..n).map(move |i| &x[i * sample + ch * spatial..][..spatial]);
        let mean = runs().map(|run| lane_sum(run, |v| v)).sum::<f64>() / count;
        let mean_t = T::from(mean).unwrap();
        let squares = runs()
            .map(|run| {
                lane_sum(run, |v| {
                    let d = v - mean_t;
                    d * d
                })
            })
            .sum::<f64>();
        [mean, squares / count]
    })
}

/// `y = a[c]·x + b[c]`, the normalisation with its affine transform folded into two
/// coefficients per channel.
fn affine<T: Real>(x: &[T], shape: Shape, coefficients: &[[f64; 2]]) -> FlexTensor {
    let (_, c, spatial) = (shape[0], shape[1], shape[2..].iter().product::<usize>());
    let coefficients: Vec<[T; 2]> = coefficients
        .iter()
        .map(|&[a, b]| [T::from(a).unwrap(), T::from(b).unwrap()])
        .collect();
    let mut out = vec![T::zero(); x.len()];
    map_samples(&mut out, c * spatial, spatial, |start, ch, run| {
        let [a, b] = coefficients[ch];
        let xr = &x[start..start + run.len()];
        for (o, &v) in run.iter_mut().zip(xr) {
            *o = a * v + b;
        }
    });
    tensor(out, shape)
}

fn train_typed<T: Real>(
    x: FlexTensor,
    gamma: &[f64],
    beta: &[f64],
    epsilon: f64,
) -> (FlexTensor, Vec<f64>, Vec<f64>) {
    let (n, c, spatial) = sizes(&x);
    let data: &[T] = x.storage();
    let stats = statistics(data, n, c, spatial);
    let coefficients: Vec<[f64; 2]> = stats
        .iter()
        .zip(gamma.iter().zip(beta))
        .map(|(&[mean, var], (&g, &b))| {
            let a = g / (var + epsilon).sqrt();
            [a, b - mean * a]
        })
        .collect();
    let output = affine(data, x.layout().shape().clone(), &coefficients);
    let (mean, var) = stats.iter().map(|&[m, v]| (m, v)).unzip();
    (output, mean, var)
}

fn check_channels(what: &str, t: &FlexTensor, c: usize) {
    assert_eq!(
        t.layout().num_elements(),
        c,
        "batch_norm: {what} must have one value per channel ({c}), got shape {:?}",
        t.layout().shape()
    );
}

/// `batch_norm_train`: normalises with the batch's statistics and returns them.
pub(crate) fn batch_norm_train(
    x: FlexTensor,
    gamma: FlexTensor,
    beta: FlexTensor,
    epsilon: f64,
) -> BatchNormTrain<Flex> {
    let dtype = x.dtype();
    let (_, c, _) = sizes(&x);
    check_channels("gamma", &gamma, c);
    check_channels("beta", &beta, c);
    let x = contiguous_as(x, dtype);
    let gamma = contiguous_as(gamma, dtype);
    let beta = contiguous_as(beta, dtype);
    let (output, mean, var) = match x.dtype() {
        DType::F64 => train_typed::<f64>(x, &as_f64::<f64>(&gamma), &as_f64::<f64>(&beta), epsilon),
        DType::F32 => train_typed::<f32>(x, &as_f64::<f32>(&gamma), &as_f64::<f32>(&beta), epsilon),
        other => panic!("batch_norm_train: unsupported dtype {other:?}"),
    };
    let (mean, var) = if dtype == DType::F64 {
        (per_channel::<f64>(&mean), per_channel::<f64>(&var))
    } else {
        (per_channel::<f32>(&mean), per_channel::<f32>(&var))
    };
    BatchNormTrain::new(
        back_to(output, dtype),
        back_to(mean, dtype),
        back_to(var, dtype),
    )
}

/// `batch_norm`: normalises with given statistics (inference's running ones).
pub(crate) fn batch_norm(
    x: FlexTensor,
    gamma: FlexTensor,
    beta: FlexTensor,
    mean: FlexTensor,
    variance: FlexTensor,
    epsilon: f64,
) -> FlexTensor {
    let dtype = x.dtype();
    let (_, c, _) = sizes(&x);
    for (what, t) in [
        ("gamma", &gamma),
        ("beta", &beta),
        ("mean", &mean),
        ("variance", &variance),
    ] {
        check_channels(what, t, c);
    }
    let [x, gamma, beta, mean, variance] =
        [x, gamma, beta, mean, variance].map(|t| contiguous_as(t, dtype));
    fn typed<T: Real>(x: &FlexTensor, params: [&FlexTensor; 4], epsilon: f64) -> FlexTensor {
        let [gamma, beta, mean, variance] = params.map(as_f64::<T>);
        let coefficients: Vec<[f64; 2]> = (0..gamma.len())
            .map(|ch| {
                let a = gamma[ch] / (variance[ch] + epsilon).sqrt();
                [a, beta[ch] - mean[ch] * a]
            })
            .collect();
        affine(x.storage::<T>(), x.layout().shape().clone(), &coefficients)
    }
    let params = [&gamma, &beta, &mean, &variance];
    let output = match x.dtype() {
        DType::F64 => typed::<f64>(&x, params, epsilon),
        DType::F32 => typed::<f32>(&x, params, epsilon),
        other => panic!("batch_norm: unsupported dtype {other:?}"),
    };
    back_to(output, dtype)
}

fn backward_typed<T: Real>(
    x: &FlexTensor,
    dy: &FlexTensor,
    gamma: &[f64],
    mean: &[f64],
    variance: &[f64],
    epsilon: f64,
) -> (FlexTensor, Vec<f64>, Vec<f64>) {
    let (n, c, spatial) = sizes(x);
    let count = (n * spatial) as f64;
    let sample = c * spatial;
    let xs: &[T] = x.storage();
    let dys: &[T] = dy.storage();
    // Σ dy and Σ dy·(x − μ) per channel.
    let sums = for_channels(c, |ch| {
        let mean_t = T::from(mean[ch]).unwrap();
        let mut sum_dy = 0f64;
        let mut sum_dy_centred = 0f64;
        for i in 0..n {
            let start = i * sample + ch * spatial;
            let (xr, dyr) = (&xs[start..][..spatial], &dys[start..][..spatial]);
            let [dy_sum, dy_centred_sum] = lane_sum_pair(xr, dyr, |v, g| [g, g * (v - mean_t)]);
            sum_dy += dy_sum;
            sum_dy_centred += dy_centred_sum;
        }
        [sum_dy, sum_dy_centred]
    });
    // dx = γ/σ · (dy − mean(dy) − x̂·mean(dy·x̂)) with x̂ = (x − μ)/σ, as a[c]·dy + b[c]·x + d[c].
    let coefficients: Vec<[T; 3]> = (0..c)
        .map(|ch| {
            let inv_std = 1.0 / (variance[ch] + epsilon).sqrt();
            let a = gamma[ch] * inv_std;
            let [sum_dy, sum_dy_centred] = sums[ch];
            let b = -a * inv_std * inv_std * sum_dy_centred / count;
            let d = -a * sum_dy / count - b * mean[ch];
            [a, b, d].map(|v| T::from(v).unwrap())
        })
        .collect();
    let mut dx = vec![T::zero(); xs.len()];
    map_samples(&mut dx, sample, spatial, |start, ch, run| {
        let [a, b, d] = coefficients[ch];
        let xr = &xs[start..start + run.len()];
        let dyr = &dys[start..start + run.len()];
        for ((o, &v), &g) in run.iter_mut().zip(xr).zip(dyr) {
            *o = a * g + b * v + d;
        }
    });
    let gamma_grad = (0..c)
        .map(|ch| sums[ch][1] / (variance[ch] + epsilon).sqrt())
        .collect();
    let beta_grad = sums.iter().map(|s| s[0]).collect();
    (
        tensor(dx, x.layout().shape().clone()),
        gamma_grad,
        beta_grad,
    )
}

/// `batch_norm_train_backward`: the gradients of `batch_norm_train` for its input, `gamma` and
/// `beta`.
pub(crate) fn batch_norm_train_backward(
    x: FlexTensor,
    gamma: FlexTensor,
    mean: FlexTensor,
    variance: FlexTensor,
    epsilon: f64,
    output_grad: FlexTensor,
) -> BatchNormTrainBackward<Flex> {
    let dtype = x.dtype();
    let (_, c, _) = sizes(&x);
    for (what, t) in [("gamma", &gamma), ("mean", &mean), ("variance", &variance)] {
        check_channels(what, t, c);
    }
    assert_eq!(
        x.layout().shape(),
        output_grad.layout().shape(),
        "batch_norm_train_backward: the output gradient's shape differs from the input's"
    );
    let [x, gamma, mean, variance, dy] =
        [x, gamma, mean, variance, output_grad].map(|t| contiguous_as(t, dtype));
    let (dx, gamma_grad, beta_grad) = match x.dtype() {
        DType::F64 => {
            let [g, m, v] = [&gamma, &mean, &variance].map(as_f64::<f64>);
            backward_typed::<f64>(&x, &dy, &g, &m, &v, epsilon)
        }
        DType::F32 => {
            let [g, m, v] = [&gamma, &mean, &variance].map(as_f64::<f32>);
            backward_typed::<f32>(&x, &dy, &g, &m, &v, epsilon)
        }
        other => panic!("batch_norm_train_backward: unsupported dtype {other:?}"),
    };
    let (gamma_grad, beta_grad) = if dtype == DType::F64 {
        (
            per_channel::<f64>(&gamma_grad),
            per_channel::<f64>(&beta_grad),
        )
    } else {
        (
            per_channel::<f32>(&gamma_grad),
            per_channel::<f32>(&beta_grad),
        )
    };
    BatchNormTrainBackward::new(
        back_to(dx, dtype),
        back_to(gamma_grad, dtype),
        back_to(beta_grad, dtype),
    )
}
