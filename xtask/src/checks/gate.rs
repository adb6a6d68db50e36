//! `cargo xtask gate`: the correctness gate of issue D on this machine's GPU. The same training
//! steps run on flex (the reference) and on wgpu as this binary was built (`--features vulkan,
//! autotune,fusion` select the configuration); the report says whether they agree and, if not,
//! at which step and in which loss term they part. Written to `results/gate/<device>.json`.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;
use lran::ModelConfig;
use lran::gate::{GateReport, GateTolerance, KernelCheck, compare_training, kernel_checks};
use lran::train::TrainConfig;
use serde::Serialize;

use crate::backend::{self, Backend};
use crate::checks::bench::{Mode, Shape, burn_version, slug, train_config};
use crate::provenance::{ResultsHeader, write_json};

#[derive(Debug, Args)]
pub struct GateArgs {
    /// The network and image size (the reference step is ganomaly64).
    #[arg(long, value_enum, default_value = "ganomaly64")]
    pub shape: Shape,
    /// `generator` (reconstruction + latent terms only) or `gan` (all four terms and the
    /// discriminator).
    #[arg(long, value_enum, default_value = "gan")]
    pub mode: Mode,
    /// Images per step (default: the training batch).
    #[arg(long, default_value_t = lran::train::TrainConfig::BATCH_SIZE)]
    pub batch: usize,
    /// Training steps compared (the NaN of autotune + fusion appeared at step 2).
    #[arg(long, default_value_t = 5)]
    pub steps: usize,
    /// The small network (base width 16, latent 32): quick checks on software adapters.
    #[arg(long)]
    pub tiny: bool,
    /// Relative tolerance of each loss term at step 0 (before any weight update).
    #[arg(long, default_value_t = GateTolerance::default().first_step_loss)]
    pub first_step_tolerance: f32,
    /// Relative tolerance of each loss term at later steps.
    #[arg(long, default_value_t = GateTolerance::default().loss)]
    pub loss_tolerance: f32,
    /// Relative tolerance of the weight checksum Σ|w|.
    #[arg(long, default_value_t = GateTolerance::default().checksum)]
    pub checksum_tolerance: f64,
    /// Relative tolerance of each latent score of the inference batch.
    #[arg(long, default_value_t = GateTolerance::default().score)]
    pub score_tolerance: f32,
    /// Relative tolerance of each generator parameter's first-batch gradient.
    #[arg(long, default_value_t = GateTolerance::default().gradient)]
    pub gradient_tolerance: f32,
    #[arg(long, default_value = "results/gate")]
    pub out: PathBuf,
}

#[derive(Serialize)]
struct GateResults {
    #[serde(flatten)]
    header: ResultsHeader,
    burn_version: String,
    wgpu_build: String,
    reference_device: String,
    candidate_device: String,
    shape: Shape,
    mode: Mode,
    model: ModelConfig,
    train: TrainConfig,
    report: GateReport,
    /// burn's convolution kernels and Adam, one at a time (max relative difference ≤ 1e-4);
    /// reported beside the gate, which they do not decide (`--conv gemm` uses no convolution
    /// kernel at all).
    kernel_checks: Vec<KernelCheck>,
}

pub fn run(args: GateArgs, conv: backend::ConvChoice) -> Result<()> {
    if args.mode == Mode::Score {
        bail!("--mode takes generator or gan: the gate always compares scores after training");
    }
    // The reference always runs burn's convolutions (lran::gate); the candidate what --conv
    // chose for wgpu.
    let mut reference = backend::select_device(Backend::Cpu)?;
    reference.description.push_str(", conv native");
    let candidate = backend::select(Backend::Wgpu, conv)?;
    let model = args.shape.model(args.tiny).with_conv(candidate.conv);
    let config = train_config(model, args.batch, args.mode);
    eprintln!(
        "gate: {} steps of {:?} {:?} batch {} on {} against {}",
        args.steps, args.shape, args.mode, args.batch, candidate.description, reference.description
    );
    let tolerance = GateTolerance {
        first_step_loss: args.first_step_tolerance,
        loss: args.loss_tolerance,
        checksum: args.checksum_tolerance,
        score: args.score_tolerance,
        gradient: args.gradient_tolerance,
    };
    let report = compare_training(
        &config,
        args.steps,
        tolerance,
        &reference.device,
        &candidate.device,
    )?;
    for step in &report.steps {
        eprintln!(
            "step {}: generator loss {:.6} vs {}, worst term {} ({:.2e} relative)",
            step.step,
            step.reference.generator,
            step.candidate
                .map(|c| format!("{:.6}", c.generator))
                .unwrap_or_else(|| "failed".into()),
            step.worst_term,
            step.worst_relative_difference
        );
    }
    if let Some(check) = &report.first_gradients {
        eprintln!(
            "first-batch gradients: worst parameter {} {:?}, {:.2e} relative",
            check.worst_parameter,
            check.shapes[check.worst_parameter],
            check.worst_relative_difference
        );
    }
    let checks = kernel_checks(&reference.device, &candidate.device, 1e-4);
    for check in &checks {
        eprintln!(
            "kernel check {:<40} {:.2e} {}",
            check.name,
            check.max_relative_difference,
            if check.passed { "ok" } else { "WRONG" }
        );
    }
    let passed = report.passed;
    let failure = report.failure.clone();
    let results = GateResults {
        header: ResultsHeader::now("lran-gate/1"),
        burn_version: burn_version(),
        wgpu_build: backend::wgpu_build(),
        reference_device: reference.description,
        candidate_device: candidate.description.clone(),
        shape: args.shape,
        mode: args.mode,
        model,
        train: config,
        report,
        kernel_checks: checks,
    };
    let path = args.out.join(format!("{}.json", slug(&candidate.name)));
    write_json(&path, &results)?;
    println!("{}", path.display());
    match failure {
        None if passed => Ok(()),
        failure => bail!(
            "the gate failed on {}: {}",
            candidate.description,
            failure.unwrap_or_default()
        ),
    }
}
