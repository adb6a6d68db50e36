//! The page end to end in a real browser: `cargo xtask dist` builds it into a scratch folder,
//! `cargo xtask serve --root` serves that folder as a static host would, and tests/browser/page.test.mjs drives headless Chromium through it — uploads of
//! real MNIST test digits (PNG and JPEG) on the WebGPU path and on the forced CPU path, then a
//! corrupt PNG, a text file and a 20000×20000 PNG, a missing model and truncated weights.
//! Here, the page's scores are compared with the native scorer's for the same bytes.
//!
//! Needs node, Chromium (`/usr/bin/chromium`, or `CHROMIUM`) and the wasm32 target; without
//! them the test is skipped, unless `LRAN_REQUIRE_BROWSER=1` (CI sets it) makes that a failure.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use lran::burn::tensor::Device;
use lran::data::idx::LabelledImages;
use lran::export::{ImageReport, ModelCard, ScoringModel};
use lran::preprocess::{decode_image, image_to_input};

const MODEL: &str = "mnist-digit1-tiny";

fn root() -> PathBuf {
    // At run time: a warm target directory shared by checkouts may hold a binary built in another.
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest.parent().unwrap().to_path_buf()
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

fn mnist_test_digits() -> LabelledImages {
    let dir = root().join("xtask/data/mnist-sample");
    let read = |name: &str| std::fs::read(dir.join(name)).unwrap();
    LabelledImages::from_idx(
        "t10k-images-idx3-ubyte.gz",
        &read("t10k-images-idx3-ubyte.gz"),
        "t10k-labels-idx1-ubyte.gz",
        &read("t10k-labels-idx1-ubyte.gz"),
    )
    .unwrap()
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
    let digits = mnist_test_digits();
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
    let fixtures = serde_json::json!({
        "good": good.iter().map(|(name, _)| name).collect::<Vec<_>>(),
        "bad": [
            { "file": "cut-short.png", "expect": "cannot decode" },
            { "file": "notes.txt", "expect": "not a PNG or JPEG" },
            { "file": "huge.png", "expect": "20000×20000" },
        ],
    });
    std::fs::write(dir.join("fixtures.json"), fixtures.to_string()).unwrap();
    good
}

fn close(page: f64, native: f32) -> bool {
    (page - native as f64).abs() <= 1e-3 * (native.abs() as f64).max(1e-6)
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
        .args(["dist", "--out"])
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
        "models/mnist-digit1-tiny/model.json",
    ] {
        assert!(site.join(file).is_file(), "dist/ lacks {file}");
    }

    let model_dir = root.join("models").join(MODEL);
    let card = ModelCard::from_json(
        "model.json",
        &std::fs::read_to_string(model_dir.join("model.json")).unwrap(),
    )
    .unwrap();
    let weights = std::fs::read(model_dir.join(&card.weights_file)).unwrap();
    let native = ScoringModel::from_bytes(card, weights, &Device::flex()).unwrap();

    let fixtures = dir.join("fixtures");
    std::fs::create_dir_all(&fixtures).unwrap();
    let good = write_fixtures(&fixtures, &native);
    assert!(
        good.iter().any(|(_, r)| r.anomalous) && good.iter().any(|(_, r)| !r.anomalous),
        "fixtures should cover both verdicts"
    );

    let (_server, url) = serve(&site);
    let out = dir.join("page.json");
    let run = Command::new("node")
        .arg(driver.join("page.test.mjs"))
        .arg(format!("{url}index.html"))
        .arg(&fixtures)
        .arg(&out)
        .env("CHROMIUM", chromium())
        .output()
        .expect("node runs");
    let shown: serde_json::Value = std::fs::read_to_string(&out)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(|| {
            panic!(
                "the driver wrote no results: {}",
                String::from_utf8_lossy(&run.stderr)
            )
        });
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
            let verdict = if report.anomalous {
                "anomalous"
            } else {
                "normal"
            };
            assert_eq!(result["verdict"], verdict, "{backend} {name}");
        }
        eprintln!(
            "{backend}: {} — warm ms per image {}",
            page["status"], page["warm_ms"]
        );
    }
    eprintln!("build: {}", shown["pages"]["cpu"]["build"]);
}
