//! Brain cases → the model's image sets: healthy subjects split by subject into training and
//! validation (with the synthetic-lesion check painted into validation slices), labelled tumour
//! cases as the test set, and each case's summary for run.json.

use std::path::PathBuf;

use anyhow::{Result, bail};
use lran::data::brain::{BrainCase, MaskRule, SliceConfig, SliceLabel, SlicedCase, slice_case};
use lran::data::lesion::{LesionConfig, insert_lesion};
use lran::data::nifti::VolumeChoice;
use lran::data::{ImageSet, Split};
use lran::protocol::SliceFacts;
use lran::rng::SplitMix64;
use serde::{Deserialize, Serialize};

use super::brain_layouts::{BrainSource, CaseFiles, Layout, Modality, detect, load_case};

/// What the report says about each case.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseSummary {
    pub name: String,
    pub role: String,
    pub dims: [usize; 3],
    pub spacing_mm: [f32; 3],
    pub file_orientation: String,
    pub slices: usize,
    pub kept: usize,
    pub healthy: usize,
    pub tumour: usize,
    pub excluded: usize,
}

pub fn summarise(case: &BrainCase, sliced: &SlicedCase, role: &str) -> CaseSummary {
    let first = &case.modalities[0];
    CaseSummary {
        name: case.name.clone(),
        role: role.to_string(),
        dims: first.dims,
        spacing_mm: first.spacing,
        file_orientation: first.orientation.code(),
        slices: sliced.total_slices,
        kept: sliced.slices.len(),
        healthy: sliced.count(SliceLabel::Healthy),
        tumour: sliced.count(SliceLabel::Tumour),
        excluded: sliced.count(SliceLabel::Excluded),
    }
}

/// Share of the healthy subjects held out for validation: 6 of the 41 shared IXI adults, enough
/// subjects for the threshold and the selection to see between-subject variation.
pub const VALIDATION_FRACTION: f64 = 0.15;

/// How a brain dataset is read and split; stored with the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BrainOptions {
    /// Healthy subjects for training and validation.
    pub healthy_dir: PathBuf,
    /// Cases with tumour segmentations for testing (`None`: the healthy folder's own labelled cases).
    pub test_dir: Option<PathBuf>,
    pub modalities: Vec<Modality>,
    pub slices: SliceConfig,
    /// Override of each case's mask rule (e.g. a threshold for heads with skull).
    pub mask_rule: Option<MaskRule>,
    /// The volume to read from 4D files.
    pub volume: Option<usize>,
    /// Paint synthetic lesions into copies of the validation slices (reported apart, as synthetic).
    pub synthetic_lesions: bool,
    /// Train on the shared data's templates too (never validated on: they are not subjects).
    #[serde(default)]
    pub with_templates: bool,
}

pub struct LoadedBrain {
    pub split: Split,
    pub slices: BrainSlices,
    pub files: Vec<(String, String)>,
    pub cases: Vec<CaseSummary>,
    pub layouts: Vec<Layout>,
}

fn slice_files(
    files: &CaseFiles,
    options: &BrainOptions,
    hashes: &mut Vec<(String, String)>,
) -> Result<(BrainCase, SlicedCase)> {
    let choice = options.volume.map(VolumeChoice::Index).unwrap_or_default();
    let (case, read) = load_case(files, &options.modalities, choice)?;
    hashes.extend(read);
    let rule = options.mask_rule.unwrap_or(files.mask_rule);
    let sliced = slice_case(&case, rule, &options.slices)?;
    if sliced.slices.is_empty() {
        bail!(
            "case {} keeps no slices (is its brain mask right?)",
            files.name
        );
    }
    Ok((case, sliced))
}

/// What the evaluation protocol knows of the validation and test slices, in their sets' order,
/// and the validation slices' brain masks at model resolution (for reconstruction quality).
#[derive(Debug, Clone, Default)]
pub struct BrainSlices {
    pub validation: Vec<SliceFacts>,
    pub validation_brains: Vec<Vec<bool>>,
    pub test: Vec<SliceFacts>,
}

/// Healthy subjects split by subject into training and validation; test slices from the
/// labelled cases (tumour vs healthy slices; excluded ones counted).
pub fn load_split(
    options: &BrainOptions,
    validation_fraction: f64,
    seed: u64,
) -> Result<LoadedBrain> {
    let healthy_source = detect(&options.healthy_dir)?;
    let test_source = match &options.test_dir {
        Some(dir) => detect(dir)?,
        None => healthy_source.clone(),
    };
    if matches!(healthy_source.layout, Layout::Brats2019 | Layout::Brats2023) {
        bail!(
            "{} is a BraTS folder: its cases hold tumours, so none can be a healthy training subject (train on HCP or other healthy scans; give BraTS as --test-dir)",
            options.healthy_dir.display()
        );
    }
    let mut healthy = healthy_source.unlabelled.clone();
    if healthy.len() < 2 {
        bail!(
            "{} holds {} healthy (unsegmented) subject(s): at least two are needed, one to train on and one to validate",
            options.healthy_dir.display(),
            healthy.len()
        );
    }
    if test_source.labelled.is_empty() {
        bail!(
            "no case with a tumour segmentation in {}: testing needs BraTS-style cases with a seg file (give --test-dir)",
            options
                .test_dir
                .as_ref()
                .unwrap_or(&options.healthy_dir)
                .display()
        );
    }
    SplitMix64::new(seed).shuffle(&mut healthy);
    let validation_count =
        ((healthy.len() as f64 * validation_fraction).round() as usize).clamp(1, healthy.len() - 1);
    let (validation_files, subjects) = healthy.split_at(validation_count);
    let mut train_files = subjects.to_vec();
    if options.with_templates {
        if healthy_source.templates.is_empty() {
            bail!(
                "--with-templates: {} holds no templates (only lran's shared data has them)",
                options.healthy_dir.display()
            );
        }
        train_files.extend(healthy_source.templates.iter().cloned());
    }

    let channels = options.modalities.len();
    let size = options.slices.image_size;
    let new_set = || ImageSet {
        image_len: channels * size * size,
        ..Default::default()
    };
    let (mut train, mut validation) = (new_set(), new_set());
    let mut files = Vec::new();
    let mut cases = Vec::new();
    let mut validation_brains = Vec::new();
    let mut validation_facts = Vec::new();
    for (group, role) in [
        (&train_files[..], "train"),
        (validation_files, "validation"),
    ] {
        for case_files in group {
            let (case, sliced) = slice_files(case_files, options, &mut files)?;
            for slice in &sliced.slices {
                let set = if role == "train" {
                    &mut train
                } else {
                    &mut validation
                };
                set.push_named(
                    slice.input.clone(),
                    false,
                    0,
                    slice_name(&case.name, slice.index),
                );
                if role == "validation" {
                    validation_brains.push(slice.brain.clone());
                    validation_facts.push(SliceFacts::of(&case.name, slice));
                }
            }
            cases.push(summarise(&case, &sliced, role));
        }
    }
    let test = labelled_test_set(&test_source, options, &mut files, &mut cases)?;
    let synthetic = options.synthetic_lesions.then(|| {
        let mut rng = SplitMix64::new(seed ^ 0x5EED_1E51_0000_0001);
        let mut set = new_set();
        for (i, brain) in validation_brains.iter().enumerate() {
            let original = validation.image(i).to_vec();
            if let Some(lesioned) = insert_lesion(
                &original,
                brain,
                channels,
                size,
                &LesionConfig::default(),
                &mut rng,
            ) {
                let name = &validation.names[i];
                set.push_named(original, false, 0, format!("{name} (untouched)"));
                set.push_named(lesioned.input, true, 1, lesioned_name(name));
            }
        }
        set
    });
    files.sort();
    files.dedup();
    let layouts = vec![healthy_source.layout, test_source.layout];
    Ok(LoadedBrain {
        split: Split {
            train,
            validation,
            test: test.images,
            synthetic,
            excluded: test.excluded,
        },
        slices: BrainSlices {
            validation: validation_facts,
            validation_brains,
            test: test.facts,
        },
        files,
        cases,
        layouts,
    })
}

/// A brain slice's name in the results files (`test_scores`, `score` rows): `<case>:z<axial>`.
pub fn slice_name(case: &str, axial: usize) -> String {
    format!("{case}:z{axial}")
}

/// The case and axial index of a name [`slice_name`] wrote, or `None` for another name.
pub fn parse_slice_name(name: &str) -> Option<(&str, usize)> {
    let (case, axial) = name.rsplit_once(":z")?;
    Some((case, axial.parse().ok()?))
}

/// The synthetic-lesion check's name for validation slice `name` with its lesion painted in
/// (the untouched copy beside it is `<name> (untouched)`).
pub fn lesioned_name(name: &str) -> String {
    format!("{name} + synthetic lesion")
}

/// Test slices of labelled cases: tumour slices anomalous, healthy slices normal, named
/// `<case>:z<axial index>`, each case's slices together and in axial order.
pub struct LabelledTestSet {
    pub images: ImageSet,
    /// Slices left out (a few tumour voxels, fewer than the threshold).
    pub excluded: usize,
    /// Per case: its name and the range of its slices in `images`.
    pub case_ranges: Vec<(String, std::ops::Range<usize>)>,
    /// Per image: what the evaluation protocol knows of its slice.
    pub facts: Vec<SliceFacts>,
}

/// Cuts every labelled case of `source` as `options` say (the slice settings, modalities and
/// mask rule a model was trained with); records each file read in `files` and each case in
/// `cases`.
pub fn labelled_test_set(
    source: &BrainSource,
    options: &BrainOptions,
    files: &mut Vec<(String, String)>,
    cases: &mut Vec<CaseSummary>,
) -> Result<LabelledTestSet> {
    let mut images = ImageSet {
        image_len: options.modalities.len() * options.slices.image_size * options.slices.image_size,
        ..Default::default()
    };
    let mut excluded = 0;
    let mut case_ranges = Vec::new();
    let mut facts = Vec::new();
    for case_files in &source.labelled {
        let (case, sliced) = slice_files(case_files, options, files)?;
        let first = images.len();
        for slice in &sliced.slices {
            let anomalous = match slice.label {
                SliceLabel::Healthy => false,
                SliceLabel::Tumour => true,
                SliceLabel::Excluded | SliceLabel::Unlabelled => {
                    excluded += 1;
                    continue;
                }
            };
            images.push_named(
                slice.input.clone(),
                anomalous,
                anomalous as u8,
                slice_name(&case.name, slice.index),
            );
            facts.push(SliceFacts::of(&case.name, slice));
        }
        case_ranges.push((case.name.clone(), first..images.len()));
        cases.push(summarise(&case, &sliced, "test"));
    }
    Ok(LabelledTestSet {
        images,
        excluded,
        case_ranges,
        facts,
    })
}
