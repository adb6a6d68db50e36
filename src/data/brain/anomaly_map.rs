//! The slices' residual maps put back into the uploaded volume's own voxel grid, so a viewer
//! shows them over the scan in every plane and a researcher can open both files side by side.

use super::{UploadedCase, radiological_index};
use crate::data::volume::Volume;
use crate::error::{LranError, Result};

/// A volume on `upload`'s grid (same dimensions, orientation and affine) holding, at each brain
/// voxel of a scored slice, the residual |x − x̂| the model left there; 0 elsewhere (outside the
/// brain, outside the crop, and in slices that were not scored).
///
/// `residuals[k]` is kept slice `k`'s residual map (`size × size`, as the scorer returns it), or
/// `None` where that slice has not been scored. This inverts the slice pipeline's crop and
/// resample: each voxel centre is carried into the model's pixel grid and the residual is read
/// there bilinearly, so a map at the model's resolution comes back smooth at the scan's.
pub fn anomaly_map(upload: &UploadedCase, residuals: &[Option<Vec<f32>>]) -> Result<Volume> {
    let volume = &upload.volume;
    let sliced = &upload.sliced;
    let name = &volume.name;
    if residuals.len() != sliced.slices.len() {
        return Err(LranError::data(
            name,
            format!(
                "{} residual maps were given for {} scored slices",
                residuals.len(),
                sliced.slices.len()
            ),
        ));
    }
    if upload.brain.len() != volume.voxels() {
        return Err(LranError::data(
            name,
            format!(
                "the brain mask has {} voxels but the volume {}",
                upload.brain.len(),
                volume.voxels()
            ),
        ));
    }
    let size = sliced.size;
    for (k, residual) in residuals.iter().enumerate() {
        let Some(residual) = residual else { continue };
        if residual.len() != size * size {
            return Err(LranError::data(
                name,
                format!(
                    "slice {k}'s residual map has {} values, not {size}×{size}",
                    residual.len()
                ),
            ));
        }
        if residual.iter().any(|v| !v.is_finite()) {
            return Err(LranError::data(
                name,
                format!("slice {k}'s residual map holds non-finite values"),
            ));
        }
    }

    let [nx, ny, _] = volume.dims;
    let [top, left, crop_height, crop_width] = sliced.crop;
    let (step_row, step_column) = (crop_height / size as f32, crop_width / size as f32);
    // Where the centre of image row `row` (or column) falls in the model grid, whose pixel
    // centres sit at 0, 1, …, size − 1; None outside the crop.
    let model_coordinate = |pixel: usize, start: f32, step: f32| -> Option<f32> {
        let m = (pixel as f32 + 0.5 - start) / step - 0.5;
        (-0.5..=size as f32 - 0.5).contains(&m).then_some(m)
    };
    let rows: Vec<Option<f32>> = (0..ny)
        .map(|row| model_coordinate(row, top, step_row))
        .collect();
    let columns: Vec<Option<f32>> = (0..nx)
        .map(|column| model_coordinate(column, left, step_column))
        .collect();
    let last = (size - 1) as f32;
    let bilinear = |map: &[f32], r: f32, c: f32| -> f32 {
        // Half a pixel past the outer centres the edge value holds.
        let (r, c) = (r.clamp(0.0, last), c.clamp(0.0, last));
        let (r0, c0) = (r.floor() as usize, c.floor() as usize);
        let (r1, c1) = ((r0 + 1).min(size - 1), (c0 + 1).min(size - 1));
        let (fr, fc) = (r - r0 as f32, c - c0 as f32);
        let top_mix = map[r0 * size + c0] * (1.0 - fc) + map[r0 * size + c1] * fc;
        let bottom_mix = map[r1 * size + c0] * (1.0 - fc) + map[r1 * size + c1] * fc;
        top_mix * (1.0 - fr) + bottom_mix * fr
    };

    let mut data = vec![0.0f32; volume.voxels()];
    for (slice, residual) in sliced.slices.iter().zip(residuals) {
        let Some(residual) = residual else { continue };
        for (row, r) in rows.iter().enumerate() {
            let Some(r) = *r else { continue };
            for (column, c) in columns.iter().enumerate() {
                let Some(c) = *c else { continue };
                let at = radiological_index(volume.dims, slice.index, row, column);
                if upload.brain[at] {
                    data[at] = bilinear(residual, r, c);
                }
            }
        }
    }
    Ok(Volume {
        name: format!("{name} anomaly map"),
        dims: volume.dims,
        spacing: volume.spacing,
        data,
        affine: volume.affine,
        orientation: volume.orientation,
        datatype: "f32".to_string(),
        source_dims: volume.file_dims().to_vec(),
        chosen_volume: None,
    })
}
