//! `cargo xtask reproduce --suite …`: the paper's experiments run with lran's own `train` and
//! `eval`, one results file per trained model (`results/<suite>/<run>.json`, eval's schema) and
//! a `summary.json` per suite that `cargo xtask report` turns into the paper's tables.
//!
//! Each run is an ordinary `cargo xtask train …` command line (recorded in the summary), so any
//! number can be re-derived by hand. Model selection and thresholds come from healthy
//! validation data only (train's rule); test AUCs are computed once, after selection.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser};

use crate::backend::{Backend, ConvChoice};
use crate::experiments::results::{
    AblationDataset, Group, LossVariant, RunSummary, ScoresRow, ScoresSummary, Spread, Suite,
    SuiteSummary, brain_figures, brain_spreads, case_spreads, choose_model, groups, select,
    suite_folder,
};
use crate::provenance::{ResultsHeader, write_json};
use crate::training::eval::{self, EvalArgs, EvalResults};
use crate::training::train::{self, Preset, TrainArgs};

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

/// `cargo xtask train` options shared by every run of the suite.
fn common_options(args: &ReproduceArgs) -> Vec<String> {
    let mut options = vec![
        "--preset".to_string(),
        args.preset().name().to_string(),
        "--epochs".into(),
        args.epochs().to_string(),
        "--backend".into(),
        crate::cli_value(args.backend),
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

/// A planned run: what it is (for the summary) and how it trains: `train`, parsed once from
/// `command_line` when the suite is planned, so a typo fails before anything trains. The
/// command line is kept as the plan's record: the summary names the exact `cargo xtask train`
/// that reproduces the model, and clap's parse of it is, by construction, what ran.
struct Plan {
    name: String,
    dataset: String,
    class: Option<u8>,
    seed: u64,
    variant: Option<LossVariant>,
    options: Option<String>,
    command_line: Vec<String>,
    train: TrainArgs,
    /// The ablation's full loss is the one-class suite's own model: the name of that suite's
    /// run, whose results file stands in for this one when its command line is this one's.
    same_as: Option<String>,
}

impl Plan {
    fn new(
        name: String,
        dataset: &str,
        class: Option<u8>,
        seed: u64,
        variant: Option<LossVariant>,
        options: Option<String>,
        command_line: Vec<String>,
    ) -> Result<Self> {
        let train = parse_train(&command_line).with_context(|| format!("run {name}"))?;
        Ok(Self {
            name,
            dataset: dataset.to_string(),
            class,
            seed,
            variant,
            options,
            command_line,
            train,
            same_as: None,
        })
    }

    /// This plan's command line training under another run name.
    fn command_named(&self, name: &str) -> String {
        let mut line = self.command_line.clone();
        if let Some(i) = line.iter().position(|a| a == "--run-name") {
            line[i + 1] = name.to_string();
        }
        format!("cargo xtask train {}", line.join(" "))
    }
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
                let mut plan =
                    Plan::new(name, dataset, Some(class), seed, variant, None, train_args)?;
                if variant == Some(LossVariant::Full) && args.tag.is_none() {
                    plan.same_as = Some(format!("{dataset}-class{class}-seed{seed}-{preset}"));
                }
                plans.push(plan);
            }
        }
        Ok(plans)
    };
    let brain = |variant: Option<LossVariant>, point: Option<&GridPoint>| -> Result<Vec<Plan>> {
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
                Plan::new(
                    name,
                    "brain",
                    None,
                    seed,
                    variant,
                    point.map(|p| p.options.join(" ")),
                    train_args,
                )
            })
            .collect()
    };
    Ok(match args.suite {
        Suite::Mnist => one_class("mnist", None)?,
        Suite::FashionMnist => one_class("fashion-mnist", None)?,
        Suite::Cifar10 => one_class("cifar10", None)?,
        Suite::Brain => brain(None, None)?,
        Suite::Ablation => {
            let mut all = Vec::new();
            for variant in LossVariant::ALL {
                match args.ablation_dataset {
                    AblationDataset::Mnist => all.extend(one_class("mnist", Some(variant))?),
                    AblationDataset::Brain => all.extend(brain(Some(variant), None)?),
                }
            }
            all
        }
        Suite::Tuning => {
            let mut all = Vec::new();
            for point in grid_points(&args.grid)? {
                all.extend(brain(None, Some(&point))?);
            }
            all
        }
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

pub fn run(args: ReproduceArgs, conv: ConvChoice) -> Result<()> {
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
    eprintln!(
        "reproduce {}: {} models ({} preset, {} epochs)",
        args.suite.name(),
        plans.len(),
        args.preset().name().to_string(),
        args.epochs()
    );
    let mut runs = Vec::with_capacity(plans.len());
    for (index, plan) in plans.iter().enumerate() {
        let same = same_model(&args, plan)?;
        let (file, path, command) = match same.clone() {
            Some(same) => same,
            None => {
                let file = format!("{}.json", plan.name);
                let path = suite_dir.join(&file);
                let command = format!("cargo xtask train {}", plan.command_line.join(" "));
                (file, path, command)
            }
        };
        // Under --resume a finished model is kept, unless its results file predates the brain
        // protocol or the synthetic lesions drawn today (then it is evaluated again); an
        // unfinished one continues from its last checkpoint.
        let finished = same.is_some()
            || (args.resume
                && path.is_file()
                && (plan.dataset != "brain" || evaluated_as_today(&read_results(&path)?)));
        if same.is_some() {
            eprintln!(
                "[{}/{}] {}: the same model as {} (its suite ran this command line)",
                index + 1,
                plans.len(),
                plan.name,
                path.display()
            );
        }
        if !finished {
            eprintln!("[{}/{}] {}", index + 1, plans.len(), plan.name);
            let run_dir = crate::training::run_dir::RunDir::new(&args.runs_dir, &plan.name);
            let progress = run_dir.read_progress().ok();
            let train = TrainArgs {
                resume: args.resume && progress.is_some(),
                ..plan.train.clone()
            };
            let trained = progress.is_some_and(|p| p.epoch >= args.epochs());
            if !(args.resume && trained) {
                train::run(train, conv).with_context(|| format!("training {}", plan.name))?;
            }
            eval::run(
                EvalArgs {
                    run: Some(plan.name.clone()),
                    model: None,
                    dataset: None,
                    data_dir: None,
                    test_dir: None,
                    runs_dir: args.runs_dir.clone(),
                    out: Some(path.clone()),
                    backend: args.backend,
                },
                conv,
            )
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
            results.pooled.latent_auc,
            results.pooled.pixel_auc,
            results.selected_epoch,
            results.epochs
        );
        runs.push(RunSummary {
            file,
            command,
            dataset: plan.dataset.clone(),
            class: plan.class,
            seed: plan.seed,
            variant: plan.variant,
            options: plan.options.clone(),
            latent_auc: results.pooled.latent_auc,
            pixel_auc: results.pooled.pixel_auc,
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

/// The results file, in its suite's folder, of the model a plan would train, when that suite's
/// summary lists it under the very command line the plan would run (the same data, network,
/// losses, epochs and options, only the run's name differing): the ablation's full loss is the
/// MNIST suite's model, and training it twice would spend the suite's CPU hours again for a
/// second draw of the same thing. The returned file name is relative to the plan's own folder.
fn same_model(args: &ReproduceArgs, plan: &Plan) -> Result<Option<(String, PathBuf, String)>> {
    let Some(name) = &plan.same_as else {
        return Ok(None);
    };
    // A one-class suite's folder is its dataset's name (`results/mnist/`).
    let folder = args.out.join(&plan.dataset);
    let summary_path = folder.join("summary.json");
    if !summary_path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&summary_path)
        .with_context(|| format!("cannot read {}", summary_path.display()))?;
    let summary: SuiteSummary = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a suite summary", summary_path.display()))?;
    let file = format!("{name}.json");
    let command = plan.command_named(name);
    let path = folder.join(&file);
    let listed = summary
        .runs
        .iter()
        .any(|run| run.file == file && run.command == command);
    Ok((listed && path.is_file()).then(|| (format!("../{}/{file}", plan.dataset), path, command)))
}

/// A brain results file holds everything today's eval writes: the protocol, and the synthetic
/// check with today's lesions (when the run has one).
fn evaluated_as_today(results: &EvalResults) -> bool {
    let lesions_current = results.synthetic.as_ref().is_none_or(|synthetic| {
        synthetic.lesions.as_ref() == Some(&lran::data::lesion::LesionConfig::default())
    });
    results.brain.is_some() && lesions_current
}

fn read_results(path: &Path) -> Result<EvalResults> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not an eval results file", path.display()))
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
        header: ResultsHeader::now("lran-reproduce/1"),
        suite: args.suite,
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
        header: ResultsHeader::now("lran-scores/1"),
        datasets: rows,
    };
    let path = args.out.join("scores").join("summary.json");
    write_json(&path, &summary)?;
    println!("{}", path.display());
    Ok(())
}
