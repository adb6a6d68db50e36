//! Brain volumes for the command-line tests, written in the exact on-disk formats: a head
//! phantom (with an optional tumour ball) saved as HCP subjects and BraTS 2019 cases.

use std::path::Path;

use lran::data::nifti::{NiftiSpec, VolumeChoice, encode_nifti, gzip, read_nifti};
use lran::data::volume::Volume;

pub const DIMS: [usize; 3] = [48, 56, 40];

/// The NIfTI file `dir/name`, read (a test failure naming it otherwise).
pub fn read_volume(dir: &Path, name: &str) -> Volume {
    let path = dir.join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    read_nifti(name, &bytes, VolumeChoice::OnlyVolume)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A head phantom in LPS voxel order (as BraTS and ITK store scans): an ellipsoidal brain with
/// smooth texture, zero outside; `tumour` adds a bright ball (and returns its segmentation).
/// Returns file-order values for the image and the segmentation.
pub fn phantom(seed: u32, tumour: Option<(f64, f64, f64, f64)>) -> (Vec<f64>, Vec<f64>) {
    let [nx, ny, nz] = DIMS;
    let mut image = Vec::with_capacity(nx * ny * nz);
    let mut seg = Vec::with_capacity(nx * ny * nz);
    let phase = seed as f64 * 0.7;
    for k in 0..nz {
        for j in 0..ny {
            for i in 0..nx {
                // LPS file order: i runs to the left, j to the back; convert to RAS for geometry.
                let (x, y, z) = ((nx - 1 - i) as f64, (ny - 1 - j) as f64, k as f64);
                let (dx, dy, dz) = ((x - 23.5) / 18.0, (y - 27.5) / 23.0, (z - 19.5) / 16.0);
                let inside = dx * dx + dy * dy + dz * dz <= 1.0;
                let mut value = if inside {
                    300.0 + 60.0 * (0.3 * x + phase).sin() * (0.25 * y).cos() + 2.0 * z
                } else {
                    0.0
                };
                let mut label = 0.0;
                if let Some((tx, ty, tz, r)) = tumour {
                    let d = ((x - tx).powi(2) + (y - ty).powi(2) + (z - tz).powi(2)).sqrt();
                    if inside && d <= r {
                        value = 700.0;
                        label = if d <= r * 0.6 { 4.0 } else { 2.0 };
                    }
                }
                image.push(value);
                seg.push(label);
            }
        }
    }
    (image, seg)
}

/// LPS orientation, 1 mm: x and y axes reversed, as BraTS files are stored.
pub fn lps(datatype: i16) -> NiftiSpec {
    NiftiSpec {
        affine: [
            [-1.0, 0.0, 0.0, 120.0],
            [0.0, -1.0, 0.0, 120.0],
            [0.0, 0.0, 1.0, -60.0],
        ],
        ..NiftiSpec::ras(DIMS, datatype)
    }
}

pub fn write_nii_gz(path: &Path, spec: &NiftiSpec, values: &[f64]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, gzip(&encode_nifti(spec, values))).unwrap();
}

/// Tumour slices the phantom's ball gives: axial z with at least `min` voxels of the ball.
pub fn expected_tumour_slices(tumour: (f64, f64, f64, f64), min: usize) -> (usize, usize) {
    let (_, seg) = phantom(0, Some(tumour));
    let plane = DIMS[0] * DIMS[1];
    let counts: Vec<usize> = seg
        .chunks(plane)
        .map(|s| s.iter().filter(|&&v| v > 0.0).count())
        .collect();
    (
        counts.iter().filter(|&&n| n >= min).count(),
        counts.iter().filter(|&&n| n > 0 && n < min).count(),
    )
}

pub const TUMOURS: [(f64, f64, f64, f64); 2] = [(30.0, 34.0, 19.0, 6.0), (16.0, 20.0, 22.0, 5.0)];

/// One BraTS case folder: `<case>/<case><separator><suffix>.nii.gz` for each image suffix (the
/// same image under each), and the segmentation.
pub fn write_brats_case(
    folder: &Path,
    case: &str,
    separator: &str,
    suffixes: [&str; 4],
    image: &[f64],
    seg: &[f64],
) {
    for suffix in suffixes {
        write_nii_gz(
            &folder.join(format!("{case}/{case}{separator}{suffix}.nii.gz")),
            &lps(4),
            image,
        );
    }
    write_nii_gz(
        &folder.join(format!("{case}/{case}{separator}seg.nii.gz")),
        &lps(2),
        seg,
    );
}

pub fn write_brats2019(root: &Path) {
    for (n, tumour) in TUMOURS.iter().enumerate() {
        let (image, seg) = phantom(10 + n as u32, Some(*tumour));
        write_brats_case(
            &root.join("HGG"),
            &format!("BraTS19_TEST_{n:03}_1"),
            "_",
            ["t1", "t1ce", "t2", "flair"],
            &image,
            &seg,
        );
    }
}

pub fn write_hcp(root: &Path, subjects: u32) {
    for s in 0..subjects {
        let (image, _) = phantom(s, None);
        let subject = format!("{}", 100206 + s * 101);
        // HCP stores float32, RAS-ish (here LPS with a qform-less sform) brain-extracted volumes.
        write_nii_gz(
            &root.join(format!("{subject}/T1w/T1w_acpc_dc_restore_brain.nii.gz")),
            &lps(16),
            &image,
        );
        write_nii_gz(
            &root.join(format!("{subject}/T1w/T2w_acpc_dc_restore_brain.nii.gz")),
            &lps(16),
            &image,
        );
    }
}

/// `nifti` (a single-file NIfTI-1 from [`encode_nifti`], little-endian) with a header extension
/// holding `payload` between the header and the voxels, as scanner software writes them: the
/// extension flag set and `vox_offset` moved past it.
pub fn with_extension(nifti: &[u8], payload: &[u8]) -> Vec<u8> {
    let esize = (8 + payload.len()).div_ceil(16) * 16;
    let mut out = nifti[..348].to_vec();
    out[108..112].copy_from_slice(&((352 + esize) as f32).to_le_bytes());
    out.extend([1, 0, 0, 0]);
    out.extend((esize as i32).to_le_bytes());
    out.extend(6i32.to_le_bytes()); // ecode 6: a comment
    out.extend(payload);
    out.resize(352 + esize, 0);
    out.extend(&nifti[352..]);
    out
}

/// The RAS size, in 2 mm voxels, of the IXI phantom's head.
pub const IXI_DIMS: [usize; 3] = [24, 28, 24];

/// An IXI subject as the shared data stores one: `<root>/<id>/<id>_t1.nii.gz`, a head (a
/// textured brain inside a bright skull shell) as u8 with `scl_slope` 2 at 2 mm, file axes PSR,
/// a header extension moving the voxels to byte 2912; and `<id>_mask.nii.gz`, its brain mask.
/// Returns the mask's voxel count.
pub fn write_ixi_subject(root: &Path, id: &str, seed: u32) -> usize {
    let [nx, ny, nz] = IXI_DIMS;
    let centre = |n: usize| (n as f64 - 1.0) / 2.0;
    let (mut head, mut mask) = (Vec::new(), Vec::new());
    let phase = seed as f64 * 0.9;
    // File order PSR, first axis fastest: i runs posterior, j superior, k right.
    for k in 0..nx {
        for j in 0..nz {
            for i in 0..ny {
                let (x, y, z) = (k as f64, (ny - 1 - i) as f64, j as f64);
                let r = ((x - centre(nx)) / 8.0).powi(2)
                    + ((y - centre(ny)) / 10.0).powi(2)
                    + ((z - centre(nz)) / 8.0).powi(2);
                let (value, brain) = if r <= 1.0 {
                    (
                        70.0 + 20.0 * (0.6 * x + phase).sin() * (0.5 * y).cos() + z,
                        1.0,
                    )
                } else if r <= 1.5 {
                    (250.0, 0.0) // skull: bright, outside the mask
                } else {
                    (0.0, 0.0)
                };
                // Stored as u8 with scl_slope 2: the reader must scale back.
                head.push((value / 2.0f64).round());
                mask.push(brain);
            }
        }
    }
    let spec = |datatype: i16, slope: f32| NiftiSpec {
        dims: vec![ny, nz, nx],
        affine: [
            [0.0, 0.0, 2.0, -24.0],
            [-2.0, 0.0, 0.0, 28.0],
            [0.0, 2.0, 0.0, -24.0],
        ],
        scl_slope: slope,
        ..NiftiSpec::ras([ny, nz, nx], datatype)
    };
    let dir = root.join(id);
    std::fs::create_dir_all(&dir).unwrap();
    let t1 = with_extension(&encode_nifti(&spec(2, 2.0), &head), &[b'x'; 2540]);
    std::fs::write(dir.join(format!("{id}_t1.nii.gz")), gzip(&t1)).unwrap();
    write_nii_gz(&dir.join(format!("{id}_mask.nii.gz")), &spec(2, 1.0), &mask);
    mask.iter().filter(|&&m| m > 0.0).count()
}
