//! CIFAR-10's binary version (`data_batch_1.bin` … `data_batch_5.bin`, `test_batch.bin`): records
//! of one label byte (0–9) followed by 32×32 red, green and blue planes (3072 bytes).

use crate::data::idx::LabelledImages;
use crate::error::{LranError, Result};

pub const SIDE: usize = 32;
pub const RECORD_BYTES: usize = 1 + 3 * SIDE * SIDE;
/// The class names, in label order.
pub const CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];
/// A batch file holds 10000 records; refuse anything claiming far more.
const MAX_RECORDS: usize = 1_000_000;

/// Parses one binary batch file. `name` labels errors.
pub fn parse_batch(name: &str, bytes: &[u8]) -> Result<LabelledImages> {
    if bytes.is_empty() {
        return Err(LranError::data(name, "the file is empty"));
    }
    if bytes.starts_with(&[0x1f, 0x8b]) {
        return Err(LranError::data(
            name,
            "gzip data: extract cifar-10-binary.tar.gz first (the .bin files are read as they are)",
        ));
    }
    if bytes.starts_with(b"\x80") {
        return Err(LranError::data(
            name,
            "a Python pickle (the CIFAR-10 python version): use the binary version's .bin files",
        ));
    }
    if !bytes.len().is_multiple_of(RECORD_BYTES) {
        return Err(LranError::data(
            name,
            format!(
                "{} bytes is not a whole number of {RECORD_BYTES}-byte CIFAR-10 records (truncated or not a CIFAR-10 batch; {} bytes left over)",
                bytes.len(),
                bytes.len() % RECORD_BYTES
            ),
        ));
    }
    let count = bytes.len() / RECORD_BYTES;
    if count > MAX_RECORDS {
        return Err(LranError::data(
            name,
            format!("{count} records is far more than a CIFAR-10 batch holds"),
        ));
    }
    let mut labels = Vec::with_capacity(count);
    let mut pixels = Vec::with_capacity(count * (RECORD_BYTES - 1));
    for (index, record) in bytes.chunks_exact(RECORD_BYTES).enumerate() {
        if record[0] > 9 {
            return Err(LranError::data(
                name,
                format!(
                    "record {index} has label {}, outside the classes 0–9",
                    record[0]
                ),
            ));
        }
        labels.push(record[0]);
        pixels.extend_from_slice(&record[1..]);
    }
    Ok(LabelledImages {
        width: SIDE,
        height: SIDE,
        channels: 3,
        pixels,
        labels,
    })
}

/// Writes records in the batch format (tests write whole CIFAR-10 folders with it).
pub fn encode_batch(images: &LabelledImages) -> Vec<u8> {
    assert_eq!(
        (images.width, images.height, images.channels),
        (SIDE, SIDE, 3),
        "CIFAR-10 records are 3×32×32"
    );
    let mut out = Vec::with_capacity(images.len() * RECORD_BYTES);
    for i in 0..images.len() {
        out.push(images.labels[i]);
        out.extend_from_slice(images.image(i));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_bad_batches_are_named() {
        let images = LabelledImages {
            width: SIDE,
            height: SIDE,
            channels: 3,
            pixels: (0..2 * 3072).map(|i| (i % 251) as u8).collect(),
            labels: vec![3, 9],
        };
        let bytes = encode_batch(&images);
        assert_eq!(bytes.len(), 2 * RECORD_BYTES);
        let parsed = parse_batch("data_batch_1.bin", &bytes).unwrap();
        assert_eq!(parsed.labels, vec![3, 9]);
        assert_eq!(parsed.pixels, images.pixels);
        let expect = |bytes: &[u8], needle: &str| {
            let message = parse_batch("b.bin", bytes).unwrap_err().to_string();
            assert!(
                message.starts_with("b.bin") && message.contains(needle),
                "{message}"
            );
        };
        expect(&bytes[..bytes.len() - 5], "3068 bytes left over");
        expect(&[], "empty");
        let mut bad = bytes.clone();
        bad[RECORD_BYTES] = 10;
        expect(&bad, "record 1 has label 10");
        expect(&[0x1f, 0x8b, 8, 0], "gzip");
        expect(b"\x80\x02}q\x00", "pickle");
    }
}
