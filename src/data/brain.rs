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
    if input.modalities.len() != 1 {
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
    let case = BrainCase {
        name: name.to_string(),
        modalities: vec![volume],
        mask: None,
        segmentation: None,
    };
    let sliced = slice_case(&case, rule, &input.slices)?;
    if sliced.slices.is_empty() {
        return Err(LranError::data(
            name,
            "no axial slice holds enough brain to score (is this a brain MRI?)",
        ));
    }
    Ok(sliced)
}

/// Cuts a case into labelled model-sized slices.
pub fn slice_case(case: &BrainCase, rule: MaskRule, config: &SliceConfig) -> Result<SlicedCase> {
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

    let brain: Vec<bool> = match rule {
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
    };
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
    let radiological = |z: usize, row: usize, column: usize| -> usize {
        (nx - 1 - column) + nx * (ny - 1 - row) + plane * z
    };
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
    Ok(SlicedCase {
        name: case.name.clone(),
        channels: case.modalities.len(),
        size,
        total_slices: nz,
        slices,
        brain_voxels,
        brain_mean_std,
        crop,
    })
}

/// A 2D image a visitor drops on a brain model, prepared as training prepared its slices.
#[derive(Debug, Clone)]
pub struct ImageSlice {
    /// `size × size` in [−1, 1].
    pub input: Vec<f32>,
    /// `size × size`: brain at model resolution.
    pub brain: Vec<bool>,
    /// Why the image may not be what the model was trained on (empty: it looks like one).
    pub warnings: Vec<String>,
}

/// Background must surround at least this share of a slice image: less, and there is no
/// background to tell the brain from.
pub const MIN_BACKGROUND_FRACTION: f64 = 0.05;

/// Largest drop of the mean intensity of a pixel layer below the brightest layer outside it, as
/// a fraction, over the outer eighth of the picture's object: a skull-stripped slice brightens
/// inwards (IXI's masked slices and BraTS: drops of a few percent), a head with its skull has
/// bright scalp over dark bone (IXI's unmasked slices: drops of 40–75 %).
pub const MAX_RIM_DIP: f64 = 0.25;

/// Largest share of brain pixels saturated at +z_clip: training's skull-stripped slices hold a
/// fraction of a percent; bright skull, fat or burnt-in text push it up.
pub const MAX_SATURATED_FRACTION: f64 = 0.02;

/// Prepares a grayscale image (`width × height`, row-major, radiological view as the page
/// shows slices) as the slice pipeline prepares a volume's slices: the brain told from the
/// background (pixels above 5 % of the 99th percentile, holes filled, the largest connected
/// part), z-scored inside it and clipped as `config` says, −1 outside, cropped to its box
/// with the margin, squared and resized with area averaging. A single slice is normalised by
/// its own brain's statistics, a volume by its whole brain's. The warnings say when the image
/// does not look like a skull-stripped axial slice.
pub fn slice_image(
    name: &str,
    gray: &[u8],
    width: usize,
    height: usize,
    config: &SliceConfig,
) -> Result<ImageSlice> {
    config.validate()?;
    if width == 0 || height == 0 || gray.len() != width * height {
        return Err(LranError::data(
            name,
            format!("{} pixels are not a {width}×{height} image", gray.len()),
        ));
    }
    let pixels = width * height;
    let mut sorted = gray.to_vec();
    sorted.sort_unstable();
    let p99 = sorted[((pixels - 1) as f64 * 0.99) as usize];
    if p99 == 0 {
        return Err(LranError::data(
            name,
            "the image is black: no brain to score",
        ));
    }
    let cut = (p99 as f32 * 0.05).max(1.0);
    // Background: dark pixels connected to the border; everything else is brain (ventricles
    // and sulci inside it included).
    let mut background = vec![false; pixels];
    let mut stack: Vec<usize> = (0..width)
        .flat_map(|x| [x, (height - 1) * width + x])
        .chain((0..height).flat_map(|y| [y * width, y * width + width - 1]))
        .filter(|&i| (gray[i] as f32) < cut)
        .collect();
    while let Some(i) = stack.pop() {
        if background[i] {
            continue;
        }
        background[i] = true;
        let (x, y) = (i % width, i / width);
        let mut visit = |j: usize| {
            if !background[j] && (gray[j] as f32) < cut {
                stack.push(j);
            }
        };
        if x > 0 {
            visit(i - 1);
        }
        if x + 1 < width {
            visit(i + 1);
        }
        if y > 0 {
            visit(i - width);
        }
        if y + 1 < height {
            visit(i + width);
        }
    }
    let brain = largest_component(
        &background.iter().map(|b| !b).collect::<Vec<_>>(),
        width,
        height,
    );
    let brain_pixels = brain.iter().filter(|&&b| b).count();
    if brain_pixels < 16 {
        return Err(LranError::data(
            name,
            "no brain found: nothing stands out from the background",
        ));
    }
    let mut warnings = Vec::new();
    let background_fraction = background.iter().filter(|&&b| b).count() as f64 / pixels as f64;
    if background_fraction < MIN_BACKGROUND_FRACTION {
        warnings.push(format!(
            "no background around the picture ({:.0} % of it is dark border): this model expects a skull-stripped axial slice on a black background",
            100.0 * background_fraction
        ));
    }
    // Skull and scalp: peel the object one pixel layer at a time over its outer eighth. A
    // skull-stripped brain brightens inwards (cortex, then white matter); a head has bright
    // scalp, then dark bone, then the brain.
    let (top, left, bottom, right) = bounding_box(&brain, width, height);
    let side = (bottom + 1 - top).max(right + 1 - left);
    let mut layer = brain.clone();
    let (mut brightest, mut dip) = (0.0f64, 0.0f64);
    for _ in 0..(side / 8).max(4) {
        let inner = erode(&layer, width, height, 1);
        let (sum, count) = (0..pixels)
            .filter(|&i| layer[i] && !inner[i])
            .fold((0.0f64, 0usize), |(s, c), i| (s + gray[i] as f64, c + 1));
        if count == 0 {
            break;
        }
        let mean = sum / count as f64;
        if brightest > 0.0 {
            dip = dip.max((brightest - mean) / brightest);
        }
        brightest = brightest.max(mean);
        layer = inner;
    }
    if dip > MAX_RIM_DIP {
        warnings.push(format!(
            "a bright ring around a dark band at the edge (the intensity drops by {:.0} % just inside the outline): skull and scalp? This model expects a skull-stripped slice",
            100.0 * dip
        ));
    }
    // z-scores inside the brain, as the volume pipeline's.
    let (sum, sum_sq) = (0..pixels)
        .filter(|&i| brain[i])
        .fold((0.0f64, 0.0f64), |(s, q), i| {
            let v = gray[i] as f64;
            (s + v, q + v * v)
        });
    let mean = sum / brain_pixels as f64;
    let std = (sum_sq / brain_pixels as f64 - mean * mean).max(0.0).sqrt();
    if std < 1e-6 {
        return Err(LranError::data(
            name,
            "the brain's intensity is constant: nothing to normalise",
        ));
    }
    let scale = std * config.z_clip as f64;
    let saturated = (0..pixels)
        .filter(|&i| brain[i] && (gray[i] as f64 - mean) / scale >= 1.0)
        .count() as f64
        / brain_pixels as f64;
    if saturated > MAX_SATURATED_FRACTION {
        warnings.push(format!(
            "intensities unlike training's: {:.1} % of the brain is brighter than {} standard deviations above its mean (training's slices: a fraction of a percent)",
            100.0 * saturated,
            config.z_clip
        ));
    }
    let image: Vec<f32> = (0..pixels)
        .map(|i| {
            if brain[i] {
                ((gray[i] as f64 - mean) / scale).clamp(-1.0, 1.0) as f32
            } else {
                -1.0
            }
        })
        .collect();
    let side = side as f32 * (1.0 + 2.0 * config.margin);
    let crop = [
        (top + bottom + 1) as f32 / 2.0 - side / 2.0,
        (left + right + 1) as f32 / 2.0 - side / 2.0,
        side,
        side,
    ];
    let size = config.image_size;
    let input = resample(&image, width, height, crop, size, -1.0)
        .into_iter()
        .map(|v| v.clamp(-1.0, 1.0))
        .collect();
    let plane: Vec<f32> = brain.iter().map(|&b| b as u8 as f32).collect();
    let brain_small = resample(&plane, width, height, crop, size, 0.0)
        .into_iter()
        .map(|v| v >= 0.5)
        .collect();
    Ok(ImageSlice {
        input,
        brain: brain_small,
        warnings,
    })
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
            let at = (nx - 1 - column) + nx * (ny - 1 - row) + nx * ny * z;
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

/// The largest 4-connected part of `mask`.
fn largest_component(mask: &[bool], width: usize, height: usize) -> Vec<bool> {
    let mut label = vec![0u32; mask.len()];
    let (mut best, mut best_size, mut next) = (0u32, 0usize, 0u32);
    for start in 0..mask.len() {
        if !mask[start] || label[start] != 0 {
            continue;
        }
        next += 1;
        let mut size = 0;
        let mut stack = vec![start];
        label[start] = next;
        while let Some(i) = stack.pop() {
            size += 1;
            let (x, y) = (i % width, i / width);
            let neighbours = [
                (x > 0).then(|| i - 1),
                (x + 1 < width).then(|| i + 1),
                (y > 0).then(|| i - width),
                (y + 1 < height).then(|| i + width),
            ];
            for j in neighbours.into_iter().flatten() {
                if mask[j] && label[j] == 0 {
                    label[j] = next;
                    stack.push(j);
                }
            }
        }
        if size > best_size {
            (best, best_size) = (next, size);
        }
    }
    label.iter().map(|&l| l == best && best != 0).collect()
}

/// `mask` shrunk by `steps` pixels (4-neighbour erosion; the image border counts as outside).
fn erode(mask: &[bool], width: usize, height: usize, steps: usize) -> Vec<bool> {
    let mut current = mask.to_vec();
    for _ in 0..steps {
        let previous = current.clone();
        for (i, value) in current.iter_mut().enumerate() {
            if !*value {
                continue;
            }
            let (x, y) = (i % width, i / width);
            *value = x > 0
                && x + 1 < width
                && y > 0
                && y + 1 < height
                && previous[i - 1]
                && previous[i + 1]
                && previous[i - width]
                && previous[i + width];
        }
    }
    current
}

/// Top, left, bottom, right (inclusive) of the true pixels of a non-empty mask.
fn bounding_box(mask: &[bool], width: usize, height: usize) -> (usize, usize, usize, usize) {
    let (mut top, mut left, mut bottom, mut right) = (height, width, 0, 0);
    for (i, _) in mask.iter().enumerate().filter(|(_, b)| **b) {
        let (x, y) = (i % width, i / width);
        top = top.min(y);
        bottom = bottom.max(y);
        left = left.min(x);
        right = right.max(x);
    }
    (top, left, bottom, right)
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

/// Resamples the window `crop` = [top, left, height, width] (pixels, may reach outside the
/// image, where `outside` is used) of a `width × height` image to `size × size`, averaging
/// `k × k` bilinear samples per output pixel (k = the shrink factor, rounded up) so that
/// shrinking does not alias.
fn resample(
    image: &[f32],
    width: usize,
    height: usize,
    crop: [f32; 4],
    size: usize,
    outside: f32,
) -> Vec<f32> {
    let [top, left, crop_height, crop_width] = crop;
    let (step_row, step_column) = (crop_height / size as f32, crop_width / size as f32);
    let k = step_row.max(step_column).ceil().clamp(1.0, 8.0) as usize;
    let sample = |row: f32, column: f32| -> f32 {
        // Pixel centres sit at integer + 0.5.
        let (r, c) = (row - 0.5, column - 0.5);
        let (r0, c0) = (r.floor(), c.floor());
        let (fr, fc) = (r - r0, c - c0);
        let at = |rr: f32, cc: f32| -> f32 {
            if rr < 0.0 || cc < 0.0 || rr >= height as f32 || cc >= width as f32 {
                outside
            } else {
                image[rr as usize * width + cc as usize]
            }
        };
        let top_mix = at(r0, c0) * (1.0 - fc) + at(r0, c0 + 1.0) * fc;
        let bottom_mix = at(r0 + 1.0, c0) * (1.0 - fc) + at(r0 + 1.0, c0 + 1.0) * fc;
        top_mix * (1.0 - fr) + bottom_mix * fr
    };
    let mut out = Vec::with_capacity(size * size);
    for row in 0..size {
        for column in 0..size {
            let mut sum = 0.0;
            for i in 0..k {
                for j in 0..k {
                    let r = top + (row as f32 + (i as f32 + 0.5) / k as f32) * step_row;
                    let c = left + (column as f32 + (j as f32 + 0.5) / k as f32) * step_column;
                    sum += sample(r, c);
                }
            }
            out.push(sum / (k * k) as f32);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::volume::orientation_of;

    /// An ellipsoidal "brain" of intensity 100 + x in a 40×48×30 grid, with a tumour ball.
    fn phantom(tumour: bool) -> BrainCase {
        let dims = [40, 48, 30];
        let affine = [
            [1.0, 0.0, 0.0, 0.0],
            [0.0, 1.0, 0.0, 0.0],
            [0.0, 0.0, 1.0, 0.0],
            [0.0, 0.0, 0.0, 1.0],
        ];
        let inside = |x: usize, y: usize, z: usize| {
            let (dx, dy, dz) = (
                (x as f32 - 20.0) / 15.0,
                (y as f32 - 24.0) / 20.0,
                (z as f32 - 15.0) / 12.0,
            );
            dx * dx + dy * dy + dz * dz <= 1.0
        };
        let mut image = Vec::new();
        let mut seg = Vec::new();
        for z in 0..dims[2] {
            for y in 0..dims[1] {
                for x in 0..dims[0] {
                    image.push(if inside(x, y, z) {
                        100.0 + x as f32
                    } else {
                        0.0
                    });
                    let (dx, dy, dz) = (x as f32 - 25.0, y as f32 - 30.0, z as f32 - 15.0);
                    seg.push(if tumour && dx * dx + dy * dy + dz * dz <= 9.0 {
                        1.0
                    } else {
                        0.0
                    });
                }
            }
        }
        let orientation = orientation_of(&affine).unwrap();
        let volume = |name: &str, data: Vec<f32>| {
            Volume::from_file_order(
                name,
                dims,
                data,
                affine,
                orientation,
                "f32".into(),
                dims.to_vec(),
                None,
            )
        };
        BrainCase {
            name: "phantom".into(),
            modalities: vec![volume("t1", image)],
            mask: None,
            segmentation: Some(volume("seg", seg)),
        }
    }

    #[test]
    fn slices_are_normalised_cropped_and_labelled() {
        let case = phantom(true);
        let config = SliceConfig::new(32);
        let sliced = slice_case(&case, MaskRule::NonZero, &config).unwrap();
        assert_eq!(sliced.total_slices, 30);
        // The kept slices are the central ones, where the brain area is at least a quarter of
        // the largest (|dz| ≤ 12·√0.75 ≈ 10.4).
        let indices: Vec<usize> = sliced.slices.iter().map(|s| s.index).collect();
        assert_eq!(indices, (5..=25).collect::<Vec<_>>());
        for slice in &sliced.slices {
            assert_eq!(slice.input.len(), 32 * 32);
            assert!(slice.input.iter().all(|v| (-1.0..=1.0).contains(v)));
        }
        // z-scores inside the brain: the brain's mean maps to about 0 in the model range.
        let middle = &sliced.slices[10];
        let inside: Vec<f32> = middle
            .input
            .iter()
            .zip(&middle.brain)
            .filter(|(_, b)| **b)
            .map(|(v, _)| *v)
            .collect();
        let mean = inside.iter().sum::<f32>() / inside.len() as f32;
        assert!(mean.abs() < 0.1, "mean {mean}");
        // The crop fills the square along the brain's longer (front–back, 41 voxels) axis, with
        // the 5% margin, and keeps its aspect: 31 voxels left–right become about 22 pixels.
        let column = 16;
        let top = (0..32).position(|r| middle.brain[r * 32 + column]).unwrap();
        let bottom = (0..32)
            .rposition(|r| middle.brain[r * 32 + column])
            .unwrap();
        assert!(top <= 3 && bottom >= 28, "{top}..{bottom}");
        let row = 16;
        let left = (0..32).position(|c| middle.brain[row * 32 + c]).unwrap();
        let right = (0..32).rposition(|c| middle.brain[row * 32 + c]).unwrap();
        assert!((20..=24).contains(&(right + 1 - left)), "{left}..{right}");
        // Tumour ball of radius 3 around z = 15: slices 12..=18 have voxels.
        let tumour: Vec<(usize, usize)> = sliced
            .slices
            .iter()
            .filter(|s| s.tumour_voxels > 0)
            .map(|s| (s.index, s.tumour_voxels))
            .collect();
        assert_eq!(
            tumour.iter().map(|t| t.0).collect::<Vec<_>>(),
            (12..=18).collect::<Vec<_>>()
        );
        for slice in &sliced.slices {
            let expected = match slice.tumour_voxels {
                0 => SliceLabel::Healthy,
                n if n >= 10 => SliceLabel::Tumour,
                _ => SliceLabel::Excluded,
            };
            assert_eq!(slice.label, expected);
        }
        // Slices 12 and 18 hold a single voxel: excluded.
        assert_eq!(sliced.count(SliceLabel::Excluded), 2);
        assert_eq!(sliced.count(SliceLabel::Tumour), 5);
        // Radiological orientation: the tumour lies right of centre in the patient (x = 25 > 20),
        // so on the image's left half, and anterior (y = 30 > 24), so in the top half.
        let tumour_slice = sliced.slices.iter().find(|s| s.index == 15).unwrap();
        let pixels: Vec<usize> = (0..32 * 32).filter(|&i| tumour_slice.tumour[i]).collect();
        assert!(!pixels.is_empty());
        let mean_column = pixels.iter().map(|i| i % 32).sum::<usize>() as f32 / pixels.len() as f32;
        let mean_row = pixels.iter().map(|i| i / 32).sum::<usize>() as f32 / pixels.len() as f32;
        assert!(
            mean_column < 16.0 && mean_row < 16.0,
            "row {mean_row} column {mean_column}"
        );
    }

    #[test]
    fn mismatched_and_empty_inputs_are_refused() {
        let mut case = phantom(true);
        let seg = case.segmentation.take().unwrap();
        let mut small = seg.clone();
        small.dims = [20, 48, 30];
        small.data.truncate(20 * 48 * 30);
        small.name = "seg-small".into();
        case.segmentation = Some(small);
        let message = slice_case(&case, MaskRule::NonZero, &SliceConfig::new(32))
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("seg-small") && message.contains("20×48×30"),
            "{message}"
        );
        let mut case = phantom(false);
        let mut empty = case.modalities[0].clone();
        empty.data.iter_mut().for_each(|v| *v = 0.0);
        empty.name = "empty-mask".into();
        case.mask = Some(empty);
        let message = slice_case(&case, MaskRule::Given, &SliceConfig::new(32))
            .unwrap_err()
            .to_string();
        assert!(message.contains("mask is empty"), "{message}");
        let case = phantom(false);
        assert!(
            slice_case(&case, MaskRule::Given, &SliceConfig::new(32))
                .unwrap_err()
                .to_string()
                .contains("no mask file")
        );
    }

    #[test]
    fn resampling_averages_and_pads() {
        let image = vec![1.0; 16];
        // A window twice the image, centred: the image fills the middle half.
        let out = resample(&image, 4, 4, [-2.0, -2.0, 8.0, 8.0], 4, -1.0);
        assert_eq!(out[0], -1.0);
        assert_eq!(out[5], 1.0);
        let checker: Vec<f32> = (0..64)
            .map(|i| if (i / 8 + i % 8) % 2 == 0 { 1.0 } else { 0.0 })
            .collect();
        let out = resample(&checker, 8, 8, [0.0, 0.0, 8.0, 8.0], 2, 0.0);
        assert!(out.iter().all(|v| (v - 0.5).abs() < 1e-6), "{out:?}");
    }
}
