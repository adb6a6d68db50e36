//! burn-flex's 2-D convolutions as lran builds them (the vendored patch in vendor/burn-flex,
//! docs/flex-conv2d-gemm.md): values and both gradients of `conv2d` and `conv_transpose2d`
//! against the definition summed term by term in f64, for strides, paddings (also
//! asymmetric), dilations, groups, batches smaller and larger than a GEMM chunk, and every
//! float type flex stores.

mod common;

use common::assert_close;
use lran::burn::tensor::module::{conv_transpose2d, conv2d};
use lran::burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use lran::burn::tensor::{DType, Device, Tensor, TensorData};

#[derive(Debug, Clone, Copy)]
struct Case {
    n: usize,
    cin: usize,
    h: usize,
    w: usize,
    cout: usize,
    k: [usize; 2],
    stride: [usize; 2],
    /// (begin, end) per axis.
    pad: [(usize, usize); 2],
    dilation: [usize; 2],
    groups: usize,
}

impl Case {
    fn out(&self) -> [usize; 2] {
        let size = |i: usize, input: usize| {
            (input + self.pad[i].0 + self.pad[i].1 - self.dilation[i] * (self.k[i] - 1) - 1)
                / self.stride[i]
                + 1
        };
        [size(0, self.h), size(1, self.w)]
    }
    fn weight_shape(&self) -> [usize; 4] {
        [self.cout, self.cin / self.groups, self.k[0], self.k[1]]
    }
    fn weight_len(&self) -> usize {
        self.weight_shape().iter().product()
    }
}

/// A fixed, irregular pattern in [-1, 1] (the same on every run and machine).
fn pattern(len: usize, seed: usize) -> Vec<f64> {
    (0..len)
        .map(|i| ((i * 7919 + seed * 104_729) % 997) as f64 / 498.5 - 1.0)
        .collect()
}

/// Every multiply-add of the convolution's definition, as (output, input, weight) indices into
/// the flat NCHW buffers: `y[o] += x[i] * w[k]` summed over these is the convolution.
fn for_each_tap(c: &Case, mut tap: impl FnMut(usize, usize, usize)) {
    let [ho, wo] = c.out();
    let (cin_g, cout_g) = (c.cin / c.groups, c.cout / c.groups);
    for n in 0..c.n {
        for co in 0..c.cout {
            let group = co / cout_g;
            for oy in 0..ho {
                for ox in 0..wo {
                    let o = ((n * c.cout + co) * ho + oy) * wo + ox;
                    for ci in 0..cin_g {
                        for ki in 0..c.k[0] {
                            for kj in 0..c.k[1] {
                                let iy = (oy * c.stride[0] + ki * c.dilation[0]) as isize
                                    - c.pad[0].0 as isize;
                                let ix = (ox * c.stride[1] + kj * c.dilation[1]) as isize
                                    - c.pad[1].0 as isize;
                                if iy < 0 || ix < 0 || iy >= c.h as isize || ix >= c.w as isize {
                                    continue;
                                }
                                let i = ((n * c.cin + group * cin_g + ci) * c.h + iy as usize)
                                    * c.w
                                    + ix as usize;
                                let k = ((co * cin_g + ci) * c.k[0] + ki) * c.k[1] + kj;
                                tap(o, i, k);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `y = conv(x, w)` by its definition: `[n, cout, ho, wo]`.
fn conv_by_definition(c: &Case, x: &[f64], w: &[f64]) -> Vec<f64> {
    let [ho, wo] = c.out();
    let mut y = vec![0.0; c.n * c.cout * ho * wo];
    for_each_tap(c, |o, i, k| y[o] += x[i] * w[k]);
    y
}

/// ∂⟨conv(x, w), r⟩/∂x and /∂w by the definition: the convolution is bilinear, so each
/// partial derivative is the sum of the products it multiplies.
fn gradients_by_definition(c: &Case, x: &[f64], w: &[f64], r: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let mut dx = vec![0.0; x.len()];
    let mut dw = vec![0.0; w.len()];
    for_each_tap(c, |o, i, k| {
        dx[i] += r[o] * w[k];
        dw[k] += r[o] * x[i];
    });
    (dx, dw)
}

fn tensor(values: &[f64], shape: [usize; 4], dtype: DType, device: &Device) -> Tensor<4> {
    let data = TensorData::new(values.iter().map(|&v| v as f32).collect::<Vec<_>>(), shape);
    Tensor::<4>::from_data(data, device).cast(dtype)
}

fn values(t: Tensor<4>) -> Vec<f64> {
    t.cast(DType::F32)
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .unwrap()
        .into_iter()
        .map(f64::from)
        .collect()
}

/// A pass's value and both gradients, each against its definition.
fn assert_passes(what: &str, passes: [(&str, Tensor<4>, Vec<f64>); 3], tolerance: f64) {
    for (pass, got, want) in passes {
        assert_close(&format!("{pass} {what}"), &values(got), &want, tolerance);
    }
}

/// The cases: the networks' own layers (stride 2, padding 1, 4×4; the 4×4 heads), and the
/// options the networks do not use, so that no formula is right only for them.
fn cases() -> Vec<Case> {
    let case = |n, cin, h, w, cout, k, stride, pad, dilation, groups| Case {
        n,
        cin,
        h,
        w,
        cout,
        k,
        stride,
        pad,
        dilation,
        groups,
    };
    vec![
        case(3, 3, 16, 16, 8, [4, 4], [2, 2], [(1, 1), (1, 1)], [1, 1], 1),
        case(5, 8, 4, 4, 6, [4, 4], [1, 1], [(0, 0), (0, 0)], [1, 1], 1),
        case(70, 2, 3, 3, 3, [2, 2], [1, 1], [(0, 0), (0, 0)], [1, 1], 1),
        case(2, 6, 7, 5, 4, [3, 2], [1, 2], [(2, 1), (0, 2)], [2, 1], 2),
        case(2, 6, 7, 5, 4, [3, 2], [1, 2], [(2, 2), (1, 1)], [2, 1], 2),
        case(1, 2, 9, 9, 3, [3, 3], [3, 3], [(1, 1), (1, 1)], [1, 1], 1),
        // Kernel taps that read only padding for every output position.
        case(2, 2, 2, 2, 3, [3, 3], [1, 1], [(3, 3), (3, 3)], [3, 3], 1),
    ]
}

/// `conv2d`: output, input gradient and weight gradient of ⟨conv(x, w), r⟩.
#[test]
fn conv2d_and_its_gradients_match_the_definition() {
    let device = Device::flex().autodiff();
    for (dtype, tolerance) in [(DType::F32, 1e-5), (DType::F64, 1e-5), (DType::F16, 2e-2)] {
        for c in cases() {
            let [ho, wo] = c.out();
            let x = pattern(c.n * c.cin * c.h * c.w, 1);
            let w = pattern(c.weight_len(), 2);
            let r = pattern(c.n * c.cout * ho * wo, 3);
            let xt = tensor(&x, [c.n, c.cin, c.h, c.w], dtype, &device).require_grad();
            let wt = tensor(&w, c.weight_shape(), dtype, &device).require_grad();
            let options = ConvOptions::new_with_padding(c.stride, c.pad, c.dilation, c.groups);
            let y = conv2d(xt.clone(), wt.clone(), None, options);
            let rt = tensor(&r, [c.n, c.cout, ho, wo], dtype, &device);
            let grads = (y.clone() * rt).sum().backward();
            let (dx, dw) = gradients_by_definition(&c, &x, &w, &r);
            assert_passes(
                &format!("{dtype:?} {c:?}"),
                [
                    ("y", y, conv_by_definition(&c, &x, &w)),
                    ("dx", xt.grad(&grads).unwrap(), dx),
                    ("dw", wt.grad(&grads).unwrap(), dw),
                ],
                tolerance,
            );
        }
    }
}

/// `conv_transpose2d` is the input gradient of the convolution it transposes: its value is
/// that gradient, and its own gradients are that convolution's value and weight gradient.
#[test]
fn conv_transpose2d_and_its_gradients_match_the_definition() {
    let device = Device::flex().autodiff();
    for (dtype, tolerance) in [(DType::F32, 1e-5), (DType::BF16, 5e-2)] {
        for c in cases()
            .into_iter()
            .filter(|c| c.pad[0].0 == c.pad[0].1 && c.pad[1].0 == c.pad[1].1)
        {
            let [ho, wo] = c.out();
            // The transposed convolution maps the convolution's output back to its input size;
            // padding_out covers the rows a stride skips.
            let padding_out = [0, 1].map(|i| {
                let size = [c.h, c.w][i];
                let back = (c.out()[i] - 1) * c.stride[i] + c.dilation[i] * (c.k[i] - 1) + 1
                    - 2 * c.pad[i].0;
                size - back
            });
            let z = pattern(c.n * c.cout * ho * wo, 4);
            let w = pattern(c.weight_len(), 5);
            let r = pattern(c.n * c.cin * c.h * c.w, 6);
            let zt = tensor(&z, [c.n, c.cout, ho, wo], dtype, &device).require_grad();
            let wt = tensor(&w, c.weight_shape(), dtype, &device).require_grad();
            let options = ConvTransposeOptions::new(
                c.stride,
                [c.pad[0].0, c.pad[1].0],
                padding_out,
                c.dilation,
                c.groups,
            );
            let y = conv_transpose2d(zt.clone(), wt.clone(), None, options);
            let rt = tensor(&r, [c.n, c.cin, c.h, c.w], dtype, &device);
            let grads = (y.clone() * rt).sum().backward();
            // y = ∂⟨conv(r, w), z⟩/∂r; ∂⟨y, r⟩/∂z = conv(r, w); ∂⟨y, r⟩/∂w = ∂⟨conv(r, w), z⟩/∂w.
            let (y_want, dw) = gradients_by_definition(&c, &r, &w, &z);
            assert_passes(
                &format!("{dtype:?} {c:?}"),
                [
                    ("y", y, y_want),
                    (
                        "dz",
                        zt.grad(&grads).unwrap(),
                        conv_by_definition(&c, &r, &w),
                    ),
                    ("dw", wt.grad(&grads).unwrap(), dw),
                ],
                tolerance,
            );
        }
    }
}
