//! The data layer end to end through the command line, on files the tests write in each
//! layout's exact on-disk format (BraTS 2019, BraTS 2023, HCP, IXI, CIFAR-10 binary batches, an
//! image folder), and on the real data in ../shared/data when it is there.

mod common;

use common::brain::{
    TUMOURS, expected_tumour_slices, lps, phantom, write_brats_case, write_brats2019, write_hcp,
    write_ixi_subject, write_nii_gz,
};
use common::{argv, argv_with, fails_with, scratch, shared_data as shared, succeeds, xtask};

use lran::data::cifar::{self, encode_batch};
use lran::data::idx::LabelledImages;
use lran::data::nifti::{NiftiSpec, encode_nifti, gzip};

/// IXI subjects as the shared data stores them (skull on, a mask beside each T1, u8 with
/// `scl_slope`, a header extension before the voxels, axes PSR) are found as IXI, masked by their
/// mask files rather than by non-zero voxels, and train a model tested on BraTS cases.
#[test]
fn ixi_subjects_are_masked_by_their_mask_files_and_train() {
    let dir = scratch("data", "ixi");
    let ids = ["IXI012-HH-1211", "IXI132-HH-1415", "IXI162-HH-1548"];
    let mask_voxels: Vec<usize> = ids
        .iter()
        .enumerate()
        .map(|(s, id)| write_ixi_subject(&dir.join("ixi"), id, s as u32))
        .collect();
    write_brats2019(&dir.join("brats"));
    let inspect = succeeds(&["data", "inspect", "ixi", "--size", "32"], &dir);
    assert!(
        inspect.contains("IXI (")
            && inspect.contains("0 case(s) with a tumour segmentation, 3 without"),
        "{inspect}"
    );
    assert!(inspect.contains("file axes PSR"), "{inspect}");
    // scl_slope 2 undone: the skull's stored 125 reads as 250.
    assert!(inspect.contains("intensities 0..250"), "{inspect}");
    for voxels in &mask_voxels {
        // The brain is the mask, not every non-zero voxel (the skull is non-zero too).
        assert!(
            inspect.contains(&format!("brain (Given): {voxels} voxels")),
            "expected a {voxels}-voxel brain: {inspect}"
        );
    }
    // One subject folder on its own is an IXI case too.
    let one = succeeds(
        &[
            "data",
            "inspect",
            &format!("ixi/{}", ids[0]),
            "--size",
            "32",
        ],
        &dir,
    );
    assert!(one.contains("IXI ("), "{one}");

    let output = succeeds(
        &argv(
            "train --dataset brain --data-dir ixi --test-dir brats --preset tiny --image-size 32 --epochs 1 --batch-size 16 --backend cpu --run-name ixi",
        ),
        &dir,
    );
    assert!(output.contains("brain:ixi+brats2019:t1"), "{output}");
}

/// HCP healthy subjects → BraTS 2019 test cases through train and eval: the subject split, the
/// tumour/healthy/excluded slice counts and the synthetic check land in the results file.
#[test]
fn brain_training_from_hcp_to_brats_2019() {
    let dir = scratch("data", "hcp-brats");
    write_hcp(&dir.join("hcp"), 3);
    write_brats2019(&dir.join("brats"));
    let inspect = succeeds(&argv("data inspect brats --size 32 --out brats.png"), &dir);
    assert!(
        inspect.contains("BraTS 2019") && inspect.contains("2 case(s) with a tumour segmentation"),
        "{inspect}"
    );
    assert!(inspect.contains("file axes LPS"), "{inspect}");
    assert!(dir.join("brats.png").is_file());
    let hcp = succeeds(
        &["data", "inspect", "hcp", "--size", "32", "--out", "hcp.png"],
        &dir,
    );
    assert!(hcp.contains("HCP") && hcp.contains("3 without"), "{hcp}");

    let train = argv(
        "train --dataset brain --data-dir hcp --test-dir brats --preset tiny --image-size 32 --modalities t1,t2 --epochs 1 --batch-size 16 --backend cpu --run-name brain",
    );
    let output = succeeds(&train, &dir);
    assert!(output.contains("brain:hcp+brats2019:t1+t2"), "{output}");
    let output = succeeds(&["eval", "--run", "brain", "--backend", "cpu"], &dir);
    assert!(output.contains("SYNTHETIC"), "{output}");
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("runs/brain/eval.json")).unwrap())
            .unwrap();
    let cases = results["cases"].as_array().unwrap();
    let roles: Vec<&str> = cases.iter().map(|c| c["role"].as_str().unwrap()).collect();
    assert_eq!(
        roles.iter().filter(|&&r| r == "train").count(),
        2,
        "{roles:?}"
    );
    assert_eq!(
        roles.iter().filter(|&&r| r == "validation").count(),
        1,
        "split by subject: {roles:?}"
    );
    assert_eq!(roles.iter().filter(|&&r| r == "test").count(), 2);
    let (mut tumour, mut excluded) = (0, 0);
    for t in TUMOURS {
        let (over, between) = expected_tumour_slices(t, 10);
        tumour += over;
        excluded += between;
    }
    let test_cases: Vec<&serde_json::Value> =
        cases.iter().filter(|c| c["role"] == "test").collect();
    let counted: u64 = test_cases
        .iter()
        .map(|c| c["tumour"].as_u64().unwrap())
        .sum();
    assert_eq!(
        counted as usize, tumour,
        "tumour slices (all kept: the balls sit mid-brain)"
    );
    assert_eq!(
        results["excluded_test_images"].as_u64().unwrap() as usize,
        excluded
    );
    assert_eq!(results["test_anomalous"].as_u64().unwrap() as usize, tumour);
    let scores = results["test_scores"].as_array().unwrap();
    assert_eq!(
        scores.len(),
        results["test_images"].as_u64().unwrap() as usize
    );
    assert!(
        scores[0]["name"]
            .as_str()
            .unwrap()
            .starts_with("BraTS19_TEST_")
    );
    assert!(
        results["synthetic"]["note"]
            .as_str()
            .unwrap()
            .contains("SYNTHETIC")
    );
    assert_eq!(
        results["data"]["brain"]["modalities"],
        serde_json::json!(["t1", "t2"])
    );

    // Export carries the slicing settings for the page.
    succeeds(&["export", "--run", "brain", "--out", "models"], &dir);
    let card: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("models/brain/model.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(card["brain_input"]["slices"]["tumour_min_voxels"], 10);
    assert_eq!(card["model"]["channels"], 2);

    // A modality the cases lack, and too few healthy subjects, are refused with reasons.
    fails_with(
        &argv(
            "train --dataset brain --data-dir hcp --test-dir brats --modalities flair --epochs 1",
        ),
        &dir,
        &["has no flair"],
    );
    let one = dir.join("one");
    write_hcp(&one, 1);
    fails_with(
        &argv("train --dataset brain --data-dir one --test-dir brats --epochs 1"),
        &dir,
        &["at least two"],
    );
}

#[test]
fn brats_2023_cases_and_plain_folders_are_detected() {
    let dir = scratch("data", "brats2023");
    let case = "BraTS-GLI-00042-000";
    let (image, seg) = phantom(3, Some(TUMOURS[0]));
    write_brats_case(
        &dir.join("brats23"),
        case,
        "-",
        ["t1n", "t1c", "t2w", "t2f"],
        &image,
        &seg,
    );
    let output = succeeds(
        &argv("data inspect brats23 --size 32 --modality flair --out b.png"),
        &dir,
    );
    assert!(output.contains("BraTS 2023"), "{output}");
    assert!(
        output.contains(&format!("flair={case}-t2f.nii.gz")),
        "{output}"
    );
    let (over, between) = expected_tumour_slices(TUMOURS[0], 10);
    assert!(
        output.contains(&format!("{over} tumour"))
            && output.contains(&format!("{between} excluded")),
        "{output}"
    );
    let sheet = image::open(dir.join("b.png")).unwrap();
    assert!(sheet.width() > 32 && sheet.height() > 32);

    // A plain folder: volumes with optional <name>_mask and <name>_seg companions.
    write_nii_gz(&dir.join("plain/subject-a.nii.gz"), &lps(16), &image);
    write_nii_gz(&dir.join("plain/subject-a_seg.nii.gz"), &lps(2), &seg);
    let (healthy, _) = phantom(4, None);
    write_nii_gz(&dir.join("plain/subject-b.nii.gz"), &lps(16), &healthy);
    let mask: Vec<f64> = healthy
        .iter()
        .map(|&v| if v > 0.0 { 1.0 } else { 0.0 })
        .collect();
    write_nii_gz(&dir.join("plain/subject-b_mask.nii.gz"), &lps(2), &mask);
    let output = succeeds(
        &["data", "inspect", "plain", "--size", "32", "--out", "p.png"],
        &dir,
    );
    assert!(
        output.contains("plain folder")
            && output.contains("1 case(s) with a tumour segmentation, 1 without"),
        "{output}"
    );
    assert!(
        output.contains("brain mask: subject-b_mask.nii.gz"),
        "{output}"
    );
}

#[test]
fn bad_volumes_are_refused_by_name() {
    let dir = scratch("data", "bad-volumes");
    let (image, seg) = phantom(1, Some(TUMOURS[0]));
    let good = gzip(&encode_nifti(&lps(4), &image));
    std::fs::write(dir.join("cut.nii.gz"), &good[..good.len() / 2]).unwrap();
    fails_with(
        &["data", "inspect", "cut.nii.gz"],
        &dir,
        &["cut.nii.gz", "gzip stream ends early"],
    );
    std::fs::write(dir.join("text.nii"), b"this is not a scan, only some words padded out to more than three hundred and fifty bytes; ".repeat(5)).unwrap();
    fails_with(
        &["data", "inspect", "text.nii"],
        &dir,
        &["text.nii", "not a NIfTI-1 file"],
    );
    let four_d = NiftiSpec {
        dims: vec![48, 56, 40, 2],
        ..lps(4)
    };
    std::fs::write(
        dir.join("fmri.nii"),
        encode_nifti(&four_d, &[image.clone(), image.clone()].concat()),
    )
    .unwrap();
    fails_with(
        &["data", "inspect", "fmri.nii"],
        &dir,
        &["fmri.nii", "4D", "2 volumes"],
    );
    succeeds(
        &[
            "data", "inspect", "fmri.nii", "--volume", "1", "--size", "32", "--out", "f.png",
        ],
        &dir,
    );
    let mut nan = image.clone();
    nan[5000] = f64::NAN;
    std::fs::write(dir.join("nan.nii"), encode_nifti(&lps(16), &nan)).unwrap();
    fails_with(&["data", "inspect", "nan.nii"], &dir, &["nan.nii", "NaN"]);
    // A case whose segmentation has another shape; a case whose mask is empty.
    let case = dir.join("brats/BraTS19_X_1");
    write_nii_gz(&case.join("BraTS19_X_1_t1.nii.gz"), &lps(4), &image);
    let small = NiftiSpec {
        dims: vec![24, 56, 40],
        ..lps(2)
    };
    write_nii_gz(
        &case.join("BraTS19_X_1_seg.nii.gz"),
        &small,
        &seg[..24 * 56 * 40],
    );
    fails_with(
        &["data", "inspect", "brats", "--size", "32"],
        &dir,
        &[
            "cannot be sliced",
            "BraTS19_X_1_seg.nii.gz",
            "must share one voxel grid",
        ],
    );
    let hcp = dir.join("hcp");
    write_hcp(&hcp, 2);
    write_nii_gz(
        &hcp.join("100206/T1w/brainmask_fs.nii.gz"),
        &lps(2),
        &vec![0.0; image.len()],
    );
    fails_with(
        &argv("train --dataset brain --data-dir hcp --test-dir brats --epochs 1"),
        &dir,
        &["mask is empty"],
    );
    // 1000³ voxels claimed by a 400-byte file: refused before allocating.
    let mut huge = encode_nifti(&NiftiSpec::ras([4, 4, 4], 2), &[0.0; 64]);
    for axis in 0..3 {
        huge[42 + 2 * axis..44 + 2 * axis].copy_from_slice(&1000i16.to_le_bytes());
    }
    std::fs::write(dir.join("huge.nii"), &huge).unwrap();
    fails_with(
        &["data", "inspect", "huge.nii"],
        &dir,
        &["huge.nii", "larger than accepted"],
    );
}

fn rgb_images(count: usize, seed: u8) -> LabelledImages {
    let pixels = (0..count * 3072)
        .map(|i| {
            let (image, within) = (i / 3072, i % 3072);
            let (channel, pixel) = (within / 1024, within % 1024);
            let class = (image % 10) as u8;
            ((pixel % 32) as u8)
                .wrapping_mul(class + 1)
                .wrapping_add(channel as u8 * 40)
                .wrapping_add(seed)
        })
        .collect();
    LabelledImages {
        width: 32,
        height: 32,
        channels: 3,
        pixels,
        labels: (0..count).map(|i| (i % 10) as u8).collect(),
    }
}

#[test]
fn cifar10_binary_batches_train_under_both_protocols() {
    let dir = scratch("data", "cifar");
    let data = dir.join("cifar-10-batches-bin");
    std::fs::create_dir_all(&data).unwrap();
    for (n, name) in [
        "data_batch_1.bin",
        "data_batch_2.bin",
        "data_batch_3.bin",
        "data_batch_4.bin",
        "data_batch_5.bin",
    ]
    .iter()
    .enumerate()
    {
        std::fs::write(data.join(name), encode_batch(&rgb_images(40, n as u8))).unwrap();
    }
    std::fs::write(
        data.join("test_batch.bin"),
        encode_batch(&rgb_images(50, 99)),
    )
    .unwrap();
    let output = succeeds(&["data", "inspect", ".", "--out", "c.png"], &dir);
    assert!(
        output.contains("CIFAR-10") && output.contains("class 3 (cat): 20"),
        "{output}"
    );
    let common = argv(
        "train --dataset cifar10 --data-dir . --preset tiny --epochs 1 --batch-size 8 --backend cpu",
    );
    let mut one_class = common.to_vec();
    one_class.extend(["--normal-class", "3", "--run-name", "one"]);
    let output = succeeds(&one_class, &dir);
    // 200 training images, 20 of class 3, 2 held out for validation.
    assert!(
        output.contains("(18 normal train, 2 validation, 50 test images"),
        "{output}"
    );
    let mut leave_one_out = common.to_vec();
    leave_one_out.extend([
        "--normal-class",
        "3",
        "--protocol",
        "leave-one-out",
        "--run-name",
        "loo",
    ]);
    let output = succeeds(&leave_one_out, &dir);
    assert!(
        output.contains("(162 normal train, 18 validation, 50 test images"),
        "{output}"
    );
    succeeds(&["eval", "--run", "loo", "--backend", "cpu"], &dir);
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("runs/loo/eval.json")).unwrap())
            .unwrap();
    assert_eq!(
        results["test_anomalous"], 5,
        "leave-one-out: only class 3 is anomalous"
    );
    assert_eq!(results["config"]["model"]["channels"], 3);
    // A truncated batch is named.
    let bytes = std::fs::read(data.join("data_batch_2.bin")).unwrap();
    std::fs::write(data.join("data_batch_2.bin"), &bytes[..bytes.len() - 100]).unwrap();
    fails_with(&one_class, &dir, &["data_batch_2.bin", "3073-byte"]);
    std::fs::remove_file(data.join("data_batch_5.bin")).unwrap();
    fails_with(&one_class, &dir, &["lacks data_batch_5.bin"]);
    assert_eq!(cifar::CLASSES[3], "cat");
}

#[test]
fn an_image_folder_trains_and_bad_images_are_named() {
    let dir = scratch("data", "folder");
    for (folder, count, bright) in [("normal", 30, false), ("anomalous", 6, true)] {
        std::fs::create_dir_all(dir.join("images").join(folder)).unwrap();
        for i in 0..count {
            let image = image::RgbImage::from_fn(40, 30, |x, y| {
                let v = if bright {
                    250
                } else {
                    ((x * 3 + y * 5 + i * 7) % 120) as u8
                };
                image::Rgb([v, v / 2, 255 - v])
            });
            let ext = if i % 2 == 0 { "png" } else { "jpg" };
            image
                .save(dir.join(format!("images/{folder}/{i:03}.{ext}")))
                .unwrap();
        }
    }
    let args = argv(
        "train --dataset folder --data-dir images --channels 3 --preset tiny --epochs 1 --batch-size 8 --backend cpu --run-name f",
    );
    let output = succeeds(&args, &dir);
    // 30 normal: 6 test, 2 of the other 24 for validation; plus 6 anomalous test images.
    assert!(
        output.contains("(22 normal train, 2 validation, 12 test images"),
        "{output}"
    );
    std::fs::write(
        dir.join("images/anomalous/broken.png"),
        b"\x89PNG\r\n\x1a\n cut short",
    )
    .unwrap();
    fails_with(&args, &dir, &["broken.png"]);
    fails_with(
        &argv("train --dataset folder --data-dir nowhere --epochs 1"),
        &dir,
        &["nowhere", "does not exist"],
    );
}

/// The real data: the shared layout is recognised, its contact sheets drawn, and the TCGA case's
/// tumour slices counted from its segmentation; Fashion-MNIST loads from its IDX files.
#[test]
fn the_shared_data_inspects_and_trains() {
    let Some(brain) = shared("brain") else { return };
    let dir = scratch("data", "shared");
    let output = succeeds(
        &argv_with("data inspect {} --out tcga.png", &[brain.to_str().unwrap()]),
        &dir,
    );
    assert!(output.contains("lran's shared brain data"), "{output}");
    assert!(
        output.contains("case TCGA-DU-7294") && output.contains("40 hold ≥ 10"),
        "{output}"
    );
    for case in ["mni152-2009a", "colin27", "itk-t1"] {
        assert!(output.contains(&format!("case {case}")), "{output}");
    }
    assert!(dir.join("tcga.png").is_file());
    let mni = brain.join("healthy/mni152-2009a/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz");
    let output = succeeds(
        &["data", "inspect", mni.to_str().unwrap(), "--out", "mni.png"],
        &dir,
    );
    assert!(
        output.contains("197×233×189 u8") && output.contains("file axes RAS"),
        "{output}"
    );

    let train = argv_with(
        "train --dataset brain --data-dir {} --preset tiny --image-size 32 --epochs 1 --batch-size 32 --backend cpu --run-name shared-brain --no-test-auc --max-train-images 64",
        &[brain.to_str().unwrap()],
    );
    let output = succeeds(&train, &dir);
    assert!(output.contains("brain:shared:t1"), "{output}");
    let info: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("runs/shared-brain/run.json")).unwrap(),
    )
    .unwrap();
    // The default experiment: IXI subjects split by subject (35 train, 6 validation), every
    // segmented tumour case tested, the templates left out.
    let cases = info["cases"].as_array().unwrap();
    let role = |r: &str| -> Vec<&str> {
        cases
            .iter()
            .filter(|c| c["role"] == r)
            .map(|c| c["name"].as_str().unwrap())
            .collect()
    };
    let (train_cases, validation, test) = (role("train"), role("validation"), role("test"));
    assert_eq!((train_cases.len(), validation.len()), (35, 6), "{cases:?}");
    assert!(
        train_cases
            .iter()
            .chain(&validation)
            .all(|c| c.starts_with("IXI")),
        "{cases:?}"
    );
    assert!(validation.iter().all(|v| !train_cases.contains(v)));
    assert_eq!(test.len(), 11, "{test:?}");
    assert_eq!(
        test.iter().filter(|c| c.starts_with("Brats18_")).count(),
        10
    );
    let tcga = cases.iter().find(|c| c["name"] == "TCGA-DU-7294").unwrap();
    assert!(tcga["tumour"].as_u64().unwrap() >= 35, "{tcga}");
    for template in ["mni152-2009a", "colin27", "itk-t1"] {
        assert!(!cases.iter().any(|c| c["name"] == template), "{template}");
    }
    // --with-templates trains on them too, never validates on them.
    let mut with_templates: Vec<&str> = train
        .iter()
        .map(|a| {
            if a == "shared-brain" {
                "shared-templates"
            } else {
                a.as_str()
            }
        })
        .collect();
    with_templates.push("--with-templates");
    succeeds(&with_templates, &dir);
    let info: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("runs/shared-templates/run.json")).unwrap(),
    )
    .unwrap();
    for template in ["mni152-2009a", "colin27", "itk-t1"] {
        let case = info["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == template)
            .unwrap_or_else(|| panic!("{template} not trained on"));
        assert_eq!(case["role"], "train");
    }

    if let Some(fashion) = shared("fashion-mnist") {
        let args = argv_with(
            "train --dataset fashion-mnist --data-dir {} --normal-class 7 --preset tiny --epochs 1 --max-train-images 64 --batch-size 32 --backend cpu --no-test-auc --run-name fashion",
            &[fashion.to_str().unwrap()],
        );
        let output = succeeds(&args, &dir);
        assert!(
            output.contains("fashion-mnist") && output.contains("10000 test images"),
            "{output}"
        );
    }
}

/// BraTS 2018 cases as the shared data holds them: `_t1`, `_flair` and `_seg` only. They are
/// detected as BraTS cases, tested on with the modalities they have, and a modality they lack
/// is refused by name.
#[test]
fn brats_cases_with_only_some_modalities_are_detected_and_tested() {
    let dir = scratch("data", "brats-partial");
    write_hcp(&dir.join("hcp"), 3);
    for (n, tumour) in TUMOURS.iter().enumerate() {
        let (image, seg) = phantom(20 + n as u32, Some(*tumour));
        let case = format!("Brats18_TEST_{n}_1");
        for suffix in ["t1", "flair"] {
            write_nii_gz(
                &dir.join(format!("brats/{case}/{case}_{suffix}.nii.gz")),
                &lps(16),
                &image,
            );
        }
        write_nii_gz(
            &dir.join(format!("brats/{case}/{case}_seg.nii.gz")),
            &lps(2),
            &seg,
        );
    }
    let output = succeeds(&["data", "inspect", "brats", "--out", "sheet.png"], &dir);
    assert!(output.contains("BraTS 2019"), "{output}");
    assert!(
        output.contains("case Brats18_TEST_0_1: t1=Brats18_TEST_0_1_t1.nii.gz flair=Brats18_TEST_0_1_flair.nii.gz"),
        "{output}"
    );
    let train = |modalities: &str, run: &str| {
        xtask(
            &argv_with(
                "train --dataset brain --data-dir hcp --test-dir brats --modalities {} --preset tiny --image-size 32 --epochs 1 --batch-size 16 --backend cpu --run-name {}",
                &[modalities, run],
            ),
            &dir,
        )
    };
    let output = train("t1", "partial-t1");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let info: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("runs/partial-t1/run.json")).unwrap(),
    )
    .unwrap();
    let tested: Vec<&str> = info["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["role"] == "test")
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(tested, ["Brats18_TEST_0_1", "Brats18_TEST_1_1"]);
    // The HCP phantoms have no FLAIR; the BraTS cases no T2.
    let output = train("t2", "partial-t2");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("Brats18_TEST_0_1 has no t2 scan (it has: t1, flair)"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
