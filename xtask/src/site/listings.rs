//! What the page lists beside its WebAssembly: `www/pkg/models.json` (every exported model under
//! `models/`) and `www/pkg/samples.json` (the gallery of sample images per model).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use lran::card::ModelCard;
use serde::Serialize;

use crate::data::labelled;
use crate::provenance::{read_json, write_json};

/// One exported model as the page lists it.
#[derive(Debug, Serialize)]
pub struct ListedModel {
    pub name: String,
    /// What the model picker shows.
    pub label: String,
    /// Brain models are listed first (the page's default); not for the page.
    #[serde(skip)]
    pub dataset: String,
    /// The normal class of a one-class model (the gallery picks its digits); not for the page.
    #[serde(skip)]
    pub normal_class: Option<u8>,
    /// The weights beside model.json, fetched with it.
    pub weights_file: String,
    /// Download size: weights plus model.json.
    pub bytes: u64,
}

/// `www/pkg/models.json`: every folder under `models/` holding a valid `model.json`.
pub fn write_model_list(root: &Path, pkg: &Path) -> Result<Vec<ListedModel>> {
    let mut models = Vec::new();
    let dir = root.join("models");
    let mut entries: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(read) => read.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(_) => Vec::new(),
    };
    entries.sort();
    for folder in entries {
        let card_path = folder.join("model.json");
        let Ok(text) = std::fs::read_to_string(&card_path) else {
            continue;
        };
        let card = ModelCard::from_json(&card_path.display().to_string(), &text)?;
        let weights = folder.join(&card.weights_file);
        let weights_len = std::fs::metadata(&weights)
            .with_context(|| format!("{} is missing", weights.display()))?
            .len();
        let name = folder.file_name().unwrap().to_string_lossy().into_owned();
        let what = match (&card.brain_input, card.provenance.normal_class) {
            (Some(input), _) => format!(
                "Brain MRI, {} slices",
                input.modalities.join("+").to_uppercase()
            ),
            (None, Some(class)) => format!("{}, normal class {class}", card.provenance.dataset),
            (None, None) => card.provenance.dataset.clone(),
        };
        models.push(ListedModel {
            label: format!("{what} ({name})"),
            name,
            dataset: card.provenance.dataset.clone(),
            normal_class: card.provenance.normal_class,
            weights_file: card.weights_file.clone(),
            bytes: weights_len + text.len() as u64,
        });
    }
    // Brain models first: the page is about brain MRI, and its first model is the default.
    models.sort_by_key(|m| (!m.dataset.starts_with("brain"), m.name.clone()));
    write_json(
        &pkg.join("models.json"),
        &serde_json::json!({ "models": models }),
    )?;
    Ok(models)
}

/// A sample image for visitors to try.
#[derive(Debug, Serialize)]
struct Sample {
    file: String,
    /// Where the page fetches it, relative to the site root.
    url: String,
    /// The model this sample is meant for.
    model: String,
    /// "normal"/"anomalous" (MNIST: for that model), "healthy"/"tumour" (brain).
    kind: String,
    description: String,
    source: String,
}

/// `www/pkg/samples.json`, the gallery per model: for each MNIST model three test digits of its
/// normal class and three of others, written to `www/pkg/samples/` from the embedded sample of
/// the official MNIST test set; for each brain model the committed slices of
/// `www/samples/brain/` (`cargo xtask samples` cut them from the shared data).
pub fn write_samples(root: &Path, pkg: &Path, models: &[ListedModel]) -> Result<()> {
    let dir = pkg.join("samples");
    std::fs::create_dir_all(&dir)?;
    let mut samples = Vec::new();
    let mnist = models
        .iter()
        .filter(|m| m.dataset.starts_with("mnist"))
        .collect::<Vec<_>>();
    if !mnist.is_empty() {
        let test = labelled::mnist_sample()?.test;
        for model in mnist {
            let Some(normal) = model.normal_class else {
                continue;
            };
            let normals = (0..test.len())
                .filter(|&i| test.labels[i] == normal)
                .take(3);
            let others = (0..test.len())
                .filter(|&i| test.labels[i] != normal)
                .take(3);
            for index in normals.chain(others) {
                let label = test.labels[index];
                let file = format!("{}-digit{label}-test{index}.png", model.name);
                let image = image::GrayImage::from_raw(
                    test.width as u32,
                    test.height as u32,
                    test.image(index).to_vec(),
                )
                .context("MNIST image size")?;
                image
                    .save(dir.join(&file))
                    .with_context(|| format!("cannot write {file}"))?;
                let normal = label == normal;
                samples.push(Sample {
                    url: format!("www/pkg/samples/{file}"),
                    file,
                    model: model.name.clone(),
                    kind: if normal { "normal" } else { "anomalous" }.into(),
                    description: format!(
                        "digit {label} ({})",
                        if normal {
                            "the normal class"
                        } else {
                            "an anomaly for this model"
                        }
                    ),
                    source: format!("MNIST test set, image {index}"),
                });
            }
        }
    }
    let brain_manifest = root.join("www/samples/brain/samples.json");
    let brain: Option<crate::site::samples::BrainSamples> = if brain_manifest.is_file() {
        Some(read_json(&brain_manifest)?)
    } else {
        None
    };
    for model in models.iter().filter(|m| m.dataset.starts_with("brain")) {
        for sample in brain.iter().flat_map(|b| &b.samples) {
            samples.push(Sample {
                file: sample.file.clone(),
                url: format!("www/samples/brain/{}", sample.file),
                model: model.name.clone(),
                kind: sample.kind.clone(),
                description: sample.description.clone(),
                source: sample.source.clone(),
            });
        }
    }
    write_json(
        &pkg.join("samples.json"),
        &serde_json::json!({ "samples": samples }),
    )
}
