//! `cargo xtask samples`: the page's gallery of real brain slices, cut from the shared data by
//! lran's own slice pipeline and committed under `www/samples/brain/` (visitors' clones lack
//! the data). Each PNG is a model input at `--size` pixels (uploading it gives the brain model
//! what its evaluation saw, up to resizing), and `samples.json` names its source, case, axial
//! index and what it shows.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use lran::data::brain::{SliceConfig, SliceLabel, SlicedCase, slice_case};
use lran::data::nifti::VolumeChoice;
use lran::preprocess::model_to_intensity;
use serde::{Deserialize, Serialize};

use crate::data::brain_layouts::{Modality, detect, load_case};
use crate::provenance::{commit, repository_root, write_json};

#[derive(Debug, Args)]
pub struct SamplesArgs {
    /// The brain data (the shared layout: healthy IXI adults and the tumour cases).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Healthy subjects drawn (the first in name order), one mid-brain slice each.
    #[arg(long, default_value_t = 3)]
    pub healthy: usize,
    /// Tumour cases drawn (the first in order), up to three slices each.
    #[arg(long, default_value_t = 4)]
    pub tumour: usize,
    /// Side of each slice in pixels.
    #[arg(long, default_value_t = 128)]
    pub size: usize,
    #[arg(long, default_value = "www/samples/brain")]
    pub out: PathBuf,
}

/// One gallery entry of `samples.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BrainSample {
    pub file: String,
    /// "healthy" or "tumour".
    pub kind: String,
    pub description: String,
    pub source: String,
    pub case: String,
    pub axial_index: usize,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct BrainSamples {
    pub note: String,
    pub commit: String,
    pub samples: Vec<BrainSample>,
}

fn source_of(case: &str) -> &'static str {
    if case.starts_with("IXI") {
        return "IXI healthy adult (Hammersmith Hospital, Philips 3 T), T1 masked by its brain mask";
    }
    if case.starts_with("Brats18_") {
        return "BraTS 2018 training case, T1, tumour labels from its expert whole-tumour segmentation";
    }
    match case {
        "mni152-2009a" => "MNI ICBM152 2009a symmetric T1 template (nilearn's copy)",
        "colin27" => "Colin27 brain-extracted T1 (ch2bet)",
        "itk-t1" => "ITK's KmeansTest T1 head with its skull-strip mask",
        "TCGA-DU-7294" => {
            "TCGA-DU-7294 T1 in BraTS space, tumour labels from its consensus segmentation"
        }
        _ => "lran's shared brain data",
    }
}

/// The middle one of a case's kept slices.
fn middle(sliced: &SlicedCase) -> usize {
    sliced.slices.len() / 2
}

pub fn run(args: SamplesArgs) -> Result<()> {
    let dir = crate::data::brain_dir_or_shared(args.data_dir.clone())?;
    let out = if args.out.is_absolute() {
        args.out.clone()
    } else {
        repository_root().join(&args.out)
    };
    let source = detect(&dir)?;
    let config = SliceConfig::new(args.size);
    let mut samples = Vec::new();
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut save = |sliced: &SlicedCase, k: usize, kind: &str, what: &str| -> Result<()> {
        let slice = &sliced.slices[k];
        let plane = sliced.size * sliced.size;
        let pixels: Vec<u8> = slice.input[..plane]
            .iter()
            .map(|&v| model_to_intensity(v))
            .collect();
        let file = format!("{}-axial{:03}-{kind}.png", sliced.name, slice.index);
        image::GrayImage::from_raw(sliced.size as u32, sliced.size as u32, pixels)
            .context("slice size")?
            .save(out.join(&file))
            .with_context(|| format!("cannot write {file}"))?;
        samples.push(BrainSample {
            file,
            kind: kind.into(),
            description: format!("{what}: {}, axial slice {}", sliced.name, slice.index),
            source: source_of(&sliced.name).into(),
            case: sliced.name.clone(),
            axial_index: slice.index,
        });
        Ok(())
    };
    for files in source
        .unlabelled
        .iter()
        .take(args.healthy)
        .chain(source.labelled.iter().take(args.tumour))
    {
        let (case, _) = load_case(files, &[Modality::T1], VolumeChoice::OnlyVolume)?;
        let sliced = slice_case(&case, files.mask_rule, &config)?;
        if sliced.slices.is_empty() {
            continue;
        }
        if case.segmentation.is_none() {
            save(&sliced, middle(&sliced), "healthy", "Healthy brain")?;
            continue;
        }
        // A tumour case: its largest tumour cross-section, a small one, and a healthy slice.
        let mut tumour: Vec<usize> = (0..sliced.slices.len())
            .filter(|&k| sliced.slices[k].label == SliceLabel::Tumour)
            .collect();
        tumour.sort_by_key(|&k| std::cmp::Reverse(sliced.slices[k].tumour_voxels));
        if let Some(&largest) = tumour.first() {
            save(&sliced, largest, "tumour", "Glioma (largest cross-section)")?;
        }
        if tumour.len() > 4 {
            save(
                &sliced,
                tumour[tumour.len() * 3 / 4],
                "tumour",
                "Glioma (small cross-section)",
            )?;
        }
        if let Some(healthy) = (0..sliced.slices.len())
            .filter(|&k| sliced.slices[k].label == SliceLabel::Healthy)
            .max_by_key(|&k| sliced.slices[k].brain_voxels)
        {
            save(
                &sliced,
                healthy,
                "healthy",
                "Tumour-free slice of a glioma case",
            )?;
        }
    }
    if samples.is_empty() {
        bail!("no slices came out of {}", dir.display());
    }
    let manifest = BrainSamples {
        note: "Axial T1 slices cut by cargo xtask samples (lran's slice pipeline: brain mask, \
               z-score inside the brain, crop, resample); PNG gray = model input (−1…1 → 0…255)"
            .into(),
        commit: commit(),
        samples,
    };
    write_json(&out.join("samples.json"), &manifest)?;
    for sample in &manifest.samples {
        println!("{}  {}", sample.file, sample.description);
    }
    Ok(())
}
