//! What a person hands a model — a PNG/JPEG image or a NIfTI volume — turned into the model's
//! inputs. The page (src/web.rs) and `cargo xtask score` both call [`read_upload`] (or its two
//! halves), so a file scores the same in the browser and from the shell.

use crate::ModelConfig;
use crate::card::ModelCard;
use crate::data::brain::{SlicedCase, UploadedCase, open_upload, slice_image};
use crate::error::{LranError, Result};
use crate::preprocess::{decode_image, image_to_input, refuse_colour};

/// An upload, read and preprocessed for one model.
#[derive(Debug, Clone)]
pub enum Upload {
    /// One image.
    Image(PreparedImage),
    /// A volume cut into the model's axial slices (only brain models take volumes).
    Volume(SlicedCase),
}

/// Whether `name` is a NIfTI volume by its extension (`.nii`, `.nii.gz`), as the page decides.
pub fn is_volume_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".nii") || lower.ends_with(".nii.gz")
}

/// One image as the model takes it.
#[derive(Debug, Clone)]
pub struct PreparedImage {
    /// `channels × size × size` in [−1, 1].
    pub input: Vec<f32>,
    /// Why the image may not be what the model was trained on (brain models: not a
    /// skull-stripped axial slice); empty when it looks like one. A score with warnings is not
    /// a confident verdict.
    pub warnings: Vec<String>,
}

/// Reads `bytes` (named `name`) as the model described by `card` takes them: a volume when the
/// name says NIfTI, else an image.
pub fn read_upload(name: &str, bytes: &[u8], card: &ModelCard) -> Result<Upload> {
    if is_volume_name(name) {
        volume_slices(name, bytes, card).map(Upload::Volume)
    } else {
        upload_image(name, bytes, card).map(Upload::Image)
    }
}

/// PNG or JPEG bytes → the input of the model `card` describes: a brain model's image goes
/// through the slice pipeline ([`slice_image`]: brain told from background, normalised inside
/// it, cropped to it, resized), as its training slices did; any other model's is resized whole.
pub fn upload_image(name: &str, bytes: &[u8], card: &ModelCard) -> Result<PreparedImage> {
    let Some(brain) = &card.brain_input else {
        return Ok(PreparedImage {
            input: image_input(name, bytes, &card.model)?,
            warnings: Vec::new(),
        });
    };
    if card.model.channels != 1 {
        return Err(LranError::data(
            name,
            format!(
                "this model takes {} contrasts as channels ({}); one image holds one (drop a NIfTI volume of each, or use a one-contrast model)",
                card.model.channels,
                brain.modalities.join(", ")
            ),
        ));
    }
    let image = decode_image(name, bytes)?;
    // Colour is refused as for any one-channel model.
    refuse_colour(&image).map_err(|e| match e {
        LranError::Data { problem, .. } => LranError::data(name, problem),
        other => other,
    })?;
    let gray = image.to_luma8();
    let slice = slice_image(
        name,
        gray.as_raw(),
        gray.width() as usize,
        gray.height() as usize,
        &brain.slices,
    )?;
    Ok(PreparedImage {
        input: slice.input,
        warnings: slice.warnings,
    })
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
    open_volume(name, bytes, card).map(|upload| upload.sliced)
}

/// [`volume_slices`], keeping the volume and its brain mask (the page's anomaly map needs them).
pub fn open_volume(name: &str, bytes: &[u8], card: &ModelCard) -> Result<UploadedCase> {
    let Some(input) = &card.brain_input else {
        return Err(LranError::data(
            name,
            format!(
                "{} is not a brain model: NIfTI volumes need a model trained on brain MRI (pick one in the page's model list, or --model)",
                card.name
            ),
        ));
    };
    open_upload(name, bytes, input)
}
