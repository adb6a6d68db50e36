//! `cargo xtask reproduce --suite …`: the paper's experiments run with lran's own `train` and
//! `eval`, one results file per trained model (`results/<suite>/<run>.json`, eval's schema) and
//! a `summary.json` per suite that `cargo xtask report` turns into the paper's tables.
//!
//! Each run is an ordinary `cargo xtask train …` command line (recorded in the summary), so any
//! number can be re-derived by hand. Model selection and thresholds come from healthy
//! validation data only (train's rule); test AUCs are computed once, after selection.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, ValueEnum};
use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::eval::{self, EvalArgs, EvalResults};
use crate::provenance::{command_line, commit, now_unix, write_json};
use crate::train::{self, Preset, TrainArgs};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Suite {
    /// MNIST one-class splits: class k normal, the other nine anomalous (the paper's Tab. 1).
    Mnist,
    /// Fashion-MNIST, the same protocol.
    FashionMnist,
    /// CIFAR-10, the same protocol (the paper's Tab. 2; bring the binary batches: --data-dir).
    Cifar10,
    /// Healthy brain T1 slices for training, tumour cases' slices for testing.
    Brain,
    /// The loss-term ablation (the paper's Tab. 3/4) on --ablation-dataset.
    Ablation,
    /// Latent vs pixel score on the models the other suites trained (the paper's Tab. 5/6):
    /// reads their results, trains nothing.
    Scores,
    /// Settings of the brain model chosen on validation data: every point of --grid trained per
    /// seed, and the one whose latent score best separates synthetic lesions painted into
    /// healthy validation slices from the same slices untouched is selected. Test AUCs are
    /// reported for every point but never used to choose.
    Tuning,
}

impl Suite {
    pub fn name(self) -> &'static str {
        match self {
            Suite::Mnist => "mnist",
            Suite::FashionMnist => "fashion-mnist",
            Suite::Cifar10 => "cifar10",
            Suite::Brain => "brain",
            Suite::Ablation => "ablation",
            Suite::Scores => "scores",
            Suite::Tuning => "tuning",
        }
    }
}

/// The four loss configurations of the ablation, as the paper lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LossVariant {
    /// Reconstruction + adversarial only (GANomaly without its latent term).
    #[serde(rename = "no-latent-no-low-rank")]
    WithoutLatentAndLowRank,
    #[serde(rename = "no-latent")]
    WithoutLatent,
    #[serde(rename = "no-low-rank")]
    WithoutLowRank,
    Full,
}

impl LossVariant {
    const ALL: [LossVariant; 4] = [
        LossVariant::WithoutLatentAndLowRank,
        LossVariant::WithoutLatent,
        LossVariant::WithoutLowRank,
        LossVariant::Full,
    ];

    pub fn name(self) -> &'static str {
        match self {
            LossVariant::WithoutLatentAndLowRank => "no-latent-no-low-rank",
            LossVariant::WithoutLatent => "no-latent",
            LossVariant::WithoutLowRank => "no-low-rank",
            LossVariant::Full => "full",
        }
    }

    fn flags(self) -> &'static [&'static str] {
        match self {
            LossVariant::WithoutLatentAndLowRank => &["--no-latent", "--no-low-rank"],
            LossVariant::WithoutLatent => &["--no-latent"],
            LossVariant::WithoutLowRank => &["--no-low-rank"],
            LossVariant::Full => &[],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AblationDataset {
    Mnist,
    Brain,
}

/// The folder of a suite's results under --out: the suite's name, `ablation-brain` for the
/// brain ablation (so that it does not replace MNIST's), and `-<tag>` after either for a tagged
/// run (a second tuning grid beside the first).
pub fn suite_folder(
    suite: Suite,
    ablation_dataset: Option<AblationDataset>,
    tag: Option<&str>,
) -> String {
    let base = match (suite, ablation_dataset) {
        (Suite::Ablation, Some(AblationDataset::Brain)) => "ablation-brain".to_string(),
        _ => suite.name().to_string(),
    };
    match tag {
        Some(tag) => format!("{base}-{tag}"),
        None => base,
    }
}

#[derive(Debug, Args)]
pub struct ReproduceArgs {
    #[arg(long, value_enum)]
    pub suite: Suite,
    /// Network size: `paper` (GANomaly's), `brain` (the brain experiment's CPU network, the
    /// brain suites' default) or `tiny` (a reduced budget for CPUs). The summary marks results
    /// below the paper's network or epochs as reduced.
    #[arg(long, value_enum)]
    pub preset: Option<Preset>,
    /// Training epochs per model (default: the preset's; the paper's budget is 15, the brain
    /// network's 80).
    #[arg(long)]
    pub epochs: Option<u64>,
    /// Seeds per split (the paper's tables are means over runs).
    #[arg(long, value_delimiter = ',', default_value = "0,1,2")]
    pub seeds: Vec<u64>,
    /// Normal classes to run (default: all ten).
    #[arg(long, value_delimiter = ',')]
    pub classes: Vec<u8>,
    /// Use at most this many normal training images per model (a reduced budget).
    #[arg(long)]
    pub max_train_images: Option<usize>,
    /// Dataset folder; default: ../shared/data/<dataset> when present.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// MNIST: the small sample built into the binary instead of the full dataset (quick checks
    /// and tests; the summary says so).
    #[arg(long)]
    pub sample: bool,
    /// Brain: tumour cases for testing (default: the tumour cases in the training folder).
    #[arg(long)]
    pub test_dir: Option<PathBuf>,
    /// Dataset of the ablation.
    #[arg(long, value_enum, default_value_t = AblationDataset::Mnist)]
    pub ablation_dataset: AblationDataset,
    /// Tuning: the grid, one `train-option=value,value,…` per entry (the options of
    /// `cargo xtask train` without their dashes); every combination is trained.
    #[arg(
        long,
        value_delimiter = ' ',
        default_value = "w-lr=0.01,0.1,1 latent-dim=32,100"
    )]
    pub grid: Vec<String>,
    /// Extra `cargo xtask train` options passed to every run (e.g. "--w-lr 0.5 --latent-dim 64").
    #[arg(long, allow_hyphen_values = true)]
    pub train_options: Option<String>,
    /// Results in `results/<suite>-<tag>/` instead of `results/<suite>/` (e.g. a second tuning
    /// grid kept beside the first); letters, digits and dashes.
    #[arg(long)]
    pub tag: Option<String>,
    /// Keep runs whose results file already exists (finish a suite that was interrupted).
    #[arg(long)]
    pub resume: bool,
    #[arg(long, value_enum, default_value_t = Backend::Auto)]
    pub backend: Backend,
    /// Results folder (results/<suite>/…).
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Where the trained runs live.
    #[arg(long, default_value = "runs/reproduce")]
    pub runs_dir: PathBuf,
}

/// One trained and evaluated model of a suite.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunSummary {
    /// Its results file (eval's schema), relative to the suite's folder.
    pub file: String,
    /// The equivalent command line.
    pub command: String,
    pub dataset: String,
    pub class: Option<u8>,
    pub seed: u64,
    pub variant: Option<LossVariant>,
    /// Tuning: the grid point's train options (e.g. "--w-lr 0.1 --latent-dim 32").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<String>,
    pub latent_auc: f64,
    pub pixel_auc: f64,
    /// Brain: the latent-score AUC on synthetic lesions in healthy validation slices, the
    /// tuning suite's selection criterion (validation data only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_latent_auc: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_pixel_auc: Option<f64>,
    pub selected_epoch: u64,
    pub epochs: u64,
    pub train_wall_seconds: f64,
    pub train_device: String,
    /// Brain: the protocol's figures of this model (see [`brain_figures`] for the names).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub brain: BTreeMap<String, f64>,
    /// Brain: each test case's within-case AUROC per score.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub brain_cases: Vec<CaseFigures>,
}

/// One test case's within-case AUROC for the model's scores and the baselines.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseFigures {
    pub case: String,
    pub tumour: usize,
    pub healthy: usize,
    /// Score name → AUROC (baselines as oriented in advance).
    pub auroc: BTreeMap<String, f64>,
}

/// A test case's within-case AUROCs over the suite's seeds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseSpread {
    pub case: String,
    pub tumour: usize,
    pub healthy: usize,
    pub auroc: BTreeMap<String, Spread>,
}

/// The brain protocol's figures of one model, by name: `<score>.auroc`, `.auprc`,
/// `.case_mean_auroc`, `.height_matched_auroc` for every score (latent, pixel, the baselines),
/// `<baseline>.either_direction_auroc`, `<model score>.flagged_tumour`,
/// `.flagged_healthy_test`, `.flagged_healthy_validation`, and `best_baseline_auroc`,
/// `validation_psnr_db`, `steps`, `selected_step`, `train_hours`.
/// A brain results file holds everything today's eval writes: the protocol, and the synthetic
/// check with today's lesions (when the run has one).
fn evaluated_as_today(results: &EvalResults) -> bool {
    let lesions_current = results.synthetic.as_ref().is_none_or(|synthetic| {
        synthetic.lesions.as_ref() == Some(&lran::data::lesion::LesionConfig::default())
    });
    results.brain.is_some() && lesions_current
}

pub fn brain_figures(results: &EvalResults) -> (BTreeMap<String, f64>, Vec<CaseFigures>) {
    let mut figures = BTreeMap::new();
    let mut cases: Vec<CaseFigures> = Vec::new();
    let Some(brain) = &results.brain else {
        return (figures, cases);
    };
    for score in &brain.protocol.scores {
        let name = &score.score;
        figures.insert(format!("{name}.auroc"), score.pooled.auroc);
        figures.insert(format!("{name}.auprc"), score.pooled.auprc);
        figures.insert(format!("{name}.case_mean_auroc"), score.mean_case_auroc);
        figures.insert(
            format!("{name}.height_matched_auroc"),
            score.height_matched.auroc,
        );
        if score.baseline {
            figures.insert(
                format!("{name}.either_direction_auroc"),
                score.pooled.either_direction_auroc(),
            );
        }
        if let Some(flagged) = score.flagged {
            figures.insert(format!("{name}.flagged_tumour"), flagged.tumour);
            figures.insert(format!("{name}.flagged_healthy_test"), flagged.healthy_test);
            figures.insert(
                format!("{name}.flagged_healthy_validation"),
                flagged.healthy_validation,
            );
        }
        for case in &score.per_case {
            let Some(detection) = case.detection else {
                continue;
            };
            let at = match cases.iter().position(|c| c.case == case.case) {
                Some(at) => at,
                None => {
                    cases.push(CaseFigures {
                        case: case.case.clone(),
                        tumour: case.tumour,
                        healthy: case.healthy,
                        auroc: BTreeMap::new(),
                    });
                    cases.len() - 1
                }
            };
            cases[at].auroc.insert(name.clone(), detection.auroc);
        }
    }
    figures.insert(
        "best_baseline_auroc".into(),
        brain.protocol.best_baseline_auroc(),
    );
    figures.insert(
        "validation_psnr_db".into(),
        brain.reconstruction.psnr_db_mean,
    );
    if let Some(synthetic) = &results.synthetic {
        figures.insert("synthetic.latent_auroc".into(), synthetic.latent_auc);
        figures.insert("synthetic.pixel_auroc".into(), synthetic.pixel_auc);
        if let Some(flagged) = synthetic.flagged {
            figures.insert("synthetic.latent_flagged_lesioned".into(), flagged.latent_lesioned);
            figures.insert("synthetic.latent_flagged_untouched".into(), flagged.latent_untouched);
            figures.insert("synthetic.pixel_flagged_lesioned".into(), flagged.pixel_lesioned);
            figures.insert("synthetic.pixel_flagged_untouched".into(), flagged.pixel_untouched);
        }
    }
    figures.insert("steps".into(), results.steps as f64);
    figures.insert("selected_step".into(), results.selected_step as f64);
    figures.insert("train_hours".into(), results.train_wall_seconds / 3600.0);
    (figures, cases)
}

/// Each brain figure's mean and spread over the runs that have it.
pub fn brain_spreads(runs: &[RunSummary]) -> BTreeMap<String, Spread> {
    let mut names: Vec<&String> = runs.iter().flat_map(|r| r.brain.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter_map(|name| {
            let values: Vec<f64> = runs
                .iter()
                .filter_map(|r| r.brain.get(name).copied())
                .collect();
            Spread::of(&values).map(|spread| (name.clone(), spread))
        })
        .collect()
}

/// Each test case's AUROCs over the runs.
pub fn case_spreads(runs: &[RunSummary]) -> Vec<CaseSpread> {
    let mut out: Vec<CaseSpread> = Vec::new();
    for run in runs {
        for case in &run.brain_cases {
            if !out.iter().any(|c| c.case == case.case) {
                out.push(CaseSpread {
                    case: case.case.clone(),
                    tumour: case.tumour,
                    healthy: case.healthy,
                    auroc: BTreeMap::new(),
                });
            }
        }
    }
    for spread in &mut out {
        let mut names: Vec<&String> = runs
            .iter()
            .flat_map(|r| r.brain_cases.iter().filter(|c| c.case == spread.case))
            .flat_map(|c| c.auroc.keys())
            .collect();
        names.sort();
        names.dedup();
        for name in names {
            let values: Vec<f64> = runs
                .iter()
                .flat_map(|r| r.brain_cases.iter().filter(|c| c.case == spread.case))
                .filter_map(|c| c.auroc.get(name).copied())
                .collect();
            if let Some(s) = Spread::of(&values) {
                spread.auroc.insert(name.clone(), s);
            }
        }
    }
    out
}

/// Mean and sample standard deviation over a group of runs.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Spread {
    pub mean: f64,
    pub std: f64,
    pub n: usize,
}

impl Spread {
    pub fn of(values: &[f64]) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        let n = values.len();
        let mean = values.iter().sum::<f64>() / n as f64;
        let std = if n > 1 {
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        Some(Self { mean, std, n })
    }
}

/// A table row: a class (one-class suites) or a loss variant (ablation), over seeds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Group {
    pub key: String,
    pub latent_auc: Spread,
    pub pixel_auc: Spread,
    /// The synthetic-lesion validation AUC of the latent score, where every member has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_latent_auc: Option<Spread>,
}

/// The tuning suite's choice: the group with the best mean validation AUC.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Selection {
    pub options: String,
    pub rule: String,
    pub validation_latent_auc: f64,
    /// Reported after the choice, never used for it.
    pub test_latent_auc: f64,
    pub test_pixel_auc: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SuiteSummary {
    pub kind: String,
    pub suite: Suite,
    pub commit: String,
    pub created_unix: u64,
    pub command: String,
    pub preset: String,
    pub epochs: u64,
    pub seeds: Vec<u64>,
    pub max_train_images: Option<usize>,
    pub train_options: Option<String>,
    /// MNIST's built-in sample instead of the full dataset.
    #[serde(default)]
    pub sample: bool,
    /// Less than the paper's budget (smaller network, fewer epochs or images): such numbers are
    /// a check of the pipeline, not a reproduction, and the report says so.
    pub reduced: bool,
    pub note: String,
    pub devices: Vec<String>,
    pub wall_seconds: f64,
    pub runs: Vec<RunSummary>,
    pub groups: Vec<Group>,
    /// Mean over the groups' means (each class counts once, as in the paper's "mean" column).
    pub mean_latent_auc: Option<f64>,
    pub mean_pixel_auc: Option<f64>,
    /// Ablation: its dataset (absent in older files: MNIST).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ablation_dataset: Option<AblationDataset>,
    /// The --tag of its folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Tuning: the grid and the selected point.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grid: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection: Option<Selection>,
    /// Brain suites: each protocol figure over the seeds (names as in [`brain_figures`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub brain: BTreeMap<String, Spread>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub brain_cases: Vec<CaseSpread>,
    /// Brain suites: the model to ship, chosen on validation data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chosen: Option<ChosenModel>,
}

/// The brain suite's model to ship: the seed whose latent score best separates synthetic lesions
/// from the same healthy validation slices untouched. Each seed holds out its own validation
/// subjects, so the figures compare like with like only in kind (each is an AUROC of one
/// model on subjects it never trained on); test figures play no part.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChosenModel {
    pub file: String,
    pub seed: u64,
    pub rule: String,
    pub validation_latent_auc: f64,
}

/// The brain suite's choice (see [`ChosenModel`]); the first seed on a tie.
pub fn choose_model(runs: &[RunSummary]) -> Option<ChosenModel> {
    let mut best: Option<&RunSummary> = None;
    for run in runs {
        let Some(value) = run.validation_latent_auc.filter(|v| v.is_finite()) else {
            continue;
        };
        if best.is_none_or(|b| value > b.validation_latent_auc.unwrap_or(f64::NEG_INFINITY)) {
            best = Some(run);
        }
    }
    best.map(|run| ChosenModel {
        file: run.file.clone(),
        seed: run.seed,
        rule: "highest latent-score AUROC on synthetic lesions in the run's own healthy \
               validation slices (test figures not consulted)"
            .into(),
        validation_latent_auc: run.validation_latent_auc.unwrap_or(f64::NAN),
    })
}

/// `cargo xtask train` options shared by every run of the suite.
fn common_options(args: &ReproduceArgs) -> Vec<String> {
    let mut options = vec![
        "--preset".to_string(),
        args.preset().name().to_string(),
        "--epochs".into(),
        args.epochs().to_string(),
        "--backend".into(),
        format!("{:?}", args.backend).to_lowercase(),
        "--runs-dir".into(),
        args.runs_dir.display().to_string(),
        // Test AUCs per epoch are never used for selection; eval computes the final ones.
        "--no-test-auc".into(),
    ];
    if let Some(limit) = args.max_train_images {
        options.extend(["--max-train-images".into(), limit.to_string()]);
    }
    if let Some(extra) = &args.train_options {
        options.extend(extra.split_whitespace().map(String::from));
    }
    options
}

fn data_dir_option(args: &ReproduceArgs, dataset: &str) -> Result<Vec<String>> {
    if args.sample {
        if dataset != "mnist" || args.data_dir.is_some() {
            bail!("--sample is MNIST's built-in sample: not with --data-dir or other datasets");
        }
        return Ok(Vec::new());
    }
    let dir = match &args.data_dir {
        Some(dir) => Some(dir.clone()),
        None => crate::data::shared_data(dataset),
    };
    match dir {
        Some(dir) => Ok(vec!["--data-dir".into(), dir.display().to_string()]),
        None if dataset == "cifar10" => bail!(
            "CIFAR-10 is not in ../shared/data: download the binary version \
             (cifar-10-binary.tar.gz), unpack it and pass --data-dir"
        ),
        None => bail!("no {dataset} data: pass --data-dir"),
    }
}

/// A planned run: its name and its `cargo xtask train` arguments.
struct Plan {
    name: String,
    dataset: String,
    class: Option<u8>,
    seed: u64,
    variant: Option<LossVariant>,
    options: Option<String>,
    train_args: Vec<String>,
}

/// One point of the tuning grid: its train options and a suffix for run names.
#[derive(Debug, Clone, PartialEq)]
struct GridPoint {
    options: Vec<String>,
    suffix: String,
}

/// Every combination of the grid's values, in the order given (the first option varies slowest).
fn grid_points(grid: &[String]) -> Result<Vec<GridPoint>> {
    let mut points = vec![GridPoint {
        options: Vec::new(),
        suffix: String::new(),
    }];
    let mut seen = Vec::new();
    for entry in grid.iter().filter(|e| !e.is_empty()) {
        let Some((option, values)) = entry.split_once('=') else {
            bail!("--grid: {entry:?} is not option=value,value,… (e.g. w-lr=0.01,0.1)");
        };
        let option = option.trim_start_matches('-');
        if option.is_empty()
            || !option
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            bail!("--grid: {option:?} is not a train option's name");
        }
        if seen.contains(&option.to_string()) {
            bail!("--grid names {option} twice");
        }
        seen.push(option.to_string());
        let values: Vec<&str> = values.split(',').filter(|v| !v.is_empty()).collect();
        if values.is_empty() {
            bail!("--grid: {option} has no values");
        }
        if let Some(bad) = values.iter().find(|v| {
            !v.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | '_'))
        }) {
            bail!("--grid: {option} value {bad:?} is not a plain number or word");
        }
        points = points
            .into_iter()
            .flat_map(|point| {
                values.iter().map(move |value| {
                    let mut options = point.options.clone();
                    options.extend([format!("--{option}"), value.to_string()]);
                    GridPoint {
                        options,
                        suffix: format!("{}-{option}{value}", point.suffix),
                    }
                })
            })
            .collect();
    }
    if points.len() < 2 {
        bail!("--grid needs at least two settings to choose between");
    }
    if points.len() > 64 {
        bail!("--grid has {} combinations: at most 64", points.len());
    }
    Ok(points)
}

fn plans(args: &ReproduceArgs) -> Result<Vec<Plan>> {
    let preset = args.preset().name().to_string();
    // A tagged suite trains its own runs: it never overwrites the runs of an untagged one.
    let tag = args
        .tag
        .as_deref()
        .map(|t| format!("-{t}"))
        .unwrap_or_default();
    let classes: Vec<u8> = if args.classes.is_empty() {
        (0..10).collect()
    } else {
        args.classes.clone()
    };
    if let Some(bad) = classes.iter().find(|&&c| c > 9) {
        bail!("--classes: {bad} is not a class of a ten-class dataset");
    }
    if args.seeds.is_empty() {
        bail!("--seeds needs at least one seed");
    }
    let one_class = |dataset: &str, variant: Option<LossVariant>| -> Result<Vec<Plan>> {
        let data = data_dir_option(args, dataset)?;
        let mut plans = Vec::new();
        for &class in &classes {
            for &seed in &args.seeds {
                let suffix = variant
                    .map(|v| format!("-{}", v.name()))
                    .unwrap_or_default();
                let name = format!("{dataset}-class{class}-seed{seed}-{preset}{suffix}{tag}");
                let mut train_args = vec![
                    "--dataset".to_string(),
                    dataset.to_string(),
                    "--class".into(),
                    class.to_string(),
                    "--seed".into(),
                    seed.to_string(),
                    "--run-name".into(),
                    name.clone(),
                ];
                train_args.extend(data.iter().cloned());
                if let Some(variant) = variant {
                    train_args.extend(variant.flags().iter().map(|f| f.to_string()));
                }
                train_args.extend(common_options(args));
                plans.push(Plan {
                    name,
                    dataset: dataset.to_string(),
                    class: Some(class),
                    seed,
                    variant,
                    options: None,
                    train_args,
                });
            }
        }
        Ok(plans)
    };
    let brain = |variant: Option<LossVariant>, point: Option<&GridPoint>| -> Vec<Plan> {
        args.seeds
            .iter()
            .map(|&seed| {
                let mut suffix = variant
                    .map(|v| format!("-{}", v.name()))
                    .unwrap_or_default();
                if let Some(point) = point {
                    suffix.push_str(&point.suffix);
                }
                let name = format!("brain-t1-seed{seed}-{preset}{suffix}{tag}");
                let mut train_args = vec![
                    "--dataset".to_string(),
                    "brain".into(),
                    "--seed".into(),
                    seed.to_string(),
                    "--run-name".into(),
                    name.clone(),
                ];
                if let Some(dir) = &args.data_dir {
                    train_args.extend(["--data-dir".into(), dir.display().to_string()]);
                }
                if let Some(dir) = &args.test_dir {
                    train_args.extend(["--test-dir".into(), dir.display().to_string()]);
                }
                if let Some(variant) = variant {
                    train_args.extend(variant.flags().iter().map(|f| f.to_string()));
                }
                train_args.extend(common_options(args));
                // A grid option also given in --train-options fails to parse before anything trains.
                if let Some(point) = point {
                    train_args.extend(point.options.iter().cloned());
                }
                Plan {
                    name,
                    dataset: "brain".into(),
                    class: None,
                    seed,
                    variant,
                    options: point.map(|p| p.options.join(" ")),
                    train_args,
                }
            })
            .collect()
    };
    Ok(match args.suite {
        Suite::Mnist => one_class("mnist", None)?,
        Suite::FashionMnist => one_class("fashion-mnist", None)?,
        Suite::Cifar10 => one_class("cifar10", None)?,
        Suite::Brain => brain(None, None),
        Suite::Ablation => {
            let mut all = Vec::new();
            for variant in LossVariant::ALL {
                match args.ablation_dataset {
                    AblationDataset::Mnist => all.extend(one_class("mnist", Some(variant))?),
                    AblationDataset::Brain => all.extend(brain(Some(variant), None)),
                }
            }
            all
        }
        Suite::Tuning => grid_points(&args.grid)?
            .iter()
            .flat_map(|point| brain(None, Some(point)))
            .collect(),
        Suite::Scores => Vec::new(),
    })
}

#[derive(Parser)]
#[command(name = "train", no_binary_name = false)]
struct TrainCommand {
    #[command(flatten)]
    args: TrainArgs,
}

fn parse_train(arguments: &[String]) -> Result<TrainArgs> {
    let argv = std::iter::once("train".to_string()).chain(arguments.iter().cloned());
    TrainCommand::try_parse_from(argv)
        .map(|c| c.args)
        .map_err(|e| anyhow::anyhow!("invalid train options: {e}"))
}

pub fn run(args: ReproduceArgs) -> Result<()> {
    if args.suite == Suite::Scores {
        return scores(&args);
    }
    if args.epochs() == 0 {
        bail!("--epochs must be at least 1");
    }
    if let Some(tag) = &args.tag
        && (tag.is_empty() || !tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
    {
        bail!("--tag {tag:?}: use letters, digits and dashes");
    }
    let started = Instant::now();
    let suite_dir = args.out.join(suite_folder(
        args.suite,
        ablation_dataset(&args),
        args.tag.as_deref(),
    ));
    let plans = plans(&args)?;
    // Parse every command line before training anything: a typo fails at once.
    for plan in &plans {
        parse_train(&plan.train_args).with_context(|| format!("run {}", plan.name))?;
    }
    eprintln!(
        "reproduce {}: {} models ({} preset, {} epochs)",
        args.suite.name(),
        plans.len(),
        args.preset().name().to_string(),
        args.epochs()
    );
    let mut runs = Vec::with_capacity(plans.len());
    for (index, plan) in plans.iter().enumerate() {
        let file = format!("{}.json", plan.name);
        let path = suite_dir.join(&file);
        let command = format!("cargo xtask train {}", plan.train_args.join(" "));
        // Under --resume a finished model is kept, unless its results file predates the brain
        // protocol or the synthetic lesions drawn today (then it is evaluated again); an
        // unfinished one continues from its last checkpoint.
        let finished = args.resume
            && path.is_file()
            && (plan.dataset != "brain" || evaluated_as_today(&read_results(&path)?));
        if !finished {
            eprintln!("[{}/{}] {}", index + 1, plans.len(), plan.name);
            let run_dir = crate::run::RunDir::new(&args.runs_dir, &plan.name);
            let mut train_args = plan.train_args.clone();
            let progress = run_dir.read_progress().ok();
            if args.resume && progress.is_some() {
                train_args.push("--resume".into());
            }
            let trained = progress.is_some_and(|p| p.epoch >= args.epochs());
            if !(args.resume && trained) {
                train::run(parse_train(&train_args)?)
                    .with_context(|| format!("training {}", plan.name))?;
            }
            eval::run(EvalArgs {
                run: Some(plan.name.clone()),
                model: None,
                dataset: None,
                data_dir: None,
                test_dir: None,
                runs_dir: args.runs_dir.clone(),
                out: Some(path.clone()),
                backend: args.backend,
            })
            .with_context(|| format!("evaluating {}", plan.name))?;
        }
        let results = read_results(&path)?;
        let (figures, case_figures) = brain_figures(&results);
        let validation = results.synthetic.as_ref();
        if args.suite == Suite::Tuning && validation.is_none() {
            bail!(
                "{} has no synthetic-lesion validation check, the tuning suite's criterion \
                 (do not pass --no-synthetic-lesions)",
                path.display()
            );
        }
        eprintln!(
            "    AUC latent {:.4}, pixel {:.4} (epoch {} of {} selected on validation data)",
            results.latent_auc, results.pixel_auc, results.selected_epoch, results.epochs
        );
        runs.push(RunSummary {
            file,
            command,
            dataset: plan.dataset.clone(),
            class: plan.class,
            seed: plan.seed,
            variant: plan.variant,
            options: plan.options.clone(),
            latent_auc: results.latent_auc,
            pixel_auc: results.pixel_auc,
            validation_latent_auc: validation.map(|v| v.latent_auc),
            validation_pixel_auc: validation.map(|v| v.pixel_auc),
            selected_epoch: results.selected_epoch,
            epochs: results.epochs,
            train_wall_seconds: results.train_wall_seconds,
            train_device: results.train_device.clone(),
            brain: figures,
            brain_cases: case_figures,
        });
        // The summary after every run: an interrupted suite keeps what it finished.
        write_summary(&args, &suite_dir, &runs, started.elapsed().as_secs_f64())?;
    }
    println!("{}", suite_dir.join("summary.json").display());
    Ok(())
}

fn read_results(path: &Path) -> Result<EvalResults> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not an eval results file", path.display()))
}

fn group_key(run: &RunSummary, suite: Suite) -> String {
    match (suite, run.variant, run.class) {
        (Suite::Ablation, Some(variant), _) => variant.name().to_string(),
        (Suite::Tuning, _, _) => run.options.clone().unwrap_or_default(),
        (_, _, Some(class)) => class.to_string(),
        _ => run.dataset.clone(),
    }
}

pub fn groups(runs: &[RunSummary], suite: Suite) -> Vec<Group> {
    let mut keys: Vec<String> = Vec::new();
    for run in runs {
        let key = group_key(run, suite);
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys.into_iter()
        .filter_map(|key| {
            let members: Vec<&RunSummary> =
                runs.iter().filter(|r| group_key(r, suite) == key).collect();
            let latent: Vec<f64> = members.iter().map(|r| r.latent_auc).collect();
            let pixel: Vec<f64> = members.iter().map(|r| r.pixel_auc).collect();
            let validation: Option<Vec<f64>> =
                members.iter().map(|r| r.validation_latent_auc).collect();
            Some(Group {
                key,
                latent_auc: Spread::of(&latent)?,
                pixel_auc: Spread::of(&pixel)?,
                validation_latent_auc: validation.as_deref().and_then(Spread::of),
            })
        })
        .collect()
}

fn write_summary(
    args: &ReproduceArgs,
    suite_dir: &Path,
    runs: &[RunSummary],
    wall_seconds: f64,
) -> Result<()> {
    let groups = groups(runs, args.suite);
    let selection = (args.suite == Suite::Tuning)
        .then(|| select(&groups))
        .flatten();
    let mean = |f: fn(&Group) -> f64| {
        Spread::of(&groups.iter().map(f).collect::<Vec<_>>()).map(|s| s.mean)
    };
    let reduced = args.preset() != Preset::Paper
        || args.epochs() < lran::config::PAPER_EPOCHS
        || args.max_train_images.is_some()
        || args.sample;
    let mut devices: Vec<String> = runs.iter().map(|r| r.train_device.clone()).collect();
    devices.dedup();
    let summary = SuiteSummary {
        kind: "lran-reproduce/1".into(),
        suite: args.suite,
        commit: commit(),
        created_unix: now_unix(),
        command: command_line(),
        preset: args.preset().name().to_string(),
        epochs: args.epochs(),
        seeds: args.seeds.clone(),
        max_train_images: args.max_train_images,
        train_options: args.train_options.clone(),
        sample: args.sample,
        reduced,
        note: if reduced {
            "REDUCED BUDGET (smaller network, fewer epochs, fewer or sample training images \
             than the paper): a check of the pipeline, not a reproduction of the paper's numbers"
                .into()
        } else {
            "the paper's budget: GANomaly's network, 15 epochs, all training images".into()
        },
        devices,
        wall_seconds,
        runs: runs.to_vec(),
        mean_latent_auc: mean(|g| g.latent_auc.mean),
        mean_pixel_auc: mean(|g| g.pixel_auc.mean),
        groups,
        ablation_dataset: ablation_dataset(args),
        tag: args.tag.clone(),
        grid: if args.suite == Suite::Tuning {
            args.grid.clone()
        } else {
            Vec::new()
        },
        selection,
        brain: brain_spreads(runs),
        brain_cases: case_spreads(runs),
        chosen: (args.suite == Suite::Brain)
            .then(|| choose_model(runs))
            .flatten(),
    };
    write_json(&suite_dir.join("summary.json"), &summary)
}

impl ReproduceArgs {
    /// Trains brain models (the brain suite, its tuning grid, the brain ablation).
    fn on_brain(&self) -> bool {
        matches!(self.suite, Suite::Brain | Suite::Tuning)
            || (self.suite == Suite::Ablation && self.ablation_dataset == AblationDataset::Brain)
    }

    pub fn preset(&self) -> Preset {
        self.preset.unwrap_or(if self.on_brain() {
            Preset::Brain
        } else {
            Preset::Paper
        })
    }

    pub fn epochs(&self) -> u64 {
        self.epochs.unwrap_or(self.preset().default_epochs())
    }
}

fn ablation_dataset(args: &ReproduceArgs) -> Option<AblationDataset> {
    (args.suite == Suite::Ablation).then_some(args.ablation_dataset)
}

impl SuiteSummary {
    /// Its folder under the results folder.
    pub fn folder(&self) -> String {
        suite_folder(self.suite, self.ablation_dataset, self.tag.as_deref())
    }
}

/// The tuning suite's rule: the highest mean synthetic-lesion validation AUC of the latent
/// score (the first such group on a tie). Test AUCs play no part.
pub fn select(groups: &[Group]) -> Option<Selection> {
    let mut best: Option<(&Group, f64)> = None;
    for group in groups {
        let Some(validation) = group.validation_latent_auc else {
            continue;
        };
        if validation.mean.is_finite() && best.is_none_or(|(_, v)| validation.mean > v) {
            best = Some((group, validation.mean));
        }
    }
    best.map(|(group, validation)| Selection {
        options: group.key.clone(),
        rule: "highest mean latent-score AUC on synthetic lesions in healthy validation slices \
               (test AUCs not consulted)"
            .into(),
        validation_latent_auc: validation,
        test_latent_auc: group.latent_auc.mean,
        test_pixel_auc: group.pixel_auc.mean,
    })
}

/// The score comparison: latent vs pixel AUC of every model the other suites trained.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScoresSummary {
    pub kind: String,
    pub commit: String,
    pub created_unix: u64,
    pub command: String,
    pub datasets: Vec<ScoresRow>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScoresRow {
    pub suite: Suite,
    pub reduced: bool,
    pub models: usize,
    pub latent_auc: Spread,
    pub pixel_auc: Spread,
    /// Models whose latent AUC beats their pixel AUC.
    pub latent_better: usize,
}

fn scores(args: &ReproduceArgs) -> Result<()> {
    let mut rows = Vec::new();
    for suite in [
        Suite::Mnist,
        Suite::FashionMnist,
        Suite::Cifar10,
        Suite::Brain,
    ] {
        let path = args.out.join(suite.name()).join("summary.json");
        if !path.is_file() {
            continue;
        }
        let summary: SuiteSummary = serde_json::from_str(&std::fs::read_to_string(&path)?)
            .with_context(|| format!("{} is not a suite summary", path.display()))?;
        let latent: Vec<f64> = summary.runs.iter().map(|r| r.latent_auc).collect();
        let pixel: Vec<f64> = summary.runs.iter().map(|r| r.pixel_auc).collect();
        let (Some(latent_auc), Some(pixel_auc)) = (Spread::of(&latent), Spread::of(&pixel)) else {
            continue;
        };
        rows.push(ScoresRow {
            suite,
            reduced: summary.reduced,
            models: summary.runs.len(),
            latent_auc,
            pixel_auc,
            latent_better: summary
                .runs
                .iter()
                .filter(|r| r.latent_auc > r.pixel_auc)
                .count(),
        });
    }
    if rows.is_empty() {
        bail!(
            "no suite results under {}: run `cargo xtask reproduce --suite mnist` (or another) first",
            args.out.display()
        );
    }
    let summary = ScoresSummary {
        kind: "lran-scores/1".into(),
        commit: commit(),
        created_unix: now_unix(),
        command: command_line(),
        datasets: rows,
    };
    let path = args.out.join("scores").join("summary.json");
    write_json(&path, &summary)?;
    println!("{}", path.display());
    Ok(())
}
