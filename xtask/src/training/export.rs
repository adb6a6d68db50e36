//! `cargo xtask export`: a run's selected weights and model.json, in a folder the page loads.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use lran::card::{
    BRAIN_PREPROCESSING, ModelCard, PREPROCESSING, Provenance, WEIGHTS_FILE, WeightsPrecision,
};
use lran::data::Protocol;
use lran::data::brain::BrainInput;

use lran::burn::tensor::Device;
use lran::latent_views::{LatentPoint, LatentViews};

use crate::provenance::{now_unix, read_json, write_json};
use crate::training::eval::EvalResults;
use crate::training::run_dir::RunDir;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Run name (a folder under --runs-dir).
    #[arg(long)]
    pub run: String,
    #[arg(long, default_value = "runs")]
    pub runs_dir: PathBuf,
    /// Model name, the folder under --out; defaults to the run name.
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long, default_value = "models")]
    pub out: PathBuf,
    /// The evaluation to ship with the model (its AUCs go into model.json): a results file of
    /// `cargo xtask eval` or `reproduce`; defaults to the run's own eval.json.
    #[arg(long)]
    pub results: Option<PathBuf>,
    /// Storage precision of the weights: f16 (the convolutions as half floats, half the page's
    /// download) or f32.
    #[arg(long, value_enum, default_value = "f16")]
    pub precision: PrecisionArg,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum PrecisionArg {
    F16,
    F32,
}

pub fn run(args: ExportArgs) -> Result<()> {
    let run_dir = RunDir::new(&args.runs_dir, &args.run);
    let info = run_dir.read_info()?;
    let lran::fit::Selected {
        generator: trained_weights,
        selection,
    } = run_dir.load_best()?;
    let precision = match args.precision {
        PrecisionArg::F16 => WeightsPrecision::F16,
        PrecisionArg::F32 => WeightsPrecision::F32,
    };
    // Re-encoded in the chosen precision; the latent views below come from these very bytes,
    // so the page's reference points are what its weights compute.
    let weights = lran::card::generator_bytes_in(
        &lran::card::load_generator(
            &info.train.model,
            trained_weights,
            &Device::flex(),
            &info.name,
        )?,
        precision,
    )?;
    let progress = run_dir.read_progress()?;
    let results_path = args.results.clone().unwrap_or_else(|| run_dir.eval_path());
    let results: Option<EvalResults> = if results_path.exists() {
        Some(read_json(&results_path)?)
    } else if args.results.is_some() {
        anyhow::bail!("--results: {} does not exist", results_path.display());
    } else {
        None
    };
    if let Some(results) = &results
        && results.run != info.name
    {
        anyhow::bail!(
            "{} evaluates run {}, not {}",
            results_path.display(),
            results.run,
            info.name
        );
    }
    let name = args.name.unwrap_or_else(|| info.name.clone());
    let summary = results.as_ref().map(|r| {
        serde_json::json!({
            "source": results_path
                .strip_prefix(crate::provenance::repository_root())
                .unwrap_or(&results_path)
                .display()
                .to_string(),
            "commit": r.header.commit,
            "dataset": r.dataset,
            "test_images": r.pooled.test_images,
            "test_anomalous": r.pooled.test_anomalous,
            "latent_auc": r.pooled.latent_auc,
            "pixel_auc": r.pooled.pixel_auc,
            "eval_device": r.eval_device,
        })
    });
    let preprocessing = if info.data.brain.is_some() {
        BRAIN_PREPROCESSING
    } else {
        PREPROCESSING
    };
    let mut card = ModelCard::new(
        &name,
        info.train.model,
        info.train.losses,
        preprocessing,
        selection.calibration,
        weights.len(),
        precision,
    );
    card.provenance = Provenance {
        commit: info.commit.clone(),
        dataset: info.dataset_label.clone(),
        normal_class: (info.data.dataset.has_classes() && info.data.protocol == Protocol::OneClass)
            .then_some(info.data.class),
        data_files: info.data_files.clone(),
        seed: info.train.seed,
        epochs: progress.epoch,
        selected_epoch: selection.epoch,
        device: info.device.clone(),
        learning_rate: info.train.learning_rate,
        batch_size: info.train.batch_size,
        wall_seconds: progress.wall_seconds,
        created_unix: now_unix(),
        command: info.command.clone(),
    };
    card.results = summary;
    card.brain_input = info.data.brain.as_ref().map(|brain| BrainInput {
        modalities: brain
            .modalities
            .iter()
            .map(|m| m.name().to_string())
            .collect(),
        slices: brain.slices.clone(),
        mask_rule: brain.mask_rule,
    });
    card.latent_views = match latent_views(&info, &weights, precision) {
        Ok(views) => Some(views),
        Err(error) => {
            eprintln!("warning: no latent views in model.json: {error:#}");
            None
        }
    };
    let dir = args.out.join(&name);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::write(dir.join(WEIGHTS_FILE), &weights)
        .with_context(|| format!("cannot write {}", dir.join(WEIGHTS_FILE).display()))?;
    write_json(&dir.join("model.json"), &card)?;
    // The full evaluation (ROC curves, calibration) travels with the model for the results pages.
    if let Some(results) = &results {
        write_json(&dir.join("eval.json"), results)?;
    }
    println!(
        "exported {} ({} KiB of weights) -> {}",
        name,
        weights.len() / 1024,
        dir.display()
    );
    Ok(())
}

/// Reference points per set in the latent explorer: enough to see the clouds, small enough
/// for model.json.
const POINTS_PER_SET: usize = 150;

/// The latent explorer's data: the principal axes of the healthy validation latents, and up to
/// `POINTS_PER_SET` healthy-validation, anomalous-test and normal-test images projected on them
/// (an even spread over each set, so every case or class shows).
fn latent_views(
    info: &crate::training::run_dir::RunInfo,
    weights: &[u8],
    precision: WeightsPrecision,
) -> Result<LatentViews> {
    let split = crate::training::eval::rebuild_split(info)?;
    let device = Device::flex();
    let config = &info.train.model;
    let generator =
        lran::card::load_generator_in(config, weights.to_vec(), precision, &device, &info.name)?;
    let dim = config.latent_dim;
    // z and score of every image at `indices`.
    let encode = |set: &lran::data::ImageSet, indices: &[usize]| -> (Vec<Vec<f32>>, Vec<f32>) {
        let mut rows = Vec::new();
        let mut scores = Vec::new();
        for chunk in indices.chunks(64) {
            let (z, score) =
                lran::latent_views::latents(&generator, set.batch(chunk, config, &device));
            rows.extend(z.chunks_exact(dim).map(<[f32]>::to_vec));
            scores.extend(score);
        }
        (rows, scores)
    };
    let spread = |candidates: Vec<usize>| -> Vec<usize> {
        let step = (candidates.len() as f64 / POINTS_PER_SET as f64).max(1.0);
        (0..candidates.len().min(POINTS_PER_SET))
            .map(|k| candidates[(k as f64 * step) as usize])
            .collect()
    };
    // The axes from every healthy validation image; the points from a spread of them, taken
    // from the same pass.
    let all_validation: Vec<usize> = (0..split.validation.len()).collect();
    let (healthy, healthy_scores) = encode(&split.validation, &all_validation);
    let (mean, axes, explained_variance) = lran::latent_views::principal_axes(&healthy, dim)?;
    let mut views = LatentViews {
        mean,
        axes,
        explained_variance,
        points: Vec::new(),
    };
    let mut add = |label: &str, set: &lran::data::ImageSet, i: usize, row: &[f32], score: f32| {
        let xyz = views.project(row);
        views.points.push(LatentPoint {
            set: label.into(),
            name: set.names.get(i).cloned().unwrap_or_default(),
            xyz,
            score,
        });
    };
    for i in spread(all_validation) {
        add(
            "healthy-validation",
            &split.validation,
            i,
            &healthy[i],
            healthy_scores[i],
        );
    }
    for (label, anomalous) in [("anomalous-test", true), ("normal-test", false)] {
        let indices = spread(
            (0..split.test.len())
                .filter(|&i| split.test.anomalous[i] == anomalous)
                .collect(),
        );
        let (rows, scores) = encode(&split.test, &indices);
        for ((row, score), &i) in rows.iter().zip(scores).zip(&indices) {
            add(label, &split.test, i, row, score);
        }
    }
    Ok(views)
}
