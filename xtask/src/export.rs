//! `cargo xtask export`: a run's selected weights and model.json, in a folder the page loads.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use lran::data::Protocol;
use lran::data::brain::BrainInput;
use lran::export::{
    BRAIN_PREPROCESSING, MODEL_CARD_FORMAT, ModelCard, PREPROCESSING, Provenance, WEIGHTS_FILE,
};

use crate::eval::EvalResults;
use crate::provenance::{now_unix, read_json, write_json};
use crate::run::RunDir;

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
}

pub fn run(args: ExportArgs) -> Result<()> {
    let run_dir = RunDir::new(&args.runs_dir, &args.run);
    let info = run_dir.read_info()?;
    let (weights, selection) = run_dir.load_best()?;
    let progress = run_dir.read_progress()?;
    let results: Option<EvalResults> = if run_dir.eval_path().exists() {
        Some(read_json(&run_dir.eval_path())?)
    } else {
        None
    };
    let name = args.name.unwrap_or_else(|| info.name.clone());
    let summary = results.as_ref().map(|r| {
        serde_json::json!({
            "source": "cargo xtask eval",
            "commit": r.commit,
            "dataset": r.dataset,
            "test_images": r.test_images,
            "test_anomalous": r.test_anomalous,
            "latent_auc": r.latent_auc,
            "pixel_auc": r.pixel_auc,
            "eval_device": r.eval_device,
        })
    });
    let card = ModelCard {
        format: MODEL_CARD_FORMAT.into(),
        name: name.clone(),
        model: info.train.model,
        losses: info.train.losses,
        preprocessing: if info.data.brain.is_some() {
            BRAIN_PREPROCESSING
        } else {
            PREPROCESSING
        }
        .into(),
        calibration: selection.calibration,
        provenance: Provenance {
            commit: info.commit.clone(),
            dataset: info.dataset_label.clone(),
            normal_class: (info.data.dataset.has_classes()
                && info.data.protocol == Protocol::OneClass)
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
        },
        results: summary,
        brain_input: info.data.brain.as_ref().map(|brain| BrainInput {
            modalities: brain
                .modalities
                .iter()
                .map(|m| m.name().to_string())
                .collect(),
            slices: brain.slices.clone(),
            mask_rule: brain.mask_rule,
        }),
        weights_file: WEIGHTS_FILE.into(),
        weights_bytes: weights.len(),
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
