//! The cold CI run's section (`results/ci/cold-run.json`, written by `bench/ci_cold_run.sh`).

use super::*;

/// `results/ci/cold-run.json`, written by `bench/ci_cold_run.sh`.
#[derive(Debug, Deserialize)]
pub(super) struct CiColdRun {
    pub(super) commit: String,
    pub(super) exit_status: i32,
    pub(super) wall_seconds: f64,
    pub(super) machine: CiMachine,
    #[serde(default)]
    pub(super) packages_installed_by_ci_run: Vec<String>,
    pub(super) cargo_builds: Vec<CiBuild>,
    pub(super) test_binaries: Vec<CiTestBinary>,
    pub(super) tests_passed: usize,
    pub(super) tests_failed: usize,
}

#[derive(Debug, Deserialize)]
pub(super) struct CiMachine {
    pub(super) cpus: usize,
}

#[derive(Debug, Deserialize)]
pub(super) struct CiBuild {
    pub(super) profile: String,
    pub(super) seconds: f64,
}

#[derive(Debug, Deserialize)]
pub(super) struct CiTestBinary {
    pub(super) binary: String,
    pub(super) seconds: f64,
}

pub(super) fn minutes(seconds: f64) -> String {
    format!("{:.1} min", seconds / 60.0)
}

/// How long a cold CI run takes (CI allows 90 minutes), and where the time goes.
pub(super) fn ci_section(out: &mut String, run: &CiColdRun) {
    out.push_str("### A cold CI run\n\n");
    out.push_str(&format!(
        "`CI=true bash .ci/run` in a fresh clone with an empty target directory and tool cache, \
         on {} CPUs, commit `{}` (`results/ci/cold-run.json`, written by `bench/ci_cold_run.sh`): \
         **{}** in all (CI allows 90 min), exit status {}, {} tests passed, {} failed{}.\n\n",
        run.machine.cpus,
        run.commit,
        minutes(run.wall_seconds),
        run.exit_status,
        run.tests_passed,
        run.tests_failed,
        if run.packages_installed_by_ci_run.is_empty() {
            String::new()
        } else {
            format!(
                "; it installed {}",
                run.packages_installed_by_ci_run.join(", ")
            )
        }
    ));
    out.push_str("| step | time |\n| --- | --- |\n");
    for build in &run.cargo_builds {
        let what = match build.profile.as_str() {
            "test" => "compiling the test build (native)",
            "release" => "installing the wasm-bindgen CLI (`cargo install`)",
            "web-quick-gpu" => "compiling the page's WebGPU module (wasm32)",
            "web-quick-cpu" => "compiling the page's CPU module (wasm32)",
            other => other,
        };
        out.push_str(&format!(
            "| {what} (profile `{}`) | {} |\n",
            build.profile,
            minutes(build.seconds)
        ));
    }
    let slowest = run
        .test_binaries
        .iter()
        .max_by(|a, b| a.seconds.total_cmp(&b.seconds));
    let total: f64 = run.test_binaries.iter().map(|t| t.seconds).sum();
    out.push_str(&format!(
        "| running the {} test binaries (the browser test's wasm builds included){} | {} |\n\n",
        run.test_binaries.len(),
        slowest
            .map(|t| format!("; longest `{}`", t.binary))
            .unwrap_or_default(),
        minutes(total)
    ));
}
