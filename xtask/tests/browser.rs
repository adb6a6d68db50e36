//! The page end to end in a real browser: `cargo xtask dist --quick` builds it into a scratch folder,
//! `cargo xtask serve --root` serves that folder as a static host would, and
//! tests/browser/page.test.mjs drives headless Chromium through it:
//! - real MNIST test digits (PNG and JPEG) on the WebGPU path and on the forced CPU path, then a
//!   corrupt PNG, a text file, a 20000×20000 PNG, a colour PNG and an empty file;
//! - the real TCGA-DU-7294 T1 volume on the brain model, on both paths: slice count, the
//!   ranking against the native scorer's, a tumour slice among the top five, the overlay, score
//!   plot and latent scatter drawn, the model in a Web Worker, no request while scoring;
//! - a 4D series, a volume without background, a 1000³ header, a corrupt gzip and an image
//!   stored as NIfTI, then twenty files in one drop (each refusal named, the rest scored);
//! - a missing model and truncated weights.
//!
//! Here, the page's scores are compared with the native scorer's for the same bytes.
//! With `LRAN_SCREENSHOTS=<dir>`, screenshots of the page with the volume loaded are saved there
//! (docs/screenshots holds the committed ones).
//!
//! Needs node, Chromium (`/usr/bin/chromium`, or `CHROMIUM`) and the wasm32 target; without
//! them the test is skipped, unless `LRAN_REQUIRE_BROWSER=1` (CI sets it) makes that a failure.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use lran::burn::tensor::Device;
use lran::data::brain::{BrainCase, MaskRule, SliceLabel, anomaly_map, open_upload, slice_case};
use lran::data::nifti::{NiftiSpec, VolumeChoice, encode_nifti, gzip, read_nifti};
use lran::preprocess::{decode_image, image_to_input};
use lran::scorer::{ImageReport, ScoringModel};

const MODEL: &str = "mnist-digit1-tiny";
/// The shipped brain model (models/brain-t1).
const BRAIN_MODEL: &str = "brain-t1";

fn root() -> PathBuf {
    common::manifest_dir().parent().unwrap().to_path_buf()
}

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/usr/bin/chromium".into())
}

/// What is missing for the browser test, if anything.
fn missing_prerequisite() -> Option<String> {
    let runs = |program: &str, arg: &str| {
        Command::new(program)
            .arg(arg)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !runs("node", "--version") || !runs("npm", "--version") {
        return Some("node and npm".into());
    }
    if !chromium().is_file() {
        return Some(format!("Chromium at {}", chromium().display()));
    }
    let targets = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    if !targets.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("wasm32-unknown-unknown"))
    {
        return Some(
            "the wasm32-unknown-unknown target (rustup target add wasm32-unknown-unknown)".into(),
        );
    }
    None
}

/// Kills the server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(site: &Path) -> (Server, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["serve", "--port", "0", "--root"])
        .arg(site)
        .stdout(Stdio::piped())
        .spawn()
        .expect("xtask serve starts");
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("xtask serve prints its URL");
    let url = line
        .trim()
        .strip_prefix("serving ")
        .unwrap_or_else(|| panic!("unexpected serve output {line:?}"))
        .to_string();
    (server, url)
}

/// A PNG whose header claims `side × side` pixels, with no pixel data behind it.
fn png_header_claiming(side: u32) -> Vec<u8> {
    let mut png = Vec::new();
    image::DynamicImage::new_luma8(1, 1)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    png[16..20].copy_from_slice(&side.to_be_bytes());
    png[20..24].copy_from_slice(&side.to_be_bytes());
    let mut crc = flate2::Crc::new();
    crc.update(&png[12..29]);
    png[29..33].copy_from_slice(&crc.sum().to_be_bytes());
    png
}

/// Writes the fixtures and returns (file, native report) for each good image.
fn write_fixtures(dir: &Path, model: &ScoringModel) -> Vec<(String, ImageReport)> {
    let digits = common::mnist_test_digits();
    // Two of the model's normal class (1) and three others, one of them as JPEG.
    let picks = [(1u8, 0usize), (1, 1), (7, 0), (3, 0), (0, 0)];
    let mut good = Vec::new();
    for (k, &(label, nth)) in picks.iter().enumerate() {
        let index = (0..digits.len())
            .filter(|&i| digits.labels[i] == label)
            .nth(nth)
            .unwrap();
        let image = image::GrayImage::from_raw(28, 28, digits.image(index).to_vec()).unwrap();
        let (name, format) = if k == 3 {
            (
                format!("digit{label}-test{index}.jpg"),
                image::ImageFormat::Jpeg,
            )
        } else {
            (
                format!("digit{label}-test{index}.png"),
                image::ImageFormat::Png,
            )
        };
        let mut bytes = Vec::new();
        image
            .write_to(&mut std::io::Cursor::new(&mut bytes), format)
            .unwrap();
        std::fs::write(dir.join(&name), &bytes).unwrap();
        let input = image_to_input(&decode_image(&name, &bytes).unwrap(), model.config()).unwrap();
        good.push((name, model.report(&input).unwrap()));
    }
    let png = std::fs::read(dir.join(&good[0].0)).unwrap();
    std::fs::write(dir.join("cut-short.png"), &png[..png.len() / 2]).unwrap();
    std::fs::write(dir.join("notes.txt"), "these are notes, not an image\n").unwrap();
    std::fs::write(dir.join("huge.png"), png_header_claiming(20000)).unwrap();
    std::fs::write(dir.join("empty.png"), []).unwrap();
    let colour = image::RgbImage::from_fn(40, 40, |x, y| {
        image::Rgb([200, (x * 6) as u8, (y * 6) as u8])
    });
    colour.save(dir.join("colour.png")).unwrap();
    good
}

/// Loads an exported model from models/.
fn load_model(name: &str) -> ScoringModel {
    let dir = root().join("models").join(name);
    ScoringModel::from_dir(&dir, &Device::flex())
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
}

/// The shared TCGA-DU-7294 case, when this checkout sits beside ../shared.
fn tcga_case() -> Option<PathBuf> {
    common::shared_data("brain").map(|brain| brain.join("tumour/TCGA-DU-7294"))
}

/// The volume fixture and what the native scorer makes of it: kept slices, every kept slice's
/// axial index from the most to the least anomalous, and the tumour slices (from the case's
/// segmentation, which the page never sees).
fn volume_fixture(case: &Path, brain: &ScoringModel, dir: &Path) -> serde_json::Value {
    let t1 = case.join("t1.nii.gz");
    let bytes = std::fs::read(&t1).unwrap();
    let input = brain.card.brain_input.as_ref().expect("a brain model");
    let upload = open_upload("t1.nii.gz", &bytes, input).unwrap();
    let sliced = &upload.sliced;
    let inputs: Vec<f32> = sliced.slices.iter().flat_map(|s| s.input.clone()).collect();
    let reports = brain.report_batch(&inputs).unwrap();
    // The anomaly map the page must offer for download, made here from the native residuals.
    let residuals: Vec<Option<Vec<f32>>> =
        reports.iter().map(|r| Some(r.residual.clone())).collect();
    let map = anomaly_map(&upload, &residuals).unwrap();
    let raw: Vec<u8> = map.data.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(dir.join("native-anomaly-map.f32"), raw).unwrap();
    // The command line cuts and scores the volume the same way, slice for slice.
    let cli = cli_scores(dir, BRAIN_MODEL, std::slice::from_ref(&t1));
    assert_eq!(cli["rows"].as_array().unwrap().len(), sliced.slices.len());
    for (slice, report) in sliced.slices.iter().zip(&reports) {
        let row = cli_row(&cli, "t1.nii.gz", Some(slice.index));
        assert!(
            close(row["latent_score"].as_f64().unwrap(), report.latent_score),
            "slice {}: {row}",
            slice.index
        );
    }
    let ranking = |score: fn(&ImageReport) -> f32| -> Vec<usize> {
        let mut order: Vec<usize> = (0..reports.len()).collect();
        order.sort_by(|&a, &b| score(&reports[b]).total_cmp(&score(&reports[a])));
        order.iter().map(|&i| sliced.slices[i].index).collect()
    };
    let read = |name: &str| common::brain::read_volume(case, name);
    let labelled = slice_case(
        &BrainCase {
            name: "TCGA-DU-7294".into(),
            modalities: vec![read("t1.nii.gz")],
            mask: None,
            segmentation: Some(read("seg.nii.gz")),
        },
        MaskRule::NonZero,
        &input.slices,
    )
    .unwrap();
    let tumour: Vec<usize> = labelled
        .slices
        .iter()
        .filter(|s| s.label == SliceLabel::Tumour)
        .map(|s| s.index)
        .collect();
    serde_json::json!({
        "file": t1,
        "sliceCount": sliced.slices.len(),
        "dims": upload.volume.dims,
        "native": {
            "latent_score": ranking(|r| r.latent_score),
            "pixel_score": ranking(|r| r.pixel_score),
        },
        "tumour": tumour,
    })
}

/// `cargo xtask score --model models/<model> FILES --out <dir>/cli-<model>.json` on the CPU.
fn cli_scores(dir: &Path, model: &str, files: &[PathBuf]) -> serde_json::Value {
    let out = dir.join(format!("cli-{model}.json"));
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["score", "--backend", "cpu", "--model"])
        .arg(root().join("models").join(model))
        .arg("--out")
        .arg(&out)
        .args(files)
        .output()
        .expect("xtask score runs");
    assert!(
        output.status.success(),
        "cargo xtask score failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap()
}

/// The row of `cargo xtask score`'s results for the file named `name` (and slice).
fn cli_row<'a>(
    scores: &'a serde_json::Value,
    name: &str,
    slice: Option<usize>,
) -> &'a serde_json::Value {
    scores["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            Path::new(r["file"].as_str().unwrap()).file_name() == Some(std::ffi::OsStr::new(name))
                && r["slice"].as_u64().map(|s| s as usize) == slice
        })
        .unwrap_or_else(|| panic!("cargo xtask score has no row for {name} {slice:?}"))
}

/// NIfTI files the brain model must refuse, each with what its message must say.
fn write_bad_volumes(dir: &Path) -> serde_json::Value {
    let series = NiftiSpec {
        dims: vec![16, 16, 16, 2],
        ..NiftiSpec::ras([16, 16, 16], 16)
    };
    std::fs::write(
        dir.join("series.nii"),
        encode_nifti(&series, &vec![1.0; 16 * 16 * 16 * 2]),
    )
    .unwrap();
    let noise: Vec<f64> = (0..32 * 32 * 32).map(|i| 1.0 + (i % 7) as f64).collect();
    std::fs::write(
        dir.join("noise.nii.gz"),
        gzip(&encode_nifti(&NiftiSpec::ras([32, 32, 32], 16), &noise)),
    )
    .unwrap();
    // A header claiming 1000³ voxels in front of almost nothing: refused before allocating.
    let mut huge = encode_nifti(&NiftiSpec::ras([4, 4, 4], 2), &[1.0; 64]);
    for axis in 0..3 {
        huge[42 + 2 * axis..44 + 2 * axis].copy_from_slice(&1000i16.to_le_bytes());
    }
    std::fs::write(dir.join("huge.nii"), huge).unwrap();
    let mut corrupt = gzip(&encode_nifti(
        &NiftiSpec::ras([16, 16, 16], 16),
        &[1.0; 4096],
    ));
    let middle = corrupt.len() / 2;
    for byte in &mut corrupt[20..middle] {
        *byte ^= 0x5a;
    }
    std::fs::write(dir.join("corrupt.nii.gz"), corrupt).unwrap();
    std::fs::write(
        dir.join("flat.nii"),
        encode_nifti(&NiftiSpec::ras([64, 64, 1], 16), &vec![1.0; 64 * 64]),
    )
    .unwrap();
    serde_json::json!([
        { "file": "series.nii", "expect": "4D" },
        { "file": "noise.nii.gz", "expect": "no background" },
        { "file": "huge.nii", "expect": "larger than accepted" },
        { "file": "corrupt.nii.gz", "expect": "gzip" },
        { "file": "flat.nii", "expect": "not a brain volume" },
    ])
}

/// Twenty files in one drop for the brain model: fourteen real slices (the committed gallery,
/// copied under new names) and six that must be refused, each by name.
fn write_many(dir: &Path) -> serde_json::Value {
    let gallery = root().join("www/samples/brain");
    let mut slices: Vec<PathBuf> = std::fs::read_dir(&gallery)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    slices.sort();
    assert!(!slices.is_empty(), "www/samples/brain has no slices");
    let mut files = Vec::new();
    for k in 0..14 {
        let name = format!("slice-{k:02}.png");
        std::fs::copy(&slices[k % slices.len()], dir.join(&name)).unwrap();
        files.push(name);
    }
    let varied: Vec<f64> = (0..16 * 16 * 16)
        .map(|i| ((i * 7919) % 251) as f64)
        .collect();
    let whole = gzip(&encode_nifti(&NiftiSpec::ras([16, 16, 16], 16), &varied));
    std::fs::write(dir.join("cut.nii.gz"), &whole[..whole.len() / 2]).unwrap();
    let bad = serde_json::json!([
        { "file": "empty.png", "expect": "empty" },
        { "file": "notes.txt", "expect": "not a PNG or JPEG" },
        { "file": "colour.png", "expect": "colour image" },
        { "file": "cut.nii.gz", "expect": "gzip" },
        { "file": "series.nii", "expect": "4D" },
        { "file": "huge.png", "expect": "20000×20000" },
    ]);
    for entry in bad.as_array().unwrap() {
        files.push(entry["file"].as_str().unwrap().to_string());
    }
    serde_json::json!({ "files": files, "bad": bad })
}

fn close(page: f64, native: f32) -> bool {
    (page - native as f64).abs() <= 1e-3 * (native.abs() as f64).max(1e-6)
}

/// The page ↔ model-thread protocol checker (www/protocol.js) refuses what it should, on its own
/// (tests/browser/protocol.test.mjs under `node --test`); the browser test below checks the real
/// traffic, which both sides check message by message.
#[test]
fn the_model_thread_protocol_refuses_malformed_messages() {
    let node_runs = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !node_runs {
        if std::env::var("LRAN_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
            panic!("LRAN_REQUIRE_BROWSER=1 but node is missing");
        }
        eprintln!("skipped: the protocol test needs node");
        return;
    }
    let output = Command::new("node")
        .arg("--test")
        .arg(root().join("tests/browser/protocol.test.mjs"))
        .output()
        .expect("node runs");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_page_scores_uploads_like_the_native_scorer() {
    if let Some(missing) = missing_prerequisite() {
        if std::env::var("LRAN_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
            panic!("LRAN_REQUIRE_BROWSER=1 but {missing} is missing");
        }
        eprintln!("skipped: the browser test needs {missing}");
        return;
    }
    let root = root();
    let driver = root.join("tests/browser");
    if !driver.join("node_modules/playwright-core").is_dir() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&driver)
            .status()
            .unwrap();
        assert!(status.success(), "npm ci in tests/browser failed");
    }
    // The site a static host would get: `cargo xtask dist` (which builds) into a scratch folder.
    let dir = std::env::temp_dir().join(format!("lran-browser-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let site = dir.join("site");
    let status = Command::new(env!("CARGO_BIN_EXE_xtask"))
        // --quick: no link-time optimisation and wasm-opt's fast level, so a cold CI run builds
        // the page in minutes; the shipped profiles are the same code, optimised further.
        .args(["dist", "--quick", "--out"])
        .arg(&site)
        .status()
        .expect("xtask dist runs");
    assert!(status.success(), "cargo xtask dist failed");
    let mut entries: Vec<String> = std::fs::read_dir(&site)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(
        entries,
        ["index.html", "models", "www"],
        "dist/ holds exactly the site"
    );
    for file in [
        "www/app.js",
        "www/pkg/lran_gpu.js",
        "www/pkg/lran_gpu_bg.wasm",
        "www/pkg/lran_cpu.js",
        "www/pkg/lran_cpu_bg.wasm",
        "www/pkg/build.json",
        "www/worker.js",
        "www/pkg/samples.json",
        "www/samples/brain/samples.json",
        "models/mnist-digit1-tiny/model.json",
        "models/brain-t1/model.json",
        "www/results.html",
        "www/results.js",
        "www/pkg/results/data.json",
        "www/pkg/vendor/uPlot.iife.min.js",
        "www/pkg/vendor/niivue.js",
        "www/volume-viewer.js",
    ] {
        assert!(site.join(file).is_file(), "dist/ lacks {file}");
    }

    let native = load_model(MODEL);
    let brain = load_model(BRAIN_MODEL);

    let fixtures = dir.join("fixtures");
    std::fs::create_dir_all(&fixtures).unwrap();
    let good = write_fixtures(&fixtures, &native);
    assert!(
        good.iter().any(|(_, r)| r.anomalous) && good.iter().any(|(_, r)| !r.anomalous),
        "fixtures should cover both verdicts"
    );
    // `cargo xtask score` on the same files: its rows must equal the native scorer's, so the
    // page's scores, checked below against the native ones, are the command line's too.
    let good_files: Vec<PathBuf> = good.iter().map(|(name, _)| fixtures.join(name)).collect();
    let cli = cli_scores(&dir, MODEL, &good_files);
    for (name, report) in &good {
        let row = cli_row(&cli, name, None);
        assert!(
            close(row["latent_score"].as_f64().unwrap(), report.latent_score),
            "{name}: {row}"
        );
        assert!(
            close(row["pixel_score"].as_f64().unwrap(), report.pixel_score),
            "{name}: {row}"
        );
        assert_eq!(row["verdict"], common::verdict(report.anomalous));
    }
    let volume = tcga_case().map(|case| volume_fixture(&case, &brain, &dir));
    let description = serde_json::json!({
        "mnistModel": MODEL,
        "brainModel": BRAIN_MODEL,
        "warmUpPasses": lran::data::brain::WARM_UP_PASSES,
        "good": good.iter().map(|(name, _)| name).collect::<Vec<_>>(),
        "bad": [
            { "file": "cut-short.png", "expect": "cannot decode" },
            { "file": "notes.txt", "expect": "not a PNG or JPEG" },
            { "file": "huge.png", "expect": "20000×20000" },
            { "file": "colour.png", "expect": "colour image" },
            { "file": "empty.png", "expect": "empty" },
        ],
        "volume": volume,
        "badVolumes": write_bad_volumes(&fixtures),
        "many": write_many(&fixtures),
    });
    std::fs::write(fixtures.join("fixtures.json"), description.to_string()).unwrap();

    let (_server, url) = serve(&site);
    let (run, shown) = drive(
        &driver.join("page.test.mjs"),
        &[format!("{url}index.html").as_ref(), fixtures.as_os_str()],
        &dir.join("page.json"),
    );
    assert!(
        run.status.success(),
        "the page misbehaved: {:#}\n{}",
        shown["problems"],
        String::from_utf8_lossy(&run.stderr)
    );

    for backend in ["webgpu", "cpu"] {
        let page = &shown["pages"][backend];
        let scored = page["scored"]
            .as_array()
            .unwrap_or_else(|| panic!("no {backend} results: {shown:#}"));
        assert_eq!(scored.len(), good.len());
        for (result, (name, report)) in scored.iter().zip(&good) {
            assert_eq!(result["file"], name.as_str());
            let (latent, pixel) = (
                result["latent"].as_f64().unwrap(),
                result["pixel"].as_f64().unwrap(),
            );
            assert!(
                close(latent, report.latent_score),
                "{backend} {name}: page latent {latent}, native {}",
                report.latent_score
            );
            assert!(
                close(pixel, report.pixel_score),
                "{backend} {name}: page pixel {pixel}, native {}",
                report.pixel_score
            );
            let verdict = common::verdict(report.anomalous);
            assert_eq!(result["verdict"], verdict, "{backend} {name}");
        }
        eprintln!(
            "{backend}: {} — warm ms per image {}",
            page["status"], page["warm_ms"]
        );
    }
    eprintln!("build: {}", shown["pages"]["cpu"]["build"]);
    for backend in ["webgpu", "cpu"] {
        let volume = &shown["volumes"][backend];
        if !volume.is_null() {
            eprintln!(
                "volume on {}: {} slices in {} ms; top five {}",
                volume["backend"], volume["slices"], volume["ms"], volume["rankings"]
            );
        }
    }
    if let Some(case) = tcga_case() {
        downloaded_maps_line_up(&case, &dir, &shown);
    }
    if let Some(path) = std::env::var_os("LRAN_BROWSER_TIMINGS") {
        write_timings(Path::new(&path), &site, &shown);
    }
    results_page(&root, &site, &url, &driver, &dir);
}

/// Runs a driver of `tests/browser/` (`node <script> <args…> <out> [screenshots]`) and returns
/// its exit and the JSON it wrote to `out`.
fn drive(
    script: &Path,
    args: &[&std::ffi::OsStr],
    out: &Path,
) -> (std::process::Output, serde_json::Value) {
    let mut node = Command::new("node");
    node.arg(script)
        .args(args)
        .arg(out)
        .env("CHROMIUM", chromium());
    if let Some(screenshots) = std::env::var_os("LRAN_SCREENSHOTS") {
        node.arg(std::path::absolute(screenshots).unwrap());
    }
    let run = node.output().expect("node runs");
    let shown = std::fs::read_to_string(out)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(|| {
            panic!(
                "{} wrote no results: {}",
                script.display(),
                String::from_utf8_lossy(&run.stderr)
            )
        });
    (run, shown)
}

/// The results page (`www/results.html`): every number a table shows is the number its cell
/// names, read here from the repository's own file (not the site's copy) at its JSON pointer;
/// the site's copies equal the files; every table of the data is drawn and every chart inked;
/// picking another model redraws the ROC chart; a cell of ours names its files; nothing leaves
/// the origin.
fn results_page(root: &Path, site: &Path, url: &str, driver: &Path, dir: &Path) {
    let (run, shown) = drive(
        &driver.join("results.test.mjs"),
        &[url.as_ref()],
        &dir.join("results-page.json"),
    );
    assert!(
        run.status.success() && shown["error"].is_null(),
        "results page: {shown:#}"
    );
    assert_eq!(
        shown["foreign"],
        serde_json::json!([]),
        "requests left the origin"
    );
    let data: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(site.join("www/pkg/results/data.json")).unwrap(),
    )
    .unwrap();
    let tables = ["results", "paper"]
        .iter()
        .flat_map(|part| data[part].as_array().unwrap())
        .filter(|block| block["kind"] == "table")
        .count();
    assert!(
        tables >= 8,
        "the report has the suites' and the paper's tables: {tables}"
    );
    assert_eq!(shown["tables"], tables, "every table of the data is drawn");

    let mut files: std::collections::BTreeMap<String, serde_json::Value> = Default::default();
    let cells = shown["cells"].as_array().unwrap();
    let (mut ours, mut paper) = (0, 0);
    for cell in cells {
        let text = cell["text"].as_str().unwrap();
        for number in cell["numbers"].as_array().unwrap() {
            let file = number["file"].as_str().unwrap();
            let json = files.entry(file.to_string()).or_insert_with(|| {
                let original = std::fs::read(root.join(file)).unwrap();
                let copy = std::fs::read(site.join("www/pkg/results").join(file))
                    .unwrap_or_else(|e| panic!("the site has no copy of {file}: {e}"));
                assert!(
                    copy == original,
                    "the site's copy of {file} differs from it"
                );
                serde_json::from_slice(&original).unwrap()
            });
            let pointer = number["pointer"].as_str().unwrap();
            let value = json
                .pointer(pointer)
                .and_then(|v| v.as_f64())
                .unwrap_or_else(|| panic!("{file} has no number at {pointer}"));
            let digits = number["digits"].as_u64().unwrap() as usize;
            let expected = format!("{:.digits$}", value * number["scale"].as_f64().unwrap());
            assert_eq!(number["shown"], expected.as_str(), "{file}{pointer}");
            assert!(
                text.contains(&expected),
                "cell {text:?} lacks {expected} ({file}{pointer})"
            );
        }
        match cell["origin"].as_str() {
            Some("paper") => paper += 1,
            _ => ours += 1,
        }
    }
    assert!(
        ours >= 20 && paper >= 20,
        "cells: {ours} of ours, {paper} of the paper's"
    );

    let charts = shown["charts"].as_array().unwrap();
    let names: Vec<&str> = charts.iter().map(|c| c["name"].as_str().unwrap()).collect();
    for expected in [
        "roc",
        "ablation:ablation",
        "per-class:mnist",
        "per-class:fashion-mnist",
        "brain:brain",
        "latent:brain-t1",
    ] {
        assert!(
            names.contains(&expected),
            "no {expected} chart among {names:?}"
        );
    }
    for chart in charts {
        assert!(
            chart["points"].as_u64().unwrap() > 0 && chart["inked"].as_u64().unwrap() > 500,
            "chart drew nothing: {chart}"
        );
    }
    // The most anomalous slices, where results/brain/top-slices holds them: every PNG named
    // loads, and every case of the scores file is shown.
    let top = &data["top_slices"];
    if !top.is_null() {
        let drawn = shown["thumbnails"].as_array().unwrap();
        let expected: usize = top["cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["slices"].as_array().unwrap().len())
            .sum();
        assert!(
            expected > 0 && drawn.len() == expected,
            "thumbnails: {drawn:?}"
        );
        assert!(
            drawn.iter().all(|t| t["width"].as_u64().unwrap() > 0),
            "{drawn:?}"
        );
    }
    let switched = shown["rocSwitch"]
        .as_str()
        .expect("the ROC picker has several models");
    assert!(switched.starts_with("results/"), "{switched}");
    roc_of_a_case_matches_its_file(root, &shown["rocCase"]);
    let provenance = shown["provenance"].as_str().unwrap();
    assert!(
        provenance.contains("results/") && provenance.contains("commit"),
        "{provenance}"
    );
    eprintln!(
        "results page: {tables} tables, {} numbers checked in {} files, {} charts",
        cells
            .iter()
            .map(|c| c["numbers"].as_array().unwrap().len())
            .sum::<usize>(),
        files.len(),
        charts.len()
    );
}

/// The brain model's ROC for one case (computed by the results page's builder from the file's
/// `test_scores`) shows the per-case AUROC the evaluation wrote into the same file.
fn roc_of_a_case_matches_its_file(root: &Path, shown: &serde_json::Value) {
    let file = shown["model"]
        .as_str()
        .expect("a brain model's case ROC was drawn");
    let case = shown["case"].as_str().unwrap();
    assert!(!case.is_empty(), "no case was picked: {shown}");
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join(file)).unwrap()).unwrap();
    let scores = results["brain"]["protocol"]["scores"].as_array().unwrap();
    let cases_with_both = scores[0]["per_case"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| !c["detection"].is_null())
        .count();
    assert_eq!(shown["cases"], cases_with_both, "{file}: cases offered");
    for (score, key) in [("latent", "latentAuc"), ("pixel", "pixelAuc")] {
        let per_case = scores
            .iter()
            .find(|s| s["score"] == score)
            .and_then(|s| s["per_case"].as_array())
            .unwrap();
        let auroc = per_case
            .iter()
            .find(|c| c["case"] == case)
            .and_then(|c| c["detection"]["auroc"].as_f64())
            .unwrap_or_else(|| panic!("{file} has no {score} AUROC for {case}"));
        let expected = format!("{auroc:.3}");
        assert_eq!(shown[key], expected.as_str(), "{file}: {case}, {score}");
        assert!(
            shown["legend"].as_str().unwrap().contains(&expected),
            "the legend lacks {expected}: {shown}"
        );
    }
}

/// The anomaly map each path downloaded reads back with our reader on the upload's grid (its
/// file dimensions, orientation and affine) and holds the native scorer's residuals there.
fn downloaded_maps_line_up(case: &Path, dir: &Path, shown: &serde_json::Value) {
    let upload = common::brain::read_volume(case, "t1.nii.gz");
    let native: Vec<f32> = std::fs::read(dir.join("native-anomaly-map.f32"))
        .unwrap()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    // The page without WebGL2 has no viewer, and its download must stand all the same.
    let downloads = [
        ("webgpu", &shown["volumes"]["webgpu"]["viewer"]["download"]),
        ("cpu", &shown["volumes"]["cpu"]["viewer"]["download"]),
        (
            "cpu without WebGL2",
            &shown["volumes"]["withoutWebGl2"]["download"],
        ),
    ];
    for (backend, path) in downloads {
        let path = path
            .as_str()
            .unwrap_or_else(|| panic!("the {backend} page downloaded no anomaly map"));
        let bytes = std::fs::read(path).unwrap();
        assert!(
            bytes.starts_with(&[0x1f, 0x8b]),
            "{backend}: the downloaded {path} is not gzipped, as its name says"
        );
        let map = read_nifti(path, &bytes, VolumeChoice::OnlyVolume).unwrap();
        assert_eq!(
            map.source_dims, upload.source_dims,
            "{backend}: file dimensions"
        );
        assert_eq!(map.dims, upload.dims, "{backend}");
        assert_eq!(map.orientation, upload.orientation, "{backend}");
        for (a, b) in map
            .affine
            .iter()
            .flatten()
            .zip(upload.affine.iter().flatten())
        {
            assert!(
                (a - b).abs() < 1e-4,
                "{backend}: affine {:?} vs {:?}",
                map.affine,
                upload.affine
            );
        }
        assert_eq!(map.data.len(), native.len());
        let (mut worst, mut sum) = (0.0f32, 0.0f64);
        for (page, native) in map.data.iter().zip(&native) {
            let difference = (page - native).abs();
            worst = worst.max(difference);
            sum += difference as f64;
        }
        let mean = sum / native.len() as f64;
        let nonzero = map.data.iter().filter(|&&v| v > 0.0).count();
        assert!(
            nonzero > 100_000,
            "{backend}: the map is nearly empty ({nonzero} voxels)"
        );
        assert!(
            worst < 0.05 && mean < 1e-3,
            "{backend}: the downloaded map differs from the native one (worst {worst}, mean {mean})"
        );
        eprintln!(
            "{backend}: the downloaded anomaly map matches the native one (worst difference {worst:.2e}, {nonzero} voxels non-zero)"
        );
    }
}

/// `LRAN_BROWSER_TIMINGS=FILE`: what this run measured in the browser (the real TCGA-DU-7294
/// volume scored on each path, the warm per-image times), with the build it measured
/// (`www/pkg/build.json`: commit, profiles, module sizes). The builds are `dist --quick`'s, so the
/// times are those of the test's build, not of the shipped, link-time optimised one.
fn write_timings(path: &Path, site: &Path, shown: &serde_json::Value) {
    let build: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(site.join("www/pkg/build.json")).unwrap())
            .unwrap();
    let per_backend = |backend: &str| {
        let volume = &shown["volumes"][backend];
        serde_json::json!({
            "volume_backend": volume["backend"],
            "volume_slices": volume["slices"],
            "volume_ms": volume["ms"],
            "volume_shown_in_viewer_ms": volume["viewer"]["shownMs"],
            "anomaly_map_ms": volume["viewer"]["mapMs"],
            "viewer_load_ms": volume["viewer"]["ms"],
            "warm_ms_per_image": shown["pages"][backend]["warm_ms"],
            "page_without_volume_bytes": shown["pages"][backend]["downloadedBytes"],
        })
    };
    let timings = serde_json::json!({
        "kind": "lran-browser-timings/1",
        "created_unix": std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
        "command": "LRAN_REQUIRE_BROWSER=1 LRAN_BROWSER_TIMINGS=<file> cargo test --workspace --test browser",
        "volume": "TCGA-DU-7294 T1 (../shared/data), the brain-t1 model",
        "build": build,
        "webgpu": per_backend("webgpu"),
        "cpu": per_backend("cpu"),
        "cpu_ten_volumes_in_a_row": shown["volumes"]["inARow"],
    });
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, serde_json::to_string_pretty(&timings).unwrap() + "\n").unwrap();
    eprintln!("wrote {}", path.display());
}
