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
