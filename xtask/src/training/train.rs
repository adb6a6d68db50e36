//! `cargo xtask train`.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use lran::data::Protocol;
use lran::data::brain::{MaskRule, SliceConfig};
use lran::fit::{EpochReport, FitData, FitObserver, FitStart};
use lran::train::{StepLosses, TrainConfig, Trainer};
use lran::{LossConfig, ModelConfig};

use crate::backend::{self, Backend};
use crate::data::brain_layouts::Modality;
use crate::data::brain_sets::BrainOptions;
use crate::data::{self, Dataset, DatasetSpec};
use crate::provenance::{command_line, commit, write_json};
use crate::training::run_dir::{RunDir, RunInfo};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Preset {
    /// 32×32, latent 32, base width 16: an epoch in minutes on two CPU cores.
    Tiny,
    /// GANomaly's MNIST network: 32×32, latent 100, base width 64.
    Paper,
    /// The brain experiment's CPU network: 64×64, latent 100, base width 16 (about an hour of
    /// training on two cores; --dataset brain's default).
    Brain,
}

impl Preset {
    /// The network a dataset trains by default: the brain's CPU network, else the paper's.
    pub fn default_for(dataset: Dataset) -> Self {
        if dataset == Dataset::Brain {
            Preset::Brain
        } else {
            Preset::Paper
        }
    }

    /// The passes over the training images a preset trains by default.
    pub fn default_epochs(self) -> u64 {
        match self {
            Preset::Brain => lran::config::BRAIN_EPOCHS,
            Preset::Tiny | Preset::Paper => lran::config::PAPER_EPOCHS,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Preset::Tiny => "tiny",
            Preset::Paper => "paper",
            Preset::Brain => "brain",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProtocolArg {
    OneClass,
    LeaveOneOut,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MaskArg {
    Auto,
    Nonzero,
    Threshold,
}

#[derive(Debug, Clone, Args)]
pub struct TrainArgs {
    /// Dataset: mnist, fashion-mnist and cifar10 under the one-class protocol (one class normal,
    /// the other nine anomalous); folder (normal/ and anomalous/ images); brain (healthy MRI
    /// subjects for training, tumour cases for testing).
    #[arg(long, value_enum, default_value_t = Dataset::Mnist)]
    pub dataset: Dataset,
    /// The data: IDX folder (mnist, fashion-mnist), CIFAR-10 binary folder, image folder, or
    /// healthy brain subjects (HCP layout, a plain folder of volumes, or ../shared/data/brain).
    /// MNIST without it: a small sample built into the binary; fashion-mnist and brain default to
    /// ../shared/data when it exists.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// The chosen class (0–9): the normal one under --protocol one-class (the model never sees
    /// the others in training), the anomalous one under leave-one-out.
    #[arg(long, visible_alias = "class", default_value_t = 0)]
    pub normal_class: u8,
    /// Ten-class benchmarks: one-class (the paper's) or GANomaly's leave-one-out.
    #[arg(long, value_enum, default_value_t = ProtocolArg::OneClass)]
    pub protocol: ProtocolArg,
    /// Image channels for --dataset folder (1 gray, 3 RGB); cifar10 uses 3, brain one per modality.
    #[arg(long)]
    pub channels: Option<usize>,
    /// Image folders: share of the normal images held out for the test.
    #[arg(long, default_value_t = 0.2)]
    pub test_fraction: f64,
    /// Brain: tumour cases with segmentations for the test (BraTS 2019–2021 or 2023 layout, or a
    /// plain folder with <name>_seg files). Defaults to the labelled cases of --data-dir.
    #[arg(long)]
    pub test_dir: Option<PathBuf>,
    /// Brain: MRI contrasts as the model's channels, in order (e.g. t1 or t1,t2,flair).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "t1")]
    pub modalities: Vec<Modality>,
    /// Brain: keep slices whose brain area is at least this fraction of the case's largest.
    #[arg(long, default_value_t = SliceConfig::MIN_BRAIN_FRACTION)]
    pub min_brain_fraction: f32,
    /// Brain: a slice with at least this many tumour voxels is a tumour slice; slices with fewer
    /// (but some) are left out of the AUC and counted.
    #[arg(long, default_value_t = SliceConfig::TUMOUR_MIN_VOXELS)]
    pub tumour_min_voxels: usize,
    /// Brain: how the brain is found: each layout's own rule (auto: mask files where the layout
    /// has them, else non-zero voxels), non-zero voxels, or an intensity threshold (heads with skull).
    #[arg(long, value_enum, default_value_t = MaskArg::Auto)]
    pub mask: MaskArg,
    /// Brain: the threshold of --mask threshold, as a fraction of the 99th intensity percentile.
    #[arg(long, default_value_t = 0.1)]
    pub mask_threshold: f32,
    /// Brain: the volume to read from 4D files (0-based).
    #[arg(long)]
    pub volume: Option<usize>,
    /// Brain, shared data: train on its three templates (MNI152, Colin27, ITK's head) beside the
    /// IXI subjects.
    #[arg(long)]
    pub with_templates: bool,
    /// Brain: do not paint synthetic lesions into the validation slices for the synthetic check.
    #[arg(long)]
    pub no_synthetic_lesions: bool,
    /// Network size; the flags below override its parts (default: brain for --dataset brain,
    /// else paper).
    #[arg(long, value_enum)]
    pub preset: Option<Preset>,
    /// Image side in pixels (32, 64 or 128; brain defaults to 64).
    #[arg(long)]
    pub image_size: Option<usize>,
    /// Latent size nz.
    #[arg(long)]
    pub latent_dim: Option<usize>,
    /// Channels of the first encoder layer (doubled at each halving).
    #[arg(long)]
    pub base_width: Option<usize>,
    /// Passes over the training images (default: the preset's, 80 for brain, else 15).
    #[arg(long)]
    pub epochs: Option<u64>,
    #[arg(long, default_value_t = TrainConfig::BATCH_SIZE)]
    pub batch_size: usize,
    /// Adam learning rate (GANomaly's 2e-4; the paper states 2e-3).
    #[arg(long, default_value_t = TrainConfig::LEARNING_RATE)]
    pub lr: f64,
    /// Adam beta1 (beta2 is 0.999).
    #[arg(long, default_value_t = TrainConfig::BETA1)]
    pub beta1: f32,
    /// Weight of the image reconstruction L1 term.
    #[arg(long, default_value_t = LossConfig::DEFAULT.reconstruction.weight)]
    pub w_rec: f32,
    /// Weight of the adversarial (feature matching) term.
    #[arg(long, default_value_t = LossConfig::DEFAULT.adversarial.weight)]
    pub w_adv: f32,
    /// Weight of the latent consistency term ‖E(x) − E′(x̂)‖².
    #[arg(long, default_value_t = LossConfig::DEFAULT.latent.weight)]
    pub w_lat: f32,
    /// Weight of the low-rank term (nuclear norm of the batch latent matrix / batch size).
    #[arg(long, default_value_t = LossConfig::DEFAULT.low_rank.weight)]
    pub w_lr: f32,
    /// Switch the adversarial term (and the discriminator) off.
    #[arg(long)]
    pub no_adversarial: bool,
    /// Switch the latent consistency term off (ablation).
    #[arg(long)]
    pub no_latent: bool,
    /// Switch the low-rank term off (ablation).
    #[arg(long)]
    pub no_low_rank: bool,
    /// Seed for weights, the validation split and batch order.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Fraction of the normal training images held out as healthy validation data (brain: of
    /// the healthy subjects, 0.15 = 6 of the 41 shared IXI adults; else 0.1).
    #[arg(long)]
    pub validation_fraction: Option<f64>,
    /// Percentile of healthy validation scores used as the decision threshold.
    #[arg(long, default_value_t = TrainConfig::THRESHOLD_PERCENTILE)]
    pub threshold_percentile: f64,
    /// Use at most this many normal training images (quick runs).
    #[arg(long)]
    pub max_train_images: Option<usize>,
    /// Skip the per-epoch test AUC (it is only reported, never used for selection).
    #[arg(long)]
    pub no_test_auc: bool,
    /// Where the run lives: <runs-dir>/<run-name>.
    #[arg(long, default_value = "runs")]
    pub runs_dir: PathBuf,
    /// Defaults to <dataset>-class<N>-<preset>.
    #[arg(long)]
    pub run_name: Option<String>,
    /// Continue the run from its last checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Compute backend.
    #[arg(long, value_enum, default_value_t = Backend::Auto)]
    pub backend: Backend,
    /// Vary the training images: `brain` (flips, ±10° rotations, ±10% scalings, contrast and
    /// brightness jitter inside the brain), `none`, or `auto` (brain for --dataset brain).
    #[arg(long, value_enum, default_value_t = AugmentArg::Auto)]
    pub augment: AugmentArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AugmentArg {
    Auto,
    None,
    Brain,
}

impl TrainArgs {
    pub fn preset(&self) -> Preset {
        self.preset.unwrap_or(Preset::default_for(self.dataset))
    }

    pub fn epochs(&self) -> u64 {
        self.epochs.unwrap_or(self.preset().default_epochs())
    }

    fn channels(&self) -> usize {
        match self.dataset {
            Dataset::Cifar10 => 3,
            Dataset::Brain => self.modalities.len(),
            _ => self.channels.unwrap_or(1),
        }
    }

    fn model_config(&self) -> ModelConfig {
        let base = match self.preset() {
            Preset::Tiny => ModelConfig::tiny(self.channels()),
            Preset::Paper => ModelConfig::paper(self.channels()),
            Preset::Brain => ModelConfig::brain(self.channels()),
        };
        // Brain slices are cut at the brain network's size whichever network trains on them.
        let default_size = if self.dataset == Dataset::Brain {
            ModelConfig::brain(1).image_size
        } else {
            base.image_size
        };
        ModelConfig {
            image_size: self.image_size.unwrap_or(default_size),
            latent_dim: self.latent_dim.unwrap_or(base.latent_dim),
            base_width: self.base_width.unwrap_or(base.base_width),
            ..base
        }
    }

    fn augmentation(&self) -> Option<lran::augment::Augmentation> {
        match (self.augment, self.dataset) {
            (AugmentArg::Brain, _) | (AugmentArg::Auto, Dataset::Brain) => {
                Some(lran::augment::Augmentation::brain())
            }
            _ => None,
        }
    }

    fn losses(&self) -> LossConfig {
        let mut losses = LossConfig::default();
        losses.reconstruction.weight = self.w_rec;
        losses.adversarial.weight = self.w_adv;
        losses.adversarial.enabled = !self.no_adversarial;
        losses.latent.weight = self.w_lat;
        losses.latent.enabled = !self.no_latent;
        losses.low_rank.weight = self.w_lr;
        losses.low_rank.enabled = !self.no_low_rank;
        losses
    }

    fn run_name(&self) -> String {
        self.run_name.clone().unwrap_or_else(|| {
            let preset = self.preset().name();
            match self.dataset {
                Dataset::Brain => {
                    let modalities: Vec<&str> = self.modalities.iter().map(|m| m.name()).collect();
                    format!("brain-{}-{preset}", modalities.join("-"))
                }
                Dataset::Folder => format!("folder-{preset}"),
                _ => {
                    let protocol = if self.protocol == ProtocolArg::LeaveOneOut {
                        "-leave-one-out"
                    } else {
                        ""
                    };
                    format!(
                        "{}-class{}{protocol}-{preset}",
                        self.dataset.name(),
                        self.normal_class
                    )
                }
            }
        })
    }

    fn dataset_spec(&self, model: &ModelConfig) -> Result<DatasetSpec> {
        let data_dir = match (&self.data_dir, self.dataset) {
            (Some(dir), _) => Some(dir.clone()),
            (None, Dataset::FashionMnist) => data::shared_data("fashion-mnist"),
            (None, Dataset::Brain) => Some(data::shared_data("brain").context(
                "--dataset brain needs --data-dir (healthy subjects: HCP layout or a folder of volumes) and --test-dir (BraTS cases)",
            )?),
            (None, _) => None,
        };
        let brain = (self.dataset == Dataset::Brain).then(|| BrainOptions {
            healthy_dir: data_dir.clone().expect("set above"),
            test_dir: self.test_dir.clone(),
            modalities: self.modalities.clone(),
            slices: SliceConfig {
                min_brain_fraction: self.min_brain_fraction,
                tumour_min_voxels: self.tumour_min_voxels,
                ..SliceConfig::new(model.image_size)
            },
            mask_rule: match self.mask {
                MaskArg::Auto => None,
                MaskArg::Nonzero => Some(MaskRule::NonZero),
                MaskArg::Threshold => Some(MaskRule::Threshold(self.mask_threshold)),
            },
            volume: self.volume,
            synthetic_lesions: !self.no_synthetic_lesions,
            with_templates: self.with_templates,
        });
        if let Some(brain) = &brain {
            brain.slices.validate()?;
            if brain.modalities.is_empty() {
                bail!("--modalities names no modality");
            }
        }
        Ok(DatasetSpec {
            dataset: self.dataset,
            data_dir,
            class: self.normal_class,
            protocol: match self.protocol {
                ProtocolArg::OneClass => Protocol::OneClass,
                ProtocolArg::LeaveOneOut => Protocol::LeaveOneOut,
            },
            validation_fraction: self.validation_fraction.unwrap_or(
                if self.dataset == Dataset::Brain {
                    crate::data::brain_sets::VALIDATION_FRACTION
                } else {
                    lran::data::VALIDATION_FRACTION
                },
            ),
            test_fraction: self.test_fraction,
            seed: self.seed,
            brain,
        })
    }
}

pub fn run(args: TrainArgs, conv: backend::ConvChoice) -> Result<()> {
    if args.normal_class > 9 {
        bail!(
            "--normal-class {} is outside the classes 0–9",
            args.normal_class
        );
    }
    let epochs = args.epochs();
    if epochs == 0 {
        bail!("--epochs must be at least 1");
    }
    let model = args.model_config();
    model.validate()?;
    let mut config = TrainConfig::new(model);
    config.losses = args.losses();
    config.learning_rate = args.lr;
    config.beta1 = args.beta1;
    config.batch_size = args.batch_size;
    config.seed = args.seed;
    config.threshold_percentile = args.threshold_percentile;
    config.augmentation = args.augmentation();
    config.validate()?;

    let spec = args.dataset_spec(&model)?;
    let data = data::load(&spec, &model)?;
    let mut split = data.split;
    if let Some(limit) = args.max_train_images {
        split.train.truncate(limit);
    }
    let selected = backend::select(args.backend, conv)?;
    // run.json records the network; how this device computes its convolutions is the device's.
    let on_device = |config: &TrainConfig| TrainConfig {
        model: config.model.with_conv(selected.conv),
        ..config.clone()
    };
    let run_dir = RunDir::new(&args.runs_dir, &args.run_name());

    let (mut trainer, start) = if args.resume {
        let info = run_dir.read_info()?;
        if info.train != config {
            bail!(
                "--resume: the flags describe a different run than {} (compare with its run.json)",
                run_dir.info_path().display()
            );
        }
        let (state, progress) = run_dir.load_last()?;
        let trainer = Trainer::restore(on_device(&config), &selected.device, state)
            .with_context(|| format!("cannot resume from {}", run_dir.root.display()))?;
        eprintln!(
            "resuming {} after epoch {}",
            run_dir.root.display(),
            progress.epoch
        );
        let selected = if progress.best_epoch > 0 {
            Some(run_dir.load_best()?)
        } else {
            None
        };
        (trainer, FitStart { progress, selected })
    } else {
        if run_dir.root.exists() {
            eprintln!(
                "replacing the earlier run in {} (use --resume to continue it)",
                run_dir.root.display()
            );
            std::fs::remove_dir_all(&run_dir.root)
                .with_context(|| format!("cannot clear {}", run_dir.root.display()))?;
        }
        let trainer = Trainer::new(on_device(&config), &selected.device)?;
        (trainer, FitStart::default())
    };
    let info = RunInfo {
        name: args.run_name(),
        data: spec.clone(),
        dataset_label: data.label.clone(),
        data_files: data.files.clone(),
        cases: data.cases.clone(),
        train: config.clone(),
        epochs,
        device: selected.description.clone(),
        commit: commit(),
        command: command_line(),
    };
    write_json(&run_dir.info_path(), &info)?;

    eprintln!(
        "training {} on {} ({} normal train, {} validation, {} test images{}{}) with {}",
        info.name,
        data.label,
        split.train.len(),
        split.validation.len(),
        split.test.len(),
        if split.excluded > 0 {
            format!(", {} test slices excluded", split.excluded)
        } else {
            String::new()
        },
        split
            .synthetic
            .as_ref()
            .map(|s| format!(", {} synthetic-lesion check images", s.len()))
            .unwrap_or_default(),
        selected.description
    );
    let mut observer = CliObserver {
        run_dir: &run_dir,
        epochs,
        bar: None,
    };
    let data = FitData {
        train: &split.train,
        validation: &split.validation,
        test: (!args.no_test_auc).then_some(&split.test),
    };
    let fitted = trainer.fit(data, epochs, start, &mut observer)?;
    eprintln!(
        "done: {} (selected epoch {}); next: cargo xtask eval --run {}",
        run_dir.root.display(),
        fitted.selected.selection.epoch,
        info.name
    );
    Ok(())
}

/// The command line's view of a fit: a progress bar per epoch, a line per epoch, and the run
/// folder's files (selected weights, last checkpoint, metrics) written as each epoch ends.
struct CliObserver<'a> {
    run_dir: &'a RunDir,
    epochs: u64,
    bar: Option<ProgressBar>,
}

impl FitObserver for CliObserver<'_> {
    type Error = anyhow::Error;

    fn epoch_started(&mut self, epoch: u64, steps: u64) {
        let bar = ProgressBar::new(steps);
        bar.set_style(
            ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {per_sec} {msg}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("{epoch}/{}", self.epochs));
        self.bar = Some(bar);
    }

    fn step(&mut self, l: &StepLosses) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!(
                "G {:.3} rec {:.4} adv {:.4} lat {:.4} low-rank {:.3} D {:.3}",
                l.generator, l.reconstruction, l.adversarial, l.latent, l.low_rank, l.discriminator
            ));
            bar.inc(1);
        }
    }

    fn epoch_done(&mut self, trainer: &Trainer, report: &EpochReport<'_>) -> Result<()> {
        if let Some(bar) = self.bar.take() {
            bar.finish();
        }
        if let Some(selected) = report.newly_selected {
            self.run_dir.save_best(selected)?;
        }
        self.run_dir.save_last(&trainer.state()?, report.progress)?;
        let metrics = report.metrics;
        self.run_dir.append_metrics(metrics)?;
        eprintln!(
            "epoch {}: G {:.4} D {:.4} | validation objective {:.4}{} | {}{:.0} img/s",
            metrics.epoch,
            metrics.train.generator,
            metrics.train.discriminator,
            metrics.validation_objective,
            if metrics.selected { " (selected)" } else { "" },
            match (metrics.test_latent_auc, metrics.test_pixel_auc) {
                (Some(latent), Some(pixel)) => format!(
                    "test AUC latent {latent:.4} pixel {pixel:.4} (not used for selection) | "
                ),
                _ => String::new(),
            },
            metrics.images_per_second
        );
        Ok(())
    }
}
