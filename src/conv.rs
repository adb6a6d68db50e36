//! The network's four convolution shapes written as matrix products (issue D).
//!
//! Without CubeCL's autotuning, burn-wgpu runs every convolution and transposed convolution
//! with its direct kernel, and a profile of the training step on wgpu shows those two kernels
//! taking ~70% of the GPU time. Its matmul kernels are tiled and far faster, so here each of the
//! DCGAN shapes becomes gathers (pad, slice, stack, permute: memory moves) plus one matmul:
//!
//! - 4×4, stride 2, padding 1 (the encoders' halvings): a 2×2 space-to-depth, then the 4 (2×2)
//!   neighbouring cells gathered into columns of 16·C_in values, times the `[16·C_in, C_out]`
//!   weight matrix;
//! - 4×4 "valid" on a 4×4 map (the encoders' heads): a flatten and a matmul;
//! - transposed 4×4 from 1×1 (the decoder's stem): a matmul and a reshape;
//! - transposed 4×4, stride 2, padding 1 (the decoder's doublings): the sub-pixel form. Output
//!   row 2m + a only sees input rows m + a + u − 1 (u ∈ {0, 1}) through kernel row 3 − a − 2u, so
//!   each of the four output phases (a, b) is a 2×2 convolution: one batched matmul of 4 phases
//!   × `[4·C_in, C_out]`, interleaved back into the doubled image.
//!
//! The weights keep burn's `Conv2d` / `ConvTranspose2d` layouts, so checkpoints and exported
//! models are the same whichever formulation computes them, and autodiff differentiates the
//! gathers and the matmul as it would any other tensor code. `tests/conv.rs` checks values and
//! gradients against burn's own kernels; the correctness gate checks whole training steps.

use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::tensor::Tensor;
use burn::tensor::ops::PadMode;
use serde::{Deserialize, Serialize};

/// How the model's convolutions are computed: a field of [`crate::ModelConfig`] that each
/// convolution module keeps (not saved with the weights). It changes speed, not results
/// (within f32 rounding), so two models of one configuration and different algorithms share
/// checkpoints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConvAlgorithm {
    /// burn's convolution ops (on wgpu without autotune: direct kernels).
    #[default]
    Native,
    /// Gathers plus one matmul per convolution (this module).
    Gemm,
}

impl ConvAlgorithm {
    pub fn name(self) -> &'static str {
        match self {
            ConvAlgorithm::Native => "native",
            ConvAlgorithm::Gemm => "gemm",
        }
    }

    pub fn is_native(&self) -> bool {
        *self == ConvAlgorithm::Native
    }
}

/// A 4×4 convolution of the encoders (stride 2 and padding 1, or stride 1 on a 4×4 map).
pub(crate) fn apply_conv4(conv: &Conv2d, x: Tensor<4>, algorithm: ConvAlgorithm) -> Tensor<4> {
    if algorithm == ConvAlgorithm::Native {
        return conv.forward(x);
    }
    let [_, _, height, _] = x.dims();
    if conv.stride == [1, 1] && height == 4 {
        conv4_valid_gemm(x, conv.weight.val())
    } else {
        conv4_stride2_gemm(x, conv.weight.val())
    }
}

/// A 4×4 transposed convolution of the decoder (from 1×1, or stride 2 and padding 1).
pub(crate) fn apply_conv_transpose4(
    conv: &ConvTranspose2d,
    x: Tensor<4>,
    algorithm: ConvAlgorithm,
) -> Tensor<4> {
    if algorithm == ConvAlgorithm::Native {
        return conv.forward(x);
    }
    let [_, _, height, width] = x.dims();
    if conv.stride == [1, 1] && height == 1 && width == 1 {
        conv_transpose4_from_1x1_gemm(x, conv.weight.val())
    } else {
        conv_transpose4_stride2_gemm(x, conv.weight.val())
    }
}

/// 4×4 kernel, stride 2, padding 1, no bias: `[B, C, H, W]` → `[B, C_out, H/2, W/2]`
/// with `weight` `[C_out, C, 4, 4]`.
pub fn conv4_stride2_gemm(x: Tensor<4>, weight: Tensor<4>) -> Tensor<4> {
    let [batch, channels, height, width] = x.dims();
    let [out_channels, _, _, _] = weight.dims();
    let (rows, cols) = (height / 2, width / 2);
    // Padded row 2i + ky feeds output row i through kernel row ky = 2·di + a: space-to-depth
    // splits the padded rows into cells (i + di) and phases a.
    let cells: Tensor<6> = x.pad((1, 1, 1, 1), PadMode::Constant(0.0)).reshape([
        batch,
        channels,
        rows + 1,
        2,
        cols + 1,
        2,
    ]);
    // The four neighbouring cells (di, dj), each one slice: [B, C, di·dj, rows, a, cols, b].
    let mut neighbours = Vec::with_capacity(4);
    for di in 0..2 {
        for dj in 0..2 {
            neighbours.push(cells.clone().slice([
                0..batch,
                0..channels,
                di..di + rows,
                0..2,
                dj..dj + cols,
                0..2,
            ]));
        }
    }
    let patches: Tensor<8> =
        Tensor::<6>::stack::<7>(neighbours, 2).reshape([batch, channels, 2, 2, rows, 2, cols, 2]); // [B, C, di, dj, rows, a, cols, b]
    // Columns ordered (C, di, a, dj, b) = (C, ky, kx): the weight's own order.
    let columns = patches
        .permute([0, 4, 6, 1, 2, 5, 3, 7])
        .reshape([batch * rows * cols, channels * 16]);
    let weights = weight.reshape([out_channels, channels * 16]).transpose();
    columns
        .matmul(weights)
        .reshape([batch, rows, cols, out_channels])
        .permute([0, 3, 1, 2])
}

/// 4×4 kernel on a 4×4 map, no padding, no bias: `[B, C, 4, 4]` → `[B, C_out, 1, 1]`.
pub fn conv4_valid_gemm(x: Tensor<4>, weight: Tensor<4>) -> Tensor<4> {
    let [batch, channels, _, _] = x.dims();
    let [out_channels, _, _, _] = weight.dims();
    x.reshape([batch, channels * 16])
        .matmul(weight.reshape([out_channels, channels * 16]).transpose())
        .reshape([batch, out_channels, 1, 1])
}

/// Transposed 4×4 kernel from a 1×1 map, no bias: `[B, C, 1, 1]` → `[B, C_out, 4, 4]` with
/// `weight` `[C, C_out, 4, 4]`.
pub fn conv_transpose4_from_1x1_gemm(x: Tensor<4>, weight: Tensor<4>) -> Tensor<4> {
    let [batch, channels, _, _] = x.dims();
    let [_, out_channels, _, _] = weight.dims();
    x.reshape([batch, channels])
        .matmul(weight.reshape([channels, out_channels * 16]))
        .reshape([batch, out_channels, 4, 4])
}

/// Transposed 4×4 kernel, stride 2, padding 1, no bias: `[B, C, H, W]` → `[B, C_out, 2H, 2W]`
/// with `weight` `[C, C_out, 4, 4]`.
pub fn conv_transpose4_stride2_gemm(x: Tensor<4>, weight: Tensor<4>) -> Tensor<4> {
    let [batch, channels, height, width] = x.dims();
    let [_, out_channels, _, _] = weight.dims();
    let padded = x.pad((1, 1, 1, 1), PadMode::Constant(0.0));
    // Output pixel (2m + a, 2n + b) reads padded (m + a + u, n + b + v), u, v ∈ {0, 1}: nine
    // distinct shifts, each one slice, shared by the phases that read them.
    let mut shifts = Vec::with_capacity(9);
    for row in 0..3 {
        for col in 0..3 {
            shifts.push(padded.clone().slice([
                0..batch,
                0..channels,
                row..row + height,
                col..col + width,
            ]));
        }
    }
    let mut shifted = Vec::with_capacity(16);
    for a in 0..2 {
        for b in 0..2 {
            for u in 0..2 {
                for v in 0..2 {
                    shifted.push(shifts[(a + u) * 3 + b + v].clone());
                }
            }
        }
    }
    // [a, b, u, v, B, C, H, W] → [a·b, B·H·W, C·u·v]
    let columns = Tensor::<4>::stack::<5>(shifted, 0)
        .reshape([2, 2, 2, 2, batch, channels, height, width])
        .permute([0, 1, 4, 6, 7, 5, 2, 3])
        .reshape([4, batch * height * width, channels * 4]);
    // Kernel row 3 − a − 2u: flipped, row a + 2u, i.e. (u, a) after a reshape.
    let weights = weight
        .flip([2, 3])
        .reshape([channels, out_channels, 2, 2, 2, 2]) // [C, C_out, u, a, v, b]
        .permute([3, 5, 0, 2, 4, 1]) // [a, b, C, u, v, C_out]
        .reshape([4, channels * 4, out_channels]);
    columns
        .matmul(weights) // [a·b, B·H·W, C_out]
        .reshape([2, 2, batch, height, width, out_channels])
        .permute([2, 5, 3, 0, 4, 1]) // [B, C_out, H, a, W, b]
        .reshape([batch, out_channels, 2 * height, 2 * width])
}
