//! `cargo xtask score`: what a visitor gets on the page, from the shell, for many files. Each
//! PATH is an image (PNG/JPEG), a NIfTI volume or a folder of them; every image and every kept
//! slice of a volume gets the latent score, the pixel score, the normalised score, its
//! percentile among healthy validation images and the verdict against the model's threshold.
//! Files are read by `lran::upload::read_upload`, the function the page's Web Worker calls, so
//! both see the same pixels.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use lran::colormap::{Colormap, DEFAULT_OVERLAY_OPACITY, image_rgba, overlay_rgba};
use lran::scorer::{ImageReport, ScoringModel};
use lran::upload::{Upload, is_volume_name, read_upload};
use serde::Serialize;

use crate::backend::{self, Backend};
use crate::provenance::{ResultsHeader, write_json};

#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// An exported model folder (model.json beside its weights), e.g. models/brain-t1.
    #[arg(long)]
    pub model: PathBuf,
    /// Images (PNG, JPEG), NIfTI volumes (.nii, .nii.gz), or folders holding them.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Every row (each image, each kept slice) to FILE.json or FILE.csv.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write input | reconstruction | residual overlay PNGs here: each image, and each volume's
    /// `--top` slices by the latent score.
    #[arg(long)]
    pub heatmaps: Option<PathBuf>,
    /// Slices of each volume listed (ranked by the latent score) and drawn by --heatmaps.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// The residual's colour map in --heatmaps: inferno, viridis or gray (the page's).
    #[arg(long, default_value = "inferno", value_parser = parse_colormap)]
    pub colormap: Colormap,
    /// How strongly the residual covers the input in --heatmaps (0–1).
    #[arg(long, default_value_t = DEFAULT_OVERLAY_OPACITY)]
    pub opacity: f32,
    /// Images per forward pass.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    #[arg(long, value_enum, default_value_t = Backend::Auto)]
    pub backend: Backend,
}

fn parse_colormap(name: &str) -> Result<Colormap, String> {
    Colormap::ALL
        .into_iter()
        .find(|c| c.name() == name)
        .ok_or_else(|| {
            let names: Vec<&str> = Colormap::ALL.iter().map(|c| c.name()).collect();
            format!("unknown colour map {name:?} (one of: {})", names.join(", "))
        })
}

/// One scored image or slice.
#[derive(Debug, Clone, Serialize)]
pub struct ScoreRow {
    /// The file as given (or as found in a given folder).
    pub file: String,
    /// Axial index of a volume's slice (inferior → superior, 0-based); empty for an image.
    pub slice: Option<usize>,
    pub latent_score: f32,
    pub pixel_score: f32,
    pub normalised_score: f32,
    pub healthy_percentile: f64,
    pub threshold: f32,
    /// "anomalous" (latent score above the threshold), "normal", or "unsure" when the image
    /// does not look like what the model was trained on (see `warnings`).
    pub verdict: &'static str,
    /// Why the input may not be what the model was trained on, joined by "; " (empty: none).
    pub warnings: String,
    /// Its PNG under --heatmaps, where one was drawn (empty: none).
    pub heatmap: String,
}

/// What became of one file.
#[derive(Debug, Clone, Serialize)]
pub struct FileOutcome {
    pub file: String,
    /// "image" or "volume".
    pub kind: &'static str,
    /// Scored rows (an image: 1; a volume: its kept slices).
    pub rows: usize,
    /// A volume's axial slices (kept or not).
    pub total_slices: Option<usize>,
    /// Slices or images above the threshold.
    pub anomalous: usize,
    /// Why it could not be scored, naming the problem.
    pub error: Option<String>,
}

/// `--out FILE.json`: every row, and where the numbers came from.
#[derive(Debug, Serialize)]
pub struct ScoreResults {
    #[serde(flatten)]
    pub header: ResultsHeader,
    pub device: String,
    pub model: ModelFacts,
    pub files: Vec<FileOutcome>,
    pub rows: Vec<ScoreRow>,
}

#[derive(Debug, Serialize)]
pub struct ModelFacts {
    pub name: String,
    pub dir: String,
    pub dataset: String,
    pub trained_with_commit: String,
    pub threshold: f32,
    pub threshold_percentile: f64,
}

/// The file extensions `score` reads: NIfTI volumes, then PNG and JPEG images.
const SCAN_EXTENSIONS: [&str; 5] = [".nii.gz", ".nii", ".png", ".jpeg", ".jpg"];

/// `name`'s extension among [`SCAN_EXTENSIONS`] (any case), if it has one.
fn scan_extension(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    SCAN_EXTENSIONS.into_iter().find(|e| lower.ends_with(e))
}

/// A PNG, JPEG or NIfTI file named as a scan, rather than as a label map or mask beside one.
fn is_scorable_name(name: &str) -> bool {
    let Some(extension) = scan_extension(name) else {
        return false;
    };
    let stem = name[..name.len() - extension.len()].to_ascii_lowercase();
    let label_map = stem == "seg"
        || ["_seg", "-seg", "_mask", "-mask", "_brainmask"]
            .iter()
            .any(|s| stem.ends_with(s));
    !(is_volume_name(name) && label_map)
}

/// The files PATHS stand for: files as given, folders' images and volumes (not recursing;
/// segmentations and masks skipped), in order.
pub fn expand_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("cannot list {}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_file()
                        && p.file_name()
                            .is_some_and(|n| is_scorable_name(&n.to_string_lossy()))
                })
                .collect();
            found.sort();
            if found.is_empty() {
                eprintln!(
                    "warning: {} holds no PNG, JPEG or NIfTI scan",
                    path.display()
                );
            }
            files.extend(found);
        } else {
            // A file given by name is scored whatever its name, and refused by its content.
            files.push(path.clone());
        }
    }
    Ok(files)
}

fn row(file: &str, slice: Option<usize>, report: &ImageReport, warnings: &[String]) -> ScoreRow {
    ScoreRow {
        file: file.to_string(),
        slice,
        latent_score: report.latent_score,
        pixel_score: report.pixel_score,
        normalised_score: report.normalised_score,
        healthy_percentile: report.healthy_percentile,
        threshold: report.threshold,
        verdict: if !warnings.is_empty() {
            "unsure"
        } else if report.anomalous {
            "anomalous"
        } else {
            "normal"
        },
        warnings: warnings.join("; "),
        heatmap: String::new(),
    }
}

/// One scored file: its rows, and the reports of the slices to list and draw.
struct Scored {
    rows: Vec<ScoreRow>,
    /// (index in `rows`, report) of the image, or of the volume's `--top` slices by the latent
    /// score, most anomalous first.
    top: Vec<(usize, ImageReport)>,
    total_slices: Option<usize>,
}

fn score_file(
    model: &ScoringModel,
    path: &Path,
    top: usize,
    batch: usize,
    bar: &ProgressBar,
) -> Result<Scored> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {name}"))?;
    match read_upload(&name, &bytes, &model.card)? {
        Upload::Image(image) => {
            let report = model.report(&image.input)?;
            Ok(Scored {
                rows: vec![row(&name, None, &report, &image.warnings)],
                top: vec![(0, report)],
                total_slices: None,
            })
        }
        Upload::Volume(sliced) => {
            if sliced.slices.is_empty() {
                bail!("{name}: no axial slice holds enough brain to score");
            }
            let mut reports = Vec::with_capacity(sliced.slices.len());
            for (k, chunk) in sliced.slices.chunks(batch).enumerate() {
                bar.set_message(format!(
                    "{}: slices {}/{}",
                    short_name(path),
                    k * batch + chunk.len(),
                    sliced.slices.len()
                ));
                let inputs: Vec<f32> = chunk.iter().flat_map(|s| s.input.iter().copied()).collect();
                reports.extend(model.report_batch(&inputs)?);
            }
            let rows = sliced
                .slices
                .iter()
                .zip(&reports)
                .map(|(slice, report)| row(&name, Some(slice.index), report, &[]))
                .collect();
            let mut order: Vec<usize> = (0..reports.len()).collect();
            order.sort_by(|&a, &b| reports[b].latent_score.total_cmp(&reports[a].latent_score));
            order.truncate(top);
            let top = order.into_iter().map(|i| (i, reports[i].clone())).collect();
            Ok(Scored {
                rows,
                top,
                total_slices: Some(sliced.total_slices),
            })
        }
    }
}

fn short_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// The file name without its image or NIfTI extension.
fn stem(path: &Path) -> String {
    let name = short_name(path);
    let cut = scan_extension(&name).map_or(0, str::len);
    name[..name.len() - cut].to_string()
}

/// Input | reconstruction | residual overlay side by side, each panel enlarged `scale`× (the
/// model's inputs are small), with the page's colours.
pub fn heatmap_panels(
    report: &ImageReport,
    channels: usize,
    size: usize,
    colormap: Colormap,
    opacity: f32,
) -> Result<image::RgbaImage> {
    let input = image_rgba(&report.input, channels, size)?;
    let reconstruction = image_rgba(&report.reconstruction, channels, size)?;
    let overlay = overlay_rgba(&input, &report.residual, colormap, opacity)?;
    let scale = (256 / size.max(1)).max(1);
    let side = (size * scale) as u32;
    let gap = 4u32;
    let mut canvas = image::RgbaImage::from_pixel(side * 3 + gap * 2, side, image::Rgba([255; 4]));
    for (panel, rgba) in [input, reconstruction, overlay].iter().enumerate() {
        let left = panel as u32 * (side + gap);
        for y in 0..side {
            for x in 0..side {
                let source = ((y as usize / scale) * size + x as usize / scale) * 4;
                let pixel = image::Rgba([
                    rgba[source],
                    rgba[source + 1],
                    rgba[source + 2],
                    rgba[source + 3],
                ]);
                canvas.put_pixel(left + x, y, pixel);
            }
        }
    }
    Ok(canvas)
}

fn format_score(value: f32) -> String {
    if value != 0.0 && (value.abs() < 1e-3 || value.abs() >= 1e4) {
        format!("{value:.3e}")
    } else {
        format!("{value:.5}")
    }
}

fn print_rows(out: &mut impl Write, rows: &[&ScoreRow]) -> std::io::Result<()> {
    writeln!(
        out,
        "  {:>5}  {:>11}  {:>11}  {:>10}  {:>10}  verdict",
        "slice", "latent", "pixel", "normalised", "percentile"
    )?;
    for r in rows {
        writeln!(
            out,
            "  {:>5}  {:>11}  {:>11}  {:>10.3}  {:>9.1}%  {}",
            r.slice.map_or("-".to_string(), |s| s.to_string()),
            format_score(r.latent_score),
            format_score(r.pixel_score),
            r.normalised_score,
            r.healthy_percentile,
            r.verdict
        )?;
        if !r.warnings.is_empty() {
            writeln!(out, "         {}", r.warnings)?;
        }
    }
    Ok(())
}

fn write_csv(path: &Path, rows: &[ScoreRow]) -> Result<()> {
    let mut writer =
        csv::Writer::from_path(path).with_context(|| format!("cannot write {}", path.display()))?;
    for r in rows {
        writer.serialize(r)?;
    }
    writer.flush()?;
    Ok(())
}

pub fn run(args: ScoreArgs, conv: backend::ConvChoice) -> Result<()> {
    if args.batch == 0 {
        bail!("--batch must be at least 1");
    }
    if !(0.0..=1.0).contains(&args.opacity) {
        bail!("--opacity must be between 0 and 1, not {}", args.opacity);
    }
    let out_format = match &args.out {
        Some(path) => match path.extension().and_then(|e| e.to_str()) {
            Some("json") => Some("json"),
            Some("csv") => Some("csv"),
            _ => bail!("--out {}: name a .json or .csv file", path.display()),
        },
        None => None,
    };
    let selected = backend::select(args.backend, conv)?;
    let model = ScoringModel::from_dir(&args.model, &selected.device)
        .with_context(|| format!("cannot load the model in {}", args.model.display()))?
        .with_conv(selected.conv);
    let files = expand_paths(&args.paths)?;
    if files.is_empty() {
        bail!("nothing to score: the paths hold no PNG, JPEG or NIfTI file");
    }
    if let Some(dir) = &args.heatmaps {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let calibration = &model.card.calibration.latent;
    eprintln!(
        "model {} ({}; threshold {} = the {}th percentile of healthy validation latent scores) on {}",
        model.card.name,
        model.card.provenance.dataset,
        format_score(calibration.threshold),
        calibration.threshold_percentile,
        selected.description
    );

    let bar = ProgressBar::new(files.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("scoring [{bar:30}] {pos}/{len} files {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let stdout = std::io::stdout();
    let mut all_rows = Vec::new();
    let mut outcomes = Vec::new();
    let mut used_names = BTreeSet::new();
    let (channels, size) = (model.config().channels, model.config().image_size);
    for path in &files {
        let name = path.display().to_string();
        let kind = if is_volume_name(&name) {
            "volume"
        } else {
            "image"
        };
        bar.set_message(short_name(path));
        match score_file(&model, path, args.top, args.batch, &bar) {
            Ok(mut scored) => {
                let anomalous = scored
                    .rows
                    .iter()
                    .filter(|r| r.verdict == "anomalous")
                    .count();
                let mut text = Vec::new();
                if let Some(total) = scored.total_slices {
                    let shown: Vec<&ScoreRow> =
                        scored.top.iter().map(|(i, _)| &scored.rows[*i]).collect();
                    writeln!(
                        text,
                        "{name}: volume, {} of {total} axial slices scored; top {} by the latent score:",
                        scored.rows.len(),
                        shown.len()
                    )?;
                    print_rows(&mut text, &shown)?;
                    // The whole volume's most anomalous slice, whatever --top lists.
                    let most = scored
                        .rows
                        .iter()
                        .max_by(|a, b| a.latent_score.total_cmp(&b.latent_score))
                        .expect("score_file refuses volumes without slices");
                    writeln!(
                        text,
                        "  summary: {anomalous} of {} slices above the threshold {}; most anomalous slice {} (latent {}, above {:.1}% of healthy validation slices) -> {}",
                        scored.rows.len(),
                        format_score(most.threshold),
                        most.slice.unwrap_or(0),
                        format_score(most.latent_score),
                        most.healthy_percentile,
                        if anomalous > 0 { "anomalous" } else { "normal" }
                    )?;
                } else {
                    writeln!(text, "{name}: image")?;
                    print_rows(&mut text, &scored.rows.iter().collect::<Vec<_>>())?;
                }
                bar.suspend(|| stdout.lock().write_all(&text))?;
                if let Some(dir) = &args.heatmaps {
                    let base = unique_name(&mut used_names, &stem(path));
                    for (i, report) in &scored.top {
                        let file = match scored.rows[*i].slice {
                            Some(index) => format!("{base}-z{index:03}.png"),
                            None => format!("{base}.png"),
                        };
                        scored.rows[*i].heatmap = file.clone();
                        heatmap_panels(report, channels, size, args.colormap, args.opacity)?
                            .save(dir.join(&file))
                            .with_context(|| {
                                format!("cannot write {}", dir.join(&file).display())
                            })?;
                    }
                }
                outcomes.push(FileOutcome {
                    file: name,
                    kind,
                    rows: scored.rows.len(),
                    total_slices: scored.total_slices,
                    anomalous,
                    error: None,
                });
                all_rows.extend(scored.rows);
            }
            Err(error) => {
                let message = format!("{error:#}");
                bar.suspend(|| eprintln!("error: {message}"));
                outcomes.push(FileOutcome {
                    file: name,
                    kind,
                    rows: 0,
                    total_slices: None,
                    anomalous: 0,
                    error: Some(message),
                });
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();

    let failed = outcomes.iter().filter(|o| o.error.is_some()).count();
    if let (Some(path), Some(format)) = (&args.out, out_format) {
        match format {
            "csv" => write_csv(path, &all_rows)?,
            _ => write_json(
                path,
                &ScoreResults {
                    header: ResultsHeader::now("lran-scores/1"),
                    device: selected.description.clone(),
                    model: ModelFacts {
                        name: model.card.name.clone(),
                        dir: args.model.display().to_string(),
                        dataset: model.card.provenance.dataset.clone(),
                        trained_with_commit: model.card.provenance.commit.clone(),
                        threshold: calibration.threshold,
                        threshold_percentile: calibration.threshold_percentile,
                    },
                    files: outcomes.clone(),
                    rows: all_rows.clone(),
                },
            )?,
        }
        eprintln!("wrote {} rows to {}", all_rows.len(), path.display());
    }
    if failed > 0 {
        bail!(
            "{failed} of {} files could not be scored (each named above)",
            outcomes.len()
        );
    }
    Ok(())
}

/// `base`, or `base-2`, `base-3`… when an earlier file took it.
fn unique_name(used: &mut BTreeSet<String>, base: &str) -> String {
    let mut name = base.to_string();
    let mut k = 2;
    while !used.insert(name.clone()) {
        name = format!("{base}-{k}");
        k += 1;
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_skip_label_maps_and_masks_but_keep_scans_and_images() {
        for scan in [
            "Brats18_X_t1.nii.gz",
            "t1.nii.gz",
            "slice.PNG",
            "a.jpeg",
            "head.nii",
        ] {
            assert!(is_scorable_name(scan), "{scan}");
        }
        for other in [
            "Brats18_X_seg.nii.gz",
            "seg.nii.gz",
            "IXI002_mask.nii.gz",
            "case-seg.nii",
            "notes.txt",
            "volume.nii.gz.bak",
        ] {
            assert!(!is_scorable_name(other), "{other}");
        }
    }

    #[test]
    fn stems_drop_the_extension_and_names_stay_unique() {
        assert_eq!(stem(Path::new("/a/b/Brats18_X_t1.nii.gz")), "Brats18_X_t1");
        assert_eq!(stem(Path::new("digit.PNG")), "digit");
        let mut used = BTreeSet::new();
        assert_eq!(unique_name(&mut used, "t1"), "t1");
        assert_eq!(unique_name(&mut used, "t1"), "t1-2");
        assert_eq!(unique_name(&mut used, "t1"), "t1-3");
    }
}
