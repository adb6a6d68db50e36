//! The IDX format of MNIST and Fashion-MNIST (raw or gzip-compressed): a big-endian header
//! (two zero bytes, a type code, the number of dimensions, one u32 per dimension) followed by
//! the values. Only unsigned-byte data (type 0x08) occurs in these datasets.

use std::io::Read;

use flate2::read::GzDecoder;

use crate::error::{LranError, Result};

const UNSIGNED_BYTE: u8 = 0x08;
/// Refuse to allocate more than this, whatever a (corrupt) header claims.
const MAX_VALUES: usize = 1 << 31;

/// A parsed IDX file: dimensions and u8 values in row-major order.
#[derive(Debug, Clone, PartialEq)]
pub struct IdxArray {
    pub dims: Vec<usize>,
    pub values: Vec<u8>,
}

/// Decompresses `bytes` when they start with the gzip magic, else returns them as they are.
pub fn maybe_gunzip(name: &str, bytes: &[u8]) -> Result<Vec<u8>> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        GzDecoder::new(bytes)
            .take(MAX_VALUES as u64 + 1024)
            .read_to_end(&mut out)
            .map_err(|e| LranError::data(name, format!("corrupt gzip stream: {e}")))?;
        Ok(out)
    } else {
        Ok(bytes.to_vec())
    }
}

/// Parses an IDX file (raw or gzip). `name` only labels errors.
pub fn parse_idx(name: &str, bytes: &[u8]) -> Result<IdxArray> {
    let bytes = maybe_gunzip(name, bytes)?;
    if bytes.len() < 4 {
        return Err(LranError::data(
            name,
            format!("{} bytes is too short for an IDX header", bytes.len()),
        ));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(LranError::data(
            name,
            format!(
                "not an IDX file (magic {:02x} {:02x} {:02x} {:02x})",
                bytes[0], bytes[1], bytes[2], bytes[3]
            ),
        ));
    }
    if bytes[2] != UNSIGNED_BYTE {
        return Err(LranError::data(
            name,
            format!(
                "IDX data type 0x{:02x} is not supported (only unsigned bytes, 0x08)",
                bytes[2]
            ),
        ));
    }
    let rank = bytes[3] as usize;
    if rank == 0 {
        return Err(LranError::data(name, "IDX header declares zero dimensions"));
    }
    let header_len = 4 + 4 * rank;
    if bytes.len() < header_len {
        return Err(LranError::data(
            name,
            format!(
                "truncated IDX header ({} of {header_len} bytes)",
                bytes.len()
            ),
        ));
    }
    let dims: Vec<usize> = (0..rank)
        .map(|d| u32::from_be_bytes(bytes[4 + 4 * d..8 + 4 * d].try_into().unwrap()) as usize)
        .collect();
    let count = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&c| c <= MAX_VALUES)
        .ok_or_else(|| {
            LranError::data(name, format!("IDX dimensions {dims:?} are absurdly large"))
        })?;
    let payload = &bytes[header_len..];
    if payload.len() < count {
        return Err(LranError::data(
            name,
            format!(
                "truncated: dimensions {dims:?} need {count} values but the file holds {}",
                payload.len()
            ),
        ));
    }
    if payload.len() > count {
        return Err(LranError::data(
            name,
            format!(
                "{} unexpected bytes after the {count} values of dimensions {dims:?}",
                payload.len() - count
            ),
        ));
    }
    Ok(IdxArray {
        dims,
        values: payload.to_vec(),
    })
}

/// Writes an IDX file of unsigned bytes (used by tests and the embedded-sample tool).
pub fn encode_idx(dims: &[usize], values: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, UNSIGNED_BYTE, dims.len() as u8];
    for &d in dims {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(values);
    out
}

/// Images and labels of one split of a labelled dataset with ten classes (MNIST,
/// Fashion-MNIST: gray; CIFAR-10: RGB).
#[derive(Debug, Clone)]
pub struct LabelledImages {
    pub width: usize,
    pub height: usize,
    /// 1 (gray) or 3 (RGB).
    pub channels: usize,
    /// `count × channels × height × width` u8 pixels (channel planes, as CIFAR-10 stores them).
    pub pixels: Vec<u8>,
    pub labels: Vec<u8>,
}

impl LabelledImages {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn image(&self, index: usize) -> &[u8] {
        let size = self.channels * self.width * self.height;
        &self.pixels[index * size..(index + 1) * size]
    }

    /// Appends another split's images (same shape) after these.
    pub fn extend(&mut self, other: LabelledImages) -> Result<()> {
        if (other.width, other.height, other.channels) != (self.width, self.height, self.channels) {
            return Err(LranError::config(format!(
                "cannot join {}×{}×{} images with {}×{}×{} ones",
                self.channels, self.height, self.width, other.channels, other.height, other.width
            )));
        }
        self.pixels.extend(other.pixels);
        self.labels.extend(other.labels);
        Ok(())
    }

    /// Pairs an images file (`[n, h, w]`) with a labels file (`[n]`), checking they agree.
    pub fn from_idx(
        images_name: &str,
        images_bytes: &[u8],
        labels_name: &str,
        labels_bytes: &[u8],
    ) -> Result<Self> {
        let images = parse_idx(images_name, images_bytes)?;
        let labels = parse_idx(labels_name, labels_bytes)?;
        if images.dims.len() != 3 {
            return Err(LranError::data(
                images_name,
                format!(
                    "expected images of shape [count, height, width], got dimensions {:?}",
                    images.dims
                ),
            ));
        }
        if labels.dims.len() != 1 {
            return Err(LranError::data(
                labels_name,
                format!(
                    "expected labels of shape [count], got dimensions {:?}",
                    labels.dims
                ),
            ));
        }
        if images.dims[0] != labels.dims[0] {
            return Err(LranError::data(
                images_name,
                format!(
                    "{} images but {labels_name} has {} labels",
                    images.dims[0], labels.dims[0]
                ),
            ));
        }
        if images.dims[1] == 0 || images.dims[2] == 0 {
            return Err(LranError::data(
                images_name,
                "images have zero width or height",
            ));
        }
        if let Some(bad) = labels.values.iter().find(|&&l| l > 9) {
            return Err(LranError::data(
                labels_name,
                format!("label {bad} is outside the classes 0–9"),
            ));
        }
        Ok(Self {
            width: images.dims[2],
            height: images.dims[1],
            channels: 1,
            pixels: images.values,
            labels: labels.values,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn round_trips_raw_and_gzip() {
        let values: Vec<u8> = (0..24).collect();
        let raw = encode_idx(&[2, 3, 4], &values);
        for bytes in [raw.clone(), gzip(&raw)] {
            let parsed = parse_idx("t", &bytes).unwrap();
            assert_eq!(parsed.dims, vec![2, 3, 4]);
            assert_eq!(parsed.values, values);
        }
    }

    #[test]
    fn errors_name_the_problem() {
        let raw = encode_idx(&[2, 3, 4], &[7; 24]);
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (raw[..raw.len() - 1].to_vec(), "truncated"),
            (raw[..6].to_vec(), "truncated IDX header"),
            ([raw.clone(), vec![1]].concat(), "unexpected bytes"),
            (b"PNG\x0d and more".to_vec(), "not an IDX file"),
            (
                vec![0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0],
                "data type 0x0d",
            ),
            (
                encode_idx(&[u32::MAX as usize, u32::MAX as usize], &[]),
                "absurdly large",
            ),
            (gzip(&raw)[..20].to_vec(), "corrupt gzip"),
            (vec![0, 0], "too short"),
        ];
        for (bytes, expected) in cases {
            let message = parse_idx("file.idx", &bytes).unwrap_err().to_string();
            assert!(
                message.contains(expected) && message.starts_with("file.idx"),
                "{message}"
            );
        }
    }

    #[test]
    fn label_and_image_counts_must_agree() {
        let images = encode_idx(&[3, 2, 2], &[0; 12]);
        let labels = encode_idx(&[2], &[1, 2]);
        let message = LabelledImages::from_idx("img", &images, "lab", &labels)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("3 images but lab has 2 labels"),
            "{message}"
        );
        let bad_label = encode_idx(&[3], &[1, 2, 12]);
        let message = LabelledImages::from_idx("img", &images, "lab", &bad_label)
            .unwrap_err()
            .to_string();
        assert!(message.contains("label 12"), "{message}");
        let ok =
            LabelledImages::from_idx("img", &images, "lab", &encode_idx(&[3], &[1, 2, 3])).unwrap();
        assert_eq!((ok.len(), ok.width, ok.height), (3, 2, 2));
    }
}
