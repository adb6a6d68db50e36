//! The model card: `model.json` (what the network is, how its scores read, where it came from)
//! beside the generator's weights as burnpack bytes, and the weights' encoding (f32 or f16).
//! Loading needs only bytes, so the browser loads exactly what the trainer exported.

use burn::module::Module;
use burn::store::{BurnpackStore, HalfPrecisionAdapter, ModuleRecord, ModuleSnapshot};
use burn::tensor::{Bytes, Device};
use serde::{Deserialize, Serialize};

use crate::config::{LossConfig, ModelConfig};
use crate::error::{LranError, Result};
use crate::metrics::ScoreCalibration;
use crate::model::Generator;

/// Version tag of the `model.json` layout.
pub const MODEL_CARD_FORMAT: &str = "lran-model/1";
/// File name of the weights inside an export folder.
pub const WEIGHTS_FILE: &str = "generator.bpk";

/// Where a model came from; every figure the site shows about it traces back to these fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// `git describe --always --dirty` of the code that trained it.
    pub commit: String,
    /// Dataset name, e.g. "mnist" or "mnist-embedded-sample".
    pub dataset: String,
    /// Normal class of a one-class split.
    pub normal_class: Option<u8>,
    /// (file name, sha256) of every data file read.
    pub data_files: Vec<(String, String)>,
    pub seed: u64,
    /// Epochs trained, and the epoch whose weights were kept (chosen on validation data).
    pub epochs: u64,
    pub selected_epoch: u64,
    /// Backend and adapter, e.g. "flex (CPU)" or "wgpu: NVIDIA H200 (Vulkan)".
    pub device: String,
    pub learning_rate: f64,
    pub batch_size: usize,
    pub wall_seconds: f64,
    /// UTC seconds since the epoch when training finished.
    pub created_unix: u64,
    /// The command line that trained it.
    pub command: String,
}

/// `model.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    pub format: String,
    pub name: String,
    pub model: ModelConfig,
    pub losses: LossConfig,
    /// How pixels become input; see `preprocess`.
    pub preprocessing: String,
    /// Statistics of healthy validation scores; the latent one is the decision score.
    pub calibration: ScoreCalibration,
    pub provenance: Provenance,
    /// Test-set results written at export time (AUCs etc.), as the evaluator wrote them.
    #[serde(default)]
    pub results: Option<serde_json::Value>,
    /// Brain models: how a volume becomes slices (modalities as channels, slice settings), so
    /// the page cuts uploaded volumes exactly as training did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brain_input: Option<crate::data::brain::BrainInput>,
    /// The latent explorer's reference points and projection basis (`lran::latent_views`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latent_views: Option<crate::latent_views::LatentViews>,
    /// Weights file name and size in bytes.
    pub weights_file: String,
    pub weights_bytes: usize,
    /// How the weights are stored: f32, or f16 for the convolutions (BatchNorm stays f32; the
    /// model computes in f32 either way). Absent in older cards: f32.
    #[serde(default)]
    pub weights_precision: WeightsPrecision,
}

/// Storage precision of exported weights.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WeightsPrecision {
    #[default]
    F32,
    /// Convolution weights and biases as IEEE half floats: half the download, scores within
    /// 1 % of the f32 weights' (checked by tests/export.rs; the calibration stored with the model
    /// is the f32 weights').
    F16,
}

impl ModelCard {
    /// A card for `weights_bytes` bytes of weights in `precision`, with no provenance, results,
    /// brain input or latent views yet (the exporter adds those it has).
    pub fn new(
        name: &str,
        model: ModelConfig,
        losses: LossConfig,
        preprocessing: &str,
        calibration: ScoreCalibration,
        weights_bytes: usize,
        weights_precision: WeightsPrecision,
    ) -> Self {
        Self {
            format: MODEL_CARD_FORMAT.into(),
            name: name.into(),
            model,
            losses,
            preprocessing: preprocessing.into(),
            calibration,
            provenance: Provenance::default(),
            results: None,
            brain_input: None,
            latent_views: None,
            weights_file: WEIGHTS_FILE.into(),
            weights_bytes,
            weights_precision,
        }
    }

    pub fn from_json(name: &str, json: &str) -> Result<Self> {
        let card: ModelCard = serde_json::from_str(json)
            .map_err(|e| LranError::model(name, format!("model.json is not valid: {e}")))?;
        if card.format != MODEL_CARD_FORMAT {
            return Err(LranError::model(
                name,
                format!(
                    "model.json format {:?} is not {MODEL_CARD_FORMAT:?}",
                    card.format
                ),
            ));
        }
        card.model
            .validate()
            .map_err(|e| LranError::model(name, e.to_string()))?;
        // A brain model states its slice pipeline too: its slices must be the network's input.
        if let Some(brain) = &card.brain_input {
            if brain.slices.image_size != card.model.image_size {
                return Err(LranError::model(
                    name,
                    format!(
                        "model.json cuts {0}×{0} brain slices for a {1}×{1} network",
                        brain.slices.image_size, card.model.image_size
                    ),
                ));
            }
            if brain.modalities.len() != card.model.channels {
                return Err(LranError::model(
                    name,
                    format!(
                        "model.json names {} modalities for a network of {} channels",
                        brain.modalities.len(),
                        card.model.channels
                    ),
                ));
            }
        }
        Ok(card)
    }
}

/// The preprocessing every export states (see [`crate::preprocess`]).
pub const PREPROCESSING: &str =
    "grayscale (luminance) or RGB, bilinear resize to image_size, intensity/127.5 - 1";
/// Brain models' preprocessing (lran::data::brain).
pub const BRAIN_PREPROCESSING: &str = "NIfTI reoriented to RAS, axial slices (radiological view); brain mask; z-score inside the brain clipped at ±z_clip and scaled to [-1, 1], -1 outside; crop to the brain box with a margin, padded square in mm, area-averaged resize to image_size";

/// Generator weights as burnpack bytes.
pub fn generator_bytes(generator: &Generator) -> Result<Vec<u8>> {
    generator
        .clone()
        .into_record()
        .into_bytes()
        .map(|b| b.to_vec())
        .map_err(|e| LranError::model("generator", format!("cannot serialise weights: {e}")))
}

/// Generator weights as burnpack bytes in `precision` (f16: the convolutions' tensors cast by
/// burn-store's half-precision adapter on the way out).
pub fn generator_bytes_in(generator: &Generator, precision: WeightsPrecision) -> Result<Vec<u8>> {
    match precision {
        WeightsPrecision::F32 => generator_bytes(generator),
        WeightsPrecision::F16 => {
            let mut store =
                BurnpackStore::from_bytes(None).with_to_adapter(HalfPrecisionAdapter::new());
            let problem = |e: &dyn std::fmt::Display| {
                LranError::model("generator", format!("cannot serialise weights: {e}"))
            };
            generator.save_into(&mut store).map_err(|e| problem(&e))?;
            store
                .get_bytes()
                .map(|b| b.to_vec())
                .map_err(|e| problem(&e))
        }
    }
}

/// Loads burnpack `bytes` into `module`, refusing weights that do not fit its shapes.
pub(crate) fn load_weights<M: Module>(module: M, bytes: Vec<u8>, what: &str) -> Result<M> {
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes))
        .map_err(|e| LranError::model(what, format!("unreadable weights: {e}")))?;
    module
        .try_load_record(record)
        .map_err(|e| LranError::model(what, format!("weights do not fit the network: {e}")))
}

/// Loads f16 burnpack `bytes` (written by [`generator_bytes_in`]) into `module` as f32,
/// refusing weights that are unreadable, missing, or do not fit its shapes.
fn load_half_weights<M: Module>(mut module: M, bytes: Vec<u8>, what: &str) -> Result<M> {
    let mut store = BurnpackStore::from_bytes(Some(Bytes::from_bytes_vec(bytes)))
        .with_from_adapter(HalfPrecisionAdapter::new());
    let result = module
        .load_from(&mut store)
        .map_err(|e| LranError::model(what, format!("unreadable weights: {e}")))?;
    if !result.errors.is_empty() || !result.missing.is_empty() {
        let mut problems: Vec<String> = result.errors.iter().map(|e| format!("{e:?}")).collect();
        problems.extend(
            result
                .missing
                .iter()
                .map(|(path, _)| format!("{path} is missing")),
        );
        problems.truncate(3);
        return Err(LranError::model(
            what,
            format!("weights do not fit the network: {}", problems.join("; ")),
        ));
    }
    Ok(module)
}

/// A generator with `bytes` (f32 burnpack) loaded, on `device` without autodiff, in inference
/// mode.
pub fn load_generator(
    config: &ModelConfig,
    bytes: Vec<u8>,
    device: &Device,
    name: &str,
) -> Result<Generator> {
    load_generator_in(config, bytes, WeightsPrecision::F32, device, name)
}

/// [`load_generator`] for weights stored in `precision`.
pub fn load_generator_in(
    config: &ModelConfig,
    bytes: Vec<u8>,
    precision: WeightsPrecision,
    device: &Device,
    name: &str,
) -> Result<Generator> {
    let device = device.clone().inner();
    let generator = Generator::new(config, &device);
    Ok(match precision {
        WeightsPrecision::F32 => load_weights(generator, bytes, name)?,
        WeightsPrecision::F16 => load_half_weights(generator, bytes, name)?,
    }
    .valid())
}
