//! Brain MRI volumes → model-sized axial slices, written once for the trainer, the evaluator,
//! `cargo xtask data inspect` and the page.
//!
//! Per case (one subject, one or more modalities on one voxel grid):
//! 1. a brain mask: a given mask file, the non-zero voxels (skull-stripped scans: BraTS, HCP
//!    `*_brain`), or an intensity threshold (heads with skull; it removes the background only);
//! 2. z-score normalisation of each modality inside the brain (the paper's choice), clipped at
//!    ±`z_clip` and scaled to the decoder's tanh range [−1, 1]; outside the brain is −1;
//! 3. one crop for the whole case: the brain's bounding box in the axial plane over the kept
//!    slices, plus a margin, padded to a square in millimetres (so anisotropic voxels keep their
//!    shape), resampled to the model size with area averaging;
//! 4. slices whose brain cross-section is at least `min_brain_fraction` of the case's largest
//!    are kept (the top and bottom of the head hold little brain);
//! 5. with a segmentation, each kept slice is labelled: tumour with at least
//!    `tumour_min_voxels` tumour voxels (10, as the HCP → BraTS literature uses), healthy with
//!    none, and excluded in between (counted, never scored in an AUC).

use serde::{Deserialize, Serialize};

mod anomaly_map;
mod geometry;
mod image;
#[cfg(test)]
mod tests;
mod warm_up;

pub use image::{
    ImageSlice, MAX_RIM_DIP, MAX_SATURATED_FRACTION, MIN_BACKGROUND_FRACTION, slice_image,
};

pub use anomaly_map::anomaly_map;
pub use warm_up::{WARM_UP_PASSES, warm_up_volume};

use geometry::resample;

use crate::data::volume::Volume;
use crate::error::{LranError, Result};

/// Settings of the slice pipeline; stored with a model so the page slices uploads the same way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SliceConfig {
    /// Side of the square model input in pixels.
    pub image_size: usize,
    /// Space added around the brain's bounding box on each side, as a fraction of its longer side.
    pub margin: f32,
    /// Keep slices whose brain area is at least this fraction of the case's largest slice.
    pub min_brain_fraction: f32,
    /// A slice with at least this many tumour voxels is a tumour slice.
    pub tumour_min_voxels: usize,
    /// z-scores beyond ±z_clip saturate at ±1.
    pub z_clip: f32,
}

impl SliceConfig {
    /// Slices whose brain area is under this share of the case's largest are left out.
    pub const MIN_BRAIN_FRACTION: f32 = 0.25;
    /// A slice with at least this many tumour voxels is a tumour slice.
    pub const TUMOUR_MIN_VOXELS: usize = 10;

    pub fn new(image_size: usize) -> Self {
        Self {
            image_size,
            margin: 0.05,
            min_brain_fraction: Self::MIN_BRAIN_FRACTION,
            tumour_min_voxels: Self::TUMOUR_MIN_VOXELS,
            z_clip: 3.0,
        }
    }

    pub fn validate(&self) -> Result<()> {
        let problem = if !(8..=1024).contains(&self.image_size) {
            Some(format!("slice size {} is outside 8–1024", self.image_size))
        } else if !(0.0..=1.0).contains(&self.margin) {
            Some(format!("margin {} is outside 0–1", self.margin))
        } else if !(0.0..=1.0).contains(&self.min_brain_fraction) {
            Some(format!(
                "minimum brain fraction {} is outside 0–1",
                self.min_brain_fraction
            ))
        } else if !(self.z_clip > 0.0 && self.z_clip.is_finite()) {
            Some(format!("z clip {} must be positive", self.z_clip))
        } else if self.tumour_min_voxels == 0 {
            Some("the tumour voxel count must be at least 1".to_string())
        } else {
            None
        };
        problem.map_or(Ok(()), |p| Err(LranError::config(p)))
    }
}

/// What a brain model needs to slice a volume as its training did (stored in its model.json).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BrainInput {
    /// MRI contrasts as channels, in order (t1, t1ce, t2, flair).
    pub modalities: Vec<String>,
    pub slices: SliceConfig,
    /// The mask rule training forced on every case, if any (else each layout's own).
    pub mask_rule: Option<MaskRule>,
}

impl BrainInput {
    /// Whether an upload can feed this model: one file is one contrast, so only a model of one
    /// contrast scores an uploaded volume.
    pub fn takes_one_volume(&self) -> bool {
        self.modalities.len() == 1
    }
}

/// How the brain is told from the rest.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MaskRule {
    /// The case's mask volume (> 0 = brain).
    Given,
    /// Non-zero voxels of the first modality (skull-stripped scans).
    NonZero,
    /// Voxels above this fraction of the first modality's 99th percentile.
    Threshold(f32),
}

/// One subject: modalities on one grid, optional brain mask and tumour segmentation.
#[derive(Debug, Clone)]
pub struct BrainCase {
    pub name: String,
    /// The model's channels, in order (e.g. T1, or T1 + T2 + FLAIR).
    pub modalities: Vec<Volume>,
    pub mask: Option<Volume>,
    pub segmentation: Option<Volume>,
}

/// What a kept slice is for evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SliceLabel {
    /// No segmentation was given.
    Unlabelled,
    Healthy,
    Tumour,
    /// Some tumour voxels, fewer than the threshold: left out of AUCs, counted in reports.
    Excluded,
}

/// A kept slice as the model sees it.
#[derive(Debug, Clone)]
pub struct BrainSlice {
    /// Axial index in the canonical (inferior → superior) volume.
    pub index: usize,
    /// `channels × size × size`, in [−1, 1].
    pub input: Vec<f32>,
    /// `size × size`: brain (true) at model resolution.
    pub brain: Vec<bool>,
    /// `size × size`: tumour at model resolution (all false without a segmentation).
    pub tumour: Vec<bool>,
    /// Brain voxels in the original slice.
    pub brain_voxels: usize,
    /// Tumour voxels in the original slice.
    pub tumour_voxels: usize,
    pub label: SliceLabel,
    /// Height in the brain: 0 at the case's lowest kept slice, 1 at its highest. Kept slices
    /// cover the same anatomy in every case (brain area at least `min_brain_fraction` of the
    /// largest), so slices at one relative height are comparable across subjects and scanners.
    pub relative_height: f32,
    /// This slice's brain area as a fraction of the case's largest.
    pub brain_fraction: f32,
}

impl BrainSlice {
    /// Mean model input inside the brain (first channel): the slice's brightness after
    /// normalisation.
    pub fn mean_intensity(&self) -> f32 {
        let size = self.brain.len();
        let (sum, count) = self.input[..size]
            .iter()
            .zip(&self.brain)
            .filter(|(_, b)| **b)
            .fold((0.0f64, 0usize), |(s, c), (v, _)| (s + *v as f64, c + 1));
        if count == 0 {
            -1.0
        } else {
            (sum / count as f64) as f32
        }
    }
}

/// A case cut into slices, with what the report needs to say about it.
#[derive(Debug, Clone)]
pub struct SlicedCase {
    pub name: String,
    pub channels: usize,
    pub size: usize,
    /// Axial slices in the volume.
    pub total_slices: usize,
    pub slices: Vec<BrainSlice>,
    /// Voxels in the brain mask.
    pub brain_voxels: usize,
    /// Per modality: mean and standard deviation inside the brain.
    pub brain_mean_std: Vec<(f32, f32)>,
    /// The crop in slice pixels (radiological image coordinates): top, left, height, width.
    pub crop: [f32; 4],
}

impl SlicedCase {
    pub fn count(&self, label: SliceLabel) -> usize {
        self.slices.iter().filter(|s| s.label == label).count()
    }
}

/// How far (mm, per affine entry) a case's mask, segmentation or other modality may sit from its
/// first image and still count as the same voxel grid: headers written by different tools
/// round the affine differently; a file registered elsewhere is off by whole voxels or more.
pub const AFFINE_TOLERANCE_MM: f64 = 0.5;

/// Fewest axial slices an uploaded volume may have: fewer is an image or a thin slab, not a
/// brain volume.
pub const MIN_UPLOAD_SLICES: usize = 8;

/// Largest fraction of an upload's voxels that may be non-zero when its brain is told from the
/// background by non-zero voxels: above it there is no background to tell (not a skull-stripped
/// scan, or not an MRI at all), and every voxel would count as brain.
pub const MAX_NONZERO_FRACTION: f64 = 0.95;

/// Slices a NIfTI volume a visitor uploads as the model's training sliced its data (`input`, from
/// its model.json). Uploads have no mask or segmentation: the brain is told from the background
/// by the rule training forced, or else by non-zero voxels (what the trainer does for scans
/// without a mask file). Refuses, naming the file, what a brain model cannot score: a model of
/// several contrasts, 4D series, images or thin slabs, volumes without a background, volumes
/// without a slice holding enough brain.
pub fn slice_upload(name: &str, bytes: &[u8], input: &BrainInput) -> Result<SlicedCase> {
    open_upload(name, bytes, input).map(|upload| upload.sliced)
}

/// An uploaded volume, its brain mask and its slices: what the page keeps to put the slices'
/// residuals back into the volume's grid ([`anomaly_map`]).
#[derive(Debug, Clone)]
pub struct UploadedCase {
    /// The volume as read (canonical RAS order, the file's affine).
    pub volume: Volume,
    /// Per voxel of `volume`: brain, by the rule the slices were cut with.
    pub brain: Vec<bool>,
    pub sliced: SlicedCase,
}

/// [`slice_upload`], keeping the volume and its brain mask.
pub fn open_upload(name: &str, bytes: &[u8], input: &BrainInput) -> Result<UploadedCase> {
    if !input.takes_one_volume() {
        return Err(LranError::data(
            name,
            format!(
                "this model takes {} contrasts as channels ({}); one uploaded volume holds one",
                input.modalities.len(),
                input.modalities.join(", ")
            ),
        ));
    }
    let volume =
        crate::data::nifti::read_nifti(name, bytes, crate::data::nifti::VolumeChoice::OnlyVolume)?;
    let [nx, ny, nz] = volume.dims;
    if volume.axial_count() < MIN_UPLOAD_SLICES {
        return Err(LranError::data(
            name,
            format!(
                "{nx}×{ny}×{nz} voxels: {} axial slice(s) is an image, not a brain volume (at least {MIN_UPLOAD_SLICES} needed)",
                volume.axial_count()
            ),
        ));
    }
    // Uploads carry no mask file: a model trained on given masks sees non-zero voxels.
    let rule = match input.mask_rule {
        None | Some(MaskRule::Given) => MaskRule::NonZero,
        Some(rule) => rule,
    };
    if rule == MaskRule::NonZero {
        let nonzero = volume.data.iter().filter(|&&v| v != 0.0).count();
        if nonzero as f64 > MAX_NONZERO_FRACTION * volume.voxels() as f64 {
            return Err(LranError::data(
                name,
                format!(
                    "{:.0} % of the voxels are non-zero: there is no background to tell the brain from (this model needs a skull-stripped brain MRI with a zero background)",
                    100.0 * nonzero as f64 / volume.voxels() as f64
                ),
            ));
        }
    }
    let mut case = BrainCase {
        name: name.to_string(),
        modalities: vec![volume],
        mask: None,
        segmentation: None,
    };
    let (sliced, brain) = slice_case_keeping_mask(&case, rule, &input.slices)?;
    if sliced.slices.is_empty() {
        return Err(LranError::data(
            name,
            "no axial slice holds enough brain to score (is this a brain MRI?)",
        ));
    }
    let volume = case.modalities.pop().expect("the one uploaded volume");
    Ok(UploadedCase {
        volume,
        brain,
        sliced,
    })
}

/// Index into a canonical volume of `dims` of the pixel at `row`, `column` of axial slice `z`
/// in the radiological view: row 0 is the most anterior, column 0 the patient's rightmost voxel.
pub(crate) fn radiological_index(dims: [usize; 3], z: usize, row: usize, column: usize) -> usize {
    let [nx, ny, _] = dims;
    (nx - 1 - column) + nx * (ny - 1 - row) + nx * ny * z
}

/// Per voxel of the case's first modality: brain, by `rule`.
fn brain_mask(case: &BrainCase, first: &Volume, rule: MaskRule) -> Result<Vec<bool>> {
    Ok(match rule {
        MaskRule::Given => {
            let mask = case.mask.as_ref().ok_or_else(|| {
                LranError::data(
                    &case.name,
                    "the mask rule is 'given' but the case has no mask file",
                )
            })?;
            mask.data.iter().map(|&v| v > 0.0).collect()
        }
        MaskRule::NonZero => first.data.iter().map(|&v| v != 0.0).collect(),
        MaskRule::Threshold(fraction) => {
            let mut sorted = first.data.clone();
            sorted.sort_by(f32::total_cmp);
            let p99 = sorted[((sorted.len() - 1) as f64 * 0.99) as usize];
            let cut = fraction * p99;
            first.data.iter().map(|&v| v > cut).collect()
        }
    })
}

/// Cuts a case into labelled model-sized slices.
pub fn slice_case(case: &BrainCase, rule: MaskRule, config: &SliceConfig) -> Result<SlicedCase> {
    slice_case_keeping_mask(case, rule, config).map(|(sliced, _)| sliced)
}

/// [`slice_case`], also returning the brain mask (per voxel of the first modality).
fn slice_case_keeping_mask(
    case: &BrainCase,
    rule: MaskRule,
    config: &SliceConfig,
) -> Result<(SlicedCase, Vec<bool>)> {
    config.validate()?;
    let first = case
        .modalities
        .first()
        .ok_or_else(|| LranError::data(&case.name, "no image volume (modality) was given"))?;
    let dims = first.dims;
    // Implausible voxel sizes would overflow the crop arithmetic (the NIfTI reader refuses them).
    if first.spacing.iter().any(|&s| !(1e-3..=1e3).contains(&s)) {
        return Err(LranError::data(
            &first.name,
            format!(
                "voxel sizes {:?} mm are outside 0.001–1000 mm",
                first.spacing
            ),
        ));
    }
    let check_grid = |volume: &Volume, role: &str| -> Result<()> {
        if volume.dims != dims {
            return Err(LranError::data(
                &volume.name,
                format!(
                    "the {role} is {}×{}×{} but the image {} is {}×{}×{}: they must share one voxel grid",
                    volume.dims[0],
                    volume.dims[1],
                    volume.dims[2],
                    first.name,
                    dims[0],
                    dims[1],
                    dims[2]
                ),
            ));
        }
        if !volume.placed_like(first, AFFINE_TOLERANCE_MM) {
            return Err(LranError::data(
                &volume.name,
                format!(
                    "the {role}'s affine places it elsewhere than the image {} (not registered to it)",
                    first.name
                ),
            ));
        }
        Ok(())
    };
    for modality in &case.modalities[1..] {
        check_grid(modality, "modality")?;
    }
    if let Some(mask) = &case.mask {
        check_grid(mask, "brain mask")?;
    }
    if let Some(segmentation) = &case.segmentation {
        check_grid(segmentation, "segmentation")?;
    }

    let brain = brain_mask(case, first, rule)?;
    let brain_voxels = brain.iter().filter(|&&b| b).count();
    if brain_voxels == 0 {
        return Err(LranError::data(
            &case.name,
            "the brain mask is empty (no brain voxels)",
        ));
    }
    let mut exact_mean_std = Vec::new();
    for modality in &case.modalities {
        let (mut sum, mut sum_sq) = (0.0f64, 0.0f64);
        for (&v, &b) in modality.data.iter().zip(&brain) {
            if b {
                sum += v as f64;
                sum_sq += (v as f64) * (v as f64);
            }
        }
        let mean = sum / brain_voxels as f64;
        let std = (sum_sq / brain_voxels as f64 - mean * mean).max(0.0).sqrt();
        if !std.is_finite() || std <= 1e-6 * mean.abs().max(1.0) {
            return Err(LranError::data(
                &modality.name,
                "the intensity is constant inside the brain: nothing to normalise",
            ));
        }
        exact_mean_std.push((mean, std));
    }
    let brain_mean_std = exact_mean_std
        .iter()
        .map(|&(m, s)| (m as f32, s as f32))
        .collect();

    // Slice images in radiological orientation: rows = ny (anterior first), columns = nx.
    let [nx, ny, nz] = dims;
    let plane = nx * ny;
    let radiological =
        |z: usize, row: usize, column: usize| radiological_index(dims, z, row, column);
    let areas: Vec<usize> = (0..nz)
        .map(|z| {
            brain[z * plane..(z + 1) * plane]
                .iter()
                .filter(|&&b| b)
                .count()
        })
        .collect();
    let largest = *areas.iter().max().expect("at least one slice");
    let kept: Vec<usize> = (0..nz)
        .filter(|&z| areas[z] > 0 && areas[z] as f32 >= config.min_brain_fraction * largest as f32)
        .collect();

    // One crop for the case: the brain's bounding box over the kept slices.
    let (mut top, mut left, mut bottom, mut right) = (ny, nx, 0, 0);
    for &z in &kept {
        for row in 0..ny {
            for column in 0..nx {
                if brain[radiological(z, row, column)] {
                    top = top.min(row);
                    bottom = bottom.max(row);
                    left = left.min(column);
                    right = right.max(column);
                }
            }
        }
    }
    let [sx, sy, _] = first.spacing;
    let height_mm = (bottom + 1 - top) as f32 * sy;
    let width_mm = (right + 1 - left) as f32 * sx;
    let side_mm = height_mm.max(width_mm) * (1.0 + 2.0 * config.margin);
    let (centre_row, centre_column) = (
        (top + bottom + 1) as f32 / 2.0,
        (left + right + 1) as f32 / 2.0,
    );
    let (crop_height, crop_width) = (side_mm / sy, side_mm / sx);
    let crop = [
        centre_row - crop_height / 2.0,
        centre_column - crop_width / 2.0,
        crop_height,
        crop_width,
    ];

    let size = config.image_size;
    let (lowest, highest) = (
        kept.first().copied().unwrap_or(0),
        kept.last().copied().unwrap_or(0),
    );
    let relative_height = |z: usize| -> f32 {
        if highest > lowest {
            (z - lowest) as f32 / (highest - lowest) as f32
        } else {
            0.5
        }
    };
    let mut slices = Vec::with_capacity(kept.len());
    for &z in &kept {
        let mut input = Vec::with_capacity(size * size * case.modalities.len());
        for (modality, &(mean, std)) in case.modalities.iter().zip(&exact_mean_std) {
            // In f64: scans with extreme values must not overflow into NaN.
            let scale = std * config.z_clip as f64;
            let image: Vec<f32> = (0..plane)
                .map(|i| {
                    let (row, column) = (i / nx, i % nx);
                    let at = radiological(z, row, column);
                    if brain[at] {
                        ((modality.data[at] as f64 - mean) / scale).clamp(-1.0, 1.0) as f32
                    } else {
                        -1.0
                    }
                })
                .collect();
            // Clamped again: bilinear weights can round a hair past ±1.
            input.extend(
                resample(&image, nx, ny, crop, size, -1.0)
                    .into_iter()
                    .map(|v| v.clamp(-1.0, 1.0)),
            );
        }
        let brain_plane: Vec<f32> = (0..plane)
            .map(|i| {
                if brain[radiological(z, i / nx, i % nx)] {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        let brain_small: Vec<bool> = resample(&brain_plane, nx, ny, crop, size, 0.0)
            .into_iter()
            .map(|v| v >= 0.5)
            .collect();
        let (tumour, tumour_voxels, label) = match &case.segmentation {
            None => (vec![false; size * size], 0, SliceLabel::Unlabelled),
            Some(segmentation) => {
                let tumour_plane: Vec<f32> = (0..plane)
                    .map(|i| {
                        if segmentation.data[radiological(z, i / nx, i % nx)] > 0.0 {
                            1.0
                        } else {
                            0.0
                        }
                    })
                    .collect();
                let voxels = tumour_plane.iter().filter(|&&v| v > 0.0).count();
                let label = if voxels == 0 {
                    SliceLabel::Healthy
                } else if voxels >= config.tumour_min_voxels {
                    SliceLabel::Tumour
                } else {
                    SliceLabel::Excluded
                };
                let small = resample(&tumour_plane, nx, ny, crop, size, 0.0)
                    .into_iter()
                    .map(|v| v >= 0.5)
                    .collect();
                (small, voxels, label)
            }
        };
        slices.push(BrainSlice {
            index: z,
            input,
            brain: brain_small,
            tumour,
            brain_voxels: areas[z],
            tumour_voxels,
            label,
            relative_height: relative_height(z),
            brain_fraction: areas[z] as f32 / largest as f32,
        });
    }
    let sliced = SlicedCase {
        name: case.name.clone(),
        channels: case.modalities.len(),
        size,
        total_slices: nz,
        slices,
        brain_voxels,
        brain_mean_std,
        crop,
    };
    Ok((sliced, brain))
}

/// Axial slice `z` of `volume` (canonical, inferior → superior), kept where `mask` is positive
/// when given, as an 8-bit picture (`width × height`, row-major) in the page's radiological
/// view — patient's right on the left, anterior up — scaled so the volume's 99.5th percentile
/// of positive values is white, as a viewer's screenshot would be.
pub fn axial_picture(volume: &Volume, mask: Option<&Volume>, z: usize) -> (Vec<u8>, usize, usize) {
    let [nx, ny, nz] = volume.dims;
    let z = z.min(nz.saturating_sub(1));
    let mut positive: Vec<f32> = volume.data.iter().copied().filter(|v| *v > 0.0).collect();
    positive.sort_by(f32::total_cmp);
    let white = positive
        .get((positive.len() as f64 * 0.995) as usize)
        .copied()
        .unwrap_or(1.0)
        .max(f32::MIN_POSITIVE);
    let mut pixels = Vec::with_capacity(nx * ny);
    for row in 0..ny {
        for column in 0..nx {
            let at = radiological_index(volume.dims, z, row, column);
            let kept = mask.is_none_or(|m| m.data.get(at).is_some_and(|&v| v > 0.0));
            let value = if kept {
                volume.data[at] / white * 255.0
            } else {
                0.0
            };
            pixels.push(value.round().clamp(0.0, 255.0) as u8);
        }
    }
    (pixels, nx, ny)
}

/// Tumour voxels per axial slice (inferior → superior) of a segmentation, whatever the mask.
pub fn tumour_voxels_per_slice(segmentation: &Volume) -> Vec<usize> {
    let plane = segmentation.dims[0] * segmentation.dims[1];
    segmentation
        .data
        .chunks(plane)
        .map(|s| s.iter().filter(|&&v| v > 0.0).count())
        .collect()
}
