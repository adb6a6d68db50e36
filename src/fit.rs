//! Fitting a model: epochs of adversarial training ([`Trainer::train_epoch`]), each followed by
//! the label-free selection on healthy validation images. The epoch with the lowest validation
//! objective keeps its weights, calibrated on those same healthy images, so the model that comes
//! out is ready to score against its threshold. Test images, when given, are scored after each
//! epoch for information only and never steer the choice (GANomaly's pitfall of picking epochs by
//! test AUC). The caller follows along through a [`FitObserver`]: the CLI draws its progress bar
//! and writes metrics and checkpoints there, tests watch nothing.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::card::{ModelCard, PREPROCESSING, WeightsPrecision, generator_bytes, load_generator};
use crate::config::{LossConfig, ModelConfig};
use crate::conv::ConvAlgorithm;
use crate::data::ImageSet;
use crate::error::{LranError, Result};
use crate::metrics::{ScoreCalibration, percentile};
use crate::model::Generator;
use crate::train::{Evaluation, StepLosses, Trainer, evaluate};

/// The images a fit sees: it trains on `train`, selects and calibrates on `validation` (healthy
/// only) and, where `test` is given, reports its AUCs per epoch without using them.
#[derive(Clone, Copy)]
pub struct FitData<'a> {
    pub train: &'a ImageSet,
    pub validation: &'a ImageSet,
    pub test: Option<&'a ImageSet>,
}

/// Where a fit stands after an epoch (the checkpoint's `progress.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitProgress {
    pub epoch: u64,
    pub steps: u64,
    pub wall_seconds: f64,
    pub best_epoch: u64,
    pub best_objective: f64,
}

impl Default for FitProgress {
    fn default() -> Self {
        Self {
            epoch: 0,
            steps: 0,
            wall_seconds: 0.0,
            best_epoch: 0,
            best_objective: f64::INFINITY,
        }
    }
}

/// The validation objective of the selected weights and their healthy calibration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Selection {
    pub epoch: u64,
    pub objective: f64,
    pub calibration: ScoreCalibration,
}

/// The weights a fit keeps (burnpack f32 bytes of the generator) and why.
#[derive(Debug, Clone)]
pub struct Selected {
    pub generator: Vec<u8>,
    pub selection: Selection,
}

/// What a fit starts from: nothing (a fresh run), or a resumed run's progress and the weights
/// it had selected so far.
#[derive(Debug, Clone, Default)]
pub struct FitStart {
    pub progress: FitProgress,
    pub selected: Option<Selected>,
}

/// One epoch's figures (a line of a run's `metrics.jsonl`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    pub epoch: u64,
    pub steps: u64,
    pub seconds: f64,
    pub images_per_second: f64,
    pub train: StepLosses,
    pub validation_objective: f64,
    pub validation_latent_mean: f32,
    pub validation_latent_p95: f32,
    pub validation_pixel_mean: f32,
    pub validation_pixel_p95: f32,
    /// Reported for information only: never used to choose weights.
    pub test_latent_auc: Option<f64>,
    pub test_pixel_auc: Option<f64>,
    pub selected: bool,
}

/// What an observer sees after each epoch.
pub struct EpochReport<'a> {
    pub metrics: &'a EpochMetrics,
    pub progress: &'a FitProgress,
    /// The weights this epoch selected, if it improved the validation objective.
    pub newly_selected: Option<&'a Selected>,
}

/// Follows a fit. Its error type lets a caller stop the fit with its own errors (a full disk
/// while checkpointing) as well as the library's.
pub trait FitObserver {
    type Error: From<LranError>;
    /// Before the first step of `epoch`, which will take `steps` steps.
    fn epoch_started(&mut self, _epoch: u64, _steps: u64) {}
    /// After each optimiser step.
    fn step(&mut self, _losses: &StepLosses) {}
    /// After each epoch's validation: the place to checkpoint (`trainer.state()`).
    fn epoch_done(
        &mut self,
        trainer: &Trainer,
        report: &EpochReport<'_>,
    ) -> std::result::Result<(), Self::Error>;
}

/// An observer that watches nothing.
pub struct Unobserved;

impl FitObserver for Unobserved {
    type Error = LranError;
    fn epoch_done(&mut self, _: &Trainer, _: &EpochReport<'_>) -> Result<()> {
        Ok(())
    }
}

/// A fitted model: the selected weights with their calibration, and how it got there.
#[derive(Debug, Clone)]
pub struct Fitted {
    pub selected: Selected,
    pub progress: FitProgress,
    /// The epochs this fit trained (a resumed fit: those after the resume point).
    pub history: Vec<EpochMetrics>,
    /// The network, with native convolutions as model files record it.
    pub model: ModelConfig,
    /// The objective it was trained with (a model card states it).
    pub losses: LossConfig,
}

impl Fitted {
    /// The selected generator, in inference mode on the CPU.
    pub fn generator(&self, name: &str) -> Result<Generator> {
        load_generator(
            &self.model,
            self.selected.generator.clone(),
            &burn::tensor::Device::flex(),
            name,
        )
    }

    /// A model card for these weights (f32) with the image preprocessing, named `name`; the
    /// caller adds provenance, brain input and latent views where it has them.
    pub fn card(&self, name: &str) -> ModelCard {
        ModelCard::new(
            name,
            self.model,
            self.losses,
            PREPROCESSING,
            self.selected.selection.calibration.clone(),
            self.selected.generator.len(),
            WeightsPrecision::F32,
        )
    }
}

/// Label-free selection criterion on healthy validation images: the generator's own
/// reconstruction terms in inference mode, as weighted in training (w_rec·pixel L1 +
/// w_lat·latent L2; their plain sum if both are off).
pub fn validation_objective(losses: &LossConfig, latent_mean: f32, pixel_mean: f32) -> f64 {
    let weighted =
        losses.reconstruction.factor() * pixel_mean + losses.latent.factor() * latent_mean;
    if weighted > 0.0 {
        weighted as f64
    } else {
        (pixel_mean + latent_mean) as f64
    }
}

fn mean(values: &[f32]) -> f32 {
    values.iter().sum::<f32>() / values.len().max(1) as f32
}

fn p95(values: &[f32]) -> f32 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f32::total_cmp);
    percentile(&sorted, 95.0)
}

impl Trainer {
    /// Trains from `start` through epoch `epochs`, selecting and calibrating on
    /// `data.validation` after each epoch (see the module docs).
    pub fn fit<O: FitObserver>(
        &mut self,
        data: FitData<'_>,
        epochs: u64,
        start: FitStart,
        observer: &mut O,
    ) -> std::result::Result<Fitted, O::Error> {
        if epochs == 0 {
            return Err(LranError::config("a fit needs at least one epoch").into());
        }
        if data.validation.is_empty() {
            return Err(LranError::config(
                "no healthy validation images to select and calibrate on",
            )
            .into());
        }
        let FitStart {
            mut progress,
            mut selected,
        } = start;
        let batch = self.config.batch_size;
        let steps_per_epoch = (data.train.len() / batch) as u64;
        let mut history = Vec::new();
        for epoch in progress.epoch + 1..=epochs {
            observer.epoch_started(epoch, steps_per_epoch);
            let started = Instant::now();
            let losses = self.train_epoch(data.train, epoch, |l| observer.step(l))?;
            let seconds = started.elapsed().as_secs_f64();

            let validation = self.score(data.validation);
            let (latent_mean, pixel_mean) = (mean(&validation.latent), mean(&validation.pixel));
            let objective = validation_objective(&self.config.losses, latent_mean, pixel_mean);
            let test: Option<Evaluation> = match data.test {
                Some(test) => Some(evaluate(&self.score(test), &test.anomalous)?),
                None => None,
            };
            let is_best = objective < progress.best_objective;
            if is_best {
                selected = Some(Selected {
                    generator: generator_bytes(&self.generator)?,
                    selection: Selection {
                        epoch,
                        objective,
                        calibration: ScoreCalibration::from_healthy(
                            &validation,
                            self.config.threshold_percentile,
                        )?,
                    },
                });
                progress.best_epoch = epoch;
                progress.best_objective = objective;
            }
            progress.epoch = epoch;
            progress.steps = self.steps;
            progress.wall_seconds += seconds;
            let metrics = EpochMetrics {
                epoch,
                steps: self.steps,
                seconds,
                images_per_second: (steps_per_epoch * batch as u64) as f64 / seconds,
                train: losses,
                validation_objective: objective,
                validation_latent_mean: latent_mean,
                validation_latent_p95: p95(&validation.latent),
                validation_pixel_mean: pixel_mean,
                validation_pixel_p95: p95(&validation.pixel),
                test_latent_auc: test.as_ref().map(|t| t.latent_auc),
                test_pixel_auc: test.as_ref().map(|t| t.pixel_auc),
                selected: is_best,
            };
            observer.epoch_done(
                self,
                &EpochReport {
                    metrics: &metrics,
                    progress: &progress,
                    newly_selected: selected.as_ref().filter(|_| is_best),
                },
            )?;
            history.push(metrics);
        }
        let selected = selected.ok_or_else(|| {
            LranError::Diverged(format!(
                "no epoch of {epochs} gave a finite validation objective, so none was selected"
            ))
        })?;
        Ok(Fitted {
            selected,
            progress,
            history,
            model: self.config.model.with_conv(ConvAlgorithm::Native),
            losses: self.config.losses,
        })
    }
}
