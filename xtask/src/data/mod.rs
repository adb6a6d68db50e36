//! Datasets from disk, as a [`DatasetSpec`] names them; the spec is stored with each run so
//! `eval` rebuilds exactly the split training used.

pub mod brain_layouts;
pub mod brain_sets;
pub mod folder;
pub mod inspect;
pub mod labelled;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use lran::ModelConfig;
use lran::data::{Protocol, Split};
use serde::{Deserialize, Serialize};

use brain_sets::{BrainOptions, CaseSummary};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dataset {
    /// MNIST (IDX files; without --data-dir, the sample built into the binary).
    Mnist,
    /// Fashion-MNIST (IDX files).
    FashionMnist,
    /// CIFAR-10, binary version (data_batch_1..5.bin, test_batch.bin).
    Cifar10,
    /// Your images: <dir>/normal/ and <dir>/anomalous/ (PNG or JPEG).
    Folder,
    /// Brain MRI: healthy subjects for training (HCP, a plain folder, or the shared data), tumour
    /// cases with segmentations for testing (BraTS 2019–2023).
    Brain,
}

impl Dataset {
    pub fn name(self) -> &'static str {
        match self {
            Dataset::Mnist => "mnist",
            Dataset::FashionMnist => "fashion-mnist",
            Dataset::Cifar10 => "cifar10",
            Dataset::Folder => "folder",
            Dataset::Brain => "brain",
        }
    }

    pub fn has_classes(self) -> bool {
        matches!(
            self,
            Dataset::Mnist | Dataset::FashionMnist | Dataset::Cifar10
        )
    }
}

/// Everything that decides which images land in which part of the split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetSpec {
    pub dataset: Dataset,
    /// `None`: MNIST's embedded sample.
    pub data_dir: Option<PathBuf>,
    /// The chosen class of a ten-class benchmark (normal under one-class, anomalous under
    /// leave-one-out).
    pub class: u8,
    pub protocol: Protocol,
    /// Share of the normal training images (brain: of the healthy subjects) held out for validation.
    pub validation_fraction: f64,
    /// Image folders: share of the normal images held out for the test.
    pub test_fraction: f64,
    pub seed: u64,
    pub brain: Option<BrainOptions>,
}

pub struct LoadedData {
    pub label: String,
    pub split: Split,
    /// (file, sha256) of everything read.
    pub files: Vec<(String, String)>,
    /// Brain datasets: per-case summaries.
    pub cases: Vec<CaseSummary>,
    /// Brain datasets: what the evaluation protocol knows of each validation and test slice.
    pub brain_slices: Option<brain_sets::BrainSlices>,
}

/// `../shared/data/<name>` beside the checkout, where lran's own data lives (CI has it; a user's
/// clone usually does not).
pub fn shared_data(name: &str) -> Option<PathBuf> {
    let dir = crate::provenance::repository_root()
        .join("../shared/data")
        .join(name);
    dir.is_dir().then(|| dir.canonicalize().unwrap_or(dir))
}

/// `--data-dir`, or else the shared brain data, or an error saying to pass one.
pub fn brain_dir_or_shared(data_dir: Option<PathBuf>) -> Result<PathBuf> {
    match data_dir {
        Some(dir) => Ok(dir),
        None => shared_data("brain").context("no ../shared/data/brain: pass --data-dir"),
    }
}

pub fn load(spec: &DatasetSpec, config: &ModelConfig) -> Result<LoadedData> {
    let split_classes = |loaded: labelled::LoadedLabelled| -> Result<LoadedData> {
        loaded.check_channels(config)?;
        let split = Split::labelled_classes(
            &loaded.train,
            &loaded.test,
            spec.class,
            spec.protocol,
            spec.validation_fraction,
            spec.seed,
            config,
        )?;
        Ok(LoadedData {
            label: loaded.name,
            split,
            files: loaded.files,
            cases: Vec::new(),
            brain_slices: None,
        })
    };
    match spec.dataset {
        Dataset::Mnist => match &spec.data_dir {
            None => split_classes(labelled::mnist_sample()?),
            Some(dir) => split_classes(labelled::load_idx("mnist", dir)?),
        },
        Dataset::FashionMnist => {
            split_classes(labelled::load_idx("fashion-mnist", required_dir(spec)?)?)
        }
        Dataset::Cifar10 => split_classes(labelled::load_cifar10(required_dir(spec)?)?),
        Dataset::Folder => {
            let dir = required_dir(spec)?;
            let loaded = folder::load(
                dir,
                spec.validation_fraction,
                spec.test_fraction,
                spec.seed,
                config,
            )?;
            Ok(LoadedData {
                label: format!("folder:{}", labelled::file_name(dir)),
                split: loaded.split,
                files: loaded.files,
                cases: Vec::new(),
                brain_slices: None,
            })
        }
        Dataset::Brain => {
            let Some(options) = &spec.brain else {
                bail!("a brain dataset needs its brain options")
            };
            if options.slices.image_size != config.image_size
                || options.modalities.len() != config.channels
            {
                bail!(
                    "the model takes {}×{} images with {} channels but the slices are {} px with {} modalities",
                    config.image_size,
                    config.image_size,
                    config.channels,
                    options.slices.image_size,
                    options.modalities.len()
                );
            }
            let loaded = brain_sets::load_split(options, spec.validation_fraction, spec.seed)?;
            let layouts: Vec<String> = loaded
                .layouts
                .iter()
                .map(|l| l.name().to_string())
                .collect();
            let mut layouts_unique = layouts.clone();
            layouts_unique.dedup();
            let modalities: Vec<&str> = options.modalities.iter().map(|m| m.name()).collect();
            Ok(LoadedData {
                label: format!(
                    "brain:{}:{}",
                    layouts_unique.join("+"),
                    modalities.join("+")
                ),
                split: loaded.split,
                files: loaded.files,
                cases: loaded.cases,
                brain_slices: Some(loaded.slices),
            })
        }
    }
}

fn required_dir(spec: &DatasetSpec) -> Result<&Path> {
    spec.data_dir
        .as_deref()
        .ok_or_else(|| anyhow::anyhow!("--dataset {} needs --data-dir", spec.dataset.name()))
}
