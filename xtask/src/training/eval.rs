//! `cargo xtask eval`: score a run's test split with its selected weights (`--run`), or an
//! exported model on labelled data it never saw (`--model` with `--dataset` and its folder).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::Args;
use image::{Rgb, RgbImage};
use lran::burn::module::Module;
use lran::data::lesion::LesionConfig;
use lran::data::{ImageSet, Split};
use lran::metrics::{RocPoint, ScoreCalibration, roc_curve, thin_curve};
use lran::protocol::{BrainProtocol, ModelScores, SliceFacts, evaluate_brain};
use lran::score::Scores;
use lran::scorer::{score_and_psnr_set, score_set};
use lran::train::evaluate;
use serde::{Deserialize, Serialize};

use crate::backend::{self, Backend};
use crate::data::brain_sets::{BrainSlices, CaseSummary};
use crate::data::{self, Dataset, DatasetSpec};
use crate::provenance::{ResultsHeader, write_json};
use crate::training::run_dir::{RunDir, RunInfo};

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
    #[serde(flatten)]
    pub header: ResultsHeader,
    pub run: String,
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
    pub config: lran::train::TrainConfig,
    #[serde(flatten)]
    pub pooled: PooledTest,
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
    /// Optimiser steps taken (generator updates, one per batch).
    #[serde(default)]
    pub steps: u64,
    /// Optimiser steps taken when the selected weights were saved.
    #[serde(default)]
    pub selected_step: u64,
    /// Brain data: the full protocol (baselines, height matching, AUPRC, flagged shares) and the
    /// reconstruction quality of healthy validation slices.
    #[serde(default)]
    pub brain: Option<BrainResults>,
}

/// A test set's outcome, every image pooled: its size, and each score's AUC and ROC curve.
/// Both results files (`eval --run` and `eval --model`) hold these fields at their top level.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PooledTest {
    pub test_images: usize,
    pub test_anomalous: usize,
    pub latent_auc: f64,
    pub pixel_auc: f64,
    pub roc_latent: Vec<RocPoint>,
    pub roc_pixel: Vec<RocPoint>,
}

impl PooledTest {
    /// Points a stored ROC curve is thinned to: enough to draw, small enough to commit.
    const ROC_POINTS: usize = 201;

    pub fn of(scores: &Scores, anomalous: &[bool]) -> Result<Self> {
        let evaluation = evaluate(scores, anomalous)?;
        let curve = |s: &[f32]| -> Result<Vec<RocPoint>> {
            Ok(thin_curve(&roc_curve(s, anomalous)?, Self::ROC_POINTS))
        };
        Ok(Self {
            test_images: anomalous.len(),
            test_anomalous: anomalous.iter().filter(|&&a| a).count(),
            latent_auc: evaluation.latent_auc,
            pixel_auc: evaluation.pixel_auc,
            roc_latent: curve(&scores.latent)?,
            roc_pixel: curve(&scores.pixel)?,
        })
    }
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
    /// The ranges the lesions were drawn from (absent in files from before they were recorded:
    /// an older generator, so `reproduce --resume` evaluates those again).
    #[serde(default)]
    pub lesions: Option<LesionConfig>,
    /// At the stored thresholds: the share of lesioned and of untouched slices flagged.
    #[serde(default)]
    pub flagged: Option<SyntheticFlagged>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct SyntheticFlagged {
    pub latent_lesioned: f64,
    pub latent_untouched: f64,
    pub pixel_lesioned: f64,
    pub pixel_untouched: f64,
}

impl SyntheticFlagged {
    /// Flagged as the page flags an image: [`lran::metrics::Calibration::is_anomalous`].
    fn of(scores: &lran::score::Scores, lesioned: &[bool], calibration: &ScoreCalibration) -> Self {
        let share = |values: &[f32], calibration: &lran::metrics::Calibration, wanted: bool| {
            let (flagged, total) = values
                .iter()
                .zip(lesioned)
                .filter(|&(_, &l)| l == wanted)
                .fold((0usize, 0usize), |(f, t), (&v, _)| {
                    (f + usize::from(calibration.is_anomalous(v)), t + 1)
                });
            flagged as f64 / total.max(1) as f64
        };
        Self {
            latent_lesioned: share(&scores.latent, &calibration.latent, true),
            latent_untouched: share(&scores.latent, &calibration.latent, false),
            pixel_lesioned: share(&scores.pixel, &calibration.pixel, true),
            pixel_untouched: share(&scores.pixel, &calibration.pixel, false),
        }
    }
}

/// Rebuilds a run's split (same data, class, fraction and seed).
pub fn rebuild_split(info: &RunInfo) -> Result<Split> {
    Ok(rebuild_data(info)?.split)
}

/// Rebuilds a run's data: its split and, for brain data, what the protocol knows of the slices.
pub fn rebuild_data(info: &RunInfo) -> Result<data::LoadedData> {
    let data = data::load(&info.data, &info.train.model)?;
    if data.files != info.data_files {
        anyhow::bail!(
            "the data files differ from those the run was trained on (their sha256 changed)"
        );
    }
    Ok(data)
}

/// The brain experiment's protocol and the healthy validation slices' reconstruction quality.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BrainResults {
    pub protocol: BrainProtocol,
    pub reconstruction: ReconstructionQuality,
}

/// PSNR inside the brain of the healthy validation slices' reconstructions (model units, peak
/// to peak 2): a blur of the brain scores low.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReconstructionQuality {
    pub slices: usize,
    pub psnr_db_mean: f64,
    pub psnr_db_std: f64,
    pub psnr_db_median: f64,
}

impl ReconstructionQuality {
    pub fn of(psnr: &[f64]) -> Self {
        let finite: Vec<f64> = psnr.iter().copied().filter(|p| p.is_finite()).collect();
        let n = finite.len().max(1) as f64;
        let mean = finite.iter().sum::<f64>() / n;
        let std = (finite.iter().map(|p| (p - mean).powi(2)).sum::<f64>() / n).sqrt();
        let mut sorted = finite.clone();
        sorted.sort_by(f64::total_cmp);
        let median = sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN);
        Self {
            slices: finite.len(),
            psnr_db_mean: mean,
            psnr_db_std: std,
            psnr_db_median: median,
        }
    }
}

/// Scores the validation slices and runs the protocol over them and the test slices.
fn brain_results(
    generator: &lran::model::Generator,
    split: &Split,
    slices: &BrainSlices,
    test_scores: &lran::score::Scores,
    calibration: &ScoreCalibration,
    config: &lran::ModelConfig,
    device: &lran::burn::tensor::Device,
) -> Result<BrainResults> {
    let (validation, psnr) = score_and_psnr_set(
        generator,
        &split.validation,
        &slices.validation_brains,
        config,
        device,
        256,
    )?;
    let protocol = evaluate_brain(
        &slices.test,
        &slices.validation,
        &ModelScores {
            test_latent: &test_scores.latent,
            test_pixel: &test_scores.pixel,
            validation_latent: &validation.latent,
            validation_pixel: &validation.pixel,
            latent_threshold: calibration.latent.threshold,
            pixel_threshold: calibration.pixel.threshold,
        },
    )?;
    Ok(BrainResults {
        protocol,
        reconstruction: ReconstructionQuality::of(&psnr),
    })
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

pub fn run(args: EvalArgs, conv: backend::ConvChoice) -> Result<()> {
    match (&args.run, &args.model) {
        (Some(run), None) => run_eval(run, &args, conv),
        (None, Some(model)) => crate::training::eval_export::run(model, &args, conv),
        _ => anyhow::bail!("give either --run or --model"),
    }
}

fn run_eval(run: &str, args: &EvalArgs, conv: backend::ConvChoice) -> Result<()> {
    let started = Instant::now();
    let run_dir = RunDir::new(&args.runs_dir, run);
    let info = run_dir.read_info()?;
    let lran::fit::Selected {
        generator: weights,
        selection,
    } = run_dir.load_best()?;
    let progress = run_dir.read_progress()?;
    let data = rebuild_data(&info)?;
    let split = data.split;
    let selected = backend::select(args.backend, conv)?;
    let device = selected.device.clone();
    let generator = lran::card::load_generator(&info.train.model, weights, &device, &info.name)?
        .with_conv(selected.conv);
    let scores = score_set(&generator, &split.test, &info.train.model, &device, 256);
    // First, as before the other checks: a test split without both kinds of image stops here.
    let pooled = PooledTest::of(&scores, &split.test.anomalous)?;
    let synthetic = match &split.synthetic {
        Some(set) if !set.is_empty() => {
            let synthetic_scores = score_set(&generator, set, &info.train.model, &device, 256);
            let evaluation = evaluate(&synthetic_scores, &set.anomalous)?;
            Some(SyntheticResults {
                note: "SYNTHETIC lesions painted into healthy validation slices (lran::data::lesion: sized to the slice's brain, tissue replaced by a dark or bright level of the slice's own intensities, oedema halo, mass effect), beside the same slices untouched (so matched in height, subject and scanner): the validation check, not tumour detection".into(),
                images: set.len(),
                lesioned: set.anomalous.iter().filter(|&&a| a).count(),
                latent_auc: evaluation.latent_auc,
                pixel_auc: evaluation.pixel_auc,
                lesions: Some(LesionConfig::default()),
                flagged: Some(SyntheticFlagged::of(
                    &synthetic_scores,
                    &set.anomalous,
                    &selection.calibration,
                )),
            })
        }
        _ => None,
    };
    let brain = data
        .brain_slices
        .as_ref()
        .map(|slices| {
            brain_results(
                &generator,
                &split,
                slices,
                &scores,
                &selection.calibration,
                &info.train.model,
                &device,
            )
        })
        .transpose()?;
    let results = EvalResults {
        header: ResultsHeader::now("lran-eval/1"),
        run: info.name.clone(),
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
        config: info.train.clone(),
        pooled,
        calibration: selection.calibration.clone(),
        excluded_test_images: split.excluded,
        cases: info.cases.clone(),
        test_scores: named_scores(&split.test, &scores),
        synthetic,
        steps: progress.steps,
        selected_step: run_dir
            .read_metrics()?
            .iter()
            .find(|m| m.epoch == selection.epoch)
            .map_or(0, |m| m.steps),
        brain,
    };
    let out = args.out.clone().unwrap_or_else(|| run_dir.eval_path());
    write_json(&out, &results)?;
    let sheet = out.with_file_name(format!(
        "{}-reconstructions.png",
        out.file_stem()
            .map_or("eval".into(), |s| s.to_string_lossy())
    ));
    if let Some(slices) = &data.brain_slices {
        reconstruction_sheet(
            &generator,
            &split,
            slices,
            &info.train.model,
            &device,
            6,
            &sheet,
        )?;
        println!("  reconstructions: {}", sheet.display());
    }
    println!(
        "{}: test AUC latent {:.4}, pixel {:.4} ({} images, {} anomalous; epoch {} of {}) -> {}",
        info.name,
        results.pooled.latent_auc,
        results.pooled.pixel_auc,
        results.pooled.test_images,
        results.pooled.test_anomalous,
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
        if let Some(flagged) = synthetic.flagged {
            println!(
                "    flagged at the stored threshold, lesioned / untouched: latent {:.1} % / {:.1} %, pixel {:.1} % / {:.1} %",
                100.0 * flagged.latent_lesioned,
                100.0 * flagged.latent_untouched,
                100.0 * flagged.pixel_lesioned,
                100.0 * flagged.pixel_untouched
            );
        }
    }
    if let Some(brain) = &results.brain {
        print_brain(brain);
    }
    Ok(())
}

/// The protocol's table on the terminal: one row per score.
pub fn print_brain(brain: &BrainResults) {
    println!(
        "  {:<15} {:>8} {:>8} {:>10} {:>10} {:>9}",
        "score", "AUROC", "AUPRC", "case mean", "h-matched", "flagged"
    );
    for score in &brain.protocol.scores {
        let auroc = if score.baseline {
            format!(
                "{:.3}/{:.3}",
                score.pooled.auroc,
                score.pooled.either_direction_auroc()
            )
        } else {
            format!("{:.4}", score.pooled.auroc)
        };
        println!(
            "  {:<15} {:>8} {:>8.4} {:>10.4} {:>10.4} {:>9}",
            score.score,
            auroc,
            score.pooled.auprc,
            score.mean_case_auroc,
            score.height_matched.auroc,
            score.flagged.map_or("-".to_string(), |f| format!(
                "{:.0}%/{:.0}%/{:.0}%",
                100.0 * f.tumour,
                100.0 * f.healthy_test,
                100.0 * f.healthy_validation
            ))
        );
    }
    println!(
        "  (baselines: AUROC as oriented / in its better direction; flagged at the stored threshold: tumour / healthy test / healthy validation slices)"
    );
    println!(
        "  healthy validation reconstructions: PSNR inside the brain {:.2} ± {:.2} dB (median {:.2}, {} slices)",
        brain.reconstruction.psnr_db_mean,
        brain.reconstruction.psnr_db_std,
        brain.reconstruction.psnr_db_median,
        brain.reconstruction.slices
    );
}

/// Rows of input | reconstruction | residual (inferno, 0 to `HEATMAP_MAX`): healthy validation
/// slices on the left (each validation subject's slice nearest mid-brain), the same slices with
/// their synthetic lesions in the middle, tumour slices on the right (each test case's middle
/// tumour slice), every model pixel drawn `zoom` × `zoom`.
pub fn reconstruction_sheet(
    generator: &lran::model::Generator,
    split: &Split,
    slices: &BrainSlices,
    config: &lran::ModelConfig,
    device: &lran::burn::tensor::Device,
    rows: usize,
    path: &std::path::Path,
) -> Result<()> {
    let pick = |facts: &[SliceFacts], wanted: &dyn Fn(&SliceFacts) -> bool, middle: bool| {
        let mut cases: Vec<&str> = Vec::new();
        for fact in facts {
            if wanted(fact) && !cases.contains(&fact.case.as_str()) {
                cases.push(&fact.case);
            }
        }
        cases
            .iter()
            .take(rows)
            .filter_map(|case| {
                let mine: Vec<usize> = (0..facts.len())
                    .filter(|&i| facts[i].case == *case && wanted(&facts[i]))
                    .collect();
                if middle {
                    mine.get(mine.len() / 2).copied()
                } else {
                    mine.iter().copied().min_by(|&a, &b| {
                        (facts[a].relative_height - 0.5)
                            .abs()
                            .total_cmp(&(facts[b].relative_height - 0.5).abs())
                    })
                }
            })
            .collect::<Vec<usize>>()
    };
    let healthy = pick(&slices.validation, &|_| true, false);
    let tumour = pick(&slices.test, &|f| f.anomalous, true);
    // The same healthy slices with their synthetic lesions, where the check painted one.
    let empty = ImageSet::default();
    let synthetic = split.synthetic.as_ref().unwrap_or(&empty);
    let lesioned: Vec<usize> = healthy
        .iter()
        .filter_map(|&i| {
            let name = crate::data::brain_sets::lesioned_name(&split.validation.names[i]);
            synthetic.names.iter().position(|n| *n == name)
        })
        .collect();
    let (size, channels) = (config.image_size, config.channels);
    let zoom = 2u32;
    let tile = size as u32 * zoom;
    let panels = [
        (&split.validation, &healthy),
        (synthetic, &lesioned),
        (&split.test, &tumour),
    ];
    let panel_rows = panels
        .iter()
        .map(|(_, p)| p.len())
        .max()
        .unwrap_or(0)
        .max(1) as u32;
    let mut sheet = RgbImage::from_pixel(
        3 * (3 * (tile + 2) + 8) + 2,
        panel_rows * (tile + 2) + 2,
        Rgb([0, 0, 0]),
    );
    let device_inner = device.clone().inner();
    let generator = generator.valid().to_device(&device_inner);
    for (panel, (set, picked)) in panels.into_iter().enumerate() {
        if picked.is_empty() {
            continue;
        }
        let detailed =
            lran::score::DetailedTensors::new(&generator, set.batch(picked, config, &device_inner))
                .read();
        let reconstruction = lran::score::floats(detailed.reconstruction);
        let residual = lran::score::floats(detailed.residual);
        let plane = size * size;
        for (row, &i) in picked.iter().enumerate() {
            let image = set.image(i);
            let x_panel = panel as u32 * (3 * (tile + 2) + 8);
            let y0 = 2 + row as u32 * (tile + 2);
            for (column, pixels) in [
                lran::colormap::image_rgba(image, channels, size)?,
                lran::colormap::image_rgba(
                    &reconstruction[row * channels * plane..(row + 1) * channels * plane],
                    channels,
                    size,
                )?,
                lran::colormap::heatmap_rgba(
                    &residual[row * plane..(row + 1) * plane],
                    lran::colormap::HEATMAP_MAX,
                ),
            ]
            .iter()
            .enumerate()
            {
                let x0 = x_panel + 2 + column as u32 * (tile + 2);
                for y in 0..size {
                    for x in 0..size {
                        let at = 4 * (y * size + x);
                        let colour = Rgb([pixels[at], pixels[at + 1], pixels[at + 2]]);
                        for dy in 0..zoom {
                            for dx in 0..zoom {
                                sheet.put_pixel(
                                    x0 + x as u32 * zoom + dx,
                                    y0 + y as u32 * zoom + dy,
                                    colour,
                                );
                            }
                        }
                    }
                }
            }
        }
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    sheet
        .save(path)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
}
