//! Synthetic lesions for checking a model on healthy data alone: tumour-like blobs (irregular
//! outline, soft edge, textured, brighter or darker than the tissue) painted into held-out
//! healthy slices, with their masks. Reports must label every figure from them *synthetic*:
//! they show that the model reacts to local abnormal tissue, not how it does on real tumours.

use serde::{Deserialize, Serialize};

use crate::rng::SplitMix64;

/// Ranges the lesions are drawn from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LesionConfig {
    /// Radius range as a fraction of the slice side.
    pub radius: (f32, f32),
    /// Mean intensity change in model units ([−1, 1] range), drawn in this range with a random sign per channel.
    pub contrast: (f32, f32),
    /// Amplitude of the texture added inside the lesion, in model units.
    pub texture: f32,
}

impl Default for LesionConfig {
    fn default() -> Self {
        Self {
            radius: (0.04, 0.14),
            contrast: (0.3, 0.9),
            texture: 0.25,
        }
    }
}

/// A slice with a lesion painted in.
#[derive(Debug, Clone)]
pub struct Lesioned {
    /// `channels × size × size`, in [−1, 1].
    pub input: Vec<f32>,
    /// `size × size`: where the lesion is (its core, weight ≥ 0.5).
    pub mask: Vec<bool>,
    pub centre: (usize, usize),
    pub radius_pixels: f32,
}

/// Paints one lesion inside the brain of a `channels × size × size` slice. Returns `None`
/// when the slice has too little brain to hold one.
pub fn insert_lesion(
    input: &[f32],
    brain: &[bool],
    channels: usize,
    size: usize,
    config: &LesionConfig,
    rng: &mut SplitMix64,
) -> Option<Lesioned> {
    let plane = size * size;
    assert_eq!(
        input.len(),
        channels * plane,
        "input is not channels × size × size"
    );
    assert_eq!(brain.len(), plane, "brain mask is not size × size");
    let inside: Vec<usize> = (0..plane).filter(|&i| brain[i]).collect();
    if inside.len() < plane / 50 {
        return None;
    }
    let radius = rng.range(config.radius.0 as f64, config.radius.1 as f64) as f32 * size as f32;
    let stretch = rng.range(0.7, 1.3) as f32;
    let angle = rng.range(0.0, std::f64::consts::PI) as f32;
    let wobble = [
        (3.0, rng.range(0.0, 6.3) as f32, 0.15),
        (5.0, rng.range(0.0, 6.3) as f32, 0.08),
    ];
    let waves: Vec<(f32, f32, f32)> = (0..3)
        .map(|_| {
            let direction = rng.range(0.0, std::f64::consts::TAU) as f32;
            let frequency = rng.range(0.3, 0.9) as f32;
            (
                direction.cos() * frequency,
                direction.sin() * frequency,
                rng.range(0.0, 6.3) as f32,
            )
        })
        .collect();
    let contrasts: Vec<f32> = (0..channels)
        .map(|_| {
            let magnitude = rng.range(config.contrast.0 as f64, config.contrast.1 as f64) as f32;
            if rng.unit() < 0.5 {
                -magnitude
            } else {
                magnitude
            }
        })
        .collect();
    // A centre deep enough inside the brain: retry a few times, then take what we got.
    let mut centre = inside[rng.below(inside.len() as u64) as usize];
    for _ in 0..20 {
        let (row, column) = (centre / size, centre % size);
        let r = (radius * 0.7) as isize;
        let deep = [(-r, 0), (r, 0), (0, -r), (0, r)].iter().all(|&(dr, dc)| {
            let (rr, cc) = (row as isize + dr, column as isize + dc);
            rr >= 0
                && cc >= 0
                && (rr as usize) < size
                && (cc as usize) < size
                && brain[rr as usize * size + cc as usize]
        });
        if deep {
            break;
        }
        centre = inside[rng.below(inside.len() as u64) as usize];
    }
    let (centre_row, centre_column) = ((centre / size) as f32 + 0.5, (centre % size) as f32 + 0.5);

    let mut output = input.to_vec();
    let mut mask = vec![false; plane];
    let (sin, cos) = angle.sin_cos();
    for i in inside {
        let (row, column) = ((i / size) as f32 + 0.5, (i % size) as f32 + 0.5);
        let (dy, dx) = (row - centre_row, column - centre_column);
        let (u, v) = (cos * dx + sin * dy, (-sin * dx + cos * dy) * stretch);
        let phi = v.atan2(u);
        let outline = 1.0
            + wobble
                .iter()
                .map(|&(k, phase, amplitude)| amplitude * (k * phi + phase).sin())
                .sum::<f32>();
        let distance = (u * u + v * v).sqrt() / (radius * outline);
        // Full strength inside 0.75 of the radius, fading to nothing at 1.15.
        let weight = 1.0 - smoothstep(0.75, 1.15, distance);
        if weight <= 0.0 {
            continue;
        }
        mask[i] = weight >= 0.5;
        let texture = waves
            .iter()
            .map(|&(fx, fy, phase)| (fx * dx + fy * dy + phase).sin())
            .sum::<f32>()
            / 3.0;
        for (c, &contrast) in contrasts.iter().enumerate() {
            let value = &mut output[c * plane + i];
            *value = (*value + weight * (contrast + config.texture * texture)).clamp(-1.0, 1.0);
        }
    }
    if !mask.iter().any(|&m| m) {
        return None;
    }
    Some(Lesioned {
        input: output,
        mask,
        centre: (centre / size, centre % size),
        radius_pixels: radius,
    })
}

fn smoothstep(edge0: f32, edge1: f32, x: f32) -> f32 {
    let t = ((x - edge0) / (edge1 - edge0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lesions_stay_in_the_brain_change_it_and_are_seeded() {
        let size = 32;
        let brain: Vec<bool> = (0..size * size)
            .map(|i| {
                let (r, c) = ((i / size) as f32 - 15.5, (i % size) as f32 - 15.5);
                r * r + c * c < 144.0
            })
            .collect();
        let input: Vec<f32> = (0..2 * size * size)
            .map(|i| if brain[i % (size * size)] { 0.0 } else { -1.0 })
            .collect();
        let config = LesionConfig::default();
        let a = insert_lesion(&input, &brain, 2, size, &config, &mut SplitMix64::new(7)).unwrap();
        let b = insert_lesion(&input, &brain, 2, size, &config, &mut SplitMix64::new(7)).unwrap();
        assert_eq!(a.input, b.input);
        assert!(a.mask.iter().any(|&m| m));
        let outside = (0..size * size).filter(|&i| !brain[i]);
        for i in outside {
            assert!(!a.mask[i]);
            assert_eq!(a.input[i], -1.0);
            assert_eq!(a.input[size * size + i], -1.0);
        }
        // Inside the lesion core the intensity moved by at least the smallest contrast less texture.
        let moved = (0..size * size)
            .filter(|&i| a.mask[i])
            .all(|i| (a.input[i] - input[i]).abs() > 0.3 * 0.5 - 0.25 - 1e-6);
        assert!(moved);
        let changed = (0..size * size)
            .filter(|&i| a.mask[i] && (a.input[i] - input[i]).abs() > 0.1)
            .count();
        assert!(changed * 2 > a.mask.iter().filter(|&&m| m).count());
        let c = insert_lesion(&input, &brain, 2, size, &config, &mut SplitMix64::new(8)).unwrap();
        assert_ne!(a.input, c.input);
        // No brain, no lesion.
        assert!(
            insert_lesion(
                &input,
                &vec![false; size * size],
                2,
                size,
                &config,
                &mut SplitMix64::new(1)
            )
            .is_none()
        );
    }
}
