//! The command line end to end: a tiny train → eval → export on the embedded sample, and the
//! bad inputs the issue lists, each with an error naming the file and the problem.

mod common;

use common::{argv, argv_with, fails_with, scratch, xtask};
use std::process::Output;

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn tiny() -> Vec<&'static str> {
    argv(
        "train --preset tiny --epochs 1 --backend cpu --max-train-images 128 --no-test-auc --batch-size 32",
    )
}

#[test]
fn train_eval_export_on_the_embedded_sample() {
    let dir = scratch("cli", "pipeline");
    let mut args = tiny();
    args.extend(["--normal-class", "1", "--run-name", "tiny"]);
    let output = xtask(&args, &dir);
    assert!(output.status.success(), "train failed: {}", stderr(&output));
    let run = dir.join("runs/tiny");
    for file in [
        "run.json",
        "metrics.jsonl",
        "checkpoints/last/generator.bpk",
        "checkpoints/best/selection.json",
    ] {
        assert!(run.join(file).is_file(), "missing {file}");
    }
    let metrics: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(run.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(metrics["epoch"], 1);
    assert!(metrics["train"]["generator"].as_f64().unwrap() > 0.0);

    // Resume continues at epoch 2 with the same flags.
    let mut resume = args.clone();
    resume[4] = "2";
    resume.push("--resume");
    let output = xtask(&resume, &dir);
    assert!(
        output.status.success(),
        "resume failed: {}",
        stderr(&output)
    );
    assert!(stderr(&output).contains("resuming"));
    assert_eq!(
        std::fs::read_to_string(run.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .count(),
        2
    );

    let output = xtask(&["eval", "--run", "tiny", "--backend", "cpu"], &dir);
    assert!(output.status.success(), "eval failed: {}", stderr(&output));
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("eval.json")).unwrap()).unwrap();
    let auc = results["latent_auc"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&auc));
    assert_eq!(results["test_images"], 2000);
    assert_eq!(results["epochs"], 2);
    assert!(results["roc_latent"].as_array().unwrap().len() > 10);
    assert_eq!(results["data_files"].as_array().unwrap().len(), 4);

    let output = xtask(&["export", "--run", "tiny", "--name", "digit-one"], &dir);
    assert!(
        output.status.success(),
        "export failed: {}",
        stderr(&output)
    );
    let card = std::fs::read_to_string(dir.join("models/digit-one/model.json")).unwrap();
    let card = lran::card::ModelCard::from_json("model.json", &card).unwrap();
    assert_eq!(card.provenance.normal_class, Some(1));
    // The latent explorer's data: three unit axes of the latent's length, and reference points
    // from healthy validation, anomalous and normal test images, each with a finite score.
    let views = card
        .latent_views
        .as_ref()
        .expect("model.json has latent views");
    assert_eq!(views.axes.len(), 3);
    for axis in &views.axes {
        assert_eq!(axis.len(), card.model.latent_dim);
        let norm: f32 = axis.iter().map(|a| a * a).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-3, "axis norm {norm}");
    }
    assert!(views.explained_variance[0] >= views.explained_variance[1]);
    for set in ["healthy-validation", "anomalous-test", "normal-test"] {
        let points: Vec<_> = views.points.iter().filter(|p| p.set == set).collect();
        assert!(
            !points.is_empty() && points.len() <= 150,
            "{set}: {}",
            points.len()
        );
        assert!(
            points
                .iter()
                .all(|p| p.score.is_finite() && p.xyz.iter().all(|v| v.is_finite()))
        );
    }
    assert_eq!(card.results.unwrap()["latent_auc"].as_f64().unwrap(), auc);
    assert!(dir.join("models/digit-one/generator.bpk").is_file());
    let copied: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("models/digit-one/eval.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(copied["latent_auc"].as_f64().unwrap(), auc);

    // An unreadable checkpoint: resume names the file.
    std::fs::write(run.join("checkpoints/last/generator.bpk"), b"garbage").unwrap();
    let mut resume3 = resume.clone();
    resume3[4] = "3";
    fails_with(
        &resume3,
        &dir,
        &["cannot resume", "generator", "unreadable weights"],
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_inputs_get_clear_errors() {
    let dir = scratch("cli", "bad");
    let with = |extra: &[&str]| -> Vec<String> {
        tiny().iter().chain(extra).map(|s| s.to_string()).collect()
    };
    let run = |extra: &[&str], expected: &[&str]| {
        let args = with(extra);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        fails_with(&refs, &dir, expected);
    };
    run(
        &["--data-dir", "no/such/folder"],
        &["no/such/folder", "does not exist"],
    );
    run(&["--normal-class", "12"], &["normal-class 12", "outside"]);
    run(&["--image-size", "48"], &["image size 48"]);

    // A folder with a truncated image file and a non-IDX labels file.
    let data = dir.join("broken");
    std::fs::create_dir_all(&data).unwrap();
    let images = lran::data::idx::encode_idx(&[10, 28, 28], &[0; 10 * 28 * 28]);
    std::fs::write(data.join("train-images-idx3-ubyte"), &images[..1000]).unwrap();
    std::fs::write(
        data.join("train-labels-idx1-ubyte"),
        b"this is not an idx file",
    )
    .unwrap();
    std::fs::write(data.join("t10k-images-idx3-ubyte"), &images).unwrap();
    std::fs::write(
        data.join("t10k-labels-idx1-ubyte"),
        lran::data::idx::encode_idx(&[9], &[0; 9]),
    )
    .unwrap();
    let data_arg = data.to_string_lossy().into_owned();
    run(
        &["--data-dir", &data_arg],
        &["train-images-idx3-ubyte", "truncated"],
    );
    std::fs::write(data.join("train-images-idx3-ubyte"), &images).unwrap();
    run(
        &["--data-dir", &data_arg],
        &["train-labels-idx1-ubyte", "not an IDX file"],
    );
    std::fs::write(
        data.join("train-labels-idx1-ubyte"),
        lran::data::idx::encode_idx(&[10], &[1; 10]),
    )
    .unwrap();
    run(
        &["--data-dir", &data_arg],
        &["t10k-images-idx3-ubyte", "10 images", "9 labels"],
    );
    std::fs::remove_file(data.join("t10k-labels-idx1-ubyte")).unwrap();
    run(&["--data-dir", &data_arg], &["no t10k-labels-idx1-ubyte"]);

    fails_with(
        &["eval", "--run", "never-trained"],
        &dir,
        &["never-trained", "not a training run"],
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--reference pytorch` checks its Python before measuring anything, and says what is missing.
#[test]
fn the_pytorch_reference_needs_a_python_with_torch() {
    let dir = scratch("cli", "bench-reference");
    let bench = "bench --tiny --backends cpu --shapes tiny32 --batches 4 --warmup 1 --runs 1 --steps-per-run 1 --out bench --reference pytorch --python";
    fails_with(
        &argv_with(&format!("{bench} {{}}"), &["./no-such-python"]),
        &dir,
        &["cannot run ./no-such-python", "a Python with torch"],
    );
    // A Python without torch, as a shell script that fails the way Python does.
    let python = dir.join("python-without-torch");
    std::fs::write(
        &python,
        "#!/bin/sh\necho \"ModuleNotFoundError: No module named 'torch'\" >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&python, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    fails_with(
        &argv_with(&format!("{bench} {{}}"), &[python.to_str().unwrap()]),
        &dir,
        &[
            "cannot import torch",
            "No module named 'torch'",
            "never a dependency",
        ],
    );
    assert!(
        !dir.join("bench").exists(),
        "nothing measured before the check"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bench_writes_medians_with_provenance() {
    let dir = scratch("cli", "bench");
    let args = argv(
        "bench --tiny --backends cpu --shapes mnist32 --batches 4 --warmup 1 --runs 3 --steps-per-run 1 --out bench",
    );
    let output = xtask(&args, &dir);
    assert!(output.status.success(), "bench failed: {}", stderr(&output));
    let path = dir.join(String::from_utf8_lossy(&output.stdout).trim());
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let lock = std::fs::read_to_string(common::manifest_dir().join("../Cargo.lock")).unwrap();
    let burn = results["burn_version"].as_str().unwrap();
    assert!(
        lock.contains(&format!("name = \"burn\"\nversion = \"{burn}\"")),
        "burn {burn}"
    );
    let entries = results["entries"].as_array().unwrap();
    // --conv auto (the default): both convolution algorithms, each with all three modes.
    let measured: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e["conv"].as_str().unwrap(), e["mode"].as_str().unwrap()))
        .collect();
    assert_eq!(
        measured,
        [
            ("native", "generator"),
            ("native", "gan"),
            ("native", "score"),
            ("gemm", "generator"),
            ("gemm", "gan"),
            ("gemm", "score")
        ]
    );
    // The reference's parameter counts (bench/ganomaly_reference.py reports the same).
    assert!(
        entries
            .iter()
            .all(|e| e["parameters"]["generator"].as_u64().unwrap() > 0)
    );
    for entry in entries {
        let mut runs: Vec<f64> = entry["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_f64().unwrap())
            .collect();
        assert_eq!(runs.len(), 3);
        runs.sort_by(f64::total_cmp);
        assert_eq!(
            entry["images_per_second"].as_f64().unwrap(),
            runs[1],
            "the median of three runs"
        );
        assert!(runs[0] > 0.0 && entry["device"].as_str().unwrap().starts_with("flex"));
    }
    fails_with(&["bench", "--runs", "0"], &dir, &["at least 1"]);
    fails_with(&["bench", "--batches", "1"], &dir, &["at least 2"]);
}

/// The README's generated section is exactly what `cargo xtask report` renders from the
/// committed results files now: no number in it is typed, or left behind by a newer result.
#[test]
fn the_readme_report_is_what_the_results_files_render() {
    let root = common::manifest_dir().parent().unwrap().to_path_buf();
    let rendered = common::succeeds(&["report"], &root);
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let start = readme
        .find("<!-- report:start")
        .and_then(|i| readme[i..].find("-->").map(|j| i + j + 3))
        .expect("README has the report's start marker");
    let end = readme
        .find("<!-- report:end -->")
        .expect("README has the report's end marker");
    assert_eq!(
        readme[start..end].trim(),
        rendered.trim(),
        "README.md's report section is stale: run `cargo xtask report --readme`"
    );
}
