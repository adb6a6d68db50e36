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

/// The fields every results file lran writes opens with: which layout it is, the code that
/// wrote it, when, and the command line that did. Each results struct flattens one in, so the
/// JSON keeps these four at its top level.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ResultsHeader {
    /// The file's layout and its version, e.g. "lran-eval/1".
    pub kind: String,
    pub commit: String,
    pub created_unix: u64,
    /// Empty in files written before it was recorded (the first `eval --run` files).
    #[serde(default)]
    pub command: String,
}

impl ResultsHeader {
    /// A file written now by this process, from the checked-out code.
    pub fn now(kind: &str) -> Self {
        Self::of_commit(kind, commit())
    }

    /// A file written now about code measured at `commit` (taken before the run rewrote any
    /// tracked results file, so a clean run is not stamped dirty by its own output).
    pub fn of_commit(kind: &str, commit: String) -> Self {
        Self {
            kind: kind.into(),
            commit,
            created_unix: now_unix(),
            command: command_line(),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::ResultsHeader;

    #[derive(serde::Serialize, serde::Deserialize)]
    struct AResultsFile {
        #[serde(flatten)]
        header: ResultsHeader,
        figure: f64,
    }

    /// The header's fields sit at the file's top level (files written before it keep their
    /// layout), and a file from before commands were recorded still reads.
    #[test]
    fn the_header_is_flat_in_the_file_and_older_files_without_a_command_read() {
        let file = AResultsFile {
            header: ResultsHeader::of_commit("lran-test/1", "abc123".into()),
            figure: 0.5,
        };
        let json = serde_json::to_value(&file).unwrap();
        assert_eq!(json["kind"], "lran-test/1");
        assert_eq!(json["commit"], "abc123");
        assert!(json["created_unix"].as_u64().unwrap() > 0);
        assert!(json["command"].as_str().unwrap().starts_with("cargo xtask"));
        assert_eq!(json["figure"], 0.5);

        let older: AResultsFile = serde_json::from_str(
            r#"{"kind": "lran-eval/1", "commit": "d00d", "created_unix": 7, "figure": 1.0}"#,
        )
        .unwrap();
        assert_eq!(older.header.command, "");
        assert_eq!(older.header.created_unix, 7);
        assert!(
            serde_json::from_str::<AResultsFile>(r#"{"commit": "d00d", "figure": 1.0}"#).is_err()
        );
    }
}
