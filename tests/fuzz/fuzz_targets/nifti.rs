//! Any bytes through the NIfTI reader: errors are fine, panics and huge allocations are not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lran::data::nifti::{VolumeChoice, read_nifti};

fuzz_target!(|data: &[u8]| {
    if let Ok(volume) = read_nifti("fuzz.nii", data, VolumeChoice::OnlyVolume) {
        assert_eq!(volume.data.len(), volume.dims.iter().product::<usize>());
        assert!(volume.data.iter().all(|v| v.is_finite()));
        if volume.axial_count() > 0 {
            let _ = volume.axial_slice(volume.axial_count() / 2);
        }
    }
    let _ = read_nifti("fuzz.nii", data, VolumeChoice::Index(1));
});
