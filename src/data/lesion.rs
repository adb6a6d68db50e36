//! Synthetic lesions for checking a model on healthy data alone: tumour-like masses painted
//! into held-out healthy slices, with their masks. Reports must label every figure from them
//! *synthetic*: they show that the model reacts to local abnormal tissue, not how it does on
//! real tumours.
//!
//! The check is only worth selecting on if a lesion looks like what a glioma does to a slice,
//! so each lesion is drawn from the healthy slice's own statistics rather than fixed offsets:
//! - **size** relative to the slice's brain (the equivalent radius √(brain area / π)), drawn
//!   log-uniformly from small to very large, so the lower slices with little brain get lesions
//!   in proportion;
//! - **contrast**: the core *replaces* the tissue (a tumour has no sulci or ventricles inside
//!   it) with an intensity taken from the slice's own brain intensities: a low quantile
//!   (hypointense, as gliomas and their oedema mostly are on T1) or a high one (hyperintense, as
//!   on FLAIR and T2), per channel; a fainter halo around the core stands for oedema;
//! - **mass effect**: the tissue around the lesion is pushed outward (ventricles and sulci
//!   displaced), which changes anatomy beyond the lesion as a real mass does;
//! - a soft, irregular outline and a low-frequency texture inside.
//!
//! The reference is each slice untouched, so the check is matched in height, subject and
//! scanner by construction: no slice-height confound can help a score there.

use serde::{Deserialize, Serialize};

use crate::metrics::percentile;
use crate::rng::SplitMix64;

/// Ranges the lesions are drawn from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LesionConfig {
    /// Lesion radius as a fraction of the slice's brain radius (√(brain area / π)), drawn
    /// log-uniformly in this range.
    pub radius: (f32, f32),
    /// Quantiles (0–1) of the slice's brain intensities a hypointense core is drawn between.
    pub dark_quantiles: (f32, f32),
    /// Quantiles (0–1) a hyperintense core is drawn between.
    pub bright_quantiles: (f32, f32),
    /// Chance that a channel's core is hyperintense rather than hypointense.
    pub bright_probability: f32,
    /// Share of the underlying tissue the core replaces (1: all of it), drawn in this range.
    pub replacement: (f32, f32),
    /// Amplitude of the texture inside the lesion, as a fraction of the brain's intensity
    /// standard deviation.
    pub texture: f32,
    /// The oedema halo reaches this many lesion radii out ...
    pub halo_radius: f32,
    /// ... and moves tissue towards the core's intensity by this share of the core's strength.
    pub halo_strength: f32,
    /// Mass effect: tissue at the lesion's edge is pushed outward by a share of the radius
    /// drawn in this range, fading with distance.
    pub mass_effect: (f32, f32),
}

impl Default for LesionConfig {
    fn default() -> Self {
        Self {
            radius: (0.12, 0.5),
            dark_quantiles: (0.02, 0.3),
            bright_quantiles: (0.85, 0.99),
            bright_probability: 0.5,
            replacement: (0.6, 1.0),
            texture: 0.3,
            halo_radius: 1.5,
            halo_strength: 0.35,
            mass_effect: (0.0, 0.4),
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
    let brain_radius = (inside.len() as f32 / std::f32::consts::PI).sqrt();
    let (low, high) = (config.radius.0.ln() as f64, config.radius.1.ln() as f64);
    let radius = (rng.range(low, high) as f32).exp() * brain_radius;
    let stretch = rng.range(0.75, 1.25) as f32;
    let angle = rng.range(0.0, std::f64::consts::PI) as f32;
    let wobble = [
        (3.0, rng.range(0.0, 6.3) as f32, 0.15),
        (5.0, rng.range(0.0, 6.3) as f32, 0.08),
    ];
    let waves: Vec<(f32, f32, f32)> = (0..3)
        .map(|_| {
            let direction = rng.range(0.0, std::f64::consts::TAU) as f32;
            // Cycles per lesion radius: blotches, not stripes.
            let frequency = rng.range(1.0, 2.5) as f32 * std::f32::consts::TAU / radius;
            (
                direction.cos() * frequency,
                direction.sin() * frequency,
                rng.range(0.0, 6.3) as f32,
            )
        })
        .collect();
    let replacement = rng.range(config.replacement.0 as f64, config.replacement.1 as f64) as f32;
    let push = rng.range(config.mass_effect.0 as f64, config.mass_effect.1 as f64) as f32;
    // Each channel's core intensity and texture amplitude, from that channel's brain values.
    let cores: Vec<(f32, f32)> = (0..channels)
        .map(|c| {
            let mut values: Vec<f32> = inside.iter().map(|&i| input[c * plane + i]).collect();
            values.sort_by(f32::total_cmp);
            let mean = values.iter().sum::<f32>() / values.len() as f32;
            let std = (values.iter().map(|v| (v - mean).powi(2)).sum::<f32>()
                / values.len() as f32)
                .sqrt();
            let (q_low, q_high) = if rng.unit() < config.bright_probability as f64 {
                config.bright_quantiles
            } else {
                config.dark_quantiles
            };
            let q = rng.range(q_low as f64, q_high as f64);
            (percentile(&values, q * 100.0), config.texture * std)
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
    for &i in &inside {
        let (row, column) = ((i / size) as f32 + 0.5, (i % size) as f32 + 0.5);
        let (dy, dx) = (row - centre_row, column - centre_column);
        // Mass effect: this pixel shows the tissue that sat nearer the centre. The source radius
        // s(r) = r − push·R·e^{−(r−R)/R} outside the lesion (monotone, so nothing folds) and is
        // scaled down inside it, where the core replaces most of the tissue anyway.
        let r = (dx * dx + dy * dy).sqrt();
        let source_r = if r >= radius {
            r - push * radius * (-(r - radius) / radius).exp()
        } else {
            r * (1.0 - push)
        };
        let shrink = if r > 0.0 { source_r / r } else { 0.0 };
        let (source_row, source_column) = (centre_row + dy * shrink, centre_column + dx * shrink);
        for c in 0..channels {
            if let Some(value) = sample_inside(
                &input[c * plane..(c + 1) * plane],
                brain,
                size,
                source_row - 0.5,
                source_column - 0.5,
            ) {
                output[c * plane + i] = value;
            }
        }

        let (u, v) = (cos * dx + sin * dy, (-sin * dx + cos * dy) * stretch);
        let phi = v.atan2(u);
        let outline = 1.0
            + wobble
                .iter()
                .map(|&(k, phase, amplitude)| amplitude * (k * phi + phase).sin())
                .sum::<f32>();
        let distance = (u * u + v * v).sqrt() / (radius * outline);
        // Full strength inside 0.75 of the radius, fading to nothing at 1.15; the halo fades
        // from the edge out to `halo_radius`.
        let core = 1.0 - smoothstep(0.75, 1.15, distance);
        let halo = config.halo_strength * (1.0 - smoothstep(0.9, config.halo_radius, distance));
        let weight = replacement * core.max(halo);
        mask[i] = core >= 0.5;
        if weight <= 0.0 {
            continue;
        }
        let texture = waves
            .iter()
            .map(|&(fx, fy, phase)| (fx * dx + fy * dy + phase).sin())
            .sum::<f32>()
            / 3.0;
        for (c, &(level, amplitude)) in cores.iter().enumerate() {
            let value = &mut output[c * plane + i];
            let lesion = level + amplitude * texture;
            *value = ((1.0 - weight) * *value + weight * lesion).clamp(-1.0, 1.0);
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

/// Bilinear sample of `plane` at (row, column) in pixel-centre coordinates, from brain pixels
/// only (background must not be dragged into the brain); `None` when no brain pixel is near.
fn sample_inside(plane: &[f32], brain: &[bool], size: usize, row: f32, column: f32) -> Option<f32> {
    let (r0, c0) = (row.floor(), column.floor());
    let (fr, fc) = (row - r0, column - c0);
    let mut total = 0.0;
    let mut weight = 0.0;
    for (dr, wr) in [(0, 1.0 - fr), (1, fr)] {
        for (dc, wc) in [(0, 1.0 - fc), (1, fc)] {
            let (rr, cc) = (r0 as isize + dr, c0 as isize + dc);
            if rr < 0 || cc < 0 || rr as usize >= size || cc as usize >= size {
                continue;
            }
            let i = rr as usize * size + cc as usize;
            let w = wr * wc;
            if brain[i] && w > 0.0 {
                total += w * plane[i];
                weight += w;
            }
        }
    }
    (weight > 1e-6).then(|| total / weight)
}

fn smoothstep(edge0: f32, edge1: f32, x: f32) -> f32 {
    let t = ((x - edge0) / (edge1 - edge0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIZE: usize = 48;

    /// A round brain with texture (so quantiles and structure exist), −1 outside, two channels.
    fn phantom() -> (Vec<f32>, Vec<bool>) {
        let brain: Vec<bool> = (0..SIZE * SIZE)
            .map(|i| {
                let (r, c) = ((i / SIZE) as f32 - 23.5, (i % SIZE) as f32 - 23.5);
                r * r + c * c < 20.0 * 20.0
            })
            .collect();
        let input: Vec<f32> = (0..2 * SIZE * SIZE)
            .map(|j| {
                let i = j % (SIZE * SIZE);
                let (r, c) = ((i / SIZE) as f32, (i % SIZE) as f32);
                if brain[i] {
                    0.5 * (0.9 * r).sin() * (0.7 * c).cos()
                        + if j < SIZE * SIZE { 0.1 } else { -0.1 }
                } else {
                    -1.0
                }
            })
            .collect();
        (input, brain)
    }

    fn core_pixels(lesioned: &Lesioned) -> Vec<usize> {
        (0..SIZE * SIZE).filter(|&i| lesioned.mask[i]).collect()
    }

    fn mean(values: impl Iterator<Item = f32>) -> f32 {
        let values: Vec<f32> = values.collect();
        values.iter().sum::<f32>() / values.len() as f32
    }

    #[test]
    fn lesions_stay_in_the_brain_are_seeded_and_sized_to_the_brain() {
        let (input, brain) = phantom();
        let config = LesionConfig::default();
        let a = insert_lesion(&input, &brain, 2, SIZE, &config, &mut SplitMix64::new(7)).unwrap();
        let b = insert_lesion(&input, &brain, 2, SIZE, &config, &mut SplitMix64::new(7)).unwrap();
        assert_eq!(a.input, b.input);
        let c = insert_lesion(&input, &brain, 2, SIZE, &config, &mut SplitMix64::new(8)).unwrap();
        assert_ne!(a.input, c.input);
        for i in (0..SIZE * SIZE).filter(|&i| !brain[i]) {
            assert!(!a.mask[i]);
            assert_eq!(a.input[i], -1.0);
            assert_eq!(a.input[SIZE * SIZE + i], -1.0);
        }
        // Radii follow the brain's size: on a brain of half the radius, lesions are half as big.
        let brain_radius =
            (brain.iter().filter(|&&b| b).count() as f32 / std::f32::consts::PI).sqrt();
        let small_brain: Vec<bool> = (0..SIZE * SIZE)
            .map(|i| {
                let (r, c) = ((i / SIZE) as f32 - 23.5, (i % SIZE) as f32 - 23.5);
                r * r + c * c < 10.0 * 10.0
            })
            .collect();
        let small_radius =
            (small_brain.iter().filter(|&&b| b).count() as f32 / std::f32::consts::PI).sqrt();
        let small_input: Vec<f32> = (0..2 * SIZE * SIZE)
            .map(|j| {
                if small_brain[j % (SIZE * SIZE)] {
                    input[j]
                } else {
                    -1.0
                }
            })
            .collect();
        for seed in 0..50 {
            let big = insert_lesion(&input, &brain, 2, SIZE, &config, &mut SplitMix64::new(seed))
                .unwrap();
            let share = big.radius_pixels / brain_radius;
            assert!(
                share >= config.radius.0 - 1e-4 && share <= config.radius.1 + 1e-4,
                "{share}"
            );
            let small = insert_lesion(
                &small_input,
                &small_brain,
                2,
                SIZE,
                &config,
                &mut SplitMix64::new(seed),
            )
            .unwrap();
            let ratio = small.radius_pixels / big.radius_pixels;
            assert!(
                (ratio - small_radius / brain_radius).abs() < 1e-3,
                "{ratio}"
            );
        }
        // No brain, no lesion.
        assert!(
            insert_lesion(
                &input,
                &vec![false; SIZE * SIZE],
                2,
                SIZE,
                &config,
                &mut SplitMix64::new(1)
            )
            .is_none()
        );
    }

    #[test]
    fn the_core_replaces_the_tissue_with_a_dark_or_bright_level_of_the_slice_itself() {
        let (input, brain) = phantom();
        let config = LesionConfig {
            replacement: (1.0, 1.0),
            ..LesionConfig::default()
        };
        let plane = SIZE * SIZE;
        let mut sorted: Vec<Vec<f32>> = (0..2)
            .map(|c| {
                (0..plane)
                    .filter(|&i| brain[i])
                    .map(|i| input[c * plane + i])
                    .collect()
            })
            .collect();
        for values in &mut sorted {
            values.sort_by(f32::total_cmp);
        }
        let (mut dark, mut bright) = (0, 0);
        for seed in 0..40 {
            let lesioned =
                insert_lesion(&input, &brain, 2, SIZE, &config, &mut SplitMix64::new(seed))
                    .unwrap();
            let core = core_pixels(&lesioned);
            assert!(!core.is_empty());
            for (c, values) in sorted.iter().enumerate() {
                let inside = mean(core.iter().map(|&i| lesioned.input[c * plane + i]));
                let spread_before = mean(core.iter().map(|&i| (input[c * plane + i] - 0.0).abs()));
                let low = percentile(values, 100.0 * config.dark_quantiles.1 as f64 + 10.0);
                let high = percentile(values, 100.0 * config.bright_quantiles.0 as f64 - 10.0);
                // The core's mean sits among the slice's darkest or brightest tissue ...
                if inside <= low {
                    dark += 1;
                } else if inside >= high {
                    bright += 1;
                } else {
                    panic!("core mean {inside} neither dark (≤ {low}) nor bright (≥ {high})");
                }
                // ... and the tissue's pattern inside it is gone (only the softer texture is left).
                let texture_left = {
                    let m = inside;
                    mean(
                        core.iter()
                            .map(|&i| (lesioned.input[c * plane + i] - m).abs()),
                    )
                };
                assert!(
                    texture_left < spread_before,
                    "{texture_left} vs {spread_before}"
                );
            }
        }
        // Both kinds are drawn.
        assert!(dark > 10 && bright > 10, "dark {dark}, bright {bright}");
    }

    #[test]
    fn mass_effect_moves_tissue_around_the_lesion_and_nothing_far_away() {
        let (input, brain) = phantom();
        let plane = SIZE * SIZE;
        let unpainted = LesionConfig {
            replacement: (0.0, 0.0),
            halo_strength: 0.0,
            mass_effect: (0.0, 0.0),
            ..LesionConfig::default()
        };
        let still =
            insert_lesion(&input, &brain, 2, SIZE, &unpainted, &mut SplitMix64::new(3)).unwrap();
        for i in 0..2 * plane {
            assert!(
                (still.input[i] - input[i]).abs() < 1e-4,
                "pixel {i} moved without mass effect"
            );
        }
        let pushed_config = LesionConfig {
            mass_effect: (0.4, 0.4),
            ..unpainted
        };
        let pushed = insert_lesion(
            &input,
            &brain,
            2,
            SIZE,
            &pushed_config,
            &mut SplitMix64::new(3),
        )
        .unwrap();
        let (row, column) = pushed.centre;
        let distance = |i: usize| {
            let (r, c) = (
                (i / SIZE) as f32 - row as f32,
                (i % SIZE) as f32 - column as f32,
            );
            (r * r + c * c).sqrt()
        };
        let radius = pushed.radius_pixels;
        let near: Vec<usize> = (0..plane)
            .filter(|&i| brain[i] && distance(i) > radius && distance(i) < 1.5 * radius)
            .collect();
        let moved = near
            .iter()
            .filter(|&&i| (pushed.input[i] - input[i]).abs() > 0.02)
            .count();
        assert!(
            moved * 3 > near.len(),
            "{moved} of {} pixels next to the lesion moved",
            near.len()
        );
        let far = (0..plane).filter(|&i| brain[i] && distance(i) > radius * 8.0);
        for i in far {
            assert!(
                (pushed.input[i] - input[i]).abs() < 0.02,
                "pixel {i} far away moved"
            );
        }
    }
}
