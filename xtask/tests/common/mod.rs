//! Helpers shared by the command-line tests: run the built xtask binary, and a fresh scratch
//! folder per test.

#![allow(dead_code)]

pub mod brain;
#[path = "../../../tests/support/shared.rs"]
mod shared;

use std::ffi::OsStr;
use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `cargo xtask <args>` (the binary this test build made) in `dir`.
pub fn xtask<S: AsRef<OsStr>>(args: &[S], dir: &Path) -> Output {
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

/// `../shared/data/<name>` beside this checkout, or None when absent and not required.
pub fn shared_data(name: &str) -> Option<PathBuf> {
    shared(&format!("data/{name}"))
}

/// `../shared/<relative>` beside this checkout, or None when absent and not required.
pub fn shared(relative: &str) -> Option<PathBuf> {
    shared::shared_beside(manifest_dir().parent().unwrap(), relative)
}

/// Stdout and stderr of a finished command, in that order.
pub fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs `cargo xtask ARGS` in `dir`: it must succeed; returns what it printed.
pub fn succeeds<S: AsRef<OsStr> + Debug>(args: &[S], dir: &Path) -> String {
    let output = xtask(args, dir);
    assert!(
        output.status.success(),
        "{args:?} failed: {}",
        text(&output)
    );
    text(&output)
}

/// Runs `cargo xtask ARGS` in `dir`: it must fail, without a panic, saying each of `expected`.
pub fn fails_with<S: AsRef<OsStr> + Debug>(args: &[S], dir: &Path, expected: &[&str]) {
    let output = xtask(args, dir);
    let message = text(&output);
    assert!(!output.status.success(), "{args:?} should fail: {message}");
    assert!(
        !message.contains("panicked"),
        "{args:?} panicked: {message}"
    );
    for part in expected {
        assert!(
            message.contains(part),
            "{args:?}: expected {part:?} in {message}"
        );
    }
}

/// A JSON file, read and parsed (a test failure naming the file otherwise).
pub fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
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

/// A command line's words (`"train --epochs 1"` → `["train", "--epochs", "1"]`), so that a
/// test's arguments read as the command a user types.
pub fn argv(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// [`argv`] with values: each word `{}` is the next of `values`, whole (a path with a space in
/// it stays one argument).
pub fn argv_with(line: &str, values: &[&str]) -> Vec<String> {
    let mut values = values.iter();
    let words: Vec<String> = line
        .split_whitespace()
        .map(|word| match word {
            "{}" => values.next().expect("a value for each {}").to_string(),
            _ => word.to_string(),
        })
        .collect();
    assert!(values.next().is_none(), "more values than {{}} in {line:?}");
    words
}

/// What `cargo xtask score` writes for a latent score's verdict.
pub fn verdict(anomalous: bool) -> &'static str {
    if anomalous { "anomalous" } else { "normal" }
}
