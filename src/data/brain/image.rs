//! A single 2D slice image (PNG or JPEG dropped on a brain model), prepared as the pipeline
//! prepares a volume's slices, with warnings where it does not look like one.

use super::geometry::{bounding_box, erode, largest_component, resample};
use super::*;

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
