//! Exported models: `model.json` (what the network is, how its scores read, where it came from)
//! beside the generator's weights as burnpack bytes. Loading needs only bytes, so the browser
//! loads exactly what the trainer exported.

use burn::module::Module;
use burn::store::{BurnpackStore, HalfPrecisionAdapter, ModuleRecord, ModuleSnapshot};
use burn::tensor::{Bytes, Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::config::{LossConfig, ModelConfig};
use crate::error::{LranError, Result};
use crate::metrics::ScoreCalibration;
use crate::model::Generator;
use crate::score::{DetailedScores, DetailedTensors, Scores, floats, score_batch};

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

/// One image's full result, what the viewer shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageReport {
    pub latent_score: f32,
    pub pixel_score: f32,
    /// Latent score min–max normalised by healthy validation scores.
    pub normalised_score: f32,
    /// Percent of healthy validation images scoring lower.
    pub healthy_percentile: f64,
    pub threshold: f32,
    pub anomalous: bool,
    /// What the model saw after preprocessing: `channels × size × size` in [−1, 1].
    pub input: Vec<f32>,
    /// `channels × size × size` in [−1, 1].
    pub reconstruction: Vec<f32>,
    /// `size × size` absolute residual.
    pub residual: Vec<f32>,
    /// z = E(x).
    pub latent: Vec<f32>,
    /// ẑ = E′(x̂).
    pub reconstructed_latent: Vec<f32>,
    /// z on the model's three principal axes of healthy validation latents (`latent_views`),
    /// where model.json has them: the image's place in the latent explorer.
    pub latent_xyz: Option<[f32; 3]>,
}

/// A loaded export, ready to score preprocessed images (BatchNorm in inference mode).
pub struct ScoringModel {
    pub card: ModelCard,
    generator: Generator,
    device: Device,
}

impl ScoringModel {
    pub fn from_bytes(card: ModelCard, weights: Vec<u8>, device: &Device) -> Result<Self> {
        if weights.len() != card.weights_bytes {
            return Err(LranError::model(
                &card.weights_file,
                format!(
                    "the weights are {} bytes but model.json expects {} (truncated, or from another model?)",
                    weights.len(),
                    card.weights_bytes
                ),
            ));
        }
        let generator = load_generator_in(
            &card.model,
            weights,
            card.weights_precision,
            device,
            &card.name,
        )?;
        Ok(Self {
            card,
            generator,
            device: device.clone().inner(),
        })
    }

    /// Loads an export folder (`model.json` beside its weights file) from disk.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_dir(dir: &std::path::Path, device: &Device) -> Result<Self> {
        let card_path = dir.join("model.json");
        let card_name = card_path.display().to_string();
        let text = std::fs::read_to_string(&card_path)
            .map_err(|e| LranError::model(&card_name, format!("cannot read it: {e}")))?;
        let card = ModelCard::from_json(&card_name, &text)?;
        let weights_path = dir.join(&card.weights_file);
        let weights = std::fs::read(&weights_path).map_err(|e| {
            LranError::model(
                weights_path.display().to_string(),
                format!("cannot read it: {e}"),
            )
        })?;
        Self::from_bytes(card, weights, device)
    }

    /// This model with its convolutions computed by `algorithm` (its card unchanged: the
    /// algorithm changes speed, not scores).
    pub fn with_conv(mut self, algorithm: crate::conv::ConvAlgorithm) -> Self {
        self.generator = self.generator.with_conv(algorithm);
        self
    }

    pub fn config(&self) -> &ModelConfig {
        &self.card.model
    }

    fn batch(&self, inputs: &[f32]) -> Result<Tensor<4>> {
        let config = self.config();
        let len = config.pixels();
        if inputs.is_empty() || !inputs.len().is_multiple_of(len) {
            return Err(LranError::data(
                "input",
                format!(
                    "{} values are not a whole number of {len}-value images",
                    inputs.len()
                ),
            ));
        }
        if inputs.iter().any(|v| !v.is_finite()) {
            return Err(LranError::data(
                "input",
                "the image holds NaN or infinite values",
            ));
        }
        let shape = [
            inputs.len() / len,
            config.channels,
            config.image_size,
            config.image_size,
        ];
        Ok(Tensor::from_data(
            TensorData::new(inputs.to_vec(), shape),
            &self.device,
        ))
    }

    /// Scores preprocessed images (`n × channels × size × size`, flattened).
    pub fn score(&self, inputs: &[f32]) -> Result<Scores> {
        Ok(score_batch(&self.generator, self.batch(inputs)?))
    }

    /// Scores one preprocessed image and returns everything the viewer shows.
    pub fn report(&self, input: &[f32]) -> Result<ImageReport> {
        self.check_one(input)?;
        Ok(self.reports(input, self.detailed(input)?.read()).remove(0))
    }

    /// [`report`](Self::report) for devices that only read back asynchronously (WebGPU).
    pub async fn report_async(&self, input: &[f32]) -> Result<ImageReport> {
        self.check_one(input)?;
        Ok(self
            .reports(input, self.detailed(input)?.read_async().await?)
            .remove(0))
    }

    /// Reports for a batch of preprocessed images (`n × channels × size × size`, flattened) in
    /// one pass and one read-back: a volume's slices score far faster so than one by one.
    pub fn report_batch(&self, inputs: &[f32]) -> Result<Vec<ImageReport>> {
        Ok(self.reports(inputs, self.detailed(inputs)?.read()))
    }

    /// [`report_batch`](Self::report_batch) for devices that only read back asynchronously.
    pub async fn report_batch_async(&self, inputs: &[f32]) -> Result<Vec<ImageReport>> {
        Ok(self.reports(inputs, self.detailed(inputs)?.read_async().await?))
    }

    fn check_one(&self, input: &[f32]) -> Result<()> {
        if input.len() != self.config().pixels() {
            return Err(LranError::data(
                "input",
                format!(
                    "{} values, the model takes {}",
                    input.len(),
                    self.config().pixels()
                ),
            ));
        }
        Ok(())
    }

    fn detailed(&self, inputs: &[f32]) -> Result<DetailedTensors> {
        Ok(DetailedTensors::new(&self.generator, self.batch(inputs)?))
    }

    fn reports(&self, inputs: &[f32], detailed: DetailedScores) -> Vec<ImageReport> {
        let calibration = &self.card.calibration.latent;
        let config = self.config();
        let (pixels, plane) = (config.pixels(), config.image_size * config.image_size);
        let reconstruction = floats(detailed.reconstruction);
        let residual = floats(detailed.residual);
        let latent = floats(detailed.latent);
        let reconstructed_latent = floats(detailed.reconstructed_latent);
        let dim = config.latent_dim;
        (0..detailed.scores.len())
            .map(|i| {
                let latent_score = detailed.scores.latent[i];
                let z = latent[i * dim..(i + 1) * dim].to_vec();
                ImageReport {
                    latent_score,
                    pixel_score: detailed.scores.pixel[i],
                    normalised_score: calibration.normalise(latent_score),
                    healthy_percentile: calibration.percentile_rank(latent_score),
                    threshold: calibration.threshold,
                    anomalous: calibration.is_anomalous(latent_score),
                    input: inputs[i * pixels..(i + 1) * pixels].to_vec(),
                    reconstruction: reconstruction[i * pixels..(i + 1) * pixels].to_vec(),
                    residual: residual[i * plane..(i + 1) * plane].to_vec(),
                    latent_xyz: self.card.latent_views.as_ref().map(|v| v.project(&z)),
                    latent: z,
                    reconstructed_latent: reconstructed_latent[i * dim..(i + 1) * dim].to_vec(),
                }
            })
            .collect()
    }
}
