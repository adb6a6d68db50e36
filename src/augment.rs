//! Training-time augmentation of healthy images (issue E). The brain model learns from three
//! healthy volumes, two of them smooth templates, and is tested on a real patient's scan: the
//! domain gap is its main enemy. Seeded random flips, small rotations and scalings, and
//! intensity and contrast jitter inside the brain widen what "healthy" covers without painting
//! anything that looks like a lesion.
//!
//! Works on images as the model sees them: `[channels, size, size]`, values in [−1, 1], with
//! −1 as background (the brain pipeline's convention; MNIST's background is −1 too).

use serde::{Deserialize, Serialize};

use crate::error::{LranError, Result};
use crate::rng::SplitMix64;

/// What to vary, and how much. Each image of each batch draws its own values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Augmentation {
    /// Mirror left–right with probability ½ (the brain is near-symmetric; up–down is not
    /// anatomy, so it is never flipped).
    pub horizontal_flip: bool,
    /// Rotation about the centre, uniform in ±this, degrees.
    pub max_rotation_degrees: f32,
    /// Isotropic scaling, uniform in [1 − this, 1 + this].
    pub max_scaling: f32,
    /// Contrast about the image's brain mean, uniform in [1 − this, 1 + this], per channel.
    pub max_contrast: f32,
    /// Brightness shift, uniform in ±this (in the [−1, 1] scale), per channel.
    pub max_brightness: f32,
}

impl Augmentation {
    /// The brain model's default: a few degrees and percent, as scans differ in head position,
    /// size and scanner gain.
    pub fn brain() -> Self {
        Self {
            horizontal_flip: true,
            max_rotation_degrees: 10.0,
            max_scaling: 0.1,
            max_contrast: 0.15,
            max_brightness: 0.1,
        }
    }

    pub fn validate(&self) -> Result<()> {
        let ok = self.max_rotation_degrees.is_finite()
            && (0.0..=45.0).contains(&self.max_rotation_degrees)
            && (0.0..0.5).contains(&self.max_scaling)
            && (0.0..0.9).contains(&self.max_contrast)
            && (0.0..=0.5).contains(&self.max_brightness);
        if ok {
            Ok(())
        } else {
            Err(LranError::config(format!(
                "augmentation out of range (rotation ≤ 45°, scaling < 0.5, contrast < 0.9, \
                 brightness ≤ 0.5): {self:?}"
            )))
        }
    }

    /// Augments one image in place. `rng` decides everything, so a seeded run is repeatable.
    pub fn apply(&self, image: &mut [f32], channels: usize, size: usize, rng: &mut SplitMix64) {
        debug_assert_eq!(image.len(), channels * size * size);
        let flip = self.horizontal_flip && rng.unit() < 0.5;
        let angle = (rng.range(-1.0, 1.0) * self.max_rotation_degrees as f64).to_radians();
        let scale = 1.0 + rng.range(-1.0, 1.0) * self.max_scaling as f64;
        let geometric = flip || angle != 0.0 || scale != 1.0;
        if geometric {
            warp(image, channels, size, flip, angle, scale);
        }
        for channel in image.chunks_exact_mut(size * size) {
            let contrast = 1.0 + rng.range(-1.0, 1.0) as f32 * self.max_contrast;
            let brightness = rng.range(-1.0, 1.0) as f32 * self.max_brightness;
            jitter(channel, contrast, brightness);
        }
    }
}

/// Background: −1 exactly, or as good as (resampling blends it in at the brain's edge).
const BACKGROUND: f32 = -0.999;

/// Resamples each channel through the inverse map (flip, then rotation and scaling about the
/// centre), bilinearly; what falls outside the image is background.
fn warp(image: &mut [f32], channels: usize, size: usize, flip: bool, angle: f64, scale: f64) {
    let centre = (size as f64 - 1.0) / 2.0;
    let (sin, cos) = angle.sin_cos();
    let source = image.to_vec();
    for c in 0..channels {
        let plane = &source[c * size * size..(c + 1) * size * size];
        let at = |x: isize, y: isize| -> f64 {
            if x < 0 || y < 0 || x >= size as isize || y >= size as isize {
                -1.0
            } else {
                plane[y as usize * size + x as usize] as f64
            }
        };
        for y in 0..size {
            for x in 0..size {
                // Output pixel → source position: undo the scaling and rotation, then the flip.
                let dx = (x as f64 - centre) / scale;
                let dy = (y as f64 - centre) / scale;
                let mut sx = cos * dx + sin * dy + centre;
                let sy = -sin * dx + cos * dy + centre;
                if flip {
                    sx = size as f64 - 1.0 - sx;
                }
                let (x0, y0) = (sx.floor(), sy.floor());
                let (fx, fy) = (sx - x0, sy - y0);
                let (x0, y0) = (x0 as isize, y0 as isize);
                let value = at(x0, y0) * (1.0 - fx) * (1.0 - fy)
                    + at(x0 + 1, y0) * fx * (1.0 - fy)
                    + at(x0, y0 + 1) * (1.0 - fx) * fy
                    + at(x0 + 1, y0 + 1) * fx * fy;
                image[c * size * size + y * size + x] = value as f32;
            }
        }
    }
}

/// Contrast about the mean of the foreground, then a shift, foreground only: the background
/// stays −1, so the model is not taught that air can be grey.
fn jitter(channel: &mut [f32], contrast: f32, brightness: f32) {
    let (sum, count) = channel
        .iter()
        .filter(|&&v| v > BACKGROUND)
        .fold((0.0f64, 0usize), |(s, n), &v| (s + v as f64, n + 1));
    if count == 0 {
        return;
    }
    let mean = (sum / count as f64) as f32;
    for v in channel.iter_mut().filter(|v| **v > BACKGROUND) {
        *v = ((*v - mean) * contrast + mean + brightness).clamp(-1.0, 1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bright square in the left half on a −1 background.
    fn phantom(size: usize) -> Vec<f32> {
        let mut image = vec![-1.0; size * size];
        for y in size / 4..size / 2 {
            for x in size / 8..size / 2 - 2 {
                image[y * size + x] = 0.5;
            }
        }
        image
    }

    fn centroid_x(image: &[f32], size: usize) -> f64 {
        let (mut sum, mut weight) = (0.0, 0.0);
        for (i, &v) in image.iter().enumerate() {
            let w = (v + 1.0) as f64;
            sum += w * (i % size) as f64;
            weight += w;
        }
        sum / weight
    }

    #[test]
    fn nothing_to_vary_leaves_the_image_alone() {
        let none = Augmentation {
            horizontal_flip: false,
            max_rotation_degrees: 0.0,
            max_scaling: 0.0,
            max_contrast: 0.0,
            max_brightness: 0.0,
        };
        let mut image = phantom(32);
        none.apply(&mut image, 1, 32, &mut SplitMix64::new(1));
        assert_eq!(image, phantom(32));
    }

    #[test]
    fn a_flip_mirrors_left_and_right_and_keeps_the_background() {
        let flip_only = Augmentation {
            horizontal_flip: true,
            max_rotation_degrees: 0.0,
            max_scaling: 0.0,
            max_contrast: 0.0,
            max_brightness: 0.0,
        };
        let size = 32;
        let original = phantom(size);
        let mut flipped_once = false;
        for seed in 0..16 {
            let mut image = original.clone();
            flip_only.apply(&mut image, 1, size, &mut SplitMix64::new(seed));
            if image != original {
                flipped_once = true;
                let mirrored = (size - 1) as f64 - centroid_x(&original, size);
                assert!((centroid_x(&image, size) - mirrored).abs() < 1e-6);
                assert!(image[0] == -1.0 && image[size - 1] == -1.0);
            }
        }
        assert!(flipped_once, "sixteen seeds and never a flip");
    }

    #[test]
    fn brain_augmentation_is_seeded_bounded_and_keeps_the_background_black() {
        let augmentation = Augmentation::brain();
        augmentation.validate().unwrap();
        let size = 64;
        let original: Vec<f32> = phantom(size).into_iter().chain(phantom(size)).collect();
        let run = |seed| {
            let mut image = original.clone();
            augmentation.apply(&mut image, 2, size, &mut SplitMix64::new(seed));
            image
        };
        assert_eq!(run(5), run(5), "same seed, same image");
        assert_ne!(run(5), run(6));
        for seed in 0..8 {
            let image = run(seed);
            assert!(
                image
                    .iter()
                    .all(|v| v.is_finite() && (-1.0..=1.0).contains(v))
            );
            // The corners are far from the square whatever the rotation: still background.
            assert_eq!(image[0], -1.0);
            assert_eq!(image[size * size - 1], -1.0);
            // Tissue stays tissue: about as many bright pixels as before (±25% for scaling).
            let bright = |im: &[f32]| im.iter().filter(|&&v| v > 0.0).count() as f64;
            let ratio = bright(&image) / bright(&original);
            assert!((0.75..1.3).contains(&ratio), "seed {seed}: {ratio}");
        }
    }

    #[test]
    fn out_of_range_settings_are_refused() {
        let mut bad = Augmentation::brain();
        bad.max_rotation_degrees = f32::NAN;
        assert!(bad.validate().is_err());
        bad = Augmentation::brain();
        bad.max_scaling = 0.7;
        assert!(bad.validate().is_err());
    }
}
