//! `cargo xtask eval --model`: an exported model (models/<name>) scored on labelled data it
//! never saw, read and cut as its training data was (model.json's input size, channels, normal
//! class, and for brain models `brain_input`). The results file shares `eval.json`'s fields
//! for AUCs, ROC points, per-image scores, data hashes and commits, and adds per-case AUCs and
//! the verdicts at the model's own healthy-validation threshold.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use lran::data::{ImageSet, Protocol, labelled_test_set};
use lran::metrics::{ScoreCalibration, roc_auc};
use lran::score::Scores;
use lran::scorer::ScoringModel;
use serde::{Deserialize, Serialize};

use crate::backend;
use crate::data::brain_layouts::{self as brain_data, Modality};
use crate::data::brain_sets::{self, BrainOptions, CaseSummary};
use crate::data::{Dataset, folder, labelled};
use crate::provenance::{ResultsHeader, sha256_hex, write_json};
use crate::training::eval::{EvalArgs, ImageScores, PooledTest, named_scores};

/// The results file of `eval --model`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelEvalResults {
    #[serde(flatten)]
    pub header: ResultsHeader,
    /// The model's name and folder.
    pub model: String,
    pub model_dir: String,
    /// The code that trained the model (the header's commit is the code that evaluated it).
    pub trained_with_commit: String,
    /// What the model was trained on (model.json's provenance).
    pub trained_on: String,
    pub trained_seed: u64,
    pub trained_epochs: u64,
    pub selected_epoch: u64,
    pub train_device: String,
    /// The labelled data scored here, and (file, sha256) of every file read.
    pub dataset: String,
    pub data_dir: String,
    pub data_files: Vec<(String, String)>,
    pub eval_device: String,
    pub eval_wall_seconds: f64,
    /// Pooled over every test image (every case's slices together).
    #[serde(flatten)]
    pub pooled: PooledTest,
    /// Test images left out of the AUCs (slices with a few tumour voxels).
    pub excluded_test_images: usize,
    /// The model's calibration (from its healthy validation data, stored in model.json).
    pub calibration: ScoreCalibration,
    /// The latent score's verdicts at the model's threshold.
    pub at_threshold: ThresholdOutcome,
    /// Brain: per case, its own AUCs (its tumour slices against its healthy slices).
    pub per_case: Vec<CaseEvaluation>,
    pub cases: Vec<CaseSummary>,
    /// Every test image's scores, named where the data names them (brain: `<case>:z<slice>`).
    pub test_scores: Vec<ImageScores>,
}

/// Verdicts of the latent score at the model's healthy-validation threshold.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ThresholdOutcome {
    pub threshold: f32,
    pub threshold_percentile: f64,
    /// Anomalous test images called anomalous.
    pub true_positive_rate: f64,
    /// Normal test images called anomalous.
    pub false_positive_rate: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseEvaluation {
    pub name: String,
    pub tumour_slices: usize,
    pub healthy_slices: usize,
    /// None when the case lacks tumour or healthy slices (an AUC needs both).
    pub latent_auc: Option<f64>,
    pub pixel_auc: Option<f64>,
    /// Tumour slices among the case's ten highest latent scores.
    pub tumour_in_top10_latent: usize,
}

/// The labelled test images and what was read to make them.
struct TestData {
    label: String,
    dir: String,
    images: ImageSet,
    files: Vec<(String, String)>,
    excluded: usize,
    cases: Vec<CaseSummary>,
    case_ranges: Vec<(String, std::ops::Range<usize>)>,
}

fn load_test_data(model: &ScoringModel, args: &EvalArgs) -> Result<TestData> {
    let card = &model.card;
    let config = &card.model;
    let dataset = args.dataset.context("--model needs --dataset")?;
    if dataset == Dataset::Brain {
        let Some(input) = &card.brain_input else {
            bail!(
                "{} is not a brain model (model.json has no brain_input): evaluate it on its own kind of data",
                card.name
            );
        };
        let dir = args
            .test_dir
            .as_ref()
            .or(args.data_dir.as_ref())
            .context("--dataset brain needs --test-dir (cases with tumour segmentations)")?;
        let modalities = input
            .modalities
            .iter()
            .map(|name| {
                Modality::from_name(name)
                    .with_context(|| format!("model.json names an unknown modality {name:?}"))
            })
            .collect::<Result<Vec<_>>>()?;
        let options = BrainOptions {
            healthy_dir: dir.clone(),
            test_dir: Some(dir.clone()),
            modalities,
            slices: input.slices.clone(),
            mask_rule: input.mask_rule,
            volume: None,
            synthetic_lesions: false,
            with_templates: false,
        };
        let source = brain_data::detect(dir)?;
        if source.labelled.is_empty() {
            bail!(
                "{} holds no case with a tumour segmentation (<case>_seg): nothing to evaluate against",
                dir.display()
            );
        }
        let (mut files, mut cases) = (Vec::new(), Vec::new());
        let test = brain_sets::labelled_test_set(&source, &options, &mut files, &mut cases)?;
        files.sort();
        files.dedup();
        return Ok(TestData {
            label: format!("brain:{}-naming", source.layout.name()),
            dir: dir.display().to_string(),
            images: test.images,
            files,
            excluded: test.excluded,
            cases,
            case_ranges: test.case_ranges,
        });
    }
    if dataset == Dataset::Folder {
        let dir = args
            .data_dir
            .as_ref()
            .context("--dataset folder needs --data-dir (<dir>/normal and <dir>/anomalous)")?;
        let mut images = ImageSet::new(config);
        let mut files = Vec::new();
        for (sub, anomalous) in [("normal", false), ("anomalous", true)] {
            let folder_dir = dir.join(sub);
            if !folder_dir.is_dir() {
                bail!("{} is missing", folder_dir.display());
            }
            for path in folder::image_files(&folder_dir)? {
                let bytes = std::fs::read(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                let name = path.display().to_string();
                images.push_named(
                    lran::upload::image_input(&name, &bytes, config)?,
                    anomalous,
                    anomalous as u8,
                    format!("{sub}/{}", labelled::file_name(&path)),
                );
                files.push((
                    format!("{sub}/{}", labelled::file_name(&path)),
                    sha256_hex(&bytes),
                ));
            }
        }
        return Ok(TestData {
            label: format!("folder:{}", labelled::file_name(dir)),
            dir: dir.display().to_string(),
            images,
            files,
            excluded: 0,
            cases: Vec::new(),
            case_ranges: Vec::new(),
        });
    }
    // A ten-class benchmark: the model's normal class is normal, the other nine anomalous.
    let Some(class) = card.provenance.normal_class else {
        bail!(
            "{} names no normal class (model.json provenance.normal_class): a one-class model is needed for --dataset {}",
            card.name,
            dataset.name()
        );
    };
    let required = || {
        args.data_dir
            .as_deref()
            .with_context(|| format!("--dataset {} needs --data-dir", dataset.name()))
    };
    let loaded = match dataset {
        Dataset::Mnist => match &args.data_dir {
            None => labelled::mnist_sample()?,
            Some(dir) => labelled::load_idx("mnist", dir)?,
        },
        Dataset::FashionMnist => labelled::load_idx("fashion-mnist", required()?)?,
        Dataset::Cifar10 => labelled::load_cifar10(required()?)?,
        Dataset::Folder | Dataset::Brain => unreachable!("handled above"),
    };
    loaded.check_channels(config)?;
    // Only the test half is read back; the training half's hashes are not this evaluation's.
    let files = loaded
        .files
        .iter()
        .filter(|(name, _)| !name.contains("train") && !name.contains("data_batch"))
        .cloned()
        .collect();
    Ok(TestData {
        label: format!("{}, class {class} normal", loaded.name),
        dir: args
            .data_dir
            .as_ref()
            .map_or("embedded".to_string(), |d| d.display().to_string()),
        images: labelled_test_set(&loaded.test, class, Protocol::OneClass, config)?,
        files,
        excluded: 0,
        cases: Vec::new(),
        case_ranges: Vec::new(),
    })
}

/// Scores every image of `set` in batches.
fn score_all(model: &ScoringModel, set: &ImageSet, batch: usize) -> Result<Scores> {
    let mut scores = Scores::default();
    for start in (0..set.len()).step_by(batch) {
        let end = (start + batch).min(set.len());
        scores.extend(model.score(&set.data[start * set.image_len..end * set.image_len])?);
    }
    Ok(scores)
}

fn per_case(
    ranges: &[(String, std::ops::Range<usize>)],
    scores: &Scores,
    anomalous: &[bool],
) -> Vec<CaseEvaluation> {
    ranges
        .iter()
        .map(|(name, range)| {
            let labels = &anomalous[range.clone()];
            let latent = &scores.latent[range.clone()];
            let pixel = &scores.pixel[range.clone()];
            let tumour = labels.iter().filter(|&&a| a).count();
            let healthy = labels.len() - tumour;
            let both = tumour > 0 && healthy > 0;
            let mut order: Vec<usize> = (0..labels.len()).collect();
            order.sort_by(|&a, &b| latent[b].total_cmp(&latent[a]));
            CaseEvaluation {
                name: name.clone(),
                tumour_slices: tumour,
                healthy_slices: healthy,
                latent_auc: both.then(|| roc_auc(latent, labels).ok()).flatten(),
                pixel_auc: both.then(|| roc_auc(pixel, labels).ok()).flatten(),
                tumour_in_top10_latent: order.iter().take(10).filter(|&&i| labels[i]).count(),
            }
        })
        .collect()
}

pub fn run(model_dir: &Path, args: &EvalArgs, conv: backend::ConvChoice) -> Result<()> {
    let started = Instant::now();
    let selected = backend::select(args.backend, conv)?;
    let model = ScoringModel::from_dir(model_dir, &selected.device)
        .with_context(|| format!("cannot load the model in {}", model_dir.display()))?
        .with_conv(selected.conv);
    let data = load_test_data(&model, args)?;
    let anomalous = &data.images.anomalous;
    let positives = anomalous.iter().filter(|&&a| a).count();
    if positives == 0 || positives == anomalous.len() {
        bail!(
            "{}: {} test images, {positives} anomalous: an AUC needs both anomalous and normal ones",
            data.dir,
            anomalous.len()
        );
    }
    let scores = score_all(&model, &data.images, 64)?;
    let calibration = model.card.calibration.clone();
    let called: Vec<bool> = scores
        .latent
        .iter()
        .map(|&s| calibration.latent.is_anomalous(s))
        .collect();
    let rate = |want: bool| {
        let members: Vec<usize> = (0..anomalous.len())
            .filter(|&i| anomalous[i] == want)
            .collect();
        members.iter().filter(|&&i| called[i]).count() as f64 / members.len().max(1) as f64
    };
    let provenance = &model.card.provenance;
    let results = ModelEvalResults {
        header: ResultsHeader::now("lran-eval-model/1"),
        model: model.card.name.clone(),
        model_dir: model_dir.display().to_string(),
        trained_with_commit: provenance.commit.clone(),
        trained_on: provenance.dataset.clone(),
        trained_seed: provenance.seed,
        trained_epochs: provenance.epochs,
        selected_epoch: provenance.selected_epoch,
        train_device: provenance.device.clone(),
        dataset: data.label.clone(),
        data_dir: data.dir.clone(),
        data_files: data.files.clone(),
        eval_device: selected.description.clone(),
        eval_wall_seconds: started.elapsed().as_secs_f64(),
        pooled: PooledTest::of(&scores, anomalous)?,
        excluded_test_images: data.excluded,
        at_threshold: ThresholdOutcome {
            threshold: calibration.latent.threshold,
            threshold_percentile: calibration.latent.threshold_percentile,
            true_positive_rate: rate(true),
            false_positive_rate: rate(false),
        },
        calibration,
        per_case: per_case(&data.case_ranges, &scores, anomalous),
        cases: data.cases.clone(),
        test_scores: named_scores(&data.images, &scores),
    };
    print_summary(&results);
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("runs")
            .join("eval")
            .join(format!("{}.json", model.card.name))
    });
    write_json(&out, &results)?;
    println!("-> {}", out.display());
    Ok(())
}

fn auc_cell(value: Option<f64>) -> String {
    value.map_or("—".to_string(), |v| format!("{v:.4}"))
}

fn print_summary(results: &ModelEvalResults) {
    println!(
        "{} on {} ({}): pooled AUC latent {:.4}, pixel {:.4} ({} images, {} anomalous{})",
        results.model,
        results.dataset,
        results.data_dir,
        results.pooled.latent_auc,
        results.pooled.pixel_auc,
        results.pooled.test_images,
        results.pooled.test_anomalous,
        if results.excluded_test_images > 0 {
            format!(
                "; {} slices with a few tumour voxels left out",
                results.excluded_test_images
            )
        } else {
            String::new()
        }
    );
    let t = &results.at_threshold;
    println!(
        "  at the model's threshold (the {}th percentile of healthy validation latent scores): {:.1}% of anomalous and {:.1}% of normal images called anomalous",
        t.threshold_percentile,
        100.0 * t.true_positive_rate,
        100.0 * t.false_positive_rate
    );
    if !results.per_case.is_empty() {
        println!(
            "  {:<28} {:>6} {:>7} {:>11} {:>11} {:>12}",
            "case", "tumour", "healthy", "AUC latent", "AUC pixel", "tumour/top10"
        );
        for case in &results.per_case {
            println!(
                "  {:<28} {:>6} {:>7} {:>11} {:>11} {:>12}",
                case.name,
                case.tumour_slices,
                case.healthy_slices,
                auc_cell(case.latent_auc),
                auc_cell(case.pixel_auc),
                case.tumour_in_top10_latent
            );
        }
        let mean = |f: fn(&CaseEvaluation) -> Option<f64>| {
            let values: Vec<f64> = results.per_case.iter().filter_map(f).collect();
            (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
        };
        println!(
            "  mean over cases with both kinds of slice: AUC latent {}, pixel {}",
            auc_cell(mean(|c| c.latent_auc)),
            auc_cell(mean(|c| c.pixel_auc))
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_case_aucs_use_only_each_cases_own_slices() {
        // Case a: tumour slices score highest (AUC 1); case b: lowest (AUC 0); case c: tumour only.
        let scores = Scores {
            latent: vec![0.1, 0.2, 0.9, 0.8, 0.7, 0.3, 0.5],
            pixel: vec![0.5; 7],
        };
        let anomalous = [false, false, true, false, false, true, true];
        let ranges = vec![
            ("a".to_string(), 0..3),
            ("b".to_string(), 3..6),
            ("c".to_string(), 6..7),
        ];
        let cases = per_case(&ranges, &scores, &anomalous);
        assert_eq!(cases[0].latent_auc, Some(1.0));
        assert_eq!(cases[0].pixel_auc, Some(0.5));
        assert_eq!(cases[1].latent_auc, Some(0.0));
        assert_eq!((cases[1].tumour_slices, cases[1].healthy_slices), (1, 2));
        assert_eq!(cases[2].latent_auc, None);
        assert_eq!(cases[0].tumour_in_top10_latent, 1);
    }
}
