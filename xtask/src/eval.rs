//! `cargo xtask eval`: score a run's test split with its selected weights (`--run`), or an
//! exported model on labelled data it never saw (`--model` with `--dataset` and its folder).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::Args;
use lran::data::{ImageSet, Split};
use lran::metrics::{RocPoint, ScoreCalibration, roc_curve, thin_curve};
use lran::train::{evaluate, score_set};
use serde::{Deserialize, Serialize};

use crate::backend::{self, Backend};
use crate::data::brain::CaseSummary;
use crate::data::{self, Dataset, DatasetSpec};
use crate::provenance::{commit, now_unix, write_json};
use crate::run::{RunDir, RunInfo};

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Run name (a folder under --runs-dir): its own test split, with its selected weights.
    #[arg(long, required_unless_present = "model", conflicts_with = "model")]
    pub run: Option<String>,
    /// An exported model folder (models/<name>): scored on the labelled data that --dataset
    /// and --data-dir or --test-dir name, read and cut as the model's training data was.
    #[arg(long, requires = "dataset")]
    pub model: Option<PathBuf>,
    /// With --model: what the labelled data is.
    #[arg(long, value_enum, requires = "model")]
    pub dataset: Option<Dataset>,
    /// With --model: mnist or fashion-mnist (the IDX files; mnist without it: the sample built
    /// into the binary), cifar10 (binary batches), folder (<dir>/normal and <dir>/anomalous).
    /// Their whole test split is scored, the model's normal class normal.
    #[arg(long, requires = "model")]
    pub data_dir: Option<PathBuf>,
    /// With --model --dataset brain: the cases with tumour segmentations (BraTS 2019–2023
    /// layouts, a plain folder with <name>_seg, or lran's shared data).
    #[arg(long, requires = "model")]
    pub test_dir: Option<PathBuf>,
    #[arg(long, default_value = "runs")]
    pub runs_dir: PathBuf,
    /// Results file; defaults to <run>/eval.json.
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Backend::Auto)]
    pub backend: Backend,
}

/// The results file: everything needed to trust and reproduce the numbers in it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvalResults {
    pub kind: String,
    pub run: String,
    pub commit: String,
    pub trained_with_commit: String,
    pub dataset: String,
    pub data_files: Vec<(String, String)>,
    /// The data and how it was split (class and protocol, folders, slice settings).
    pub data: DatasetSpec,
    pub seed: u64,
    pub epochs: u64,
    pub selected_epoch: u64,
    pub train_device: String,
    pub eval_device: String,
    pub train_wall_seconds: f64,
    pub eval_wall_seconds: f64,
    pub created_unix: u64,
    pub config: lran::train::TrainConfig,
    pub test_images: usize,
    pub test_anomalous: usize,
    pub latent_auc: f64,
    pub pixel_auc: f64,
    pub roc_latent: Vec<RocPoint>,
    pub roc_pixel: Vec<RocPoint>,
    pub calibration: ScoreCalibration,
    /// Test images left out of the AUCs (slices with a few tumour voxels, fewer than the threshold).
    #[serde(default)]
    pub excluded_test_images: usize,
    /// Brain: each case's role and slice counts.
    #[serde(default)]
    pub cases: Vec<CaseSummary>,
    /// Per test image (when the data names them, e.g. brain slices): its scores.
    #[serde(default)]
    pub test_scores: Vec<ImageScores>,
    /// The check on healthy data alone: validation slices with and without painted lesions.
    #[serde(default)]
    pub synthetic: Option<SyntheticResults>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageScores {
    pub name: String,
    pub anomalous: bool,
    pub latent: f32,
    pub pixel: f32,
}

/// AUCs on SYNTHETIC lesions: never to be reported as tumour detection.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyntheticResults {
    pub note: String,
    pub images: usize,
    pub lesioned: usize,
    pub latent_auc: f64,
    pub pixel_auc: f64,
}

/// Rebuilds a run's split (same data, class, fraction and seed).
pub fn rebuild_split(info: &RunInfo) -> Result<Split> {
    let data = data::load(&info.data, &info.train.model)?;
    if data.files != info.data_files {
        anyhow::bail!(
            "the data files differ from those the run was trained on (their sha256 changed)"
        );
    }
    Ok(data.split)
}

pub fn named_scores(set: &ImageSet, scores: &lran::score::Scores) -> Vec<ImageScores> {
    if set.names.iter().all(|n| n.is_empty()) {
        return Vec::new();
    }
    (0..set.len())
        .map(|i| ImageScores {
            name: set.names[i].clone(),
            anomalous: set.anomalous[i],
            latent: scores.latent[i],
            pixel: scores.pixel[i],
        })
        .collect()
}

pub fn run(args: EvalArgs) -> Result<()> {
    match (&args.run, &args.model) {
        (Some(run), None) => run_eval(run, &args),
        (None, Some(model)) => crate::eval_model::run(model, &args),
        _ => anyhow::bail!("give either --run or --model"),
    }
}

fn run_eval(run: &str, args: &EvalArgs) -> Result<()> {
    let started = Instant::now();
    let run_dir = RunDir::new(&args.runs_dir, run);
    let info = run_dir.read_info()?;
    let (weights, selection) = run_dir.load_best()?;
    let progress = run_dir.read_progress()?;
    let split = rebuild_split(&info)?;
    let selected = backend::select(args.backend)?;
    let device = selected.device.clone();
    let generator = lran::export::load_generator(&info.train.model, weights, &device, &info.name)?;
    let scores = score_set(&generator, &split.test, &info.train.model, &device, 256);
    let evaluation = evaluate(&scores, &split.test.anomalous)?;
    let synthetic = match &split.synthetic {
        Some(set) if !set.is_empty() => {
            let synthetic_scores = score_set(&generator, set, &info.train.model, &device, 256);
            let evaluation = evaluate(&synthetic_scores, &set.anomalous)?;
            Some(SyntheticResults {
                note: "SYNTHETIC lesions painted into healthy validation slices (lran::data::lesion), beside the same slices untouched: a sanity check, not tumour detection".into(),
                images: set.len(),
                lesioned: set.anomalous.iter().filter(|&&a| a).count(),
                latent_auc: evaluation.latent_auc,
                pixel_auc: evaluation.pixel_auc,
            })
        }
        _ => None,
    };
    let thin = |s: &[f32]| -> Result<Vec<RocPoint>> {
        Ok(thin_curve(&roc_curve(s, &split.test.anomalous)?, 201))
    };
    let results = EvalResults {
        kind: "lran-eval/1".into(),
        run: info.name.clone(),
        commit: commit(),
        trained_with_commit: info.commit.clone(),
        dataset: info.dataset_label.clone(),
        data_files: info.data_files.clone(),
        data: info.data.clone(),
        seed: info.train.seed,
        epochs: progress.epoch,
        selected_epoch: selection.epoch,
        train_device: info.device.clone(),
        eval_device: selected.description.clone(),
        train_wall_seconds: progress.wall_seconds,
        eval_wall_seconds: started.elapsed().as_secs_f64(),
        created_unix: now_unix(),
        config: info.train.clone(),
        test_images: split.test.len(),
        test_anomalous: split.test.anomalous.iter().filter(|&&a| a).count(),
        latent_auc: evaluation.latent_auc,
        pixel_auc: evaluation.pixel_auc,
        roc_latent: thin(&scores.latent)?,
        roc_pixel: thin(&scores.pixel)?,
        calibration: selection.calibration.clone(),
        excluded_test_images: split.excluded,
        cases: info.cases.clone(),
        test_scores: named_scores(&split.test, &scores),
        synthetic,
    };
    let out = args.out.clone().unwrap_or_else(|| run_dir.eval_path());
    write_json(&out, &results)?;
    println!(
        "{}: test AUC latent {:.4}, pixel {:.4} ({} images, {} anomalous; epoch {} of {}) -> {}",
        info.name,
        results.latent_auc,
        results.pixel_auc,
        results.test_images,
        results.test_anomalous,
        results.selected_epoch,
        results.epochs,
        out.display()
    );
    if results.excluded_test_images > 0 {
        println!(
            "  {} test slices with 1–{} tumour voxels left out of the AUCs",
            results.excluded_test_images,
            info.data
                .brain
                .as_ref()
                .map_or(0, |b| b.slices.tumour_min_voxels - 1)
        );
    }
    if let Some(synthetic) = &results.synthetic {
        println!(
            "  SYNTHETIC lesion check (not tumour detection): AUC latent {:.4}, pixel {:.4} ({} images, {} with painted lesions)",
            synthetic.latent_auc, synthetic.pixel_auc, synthetic.images, synthetic.lesioned
        );
    }
    Ok(())
}
