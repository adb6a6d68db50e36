//! `.ci/run` on a fresh machine: its package installs must work on this machine's image, not
//! only where the packages happen to be installed already.
//!
//! Every `need PACKAGE CHECK` line is one `apt-get install PACKAGE`. For each, on this machine:
//! - CHECK finds nothing: the line would install here, so `apt-get install -s PACKAGE` must
//!   succeed;
//! - CHECK finds the tool and PACKAGE is installed: simulating it again must succeed too ("already
//!   the newest version"), which catches a package that conflicts with the rest of the machine
//!   even where it is present;
//! - CHECK finds the tool and another package provides it (npm inside the nodesource `nodejs`
//!   package of this project's image): the line never runs here, and simulating it would only
//!   report that conflict, so it is listed and not simulated.
//!
//! Needs Debian's apt; without it the test is skipped, unless `LRAN_REQUIRE_APT_CHECK=1` (set by
//! `.ci/run` under CI) makes that a failure.

mod common;

use std::process::Command;

fn ci_script() -> String {
    // This checkout's, read at run time (a shared warm target may hold a binary built elsewhere).
    let root = common::manifest_dir().join("..");
    std::fs::read_to_string(root.join(".ci/run")).expect(".ci/run is readable")
}

/// (package, check) for every `need` line of `.ci/run`.
fn need_lines(script: &str) -> Vec<(String, String)> {
    script
        .lines()
        .map(str::trim)
        .filter_map(|line| line.strip_prefix("need "))
        .map(|rest| {
            let (package, check) = rest
                .split_once(' ')
                .unwrap_or_else(|| panic!("`need {rest}` has no check"));
            (package.to_string(), check.trim().to_string())
        })
        .collect()
}

fn succeeds(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

fn dpkg_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|o| {
            o.status.success() && String::from_utf8_lossy(&o.stdout).ends_with(" installed")
        })
}

#[test]
fn every_apt_install_in_ci_run_names_one_package() {
    let script = ci_script();
    let installs: Vec<&str> = script
        .lines()
        .filter(|l| l.contains("apt-get install") && !l.trim_start().starts_with('#'))
        .collect();
    assert_eq!(
        installs.len(),
        1,
        "every install goes through need(), one package at a time: {installs:#?}"
    );
    assert!(
        installs[0].trim_end().ends_with("\"$package\" >/dev/null"),
        "need() installs exactly its one package: {}",
        installs[0]
    );
    let needs = need_lines(&script);
    for package in ["mesa-vulkan-drivers", "chromium", "nodejs", "npm"] {
        assert!(
            needs.iter().any(|(p, _)| p == package),
            ".ci/run no longer installs {package} when missing: {needs:?}"
        );
    }
    for (package, _) in &needs {
        assert!(
            !package.is_empty() && !package.contains(char::is_whitespace),
            "`need` takes one package: {package:?}"
        );
    }
}

#[test]
fn ci_run_package_installs_simulate_on_this_machine() {
    if !succeeds("apt-get", &["--version"]) || !succeeds("dpkg-query", &["--version"]) {
        assert!(
            !std::env::var("LRAN_REQUIRE_APT_CHECK").is_ok_and(|v| v == "1"),
            "LRAN_REQUIRE_APT_CHECK=1 but apt-get or dpkg-query is missing"
        );
        eprintln!("skipped: no apt-get here");
        return;
    }
    let mut simulated = 0;
    for (package, check) in need_lines(&ci_script()) {
        let present = succeeds("bash", &["-c", &check]);
        if present && !dpkg_installed(&package) {
            eprintln!("{package}: `{check}` finds it provided by another package; not simulated");
            continue;
        }
        let output = Command::new("apt-get")
            .args(["install", "-s", &package])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .expect("apt-get runs");
        let text = String::from_utf8_lossy(&output.stdout).to_string()
            + &String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "`apt-get install -s {package}` fails on this machine ({}), so .ci/run would too:\n{text}",
            if present {
                "installed already"
            } else {
                "missing here"
            }
        );
        eprintln!(
            "{package}: simulated ({})",
            if present {
                "installed"
            } else {
                "would install"
            }
        );
        simulated += 1;
    }
    assert!(simulated > 0, "no `need` line was simulated");
}
