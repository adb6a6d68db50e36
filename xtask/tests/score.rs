//! `cargo xtask score` and `cargo xtask eval --model` on the shipped models: files the tests
//! write (MNIST digits as PNG and JPEG, bad files, phantom BraTS cases) and, beside ../shared,
//! the real BraTS 2018 cases. Every number the commands print is checked against lran's
//! scorer run here on the same bytes.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::brain::write_brats2019;
use common::{argv_with, fails_with, read_json, scratch, shared_data, text, verdict, xtask};
use lran::burn::tensor::Device;
use lran::data::brain::{BrainCase, MaskRule, SliceLabel, slice_case};
use lran::data::{Protocol, labelled_test_set};
use lran::metrics::roc_auc;
use lran::scorer::ScoringModel;

fn root() -> PathBuf {
    common::manifest_dir().join("..")
}

fn model_dir(name: &str) -> PathBuf {
    root().join("models").join(name)
}

fn model(name: &str) -> ScoringModel {
    ScoringModel::from_dir(&model_dir(name), &Device::flex()).unwrap()
}

/// `cargo xtask eval --model MODEL --dataset brain --test-dir CASES --out OUT` on the CPU.
fn eval_brain(model: &str, cases: &str, out: &str, dir: &Path) -> Output {
    xtask(&eval_brain_args(model, cases, out), dir)
}

fn eval_brain_args(model: &str, cases: &str, out: &str) -> Vec<String> {
    argv_with(
        "eval --model {} --dataset brain --test-dir {} --backend cpu --out {}",
        &[model, cases, out],
    )
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-4 * b.abs().max(1e-6)
}

#[test]
fn score_reports_every_image_and_names_each_bad_file() {
    let dir = scratch("score", "images");
    let images = dir.join("images");
    std::fs::create_dir_all(&images).unwrap();
    let digits = common::mnist_test_digits();
    let mnist = model("mnist-digit1-tiny");
    let mut expected = Vec::new();
    for (k, index) in [0usize, 2, 5, 7].into_iter().enumerate() {
        let image = image::GrayImage::from_raw(28, 28, digits.image(index).to_vec()).unwrap();
        let name = format!(
            "digit{}-{index}.{}",
            digits.labels[index],
            if k == 1 { "jpg" } else { "png" }
        );
        image.save(images.join(&name)).unwrap();
        let path = images.join(&name);
        let bytes = std::fs::read(&path).unwrap();
        let input =
            lran::upload::image_input(&path.display().to_string(), &bytes, mnist.config()).unwrap();
        expected.push((path.display().to_string(), mnist.report(&input).unwrap()));
    }
    std::fs::write(images.join("notes.txt"), "not an image").unwrap(); // skipped in a folder
    let bad = dir.join("cut.png");
    let whole = std::fs::read(&expected[0].0).unwrap();
    std::fs::write(&bad, &whole[..whole.len() / 2]).unwrap();

    let model_arg = model_dir("mnist-digit1-tiny").display().to_string();
    let output = xtask(
        &argv_with(
            "score --model {} images cut.png --backend cpu --out scores.json --heatmaps maps",
            &[&model_arg],
        ),
        &dir,
    );
    let shown = text(&output);
    assert!(
        !output.status.success(),
        "a bad file must fail the run: {shown}"
    );
    assert!(!shown.contains("panicked"), "{shown}");
    assert!(
        shown.contains("cut.png") && shown.contains("cannot decode"),
        "{shown}"
    );
    assert!(
        shown.contains("1 of 5 files could not be scored"),
        "{shown}"
    );

    let results = read_json(&dir.join("scores.json"));
    assert_eq!(results["kind"], "lran-scores/1");
    assert_eq!(results["model"]["name"], mnist.card.name.as_str());
    let rows = results["rows"].as_array().unwrap();
    assert_eq!(rows.len(), expected.len(), "{rows:#?}");
    for (path, report) in &expected {
        let row = rows
            .iter()
            .find(|r| {
                Path::new(r["file"].as_str().unwrap()).file_name() == Path::new(path).file_name()
            })
            .unwrap_or_else(|| panic!("no row for {path}"));
        assert!(
            close(
                row["latent_score"].as_f64().unwrap(),
                report.latent_score as f64
            ),
            "{row}"
        );
        assert!(
            close(
                row["pixel_score"].as_f64().unwrap(),
                report.pixel_score as f64
            ),
            "{row}"
        );
        assert!(
            close(
                row["healthy_percentile"].as_f64().unwrap(),
                report.healthy_percentile
            ),
            "{row}"
        );
        assert_eq!(row["verdict"], verdict(report.anomalous));
        assert!(row["slice"].is_null());
        assert!(
            shown.contains(
                &Path::new(path)
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .to_string()
            )
        );
    }
    let files = results["files"].as_array().unwrap();
    assert_eq!(files.len(), 5);
    assert!(
        files
            .iter()
            .any(|f| f["error"].as_str().is_some_and(|e| e.contains("cut.png")))
    );

    // One heat map per image: three panels of the enlarged input side by side.
    let maps: Vec<PathBuf> = std::fs::read_dir(dir.join("maps"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(maps.len(), expected.len(), "{maps:?}");
    let map = image::open(&maps[0]).unwrap();
    let size = mnist.config().image_size as u32;
    let side = size * (256 / size);
    assert_eq!((map.width(), map.height()), (3 * side + 8, side));

    // CSV: the same rows.
    let output = xtask(
        &argv_with(
            "score --model {} images --backend cpu --out scores.csv",
            &[&model_arg],
        ),
        &dir,
    );
    assert!(output.status.success(), "{}", text(&output));
    let csv = std::fs::read_to_string(dir.join("scores.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "file,slice,latent_score,pixel_score,normalised_score,healthy_percentile,threshold,verdict,warnings,heatmap"
    );
    assert_eq!(lines.count(), expected.len());

    // A volume on a model that is not a brain model, a missing model, a bad --out.
    let volume = dir.join("head.nii.gz");
    common::brain::write_nii_gz(
        &volume,
        &common::brain::lps(4),
        &common::brain::phantom(1, None).0,
    );
    let cpu = ["--backend", "cpu"];
    fails_with(
        &[&["score", "--model", &model_arg, "head.nii.gz"][..], &cpu].concat(),
        &dir,
        &["not a brain model"],
    );
    fails_with(
        &[&["score", "--model", "nowhere", "images"][..], &cpu].concat(),
        &dir,
        &["model.json"],
    );
    fails_with(
        &argv_with("score --model {} images --out scores.txt", &[&model_arg]),
        &dir,
        &[".json or .csv"],
    );
}

/// The native scores of every labelled slice of a BraTS-layout case, as `eval --model` must
/// compute them: (name, tumour?, latent, pixel).
fn native_case_scores(
    brain: &ScoringModel,
    case: &Path,
    t1: &str,
    seg: &str,
) -> Vec<(String, bool, f32, f32)> {
    let name = case.file_name().unwrap().to_string_lossy().into_owned();
    let read = |file: &str| common::brain::read_volume(case, file);
    let input = brain.card.brain_input.as_ref().unwrap();
    let sliced = slice_case(
        &BrainCase {
            name: name.clone(),
            modalities: vec![read(t1)],
            mask: None,
            segmentation: Some(read(seg)),
        },
        input.mask_rule.unwrap_or(MaskRule::NonZero),
        &input.slices,
    )
    .unwrap();
    let kept: Vec<_> = sliced
        .slices
        .iter()
        .filter(|s| matches!(s.label, SliceLabel::Healthy | SliceLabel::Tumour))
        .collect();
    let inputs: Vec<f32> = kept.iter().flat_map(|s| s.input.clone()).collect();
    let scores = brain.score(&inputs).unwrap();
    kept.iter()
        .enumerate()
        .map(|(i, s)| {
            (
                format!("{name}:z{}", s.index),
                s.label == SliceLabel::Tumour,
                scores.latent[i],
                scores.pixel[i],
            )
        })
        .collect()
}

fn check_brain_eval(
    results: &serde_json::Value,
    expected: &[(String, bool, f32, f32)],
    cases: usize,
) {
    assert_eq!(results["kind"], "lran-eval-model/1");
    assert_eq!(
        results["per_case"].as_array().unwrap().len(),
        cases,
        "{}",
        results["per_case"]
    );
    let scores = results["test_scores"].as_array().unwrap();
    assert_eq!(
        results["test_images"].as_u64().unwrap() as usize,
        scores.len()
    );
    for (name, tumour, latent, pixel) in expected {
        let row = scores
            .iter()
            .find(|s| s["name"] == name.as_str())
            .unwrap_or_else(|| panic!("no score for {name}"));
        assert_eq!(row["anomalous"], *tumour, "{name}");
        assert!(
            close(row["latent"].as_f64().unwrap(), *latent as f64),
            "{name}: {row}"
        );
        assert!(
            close(row["pixel"].as_f64().unwrap(), *pixel as f64),
            "{name}: {row}"
        );
    }
    // The pooled AUC is the AUC of the per-slice scores it lists.
    let latent: Vec<f32> = scores
        .iter()
        .map(|s| s["latent"].as_f64().unwrap() as f32)
        .collect();
    let labels: Vec<bool> = scores
        .iter()
        .map(|s| s["anomalous"].as_bool().unwrap())
        .collect();
    let auc = roc_auc(&latent, &labels).unwrap();
    assert!((results["latent_auc"].as_f64().unwrap() - auc).abs() < 1e-9);
    assert!(!results["roc_latent"].as_array().unwrap().is_empty());
    assert!(!results["data_files"].as_array().unwrap().is_empty());
    assert!(results["commit"].as_str().is_some_and(|c| !c.is_empty()));
}

#[test]
fn eval_model_scores_written_brats_cases_per_case_and_pooled() {
    let dir = scratch("score", "eval-brats");
    write_brats2019(&dir.join("brats"));
    let brain = model("brain-t1");
    let model_arg = model_dir("brain-t1").display().to_string();
    let output = eval_brain(&model_arg, "brats", "eval.json", &dir);
    let shown = text(&output);
    assert!(output.status.success(), "{shown}");
    assert!(
        shown.contains("pooled AUC latent") && shown.contains("BraTS19_TEST_000_1"),
        "{shown}"
    );
    let results = read_json(&dir.join("eval.json"));
    let mut expected = Vec::new();
    for n in 0..2 {
        let case = format!("BraTS19_TEST_{n:03}_1");
        expected.extend(native_case_scores(
            &brain,
            &dir.join("brats/HGG").join(&case),
            &format!("{case}_t1.nii.gz"),
            &format!("{case}_seg.nii.gz"),
        ));
    }
    check_brain_eval(&results, &expected, 2);

    // An MNIST model cannot be evaluated on brains, nor a brain model without cases.
    let mnist = model_dir("mnist-digit1-tiny").display().to_string();
    std::fs::create_dir_all(dir.join("empty")).unwrap();
    for (model, cases, expected) in [
        (mnist.as_str(), "brats", "not a brain model"),
        (model_arg.as_str(), "empty", "holds no brain volumes"),
    ] {
        fails_with(
            &eval_brain_args(model, cases, "refused.json"),
            &dir,
            &[expected],
        );
    }
    fails_with(&["eval", "--model", &model_arg], &dir, &["--dataset"]);
}

#[test]
fn eval_model_on_ten_class_data_and_image_folders_matches_the_native_auc() {
    let dir = scratch("score", "eval-mnist");
    let model_arg = model_dir("mnist-digit1-tiny").display().to_string();
    let mnist = model("mnist-digit1-tiny");
    let class = mnist.card.provenance.normal_class.unwrap();
    let digits = common::mnist_test_digits();
    let test = labelled_test_set(&digits, class, Protocol::OneClass, mnist.config()).unwrap();
    let mut latent = Vec::new();
    for chunk in test.data.chunks(64 * test.image_len) {
        latent.extend(mnist.score(chunk).unwrap().latent);
    }
    let native_auc = roc_auc(&latent, &test.anomalous).unwrap();
    let eval = |extra: &[&str], out: &str| -> serde_json::Value {
        let args = [
            &[
                "eval",
                "--model",
                &model_arg,
                "--backend",
                "cpu",
                "--out",
                out,
            ][..],
            extra,
        ]
        .concat();
        let output = xtask(&args, &dir);
        assert!(output.status.success(), "{args:?}: {}", text(&output));
        read_json(&dir.join(out))
    };
    // The embedded sample, and the same four IDX files read from a folder as Fashion-MNIST's.
    let idx = dir.join("idx");
    std::fs::create_dir_all(&idx).unwrap();
    for entry in std::fs::read_dir(root().join("xtask/data/mnist-sample")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, idx.join(path.file_name().unwrap())).unwrap();
    }
    for (extra, label) in [
        (&["--dataset", "mnist"][..], "mnist-embedded-sample"),
        (
            &["--dataset", "fashion-mnist", "--data-dir", "idx"][..],
            "fashion-mnist",
        ),
    ] {
        let results = eval(extra, "eval.json");
        assert!(
            results["dataset"].as_str().unwrap().starts_with(label),
            "{}",
            results["dataset"]
        );
        assert_eq!(
            results["test_images"].as_u64().unwrap() as usize,
            test.len()
        );
        assert_eq!(
            results["test_anomalous"].as_u64().unwrap() as usize,
            test.anomalous.iter().filter(|&&a| a).count()
        );
        let auc = results["latent_auc"].as_f64().unwrap();
        assert!((auc - native_auc).abs() < 1e-6, "{auc} vs {native_auc}");
        let tpr = results["at_threshold"]["true_positive_rate"]
            .as_f64()
            .unwrap();
        assert!((0.0..=1.0).contains(&tpr));
        // Only the test files were read for the evaluation.
        let files = results["data_files"].as_array().unwrap();
        assert!(
            files
                .iter()
                .all(|f| f[0].as_str().unwrap().contains("t10k")),
            "{files:?}"
        );
    }

    // An image folder: the model's normal digits in normal/, others in anomalous/.
    let (mut normal, mut anomalous) = (Vec::new(), Vec::new());
    for i in 0..digits.len() {
        let pick = if digits.labels[i] == class {
            &mut normal
        } else {
            &mut anomalous
        };
        if pick.len() < 12 {
            let folder = if digits.labels[i] == class {
                "normal"
            } else {
                "anomalous"
            };
            let path = dir.join("folder").join(folder).join(format!("test{i}.png"));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            image::GrayImage::from_raw(28, 28, digits.image(i).to_vec())
                .unwrap()
                .save(&path)
                .unwrap();
            pick.push(i);
        }
    }
    let results = eval(
        &["--dataset", "folder", "--data-dir", "folder"],
        "folder.json",
    );
    assert_eq!(results["test_images"], 24);
    assert_eq!(results["test_anomalous"], 12);
    let folder_latent: Vec<f32> = normal
        .iter()
        .chain(&anomalous)
        .map(|&i| latent[i])
        .collect();
    let labels: Vec<bool> = (0..24).map(|k| k >= 12).collect();
    let auc = results["latent_auc"].as_f64().unwrap();
    let expected = roc_auc(&folder_latent, &labels).unwrap();
    // PNG round trip of u8 pixels: the same inputs as the IDX images, so the same scores.
    assert!((auc - expected).abs() < 1e-6, "{auc} vs {expected}");
    let names: Vec<&str> = results["test_scores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&format!("normal/test{}.png", normal[0]).as_str()),
        "{names:?}"
    );
}

/// The real BraTS 2018 cases beside the checkout: a volume scored (top slices, heat maps) and
/// all ten cases evaluated, per case and pooled.
#[test]
fn the_shared_brats_2018_cases_score_and_evaluate() {
    let Some(brain_data) = shared_data("brain") else {
        return;
    };
    let brats = brain_data.join("tumour/brats2018");
    let dir = scratch("score", "brats2018");
    let brain = model("brain-t1");
    let model_arg = model_dir("brain-t1").display().to_string();
    let case = brats.join("Brats18_CBICA_AAB_1");
    let output = xtask(
        &argv_with(
            "score --model {} {} --top 3 --heatmaps maps --out scores.json --backend cpu",
            &[&model_arg, &case.display().to_string()],
        ),
        &dir,
    );
    let shown = text(&output);
    assert!(output.status.success(), "{shown}");
    let results = read_json(&dir.join("scores.json"));
    let files: Vec<&str> = results["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file"].as_str().unwrap())
        .collect();
    // The case folder: its T1 and FLAIR scored, its segmentation skipped.
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files.iter().all(|f| !f.contains("_seg")), "{files:?}");
    let t1 = case.join("Brats18_CBICA_AAB_1_t1.nii.gz");
    let bytes = std::fs::read(&t1).unwrap();
    let sliced = lran::upload::volume_slices("t1", &bytes, &brain.card).unwrap();
    let t1_rows: Vec<&serde_json::Value> = results["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["file"].as_str().unwrap().ends_with("_t1.nii.gz"))
        .collect();
    assert_eq!(t1_rows.len(), sliced.slices.len());
    assert!(
        shown.contains("top 3 by the latent score") && shown.contains("summary:"),
        "{shown}"
    );
    let maps = std::fs::read_dir(dir.join("maps")).unwrap().count();
    assert_eq!(maps, 2 * 3, "three heat maps per volume");
    // Each drawn slice's row names its PNG; the others name none.
    let mut named: Vec<&str> = results["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["heatmap"].as_str().unwrap())
        .filter(|h| !h.is_empty())
        .collect();
    named.sort_unstable();
    assert_eq!(named.len(), 2 * 3, "{named:?}");
    for heatmap in &named {
        assert!(dir.join("maps").join(heatmap).is_file(), "{heatmap}");
    }
    let top = t1_rows
        .iter()
        .max_by(|a, b| {
            a["latent_score"]
                .as_f64()
                .unwrap()
                .total_cmp(&b["latent_score"].as_f64().unwrap())
        })
        .unwrap();
    assert!(
        !top["heatmap"].as_str().unwrap().is_empty(),
        "the most anomalous slice is drawn: {top}"
    );

    let output = eval_brain(&model_arg, &brats.display().to_string(), "eval.json", &dir);
    assert!(output.status.success(), "{}", text(&output));
    let results = read_json(&dir.join("eval.json"));
    let expected = native_case_scores(
        &brain,
        &case,
        "Brats18_CBICA_AAB_1_t1.nii.gz",
        "Brats18_CBICA_AAB_1_seg.nii.gz",
    );
    check_brain_eval(&results, &expected, 10);
}

/// A visitor's PNG slice on the brain model goes through the slice pipeline: a skull-stripped
/// IXI slice is scored plainly, the same slice with its skull is scored "unsure" with the
/// reason, in the table and the results file.
#[test]
fn a_slice_with_its_skull_is_scored_unsure_on_the_brain_model() {
    let Some(brain_data) = shared_data("brain") else {
        return;
    };
    let dir = scratch("score", "skull");
    let subject = brain_data.join("healthy/ixi/IXI012-HH-1211");
    let read = |file: &str| common::brain::read_volume(&subject, file);
    let (t1, mask) = (
        read("IXI012-HH-1211_t1.nii.gz"),
        read("IXI012-HH-1211_mask.nii.gz"),
    );
    let z = t1.dims[2] * 3 / 5;
    for (file, mask) in [("stripped.png", Some(&mask)), ("head.png", None)] {
        let (pixels, width, height) = lran::data::brain::axial_picture(&t1, mask, z);
        image::GrayImage::from_raw(width as u32, height as u32, pixels)
            .unwrap()
            .save(dir.join(file))
            .unwrap();
    }
    let model_arg = model_dir("brain-t1").display().to_string();
    let output = xtask(
        &argv_with(
            "score --model {} stripped.png head.png --out s.json --backend cpu",
            &[&model_arg],
        ),
        &dir,
    );
    let shown = text(&output);
    assert!(output.status.success(), "{shown}");
    let results = read_json(&dir.join("s.json"));
    let row = |file: &str| {
        results["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["file"].as_str().unwrap().ends_with(file))
            .unwrap()
            .clone()
    };
    let (stripped, head) = (row("stripped.png"), row("head.png"));
    assert_ne!(stripped["verdict"], "unsure", "{stripped}");
    assert_eq!(stripped["warnings"], "", "{stripped}");
    assert_eq!(head["verdict"], "unsure", "{head}");
    assert!(
        head["warnings"].as_str().unwrap().contains("skull"),
        "{head}"
    );
    assert!(shown.contains("skull"), "{shown}");
}
