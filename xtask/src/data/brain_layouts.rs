//! Brain MRI datasets on disk: which files make a case, in the layouts users have.
//!
//! - **BraTS 2019/2020/2021**: `<case>/<case>_{t1,t1ce,t2,flair,seg}.nii.gz` (also under `HGG/`
//!   and `LGG/`, as BraTS 2019 ships);
//! - **BraTS 2023**: `<case>/<case>-{t1n,t1c,t2w,t2f,seg}.nii.gz`;
//! - **HCP**: `<subject>/T1w/T1w_acpc_dc_restore_brain.nii.gz` (and `T2w_…`), skull-stripped,
//!   with `brainmask_fs.nii.gz` used as the mask when present;
//! - **IXI** (as the shared data holds it): `<id>/<id>_t1.nii.gz`, T1 with skull and neck, beside
//!   `<id>_mask.nii.gz`, its brain mask, which tells the brain from the rest;
//! - **a plain folder** of volumes: every `<name>.nii[.gz]` is a case, with optional
//!   `<name>_mask` / `<name>_brainmask` (brain mask) and `<name>_seg` (tumour labels) beside it;
//! - **lran's shared data** (`../shared/data/brain`): its files named one by one below.
//!
//! Splits are by subject, never by slice: no subject's slices are on both sides.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use lran::data::brain::{BrainCase, MaskRule};
use lran::data::nifti::{VolumeChoice, read_nifti};
use lran::data::volume::Volume;
use serde::{Deserialize, Serialize};

use crate::data::labelled::{check_dir, file_name};
use crate::provenance::sha256_hex;

/// An MRI contrast, named as BraTS 2019 names it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Modality {
    T1,
    /// T1 with contrast agent (BraTS 2023: t1c).
    T1ce,
    T2,
    Flair,
}

impl Modality {
    pub fn name(self) -> &'static str {
        match self {
            Modality::T1 => "t1",
            Modality::T1ce => "t1ce",
            Modality::T2 => "t2",
            Modality::Flair => "flair",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    Brats2019,
    Brats2023,
    Hcp,
    Ixi,
    Plain,
    Shared,
}

impl Layout {
    /// The layout's name in data labels (e.g. "brain:brats2019-naming").
    pub fn name(self) -> &'static str {
        match self {
            Layout::Brats2019 => "brats2019",
            Layout::Brats2023 => "brats2023",
            Layout::Hcp => "hcp",
            Layout::Ixi => "ixi",
            Layout::Plain => "plain",
            Layout::Shared => "shared",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Layout::Brats2019 => "BraTS 2019–2021 (<case>/<case>_{t1,t1ce,t2,flair,seg}.nii.gz)",
            Layout::Brats2023 => "BraTS 2023 (<case>/<case>-{t1n,t1c,t2w,t2f,seg}.nii.gz)",
            Layout::Hcp => "HCP (<subject>/T1w/T1w_acpc_dc_restore_brain.nii.gz)",
            Layout::Ixi => "IXI (<id>/<id>_t1.nii.gz with its brain mask <id>_mask.nii.gz)",
            Layout::Plain => {
                "a plain folder of NIfTI volumes (<name>.nii.gz, optional <name>_mask, <name>_seg)"
            }
            Layout::Shared => {
                "lran's shared brain data (healthy IXI adults + tumour cases; templates on request)"
            }
        }
    }
}

/// The files of one case.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseFiles {
    pub name: String,
    pub modalities: BTreeMap<Modality, PathBuf>,
    pub mask: Option<PathBuf>,
    pub segmentation: Option<PathBuf>,
    pub mask_rule: MaskRule,
}

/// What a folder holds.
#[derive(Debug, Clone)]
pub struct BrainSource {
    pub layout: Layout,
    /// Cases without a segmentation (healthy subjects, or unlabelled scans).
    pub unlabelled: Vec<CaseFiles>,
    /// Cases with a tumour segmentation.
    pub labelled: Vec<CaseFiles>,
    /// Healthy templates, trained on only when asked (the shared data's; empty elsewhere).
    pub templates: Vec<CaseFiles>,
}

/// `<dir>/<stem>.nii.gz` or `<dir>/<stem>.nii`.
fn nifti_file(dir: &Path, stem: &str) -> Option<PathBuf> {
    [format!("{stem}.nii.gz"), format!("{stem}.nii")]
        .into_iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file())
}

fn subfolders(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut folders: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();
    Ok(folders)
}

fn folder_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

const BRATS_2019: [(Option<Modality>, &str); 5] = [
    (Some(Modality::T1), "_t1"),
    (Some(Modality::T1ce), "_t1ce"),
    (Some(Modality::T2), "_t2"),
    (Some(Modality::Flair), "_flair"),
    (None, "_seg"),
];
const BRATS_2023: [(Option<Modality>, &str); 5] = [
    (Some(Modality::T1), "-t1n"),
    (Some(Modality::T1ce), "-t1c"),
    (Some(Modality::T2), "-t2w"),
    (Some(Modality::Flair), "-t2f"),
    (None, "-seg"),
];

/// A BraTS case folder under either naming, or `None`.
fn brats_case(dir: &Path) -> Option<(Layout, CaseFiles)> {
    let name = folder_name(dir);
    for (layout, names) in [
        (Layout::Brats2019, BRATS_2019),
        (Layout::Brats2023, BRATS_2023),
    ] {
        let mut modalities = BTreeMap::new();
        let mut segmentation = None;
        for (modality, suffix) in names {
            if let Some(path) = nifti_file(dir, &format!("{name}{suffix}")) {
                match modality {
                    Some(m) => {
                        modalities.insert(m, path);
                    }
                    None => segmentation = Some(path),
                }
            }
        }
        if !modalities.is_empty() {
            return Some((
                layout,
                CaseFiles {
                    name,
                    modalities,
                    mask: None,
                    segmentation,
                    mask_rule: MaskRule::NonZero,
                },
            ));
        }
    }
    None
}

/// An IXI subject folder: `<id>_t1` with skull, masked by `<id>_mask`, and no segmentation
/// (a BraTS case's folder never holds a `_mask`; a healthy subject's never a `_seg`).
fn ixi_subject(dir: &Path) -> Option<CaseFiles> {
    let name = folder_name(dir);
    let t1 = nifti_file(dir, &format!("{name}_t1"))?;
    let mask = nifti_file(dir, &format!("{name}_mask"))?;
    if nifti_file(dir, &format!("{name}_seg")).is_some() {
        return None;
    }
    Some(CaseFiles {
        name,
        modalities: BTreeMap::from([(Modality::T1, t1)]),
        mask: Some(mask),
        segmentation: None,
        mask_rule: MaskRule::Given,
    })
}

fn hcp_subject(dir: &Path) -> Option<CaseFiles> {
    let t1w = dir.join("T1w");
    let t1 = nifti_file(&t1w, "T1w_acpc_dc_restore_brain")?;
    let mut modalities = BTreeMap::from([(Modality::T1, t1)]);
    if let Some(t2) = nifti_file(&t1w, "T2w_acpc_dc_restore_brain") {
        modalities.insert(Modality::T2, t2);
    }
    let mask = nifti_file(&t1w, "brainmask_fs");
    let mask_rule = if mask.is_some() {
        MaskRule::Given
    } else {
        MaskRule::NonZero
    };
    Some(CaseFiles {
        name: folder_name(dir),
        modalities,
        mask,
        segmentation: None,
        mask_rule,
    })
}

fn plain_cases(dir: &Path) -> Result<Vec<CaseFiles>> {
    let mut stems: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter_map(|p| {
            let name = file_name(&p);
            let stem = name
                .strip_suffix(".nii.gz")
                .or_else(|| name.strip_suffix(".nii"))?
                .to_string();
            Some((stem, p))
        })
        .collect();
    stems.sort();
    let companions = ["_brainmask", "_mask", "_seg"];
    let mut cases = Vec::new();
    for (stem, path) in &stems {
        if companions.iter().any(|c| stem.ends_with(c)) {
            continue;
        }
        let companion = |suffix: &str| {
            stems
                .iter()
                .find(|(s, _)| *s == format!("{stem}{suffix}"))
                .map(|(_, p)| p.clone())
        };
        let mask = companion("_brainmask").or_else(|| companion("_mask"));
        let mask_rule = if mask.is_some() {
            MaskRule::Given
        } else {
            MaskRule::NonZero
        };
        cases.push(CaseFiles {
            name: stem.clone(),
            modalities: BTreeMap::from([(Modality::T1, path.clone())]),
            mask,
            segmentation: companion("_seg"),
            mask_rule,
        });
    }
    Ok(cases)
}

/// lran's shared brain data: the healthy IXI adults to train and validate on; every tumour case
/// with a segmentation to test on (the BraTS 2018 cases and TCGA-DU-7294); and, apart, the
/// templates (two population averages and one low-resolution head), which training uses only
/// when asked (`--with-templates`): averages teach an unreal smoothness of health.
fn shared_cases(root: &Path) -> Option<BrainSource> {
    let healthy = root.join("healthy");
    let tumour = root.join("tumour");
    let ixi = healthy.join("ixi");
    if !ixi.is_dir() || !tumour.join("TCGA-DU-7294").is_dir() {
        return None;
    }
    let unlabelled: Vec<CaseFiles> = subfolders(&ixi)
        .ok()?
        .iter()
        .filter_map(|d| ixi_subject(d))
        .collect();
    let case = |name: &str, t1: PathBuf, mask: Option<PathBuf>| CaseFiles {
        name: name.to_string(),
        modalities: BTreeMap::from([(Modality::T1, t1)]),
        mask_rule: if mask.is_some() {
            MaskRule::Given
        } else {
            MaskRule::NonZero
        },
        mask,
        segmentation: None,
    };
    let templates: Vec<CaseFiles> = [
        // The 2009a template as nilearn ships it: already brain-extracted (zero outside).
        (
            "mni152-2009a",
            "mni152-2009a/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz",
            None,
        ),
        // Colin27's brain-extracted scan (ch2.nii.gz keeps the skull).
        ("colin27", "colin27/ch2bet.nii.gz", None),
        // A real head with skull; its skull-strip mask ships beside it.
        (
            "itk-t1",
            "itk-t1/KmeansTest_T1UCharRaw.nii.gz",
            Some("itk-t1/KmeansTest_T1RawSkullStrip.nii.gz"),
        ),
    ]
    .into_iter()
    .filter(|(_, t1, _)| healthy.join(t1).is_file())
    .map(|(name, t1, mask)| case(name, healthy.join(t1), mask.map(|m| healthy.join(m))))
    .collect();
    let mut labelled: Vec<CaseFiles> = subfolders(&tumour.join("brats2018"))
        .unwrap_or_default()
        .iter()
        .filter_map(|d| brats_case(d))
        .map(|(_, case)| case)
        .filter(|case| case.segmentation.is_some())
        .collect();
    let tcga = tumour.join("TCGA-DU-7294");
    labelled.push(CaseFiles {
        name: "TCGA-DU-7294".into(),
        modalities: BTreeMap::from([
            (Modality::T1, tcga.join("t1.nii.gz")),
            (Modality::T1ce, tcga.join("t1c.nii.gz")),
            (Modality::T2, tcga.join("t2.nii.gz")),
            (Modality::Flair, tcga.join("fla.nii.gz")),
        ]),
        mask: None,
        segmentation: Some(tcga.join("seg.nii.gz")),
        mask_rule: MaskRule::NonZero,
    });
    Some(BrainSource {
        layout: Layout::Shared,
        unlabelled,
        labelled,
        templates,
    })
}

/// Finds the cases in `dir`: one case folder, a folder of them (BraTS 2019's `HGG/`/`LGG/`
/// too), HCP subjects, a plain folder, or the shared data.
pub fn detect(dir: &Path) -> Result<BrainSource> {
    check_dir(dir)?;
    if let Some(shared) = shared_cases(dir) {
        return Ok(shared);
    }
    let mut found: Vec<(Layout, CaseFiles)> = Vec::new();
    if let Some(subject) = ixi_subject(dir) {
        found.push((Layout::Ixi, subject));
    } else if let Some(case) = brats_case(dir) {
        found.push(case);
    } else if let Some(subject) = hcp_subject(dir) {
        found.push((Layout::Hcp, subject));
    } else {
        for sub in subfolders(dir)? {
            if let Some(subject) = ixi_subject(&sub) {
                found.push((Layout::Ixi, subject));
            } else if let Some(case) = brats_case(&sub) {
                found.push(case);
            } else if let Some(subject) = hcp_subject(&sub) {
                found.push((Layout::Hcp, subject));
            } else if ["HGG", "LGG"].contains(&folder_name(&sub).as_str()) {
                for case_dir in subfolders(&sub)? {
                    if let Some(case) = brats_case(&case_dir) {
                        found.push(case);
                    }
                }
            }
        }
    }
    let (layout, cases) = if found.is_empty() {
        let cases = plain_cases(dir)?;
        if cases.is_empty() {
            bail!(
                "{} holds no brain volumes in a known layout: expected {}, {}, {}, {} or {}",
                dir.display(),
                Layout::Brats2019.describe(),
                Layout::Brats2023.describe(),
                Layout::Hcp.describe(),
                Layout::Ixi.describe(),
                Layout::Plain.describe()
            );
        }
        (Layout::Plain, cases)
    } else {
        let layout = found[0].0;
        if let Some((other, case)) = found.iter().find(|(l, _)| *l != layout) {
            bail!(
                "{} mixes layouts: {} is {other:?} but {} is {layout:?}",
                dir.display(),
                case.name,
                found[0].1.name
            );
        }
        (layout, found.into_iter().map(|(_, c)| c).collect())
    };
    let (labelled, unlabelled) = cases.into_iter().partition(|c| c.segmentation.is_some());
    Ok(BrainSource {
        layout,
        unlabelled,
        labelled,
        templates: Vec::new(),
    })
}

/// Reads a case's volumes: the requested modalities (in order), mask and segmentation.
/// Returns the case and (file, sha256) of every file read.
pub fn load_case(
    files: &CaseFiles,
    modalities: &[Modality],
    choice: VolumeChoice,
) -> Result<(BrainCase, Vec<(String, String)>)> {
    let mut hashes = Vec::new();
    let mut read = |path: &Path| -> Result<Volume> {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        hashes.push((
            format!("{}/{}", files.name, file_name(path)),
            sha256_hex(&bytes),
        ));
        Ok(read_nifti(&path.display().to_string(), &bytes, choice)?)
    };
    let mut volumes = Vec::new();
    for modality in modalities {
        let Some(path) = files.modalities.get(modality) else {
            let have: Vec<&str> = files.modalities.keys().map(|m| m.name()).collect();
            bail!(
                "case {} has no {} scan (it has: {})",
                files.name,
                modality.name(),
                have.join(", ")
            );
        };
        volumes.push(read(path)?);
    }
    let mask = files.mask.as_deref().map(&mut read).transpose()?;
    let segmentation = files.segmentation.as_deref().map(&mut read).transpose()?;
    Ok((
        BrainCase {
            name: files.name.clone(),
            modalities: volumes,
            mask,
            segmentation,
        },
        hashes,
    ))
}

impl Modality {
    /// The modality `name` (as model.json's `brain_input.modalities` spells it).
    pub fn from_name(name: &str) -> Option<Modality> {
        Modality::value_variants()
            .iter()
            .copied()
            .find(|m| m.name() == name)
    }
}
