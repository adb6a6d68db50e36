//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

#[path = "support/shared.rs"]
mod shared;

use lran::ModelConfig;
use lran::data::idx::LabelledImages;
use lran::data::{ImageSet, Protocol, Split};

/// This checkout's root, read at run time: a warm target directory shared by checkouts may hold
/// a test binary built in another (the compiled-in path names that one).
pub fn repository_root() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// `../shared/<relative>` beside this checkout, or None when absent and not required.
pub fn shared(relative: &str) -> Option<PathBuf> {
    shared::shared_beside(&repository_root(), relative)
}

/// The MNIST sample embedded in xtask (real digits, committed with the repository).
pub fn mnist_sample() -> (LabelledImages, LabelledImages) {
    let dir = repository_root().join("xtask/data/mnist-sample");
    let read = |name: &str| std::fs::read(dir.join(name)).unwrap();
    let train = LabelledImages::from_idx(
        "train-images",
        &read("train-images-idx3-ubyte.gz"),
        "train-labels",
        &read("train-labels-idx1-ubyte.gz"),
    )
    .unwrap();
    let test = LabelledImages::from_idx(
        "t10k-images",
        &read("t10k-images-idx3-ubyte.gz"),
        "t10k-labels",
        &read("t10k-labels-idx1-ubyte.gz"),
    )
    .unwrap();
    (train, test)
}

pub fn sample_split(normal_class: u8, config: &ModelConfig) -> Split {
    let (train, test) = mnist_sample();
    Split::labelled_classes(
        &train,
        &test,
        normal_class,
        Protocol::OneClass,
        0.1,
        0,
        config,
    )
    .unwrap()
}

/// The first `n` images of a set.
pub fn head(set: &ImageSet, n: usize) -> ImageSet {
    let mut head = set.clone();
    head.truncate(n);
    head
}

/// The largest difference, relative to the largest expected value (at least 1).
pub fn assert_close(what: &str, got: &[f64], want: &[f64], tolerance: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    let worst = got
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f64, f64::max);
    assert!(
        worst <= tolerance * scale,
        "{what}: largest difference {worst} (values up to {scale})"
    );
}
