//! `cargo xtask reproduce` and `report` end to end on MNIST's built-in sample: the suite's
//! summary must agree with the per-model results files it names, the ablation must train what
//! each variant says, the tuning suite must choose on validation data alone, and the report
//! must show our numbers and the paper's, each labelled.

mod common;

use common::brain::{write_brats2019, write_hcp};
use common::{argv, argv_with, scratch, xtask};
use std::path::Path;

use serde_json::Value;

fn ok<S: AsRef<std::ffi::OsStr> + std::fmt::Debug>(args: &[S], dir: &Path) -> String {
    let output = xtask(args, dir);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{args:?} failed: {stderr}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn json(path: &Path) -> Value {
    common::read_json(path)
}

const QUICK: &[&str] = &[
    "--sample",
    "--preset",
    "tiny",
    "--epochs",
    "1",
    "--max-train-images",
    "96",
    "--backend",
    "cpu",
    "--train-options",
    "--batch-size 32",
];

#[test]
fn a_suite_summary_agrees_with_its_results_files_and_the_report_labels_both_sides() {
    let dir = scratch("reproduce", "mnist");
    let results = dir.join("results");
    let mut args = argv("reproduce --suite mnist --classes 0,3 --seeds 0,1");
    args.extend(QUICK);
    args.extend(["--out", results.to_str().unwrap(), "--runs-dir"]);
    let runs = dir.join("runs");
    args.push(runs.to_str().unwrap());
    ok(&args, &dir);

    let summary = json(&results.join("mnist/summary.json"));
    assert_eq!(summary["reduced"], true);
    assert!(summary["note"].as_str().unwrap().starts_with("REDUCED"));
    let run_list = summary["runs"].as_array().unwrap();
    assert_eq!(run_list.len(), 4, "two classes × two seeds");
    // Every run's AUCs are those of the results file it names, trained as its command says.
    let mut by_class: std::collections::BTreeMap<u64, Vec<f64>> = Default::default();
    for run in run_list {
        let file = json(&results.join("mnist").join(run["file"].as_str().unwrap()));
        assert_eq!(run["latent_auc"], file["latent_auc"]);
        assert_eq!(run["pixel_auc"], file["pixel_auc"]);
        assert_eq!(file["seed"], run["seed"]);
        assert_eq!(file["config"]["seed"], run["seed"]);
        assert!(
            run["command"]
                .as_str()
                .unwrap()
                .starts_with("cargo xtask train --dataset mnist")
        );
        by_class
            .entry(run["class"].as_u64().unwrap())
            .or_default()
            .push(file["latent_auc"].as_f64().unwrap());
    }
    // Groups: mean and sample standard deviation over the seeds, recomputed here.
    let groups = summary["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2);
    for group in groups {
        let values = &by_class[&group["key"].as_str().unwrap().parse::<u64>().unwrap()];
        let mean = values.iter().sum::<f64>() / 2.0;
        let std = ((values[0] - mean).powi(2) + (values[1] - mean).powi(2)).sqrt();
        assert!((group["latent_auc"]["mean"].as_f64().unwrap() - mean).abs() < 1e-12);
        assert!((group["latent_auc"]["std"].as_f64().unwrap() - std).abs() < 1e-12);
        assert_eq!(group["latent_auc"]["n"], 2);
    }

    // Resuming reuses finished runs instead of training again.
    let before = std::fs::metadata(results.join("mnist/mnist-class0-seed0-tiny.json"))
        .unwrap()
        .modified()
        .unwrap();
    args.push("--resume");
    ok(&args, &dir);
    let after = std::fs::metadata(results.join("mnist/mnist-class0-seed0-tiny.json"))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(before, after, "--resume retrained a finished run");

    // Scores: latent vs pixel over the same models.
    ok(
        &argv_with(
            "reproduce --suite scores --out {}",
            &[results.to_str().unwrap()],
        ),
        &dir,
    );
    let scores = json(&results.join("scores/summary.json"));
    let row = &scores["datasets"][0];
    assert_eq!(row["suite"], "mnist");
    assert_eq!(row["models"], 4);
    let better = run_list
        .iter()
        .filter(|r| r["latent_auc"].as_f64() > r["pixel_auc"].as_f64())
        .count();
    assert_eq!(row["latent_better"], better as u64);

    // The report: ours from the summary, the paper's labelled as the paper's.
    let report = ok(&["report", "--results", results.to_str().unwrap()], &dir);
    let mean = summary["mean_latent_auc"].as_f64().unwrap();
    assert!(report.contains(&format!("**{mean:.3}**")), "{report}");
    assert!(report.contains("REDUCED BUDGET"), "{report}");
    assert!(report.contains("paper, LRAN"), "{report}");
    assert!(report.contains("Latent vs pixel score"), "{report}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_ablation_trains_each_loss_configuration() {
    let dir = scratch("reproduce", "ablation");
    let results = dir.join("results");
    let runs = dir.join("runs");
    let mut args = argv("reproduce --suite ablation --classes 1 --seeds 0");
    args.extend(QUICK);
    args.extend([
        "--out",
        results.to_str().unwrap(),
        "--runs-dir",
        runs.to_str().unwrap(),
    ]);
    ok(&args, &dir);
    let summary = json(&results.join("ablation/summary.json"));
    let keys: Vec<&str> = summary["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        ["no-latent-no-low-rank", "no-latent", "no-low-rank", "full"]
    );
    for run in summary["runs"].as_array().unwrap() {
        let file = json(&results.join("ablation").join(run["file"].as_str().unwrap()));
        let losses = &file["config"]["losses"];
        let variant = run["variant"].as_str().unwrap();
        let latent_on = losses["latent"]["enabled"].as_bool().unwrap();
        let low_rank_on = losses["low_rank"]["enabled"].as_bool().unwrap();
        let expected = match variant {
            "no-latent-no-low-rank" => (false, false),
            "no-latent" => (false, true),
            "no-low-rank" => (true, false),
            "full" => (true, true),
            other => panic!("unknown variant {other}"),
        };
        assert_eq!((latent_on, low_rank_on), expected, "{variant}");
    }
    let report = ok(&["report", "--results", results.to_str().unwrap()], &dir);
    assert!(report.contains("Ablation of the loss terms"), "{report}");
    let full = |summary: &Value| -> Value {
        summary["runs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["variant"] == "full")
            .cloned()
            .expect("the ablation has a full-loss run")
    };
    assert_eq!(
        full(&summary)["file"],
        "mnist-class1-seed0-tiny-full.json",
        "with no MNIST suite beside it, the ablation trains its full loss itself"
    );

    // The MNIST suite's model of the same command line stands in for the full loss.
    let mut suite = argv("reproduce --suite mnist --classes 1 --seeds 0");
    suite.extend(QUICK);
    suite.extend([
        "--out",
        results.to_str().unwrap(),
        "--runs-dir",
        runs.to_str().unwrap(),
    ]);
    ok(&suite, &dir);
    let mut again = args.clone();
    again.push("--resume");
    let output = xtask(&again, &dir);
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("the same model as"), "{stderr}");
    let summary = json(&results.join("ablation/summary.json"));
    let reused = full(&summary);
    assert_eq!(reused["file"], "../mnist/mnist-class1-seed0-tiny.json");
    let suite_file = json(&results.join("mnist/mnist-class1-seed0-tiny.json"));
    assert_eq!(reused["latent_auc"], suite_file["latent_auc"]);
    assert_eq!(reused["pixel_auc"], suite_file["pixel_auc"]);
    let report = ok(&["report", "--results", results.to_str().unwrap()], &dir);
    assert!(report.contains("Ablation of the loss terms"), "{report}");

    // Another budget is another model: the full loss trains again.
    let mut other = args.clone();
    let limit = other.iter().position(|a| *a == "96").unwrap();
    other[limit] = "64";
    ok(&other, &dir);
    let summary = json(&results.join("ablation/summary.json"));
    assert_eq!(full(&summary)["file"], "mnist-class1-seed0-tiny-full.json");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn reproduce_refuses_what_it_cannot_run() {
    let dir = scratch("reproduce", "refuse");
    let output = xtask(&argv("reproduce --suite mnist --classes 12 --sample"), &dir);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("12 is not a class"));
    let output = xtask(
        &[
            "reproduce",
            "--suite",
            "cifar10",
            "--data-dir",
            dir.join("nothing").to_str().unwrap(),
            "--epochs",
            "1",
            "--classes",
            "0",
            "--seeds",
            "0",
        ],
        &dir,
    );
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(!message.contains("panicked"), "{message}");
    let output = xtask(
        &["report", "--results", dir.join("empty").to_str().unwrap()],
        &dir,
    );
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no suite summaries"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `reproduce` on the brain phantoms in `dir` (hcp/, brats/): one seed (unless `suite_args`
/// name them), one epoch, the tiny
/// network at 32 px unless `train_options` says otherwise; `suite_args` name the suite.
fn brain_reproduce(dir: &Path, suite_args: &[&str], train_options: &str) -> String {
    let (results, runs) = (dir.join("results"), dir.join("runs"));
    let mut args = vec!["reproduce"];
    args.extend(suite_args);
    if !suite_args.contains(&"--seeds") {
        args.extend(["--seeds", "0"]);
    }
    args.extend([
        "--data-dir",
        "hcp",
        "--test-dir",
        "brats",
        "--preset",
        "tiny",
        "--epochs",
        "1",
        "--backend",
        "cpu",
        "--train-options",
        train_options,
        "--out",
        results.to_str().unwrap(),
        "--runs-dir",
        runs.to_str().unwrap(),
    ]);
    ok(&args, dir)
}

/// The tuning suite trains every grid point per seed (HCP-layout healthy phantoms, BraTS 2019
/// tumour phantoms) and selects by the synthetic-lesion validation AUC, never by test AUC.
#[test]
fn tuning_selects_the_best_validation_score_of_every_grid_point() {
    let dir = scratch("reproduce", "tuning");
    write_hcp(&dir.join("hcp"), 3);
    write_brats2019(&dir.join("brats"));
    let results = dir.join("results");
    let runs = dir.join("runs");
    brain_reproduce(
        &dir,
        &["--suite", "tuning", "--grid", "w-lr=0.01,1 latent-dim=8"],
        "--image-size 32 --batch-size 16",
    );
    let summary = json(&results.join("tuning/summary.json"));
    let run_list = summary["runs"].as_array().unwrap();
    assert_eq!(run_list.len(), 2, "two grid points × one seed");
    let mut best: Option<(&str, f64)> = None;
    for run in run_list {
        let options = run["options"].as_str().unwrap();
        assert!(options.contains("--latent-dim 8"), "{options}");
        let command = run["command"].as_str().unwrap();
        assert!(
            command.ends_with(options),
            "{command} does not train {options}"
        );
        // Each run trained what its grid point says.
        let file = results.join("tuning").join(run["file"].as_str().unwrap());
        let eval = json(&file);
        assert_eq!(eval["config"]["model"]["latent_dim"], 8);
        let weight = eval["config"]["losses"]["low_rank"]["weight"]
            .as_f64()
            .unwrap();
        assert!(
            options.contains(&format!("--w-lr {weight}")),
            "{options} vs {weight}"
        );
        let validation = run["validation_latent_auc"].as_f64().unwrap();
        assert_eq!(
            validation,
            eval["synthetic"]["latent_auc"].as_f64().unwrap()
        );
        if best.is_none_or(|(_, v)| validation > v) {
            best = Some((options, validation));
        }
    }
    let selection = &summary["selection"];
    assert_eq!(selection["options"].as_str(), best.map(|b| b.0));
    assert_eq!(
        selection["validation_latent_auc"].as_f64(),
        best.map(|b| b.1)
    );
    let report = ok(&["report", "--results", results.to_str().unwrap()], &dir);
    assert!(report.contains("(selected)"), "{report}");
    assert!(report.contains("chosen on validation data"), "{report}");

    // A tagged grid keeps its own folder and runs beside the first.
    brain_reproduce(
        &dir,
        &[
            "--suite",
            "tuning",
            "--tag",
            "size",
            "--grid",
            "image-size=32,64",
        ],
        "--batch-size 16 --latent-dim 8",
    );
    let tagged = json(&results.join("tuning-size/summary.json"));
    assert_eq!(tagged["tag"], "size");
    assert_eq!(
        json(&results.join("tuning/summary.json"))["runs"],
        summary["runs"]
    );
    for run in tagged["runs"].as_array().unwrap() {
        let file = run["file"].as_str().unwrap();
        assert!(file.ends_with("-size.json"), "{file}");
        assert!(runs.join(file.trim_end_matches(".json")).is_dir(), "{file}");
    }
    let report = ok(&["report", "--results", results.to_str().unwrap()], &dir);
    assert!(report.contains("image-size=32,64"), "{report}");

    // The brain ablation keeps its own folder beside MNIST's.
    brain_reproduce(
        &dir,
        &["--suite", "ablation", "--ablation-dataset", "brain"],
        "--image-size 32 --batch-size 16",
    );
    let ablation = json(&results.join("ablation-brain/summary.json"));
    assert_eq!(ablation["ablation_dataset"], "brain");
    assert_eq!(ablation["runs"].as_array().unwrap().len(), 4);
    assert!(!results.join("ablation/summary.json").exists());
    let report = ok(&["report", "--results", results.to_str().unwrap()], &dir);
    assert!(
        report.contains("Ablation of the loss terms on brain MRI"),
        "{report}"
    );
    assert!(
        report.contains("results/ablation-brain/summary.json"),
        "{report}"
    );

    // A grid that names nothing to choose between, or a malformed one, trains nothing.
    for (grid, expected) in [
        ("w-lr=0.1", "at least two settings"),
        ("w-lr", "is not option=value"),
        ("w-lr=0.1,1 w-lr=2", "names w-lr twice"),
        ("w-lr=0.1;rm,1", "not a plain number"),
    ] {
        let output = xtask(
            &argv_with(
                "reproduce --suite tuning --grid {} --out {}",
                &[grid, results.to_str().unwrap()],
            ),
            &dir,
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success() && stderr.contains(expected),
            "{grid}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The brain suite writes the whole protocol: its summary's figures are the means of the runs'
/// results files, each run's figures are its eval file's numbers, a second `--resume` keeps
/// the finished model, and the report shows the baselines and the height-matched AUROC.
#[test]
fn the_brain_suite_summarises_the_protocol_of_its_results_files() {
    let dir = scratch("reproduce", "brain-protocol");
    write_hcp(&dir.join("hcp"), 4);
    write_brats2019(&dir.join("brats"));
    let results = dir.join("results");
    brain_reproduce(
        &dir,
        &["--suite", "brain", "--seeds", "0,1"],
        "--image-size 32 --batch-size 16",
    );
    let summary = json(&results.join("brain/summary.json"));
    let runs = summary["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    let mut pooled = Vec::new();
    for run in runs {
        let eval = json(&results.join("brain").join(run["file"].as_str().unwrap()));
        let protocol = &eval["brain"]["protocol"];
        let latent = protocol["scores"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["score"] == "latent")
            .unwrap();
        assert_eq!(run["brain"]["latent.auroc"], latent["pooled"]["auroc"]);
        assert_eq!(
            run["brain"]["latent.height_matched_auroc"],
            latent["height_matched"]["auroc"]
        );
        // Every baseline is there, and the best one is the largest of their either-direction AUROCs.
        let either: Vec<f64> = ["brain-area", "centrality", "mean-intensity"]
            .iter()
            .map(|b| {
                run["brain"][format!("{b}.either_direction_auroc")]
                    .as_f64()
                    .unwrap()
            })
            .collect();
        assert!(either.iter().all(|a| (0.5..=1.0).contains(a)), "{either:?}");
        assert_eq!(
            run["brain"]["best_baseline_auroc"].as_f64().unwrap(),
            either.iter().cloned().fold(0.0, f64::max)
        );
        assert!(
            eval["brain"]["reconstruction"]["psnr_db_mean"]
                .as_f64()
                .unwrap()
                > 0.0
        );
        assert!(eval["steps"].as_u64().unwrap() > 0);
        // The synthetic check records the lesions it drew and its shares at the threshold.
        let synthetic = &eval["synthetic"];
        assert_eq!(
            run["brain"]["synthetic.latent_auroc"],
            synthetic["latent_auc"]
        );
        assert_eq!(run["validation_latent_auc"], synthetic["latent_auc"]);
        assert!(synthetic["lesions"]["radius"].is_array(), "{synthetic}");
        let flagged = synthetic["flagged"]["latent_lesioned"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&flagged));
        assert_eq!(run["brain"]["synthetic.latent_flagged_lesioned"], flagged);
        pooled.push(latent["pooled"]["auroc"].as_f64().unwrap());
    }
    // The model to ship is the seed with the better synthetic-lesion validation AUROC.
    let validation: Vec<f64> = runs
        .iter()
        .map(|r| r["validation_latent_auc"].as_f64().unwrap())
        .collect();
    let best = if validation[1] > validation[0] { 1 } else { 0 };
    assert_eq!(summary["chosen"]["file"], runs[best]["file"]);
    assert_eq!(summary["chosen"]["seed"], runs[best]["seed"]);
    let mean = summary["brain"]["latent.auroc"]["mean"].as_f64().unwrap();
    assert!(
        (mean - (pooled[0] + pooled[1]) / 2.0).abs() < 1e-12,
        "{mean} vs {pooled:?}"
    );
    assert_eq!(summary["brain"]["latent.auroc"]["n"], 2);
    assert!(!summary["brain_cases"].as_array().unwrap().is_empty());

    // --resume keeps finished models: their results files are not rewritten.
    let file = results
        .join("brain")
        .join(runs[0]["file"].as_str().unwrap());
    let before = std::fs::read_to_string(&file).unwrap();
    brain_reproduce(
        &dir,
        &["--suite", "brain", "--seeds", "0,1", "--resume"],
        "--image-size 32 --batch-size 16",
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), before);

    let report = ok(&["report", "--results", results.to_str().unwrap()], &dir);
    for expected in [
        "height-matched AUROC",
        "baseline: brain area",
        "baseline: closeness to the middle slice",
        "healthy validation slices",
        "PSNR inside the brain",
        "Goals (means over seeds)",
        "| seed | latent AUROC |",
        "The validation check (SYNTHETIC lesions",
        "models/brain-t1",
    ] {
        assert!(report.contains(expected), "{expected}: {report}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The committed brain suite and the shipped model agree: `models/brain-t1` is the seed the suite
/// chose on validation data, and its eval.json is that seed's results file.
#[test]
fn the_shipped_brain_model_is_the_seed_the_brain_suite_chose() {
    let root = common::manifest_dir().join("..");
    let summary = json(&root.join("results/brain/summary.json"));
    let chosen = &summary["chosen"];
    assert!(
        chosen.is_object(),
        "results/brain/summary.json names no chosen model"
    );
    let best = summary["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["validation_latent_auc"].as_f64().unwrap())
        .fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(chosen["validation_latent_auc"].as_f64().unwrap(), best);
    let model = json(&root.join("models/brain-t1/model.json"));
    assert_eq!(model["provenance"]["seed"], chosen["seed"]);
    let shipped = json(&root.join("models/brain-t1/eval.json"));
    let results = json(
        &root
            .join("results/brain")
            .join(chosen["file"].as_str().unwrap()),
    );
    assert_eq!(
        shipped, results,
        "models/brain-t1/eval.json is not the chosen results file"
    );
}
