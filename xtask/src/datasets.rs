//! Loading the toy benchmarks from disk (or the embedded MNIST sample).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use lran::data::idx::LabelledImages;

use crate::provenance::sha256_hex;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dataset {
    Mnist,
    FashionMnist,
}

impl Dataset {
    pub fn name(self) -> &'static str {
        match self {
            Dataset::Mnist => "mnist",
            Dataset::FashionMnist => "fashion-mnist",
        }
    }
}

/// Train and test splits plus (file, sha256) of what was read.
pub struct LoadedDataset {
    pub name: String,
    pub train: LabelledImages,
    pub test: LabelledImages,
    pub files: Vec<(String, String)>,
}

const SAMPLE: [(&str, &[u8]); 4] = [
    ("train-images-idx3-ubyte.gz", include_bytes!("../data/mnist-sample/train-images-idx3-ubyte.gz")),
    ("train-labels-idx1-ubyte.gz", include_bytes!("../data/mnist-sample/train-labels-idx1-ubyte.gz")),
    ("t10k-images-idx3-ubyte.gz", include_bytes!("../data/mnist-sample/t10k-images-idx3-ubyte.gz")),
    ("t10k-labels-idx1-ubyte.gz", include_bytes!("../data/mnist-sample/t10k-labels-idx1-ubyte.gz")),
];

const STEMS: [&str; 4] =
    ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

/// Reads the four IDX files from `data_dir` (gzip or raw), or the embedded MNIST sample when
/// `data_dir` is `None`.
pub fn load(dataset: Dataset, data_dir: Option<&Path>) -> Result<LoadedDataset> {
    let Some(dir) = data_dir else {
        if dataset != Dataset::Mnist {
            bail!("only MNIST has an embedded sample; give --data-dir for {}", dataset.name());
        }
        let files = SAMPLE.iter().map(|(n, b)| (format!("embedded:{n}"), sha256_hex(b))).collect();
        let (train, test) = pair(SAMPLE.map(|(n, b)| (format!("embedded:{n}"), b.to_vec())))?;
        return Ok(LoadedDataset { name: format!("{}-embedded-sample", dataset.name()), train, test, files });
    };
    if !dir.is_dir() {
        bail!("data directory {} does not exist or is not a directory", dir.display());
    }
    let mut read = Vec::new();
    for stem in STEMS {
        let path = find(dir, stem)?;
        let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        read.push((path.display().to_string(), bytes));
    }
    let files = read
        .iter()
        .map(|(p, b)| (Path::new(p).file_name().unwrap().to_string_lossy().into_owned(), sha256_hex(b)))
        .collect();
    let read: [(String, Vec<u8>); 4] = read.try_into().expect("four files");
    let (train, test) = pair(read)?;
    Ok(LoadedDataset { name: dataset.name().to_string(), train, test, files })
}

fn find(dir: &Path, stem: &str) -> Result<PathBuf> {
    for candidate in [format!("{stem}.gz"), stem.to_string(), stem.replacen("-idx", ".idx", 1)] {
        let path = dir.join(&candidate);
        if path.is_file() {
            return Ok(path);
        }
    }
    bail!("{} has no {stem}.gz (nor {stem}): not an MNIST-style IDX folder", dir.display())
}

fn pair(files: [(String, Vec<u8>); 4]) -> Result<(LabelledImages, LabelledImages)> {
    let [(ti, tib), (tl, tlb), (si, sib), (sl, slb)] = files;
    let train = LabelledImages::from_idx(&ti, &tib, &tl, &tlb)?;
    let test = LabelledImages::from_idx(&si, &sib, &sl, &slb)?;
    if (train.width, train.height) != (test.width, test.height) {
        bail!("{ti} has {}×{} images but {si} has {}×{}", train.width, train.height, test.width, test.height);
    }
    Ok((train, test))
}
