//! The slice pipeline on phantoms.

use super::*;
use crate::data::volume::orientation_of;

/// An ellipsoidal "brain" of intensity 100 + x in a 40×48×30 grid, with a tumour ball.
fn phantom(tumour: bool) -> BrainCase {
    let dims = [40, 48, 30];
    let affine = [
        [1.0, 0.0, 0.0, 0.0],
        [0.0, 1.0, 0.0, 0.0],
        [0.0, 0.0, 1.0, 0.0],
        [0.0, 0.0, 0.0, 1.0],
    ];
    let inside = |x: usize, y: usize, z: usize| {
        let (dx, dy, dz) = (
            (x as f32 - 20.0) / 15.0,
            (y as f32 - 24.0) / 20.0,
            (z as f32 - 15.0) / 12.0,
        );
        dx * dx + dy * dy + dz * dz <= 1.0
    };
    let mut image = Vec::new();
    let mut seg = Vec::new();
    for z in 0..dims[2] {
        for y in 0..dims[1] {
            for x in 0..dims[0] {
                image.push(if inside(x, y, z) {
                    100.0 + x as f32
                } else {
                    0.0
                });
                let (dx, dy, dz) = (x as f32 - 25.0, y as f32 - 30.0, z as f32 - 15.0);
                seg.push(if tumour && dx * dx + dy * dy + dz * dz <= 9.0 {
                    1.0
                } else {
                    0.0
                });
            }
        }
    }
    let orientation = orientation_of(&affine).unwrap();
    let volume = |name: &str, data: Vec<f32>| {
        Volume::from_file_order(
            name,
            dims,
            data,
            affine,
            orientation,
            "f32".into(),
            dims.to_vec(),
            None,
        )
    };
    BrainCase {
        name: "phantom".into(),
        modalities: vec![volume("t1", image)],
        mask: None,
        segmentation: Some(volume("seg", seg)),
    }
}

#[test]
fn slices_are_normalised_cropped_and_labelled() {
    let case = phantom(true);
    let config = SliceConfig::new(32);
    let sliced = slice_case(&case, MaskRule::NonZero, &config).unwrap();
    assert_eq!(sliced.total_slices, 30);
    // The kept slices are the central ones, where the brain area is at least a quarter of
    // the largest (|dz| ≤ 12·√0.75 ≈ 10.4).
    let indices: Vec<usize> = sliced.slices.iter().map(|s| s.index).collect();
    assert_eq!(indices, (5..=25).collect::<Vec<_>>());
    for slice in &sliced.slices {
        assert_eq!(slice.input.len(), 32 * 32);
        assert!(slice.input.iter().all(|v| (-1.0..=1.0).contains(v)));
    }
    // z-scores inside the brain: the brain's mean maps to about 0 in the model range.
    let middle = &sliced.slices[10];
    let inside: Vec<f32> = middle
        .input
        .iter()
        .zip(&middle.brain)
        .filter(|(_, b)| **b)
        .map(|(v, _)| *v)
        .collect();
    let mean = inside.iter().sum::<f32>() / inside.len() as f32;
    assert!(mean.abs() < 0.1, "mean {mean}");
    // The crop fills the square along the brain's longer (front–back, 41 voxels) axis, with
    // the 5% margin, and keeps its aspect: 31 voxels left–right become about 22 pixels.
    let column = 16;
    let top = (0..32).position(|r| middle.brain[r * 32 + column]).unwrap();
    let bottom = (0..32)
        .rposition(|r| middle.brain[r * 32 + column])
        .unwrap();
    assert!(top <= 3 && bottom >= 28, "{top}..{bottom}");
    let row = 16;
    let left = (0..32).position(|c| middle.brain[row * 32 + c]).unwrap();
    let right = (0..32).rposition(|c| middle.brain[row * 32 + c]).unwrap();
    assert!((20..=24).contains(&(right + 1 - left)), "{left}..{right}");
    // Tumour ball of radius 3 around z = 15: slices 12..=18 have voxels.
    let tumour: Vec<(usize, usize)> = sliced
        .slices
        .iter()
        .filter(|s| s.tumour_voxels > 0)
        .map(|s| (s.index, s.tumour_voxels))
        .collect();
    assert_eq!(
        tumour.iter().map(|t| t.0).collect::<Vec<_>>(),
        (12..=18).collect::<Vec<_>>()
    );
    for slice in &sliced.slices {
        let expected = match slice.tumour_voxels {
            0 => SliceLabel::Healthy,
            n if n >= 10 => SliceLabel::Tumour,
            _ => SliceLabel::Excluded,
        };
        assert_eq!(slice.label, expected);
    }
    // Slices 12 and 18 hold a single voxel: excluded.
    assert_eq!(sliced.count(SliceLabel::Excluded), 2);
    assert_eq!(sliced.count(SliceLabel::Tumour), 5);
    // Radiological orientation: the tumour lies right of centre in the patient (x = 25 > 20),
    // so on the image's left half, and anterior (y = 30 > 24), so in the top half.
    let tumour_slice = sliced.slices.iter().find(|s| s.index == 15).unwrap();
    let pixels: Vec<usize> = (0..32 * 32).filter(|&i| tumour_slice.tumour[i]).collect();
    assert!(!pixels.is_empty());
    let mean_column = pixels.iter().map(|i| i % 32).sum::<usize>() as f32 / pixels.len() as f32;
    let mean_row = pixels.iter().map(|i| i / 32).sum::<usize>() as f32 / pixels.len() as f32;
    assert!(
        mean_column < 16.0 && mean_row < 16.0,
        "row {mean_row} column {mean_column}"
    );
}

#[test]
fn mismatched_and_empty_inputs_are_refused() {
    let mut case = phantom(true);
    let seg = case.segmentation.take().unwrap();
    let mut small = seg.clone();
    small.dims = [20, 48, 30];
    small.data.truncate(20 * 48 * 30);
    small.name = "seg-small".into();
    case.segmentation = Some(small);
    let message = slice_case(&case, MaskRule::NonZero, &SliceConfig::new(32))
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("seg-small") && message.contains("20×48×30"),
        "{message}"
    );
    let mut case = phantom(false);
    let mut empty = case.modalities[0].clone();
    empty.data.iter_mut().for_each(|v| *v = 0.0);
    empty.name = "empty-mask".into();
    case.mask = Some(empty);
    let message = slice_case(&case, MaskRule::Given, &SliceConfig::new(32))
        .unwrap_err()
        .to_string();
    assert!(message.contains("mask is empty"), "{message}");
    let case = phantom(false);
    assert!(
        slice_case(&case, MaskRule::Given, &SliceConfig::new(32))
            .unwrap_err()
            .to_string()
            .contains("no mask file")
    );
}

#[test]
fn resampling_averages_and_pads() {
    let image = vec![1.0; 16];
    // A window twice the image, centred: the image fills the middle half.
    let out = resample(&image, 4, 4, [-2.0, -2.0, 8.0, 8.0], 4, -1.0);
    assert_eq!(out[0], -1.0);
    assert_eq!(out[5], 1.0);
    let checker: Vec<f32> = (0..64)
        .map(|i| if (i / 8 + i % 8) % 2 == 0 { 1.0 } else { 0.0 })
        .collect();
    let out = resample(&checker, 8, 8, [0.0, 0.0, 8.0, 8.0], 2, 0.0);
    assert!(out.iter().all(|v| (v - 0.5).abs() < 1e-6), "{out:?}");
}

/// The phantom as an upload: the volume, its non-zero brain and its slices at `size`.
fn uploaded(case: BrainCase, size: usize) -> UploadedCase {
    let (sliced, brain) =
        slice_case_keeping_mask(&case, MaskRule::NonZero, &SliceConfig::new(size)).unwrap();
    UploadedCase {
        volume: case.modalities.into_iter().next().unwrap(),
        brain,
        sliced,
    }
}

#[test]
fn a_constant_residual_fills_the_scored_brain_and_nothing_else() {
    let upload = uploaded(phantom(false), 16);
    let kept = upload.sliced.slices.len();
    // Every kept slice but the first scored.
    let residuals: Vec<Option<Vec<f32>>> = (0..kept)
        .map(|k| (k > 0).then(|| vec![0.25; 16 * 16]))
        .collect();
    let map = anomaly_map(&upload, &residuals).unwrap();
    assert_eq!(map.dims, upload.volume.dims);
    assert_eq!(map.affine, upload.volume.affine);
    let scored: Vec<usize> = upload.sliced.slices[1..].iter().map(|s| s.index).collect();
    let plane = 40 * 48;
    for (i, &value) in map.data.iter().enumerate() {
        let expected = if upload.brain[i] && scored.contains(&(i / plane)) {
            0.25
        } else {
            0.0
        };
        assert!((value - expected).abs() < 1e-6, "voxel {i}: {value}");
    }
    assert!(map.data.iter().filter(|&&v| v > 0.0).count() > 1000);
}

#[test]
fn the_map_keeps_the_slices_orientation() {
    // Residual 1 on the model image's left half (the patient's right, large x) and, in a
    // second map, on its top half (anterior, large y).
    let upload = uploaded(phantom(false), 32);
    let kept = upload.sliced.slices.len();
    let half = |left: bool| -> Vec<Option<Vec<f32>>> {
        let map: Vec<f32> = (0..32 * 32)
            .map(|i| {
                let (row, column) = (i / 32, i % 32);
                let hot = if left { column < 16 } else { row < 16 };
                if hot { 1.0 } else { 0.0 }
            })
            .collect();
        vec![Some(map); kept]
    };
    let centre = upload.sliced.slices[kept / 2].index;
    let right = anomaly_map(&upload, &half(true)).unwrap();
    let anterior = anomaly_map(&upload, &half(false)).unwrap();
    // The brain is centred on x = 20, y = 24; four voxels either side are well inside.
    assert_eq!(right.at(24, 24, centre), 1.0);
    assert_eq!(right.at(16, 24, centre), 0.0);
    assert_eq!(anterior.at(20, 28, centre), 1.0);
    assert_eq!(anterior.at(20, 20, centre), 0.0);
}

#[test]
fn the_written_map_reads_back_on_the_uploads_grid() {
    use crate::data::nifti::{NiftiSpec, VolumeChoice, encode_nifti, encode_volume, read_nifti};
    // The phantom stored as DICOM tools store it (LPS), with anisotropic voxels and an offset.
    let ras = phantom(false).modalities.remove(0);
    let [nx, ny, nz] = ras.dims;
    let mut file_values = Vec::with_capacity(nx * ny * nz);
    for k in 0..nz {
        for j in 0..ny {
            for i in 0..nx {
                file_values.push(ras.at(nx - 1 - i, ny - 1 - j, k) as f64);
            }
        }
    }
    let spec = NiftiSpec {
        affine: [
            [-1.2, 0.0, 0.0, 30.0],
            [0.0, -1.0, 0.0, 20.0],
            [0.0, 0.0, 2.0, -40.0],
        ],
        ..NiftiSpec::ras([nx, ny, nz], 16)
    };
    let bytes = encode_nifti(&spec, &file_values);
    let input = BrainInput {
        modalities: vec!["t1".into()],
        slices: SliceConfig::new(16),
        mask_rule: None,
    };
    let upload = open_upload("lps.nii", &bytes, &input).unwrap();
    assert_eq!(upload.volume.orientation.code(), "LPS");
    let residuals: Vec<Option<Vec<f32>>> = upload
        .sliced
        .slices
        .iter()
        .enumerate()
        .map(|(k, _)| Some((0..256).map(|i| (i + k) as f32 / 300.0).collect()))
        .collect();
    let map = anomaly_map(&upload, &residuals).unwrap();
    let written = encode_volume(&map).unwrap();
    let back = read_nifti("map.nii", &written, VolumeChoice::OnlyVolume).unwrap();
    assert_eq!(back.source_dims, vec![nx, ny, nz]);
    assert_eq!(back.dims, upload.volume.dims);
    assert_eq!(back.orientation, upload.volume.orientation);
    for (a, b) in back
        .affine
        .iter()
        .flatten()
        .zip(upload.volume.affine.iter().flatten())
    {
        assert!(
            (a - b).abs() < 1e-5,
            "{:?} vs {:?}",
            back.affine,
            upload.volume.affine
        );
    }
    assert_eq!(back.data, map.data);
    // The map is non-zero exactly where the upload's brain is.
    let nonzero: Vec<bool> = back.data.iter().map(|&v| v > 0.0).collect();
    let kept: Vec<usize> = upload.sliced.slices.iter().map(|s| s.index).collect();
    let plane = nx * ny;
    let expected: Vec<bool> = (0..back.voxels())
        .map(|i| upload.brain[i] && kept.contains(&(i / plane)))
        .collect();
    assert_eq!(nonzero, expected);
}

#[test]
fn residuals_of_the_wrong_shape_are_refused() {
    let upload = uploaded(phantom(false), 16);
    let kept = upload.sliced.slices.len();
    let message = |residuals: Vec<Option<Vec<f32>>>| {
        anomaly_map(&upload, &residuals).unwrap_err().to_string()
    };
    assert!(message(vec![None; kept - 1]).contains("residual maps were given"));
    let mut short = vec![None; kept];
    short[3] = Some(vec![0.0; 15 * 16]);
    assert!(message(short).contains("not 16×16"));
    let mut nan = vec![None; kept];
    nan[2] = Some(vec![f32::NAN; 16 * 16]);
    assert!(message(nan).contains("non-finite"));
}
