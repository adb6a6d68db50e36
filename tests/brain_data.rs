//! The NIfTI reader and the slice pipeline on the real scans in `../shared/data/brain`: shapes,
//! orientation agreement between the MNI152 template and a BraTS-space case, and the tumour
//! slices of TCGA-DU-7294 counted from its segmentation.
//!
//! A user's clone has no `../shared`: these tests then say so and pass, unless CI=true or
//! LRAN_REQUIRE_DATA=1, where missing data fails them.

mod common;

use std::path::{Path, PathBuf};

use lran::data::brain::{
    BrainCase, BrainInput, MaskRule, SliceConfig, SliceLabel, axial_picture, slice_case,
    slice_image, slice_upload, tumour_voxels_per_slice,
};
use lran::data::nifti::{NiftiSpec, VolumeChoice, encode_nifti, gzip, read_nifti};
use lran::data::volume::Volume;

fn brain_data() -> Option<PathBuf> {
    common::shared("data/brain")
}

fn read(dir: &Path, file: &str) -> Volume {
    let path = dir.join(file);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    read_nifti(file, &bytes, VolumeChoice::OnlyVolume).unwrap()
}

const MNI: &str = "healthy/mni152-2009a/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz";
const TCGA: &str = "tumour/TCGA-DU-7294";

#[test]
fn real_volumes_have_their_documented_shapes() {
    let Some(dir) = brain_data() else { return };
    let cases = [
        (MNI, [197, 233, 189], "u8"),
        ("healthy/colin27/ch2bet.nii.gz", [181, 217, 181], "u8"),
        // "UChar" in its name, but the NIfTI file stores i16 (values 0–255).
        (
            "healthy/itk-t1/KmeansTest_T1UCharRaw.nii.gz",
            [128, 128, 62],
            "i16",
        ),
        ("tumour/TCGA-DU-7294/t1.nii.gz", [240, 240, 155], "i16"),
        ("tumour/TCGA-DU-7294/seg.nii.gz", [240, 240, 155], ""),
        (
            "tumour/BraTS-GLI-00001-000/BraTS-GLI-00001-000-t1n.nii.gz",
            [240, 240, 155],
            "",
        ),
    ];
    for (file, dims, datatype) in cases {
        let volume = read(&dir, file);
        let mut sorted_source = volume.source_dims.clone();
        sorted_source.truncate(3);
        let mut canonical = volume.dims.to_vec();
        // Reordering permutes the axes; the voxel count and the file's dims stay.
        assert_eq!(
            sorted_source.iter().product::<usize>(),
            dims.iter().product::<usize>(),
            "{file}"
        );
        canonical.sort();
        let mut expected = dims.to_vec();
        expected.sort();
        assert_eq!(canonical, expected, "{file}");
        if !datatype.is_empty() {
            assert_eq!(volume.datatype, datatype, "{file}");
        }
        let (lo, hi) = volume.range();
        assert!(hi > lo, "{file} is constant");
        eprintln!(
            "{file}: file axes {}, RAS dims {:?}, spacing {:?} mm",
            volume.orientation.code(),
            volume.dims,
            volume.spacing
        );
    }
    // The ITK head has anisotropic 2 × 2 × 3 mm voxels.
    let itk = read(&dir, "healthy/itk-t1/KmeansTest_T1UCharRaw.nii.gz");
    let mut spacing = itk.spacing.to_vec();
    spacing.sort_by(f32::total_cmp);
    assert!(
        (spacing[0] - 2.0).abs() < 0.01 && (spacing[2] - 3.0).abs() < 0.01,
        "{spacing:?}"
    );
}

#[test]
fn tcga_du_7294_has_forty_tumour_slices() {
    let Some(dir) = brain_data() else { return };
    let segmentation = read(&dir, &format!("{TCGA}/seg.nii.gz"));
    let per_slice = tumour_voxels_per_slice(&segmentation);
    assert_eq!(
        per_slice.len(),
        155,
        "axial slices run along the 155-voxel S axis"
    );
    let tumour_slices = per_slice.iter().filter(|&&n| n >= 10).count();
    assert_eq!(
        tumour_slices, 40,
        "the data README documents 40 axial slices with >= 10 tumour voxels"
    );
    // Through the whole pipeline: every slice with >= 10 voxels that is kept is a tumour slice.
    let case = BrainCase {
        name: "TCGA-DU-7294".into(),
        modalities: vec![read(&dir, &format!("{TCGA}/t1.nii.gz"))],
        mask: None,
        segmentation: Some(segmentation),
    };
    let sliced = slice_case(&case, MaskRule::NonZero, &SliceConfig::new(64)).unwrap();
    let kept_tumour = sliced
        .slices
        .iter()
        .filter(|s| per_slice[s.index] >= 10)
        .count();
    assert_eq!(sliced.count(SliceLabel::Tumour), kept_tumour);
    let kept_between = sliced
        .slices
        .iter()
        .filter(|s| (1..10).contains(&per_slice[s.index]))
        .count();
    assert_eq!(sliced.count(SliceLabel::Excluded), kept_between);
    assert!(
        kept_tumour >= 35,
        "most tumour slices have enough brain to be kept ({kept_tumour})"
    );
    assert!(
        sliced.count(SliceLabel::Healthy) >= 20,
        "healthy slices remain for the test"
    );
    for slice in sliced
        .slices
        .iter()
        .filter(|s| s.label == SliceLabel::Tumour)
    {
        assert!(
            slice.tumour.iter().any(|&t| t),
            "slice {} lost its tumour in resampling",
            slice.index
        );
    }
}

/// Correlation of two equally sized images.
fn correlation(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (
        a.iter().map(|&v| v as f64).sum::<f64>() / n,
        b.iter().map(|&v| v as f64).sum::<f64>() / n,
    );
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (x as f64 - ma, y as f64 - mb);
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    ab / (aa * bb).sqrt()
}

/// MNI152 (stored RAS, 197×233×189) and TCGA-DU-7294 (BraTS/SRI24 space, 240×240×155) are two
/// different brains in different voxel orders: after reorientation and slicing, matching
/// slices must correlate best as they are, not flipped anterior–posterior or transposed.
#[test]
fn mni152_and_a_brats_case_come_out_the_same_way_up() {
    let Some(dir) = brain_data() else { return };
    let config = SliceConfig::new(64);
    let slices = |volume: Volume| {
        let case = BrainCase {
            name: volume.name.clone(),
            modalities: vec![volume],
            mask: None,
            segmentation: None,
        };
        slice_case(&case, MaskRule::NonZero, &config).unwrap()
    };
    let mni = slices(read(&dir, MNI));
    let tcga = slices(read(&dir, &format!("{TCGA}/t1.nii.gz")));
    let size = 64;
    let flip_rows = |image: &[f32]| -> Vec<f32> {
        (0..size * size)
            .map(|i| image[(size - 1 - i / size) * size + i % size])
            .collect()
    };
    let transpose = |image: &[f32]| -> Vec<f32> {
        (0..size * size)
            .map(|i| image[(i % size) * size + i / size])
            .collect()
    };
    let fractions = [0.3, 0.4, 0.5, 0.6, 0.7];
    let (mut same, mut flipped, mut transposed) = (0.0, 0.0, 0.0);
    for fraction in fractions {
        // Slices at the same relative height through each brain.
        let pick = |case: &lran::data::brain::SlicedCase| {
            case.slices[((case.slices.len() - 1) as f64 * fraction) as usize]
                .input
                .clone()
        };
        let (a, b) = (pick(&mni), pick(&tcga));
        let scores = (
            correlation(&a, &b),
            correlation(&a, &flip_rows(&b)),
            correlation(&a, &transpose(&b)),
        );
        eprintln!(
            "height {fraction}: as is {:.3}, flipped front-back {:.3}, transposed {:.3}",
            scores.0, scores.1, scores.2
        );
        same += scores.0 / fractions.len() as f64;
        flipped += scores.1 / fractions.len() as f64;
        transposed += scores.2 / fractions.len() as f64;
    }
    // Front and back differ less than a brain and its transpose, hence the smaller margin.
    assert!(
        same > flipped + 0.02,
        "as is {same:.3} vs flipped {flipped:.3}"
    );
    assert!(
        same > transposed + 0.1,
        "as is {same:.3} vs transposed {transposed:.3}"
    );
}

#[test]
fn every_healthy_volume_gives_brain_slices() {
    let Some(dir) = brain_data() else { return };
    let config = SliceConfig::new(64);
    for (file, mask, rule) in [
        (MNI, None, MaskRule::NonZero),
        ("healthy/colin27/ch2bet.nii.gz", None, MaskRule::NonZero),
        (
            "healthy/itk-t1/KmeansTest_T1UCharRaw.nii.gz",
            Some("healthy/itk-t1/KmeansTest_T1RawSkullStrip.nii.gz"),
            MaskRule::Given,
        ),
        // With its skull, Colin27 needs the threshold rule: it keeps the head, background out.
        ("healthy/colin27/ch2.nii.gz", None, MaskRule::Threshold(0.1)),
    ] {
        let case = BrainCase {
            name: file.into(),
            modalities: vec![read(&dir, file)],
            mask: mask.map(|m| read(&dir, m)),
            segmentation: None,
        };
        let sliced = slice_case(&case, rule, &config).unwrap();
        let kept = sliced.slices.len();
        eprintln!("{file}: {kept} of {} slices kept", sliced.total_slices);
        assert!(
            kept >= sliced.total_slices / 3 && kept < sliced.total_slices,
            "{file}: {kept} of {}",
            sliced.total_slices
        );
        assert!(
            sliced
                .slices
                .iter()
                .all(|s| s.label == SliceLabel::Unlabelled)
        );
    }
}

/// The page's path for an uploaded volume gives exactly the slices the evaluator scores for the
/// same scan (same indices, same pixels), and refuses what a brain model cannot score, by name.
#[test]
fn an_uploaded_volume_slices_as_the_evaluator_slices_it() {
    let Some(dir) = brain_data() else { return };
    let bytes = std::fs::read(dir.join(format!("{TCGA}/t1.nii.gz"))).unwrap();
    let input = BrainInput {
        modalities: vec!["t1".into()],
        slices: SliceConfig::new(64),
        mask_rule: None,
    };
    let uploaded = slice_upload("t1.nii.gz", &bytes, &input).unwrap();
    let case = BrainCase {
        name: "TCGA-DU-7294".into(),
        modalities: vec![read(&dir, &format!("{TCGA}/t1.nii.gz"))],
        mask: None,
        segmentation: Some(read(&dir, &format!("{TCGA}/seg.nii.gz"))),
    };
    let evaluated = slice_case(&case, MaskRule::NonZero, &SliceConfig::new(64)).unwrap();
    assert_eq!(uploaded.slices.len(), evaluated.slices.len());
    assert_eq!(uploaded.total_slices, 155);
    for (a, b) in uploaded.slices.iter().zip(&evaluated.slices) {
        assert_eq!(a.index, b.index);
        assert_eq!(a.input, b.input, "slice {}", a.index);
        assert_eq!(a.label, SliceLabel::Unlabelled);
    }

    let refused = |name: &str, bytes: &[u8], input: &BrainInput| -> String {
        let message = slice_upload(name, bytes, input).unwrap_err().to_string();
        assert!(message.contains(name), "{message}");
        message
    };
    let two = BrainInput {
        modalities: vec!["t1".into(), "t2".into()],
        ..input.clone()
    };
    assert!(refused("t1.nii.gz", &bytes, &two).contains("2 contrasts"));
    // An image stored as NIfTI: one axial slice.
    let flat = encode_nifti(&NiftiSpec::ras([64, 64, 1], 16), &vec![1.0; 64 * 64]);
    assert!(refused("flat.nii", &flat, &input).contains("not a brain volume"));
    // No background: every voxel non-zero.
    let noise: Vec<f64> = (0..32 * 32 * 32).map(|i| 1.0 + (i % 7) as f64).collect();
    let cube = gzip(&encode_nifti(&NiftiSpec::ras([32, 32, 32], 16), &noise));
    assert!(refused("cube.nii.gz", &cube, &input).contains("no background"));
    // A 4D series of two volumes.
    let series = NiftiSpec {
        dims: vec![16, 16, 16, 2],
        ..NiftiSpec::ras([16, 16, 16], 16)
    };
    let four_d = encode_nifti(&series, &vec![1.0; 16 * 16 * 16 * 2]);
    assert!(refused("series.nii", &four_d, &input).contains("4D"));
    // Cut short and empty.
    assert!(refused("cut.nii.gz", &bytes[..bytes.len() / 3], &input).contains("ends early"));
    assert!(refused("empty.nii", &[], &input).contains("empty"));
}

/// A visitor's 2D slice goes through the slice pipeline: a skull-stripped IXI or BraTS slice
/// comes out like the volume pipeline's slice at that height, without warnings; the same IXI
/// slice with its skull, and a picture without background, are scored with a warning.
#[test]
fn a_dropped_slice_image_is_prepared_as_training_slices_were() {
    let Some(dir) = brain_data() else { return };
    let config = SliceConfig::new(64);
    let cases = [
        (
            "healthy/ixi/IXI012-HH-1211/IXI012-HH-1211_t1.nii.gz",
            Some("healthy/ixi/IXI012-HH-1211/IXI012-HH-1211_mask.nii.gz"),
        ),
        (
            "healthy/ixi/IXI132-HH-1415/IXI132-HH-1415_t1.nii.gz",
            Some("healthy/ixi/IXI132-HH-1415/IXI132-HH-1415_mask.nii.gz"),
        ),
        (
            "tumour/brats2018/Brats18_CBICA_AQN_1/Brats18_CBICA_AQN_1_t1.nii.gz",
            None,
        ),
    ];
    for (file, mask_file) in cases {
        let volume = read(&dir, file);
        let mask = mask_file.map(|m| read(&dir, m));
        let case = BrainCase {
            name: file.into(),
            modalities: vec![volume.clone()],
            mask: mask.clone(),
            segmentation: None,
        };
        let rule = if mask.is_some() {
            MaskRule::Given
        } else {
            MaskRule::NonZero
        };
        let sliced = slice_case(&case, rule, &config).unwrap();
        for height in [0.4, 0.5, 0.6] {
            let reference = sliced
                .slices
                .iter()
                .min_by(|a, b| {
                    (a.relative_height - height)
                        .abs()
                        .total_cmp(&(b.relative_height - height).abs())
                })
                .unwrap();
            let (pixels, width, rows) = axial_picture(&volume, mask.as_ref(), reference.index);
            let prepared = slice_image(file, &pixels, width, rows, &config).unwrap();
            assert!(
                prepared.warnings.is_empty(),
                "{file} z{}: {:?}",
                reference.index,
                prepared.warnings
            );
            assert_eq!(prepared.input.len(), 64 * 64);
            let r = correlation(&prepared.input, &reference.input);
            // A single slice is framed by its own brain, a volume's by its whole brain's box:
            // lower slices come out a little larger than in training.
            assert!(
                r > 0.7,
                "{file} z{}: correlation {r:.3} with the volume pipeline's slice",
                reference.index
            );
            // The brain fills the frame as in training: its mask at model resolution agrees.
            let agree = prepared
                .brain
                .iter()
                .zip(&reference.brain)
                .filter(|(a, b)| a == b)
                .count();
            assert!(
                agree as f64 > 0.75 * 4096.0,
                "{file}: masks agree on {agree} pixels"
            );
            if mask.is_some() {
                // The same IXI slice with its skull and scalp.
                let (head, width, rows) = axial_picture(&volume, None, reference.index);
                let warned = slice_image(file, &head, width, rows, &config).unwrap();
                assert!(
                    warned.warnings.iter().any(|w| w.contains("skull")),
                    "{file} z{} with skull: no warning",
                    reference.index
                );
            }
        }
    }
    // A picture with no background: a mid-gray field with a little texture.
    let flat: Vec<u8> = (0..100 * 100).map(|i| 120 + (i % 7) as u8).collect();
    let warned = slice_image("flat.png", &flat, 100, 100, &config).unwrap();
    assert!(
        warned.warnings.iter().any(|w| w.contains("no background")),
        "{:?}",
        warned.warnings
    );
    // Black, empty and mis-sized pictures are refused by name.
    for (pixels, width, height, expected) in [
        (vec![0u8; 64], 8, 8, "black"),
        (vec![0u8; 10], 8, 8, "not a 8×8 image"),
    ] {
        let message = slice_image("bad.png", &pixels, width, height, &config)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("bad.png") && message.contains(expected),
            "{message}"
        );
    }
}
