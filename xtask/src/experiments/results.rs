//! The results schema: what `cargo xtask reproduce` writes into `results/<suite>/summary.json`
//! (and `results/scores/summary.json`) and `cargo xtask report` reads, with the suite and
//! variant names both use and the figures derived from eval's results files.

use std::collections::BTreeMap;

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

use crate::provenance::ResultsHeader;
use crate::training::eval::EvalResults;

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
    pub const ALL: [LossVariant; 4] = [
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

    pub fn flags(self) -> &'static [&'static str] {
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

/// One trained and evaluated model of a suite.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunSummary {
    /// Its results file (eval's schema), relative to the suite's folder: `<run>.json`, or
    /// `../<suite>/<run>.json` for another suite's model trained by the same command line (the
    /// ablation's full loss is the MNIST suite's model).
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

impl RunSummary {
    /// Its results file relative to the repository root, for a suite in `results/<folder>/`.
    pub fn results_path(&self, folder: &str) -> String {
        match self.file.strip_prefix("../") {
            Some(other_suite) => format!("results/{other_suite}"),
            None => format!("results/{folder}/{}", self.file),
        }
    }
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
            figures.insert(
                "synthetic.latent_flagged_lesioned".into(),
                flagged.latent_lesioned,
            );
            figures.insert(
                "synthetic.latent_flagged_untouched".into(),
                flagged.latent_untouched,
            );
            figures.insert(
                "synthetic.pixel_flagged_lesioned".into(),
                flagged.pixel_lesioned,
            );
            figures.insert(
                "synthetic.pixel_flagged_untouched".into(),
                flagged.pixel_untouched,
            );
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
    #[serde(flatten)]
    pub header: ResultsHeader,
    pub suite: Suite,
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
    highest(runs, |run| run.validation_latent_auc).map(|(run, value)| ChosenModel {
        file: run.file.clone(),
        seed: run.seed,
        rule: "highest latent-score AUROC on synthetic lesions in the run's own healthy \
               validation slices (test figures not consulted)"
            .into(),
        validation_latent_auc: value,
    })
}

/// The item with the highest finite `value` (the first on a tie), with that value; items
/// without one are passed over.
fn highest<T>(items: &[T], value: impl Fn(&T) -> Option<f64>) -> Option<(&T, f64)> {
    let mut best: Option<(&T, f64)> = None;
    for item in items {
        let Some(v) = value(item).filter(|v| v.is_finite()) else {
            continue;
        };
        if best.is_none_or(|(_, b)| v > b) {
            best = Some((item, v));
        }
    }
    best
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

impl SuiteSummary {
    /// The runs of the group with key `key` (a class, a loss variant or a grid point).
    pub fn members<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a RunSummary> + 'a {
        self.runs
            .iter()
            .filter(move |run| group_key(run, self.suite) == key)
    }

    /// Its folder under the results folder.
    pub fn folder(&self) -> String {
        suite_folder(self.suite, self.ablation_dataset, self.tag.as_deref())
    }
}

/// The tuning suite's rule: the highest mean synthetic-lesion validation AUC of the latent
/// score (the first such group on a tie). Test AUCs play no part.
pub fn select(groups: &[Group]) -> Option<Selection> {
    highest(groups, |group| group.validation_latent_auc.map(|v| v.mean)).map(
        |(group, validation)| Selection {
            options: group.key.clone(),
            rule:
                "highest mean latent-score AUC on synthetic lesions in healthy validation slices \
               (test AUCs not consulted)"
                    .into(),
            validation_latent_auc: validation,
            test_latent_auc: group.latent_auc.mean,
            test_pixel_auc: group.pixel_auc.mean,
        },
    )
}

/// The score comparison: latent vs pixel AUC of every model the other suites trained.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScoresSummary {
    #[serde(flatten)]
    pub header: ResultsHeader,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_of_another_suite_resolves_to_that_suites_folder() {
        let run: RunSummary = serde_json::from_value(serde_json::json!({
            "file": "../mnist/mnist-class1-seed0-paper.json",
            "command": "cargo xtask train",
            "dataset": "mnist",
            "class": 1,
            "seed": 0,
            "variant": "full",
            "latent_auc": 0.9,
            "pixel_auc": 0.8,
            "selected_epoch": 1,
            "epochs": 1,
            "train_wall_seconds": 1.0,
            "train_device": "cpu"
        }))
        .unwrap();
        assert_eq!(
            run.results_path("ablation"),
            "results/mnist/mnist-class1-seed0-paper.json"
        );
        let own = RunSummary {
            file: "mnist-class1-seed0-paper-no-latent.json".into(),
            ..run
        };
        assert_eq!(
            own.results_path("ablation"),
            "results/ablation/mnist-class1-seed0-paper-no-latent.json"
        );
    }
}
