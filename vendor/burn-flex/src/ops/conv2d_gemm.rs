//! 2-D convolution, its two backward passes, and the transposed convolution, each as GEMMs
//! over an im2col matrix in NCHW order (patch of the vendored copy, see
//! `docs/flex-conv2d-gemm.md` in the lran repository).
//!
//! Why: burn-backend's default `conv2d_weight_backward` is a convolution with batch and channels
//! swapped, whose "kernel" is the whole output-gradient map; flex computes it with one GEMM of
//! a few columns per input channel (its skinniest kernels). `conv2d_x_backward` and the
//! transposed convolution went through `conv_transpose3d_impl`. Here every pass is one
//! well-shaped GEMM per chunk of samples:
//!
//! - forward:     y[Cout, P]  = W[Cout, K] · cols(x)[K, P]
//! - input grad:  cols[K, P]  = Wᵀ[K, Cout] · dy[Cout, P], then col2im into dx
//! - weight grad: dW[Cout, K] += dy[Cout, P] · cols(x)ᵀ[P, K], summed over the batch
//!
//! with K = Cin/groups · kh · kw, P = Ho · Wo, and a chunk's columns being its samples' output
//! positions side by side (so a layer with a small output map still gets wide GEMMs). Chunks run
//! in parallel, each GEMM single-threaded; a batch smaller than the thread count lets gemm split
//! its GEMMs instead. The transposed convolution is the input gradient of the convolution it
//! transposes, and its weight gradient the weight gradient of that convolution with the roles of
//! input and output gradient exchanged, so three kernels serve all six passes.

use alloc::vec;
use alloc::vec::Vec;

use burn_backend::DType;
use burn_std::{Bytes, Shape};
use bytemuck::Pod;

use crate::{FlexTensor, Layout};
// Outputs and scratch matrices that im2col and gemm overwrite entirely need no zeroing pass.
use super::mask::uninit_vec;

/// Columns a chunk's GEMM aims for: below this, samples are grouped into one GEMM.
const TARGET_COLUMNS: usize = 512;

/// A 2-D convolution's sizes, all in the convolution's direction (input `[n, cin, h, w]` →
/// output `[n, cout, ho, wo]`, weight `[cout, cin / groups, kh, kw]`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Geometry {
    pub n: usize,
    pub cin: usize,
    pub h: usize,
    pub w: usize,
    pub cout: usize,
    pub ho: usize,
    pub wo: usize,
    pub kh: usize,
    pub kw: usize,
    pub stride: [usize; 2],
    /// Padding before the first row and column (the end padding follows from `ho`, `wo`).
    pub pad: [usize; 2],
    pub dilation: [usize; 2],
    pub groups: usize,
}

impl Geometry {
    fn k_group(&self) -> usize {
        self.cin / self.groups * self.kh * self.kw
    }
    fn cout_group(&self) -> usize {
        self.cout / self.groups
    }
    fn p(&self) -> usize {
        self.ho * self.wo
    }
    /// Samples per chunk: enough for `TARGET_COLUMNS` columns, few enough that every thread
    /// gets chunks.
    fn chunk(&self) -> usize {
        let wanted = TARGET_COLUMNS.div_ceil(self.p().max(1)).max(1);
        let per_thread = self.n.div_ceil(threads()).max(1);
        wanted.min(per_thread).min(self.n.max(1))
    }
}

#[cfg(feature = "rayon")]
fn threads() -> usize {
    rayon::current_num_threads()
}
#[cfg(not(feature = "rayon"))]
fn threads() -> usize {
    1
}

/// The element types gemm multiplies natively.
pub(crate) trait GemmElement:
    Pod + Copy + Send + Sync + 'static + core::ops::AddAssign
{
    const ZERO: Self;
    const ONE: Self;
    const DTYPE: DType;
}
impl GemmElement for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    const DTYPE: DType = DType::F32;
}
impl GemmElement for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    const DTYPE: DType = DType::F64;
}
impl GemmElement for burn_std::f16 {
    const ZERO: Self = burn_std::f16::from_f32_const(0.0);
    const ONE: Self = burn_std::f16::from_f32_const(1.0);
    const DTYPE: DType = DType::F16;
}

/// A row-major or transposed view for gemm: element (i, j) at `ptr + i * rs + j * cs`.
#[derive(Clone, Copy)]
struct View<T> {
    ptr: *const T,
    rs: isize,
    cs: isize,
}

/// `dst[m, n] (row stride dst_rs) = (accumulate ? dst : 0) + lhs[m, k] · rhs[k, n]`.
#[allow(clippy::too_many_arguments)]
fn gemm<T: GemmElement>(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut T,
    dst_rs: usize,
    accumulate: bool,
    lhs: View<T>,
    rhs: View<T>,
    parallel: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    #[cfg(feature = "rayon")]
    let parallelism = if parallel && m * n * k >= 64 * 64 * 64 {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    #[cfg(not(feature = "rayon"))]
    let parallelism = {
        let _ = parallel;
        gemm::Parallelism::None
    };
    // SAFETY: the callers pass views that lie inside their buffers for every (i, j) < (m, k),
    // (k, n), and a destination of m rows of dst_rs ≥ n elements that nothing else writes.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_rs as isize,
            accumulate,
            lhs.ptr,
            lhs.cs,
            lhs.rs,
            rhs.ptr,
            rhs.cs,
            rhs.rs,
            T::ONE,
            T::ONE,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// Input rows (iy) or columns (ix) each output position reads for kernel offset `k`: the output
/// range whose input index falls inside the image, and the input index of its first position.
fn valid_range(
    out: usize,
    input: usize,
    k: usize,
    stride: usize,
    pad: usize,
    dilation: usize,
) -> (usize, usize) {
    // Output o reads input o * stride + k * dilation - pad; keep 0 ≤ that < input.
    let offset = (k * dilation) as isize - pad as isize;
    let first = if offset >= 0 {
        0
    } else {
        ((-offset) as usize).div_ceil(stride)
    };
    let last = if input as isize - offset <= 0 {
        0
    } else {
        (((input as isize - offset) as usize).div_ceil(stride)).min(out)
    };
    (first.min(last), last)
}

/// Writes sample `x` (`[cin, h, w]`) as rows `(c, ki, kj)` × columns `(oy, ox)` into `cols`,
/// whose rows are `row_stride` long (the sample's columns start at `cols[0]` of each row).
fn im2col<T: GemmElement>(x: &[T], g: &Geometry, cols: &mut [T], row_stride: usize) {
    let p = g.p();
    let mut row = 0;
    for c in 0..g.cin {
        let plane = &x[c * g.h * g.w..(c + 1) * g.h * g.w];
        for ki in 0..g.kh {
            let (y0, y1) = valid_range(g.ho, g.h, ki, g.stride[0], g.pad[0], g.dilation[0]);
            for kj in 0..g.kw {
                let (x0, x1) = valid_range(g.wo, g.w, kj, g.stride[1], g.pad[1], g.dilation[1]);
                let out = &mut cols[row * row_stride..row * row_stride + p];
                if y0 > 0 || y1 < g.ho || x0 > 0 || x1 < g.wo {
                    out.fill(T::ZERO);
                }
                // An offset that reads no column at all leaves the row zero (and its first
                // input index would lie outside the image).
                let rows = if x0 < x1 { y0..y1 } else { 0..0 };
                for oy in rows {
                    let iy = oy * g.stride[0] + ki * g.dilation[0] - g.pad[0];
                    let src = &plane[iy * g.w..(iy + 1) * g.w];
                    let dst = &mut out[oy * g.wo..(oy + 1) * g.wo];
                    let ix0 = x0 * g.stride[1] + kj * g.dilation[1] - g.pad[1];
                    if g.stride[1] == 1 {
                        dst[x0..x1].copy_from_slice(&src[ix0..ix0 + (x1 - x0)]);
                    } else {
                        let taps = src[ix0..].iter().step_by(g.stride[1]);
                        for (d, &v) in dst[x0..x1].iter_mut().zip(taps) {
                            *d = v;
                        }
                    }
                }
                row += 1;
            }
        }
    }
}

/// The adjoint of [`im2col`]: adds every column entry back to the input position it was read
/// from, into `dx` (`[cin, h, w]`, zeroed by the caller).
fn col2im<T: GemmElement>(cols: &[T], g: &Geometry, dx: &mut [T], row_stride: usize) {
    let mut row = 0;
    for c in 0..g.cin {
        let plane = &mut dx[c * g.h * g.w..(c + 1) * g.h * g.w];
        for ki in 0..g.kh {
            let (y0, y1) = valid_range(g.ho, g.h, ki, g.stride[0], g.pad[0], g.dilation[0]);
            for kj in 0..g.kw {
                let (x0, x1) = valid_range(g.wo, g.w, kj, g.stride[1], g.pad[1], g.dilation[1]);
                let src_row = &cols[row * row_stride..];
                let rows = if x0 < x1 { y0..y1 } else { 0..0 };
                for oy in rows {
                    let iy = oy * g.stride[0] + ki * g.dilation[0] - g.pad[0];
                    let dst = &mut plane[iy * g.w..(iy + 1) * g.w];
                    let src = &src_row[oy * g.wo..(oy + 1) * g.wo];
                    let ix0 = x0 * g.stride[1] + kj * g.dilation[1] - g.pad[1];
                    let taps = dst[ix0..].iter_mut().step_by(g.stride[1]);
                    for (d, &v) in taps.zip(&src[x0..x1]) {
                        *d += v;
                    }
                }
                row += 1;
            }
        }
    }
}

/// Runs `work(first_sample, samples, scratch)` for every chunk of samples, in parallel where
/// rayon is on; `scratch` is a per-worker buffer of `scratch_len` elements.
fn for_each_chunk<T: GemmElement>(
    g: &Geometry,
    scratch_len: usize,
    work: impl Fn(usize, usize, &mut Vec<T>) + Send + Sync,
) {
    let chunk = g.chunk();
    let chunks = g.n.div_ceil(chunk);
    let run = |index: usize, scratch: &mut Vec<T>| {
        let first = index * chunk;
        work(first, chunk.min(g.n - first), scratch);
    };
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        (0..chunks).into_par_iter().for_each_init(
            || uninit_vec::<T>(scratch_len),
            |scratch, i| run(i, scratch),
        );
    }
    #[cfg(not(feature = "rayon"))]
    {
        let mut scratch = uninit_vec::<T>(scratch_len);
        for i in 0..chunks {
            run(i, &mut scratch);
        }
    }
}

/// Whether chunks leave threads idle, so each GEMM should split itself instead.
fn gemm_in_parallel(g: &Geometry) -> bool {
    g.n.div_ceil(g.chunk()) < threads()
}

#[derive(Clone, Copy)]
struct SendPtr<T>(*mut T);
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}
impl<T> SendPtr<T> {
    fn get(self) -> *mut T {
        self.0
    }
}

/// `y = conv2d(x, w)` (no bias): `x` `[n, cin, h, w]`, `w` `[cout, cin / groups, kh, kw]`,
/// both contiguous; returns `[n, cout, ho, wo]`.
pub(crate) fn forward<T: GemmElement>(x: &[T], w: &[T], g: &Geometry) -> Vec<T> {
    let (k, p, cout_g) = (g.k_group(), g.p(), g.cout_group());
    let k_all = k * g.groups;
    let chunk = g.chunk();
    let parallel = gemm_in_parallel(g);
    // Every sample of y is written whole by its chunk.
    let mut y = uninit_vec::<T>(g.n * g.cout * p);
    let y_ptr = SendPtr(y.as_mut_ptr());
    // Scratch: the chunk's im2col matrix, then (several samples) its GEMM result.
    let scratch = k_all * chunk * p + if chunk > 1 { g.cout * chunk * p } else { 0 };
    for_each_chunk::<T>(g, scratch, |first, samples, buf| {
        let cols_len = samples * p;
        let (cols, result) = buf.split_at_mut(k_all * chunk * p);
        for s in 0..samples {
            let sample = &x[(first + s) * g.cin * g.h * g.w..(first + s + 1) * g.cin * g.h * g.w];
            im2col(sample, g, &mut cols[s * p..], cols_len);
        }
        for group in 0..g.groups {
            let lhs = View {
                ptr: w[group * cout_g * k..].as_ptr(),
                rs: k as isize,
                cs: 1,
            };
            let rhs = View {
                ptr: cols[group * k * cols_len..].as_ptr(),
                rs: cols_len as isize,
                cs: 1,
            };
            if samples == 1 {
                // One sample: its [cout, p] output is a row-major block of y.
                // SAFETY: chunks write disjoint samples of y.
                let dst = unsafe { y_ptr.get().add(first * g.cout * p + group * cout_g * p) };
                gemm(cout_g, p, k, dst, p, false, lhs, rhs, parallel);
            } else {
                let dst = result[group * cout_g * cols_len..].as_mut_ptr();
                gemm(
                    cout_g, cols_len, k, dst, cols_len, false, lhs, rhs, parallel,
                );
            }
        }
        if samples > 1 {
            for s in 0..samples {
                for c in 0..g.cout {
                    let src = &result[c * cols_len + s * p..c * cols_len + (s + 1) * p];
                    // SAFETY: sample first + s belongs to this chunk alone.
                    unsafe {
                        let dst = y_ptr.get().add(((first + s) * g.cout + c) * p);
                        core::ptr::copy_nonoverlapping(src.as_ptr(), dst, p);
                    }
                }
            }
        }
    });
    y
}

/// The chunk's samples of `dy` (`[n, cout, p]`) as one `[cout, samples · p]` matrix, and its
/// row stride: a view of `dy` for one sample, else gathered into `buf`.
fn chunk_rows<'a, T: GemmElement>(
    dy: &'a [T],
    g: &Geometry,
    first: usize,
    samples: usize,
    buf: &'a mut [T],
) -> (&'a [T], usize) {
    let p = g.p();
    if samples == 1 {
        return (&dy[first * g.cout * p..(first + 1) * g.cout * p], p);
    }
    let cols_len = samples * p;
    for s in 0..samples {
        for c in 0..g.cout {
            let src = &dy[((first + s) * g.cout + c) * p..((first + s) * g.cout + c + 1) * p];
            buf[c * cols_len + s * p..c * cols_len + (s + 1) * p].copy_from_slice(src);
        }
    }
    (&buf[..g.cout * cols_len], cols_len)
}

/// `dx` of `y = conv2d(x, w)` from `dy` (`[n, cout, ho, wo]`); returns `[n, cin, h, w]`.
pub(crate) fn input_grad<T: GemmElement>(dy: &[T], w: &[T], g: &Geometry) -> Vec<T> {
    let (k, p, cout_g) = (g.k_group(), g.p(), g.cout_group());
    let k_all = k * g.groups;
    let chunk = g.chunk();
    let parallel = gemm_in_parallel(g);
    let sample_len = g.cin * g.h * g.w;
    let mut dx = vec![T::ZERO; g.n * sample_len];
    let dx_ptr = SendPtr(dx.as_mut_ptr());
    let scratch = k_all * chunk * p + if chunk > 1 { g.cout * chunk * p } else { 0 };
    for_each_chunk::<T>(g, scratch, |first, samples, buf| {
        let cols_len = samples * p;
        let (cols, gathered) = buf.split_at_mut(k_all * chunk * p);
        let (dy_view, dy_rs) = chunk_rows(dy, g, first, samples, gathered);
        for group in 0..g.groups {
            let lhs = View {
                ptr: w[group * cout_g * k..].as_ptr(),
                rs: 1,
                cs: k as isize,
            };
            let rhs = View {
                ptr: dy_view[group * cout_g * dy_rs..].as_ptr(),
                rs: dy_rs as isize,
                cs: 1,
            };
            let dst = cols[group * k * cols_len..].as_mut_ptr();
            gemm(
                k, cols_len, cout_g, dst, cols_len, false, lhs, rhs, parallel,
            );
        }
        for s in 0..samples {
            // SAFETY: sample first + s belongs to this chunk alone.
            let dx_sample = unsafe {
                core::slice::from_raw_parts_mut(
                    dx_ptr.get().add((first + s) * sample_len),
                    sample_len,
                )
            };
            col2im(&cols[s * p..], g, dx_sample, cols_len);
        }
    });
    dx
}

/// `dW` of `y = conv2d(x, w)` from `x` and `dy`; returns `[cout, cin / groups, kh, kw]`.
pub(crate) fn weight_grad<T: GemmElement>(x: &[T], dy: &[T], g: &Geometry) -> Vec<T> {
    let (k, p, cout_g) = (g.k_group(), g.p(), g.cout_group());
    let k_all = k * g.groups;
    let chunk = g.chunk();
    let chunks = g.n.div_ceil(chunk);
    let parallel = gemm_in_parallel(g);
    let sample_len = g.cin * g.h * g.w;
    let dw_len = g.cout * k;
    // One chunk's contribution, added into `acc` (`[cout, k]`).
    let add_chunk = |index: usize, acc: &mut Vec<T>, buf: &mut Vec<T>| {
        let first = index * chunk;
        let samples = chunk.min(g.n - first);
        let cols_len = samples * p;
        let (cols, gathered) = buf.split_at_mut(k_all * chunk * p);
        for s in 0..samples {
            im2col(
                &x[(first + s) * sample_len..(first + s + 1) * sample_len],
                g,
                &mut cols[s * p..],
                cols_len,
            );
        }
        let (dy_view, dy_rs) = chunk_rows(dy, g, first, samples, gathered);
        for group in 0..g.groups {
            let lhs = View {
                ptr: dy_view[group * cout_g * dy_rs..].as_ptr(),
                rs: dy_rs as isize,
                cs: 1,
            };
            let rhs = View {
                ptr: cols[group * k * cols_len..].as_ptr(),
                rs: 1,
                cs: cols_len as isize,
            };
            let dst = acc[group * cout_g * k..].as_mut_ptr();
            gemm(cout_g, k, cols_len, dst, k, true, lhs, rhs, parallel);
        }
    };
    let scratch = k_all * chunk * p + if chunk > 1 { g.cout * chunk * p } else { 0 };
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        (0..chunks)
            .into_par_iter()
            .fold(
                || (vec![T::ZERO; dw_len], uninit_vec::<T>(scratch)),
                |(mut acc, mut buf), i| {
                    add_chunk(i, &mut acc, &mut buf);
                    (acc, buf)
                },
            )
            .map(|(acc, _)| acc)
            .reduce(
                || vec![T::ZERO; dw_len],
                |mut a, b| {
                    for (a, b) in a.iter_mut().zip(&b) {
                        *a += *b;
                    }
                    a
                },
            )
    }
    #[cfg(not(feature = "rayon"))]
    {
        let mut acc = vec![T::ZERO; dw_len];
        let mut buf = uninit_vec::<T>(scratch);
        for i in 0..chunks {
            add_chunk(i, &mut acc, &mut buf);
        }
        acc
    }
}

/// A contiguous tensor from `data` of `shape`.
pub(crate) fn tensor<T: GemmElement>(data: Vec<T>, shape: [usize; 4]) -> FlexTensor {
    FlexTensor::new(
        Bytes::from_elems(data),
        Layout::contiguous(Shape::from(shape.to_vec())),
        T::DTYPE,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, one multiply-add at a time.
    fn naive(x: &[f64], w: &[f64], g: &Geometry) -> Vec<f64> {
        let cin_g = g.cin / g.groups;
        let mut y = vec![0.0; g.n * g.cout * g.p()];
        for n in 0..g.n {
            for co in 0..g.cout {
                let group = co / g.cout_group();
                for oy in 0..g.ho {
                    for ox in 0..g.wo {
                        let mut s = 0.0;
                        for ci in 0..cin_g {
                            for ki in 0..g.kh {
                                for kj in 0..g.kw {
                                    let iy = (oy * g.stride[0] + ki * g.dilation[0]) as isize
                                        - g.pad[0] as isize;
                                    let ix = (ox * g.stride[1] + kj * g.dilation[1]) as isize
                                        - g.pad[1] as isize;
                                    if iy < 0 || ix < 0 || iy >= g.h as isize || ix >= g.w as isize
                                    {
                                        continue;
                                    }
                                    let c = group * cin_g + ci;
                                    s += x
                                        [((n * g.cin + c) * g.h + iy as usize) * g.w + ix as usize]
                                        * w[((co * cin_g + ci) * g.kh + ki) * g.kw + kj];
                                }
                            }
                        }
                        y[((n * g.cout + co) * g.ho + oy) * g.wo + ox] = s;
                    }
                }
            }
        }
        y
    }

    fn values(len: usize, seed: u64) -> Vec<f64> {
        (0..len)
            .map(|i| (((i as u64 * 2654435761 + seed * 40503) % 1000) as f64) / 500.0 - 1.0)
            .collect()
    }

    fn dot(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(a, b)| a * b).sum()
    }

    /// Forward against the definition; both gradients through the adjoint identities
    /// ⟨conv(x, w), dy⟩ = ⟨x, dx(dy, w)⟩ = ⟨w, dW(x, dy)⟩, with the gradients' own values checked
    /// against finite-free exact sums (the convolution is bilinear).
    #[test]
    fn every_pass_matches_the_definition() {
        let shapes = [
            // n, cin, h, w, cout, kh, kw, stride, pad, dilation, groups
            (2, 3, 8, 8, 4, 4, 4, 2, 1, 1, 1),
            (5, 4, 4, 4, 6, 4, 4, 1, 0, 1, 1),
            (3, 6, 7, 5, 4, 3, 2, 1, 2, 2, 2),
            (1, 2, 9, 9, 3, 3, 3, 3, 1, 1, 1),
            (40, 2, 2, 2, 3, 2, 2, 1, 0, 1, 1),
        ];
        for (n, cin, h, w, cout, kh, kw, s, pad, d, groups) in shapes {
            let ho = (h + 2 * pad - d * (kh - 1) - 1) / s + 1;
            let wo = (w + 2 * pad - d * (kw - 1) - 1) / s + 1;
            let g = Geometry {
                n,
                cin,
                h,
                w,
                cout,
                ho,
                wo,
                kh,
                kw,
                stride: [s, s],
                pad: [pad, pad],
                dilation: [d, d],
                groups,
            };
            let x = values(n * cin * h * w, 1);
            let wt = values(cout * cin / groups * kh * kw, 2);
            let dy = values(n * cout * ho * wo, 3);
            let y = forward(&x, &wt, &g);
            let expected = naive(&x, &wt, &g);
            for (a, b) in y.iter().zip(&expected) {
                assert!((a - b).abs() < 1e-9, "forward {g:?}: {a} vs {b}");
            }
            let dx = input_grad(&dy, &wt, &g);
            let dw = weight_grad(&x, &dy, &g);
            let inner = dot(&y, &dy);
            assert!(
                (dot(&x, &dx) - inner).abs() < 1e-8 * inner.abs().max(1.0),
                "dx {g:?}"
            );
            assert!(
                (dot(&wt, &dw) - inner).abs() < 1e-8 * inner.abs().max(1.0),
                "dw {g:?}"
            );
            // Each gradient entry exactly: dx = ∂⟨conv(x, w), dy⟩/∂x is conv's value on a unit x.
            for probe in [0, x.len() / 2, x.len() - 1] {
                let mut unit = vec![0.0; x.len()];
                unit[probe] = 1.0;
                let want = dot(&naive(&unit, &wt, &g), &dy);
                assert!((dx[probe] - want).abs() < 1e-9, "dx[{probe}] {g:?}");
            }
            for probe in [0, wt.len() / 2, wt.len() - 1] {
                let mut unit = vec![0.0; wt.len()];
                unit[probe] = 1.0;
                let want = dot(&naive(&x, &unit, &g), &dy);
                assert!((dw[probe] - want).abs() < 1e-9, "dw[{probe}] {g:?}");
            }
        }
    }
}
