//! `cargo xtask bench --reference pytorch`: right after lran's figures, the same figures measured
//! by PyTorch (`bench/ganomaly_reference.py --from-lran`: the same networks, batches, modes,
//! warm-up and runs, on as many CPU threads), and one results file with both and their ratios.
//! PyTorch is a measuring reference only: lran never depends on it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::bench::{BenchResults, Entry, Mode, Shape};
use crate::provenance::{ResultsHeader, repository_root, write_json};

/// The side-by-side results file, `<out>/<lran file>-vs-pytorch.json`.
#[derive(Debug, Serialize, Deserialize)]
pub struct SideBySide {
    #[serde(flatten)]
    pub header: ResultsHeader,
    /// Threads both sides ran on (CPU figures).
    pub cpu_threads: usize,
    pub torch_version: String,
    /// One row per lran figure, beside PyTorch's of the same network, batch and mode.
    pub figures: Vec<Ratio>,
    /// Both files whole, as each side wrote it.
    pub lran: BenchResults,
    pub pytorch: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ratio {
    pub shape: Shape,
    pub batch: usize,
    pub mode: Mode,
    /// lran's backend (`cpu` = flex, `wgpu`) and convolution algorithm.
    pub backend: String,
    pub conv: Option<String>,
    pub device: String,
    pub reference_device: String,
    pub lran_images_per_second: f64,
    pub pytorch_images_per_second: f64,
    /// lran ÷ PyTorch: above 1, lran is the faster.
    pub ratio: f64,
    /// Work per image as PyTorch's FLOP counter counts it (the same networks on both sides).
    #[serde(default)]
    pub flops_per_image: Option<f64>,
}

impl Ratio {
    /// Both sides' rates as GFLOP/s, where the work per image is known.
    pub fn gigaflops(&self) -> Option<(f64, f64)> {
        self.flops_per_image.map(|f| {
            (
                self.lran_images_per_second * f / 1e9,
                self.pytorch_images_per_second * f / 1e9,
            )
        })
    }
}

/// PyTorch's device for an lran backend's figures: the CPU for flex, CUDA for wgpu.
fn reference_device(backend: &str) -> &'static str {
    if backend == "cpu" { "cpu" } else { "cuda" }
}

/// Checks, before anything is measured, that `python` imports PyTorch (and has CUDA where
/// `cuda` is needed); returns its version.
pub fn torch_version(python: &Path, cuda: bool) -> Result<String> {
    let probe = "import sys, torch; print(torch.__version__); \
                 sys.exit(0 if len(sys.argv) < 2 or torch.cuda.is_available() else 3)";
    let mut command = Command::new(python);
    command.args(["-c", probe]);
    if cuda {
        command.arg("cuda");
    }
    let output = command.output().with_context(|| {
        format!(
            "cannot run {} (--python): the PyTorch reference needs a Python with torch",
            python.display()
        )
    })?;
    match output.status.code() {
        Some(0) => Ok(String::from_utf8_lossy(&output.stdout).trim().to_string()),
        Some(3) => bail!(
            "{} has PyTorch but no CUDA device: wgpu's figures are measured against PyTorch on \
             CUDA; measure `--backends cpu` here",
            python.display()
        ),
        _ => bail!(
            "{} cannot import torch ({}): PyTorch is a measuring reference, never a dependency \
             of lran; install it where you measure (`python3 -m venv venv && venv/bin/pip install \
             torch`) and pass `--python venv/bin/python`",
            python.display(),
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .last()
                .unwrap_or("no message")
        ),
    }
}

/// PyTorch's figures for `lran`'s entries on `backend`, measured by the reference script.
fn measure(python: &Path, lran: &BenchResults, backend: &str, scratch: &Path) -> Result<Entries> {
    let device = reference_device(backend);
    let mine = BenchResults {
        entries: lran
            .entries
            .iter()
            .filter(|e| e.backend == backend)
            .cloned()
            .collect(),
        ..lran.clone()
    };
    let figures = scratch.join(format!("lran-{backend}.json"));
    write_json(&figures, &mine)?;
    let script = repository_root().join("bench/ganomaly_reference.py");
    let threads = lran.cpu_threads.to_string();
    let mut command = Command::new(python);
    command
        .arg(&script)
        .args(["--device", device, "--from-lran"]);
    command.arg(&figures).arg("--out").arg(scratch);
    // The commit measured: lran's figures' (taken before its results file, which git tracks,
    // was rewritten, so that git would now call the tree dirty).
    command.env("LRAN_COMMIT", &lran.header.commit);
    if device == "cpu" {
        command.args(["--threads", &threads]);
    }
    let output = command
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("cannot run {}", script.display()))?;
    if !output.status.success() {
        bail!(
            "{} {} failed ({}): see its messages above",
            python.display(),
            script.display(),
            output.status
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let path = PathBuf::from(stdout.lines().last().unwrap_or("").trim());
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "the reference script named {:?} as its results file",
            path.display()
        )
    })?;
    let whole: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let entries: Vec<Entry> = serde_json::from_value(whole["entries"].clone())
        .with_context(|| format!("{}: entries not in lran's bench schema", path.display()))?;
    Ok(Entries { whole, entries })
}

struct Entries {
    whole: serde_json::Value,
    entries: Vec<Entry>,
}

/// Each lran figure beside PyTorch's of the same network, batch and mode. The parameter counts
/// must agree: they show that both sides measured the same networks.
pub fn pair(lran: &[Entry], pytorch: &[Entry]) -> Result<Vec<Ratio>> {
    lran.iter()
        .map(|mine| {
            let device = reference_device(&mine.backend);
            let theirs = pytorch
                .iter()
                .find(|t| {
                    t.backend == format!("pytorch-{device}")
                        && t.shape == mine.shape
                        && t.batch == mine.batch
                        && t.mode == mine.mode
                })
                .with_context(|| {
                    format!(
                        "PyTorch measured no {} batch {} {} figure",
                        crate::cli_value(mine.shape),
                        mine.batch,
                        crate::cli_value(mine.mode)
                    )
                })?;
            if theirs.parameters != mine.parameters {
                bail!(
                    "{}: lran's networks have {:?} parameters, PyTorch's {:?}: not the same networks",
                    crate::cli_value(mine.shape),
                    mine.parameters,
                    theirs.parameters
                );
            }
            Ok(Ratio {
                shape: mine.shape,
                batch: mine.batch,
                mode: mine.mode,
                backend: mine.backend.clone(),
                conv: mine.conv.clone(),
                device: mine.device.clone(),
                reference_device: theirs.device.clone(),
                lran_images_per_second: mine.images_per_second,
                pytorch_images_per_second: theirs.images_per_second,
                ratio: mine.images_per_second / theirs.images_per_second,
                flops_per_image: theirs.flops_per_image,
            })
        })
        .collect()
}

/// Measures PyTorch on `lran`'s figures (just written to `lran_path`) and writes the side by
/// side file beside it; returns its path.
pub fn pytorch(
    python: &Path,
    torch_version: String,
    lran_path: &Path,
    lran: &BenchResults,
) -> Result<PathBuf> {
    let mut backends: Vec<&str> = lran.entries.iter().map(|e| e.backend.as_str()).collect();
    backends.sort_unstable();
    backends.dedup();
    let scratch = std::env::temp_dir().join(format!("lran-bench-reference-{}", std::process::id()));
    let mut pytorch = Vec::new();
    let mut entries = Vec::new();
    for backend in backends {
        let measured = measure(python, lran, backend, &scratch)?;
        pytorch.push(measured.whole);
        entries.extend(measured.entries);
    }
    let _ = std::fs::remove_dir_all(&scratch);
    let side_by_side = SideBySide {
        header: ResultsHeader::of_commit("lran-bench-vs-pytorch/1", lran.header.commit.clone()),
        cpu_threads: lran.cpu_threads,
        torch_version,
        figures: pair(&lran.entries, &entries)?,
        lran: lran.clone(),
        pytorch,
    };
    for figure in &side_by_side.figures {
        eprintln!(
            "{:<10} batch {:<4} {:<9} {:<5} conv {:<6} lran {:>8.1} img/s, PyTorch {:>8.1}: {:.2}×",
            crate::cli_value(figure.shape),
            figure.batch,
            crate::cli_value(figure.mode),
            figure.backend,
            figure.conv.as_deref().unwrap_or("-"),
            figure.lran_images_per_second,
            figure.pytorch_images_per_second,
            figure.ratio
        );
    }
    let stem = lran_path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("bench");
    let path = lran_path.with_file_name(format!("{stem}-vs-pytorch.json"));
    write_json(&path, &side_by_side)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::bench::Parameters;

    fn entry(backend: &str, mode: Mode, rate: f64, generator: usize) -> Entry {
        Entry {
            backend: backend.into(),
            device: format!("{backend} device"),
            shape: Shape::Tiny32,
            model: Shape::Tiny32.model(false),
            batch: 64,
            mode,
            images_per_second: rate,
            runs: vec![rate],
            first_step_seconds: 0.1,
            parameters: Parameters {
                generator,
                discriminator: 7,
            },
            conv: (backend == "cpu").then(|| "native".into()),
            flops_per_image: backend.starts_with("pytorch").then_some(2e9),
        }
    }

    #[test]
    fn each_figure_is_paired_with_the_same_figure_of_the_reference() {
        let lran = [
            entry("cpu", Mode::Generator, 30.0, 5),
            entry("cpu", Mode::Score, 90.0, 5),
        ];
        let pytorch = [
            entry("pytorch-cpu", Mode::Score, 60.0, 5),
            entry("pytorch-cpu", Mode::Generator, 40.0, 5),
        ];
        let ratios = pair(&lran, &pytorch).unwrap();
        assert_eq!(ratios.len(), 2);
        assert_eq!(ratios[0].mode, Mode::Generator);
        assert_eq!(ratios[0].pytorch_images_per_second, 40.0);
        assert!((ratios[0].ratio - 0.75).abs() < 1e-12);
        assert!((ratios[1].ratio - 1.5).abs() < 1e-12);
        assert_eq!(ratios[1].reference_device, "pytorch-cpu device");
        // 30 and 40 images per second of 2 GFLOP each.
        assert_eq!(ratios[0].gigaflops(), Some((60.0, 80.0)));
    }

    #[test]
    fn other_networks_or_missing_figures_are_refused() {
        let lran = [entry("cpu", Mode::Gan, 30.0, 5)];
        let other = [entry("pytorch-cpu", Mode::Gan, 40.0, 6)];
        let message = pair(&lran, &other).unwrap_err().to_string();
        assert!(message.contains("not the same networks"), "{message}");
        let on_cuda = [entry("pytorch-cuda", Mode::Gan, 40.0, 5)];
        let message = pair(&lran, &on_cuda).unwrap_err().to_string();
        assert!(
            message.contains("PyTorch measured no tiny32 batch 64 gan"),
            "{message}"
        );
    }
}
