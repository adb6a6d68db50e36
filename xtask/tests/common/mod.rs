//! Helpers shared by the command-line tests: run the built xtask binary, and a fresh scratch
//! folder per test.

#![allow(dead_code)]

pub mod brain;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `cargo xtask <args>` (the binary this test build made) in `dir`.
pub fn xtask(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("xtask runs")
}

/// An empty folder `lran-<suite>-<name>-<pid>` in the temp dir.
pub fn scratch(suite: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lran-{suite}-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// xtask's folder in this checkout, read at run time: a warm target directory shared by
/// checkouts may hold a test binary built in another (the compiled-in path names that one).
pub fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// `../shared/data/<name>` beside this checkout. Absent, the caller skips its checks, unless
/// CI=true or LRAN_REQUIRE_DATA=1 make that a failure.
pub fn shared_data(name: &str) -> Option<PathBuf> {
    let manifest = manifest_dir();
    let dir = manifest.join("../../shared/data").join(name);
    if dir.is_dir() {
        return Some(dir.canonicalize().unwrap_or(dir));
    }
    let required = std::env::var("CI").is_ok_and(|v| v == "true")
        || std::env::var("LRAN_REQUIRE_DATA").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "{} is missing (CI must have the shared data)",
        dir.display()
    );
    eprintln!("skipped: {} is absent", dir.display());
    None
}

/// The test digits of the MNIST sample built into xtask (`xtask/data/mnist-sample`).
pub fn mnist_test_digits() -> lran::data::idx::LabelledImages {
    let manifest = manifest_dir();
    let dir = manifest.join("data/mnist-sample");
    let read = |name: &str| std::fs::read(dir.join(name)).unwrap();
    lran::data::idx::LabelledImages::from_idx(
        "t10k-images-idx3-ubyte.gz",
        &read("t10k-images-idx3-ubyte.gz"),
        "t10k-labels-idx1-ubyte.gz",
        &read("t10k-labels-idx1-ubyte.gz"),
    )
    .unwrap()
}
