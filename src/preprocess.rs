//! Image preprocessing, written once: the trainer and the browser both turn pixels into model
//! input here, so the page sees exactly what training saw.

use image::imageops::FilterType;
use image::{DynamicImage, GrayImage, ImageReader, Limits};

use crate::config::ModelConfig;
use crate::error::{LranError, Result};

/// Largest side we decode: larger uploads are refused before their pixels are allocated.
pub const MAX_DECODED_SIDE: u32 = 8192;

/// Maps a u8 intensity to the model's range [−1, 1] (the decoder ends in tanh).
pub fn intensity_to_model(value: u8) -> f32 {
    value as f32 / 127.5 - 1.0
}

/// Maps a model value in [−1, 1] back to u8 intensity (clamped).
pub fn model_to_intensity(value: f32) -> u8 {
    ((value + 1.0) * 127.5).round().clamp(0.0, 255.0) as u8
}

/// A grayscale image (`height × width` u8, row-major) → model input `channels × size × size`
/// in [−1, 1]: bilinear resize to the model size (as torchvision's `Resize` in GANomaly), the
/// gray plane repeated over the channels.
pub fn gray_to_input(
    pixels: &[u8],
    width: usize,
    height: usize,
    config: &ModelConfig,
) -> Result<Vec<f32>> {
    if width == 0 || height == 0 || pixels.len() != width * height {
        return Err(LranError::data(
            "image",
            format!(
                "{} pixels do not make a {width}×{height} image",
                pixels.len()
            ),
        ));
    }
    let gray = GrayImage::from_raw(width as u32, height as u32, pixels.to_vec())
        .expect("length checked above");
    let size = config.image_size as u32;
    let resized = if gray.dimensions() == (size, size) {
        gray
    } else {
        image::imageops::resize(&gray, size, size, FilterType::Triangle)
    };
    let plane: Vec<f32> = resized
        .as_raw()
        .iter()
        .map(|&v| intensity_to_model(v))
        .collect();
    Ok(plane.repeat(config.channels))
}

/// A dataset image (`channels × height × width` u8 planes, 1 = gray or 3 = RGB) → model input,
/// by exactly the path an uploaded PNG of it takes in the page ([`image_to_input`]).
pub fn planes_to_input(
    pixels: &[u8],
    channels: usize,
    width: usize,
    height: usize,
    config: &ModelConfig,
) -> Result<Vec<f32>> {
    match channels {
        1 => gray_to_input(pixels, width, height, config),
        3 => {
            let plane = width * height;
            if width == 0 || height == 0 || pixels.len() != 3 * plane {
                return Err(LranError::data(
                    "image",
                    format!(
                        "{} values do not make a 3×{height}×{width} image",
                        pixels.len()
                    ),
                ));
            }
            let interleaved: Vec<u8> = (0..plane)
                .flat_map(|i| [pixels[i], pixels[plane + i], pixels[2 * plane + i]])
                .collect();
            let rgb = image::RgbImage::from_raw(width as u32, height as u32, interleaved)
                .expect("length checked above");
            image_to_input(&DynamicImage::ImageRgb8(rgb), config)
        }
        other => Err(LranError::data(
            "image",
            format!("{other} channels: only gray (1) and RGB (3) images are supported"),
        )),
    }
}

/// Decodes PNG or JPEG bytes with size limits; errors say what the bytes were not.
pub fn decode_image(name: &str, bytes: &[u8]) -> Result<DynamicImage> {
    if bytes.is_empty() {
        return Err(LranError::data(name, "the file is empty"));
    }
    let open = || {
        ImageReader::new(std::io::Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| LranError::data(name, format!("unreadable: {e}")))
    };
    let header = open()?;
    if header.format().is_none() {
        return Err(LranError::data(name, "not a PNG or JPEG image"));
    }
    // The header alone gives the size: refuse huge images before any pixel is allocated.
    let (width, height) = header
        .into_dimensions()
        .map_err(|e| LranError::data(name, format!("cannot read the image header: {e}")))?;
    if width == 0 || height == 0 || width > MAX_DECODED_SIDE || height > MAX_DECODED_SIDE {
        return Err(LranError::data(
            name,
            format!(
                "the image is {width}×{height} pixels; sides from 1 to {MAX_DECODED_SIDE} are accepted"
            ),
        ));
    }
    let mut reader = open()?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DECODED_SIDE);
    limits.max_image_height = Some(MAX_DECODED_SIDE);
    limits.max_alloc = Some(512 * 1024 * 1024);
    reader.limits(limits);
    reader
        .decode()
        .map_err(|e| LranError::data(name, format!("cannot decode image: {e}")))
}

/// Largest mean spread between an image's colour channels (0–255 levels, per pixel the
/// largest minus the smallest channel) that a one-channel model still takes as gray: JPEG's
/// chroma noise on a gray picture stays well below it, a colour photograph does not.
pub const MAX_GRAY_CHANNEL_SPREAD: f64 = 8.0;

/// Refuses a colour image for a one-channel model: its luminance would be a different picture
/// from anything the model was trained on. Gray pictures stored as RGB (JPEG's chroma noise
/// included) pass.
pub fn refuse_colour(image: &DynamicImage) -> Result<()> {
    if !image.color().has_color() {
        return Ok(());
    }
    let rgb = image.to_rgb8();
    let pixels = (rgb.width() as f64 * rgb.height() as f64).max(1.0);
    let spread = rgb
        .pixels()
        .map(|p| {
            let [r, g, b] = p.0;
            (r.max(g).max(b) - r.min(g).min(b)) as f64
        })
        .sum::<f64>()
        / pixels;
    if spread > MAX_GRAY_CHANNEL_SPREAD {
        return Err(LranError::data(
            "image",
            format!(
                "a colour image (its channels differ by {spread:.0} levels on average): this model takes one gray channel (MRI slices, digits); convert it to grayscale first"
            ),
        ));
    }
    Ok(())
}

/// A decoded image → model input. One-channel models see luminance and refuse colour images
/// (their luminance would be a different picture from anything they were trained on);
/// multi-channel models see the image's first channels (RGB(A)), or luminance repeated when
/// the image is gray.
pub fn image_to_input(image: &DynamicImage, config: &ModelConfig) -> Result<Vec<f32>> {
    if config.channels == 1 {
        refuse_colour(image)?;
    }
    if config.channels == 1 || !image.color().has_color() {
        let gray = image.to_luma8();
        return gray_to_input(
            gray.as_raw(),
            gray.width() as usize,
            gray.height() as usize,
            config,
        );
    }
    let rgba = image.to_rgba8();
    let size = config.image_size as u32;
    let resized = image::imageops::resize(&rgba, size, size, FilterType::Triangle);
    let plane = (size * size) as usize;
    let mut input = vec![0.0; plane * config.channels];
    for (i, pixel) in resized.pixels().enumerate() {
        for c in 0..config.channels {
            input[c * plane + i] = intensity_to_model(pixel.0[c]);
        }
    }
    Ok(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intensities_map_to_the_tanh_range_and_back() {
        assert_eq!(intensity_to_model(0), -1.0);
        assert_eq!(intensity_to_model(255), 1.0);
        for v in [0u8, 1, 77, 128, 254, 255] {
            assert_eq!(model_to_intensity(intensity_to_model(v)), v);
        }
    }

    #[test]
    fn one_channel_models_refuse_colour_images_but_take_gray_stored_as_rgb() {
        let config = ModelConfig {
            image_size: 8,
            channels: 1,
            latent_dim: 4,
            base_width: 4,
            ..ModelConfig::tiny(1)
        };
        let gray_as_rgb = DynamicImage::ImageRgb8(image::RgbImage::from_fn(8, 8, |x, y| {
            let v = (x * 30 + y) as u8;
            image::Rgb([v, v.saturating_add(2), v])
        }));
        assert!(image_to_input(&gray_as_rgb, &config).is_ok());
        let colour = DynamicImage::ImageRgb8(image::RgbImage::from_fn(8, 8, |x, _| {
            image::Rgb([200, (x * 20) as u8, 30])
        }));
        let message = image_to_input(&colour, &config).unwrap_err().to_string();
        assert!(message.contains("colour image"), "{message}");
        let three = ModelConfig {
            channels: 3,
            ..config
        };
        assert!(image_to_input(&colour, &three).is_ok());
    }

    #[test]
    fn gray_images_are_resized_and_repeated_over_channels() {
        let config = ModelConfig {
            channels: 3,
            ..ModelConfig::tiny(1)
        };
        let input = gray_to_input(&[255; 28 * 28], 28, 28, &config).unwrap();
        assert_eq!(input.len(), 3 * 32 * 32);
        assert!(input.iter().all(|&v| (v - 1.0).abs() < 1e-6));
        assert!(gray_to_input(&[0; 10], 28, 28, &config).is_err());
    }

    #[test]
    fn non_images_are_refused_with_a_message() {
        let message = decode_image("notes.txt", b"hello, not an image")
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("notes.txt") && message.contains("not a PNG or JPEG"),
            "{message}"
        );
        let mut png = Vec::new();
        DynamicImage::new_luma8(4, 4)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let message = decode_image("cut.png", &png[..png.len() / 2])
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("cut.png") && message.contains("cannot decode"),
            "{message}"
        );
        assert!(decode_image("ok.png", &png).is_ok());
    }

    #[test]
    fn huge_images_are_refused_from_their_header() {
        // A real PNG header claiming 20000×20000 with no pixel data behind it: the size check
        // must fire from the header alone, before anything is decoded or allocated.
        let mut png = Vec::new();
        DynamicImage::new_luma8(1, 1)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        // IHDR data starts at byte 16: width and height, big-endian; then fix the chunk CRC.
        png[16..20].copy_from_slice(&20000u32.to_be_bytes());
        png[20..24].copy_from_slice(&20000u32.to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(&png[12..29]);
        png[29..33].copy_from_slice(&crc.sum().to_be_bytes());
        let message = decode_image("huge.png", &png).unwrap_err().to_string();
        assert!(
            message.contains("20000×20000") && message.contains("8192"),
            "{message}"
        );
    }
}
