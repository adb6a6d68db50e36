//! A folder of the user's own images: `normal/` and `anomalous/` (PNG or JPEG, any size, gray
//! or colour). Normal images are split at random (seeded) into training, validation and test
//! parts; every anomalous image is a test image.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use lran::ModelConfig;
use lran::data::{ImageSet, Split};
use lran::preprocess::{decode_image, image_to_input};
use lran::rng::SplitMix64;

use crate::data::labelled::{check_dir, file_name};
use crate::provenance::sha256_hex;

pub struct LoadedFolder {
    pub split: Split,
    pub files: Vec<(String, String)>,
}

/// PNG and JPEG files directly in `dir`, sorted by name.
pub fn image_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.is_file()
                && path
                    .extension()
                    .map(|e| {
                        matches!(
                            e.to_ascii_lowercase().to_str(),
                            Some("png" | "jpg" | "jpeg")
                        )
                    })
                    .unwrap_or(false)
        })
        .collect();
    files.sort();
    Ok(files)
}

pub fn is_image_folder(dir: &Path) -> bool {
    dir.join("normal").is_dir()
}

pub fn load(
    dir: &Path,
    validation_fraction: f64,
    test_fraction: f64,
    seed: u64,
    config: &ModelConfig,
) -> Result<LoadedFolder> {
    check_dir(dir)?;
    if !is_image_folder(dir) {
        bail!(
            "{} has no normal/ folder: an image folder holds normal/ (and anomalous/) with PNG or JPEG files",
            dir.display()
        );
    }
    if !(0.0..1.0).contains(&test_fraction) || !(0.0..1.0).contains(&validation_fraction) {
        bail!("the validation and test fractions must be in [0, 1)");
    }
    let mut normal = image_files(&dir.join("normal"))?;
    let anomalous = if dir.join("anomalous").is_dir() {
        image_files(&dir.join("anomalous"))?
    } else {
        Vec::new()
    };
    if normal.len() < 3 {
        bail!(
            "{}/normal holds {} images: at least 3 are needed (train, validation, test)",
            dir.display(),
            normal.len()
        );
    }
    if anomalous.is_empty() {
        bail!(
            "{}/anomalous holds no PNG or JPEG images: the test needs anomalies",
            dir.display()
        );
    }
    SplitMix64::new(seed).shuffle(&mut normal);
    let test_count = ((normal.len() as f64 * test_fraction).round() as usize).max(1);
    let validation_count =
        (((normal.len() - test_count) as f64 * validation_fraction).round() as usize).max(1);
    if test_count + validation_count >= normal.len() {
        bail!(
            "{} normal images are too few for the test and validation fractions",
            normal.len()
        );
    }
    let (test_normal, rest) = normal.split_at(test_count);
    let (validation, train) = rest.split_at(validation_count);
    let mut files = Vec::new();
    let mut read = |paths: &[PathBuf], is_anomalous: bool| -> Result<ImageSet> {
        let mut set = ImageSet::new(config);
        for path in paths {
            let bytes =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            let name = path.display().to_string();
            let image = decode_image(&name, &bytes)?;
            set.push(
                image_to_input(&image, config)?,
                is_anomalous,
                is_anomalous as u8,
            );
            let folder = if is_anomalous { "anomalous" } else { "normal" };
            files.push((format!("{folder}/{}", file_name(path)), sha256_hex(&bytes)));
        }
        Ok(set)
    };
    let train = read(train, false)?;
    let validation = read(validation, false)?;
    let mut test = read(test_normal, false)?;
    let anomalies = read(&anomalous, true)?;
    for i in 0..anomalies.len() {
        test.push(anomalies.image(i).to_vec(), true, 1);
    }
    files.sort();
    Ok(LoadedFolder {
        split: Split {
            train,
            validation,
            test,
            synthetic: None,
            excluded: 0,
        },
        files,
    })
}
