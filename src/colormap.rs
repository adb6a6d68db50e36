//! Turning model outputs into pixels for the page: images in the model's range as gray or RGB,
//! residuals as a heat map. The heat maps on offer are matplotlib's *inferno* (the default) and
//! *viridis*, perceptually uniform colormaps whose lightness rises monotonically (so brighter
//! always means a larger error, also in grayscale print and for colour-blind readers), and
//! plain gray.

use serde::{Deserialize, Serialize};

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

/// *viridis* at nine evenly spaced points (after matplotlib's table, rounded to u8); linear
/// interpolation between them.
const VIRIDIS: [[u8; 3]; 9] = [
    [68, 1, 84],
    [71, 44, 122],
    [59, 81, 139],
    [44, 113, 142],
    [33, 144, 141],
    [39, 173, 129],
    [92, 200, 99],
    [170, 220, 50],
    [253, 231, 37],
];

const GRAY: [[u8; 3]; 2] = [[0, 0, 0], [255, 255, 255]];

/// `table` read at `t` in [0, 1] (clamped; NaN reads as 0) with linear interpolation.
fn sample(table: &[[u8; 3]], t: f32) -> [u8; 3] {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let position = t * (table.len() - 1) as f32;
    let low = (position.floor() as usize).min(table.len() - 2);
    let fraction = position - low as f32;
    let (a, b) = (table[low], table[low + 1]);
    std::array::from_fn(|c| (a[c] as f32 + (b[c] as f32 - a[c] as f32) * fraction).round() as u8)
}

/// The inferno colour of `t` in [0, 1] (clamped; NaN reads as 0).
pub fn inferno(t: f32) -> [u8; 3] {
    sample(&INFERNO, t)
}

/// The heat maps the page offers for residuals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Colormap {
    Inferno,
    Viridis,
    Gray,
}

impl Colormap {
    pub const ALL: [Colormap; 3] = [Colormap::Inferno, Colormap::Viridis, Colormap::Gray];

    pub fn name(self) -> &'static str {
        match self {
            Colormap::Inferno => "inferno",
            Colormap::Viridis => "viridis",
            Colormap::Gray => "gray",
        }
    }

    /// The colour of `t` in [0, 1] (clamped; NaN reads as 0).
    pub fn color(self, t: f32) -> [u8; 3] {
        match self {
            Colormap::Inferno => sample(&INFERNO, t),
            Colormap::Viridis => sample(&VIRIDIS, t),
            Colormap::Gray => sample(&GRAY, t),
        }
    }

    /// 256 RGBA entries for t = 0, 1/255, …, 1: what the page colours residuals with, so that
    /// the colours stay this module's while the page recolours without a round trip.
    pub fn lookup_table(self) -> Vec<u8> {
        (0..256)
            .flat_map(|i| {
                let [r, g, b] = self.color(i as f32 / 255.0);
                [r, g, b, 255]
            })
            .collect()
    }
}

/// Values in [0, `max`] → RGBA pixels (row-major), opaque, in *inferno*.
pub fn heatmap_rgba(values: &[f32], max: f32) -> Vec<u8> {
    heatmap_rgba_in(Colormap::Inferno, values, max)
}

/// Values in [0, `max`] → RGBA pixels (row-major), opaque, in `colormap`.
pub fn heatmap_rgba_in(colormap: Colormap, values: &[f32], max: f32) -> Vec<u8> {
    let scale = if max > 0.0 && max.is_finite() {
        1.0 / max
    } else {
        1.0
    };
    values
        .iter()
        .flat_map(|&v| {
            let [r, g, b] = colormap.color(v * scale);
            [r, g, b, 255]
        })
        .collect()
}

/// How strongly the residual colours cover the input in an overlay, unless a person chooses
/// otherwise (the page's opacity slider starts here too: index.html).
pub const DEFAULT_OVERLAY_OPACITY: f32 = 0.6;

/// The page's residual overlay (www/slice-view.js, `drawOverlay`): each pixel of `input_rgba` blended
/// at `opacity` with `colormap`'s colour of its residual, read from the same 256-entry lookup
/// table at `residual / HEATMAP_MAX`. `residual` holds one value per pixel.
pub fn overlay_rgba(
    input_rgba: &[u8],
    residual: &[f32],
    colormap: Colormap,
    opacity: f32,
) -> Result<Vec<u8>> {
    if input_rgba.len() != residual.len() * 4 {
        return Err(LranError::data(
            "overlay",
            format!(
                "{} RGBA bytes for {} residual values",
                input_rgba.len(),
                residual.len()
            ),
        ));
    }
    let table = colormap.lookup_table();
    let opacity = if opacity.is_nan() {
        0.0
    } else {
        opacity.clamp(0.0, 1.0)
    };
    let mut rgba = input_rgba.to_vec();
    for (i, &value) in residual.iter().enumerate() {
        let t = if value.is_nan() {
            0.0
        } else {
            (value / HEATMAP_MAX).clamp(0.0, 1.0)
        };
        let k = (t * 255.0).round() as usize * 4;
        for c in 0..3 {
            let blended = (1.0 - opacity) * rgba[i * 4 + c] as f32 + opacity * table[k + c] as f32;
            rgba[i * 4 + c] = blended.round().clamp(0.0, 255.0) as u8;
        }
    }
    Ok(rgba)
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

    #[test]
    fn overlay_blends_the_lookup_colour_at_the_opacity() {
        let input = [100u8, 100, 100, 255, 0, 0, 0, 255];
        // No residual: the lowest colour; a residual past HEATMAP_MAX: the hottest.
        let residual = [0.0, 2.0 * HEATMAP_MAX];
        let full = overlay_rgba(&input, &residual, Colormap::Gray, 1.0).unwrap();
        assert_eq!(full, vec![0, 0, 0, 255, 255, 255, 255, 255]);
        let none = overlay_rgba(&input, &residual, Colormap::Gray, 0.0).unwrap();
        assert_eq!(none, input.to_vec());
        let half = overlay_rgba(
            &input,
            &[HEATMAP_MAX / 2.0, f32::NAN],
            Colormap::Inferno,
            0.5,
        )
        .unwrap();
        let table = Colormap::Inferno.lookup_table();
        let k = 128 * 4; // round(0.5 · 255)
        assert_eq!(half[0], (0.5 * 100.0 + 0.5 * table[k] as f32).round() as u8);
        assert_eq!(half[4..7], [0, 0, 2]); // NaN reads as 0: half of inferno(0) = (0, 0, 4)
        assert!(overlay_rgba(&input, &[0.0], Colormap::Gray, 0.5).is_err());
    }

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
    fn every_colormap_rises_in_lightness_and_its_table_matches_its_colours() {
        for colormap in Colormap::ALL {
            let table = colormap.lookup_table();
            assert_eq!(table.len(), 256 * 4, "{colormap:?}");
            let mut previous = -1.0;
            for i in 0..256 {
                let rgb = colormap.color(i as f32 / 255.0);
                assert_eq!(&table[i * 4..i * 4 + 3], &rgb, "{colormap:?} entry {i}");
                assert_eq!(table[i * 4 + 3], 255);
                let l = lightness(rgb);
                assert!(l >= previous - 0.5, "{colormap:?} darkens at {i}");
                previous = l;
            }
            assert!(lightness(colormap.color(1.0)) - lightness(colormap.color(0.0)) > 150.0);
        }
        assert_eq!(Colormap::Viridis.color(0.0), [68, 1, 84]);
        assert_eq!(Colormap::Gray.color(0.5), [128, 128, 128]);
        assert_eq!(
            heatmap_rgba_in(Colormap::Viridis, &[2.0], 2.0)[..3],
            Colormap::Viridis.color(1.0)
        );
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
