//! Facts recorded with every result: the code's commit, the data's hashes, the time.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

/// The repository root (the workspace holding xtask). Taken from the CARGO_MANIFEST_DIR that
/// `cargo xtask` (cargo run) and `cargo test` set when the program starts, not the one compiled
/// in: a target directory shared by several checkouts (CI's warm one) reuses one binary for all
/// of them, and the compiled-in path names whichever checkout built it.
pub fn repository_root() -> PathBuf {
    let at_run_time = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
    let candidates = at_run_time
        .into_iter()
        .chain([PathBuf::from(env!("CARGO_MANIFEST_DIR"))]);
    for dir in candidates {
        // The workspace root (lran's tests run from there), or xtask's own directory.
        if dir.join("xtask/Cargo.toml").is_file() {
            return dir;
        }
        if dir.ends_with("xtask") && dir.join("Cargo.toml").is_file() {
            return dir
                .parent()
                .expect("xtask sits in the workspace")
                .to_path_buf();
        }
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace")
        .to_path_buf()
}

/// The checked-out commit (12 hex digits), with "-dirty" when the code differs from it (changes
/// to [`OUTPUTS`] do not count); outside a git checkout (a copy of the tree on a GPU machine),
/// `LRAN_COMMIT` as the script that built the binary recorded it; else "unknown".
pub fn commit() -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(repository_root())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(head) => {
            let mut args = vec!["status", "--porcelain", "--", "."];
            args.extend(OUTPUTS);
            let dirty = git(&args).is_none_or(|changes| !changes.is_empty());
            if dirty { format!("{head}-dirty") } else { head }
        }
        None => std::env::var("LRAN_COMMIT")
            .ok()
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| "unknown".into()),
    }
}

/// What lran's own commands write into the checkout (results, exported models, the report in
/// the README, figures, the gallery): changes there do not make the code "dirty", so results
/// re-derived one after another at a clean commit name that commit.
const OUTPUTS: [&str; 6] = [
    ":(exclude)results",
    ":(exclude)models",
    ":(exclude)runs",
    ":(exclude)docs",
    ":(exclude)www/samples",
    ":(exclude)README.md",
];

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    format!("cargo xtask {}", args.join(" "))
}

/// Writes pretty JSON, creating parent folders.
pub fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(path, text + "\n").with_context(|| format!("cannot write {}", path.display()))
}

pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid", path.display()))
}
