//! The one scorer: a generator in inference mode (BatchNorm's running statistics) turning
//! preprocessed images into scores. [`ScoringModel`] is an exported model as the page, `score`
//! and the tests load it (card + weights → reports against its calibration); [`score_set`] and
//! [`score_and_psnr_set`] score a training run's image sets for selection and evaluation. The
//! formulas themselves live in [`crate::score`].

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::card::{ModelCard, load_generator_in};
use crate::config::ModelConfig;
use crate::data::ImageSet;
use crate::error::{LranError, Result};
use crate::model::Generator;
use crate::score::{DetailedScores, DetailedTensors, Scores, floats, score_batch};

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

/// Scores `set` in batches with `generator` in inference mode on `device` (autodiff dropped).
pub fn score_set(
    generator: &Generator,
    set: &ImageSet,
    config: &ModelConfig,
    device: &Device,
    batch_size: usize,
) -> Scores {
    let device = device.clone().inner();
    let generator = generator.valid().to_device(&device);
    let indices: Vec<usize> = (0..set.len()).collect();
    let mut scores = Scores::default();
    for chunk in indices.chunks(batch_size.max(1)) {
        scores.extend(score_batch(&generator, set.batch(chunk, config, &device)));
    }
    scores
}

/// Scores `set` as [`score_set`] does and, in the same pass, each image's reconstruction PSNR
/// (dB) inside its mask (`size × size`, applied to every channel): how well the model has
/// learned to redraw what it was shown.
pub fn score_and_psnr_set(
    generator: &Generator,
    set: &ImageSet,
    masks: &[Vec<bool>],
    config: &ModelConfig,
    device: &Device,
    batch_size: usize,
) -> Result<(Scores, Vec<f64>)> {
    if masks.len() != set.len() {
        return Err(LranError::data(
            "reconstruction quality",
            format!("{} images but {} masks", set.len(), masks.len()),
        ));
    }
    let device = device.clone().inner();
    let generator = generator.valid().to_device(&device);
    let indices: Vec<usize> = (0..set.len()).collect();
    let mut psnr = Vec::with_capacity(set.len());
    let mut scores = Scores::default();
    for chunk in indices.chunks(batch_size.max(1)) {
        let detailed = DetailedTensors::new(&generator, set.batch(chunk, config, &device)).read();
        scores.extend(detailed.scores);
        let reconstruction = floats(detailed.reconstruction);
        for (k, &i) in chunk.iter().enumerate() {
            let image = set.image(i);
            let mask: Vec<bool> = masks[i].iter().copied().cycle().take(image.len()).collect();
            let redrawn = &reconstruction[k * image.len()..(k + 1) * image.len()];
            psnr.push(crate::metrics::psnr_inside(image, redrawn, &mask).unwrap_or(f64::NAN));
        }
    }
    Ok((scores, psnr))
}
