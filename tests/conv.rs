//! The matmul formulations of the network's convolutions (`lran::conv`) against burn's own
//! convolution ops: same values and same gradients, for every shape the models use.

use lran::burn::module::Param;
use lran::burn::tensor::{Device, Distribution, Tensor, TensorData};
use lran::conv::{
    conv_transpose4_from_1x1_gemm, conv_transpose4_stride2_gemm, conv4_stride2_gemm,
    conv4_valid_gemm,
};
use lran::model::{conv_transpose4, conv4};

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

fn assert_close(what: &str, a: Vec<f32>, b: Vec<f32>) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    let scale = a.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-6);
    let worst = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    assert!(
        worst <= 1e-5 * scale.max(1.0),
        "{what}: largest difference {worst} (values up to {scale})"
    );
    assert!(scale > 1e-3, "{what}: all values ~0, nothing compared");
}

/// Runs `native` and `gemm` on the same input and weight with autodiff, and compares outputs
/// and the gradients of a weighted sum (so every output position matters differently).
fn compare(
    what: &str,
    input: [usize; 4],
    weight: [usize; 4],
    native: impl Fn(Tensor<4>, Param<Tensor<4>>) -> Tensor<4>,
    gemm: impl Fn(Tensor<4>, Tensor<4>) -> Tensor<4>,
) {
    let device = Device::flex().autodiff();
    device.seed(7);
    let x = Tensor::<4>::random(input, Distribution::Normal(0.0, 1.0), &device);
    let w = Tensor::<4>::random(weight, Distribution::Normal(0.0, 0.1), &device);
    let run = |use_gemm: bool| {
        let x = x.clone().detach().require_grad();
        let w = w.clone().detach().require_grad();
        let y = if use_gemm {
            gemm(x.clone(), w.clone())
        } else {
            native(x.clone(), Param::from_tensor(w.clone()))
        };
        // A fixed pattern, not random draws: both runs must weight the outputs identically.
        let count = y.dims().iter().product::<usize>();
        let pattern: Vec<f32> = (0..count)
            .map(|i| ((i * 7919) % 23) as f32 / 11.0 - 1.0)
            .collect();
        let mask = Tensor::<4>::from_data(TensorData::new(pattern, y.dims()), &y.device());
        let dims = y.dims();
        let grads = (y.clone() * mask).sum().backward();
        (
            values(y.inner()),
            values(x.grad(&grads).unwrap()),
            values(w.grad(&grads).unwrap()),
            dims,
        )
    };
    let (y_native, dx_native, dw_native, dims_native) = run(false);
    let (y_gemm, dx_gemm, dw_gemm, dims_gemm) = run(true);
    assert_eq!(dims_native, dims_gemm, "{what}: output shape");
    assert_close(&format!("{what}: output"), y_native, y_gemm);
    assert_close(&format!("{what}: input gradient"), dx_native, dx_gemm);
    assert_close(&format!("{what}: weight gradient"), dw_native, dw_gemm);
}

#[test]
fn stride2_convolution_matches_burn() {
    for (batch, cin, cout, size) in [(2, 1, 8, 32), (3, 6, 5, 8), (2, 4, 3, 16)] {
        compare(
            &format!("conv 4x4/2 {cin}->{cout} at {size}"),
            [batch, cin, size, size],
            [cout, cin, 4, 4],
            |x, w| {
                let mut conv = conv4(cin, cout, 2, 1, &x.device());
                conv.weight = w;
                conv.forward(x)
            },
            conv4_stride2_gemm,
        );
    }
}

#[test]
fn valid_convolution_on_a_4x4_map_matches_burn() {
    compare(
        "conv 4x4 valid",
        [3, 6, 4, 4],
        [5, 6, 4, 4],
        |x, w| {
            let mut conv = conv4(6, 5, 1, 0, &x.device());
            conv.weight = w;
            conv.forward(x)
        },
        conv4_valid_gemm,
    );
}

#[test]
fn transposed_convolution_from_1x1_matches_burn() {
    compare(
        "conv-transpose 4x4 from 1x1",
        [3, 7, 1, 1],
        [7, 5, 4, 4],
        |x, w| {
            let mut conv = conv_transpose4(7, 5, 1, 0, &x.device());
            conv.weight = w;
            conv.forward(x)
        },
        conv_transpose4_from_1x1_gemm,
    );
}

#[test]
fn stride2_transposed_convolution_matches_burn() {
    for (batch, cin, cout, size) in [(2, 8, 1, 16), (3, 5, 6, 4), (2, 3, 4, 8)] {
        compare(
            &format!("conv-transpose 4x4/2 {cin}->{cout} from {size}"),
            [batch, cin, size, size],
            [cin, cout, 4, 4],
            |x, w| {
                let mut conv = conv_transpose4(cin, cout, 2, 1, &x.device());
                conv.weight = w;
                conv.forward(x)
            },
            conv_transpose4_stride2_gemm,
        );
    }
}
