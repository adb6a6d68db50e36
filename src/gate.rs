//! The correctness gate for GPU configurations (issue D): the same training steps from the same
//! weights on the same images, on a reference device (the CPU backend, flex) and on a candidate
//! (wgpu with some build options), must give the same losses, weights and scores within stated
//! tolerances. A fast configuration that fails it is not used: on an H200, autotune + fusion
//! doubled the speed and turned the loss to NaN at step 2.
//!
//! `tests/backends.rs` runs it on lavapipe in CI; `cargo xtask gate` runs it on a real GPU and
//! writes a results file saying at which step and in which loss term a configuration diverged.

use std::time::Instant;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor, TensorData};
use serde::Serialize;

use crate::conv::ConvAlgorithm;
use crate::error::{LranError, Result};
use crate::rng::SplitMix64;
use crate::score::score_batch;
use crate::train::{StepLosses, TrainConfig, Trainer};

/// Tolerances of the gate. Both backends compute in f32 but sum in different orders (tiled
/// matmuls, tree reductions). Before any update (step 0) that leaves ~1e-7 relative. After it,
/// Adam amplifies the noise: its first updates are ≈ lr·sign(g), so a gradient that is ~0 on
/// both devices moves a weight by +lr on one and −lr on the other (measured on lavapipe, 64 px,
/// 3 steps: single weights 2.6·lr apart, a loss term 1e-3 apart, the checksum 2e-7). A wrong
/// kernel is off by far more, from step 0 on, and NaN fails any tolerance.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GateTolerance {
    /// Each loss term of step 0 (one forward pass, no update yet), relative to the larger
    /// magnitude (floored at 1e-3).
    pub first_step_loss: f32,
    /// Each loss term of the later steps, likewise.
    pub loss: f32,
    /// Σ|w| over all generator and discriminator weights after the last step.
    pub checksum: f64,
    /// The latent scores of one batch in inference mode after the last step.
    pub score: f32,
    /// Each generator parameter's gradient before any update, ‖g_ref − g_cand‖ / ‖g_ref‖.
    pub gradient: f32,
}

impl Default for GateTolerance {
    fn default() -> Self {
        Self {
            first_step_loss: 1e-4,
            loss: 1e-2,
            checksum: 1e-4,
            score: 2e-2,
            gradient: 1e-3,
        }
    }
}

/// The generator's gradients on the first batch, before any update, compared parameter by
/// parameter: when step 0's losses agree but step 1's do not, this says whether the backward
/// pass or the optimiser is at fault, and in which layer.
#[derive(Debug, Clone, Serialize)]
pub struct GradientCheck {
    /// Relative L2 difference per generator parameter, in the module's visiting order
    /// (encoder, decoder, auxiliary encoder; each layer's weight, then BatchNorm's).
    pub relative_differences: Vec<f32>,
    pub shapes: Vec<Vec<usize>>,
    pub worst_parameter: usize,
    pub worst_relative_difference: f32,
}

/// One training step on both devices.
#[derive(Debug, Clone, Serialize)]
pub struct GateStep {
    pub step: usize,
    pub reference: StepLosses,
    /// `None` when the candidate's step failed (NaN or exploded losses); see `GateReport::failure`.
    pub candidate: Option<StepLosses>,
    /// The loss term with the largest relative difference, and that difference.
    pub worst_term: &'static str,
    pub worst_relative_difference: f32,
}

#[derive(Debug, Clone, Serialize)]
pub struct GateReport {
    pub tolerance: GateTolerance,
    pub steps: Vec<GateStep>,
    pub reference_checksum: f64,
    pub candidate_checksum: Option<f64>,
    pub checksum_relative_difference: Option<f64>,
    /// Largest |w_ref − w_cand| over all weights, for the record (Adam's normalised updates make
    /// single near-zero weights differ by ~lr even when the run is correct, so it is not gated).
    pub max_weight_difference: Option<f32>,
    /// Largest relative difference of a latent score on the inference batch.
    pub score_relative_difference: Option<f32>,
    /// The first batch's generator gradients on both devices (`None` if the candidate failed
    /// to compute them).
    pub first_gradients: Option<GradientCheck>,
    pub reference_seconds: f64,
    pub candidate_seconds: f64,
    pub passed: bool,
    /// The first check that failed, in words.
    pub failure: Option<String>,
}

/// Images for the gate: smooth random blobs on a dark background in [−1, 1] (structured like
/// the data, unlike uniform noise, so BatchNorm statistics and the losses look like training's),
/// from a seed, so both devices and every run get the same ones.
pub fn gate_images(config: &TrainConfig, count: usize, seed: u64) -> TensorData {
    let model = &config.model;
    let side = model.image_size;
    let mut rng = SplitMix64::new(seed);
    let mut values = Vec::with_capacity(count * model.channels * side * side);
    for _ in 0..count {
        let blobs: Vec<(f64, f64, f64, f64)> = (0..4)
            .map(|_| {
                (
                    rng.range(0.2, 0.8) * side as f64,
                    rng.range(0.2, 0.8) * side as f64,
                    rng.range(0.08, 0.25) * side as f64,
                    rng.range(0.5, 1.5),
                )
            })
            .collect();
        for channel in 0..model.channels {
            let gain = 1.0 - 0.2 * channel as f64;
            for y in 0..side {
                for x in 0..side {
                    let mut v = 0.0;
                    for &(cx, cy, r, a) in &blobs {
                        let d2 = (x as f64 - cx).powi(2) + (y as f64 - cy).powi(2);
                        v += a * (-d2 / (2.0 * r * r)).exp();
                    }
                    let noise = rng.range(-0.05, 0.05);
                    values.push(
                        ((v * gain).min(1.5) / 1.5 * 2.0 - 1.0 + noise).clamp(-1.0, 1.0) as f32,
                    );
                }
            }
        }
    }
    TensorData::new(values, [count, model.channels, side, side])
}

/// The larger of two differences, NaN winning: a NaN anywhere must fail the gate, and
/// `f32::max` would drop it.
fn largest(worst: f32, difference: f32) -> f32 {
    if difference.is_nan() || difference > worst {
        difference
    } else {
        worst
    }
}

fn relative(a: f64, b: f64, floor: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs()).max(floor)
}

struct Weights(Vec<f32>);

impl ModuleVisitor for Weights {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let values = param.val().into_data().convert::<f32>();
        self.0
            .extend(values.as_slice::<f32>().unwrap_or_default().iter().copied());
    }
}

fn weights(trainer: &Trainer) -> Vec<f32> {
    let mut all = Weights(Vec::new());
    trainer.generator.visit(&mut all);
    trainer.discriminator.visit(&mut all);
    all.0
}

fn checksum(weights: &[f32]) -> f64 {
    weights.iter().map(|w| w.abs() as f64).sum()
}

/// Runs `steps` training steps of `config` on `reference` and on `candidate` from identical
/// weights and batches, then scores one batch on both, and compares. A candidate that diverges
/// is a failed gate (reported), not an error; an error means the reference itself failed.
///
/// The reference always computes convolutions with burn's ops; the candidate with the
/// algorithm `config.model.conv` names. So one call checks a device and a convolution
/// formulation together.
pub fn compare_training(
    config: &TrainConfig,
    steps: usize,
    tolerance: GateTolerance,
    reference: &Device,
    candidate: &Device,
) -> Result<GateReport> {
    compare_training_configs(config, config, steps, tolerance, reference, candidate)
}

/// As [`compare_training`], with the candidate trained under its own settings (same network):
/// how the gate's own test makes a candidate that computes something else.
pub fn compare_training_configs(
    config: &TrainConfig,
    candidate_config: &TrainConfig,
    steps: usize,
    tolerance: GateTolerance,
    reference: &Device,
    candidate: &Device,
) -> Result<GateReport> {
    if !candidate_config.model.same_network(&config.model)
        || candidate_config.batch_size != config.batch_size
    {
        return Err(LranError::config(
            "the gate compares one model and batch size on two devices",
        ));
    }
    if steps == 0 {
        return Err(LranError::config("the gate needs at least one step"));
    }
    let config = &TrainConfig {
        model: config.model.with_conv(ConvAlgorithm::Native),
        ..config.clone()
    };
    let batch = config.batch_size;
    let images = gate_images(config, batch * (steps + 1), config.seed ^ 0x6A7E);
    let batch_of = |index: usize, device: &Device| -> Tensor<4> {
        let all: Tensor<4> = Tensor::from_data(images.clone(), device);
        all.narrow(0, index * batch, batch)
    };

    let mut on_reference = Trainer::new(config.clone(), reference)?;
    let mut on_candidate =
        Trainer::restore(candidate_config.clone(), candidate, on_reference.state()?)?;

    let mut report = GateReport {
        tolerance,
        steps: Vec::with_capacity(steps),
        reference_checksum: 0.0,
        candidate_checksum: None,
        checksum_relative_difference: None,
        max_weight_difference: None,
        score_relative_difference: None,
        first_gradients: None,
        reference_seconds: 0.0,
        candidate_seconds: 0.0,
        passed: false,
        failure: None,
    };
    let fail = |report: &mut GateReport, why: String| {
        if report.failure.is_none() {
            report.failure = Some(why);
        }
    };

    // Gradients first, from the identical starting weights.
    let reference_gradients = on_reference.generator_gradients(batch_of(0, reference))?;
    match on_candidate.generator_gradients(batch_of(0, candidate)) {
        Ok(candidate_gradients) => {
            let check = compare_gradients(&reference_gradients, &candidate_gradients);
            if !(check.worst_relative_difference <= tolerance.gradient) {
                let why = format!(
                    "first batch: the gradient of generator parameter {} (shape {:?}) differs by {:.2e} relative (tolerance {:.0e})",
                    check.worst_parameter,
                    check.shapes[check.worst_parameter],
                    check.worst_relative_difference,
                    tolerance.gradient
                );
                fail(&mut report, why);
            }
            report.first_gradients = Some(check);
        }
        Err(e) => fail(&mut report, format!("first batch: gradients failed: {e}")),
    }

    let mut candidate_alive = true;
    for step in 0..steps {
        let started = Instant::now();
        let a = on_reference.step(batch_of(step, reference))?;
        report.reference_seconds += started.elapsed().as_secs_f64();
        let (b, worst_term, worst) = if candidate_alive {
            let started = Instant::now();
            let result = on_candidate.step(batch_of(step, candidate));
            report.candidate_seconds += started.elapsed().as_secs_f64();
            match result {
                Ok(b) => {
                    let (name, difference) = a
                        .named()
                        .iter()
                        .zip(b.named())
                        .map(|(&(name, x), (_, y))| {
                            (name, relative(x as f64, y as f64, 1e-3) as f32)
                        })
                        .fold(("none", 0.0f32), |worst, item| {
                            if item.1 > worst.1 || item.1.is_nan() {
                                item
                            } else {
                                worst
                            }
                        });
                    let allowed = if step == 0 {
                        tolerance.first_step_loss
                    } else {
                        tolerance.loss
                    };
                    if !(difference <= allowed) {
                        fail(
                            &mut report,
                            format!(
                                "step {step}: the {name} loss differs by {difference:.2e} relative (tolerance {allowed:.0e})",
                            ),
                        );
                    }
                    (Some(b), name, difference)
                }
                Err(e) => {
                    candidate_alive = false;
                    fail(
                        &mut report,
                        format!("step {step}: the candidate failed: {e}"),
                    );
                    (None, "diverged", f32::INFINITY)
                }
            }
        } else {
            (None, "diverged", f32::INFINITY)
        };
        report.steps.push(GateStep {
            step,
            reference: a,
            candidate: b,
            worst_term,
            worst_relative_difference: worst,
        });
    }

    let reference_weights = weights(&on_reference);
    report.reference_checksum = checksum(&reference_weights);
    if candidate_alive {
        let candidate_weights = weights(&on_candidate);
        let candidate_checksum = checksum(&candidate_weights);
        let difference = relative(report.reference_checksum, candidate_checksum, 1e-9);
        report.candidate_checksum = Some(candidate_checksum);
        report.checksum_relative_difference = Some(difference);
        report.max_weight_difference = Some(
            reference_weights
                .iter()
                .zip(&candidate_weights)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, largest),
        );
        if reference_weights.len() != candidate_weights.len() {
            fail(
                &mut report,
                "the two devices hold different numbers of weights".into(),
            );
        }
        if !(difference <= tolerance.checksum) {
            let why = format!(
                "weight checksum {} vs {candidate_checksum} ({difference:.2e} relative, tolerance {:.0e})",
                report.reference_checksum, tolerance.checksum
            );
            fail(&mut report, why);
        }

        // Scoring: BatchNorm in inference mode, on a batch neither trainer has seen.
        let reference_scores = score_batch(
            &on_reference.generator.valid().to_device(&reference.clone()),
            batch_of(steps, reference),
        );
        let candidate_scores = score_batch(
            &on_candidate.generator.valid().to_device(&candidate.clone()),
            batch_of(steps, candidate),
        );
        let worst = reference_scores
            .latent
            .iter()
            .zip(&candidate_scores.latent)
            .map(|(&a, &b)| relative(a as f64, b as f64, 1e-6) as f32)
            .fold(0.0, largest);
        report.score_relative_difference = Some(worst);
        if !(worst <= tolerance.score) {
            fail(
                &mut report,
                format!(
                    "latent scores differ by {worst:.2e} relative (tolerance {:.0e})",
                    tolerance.score
                ),
            );
        }
    }
    report.passed = report.failure.is_none();
    Ok(report)
}

fn compare_gradients(
    reference: &[(Vec<usize>, Vec<f32>)],
    candidate: &[(Vec<usize>, Vec<f32>)],
) -> GradientCheck {
    let total: f64 = reference
        .iter()
        .flat_map(|(_, g)| g.iter())
        .map(|&v| (v as f64).powi(2))
        .sum::<f64>()
        .sqrt();
    let mut relative_differences = Vec::with_capacity(reference.len());
    for ((_, a), (_, b)) in reference.iter().zip(candidate) {
        let norm = |g: &[f32]| g.iter().map(|&v| (v as f64).powi(2)).sum::<f64>().sqrt();
        let difference = if a.len() == b.len() {
            a.iter()
                .zip(b)
                .map(|(&x, &y)| (x as f64 - y as f64).powi(2))
                .sum::<f64>()
                .sqrt()
        } else {
            f64::INFINITY
        };
        // Floored by a millionth of the whole gradient: a parameter whose gradient is ~0 on
        // both devices is not a difference.
        let scale = norm(a).max(norm(b)).max(1e-6 * total).max(1e-30);
        relative_differences.push((difference / scale) as f32);
    }
    if reference.len() != candidate.len() {
        relative_differences.push(f32::INFINITY);
    }
    let (worst_parameter, worst_relative_difference) = relative_differences
        .iter()
        .copied()
        .enumerate()
        .fold((0, 0.0f32), |(i, w), (j, d)| {
            if d > w || d.is_nan() { (j, d) } else { (i, w) }
        });
    GradientCheck {
        shapes: reference.iter().map(|(shape, _)| shape.clone()).collect(),
        relative_differences,
        worst_parameter,
        worst_relative_difference,
    }
}

/// One operation checked on its own, on both devices, from the same host data.
#[derive(Debug, Clone, Serialize)]
pub struct KernelCheck {
    pub name: &'static str,
    /// max |a − b| / max |a| over the output.
    pub max_relative_difference: f32,
    pub passed: bool,
}

/// Deterministic host data in [−1, 1].
fn host_values(count: usize, seed: u64) -> Vec<f32> {
    let mut rng = SplitMix64::new(seed);
    (0..count).map(|_| rng.range(-1.0, 1.0) as f32).collect()
}

fn max_relative(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return f32::INFINITY;
    }
    let scale = a.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-12);
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, largest)
        / scale
}

/// Forward output, input gradient and weight gradient of burn's own 4×4 stride-2 convolution
/// (or transposed convolution) on `device`, with a fixed output weighting.
fn convolution_pass(device: &Device, transposed: bool) -> [Vec<f32>; 3] {
    let device = device.clone().autodiff();
    let (batch, channels_in, channels_out, size) = (4, 32, 16, 8);
    let x = Tensor::<4>::from_data(
        TensorData::new(
            host_values(batch * channels_in * size * size, 1),
            [batch, channels_in, size, size],
        ),
        &device,
    )
    .require_grad();
    let weight_shape = if transposed {
        [channels_in, channels_out, 4, 4]
    } else {
        [channels_out, channels_in, 4, 4]
    };
    let weight = Param::from_tensor(Tensor::<4>::from_data(
        TensorData::new(
            host_values(channels_in * channels_out * 16, 2),
            weight_shape,
        ),
        &device,
    ));
    let y = if transposed {
        let mut conv = crate::model::conv_transpose4(channels_in, channels_out, 2, 1, &device);
        conv.weight = weight;
        let y = conv.forward(x.clone());
        (y, conv.weight)
    } else {
        let mut conv = crate::model::conv4(channels_in, channels_out, 2, 1, &device);
        conv.weight = weight;
        let y = conv.forward(x.clone());
        (y, conv.weight)
    };
    let (y, weight) = y;
    let dims = y.dims();
    let mask = Tensor::<4>::from_data(
        TensorData::new(host_values(dims.iter().product(), 3), dims),
        &device,
    );
    let gradients = (y.clone() * mask).sum().backward();
    let read = |t: Tensor<4>| crate::score::floats(t.into_data());
    [
        read(y.inner()),
        x.grad(&gradients).map(read).unwrap_or_default(),
        weight.val().grad(&gradients).map(read).unwrap_or_default(),
    ]
}

/// A linear layer's weights after three Adam steps (the trainer's settings) on `device`.
fn adam_pass(device: &Device) -> Vec<f32> {
    use burn::nn::LinearConfig;
    use burn::optim::{AdamConfig, GradientsParams};
    let device = device.clone().autodiff();
    let mut layer = LinearConfig::new(64, 32).with_bias(false).init(&device);
    layer.weight = Param::from_tensor(Tensor::<2>::from_data(
        TensorData::new(host_values(64 * 32, 4), [64, 32]),
        &device,
    ));
    let mut optimizer = AdamConfig::new()
        .with_beta_1(0.5)
        .with_beta_2(0.999)
        .with_epsilon(1e-8)
        .init();
    for step in 0..3u64 {
        let x = Tensor::<2>::from_data(
            TensorData::new(host_values(16 * 64, 10 + step), [16, 64]),
            &device,
        );
        let mask = Tensor::<2>::from_data(
            TensorData::new(host_values(16 * 32, 20 + step), [16, 32]),
            &device,
        );
        let loss = (layer.forward(x) * mask).sum();
        let gradients = GradientsParams::from_grads(loss.backward(), &layer);
        layer = optimizer.step(1e-2, layer, gradients);
    }
    crate::score::floats(layer.weight.val().inner().into_data())
}

/// The operations the training step is made of, one at a time, on `reference` and `candidate`:
/// burn's 4×4 stride-2 convolution and transposed convolution (output, input gradient, weight
/// gradient) and three Adam steps. When the gate fails, this names the broken kernel family.
pub fn kernel_checks(reference: &Device, candidate: &Device, tolerance: f32) -> Vec<KernelCheck> {
    let mut checks = Vec::new();
    for (transposed, names) in [
        (
            false,
            [
                "conv2d 4x4/2: output",
                "conv2d 4x4/2: input gradient",
                "conv2d 4x4/2: weight gradient",
            ],
        ),
        (
            true,
            [
                "conv-transpose 4x4/2: output",
                "conv-transpose 4x4/2: input gradient",
                "conv-transpose 4x4/2: weight gradient",
            ],
        ),
    ] {
        let a = convolution_pass(reference, transposed);
        let b = convolution_pass(candidate, transposed);
        for ((name, a), b) in names.into_iter().zip(&a).zip(&b) {
            let difference = max_relative(a, b);
            checks.push(KernelCheck {
                name,
                max_relative_difference: difference,
                passed: difference <= tolerance && !a.is_empty(),
            });
        }
    }
    let difference = max_relative(&adam_pass(reference), &adam_pass(candidate));
    checks.push(KernelCheck {
        name: "adam: three steps of a linear layer",
        max_relative_difference: difference,
        passed: difference <= tolerance,
    });
    checks
}
