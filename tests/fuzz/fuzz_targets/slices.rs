//! The brain slice pipeline on any NIfTI the reader accepts, with fuzzed settings: the volume
//! is also its own segmentation (voxels above its mean), so labels and crops are exercised,
//! and a synthetic lesion is painted into the first kept slice.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lran::data::brain::{BrainCase, MaskRule, SliceConfig, slice_case};
use lran::data::lesion::{LesionConfig, insert_lesion};
use lran::data::nifti::{VolumeChoice, read_nifti};
use lran::rng::SplitMix64;

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let (settings, file) = data.split_at(4);
    let Ok(volume) = read_nifti("fuzz.nii", file, VolumeChoice::OnlyVolume) else { return };
    let config = SliceConfig {
        image_size: 8 + (settings[0] as usize % 57),
        margin: settings[1] as f32 / 255.0,
        min_brain_fraction: settings[2] as f32 / 255.0,
        tumour_min_voxels: 1 + settings[3] as usize % 20,
        z_clip: 3.0,
    };
    let mean = volume.data.iter().map(|&v| v as f64).sum::<f64>() / volume.data.len() as f64;
    let mut segmentation = volume.clone();
    segmentation.data.iter_mut().for_each(|v| *v = if (*v as f64) > mean { 1.0 } else { 0.0 });
    let rule = match settings[3] % 3 {
        0 => MaskRule::NonZero,
        1 => MaskRule::Threshold(settings[2] as f32 / 255.0),
        _ => MaskRule::Given,
    };
    let case = BrainCase { name: "fuzz".into(), mask: Some(segmentation.clone()), modalities: vec![volume], segmentation: Some(segmentation) };
    let Ok(sliced) = slice_case(&case, rule, &config) else { return };
    for slice in &sliced.slices {
        assert_eq!(slice.input.len(), config.image_size * config.image_size);
        assert!(slice.input.iter().all(|v| (-1.0..=1.0).contains(v)), "input outside [-1, 1]");
    }
    if let Some(first) = sliced.slices.first() {
        let mut rng = SplitMix64::new(settings[0] as u64);
        if let Some(lesioned) = insert_lesion(&first.input, &first.brain, 1, config.image_size, &LesionConfig::default(), &mut rng) {
            assert!(lesioned.input.iter().all(|v| (-1.0..=1.0).contains(v)));
        }
    }
});
