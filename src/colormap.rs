//! Turning model outputs into pixels for the page: images in the model's range as gray or RGB,
//! residuals as a heat map in matplotlib's *inferno*, a perceptually uniform colormap whose
//! lightness rises monotonically (so brighter always means a larger error, also in grayscale
//! print and for colour-blind readers).

use crate::error::{LranError, Result};

/// Residual |x − x̂| (model units, [−1, 1] images) drawn at full heat; larger values clip.
/// 1.0 is half the intensity range: a pixel that is fully wrong reads as the hottest colour.
pub const HEATMAP_MAX: f32 = 1.0;

/// *inferno* sampled at 33 evenly spaced points (matplotlib's table, rounded to u8); linear
/// interpolation between them stays within 5/255 of the full 256-entry table.
const INFERNO: [[u8; 3]; 33] = [
    [0, 0, 4],
    [4, 3, 18],
    [11, 7, 36],
    [21, 11, 55],
    [33, 12, 74],
    [47, 10, 91],
    [61, 9, 101],
    [74, 12, 107],
    [87, 16, 110],
    [100, 21, 110],
    [113, 25, 110],
    [125, 30, 109],
    [138, 34, 106],
    [151, 39, 102],
    [163, 44, 97],
    [176, 49, 91],
    [188, 55, 84],
    [199, 62, 76],
    [210, 70, 68],
    [219, 80, 59],
    [228, 90, 49],
    [235, 102, 40],
    [241, 115, 29],
    [246, 128, 19],
    [249, 142, 9],
    [251, 157, 7],
    [252, 172, 17],
    [251, 188, 33],
    [249, 203, 53],
    [245, 219, 76],
    [242, 234, 105],
    [243, 246, 138],
    [252, 255, 164],
];

/// The inferno colour of `t` in [0, 1] (clamped; NaN reads as 0).
pub fn inferno(t: f32) -> [u8; 3] {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let position = t * (INFERNO.len() - 1) as f32;
    let low = (position.floor() as usize).min(INFERNO.len() - 2);
    let fraction = position - low as f32;
    let (a, b) = (INFERNO[low], INFERNO[low + 1]);
    std::array::from_fn(|c| (a[c] as f32 + (b[c] as f32 - a[c] as f32) * fraction).round() as u8)
}

/// Values in [0, `max`] → RGBA pixels (row-major), opaque.
pub fn heatmap_rgba(values: &[f32], max: f32) -> Vec<u8> {
    let scale = if max > 0.0 && max.is_finite() {
        1.0 / max
    } else {
        1.0
    };
    values
        .iter()
        .flat_map(|&v| {
            let [r, g, b] = inferno(v * scale);
            [r, g, b, 255]
        })
        .collect()
}

/// A model-range image (`channels × size × size`, [−1, 1]) → RGBA pixels: one channel as gray,
/// three or more as RGB (extra channels are not shown), two as gray of the first.
pub fn image_rgba(values: &[f32], channels: usize, size: usize) -> Result<Vec<u8>> {
    let plane = size * size;
    if channels == 0 || plane == 0 || values.len() != channels * plane {
        return Err(LranError::data(
            "image",
            format!(
                "{} values are not a {channels}×{size}×{size} image",
                values.len()
            ),
        ));
    }
    let intensity =
        |v: f32| crate::preprocess::model_to_intensity(if v.is_nan() { -1.0 } else { v });
    Ok((0..plane)
        .flat_map(|i| {
            let [r, g, b] = if channels >= 3 {
                [0, 1, 2].map(|c| intensity(values[c * plane + i]))
            } else {
                [intensity(values[i]); 3]
            };
            [r, g, b, 255]
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lightness([r, g, b]: [u8; 3]) -> f32 {
        0.2126 * r as f32 + 0.7152 * g as f32 + 0.0722 * b as f32
    }

    #[test]
    fn inferno_runs_from_black_to_pale_yellow_with_rising_lightness() {
        assert_eq!(inferno(0.0), [0, 0, 4]);
        assert_eq!(inferno(1.0), [252, 255, 164]);
        assert_eq!(inferno(-3.0), inferno(0.0));
        assert_eq!(inferno(f32::NAN), inferno(0.0));
        assert_eq!(inferno(7.0), inferno(1.0));
        let mut previous = -1.0;
        for i in 0..=256 {
            let l = lightness(inferno(i as f32 / 256.0));
            assert!(
                l >= previous - 0.5,
                "lightness falls at {i}: {previous} → {l}"
            );
            previous = l;
        }
    }

    #[test]
    fn heatmaps_scale_by_their_maximum_and_clip() {
        let rgba = heatmap_rgba(&[0.0, 0.5, 1.0, 4.0], 1.0);
        assert_eq!(rgba.len(), 16);
        assert_eq!(&rgba[0..4], &[0, 0, 4, 255]);
        assert_eq!(&rgba[8..12], &rgba[12..16]);
        assert_eq!(heatmap_rgba(&[1.0], 2.0)[..3], inferno(0.5));
    }

    #[test]
    fn images_render_as_gray_or_rgb() {
        let gray = image_rgba(&[-1.0, 1.0, 0.0, f32::NAN], 1, 2).unwrap();
        assert_eq!(
            gray,
            vec![
                0, 0, 0, 255, 255, 255, 255, 255, 128, 128, 128, 255, 0, 0, 0, 255
            ]
        );
        let rgb = image_rgba(&[1.0, -1.0, -1.0], 3, 1).unwrap();
        assert_eq!(rgb, vec![255, 0, 0, 255]);
        assert!(image_rgba(&[0.0; 5], 1, 2).is_err());
    }
}
