//! A small synthetic skull-stripped head, for warming up the page's volume path before a
//! visitor's first volume arrives.
//!
//! Why: Chromium runs WebAssembly first in its baseline compiler and optimises a function only
//! once it has run a while. Without a viewer, the page's first volume took about twice as long
//! as the next ones (results/browser/viewer/shipped-b3921f2-phases.json, "scores only"), and
//! little more than they with Chromium's optimising compiler forced from the start
//! (shipped-optimised-at-once.json there). Reading, slicing, scoring and mapping
//! this head once while the model loads runs every function a volume needs.

use crate::data::nifti::{NiftiSpec, encode_nifti, gzip};

/// How often the page's CPU path reads, scores and maps the head while a model loads. Chromium
/// optimises a WebAssembly function only once it has run a while, and one pass left the first
/// real volume read and scored in good part by the baseline compiler; the page's warm-up and its
/// first volumes after one pass and after three are in results/browser/viewer/warm-up-1-pass.json
/// and warm-up-3-passes.json (their README compares them).
pub const WARM_UP_PASSES: usize = 3;

/// The head's voxels (x, y, z): a third of a BraTS volume's side, enough axial slices for more
/// than one of the page's batches of slices to be kept.
pub const WARM_UP_DIMS: [usize; 3] = [80, 80, 52];

/// A `.nii.gz` (int16, 1 mm RAS voxels) of [`WARM_UP_DIMS`]: an ellipsoidal brain on a zero
/// background (what the page's brain models take), its intensity varying smoothly inside so
/// that normalisation, resampling and the network see a spread of values.
pub fn warm_up_volume() -> Vec<u8> {
    let [nx, ny, nz] = WARM_UP_DIMS;
    let centre = |n: usize| (n as f64 - 1.0) / 2.0;
    let (cx, cy, cz) = (centre(nx), centre(ny), centre(nz));
    let (rx, ry, rz) = (0.42 * nx as f64, 0.46 * ny as f64, 0.48 * nz as f64);
    let mut values = Vec::with_capacity(nx * ny * nz);
    for z in 0..nz {
        for y in 0..ny {
            for x in 0..nx {
                let (dx, dy, dz) = (
                    (x as f64 - cx) / rx,
                    (y as f64 - cy) / ry,
                    (z as f64 - cz) / rz,
                );
                let radius = (dx * dx + dy * dy + dz * dz).sqrt();
                let value = if radius < 1.0 {
                    // Brighter rim and folds: a ripple in each direction over a smooth fall-off.
                    let ripple =
                        (x as f64 * 0.7).sin() * (y as f64 * 0.5).cos() + (z as f64 * 0.3).sin();
                    400.0 + 300.0 * radius + 80.0 * ripple
                } else {
                    0.0
                };
                values.push(value.round());
            }
        }
    }
    gzip(&encode_nifti(&NiftiSpec::ras(WARM_UP_DIMS, 4), &values))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::ModelCard;
    use crate::data::brain::open_upload;

    /// The shipped brain model takes the head and keeps enough slices for two of the page's
    /// batches: the warm-up runs the same calls a real volume does.
    #[test]
    fn the_shipped_brain_model_slices_the_warm_up_head() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/models/brain-t1/model.json");
        let card = ModelCard::from_json(path, &std::fs::read_to_string(path).unwrap()).unwrap();
        let input = card
            .brain_input
            .as_ref()
            .expect("brain-t1 is a brain model");
        let bytes = warm_up_volume();
        assert_eq!(&bytes[..2], &[0x1f, 0x8b], "gzipped, as most uploads are");
        let upload = open_upload("warm-up.nii.gz", &bytes, input).unwrap();
        assert_eq!(upload.volume.dims, WARM_UP_DIMS);
        let kept = upload.sliced.slices.len();
        assert!(
            kept > 16 && kept < WARM_UP_DIMS[2],
            "{kept} of {} slices kept",
            WARM_UP_DIMS[2]
        );
        let inputs: Vec<f32> = upload
            .sliced
            .slices
            .iter()
            .flat_map(|s| s.input.clone())
            .collect();
        let low = inputs.iter().filter(|&&v| v < -0.5).count();
        let high = inputs.iter().filter(|&&v| v > 0.5).count();
        assert!(
            low > 0 && high > 0,
            "the slices hold a spread of values ({low} low, {high} high)"
        );
    }
}
