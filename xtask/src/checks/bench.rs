//! `cargo xtask bench`: training and scoring throughput of lran's own step on each backend,
//! written to `results/bench/<device>.json` (issue D measures GPUs against PyTorch with it).
//!
//! Every figure is the median over `--runs` timed runs of `--steps-per-run` steps each, after
//! `--warmup` untimed steps (kernel compilation, allocation). A training step ends with its
//! losses read back and a scoring step with its scores read back, so the GPU's queue is drained
//! inside each timed run.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use lran::burn::module::Module;
use lran::burn::tensor::{Device, Distribution, Tensor};
use lran::train::{TrainConfig, Trainer};
use lran::{LossConfig, ModelConfig};
use serde::{Deserialize, Serialize};

use crate::backend::{self, Backend, ConvChoice};
use crate::provenance::{ResultsHeader, repository_root, write_json};
use lran::conv::ConvAlgorithm;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shape {
    /// GANomaly's MNIST network as lran trains it: 32×32×1, base width 64, latent 100.
    Mnist32,
    /// The reference step and the brain model's default: 64×64×1, base width 64, latent 100.
    Ganomaly64,
    /// Brain slices at 128×128×1, base width 64, latent 100.
    Brain128,
    /// The shipped brain model's network (`ModelConfig::brain`): 64×64×1, base width 16, latent 100.
    Brain64,
    /// The tiny preset (`ModelConfig::tiny`): 32×32×1, base width 16, latent 32.
    Tiny32,
}

impl Shape {
    /// The shape's network; `tiny` swaps in the tiny preset's widths at the same image size.
    pub fn model(self, tiny: bool) -> ModelConfig {
        let network = match self {
            Shape::Mnist32 => ModelConfig::paper(1),
            Shape::Ganomaly64 => ModelConfig {
                image_size: 64,
                ..ModelConfig::paper(1)
            },
            Shape::Brain128 => ModelConfig {
                image_size: 128,
                ..ModelConfig::paper(1)
            },
            Shape::Brain64 => ModelConfig::brain(1),
            Shape::Tiny32 => ModelConfig::tiny(1),
        };
        if tiny {
            ModelConfig {
                image_size: network.image_size,
                ..ModelConfig::tiny(1)
            }
        } else {
            network
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Generator only: E → decoder → E′, 50·L1 + latent L2, backward, Adam (GANomaly's step
    /// without the adversarial term; the PyTorch reference measures the same).
    Generator,
    /// The full step: all four loss terms (nuclear norm included) and the discriminator's update.
    Gan,
    /// Inference: latent and pixel scores of a batch, read back.
    Score,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Backends to measure; default: the CPU, and wgpu when it finds an adapter.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub backends: Vec<Backend>,
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "mnist32,ganomaly64"
    )]
    pub shapes: Vec<Shape>,
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "generator,gan,score"
    )]
    pub modes: Vec<Mode>,
    #[arg(long, value_delimiter = ',', default_value = "64,256")]
    pub batches: Vec<usize>,
    /// Untimed steps first.
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
    /// Timed runs; the median is reported.
    #[arg(long, default_value_t = 5)]
    pub runs: usize,
    #[arg(long, default_value_t = 3)]
    pub steps_per_run: usize,
    /// The small network (base width 16, latent 32) instead of the paper's: quick checks.
    #[arg(long)]
    pub tiny: bool,
    /// Folder of the results file.
    #[arg(long, default_value = "results/bench")]
    pub out: PathBuf,
    /// Also measure the same figures with `bench/ganomaly_reference.py` (PyTorch, on as many CPU
    /// threads; CUDA for wgpu's figures) and write both side by side with their ratios to
    /// `<out>/<device>-vs-pytorch.json`. PyTorch is a measuring reference, never a dependency.
    #[arg(long, value_enum)]
    pub reference: Option<Reference>,
    /// The Python that has PyTorch (e.g. a virtual environment's `bin/python`).
    #[arg(long, default_value = "python3", requires = "reference")]
    pub python: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Reference {
    Pytorch,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub backend: String,
    pub device: String,
    pub shape: Shape,
    pub model: ModelConfig,
    pub batch: usize,
    pub mode: Mode,
    /// Median over the runs.
    pub images_per_second: f64,
    pub runs: Vec<f64>,
    /// The first warm-up step alone (kernel compilation and tuning included).
    pub first_step_seconds: f64,
    /// Weights of each network: the PyTorch reference reports the same, which checks that
    /// both measure the same networks.
    pub parameters: Parameters,
    /// How the convolutions were computed (`--conv`; `lran::conv`); absent in PyTorch's file.
    #[serde(default)]
    pub conv: Option<String>,
    /// PyTorch's file only: the FLOPs of one step per image (its FLOP counter, convolutions and
    /// matmuls, forward and backward), the same work for both sides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flops_per_image: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parameters {
    pub generator: usize,
    pub discriminator: usize,
}

impl Parameters {
    pub fn of(model: &ModelConfig) -> Self {
        let device = Device::flex();
        Self {
            generator: lran::model::Generator::new(model, &device).num_params(),
            discriminator: lran::model::Discriminator::new(model, &device).num_params(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchResults {
    #[serde(flatten)]
    pub header: ResultsHeader,
    pub burn_version: String,
    /// How the wgpu backend is built (see Cargo.toml).
    pub wgpu_features: String,
    pub cpu_threads: usize,
    pub warmup: usize,
    pub runs_per_figure: usize,
    pub steps_per_run: usize,
    pub entries: Vec<Entry>,
}

/// The training settings a mode measures (also what `cargo xtask gate` checks).
pub fn train_config(model: ModelConfig, batch: usize, mode: Mode) -> TrainConfig {
    let mut config = TrainConfig::new(model);
    config.batch_size = batch;
    if mode == Mode::Generator {
        let mut losses = LossConfig::default();
        losses.adversarial.enabled = false;
        losses.low_rank.enabled = false;
        config.losses = losses;
    }
    config
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

/// burn's version as Cargo.lock pins it.
pub fn burn_version() -> String {
    let lock = std::fs::read_to_string(repository_root().join("Cargo.lock")).unwrap_or_default();
    lock.split("[[package]]")
        .find(|p| p.contains("\nname = \"burn\"\n"))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")))
        .map(|v| v.trim_end_matches('"').to_string())
        .unwrap_or_else(|| "unknown".into())
}

pub fn slug(text: &str) -> String {
    let mut slug = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.trim_matches('-').to_string()
}

fn measure(
    args: &BenchArgs,
    device: &Device,
    shape: Shape,
    batch: usize,
    mode: Mode,
    algorithm: ConvAlgorithm,
) -> Result<(f64, Vec<f64>, f64)> {
    let model = shape.model(args.tiny).with_conv(algorithm);
    let config = train_config(model, batch, mode);
    let mut trainer = Trainer::new(config, device)?;
    let shape4 = [batch, model.channels, model.image_size, model.image_size];
    let images: Tensor<4> = Tensor::random(
        shape4,
        Distribution::Uniform(-1.0, 1.0),
        &device.clone().inner(),
    );
    let scorer =
        (mode == Mode::Score).then(|| trainer.generator.valid().to_device(&device.clone().inner()));
    let step = |trainer: &mut Trainer| -> Result<()> {
        match &scorer {
            Some(generator) => {
                let scores = lran::score::score_batch(generator, images.clone());
                if scores.len() != batch {
                    bail!("scored {} of {batch} images", scores.len());
                }
            }
            None => {
                trainer.step(images.clone())?;
            }
        }
        Ok(())
    };
    let started = Instant::now();
    step(&mut trainer)?;
    let first = started.elapsed().as_secs_f64();
    for _ in 1..args.warmup {
        step(&mut trainer)?;
    }
    let mut rates = Vec::with_capacity(args.runs);
    for _ in 0..args.runs {
        let started = Instant::now();
        for _ in 0..args.steps_per_run {
            step(&mut trainer)?;
        }
        rates.push((args.steps_per_run * batch) as f64 / started.elapsed().as_secs_f64());
    }
    Ok((median(&rates), rates, first))
}

pub fn run(args: BenchArgs, conv: ConvChoice) -> Result<()> {
    if args.runs == 0 || args.steps_per_run == 0 || args.warmup == 0 {
        bail!("--warmup, --runs and --steps-per-run must be at least 1");
    }
    if args.batches.iter().any(|&b| b < 2) {
        bail!("batches must hold at least 2 images (BatchNorm and the nuclear norm need them)");
    }
    let backends = if args.backends.is_empty() {
        let mut found = vec![Backend::Cpu];
        if backend::select_device(Backend::Wgpu).is_ok() {
            found.push(Backend::Wgpu);
        }
        found
    } else {
        args.backends.clone()
    };
    let mut selected_devices = Vec::new();
    for backend in backends {
        if backend == Backend::Auto {
            bail!("--backends takes cpu and wgpu, not auto");
        }
        // The device alone: the convolution algorithm is set per entry below.
        selected_devices.push((backend, backend::select_device(backend)?));
    }
    let torch_version = match args.reference {
        Some(Reference::Pytorch) => Some(super::reference::torch_version(
            &args.python,
            selected_devices.iter().any(|(b, _)| *b != Backend::Cpu),
        )?),
        None => None,
    };
    let names: Vec<&str> = selected_devices
        .iter()
        .map(|(_, s)| s.name.as_str())
        .collect();
    let path = args.out.join(format!("{}.json", slug(&names.join(" + "))));
    let mut results = BenchResults {
        header: ResultsHeader::now("lran-bench/1"),
        burn_version: burn_version(),
        wgpu_features: backend::wgpu_build(),
        cpu_threads: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        warmup: args.warmup,
        runs_per_figure: args.runs,
        steps_per_run: args.steps_per_run,
        entries: Vec::new(),
    };
    for (backend, selected) in &selected_devices {
        let backend = *backend;
        let algorithms = match conv {
            ConvChoice::Auto => vec![ConvAlgorithm::Native, ConvAlgorithm::Gemm],
            choice => vec![backend::conv_algorithm_for(choice)],
        };
        for algorithm in algorithms {
            let conv = algorithm.name();
            for &shape in &args.shapes {
                for &batch in &args.batches {
                    for &mode in &args.modes {
                        let model = shape.model(args.tiny);
                        let (rate, runs, first) =
                            measure(&args, &selected.device, shape, batch, mode, algorithm)
                                .with_context(|| {
                                    format!(
                                        "{shape:?} batch {batch} {mode:?} on {}",
                                        selected.description
                                    )
                                })?;
                        eprintln!(
                            "{:<20} conv {conv:<6} {:<10} batch {batch:<4} {:<9} {rate:>9.1} img/s (first step {first:.2} s)",
                            selected.name,
                            crate::cli_value(shape),
                            crate::cli_value(mode)
                        );
                        results.entries.push(Entry {
                            backend: crate::cli_value(backend),
                            device: selected.description.clone(),
                            shape,
                            model,
                            batch,
                            mode,
                            images_per_second: rate,
                            runs,
                            first_step_seconds: first,
                            parameters: Parameters::of(&model),
                            conv: Some(conv.into()),
                            flops_per_image: None,
                        });
                        // After every figure: a run cut short by a time limit keeps what it
                        // measured.
                        write_json(&path, &results)?;
                    }
                }
            }
        }
    }
    match torch_version {
        Some(version) => {
            let side_by_side = super::reference::pytorch(&args.python, version, &path, &results)?;
            println!("{}", side_by_side.display());
        }
        None => println!("{}", path.display()),
    }
    Ok(())
}
