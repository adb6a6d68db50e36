//! The ten-class benchmarks from disk: MNIST and Fashion-MNIST (IDX, gzip or raw), CIFAR-10
//! (binary batches), or the MNIST sample embedded in the binary.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use lran::data::cifar;
use lran::data::idx::LabelledImages;

use crate::provenance::sha256_hex;

/// Train and test splits plus (file, sha256) of what was read.
pub struct LoadedLabelled {
    pub name: String,
    pub train: LabelledImages,
    pub test: LabelledImages,
    pub files: Vec<(String, String)>,
}

const SAMPLE: [(&str, &[u8]); 4] = [
    (
        "train-images-idx3-ubyte.gz",
        include_bytes!("../../data/mnist-sample/train-images-idx3-ubyte.gz"),
    ),
    (
        "train-labels-idx1-ubyte.gz",
        include_bytes!("../../data/mnist-sample/train-labels-idx1-ubyte.gz"),
    ),
    (
        "t10k-images-idx3-ubyte.gz",
        include_bytes!("../../data/mnist-sample/t10k-images-idx3-ubyte.gz"),
    ),
    (
        "t10k-labels-idx1-ubyte.gz",
        include_bytes!("../../data/mnist-sample/t10k-labels-idx1-ubyte.gz"),
    ),
];

pub const IDX_STEMS: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

impl LoadedLabelled {
    /// Refuses images a model with `config` cannot take: the same channel count, or colour
    /// images for a gray model (seen as luminance).
    pub fn check_channels(&self, config: &lran::ModelConfig) -> Result<()> {
        let channels = self.test.channels;
        if channels != config.channels && !(channels == 3 && config.channels == 1) {
            bail!(
                "{} has {channels}-channel images but the model takes {}",
                self.name,
                config.channels
            );
        }
        Ok(())
    }
}

/// The embedded MNIST sample (a few thousand real digits).
pub fn mnist_sample() -> Result<LoadedLabelled> {
    let files = SAMPLE
        .iter()
        .map(|(n, b)| (format!("embedded:{n}"), sha256_hex(b)))
        .collect();
    let (train, test) = idx_pair(SAMPLE.map(|(n, b)| (format!("embedded:{n}"), b.to_vec())))?;
    Ok(LoadedLabelled {
        name: "mnist-embedded-sample".into(),
        train,
        test,
        files,
    })
}

/// The four IDX files of an MNIST-style folder (gzip or raw).
pub fn load_idx(name: &str, dir: &Path) -> Result<LoadedLabelled> {
    check_dir(dir)?;
    let mut read = Vec::new();
    for stem in IDX_STEMS {
        let path = find_idx(dir, stem)?;
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        read.push((path.display().to_string(), bytes));
    }
    let files = read
        .iter()
        .map(|(p, b)| (file_name(Path::new(p)), sha256_hex(b)))
        .collect();
    let read: [(String, Vec<u8>); 4] = read.try_into().expect("four files");
    let (train, test) = idx_pair(read)?;
    Ok(LoadedLabelled {
        name: name.to_string(),
        train,
        test,
        files,
    })
}

pub fn find_idx(dir: &Path, stem: &str) -> Result<PathBuf> {
    for candidate in [
        format!("{stem}.gz"),
        stem.to_string(),
        stem.replacen("-idx", ".idx", 1),
    ] {
        let path = dir.join(&candidate);
        if path.is_file() {
            return Ok(path);
        }
    }
    bail!(
        "{} has no {stem}.gz (nor {stem}): not an MNIST-style IDX folder",
        dir.display()
    )
}

fn idx_pair(files: [(String, Vec<u8>); 4]) -> Result<(LabelledImages, LabelledImages)> {
    let [(ti, tib), (tl, tlb), (si, sib), (sl, slb)] = files;
    let train = LabelledImages::from_idx(&ti, &tib, &tl, &tlb)?;
    let test = LabelledImages::from_idx(&si, &sib, &sl, &slb)?;
    if (train.width, train.height) != (test.width, test.height) {
        bail!(
            "{ti} has {}×{} images but {si} has {}×{}",
            train.width,
            train.height,
            test.width,
            test.height
        );
    }
    Ok((train, test))
}

pub const CIFAR_TRAIN: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];
pub const CIFAR_TEST: &str = "test_batch.bin";

/// The folder holding CIFAR-10's batches: `dir` itself or its `cifar-10-batches-bin/`
/// (how the official archive extracts).
pub fn cifar_dir(dir: &Path) -> Option<PathBuf> {
    [dir.to_path_buf(), dir.join("cifar-10-batches-bin")]
        .into_iter()
        .find(|d| d.join(CIFAR_TEST).is_file())
}

/// CIFAR-10's binary version: five training batches and the test batch.
pub fn load_cifar10(dir: &Path) -> Result<LoadedLabelled> {
    check_dir(dir)?;
    let Some(dir) = cifar_dir(dir) else {
        bail!(
            "{} has no {CIFAR_TEST} (nor cifar-10-batches-bin/{CIFAR_TEST}): not a CIFAR-10 binary folder",
            dir.display()
        );
    };
    let missing: Vec<&str> = CIFAR_TRAIN
        .iter()
        .copied()
        .filter(|f| !dir.join(f).is_file())
        .collect();
    if !missing.is_empty() {
        bail!(
            "{} lacks {}: CIFAR-10 has five training batches",
            dir.display(),
            missing.join(", ")
        );
    }
    let mut files = Vec::new();
    let mut read = |name: &str| -> Result<LabelledImages> {
        let path = dir.join(name);
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        files.push((name.to_string(), sha256_hex(&bytes)));
        Ok(cifar::parse_batch(&path.display().to_string(), &bytes)?)
    };
    let mut train = read(CIFAR_TRAIN[0])?;
    for name in &CIFAR_TRAIN[1..] {
        train.extend(read(name)?)?;
    }
    let test = read(CIFAR_TEST)?;
    Ok(LoadedLabelled {
        name: "cifar10".into(),
        train,
        test,
        files,
    })
}

pub fn check_dir(dir: &Path) -> Result<()> {
    if !dir.is_dir() {
        bail!(
            "data directory {} does not exist or is not a directory",
            dir.display()
        );
    }
    Ok(())
}

pub fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}
