//! A training run on disk: `runs/<name>/` holds the run description, per-epoch metrics
//! (JSON lines), the last checkpoint (for `--resume`) and the validation-selected weights.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use lran::fit::{EpochMetrics, FitProgress, Selected, Selection};
use lran::train::{TrainConfig, TrainerState};
use serde::{Deserialize, Serialize};

use crate::data::DatasetSpec;
use crate::data::brain_sets::CaseSummary;
use crate::provenance::{read_json, write_json};

/// What a run is: enough to rebuild its data split and network.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunInfo {
    pub name: String,
    /// Which data, split how.
    pub data: DatasetSpec,
    pub dataset_label: String,
    pub data_files: Vec<(String, String)>,
    /// Brain datasets: each case's role (train, validation, test) and slice counts.
    #[serde(default)]
    pub cases: Vec<CaseSummary>,
    pub train: TrainConfig,
    pub epochs: u64,
    pub device: String,
    pub commit: String,
    pub command: String,
}

pub struct RunDir {
    pub root: PathBuf,
}

const WEIGHTS: [&str; 4] = [
    "generator.bpk",
    "discriminator.bpk",
    "generator-optimizer.bpk",
    "discriminator-optimizer.bpk",
];

impl RunDir {
    pub fn new(runs: &Path, name: &str) -> Self {
        Self {
            root: runs.join(name),
        }
    }

    pub fn info_path(&self) -> PathBuf {
        self.root.join("run.json")
    }
    pub fn metrics_path(&self) -> PathBuf {
        self.root.join("metrics.jsonl")
    }
    fn last(&self) -> PathBuf {
        self.root.join("checkpoints/last")
    }
    pub fn best(&self) -> PathBuf {
        self.root.join("checkpoints/best")
    }
    pub fn eval_path(&self) -> PathBuf {
        self.root.join("eval.json")
    }

    pub fn read_info(&self) -> Result<RunInfo> {
        read_json(&self.info_path())
            .with_context(|| format!("{} is not a training run", self.root.display()))
    }

    pub fn append_metrics(&self, metrics: &EpochMetrics) -> Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.metrics_path())
            .with_context(|| format!("cannot open {}", self.metrics_path().display()))?;
        writeln!(file, "{}", serde_json::to_string(metrics)?)?;
        Ok(())
    }

    /// Every epoch's line of `metrics.jsonl`, in order (a resumed run's repeated epochs: the last).
    pub fn read_metrics(&self) -> Result<Vec<EpochMetrics>> {
        let path = self.metrics_path();
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let mut epochs: Vec<EpochMetrics> = Vec::new();
        for (n, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let metrics: EpochMetrics = serde_json::from_str(line)
                .with_context(|| format!("{} line {}", path.display(), n + 1))?;
            epochs.retain(|e| e.epoch < metrics.epoch);
            epochs.push(metrics);
        }
        Ok(epochs)
    }

    /// Writes the last checkpoint atomically enough for `--resume`: files first, progress last.
    pub fn save_last(&self, state: &TrainerState, progress: &FitProgress) -> Result<()> {
        let dir = self.last();
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let parts = [
            &state.generator,
            &state.discriminator,
            &state.generator_optimizer,
            &state.discriminator_optimizer,
        ];
        for (name, bytes) in WEIGHTS.iter().zip(parts) {
            std::fs::write(dir.join(name), bytes)
                .with_context(|| format!("cannot write {}", dir.join(name).display()))?;
        }
        write_json(&dir.join("progress.json"), progress)
    }

    /// Where training stood after its last completed epoch.
    pub fn read_progress(&self) -> Result<FitProgress> {
        read_json(&self.last().join("progress.json"))
            .with_context(|| format!("run {} has no completed epoch", self.root.display()))
    }

    pub fn load_last(&self) -> Result<(TrainerState, FitProgress)> {
        let dir = self.last();
        let progress = self.read_progress()?;
        let mut parts = Vec::new();
        for name in WEIGHTS {
            let path = dir.join(name);
            parts.push(
                std::fs::read(&path)
                    .with_context(|| format!("unreadable checkpoint file {}", path.display()))?,
            );
        }
        let [
            generator,
            discriminator,
            generator_optimizer,
            discriminator_optimizer,
        ]: [Vec<u8>; 4] = parts.try_into().expect("four parts");
        let state = TrainerState {
            generator,
            discriminator,
            generator_optimizer,
            discriminator_optimizer,
            steps: progress.steps,
        };
        Ok((state, progress))
    }

    pub fn save_best(&self, selected: &Selected) -> Result<()> {
        let dir = self.best();
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        std::fs::write(dir.join("generator.bpk"), &selected.generator)?;
        write_json(&dir.join("selection.json"), &selected.selection)
    }

    pub fn load_best(&self) -> Result<Selected> {
        let dir = self.best();
        let selection: Selection = read_json(&dir.join("selection.json")).with_context(|| {
            format!(
                "run {} has no selected weights yet (train it first)",
                self.root.display()
            )
        })?;
        let path = dir.join("generator.bpk");
        let generator = std::fs::read(&path)
            .with_context(|| format!("unreadable weights {}", path.display()))?;
        Ok(Selected {
            generator,
            selection,
        })
    }
}
