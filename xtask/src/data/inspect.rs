//! `cargo xtask data inspect <path>`: says what a file or folder is and what the pipeline makes
//! of it, and draws a contact sheet (PNG) of the slices or images a model would see.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use image::{Rgb, RgbImage};
use lran::data::brain::{
    BrainCase, BrainSlice, MaskRule, SliceConfig, SliceLabel, SlicedCase, slice_case,
};
use lran::data::cifar;
use lran::data::idx::{LabelledImages, parse_idx};
use lran::data::nifti::{VolumeChoice, read_nifti};

use crate::data::brain_layouts::{self as layouts, Modality};
use crate::data::folder;
use crate::data::labelled::{self, IDX_STEMS, file_name};

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Describe a dataset file or folder and write a contact sheet of what the model would see.
    Inspect(InspectArgs),
    /// Healthy subjects and tumour cases side by side at matched relative heights, after the
    /// slice pipeline: do the two sources look alike to the model?
    Compare(CompareArgs),
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// A brain dataset folder with healthy subjects and tumour cases (default: ../shared/data/brain).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Healthy subjects drawn (the first ones, in name order), one row each.
    #[arg(long, default_value_t = 4)]
    pub healthy: usize,
    /// Tumour cases drawn, one row each.
    #[arg(long, default_value_t = 4)]
    pub tumour: usize,
    /// Relative heights of the columns (0 = lowest kept slice, 1 = highest).
    #[arg(long, value_delimiter = ',', default_value = "0.1,0.3,0.5,0.7,0.9")]
    pub heights: Vec<f32>,
    /// Slice side in pixels (default: the brain network's).
    #[arg(long, default_value_t = lran::ModelConfig::brain(1).image_size)]
    pub size: usize,
    /// Each model pixel drawn as this many screen pixels.
    #[arg(long, default_value_t = 2)]
    pub zoom: u32,
    #[arg(long, default_value = "docs/data/ixi-vs-brats.png")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A NIfTI volume, a brain dataset folder (BraTS, HCP, plain, ../shared/data/brain), an IDX
    /// or CIFAR-10 file or folder, or an image folder (normal/, anomalous/).
    pub path: PathBuf,
    /// Contact sheet file (PNG); defaults to runs/inspect/<name>.png.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Slice side in pixels, as a model of that size would see it (default: the brain network's).
    #[arg(long, default_value_t = lran::ModelConfig::brain(1).image_size)]
    pub size: usize,
    /// The modality shown and sliced (brain folders).
    #[arg(long, value_enum, default_value_t = Modality::T1)]
    pub modality: Modality,
    /// Brain folders: the case drawn on the contact sheet (default: the first with a segmentation).
    #[arg(long)]
    pub case: Option<String>,
    /// Find the brain by an intensity threshold (this fraction of the 99th percentile) instead of
    /// each case's own rule: for heads with skull.
    #[arg(long)]
    pub mask_threshold: Option<f32>,
    #[arg(long, default_value_t = lran::data::brain::SliceConfig::MIN_BRAIN_FRACTION)]
    pub min_brain_fraction: f32,
    #[arg(long, default_value_t = lran::data::brain::SliceConfig::TUMOUR_MIN_VOXELS)]
    pub tumour_min_voxels: usize,
    /// The volume of a 4D NIfTI file.
    #[arg(long)]
    pub volume: Option<usize>,
}

pub fn run(command: DataCommand) -> Result<()> {
    match command {
        DataCommand::Inspect(args) => inspect(&args),
        DataCommand::Compare(args) => compare(&args),
    }
}

/// Rows of cases (healthy first), columns of relative heights: each tile the kept slice nearest
/// that height, as the model sees it, tumour outlined in red.
fn compare(args: &CompareArgs) -> Result<()> {
    let dir = crate::data::brain_dir_or_shared(args.data_dir.clone())?;
    if args.heights.is_empty() || args.heights.iter().any(|h| !(0.0..=1.0).contains(h)) {
        bail!("--heights must be fractions between 0 and 1");
    }
    if args.zoom == 0 || args.zoom > 8 {
        bail!("--zoom must be 1–8");
    }
    let source = layouts::detect(&dir)?;
    let config = SliceConfig::new(args.size);
    config.validate()?;
    let rows: Vec<&layouts::CaseFiles> = source
        .unlabelled
        .iter()
        .take(args.healthy)
        .chain(source.labelled.iter().take(args.tumour))
        .collect();
    if rows.is_empty() {
        bail!("{} holds no cases to draw", dir.display());
    }
    let tile = args.size as u32 * args.zoom;
    let mut sheet = RgbImage::from_pixel(
        args.heights.len() as u32 * (tile + GAP) + GAP,
        rows.len() as u32 * (tile + GAP) + GAP,
        Rgb([0, 0, 0]),
    );
    for (r, files) in rows.iter().enumerate() {
        let (case, _) = layouts::load_case(files, &[Modality::T1], VolumeChoice::default())?;
        let sliced = slice_case(&case, files.mask_rule, &config)?;
        println!(
            "{}: {} kept slices, brain mean {:.1} sd {:.1}",
            files.name,
            sliced.slices.len(),
            sliced.brain_mean_std[0].0,
            sliced.brain_mean_std[0].1
        );
        for (c, &height) in args.heights.iter().enumerate() {
            let Some(slice) = sliced.slices.iter().min_by(|a, b| {
                (a.relative_height - height)
                    .abs()
                    .total_cmp(&(b.relative_height - height).abs())
            }) else {
                continue;
            };
            let (x0, y0) = (GAP + c as u32 * (tile + GAP), GAP + r as u32 * (tile + GAP));
            draw_slice(&mut sheet, slice, args.size, x0, y0, args.zoom);
            draw_number(&mut sheet, x0 + 2, y0 + 2, slice.index);
        }
    }
    write_sheet(&sheet, &args.out)?;
    println!(
        "{}: rows {} (healthy first), columns relative heights {:?}, radiological view, tumour outlined in red",
        args.out.display(),
        rows.iter()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        args.heights
    );
    Ok(())
}

fn default_sheet(args: &InspectArgs, name: &str) -> PathBuf {
    args.out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs/inspect").join(format!("{name}.png")))
}

fn inspect(args: &InspectArgs) -> Result<()> {
    let path = &args.path;
    if !path.exists() {
        bail!("{} does not exist", path.display());
    }
    let config = SliceConfig {
        min_brain_fraction: args.min_brain_fraction,
        tumour_min_voxels: args.tumour_min_voxels,
        ..SliceConfig::new(args.size)
    };
    config.validate()?;
    let name = file_name(path);
    let lower = name.to_lowercase();
    if path.is_file() {
        if lower.ends_with(".nii") || lower.ends_with(".nii.gz") {
            return inspect_volume(args, &config);
        }
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        if lower.ends_with(".bin") {
            let images = cifar::parse_batch(&path.display().to_string(), &bytes)?;
            println!("{}: CIFAR-10 binary batch", path.display());
            return describe_labelled(args, &images, &name, &cifar::CLASSES.map(String::from));
        }
        if lower.contains("idx") {
            let array = parse_idx(&path.display().to_string(), &bytes)?;
            println!(
                "{}: IDX array, dimensions {:?}, u8",
                path.display(),
                array.dims
            );
            if array.dims.len() == 3 {
                let images = LabelledImages {
                    width: array.dims[2],
                    height: array.dims[1],
                    channels: 1,
                    labels: vec![0; array.dims[0]],
                    pixels: array.values,
                };
                write_sheet(
                    &labelled_sheet(&images, 100, false),
                    &default_sheet(args, &name),
                )?;
            } else if array.dims.len() == 1 {
                let mut counts = [0usize; 256];
                array.values.iter().for_each(|&v| counts[v as usize] += 1);
                let listed: Vec<String> = (0..256)
                    .filter(|&v| counts[v] > 0)
                    .map(|v| format!("{v}: {}", counts[v]))
                    .collect();
                println!("  labels: {}", listed.join(", "));
            }
            return Ok(());
        }
        bail!(
            "{}: not a NIfTI volume (.nii, .nii.gz), CIFAR-10 batch (.bin) or IDX file",
            path.display()
        );
    }
    if labelled::find_idx(path, IDX_STEMS[0]).is_ok() {
        let loaded = labelled::load_idx(&name, path)?;
        println!("{}: MNIST-style IDX folder", path.display());
        println!("  test split: {} images", loaded.test.len());
        return describe_labelled(
            args,
            &loaded.train,
            &name,
            &(0..10)
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .try_into()
                .unwrap(),
        );
    }
    if labelled::cifar_dir(path).is_some() {
        let loaded = labelled::load_cifar10(path)?;
        println!(
            "{}: CIFAR-10 binary folder (5 training batches + test batch)",
            path.display()
        );
        println!("  test split: {} images", loaded.test.len());
        return describe_labelled(
            args,
            &loaded.train,
            &name,
            &cifar::CLASSES.map(String::from),
        );
    }
    if folder::is_image_folder(path) {
        let normal = folder::image_files(&path.join("normal"))?;
        let anomalous = if path.join("anomalous").is_dir() {
            folder::image_files(&path.join("anomalous"))?
        } else {
            vec![]
        };
        println!(
            "{}: image folder: {} normal, {} anomalous PNG/JPEG files",
            path.display(),
            normal.len(),
            anomalous.len()
        );
        return Ok(());
    }
    inspect_brain_folder(args, &config)
}

fn describe_labelled(
    args: &InspectArgs,
    images: &LabelledImages,
    name: &str,
    classes: &[String; 10],
) -> Result<()> {
    println!(
        "  training split: {} images of {}×{}×{} u8",
        images.len(),
        images.channels,
        images.height,
        images.width
    );
    let mut counts = [0usize; 10];
    images.labels.iter().for_each(|&l| counts[l as usize] += 1);
    for (class, count) in counts.iter().enumerate() {
        println!("  class {class} ({}): {count}", classes[class]);
    }
    let out = default_sheet(args, name);
    write_sheet(&labelled_sheet(images, 100, true), &out)?;
    println!(
        "  contact sheet of the first 100 training images: {}",
        out.display()
    );
    Ok(())
}

fn inspect_volume(args: &InspectArgs, config: &SliceConfig) -> Result<()> {
    let path = &args.path;
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let choice = args.volume.map(VolumeChoice::Index).unwrap_or_default();
    let volume = read_nifti(&path.display().to_string(), &bytes, choice)?;
    let case = BrainCase {
        name: file_name(path),
        modalities: vec![volume],
        mask: None,
        segmentation: None,
    };
    let rule = args
        .mask_threshold
        .map(MaskRule::Threshold)
        .unwrap_or(MaskRule::NonZero);
    describe_case(
        &case,
        &args.path.display().to_string(),
        rule,
        config,
        Some(&default_sheet(args, &sheet_stem(path))),
    )
}

fn sheet_stem(path: &Path) -> String {
    let name = file_name(path);
    name.strip_suffix(".nii.gz")
        .or_else(|| name.strip_suffix(".nii"))
        .unwrap_or(&name)
        .to_string()
}

fn inspect_brain_folder(args: &InspectArgs, config: &SliceConfig) -> Result<()> {
    let source = layouts::detect(&args.path)?;
    println!("{}: {}", args.path.display(), source.layout.describe());
    println!(
        "  {} case(s) with a tumour segmentation, {} without",
        source.labelled.len(),
        source.unlabelled.len()
    );
    if !source.templates.is_empty() {
        println!(
            "  {} template(s), trained on only with --with-templates",
            source.templates.len()
        );
    }
    let drawn = match &args.case {
        Some(name) => Some(name.clone()),
        None => source
            .labelled
            .first()
            .or(source.unlabelled.first())
            .map(|c| c.name.clone()),
    };
    if let Some(name) = &drawn
        && !source
            .labelled
            .iter()
            .chain(&source.unlabelled)
            .chain(&source.templates)
            .any(|c| &c.name == name)
    {
        bail!("no case named {name} in {}", args.path.display());
    }
    let mut failed = Vec::new();
    for files in source
        .labelled
        .iter()
        .chain(&source.unlabelled)
        .chain(&source.templates)
    {
        println!();
        let modalities: Vec<String> = files
            .modalities
            .iter()
            .map(|(m, p)| format!("{}={}", m.name(), file_name(p)))
            .collect();
        println!("case {}: {}", files.name, modalities.join(" "));
        if let Some(mask) = &files.mask {
            println!("  brain mask: {}", file_name(mask));
        }
        if let Some(seg) = &files.segmentation {
            println!("  segmentation: {}", file_name(seg));
        }
        let choice = args.volume.map(VolumeChoice::Index).unwrap_or_default();
        let rule = args
            .mask_threshold
            .map(MaskRule::Threshold)
            .unwrap_or(files.mask_rule);
        let sheet = (drawn.as_deref() == Some(files.name.as_str()))
            .then(|| default_sheet(args, &files.name));
        // One bad case is reported and the others still described; the exit status says so.
        let described =
            layouts::load_case(files, &[args.modality], choice).and_then(|(case, _)| {
                describe_case(&case, &files.name, rule, config, sheet.as_deref())
            });
        if let Err(error) = described {
            println!("  cannot be sliced: {error:#}");
            failed.push(files.name.clone());
        }
    }
    if !failed.is_empty() {
        bail!(
            "{} case(s) could not be sliced: {}",
            failed.len(),
            failed.join(", ")
        );
    }
    Ok(())
}

fn describe_case(
    case: &BrainCase,
    label: &str,
    rule: MaskRule,
    config: &SliceConfig,
    sheet: Option<&Path>,
) -> Result<()> {
    let volume = &case.modalities[0];
    let (lo, hi) = volume.range();
    let dims = volume
        .source_dims
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("×");
    println!(
        "  {label}: NIfTI-1, {dims} {} (volume {:?}), file axes {}",
        volume.datatype,
        volume.chosen_volume.unwrap_or(0),
        volume.orientation.code()
    );
    println!(
        "  as RAS: {}×{}×{} voxels of {:.2}×{:.2}×{:.2} mm; intensities {lo}..{hi}",
        volume.dims[0],
        volume.dims[1],
        volume.dims[2],
        volume.spacing[0],
        volume.spacing[1],
        volume.spacing[2]
    );
    let sliced = slice_case(case, rule, config)?;
    let kept: Vec<usize> = sliced.slices.iter().map(|s| s.index).collect();
    println!(
        "  brain ({rule:?}): {} voxels, mean {:.1}, sd {:.1}; {} of {} axial slices kept (z {}..{}, brain ≥ {:.0}% of the largest)",
        sliced.brain_voxels,
        sliced.brain_mean_std[0].0,
        sliced.brain_mean_std[0].1,
        kept.len(),
        sliced.total_slices,
        kept.first().copied().unwrap_or(0),
        kept.last().copied().unwrap_or(0),
        100.0 * config.min_brain_fraction
    );
    if let Some(segmentation) = &case.segmentation {
        let per_slice = lran::data::brain::tumour_voxels_per_slice(segmentation);
        let any = per_slice.iter().filter(|&&n| n > 0).count();
        let over = per_slice
            .iter()
            .filter(|&&n| n >= config.tumour_min_voxels)
            .count();
        println!(
            "  tumour: {} voxels; {any} slices hold some, {over} hold ≥ {}; of the kept slices: {} tumour, {} healthy, {} excluded (1–{} voxels)",
            per_slice.iter().sum::<usize>(),
            config.tumour_min_voxels,
            sliced.count(SliceLabel::Tumour),
            sliced.count(SliceLabel::Healthy),
            sliced.count(SliceLabel::Excluded),
            config.tumour_min_voxels - 1
        );
    }
    if let Some(path) = sheet {
        write_sheet(&slice_sheet(&sliced), path)?;
        println!(
            "  contact sheet: {} (kept slices inferior → superior, radiological view: patient's right on the left; frame: red tumour, green healthy, yellow excluded, grey unlabelled; red outline: segmentation)",
            path.display()
        );
    }
    Ok(())
}

fn write_sheet(image: &RgbImage, path: &Path) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    image
        .save(path)
        .with_context(|| format!("cannot write {}", path.display()))
}

const GAP: u32 = 2;

fn grid(count: usize, tile: u32) -> (u32, u32, RgbImage) {
    let columns = (count as f64).sqrt().ceil().clamp(1.0, 12.0) as u32;
    let rows = (count as u32).div_ceil(columns).max(1);
    let image = RgbImage::from_pixel(
        columns * (tile + GAP) + GAP,
        rows * (tile + GAP) + GAP,
        Rgb([0, 0, 0]),
    );
    (columns, rows, image)
}

/// A slice's model input in gray at (`x0`, `y0`), each pixel `zoom` × `zoom`, its tumour
/// outlined in red.
fn draw_slice(sheet: &mut RgbImage, slice: &BrainSlice, size: usize, x0: u32, y0: u32, zoom: u32) {
    let tumour_at = |y: isize, x: isize| {
        y >= 0
            && x >= 0
            && y < size as isize
            && x < size as isize
            && slice.tumour[y as usize * size + x as usize]
    };
    for y in 0..size {
        for x in 0..size {
            let edge = slice.tumour[y * size + x]
                && [(0isize, 1isize), (0, -1), (1, 0), (-1, 0)]
                    .iter()
                    .any(|&(dy, dx)| !tumour_at(y as isize + dy, x as isize + dx));
            let colour = if edge {
                Rgb([255, 40, 40])
            } else {
                let v = lran::preprocess::model_to_intensity(slice.input[y * size + x]);
                Rgb([v, v, v])
            };
            for dy in 0..zoom {
                for dx in 0..zoom {
                    sheet.put_pixel(x0 + x as u32 * zoom + dx, y0 + y as u32 * zoom + dy, colour);
                }
            }
        }
    }
}

/// Kept slices with label frames, tumour outlines and slice numbers.
pub fn slice_sheet(sliced: &SlicedCase) -> RgbImage {
    let size = sliced.size as u32;
    let (columns, _, mut sheet) = grid(sliced.slices.len(), size);
    for (n, slice) in sliced.slices.iter().enumerate() {
        let (x0, y0) = (
            GAP + (n as u32 % columns) * (size + GAP),
            GAP + (n as u32 / columns) * (size + GAP),
        );
        draw_slice(&mut sheet, slice, sliced.size, x0, y0, 1);
        let frame = match slice.label {
            SliceLabel::Tumour => Rgb([230, 30, 30]),
            SliceLabel::Healthy => Rgb([40, 200, 60]),
            SliceLabel::Excluded => Rgb([240, 200, 0]),
            SliceLabel::Unlabelled => Rgb([110, 110, 110]),
        };
        for i in 0..size {
            for (x, y) in [
                (x0 + i, y0),
                (x0 + i, y0 + size - 1),
                (x0, y0 + i),
                (x0 + size - 1, y0 + i),
            ] {
                sheet.put_pixel(x, y, frame);
            }
        }
        draw_number(&mut sheet, x0 + 2, y0 + 2, slice.index);
    }
    sheet
}

/// The first `count` images of a set, with their class when `labelled`.
fn labelled_sheet(images: &LabelledImages, count: usize, labelled: bool) -> RgbImage {
    let count = count.min(images.len());
    let (w, h) = (images.width as u32, images.height as u32);
    let tile = w.max(h);
    let (columns, _, mut sheet) = grid(count, tile);
    let plane = images.width * images.height;
    for n in 0..count {
        let (x0, y0) = (
            GAP + (n as u32 % columns) * (tile + GAP),
            GAP + (n as u32 / columns) * (tile + GAP),
        );
        let pixels = images.image(n);
        for y in 0..h {
            for x in 0..w {
                let i = (y * w + x) as usize;
                let colour = if images.channels == 3 {
                    Rgb([pixels[i], pixels[plane + i], pixels[2 * plane + i]])
                } else {
                    Rgb([pixels[i]; 3])
                };
                sheet.put_pixel(x0 + x, y0 + y, colour);
            }
        }
        if labelled {
            draw_number(&mut sheet, x0 + 1, y0 + 1, images.labels[n] as usize);
        }
    }
    sheet
}

/// A 3×5 pixel font: each digit's rows, three bits per row.
const DIGITS: [[u8; 5]; 10] = [
    [7, 5, 5, 5, 7],
    [2, 6, 2, 2, 7],
    [7, 1, 7, 4, 7],
    [7, 1, 7, 1, 7],
    [5, 5, 7, 1, 1],
    [7, 4, 7, 1, 7],
    [7, 4, 7, 5, 7],
    [7, 1, 1, 1, 1],
    [7, 5, 7, 5, 7],
    [7, 5, 7, 1, 7],
];

fn draw_number(image: &mut RgbImage, x: u32, y: u32, number: usize) {
    let text = number.to_string();
    let width = text.len() as u32 * 4 + 1;
    for dy in 0..7 {
        for dx in 0..width {
            if x + dx < image.width() && y + dy < image.height() {
                image.put_pixel(x + dx, y + dy, Rgb([0, 0, 0]));
            }
        }
    }
    for (n, digit) in text.bytes().enumerate() {
        let rows = DIGITS[(digit - b'0') as usize];
        for (row, bits) in rows.iter().enumerate() {
            for column in 0..3 {
                if bits & (4 >> column) != 0 {
                    let (px, py) = (x + 1 + n as u32 * 4 + column, y + 1 + row as u32);
                    if px < image.width() && py < image.height() {
                        image.put_pixel(px, py, Rgb([255, 255, 255]));
                    }
                }
            }
        }
    }
}
