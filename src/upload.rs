//! What a person hands a model — a PNG/JPEG image or a NIfTI volume — turned into the model's
//! inputs. The page (src/web.rs) and `cargo xtask score` both call [`read_upload`] (or its two
//! halves), so a file scores the same in the browser and from the shell.

use crate::ModelConfig;
use crate::data::brain::{SlicedCase, slice_upload};
use crate::error::{LranError, Result};
use crate::export::ModelCard;
use crate::preprocess::{decode_image, image_to_input};

/// An upload, read and preprocessed for one model.
#[derive(Debug, Clone)]
pub enum Upload {
    /// One image: `channels × size × size` in [−1, 1].
    Image(Vec<f32>),
    /// A volume cut into the model's axial slices (only brain models take volumes).
    Volume(SlicedCase),
}

/// Whether `name` is a NIfTI volume by its extension (`.nii`, `.nii.gz`), as the page decides.
pub fn is_volume_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".nii") || lower.ends_with(".nii.gz")
}

/// Reads `bytes` (named `name`) as the model described by `card` takes them: a volume when the
/// name says NIfTI, else an image.
pub fn read_upload(name: &str, bytes: &[u8], card: &ModelCard) -> Result<Upload> {
    if is_volume_name(name) {
        volume_slices(name, bytes, card).map(Upload::Volume)
    } else {
        image_input(name, bytes, &card.model).map(Upload::Image)
    }
}

/// PNG or JPEG bytes → model input (decoded with size limits; colour refused by one-channel
/// models).
pub fn image_input(name: &str, bytes: &[u8], config: &ModelConfig) -> Result<Vec<f32>> {
    let image = decode_image(name, bytes)?;
    image_to_input(&image, config).map_err(|e| match e {
        // image_to_input names no file: say which one.
        LranError::Data { problem, .. } => LranError::data(name, problem),
        other => other,
    })
}

/// NIfTI bytes → the model's slices, cut as its training data was (`model.json`'s
/// `brain_input`). Models not trained on brain MRI refuse volumes.
pub fn volume_slices(name: &str, bytes: &[u8], card: &ModelCard) -> Result<SlicedCase> {
    let Some(input) = &card.brain_input else {
        return Err(LranError::data(
            name,
            format!(
                "{} is not a brain model: NIfTI volumes need a model trained on brain MRI (pick one in the page's model list, or --model)",
                card.name
            ),
        ));
    };
    slice_upload(name, bytes, input)
}
