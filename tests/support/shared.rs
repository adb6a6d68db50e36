//! `../shared/` beside a checkout, for the tests of both crates (`tests/common.rs` and
//! `xtask/tests/common/mod.rs` include this file): a user's clone has none, so the tests that
//! need it say so and pass, unless CI=true or LRAN_REQUIRE_DATA=1 make its absence a failure.

use std::path::{Path, PathBuf};

/// `<repository>/../shared/<relative>` (a file or a folder), or None when it is absent and not
/// required.
pub fn shared_beside(repository: &Path, relative: &str) -> Option<PathBuf> {
    let path = repository.join("../shared").join(relative);
    if path.exists() {
        return Some(path.canonicalize().unwrap_or(path));
    }
    let required = std::env::var("CI").is_ok_and(|v| v == "true")
        || std::env::var("LRAN_REQUIRE_DATA").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "{} is missing (CI must have the shared data)",
        path.display()
    );
    eprintln!(
        "skipped: {} is absent (see the README for the data)",
        path.display()
    );
    None
}
