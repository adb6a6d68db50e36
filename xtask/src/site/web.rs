//! `cargo xtask web` and `cargo xtask dist`: the browser build of the `lran` crate.
//!
//! The crate is compiled for wasm32 twice: `lran_gpu` with the `webgpu` feature (profile
//! `web-gpu`, optimised for size) and `lran_cpu` without it (profile `web-cpu`, optimised for
//! speed and much smaller); the page loads the first when the browser offers a WebGPU adapter
//! and the second otherwise. wasm-bindgen (the CLI pinned to the exact version in Cargo.lock,
//! installed once into a cache if missing) writes the JS glue, and binaryen's `wasm-opt` shrinks
//! each module when it can be found (PATH, or npm's `binaryen` under `xtask/node_modules`).
//! `www/pkg/` receives both, the list of exported models, sample images, `build.json` with
//! the sizes and versions, and the results page's data (`results/`, see [`results_page`]) with
//! uPlot, the charting library it draws with (npm's `uplot`, copied into `vendor/`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::listings::{write_model_list, write_samples};
use super::results_page;
use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Serialize;

use crate::provenance::{commit, now_unix, read_json, sha256_hex, write_json};

/// The wasm builds' Rust flags: WebAssembly SIMD (every current browser has it) speeds up the
/// CPU backend's kernels.
const WASM_RUSTFLAGS: &str = "-C target-feature=+simd128";
/// Features the builds use, told to wasm-opt: Rust's wasm32 defaults plus SIMD.
const WASM_OPT_FEATURES: &[&str] = &[
    "--enable-bulk-memory",
    "--enable-nontrapping-float-to-int",
    "--enable-sign-ext",
    "--enable-mutable-globals",
    "--enable-reference-types",
    "--enable-multivalue",
    "--enable-simd",
];
const TARGET: &str = "wasm32-unknown-unknown";
/// What a site consists of: the page, its scripts and styles, and the exported models.
pub const SITE_ENTRIES: [&str; 3] = ["index.html", "www", "models"];

/// One of the page's WebAssembly modules.
struct WasmModule {
    /// File stem under `www/pkg`: `<name>.js` and `<name>_bg.wasm`.
    name: &'static str,
    backend: &'static str,
    profile: &'static str,
    /// The profile under `--quick`: the same settings for both modules, one folder each (both
    /// compile to `lran.wasm`).
    quick_profile: &'static str,
    features: &'static str,
    wasm_opt_level: &'static str,
}

const MODULES: [WasmModule; 2] = [
    WasmModule {
        name: "lran_gpu",
        backend: "webgpu",
        profile: "web-gpu",
        quick_profile: "web-quick-gpu",
        features: "webgpu",
        wasm_opt_level: "-Oz",
    },
    WasmModule {
        name: "lran_cpu",
        backend: "cpu",
        profile: "web-cpu",
        quick_profile: "web-quick-cpu",
        features: "",
        wasm_opt_level: "-O3",
    },
];

#[derive(Debug, Args, Clone)]
pub struct WebArgs {
    /// Skip wasm-opt even when it is available (faster, larger).
    #[arg(long)]
    pub no_wasm_opt: bool,
    /// A build for tests: both modules in the `web-quick-*` profiles (no link-time
    /// optimisation, parallel code generation) and `wasm-opt -O1`. Much faster to compile cold,
    /// larger and slower to run; the shipped builds keep their profiles and levels.
    #[arg(long)]
    pub quick: bool,
}

/// wasm-opt's level under `--quick`: its fast passes, not the minutes-long `-Oz`/`-O3`.
const QUICK_WASM_OPT_LEVEL: &str = "-O1";

#[derive(Debug, Args)]
pub struct DistArgs {
    #[command(flatten)]
    pub web: WebArgs,
    /// Folder to write (replaced if it exists).
    #[arg(long, default_value = "dist")]
    pub out: PathBuf,
}

/// `www/pkg/build.json`: what was built, how, and how large it is (the page shows the sizes).
#[derive(Debug, Serialize)]
pub struct BuildInfo {
    pub commit: String,
    pub target: String,
    pub rustflags: String,
    pub wasm_bindgen: String,
    pub modules: Vec<ModuleInfo>,
    pub built_unix: u64,
    /// Whether `pkg/vendor/niivue.js` was bundled: the page shows volumes in NiiVue only then.
    pub viewer: bool,
}

#[derive(Debug, Serialize)]
pub struct ModuleInfo {
    pub name: String,
    /// "webgpu" or "cpu": which browsers load it.
    pub backend: String,
    pub profile: String,
    /// `wasm-opt --version` and level, or None when it was not run.
    pub wasm_opt: Option<String>,
    pub wasm_bytes: u64,
    pub wasm_gzip_bytes: u64,
    pub js_bytes: u64,
}

/// The repository root (the workspace holding xtask).
pub fn root() -> PathBuf {
    crate::provenance::repository_root()
}

pub fn run(args: WebArgs) -> Result<()> {
    build(&root(), &args).map(|_| ())
}

pub fn run_dist(args: DistArgs) -> Result<()> {
    let root = root();
    build(&root, &args.web)?;
    let out = if args.out.is_absolute() {
        args.out.clone()
    } else {
        std::env::current_dir()?.join(&args.out)
    };
    if out.exists() {
        // Only ever delete an earlier site: never a folder holding anything else.
        let foreign = std::fs::read_dir(&out)
            .with_context(|| format!("cannot read {}", out.display()))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|name| !SITE_ENTRIES.contains(&name.as_str()));
        if let Some(name) = foreign {
            bail!(
                "{} holds {name}, which is not part of a site: choose an empty or new folder for --out",
                out.display()
            );
        }
        std::fs::remove_dir_all(&out)
            .with_context(|| format!("cannot replace {}", out.display()))?;
    }
    for entry in SITE_ENTRIES {
        copy_tree(&root.join(entry), &out.join(entry))?;
    }
    let bytes = folder_bytes(&out)?;
    eprintln!(
        "wrote {} ({:.1} MB): serve it from any static host",
        out.display(),
        bytes as f64 / 1e6
    );
    Ok(())
}

/// Builds both wasm modules into `<root>/www/pkg` and returns what was built.
pub fn build(root: &Path, args: &WebArgs) -> Result<BuildInfo> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let version = wasm_bindgen_version(&root.join("Cargo.lock"))?;
    let wasm_bindgen = wasm_bindgen_cli(&cargo, &version)?;
    ensure_target()?;
    let target_dir = target_dir(&cargo, root)?;

    let pkg = root.join("www").join("pkg");
    if pkg.exists() {
        std::fs::remove_dir_all(&pkg).with_context(|| format!("cannot clear {}", pkg.display()))?;
    }
    std::fs::create_dir_all(&pkg)?;
    let mut modules = Vec::new();
    for module in &MODULES {
        let (profile, wasm_opt_level) = if args.quick {
            (module.quick_profile, QUICK_WASM_OPT_LEVEL)
        } else {
            (module.profile, module.wasm_opt_level)
        };
        eprintln!(
            "building {} for {TARGET} (profile {profile}; the first build takes a while)",
            module.name
        );
        let status = Command::new(&cargo)
            .current_dir(root)
            .args([
                "build",
                "--lib",
                "--package",
                "lran",
                "--target",
                TARGET,
                "--no-default-features",
            ])
            .args(["--features", module.features, "--profile", profile])
            .env(
                "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS",
                WASM_RUSTFLAGS,
            )
            .status()
            .context("cannot run cargo")?;
        if !status.success() {
            bail!("the wasm32 build of {} failed", module.name);
        }
        let out = target_dir.join(TARGET).join(profile);
        let packaged = package(
            root,
            &out,
            module,
            wasm_opt_level,
            &wasm_bindgen,
            &version,
            args,
        )?;
        for file in [
            format!("{}.js", module.name),
            format!("{}_bg.wasm", module.name),
        ] {
            std::fs::copy(packaged.dir.join(&file), pkg.join(&file))
                .with_context(|| format!("cannot copy {file}"))?;
        }
        let bytes = std::fs::read(pkg.join(format!("{}_bg.wasm", module.name)))?;
        modules.push(ModuleInfo {
            name: module.name.into(),
            backend: module.backend.into(),
            profile: profile.into(),
            wasm_opt: packaged.wasm_opt,
            wasm_bytes: bytes.len() as u64,
            wasm_gzip_bytes: gzip_len(&bytes)?,
            js_bytes: std::fs::metadata(pkg.join(format!("{}.js", module.name)))?.len(),
        });
    }
    let viewer = vendor_niivue(root, &pkg)?;
    let info = BuildInfo {
        commit: commit(),
        target: TARGET.into(),
        rustflags: WASM_RUSTFLAGS.into(),
        wasm_bindgen: version,
        modules,
        built_unix: now_unix(),
        viewer,
    };
    write_json(&pkg.join("build.json"), &info)?;
    let models = write_model_list(root, &pkg)?;
    write_samples(root, &pkg, &models)?;
    let tables = results_page::write(root, &pkg)?;
    let charts = vendor_uplot(root, &pkg)?;
    for module in &info.modules {
        eprintln!(
            "www/pkg/{}_bg.wasm ({}): {:.2} MB, {:.2} MB gzipped{}",
            module.name,
            module.backend,
            module.wasm_bytes as f64 / 1e6,
            module.wasm_gzip_bytes as f64 / 1e6,
            module
                .wasm_opt
                .as_ref()
                .map(|v| format!(" ({v})"))
                .unwrap_or_else(|| " (no wasm-opt)".into()),
        );
    }
    eprintln!(
        "results page: {tables} tables{}",
        if charts {
            ""
        } else {
            " (no charts: npm could not install uPlot for xtask/package.json)"
        }
    );
    if !viewer {
        eprintln!("no volume viewer: npm could not install NiiVue for xtask/package.json");
    }
    eprintln!(
        "models: {}",
        models
            .iter()
            .map(|m| m.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(info)
}

/// Adds the wasm32 target through rustup when it is missing (a fresh machine lacks it).
fn ensure_target() -> Result<()> {
    let Ok(output) = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
    else {
        return Ok(()); // No rustup: the toolchain is managed elsewhere; cargo will say if the target is missing.
    };
    if String::from_utf8_lossy(&output.stdout)
        .lines()
        .any(|l| l.trim() == TARGET)
    {
        return Ok(());
    }
    eprintln!("adding the {TARGET} target with rustup");
    let status = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status()
        .context("cannot run rustup")?;
    if !status.success() {
        bail!("`rustup target add {TARGET}` failed");
    }
    Ok(())
}

/// Records, beside a packaged build, what it was made from.
const STAMP: &str = "packaged-from.json";

struct Packaged {
    dir: PathBuf,
    wasm_opt: Option<String>,
}

/// wasm-bindgen and wasm-opt over the compiled `lran.wasm` in `out`, into `out/pkg`. wasm-opt
/// takes minutes, so the result is kept there and reused while the compiled module, the tools
/// and the options are unchanged (CI keeps the target folder warm).
fn package(
    root: &Path,
    out: &Path,
    module: &WasmModule,
    wasm_opt_level: &str,
    wasm_bindgen: &Path,
    version: &str,
    args: &WebArgs,
) -> Result<Packaged> {
    let wasm = out.join("lran.wasm");
    let compiled =
        std::fs::read(&wasm).with_context(|| format!("cannot read {}", wasm.display()))?;
    let dir = out.join("pkg");
    let wasm_opt_flags = [&[wasm_opt_level][..], WASM_OPT_FEATURES].concat();
    let mut stamp = serde_json::json!({
        "source_sha256": sha256_hex(&compiled),
        "name": module.name,
        "wasm_bindgen": version,
        "wasm_opt_requested": !args.no_wasm_opt,
        "wasm_opt_flags": wasm_opt_flags,
    });
    if let Ok(previous) = read_json::<serde_json::Value>(&dir.join(STAMP)) {
        let mut without_result = previous.clone();
        let wasm_opt = without_result
            .as_object_mut()
            .and_then(|o| o.remove("wasm_opt"));
        if without_result == stamp && dir.join(format!("{}_bg.wasm", module.name)).is_file() {
            eprintln!(
                "reusing the packaged {} in {} (unchanged module)",
                module.name,
                dir.display()
            );
            let wasm_opt = wasm_opt.and_then(|v| v.as_str().map(String::from));
            return Ok(Packaged { dir, wasm_opt });
        }
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("cannot clear {}", dir.display()))?;
    }
    let status = Command::new(wasm_bindgen)
        .args([
            "--target",
            "web",
            "--no-typescript",
            "--remove-name-section",
            "--remove-producers-section",
        ])
        .args(["--out-name", module.name, "--out-dir"])
        .arg(&dir)
        .arg(&wasm)
        .status()
        .with_context(|| format!("cannot run {}", wasm_bindgen.display()))?;
    if !status.success() {
        bail!("wasm-bindgen failed on {}", wasm.display());
    }
    let bg = dir.join(format!("{}_bg.wasm", module.name));
    let wasm_opt = if args.no_wasm_opt {
        None
    } else {
        optimise(root, &bg, wasm_opt_level)?
    };
    stamp["wasm_opt"] = serde_json::json!(wasm_opt);
    write_json(&dir.join(STAMP), &stamp)?;
    Ok(Packaged { dir, wasm_opt })
}

/// The `wasm-bindgen` version Cargo.lock resolved: the CLI must match it exactly.
fn wasm_bindgen_version(lock: &Path) -> Result<String> {
    let text =
        std::fs::read_to_string(lock).with_context(|| format!("cannot read {}", lock.display()))?;
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "name = \"wasm-bindgen\""
            && let Some(version) = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("version = \""))
        {
            return Ok(version.trim_end_matches('"').to_string());
        }
    }
    bail!("{} names no wasm-bindgen package", lock.display())
}

/// A `wasm-bindgen` CLI of exactly `version`: on PATH, in our tool cache, or installed there.
fn wasm_bindgen_cli(cargo: &str, version: &str) -> Result<PathBuf> {
    let reports = |program: &Path| {
        Command::new(program)
            .arg("--version")
            .output()
            .is_ok_and(|o| {
                String::from_utf8_lossy(&o.stdout).trim() == format!("wasm-bindgen {version}")
            })
    };
    if reports(Path::new("wasm-bindgen")) {
        return Ok("wasm-bindgen".into());
    }
    let cache = tool_cache()?.join(format!("wasm-bindgen-{version}"));
    let program = cache.join("bin").join("wasm-bindgen");
    if reports(&program) {
        return Ok(program);
    }
    eprintln!(
        "installing wasm-bindgen-cli {version} into {} (once, a few minutes)",
        cache.display()
    );
    let status = Command::new(cargo)
        .args([
            "install",
            "wasm-bindgen-cli",
            "--version",
            version,
            "--root",
        ])
        .arg(&cache)
        // Its own build folder: the tool's dependencies must not touch the project's.
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .context("cannot run cargo install")?;
    if !status.success() || !reports(&program) {
        bail!(
            "could not install wasm-bindgen-cli {version} (offline? install it with `cargo install wasm-bindgen-cli --version {version}`)"
        );
    }
    Ok(program)
}

fn tool_cache() -> Result<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .context("neither XDG_CACHE_HOME nor HOME is set: nowhere to cache tools")?;
    Ok(base.join("lran").join("tools"))
}

/// Cargo's target folder, as `cargo metadata` reports it (honours CARGO_TARGET_DIR and config).
fn target_dir(cargo: &str, root: &Path) -> Result<PathBuf> {
    let output = Command::new(cargo)
        .current_dir(root)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .context("cannot run cargo metadata")?;
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).context("cargo metadata output")?;
    metadata["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .context("cargo metadata names no target directory")
}

/// Runs `wasm-opt <level>` in place; returns its version and level, or None (with a warning)
/// when there is no wasm-opt.
fn optimise(root: &Path, wasm: &Path, level: &str) -> Result<Option<String>> {
    let local = root
        .join("xtask")
        .join("node_modules")
        .join(".bin")
        .join("wasm-opt");
    let version = |program: &Path| {
        Command::new(program)
            .arg("--version")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let mut found = [PathBuf::from("wasm-opt"), local.clone()]
        .into_iter()
        .find_map(|p| version(&p).map(|v| (p, v)));
    if found.is_none() && node_tools(root) {
        found = version(&local).map(|v| (local, v));
    }
    let Some((program, version)) = found else {
        eprintln!(
            "warning: wasm-opt not found (install binaryen, or npm for xtask/package.json); {} stays unoptimised",
            wasm.display()
        );
        return Ok(None);
    };
    let optimised = wasm.with_extension("opt.wasm");
    let status = Command::new(&program)
        .args([level, "--strip-debug", "--strip-producers"])
        .args(WASM_OPT_FEATURES)
        .arg(wasm)
        .arg("-o")
        .arg(&optimised)
        .status()
        .with_context(|| format!("cannot run {}", program.display()))?;
    if !status.success() {
        bail!("wasm-opt failed on {}", wasm.display());
    }
    std::fs::rename(&optimised, wasm)?;
    Ok(Some(format!("{version} {level}")))
}

/// Installs `xtask/package.json`'s tools with npm (once: `npm ci` when a package is missing);
/// false without npm.
fn node_tools(root: &Path) -> bool {
    let modules = root.join("xtask").join("node_modules");
    if NODE_TOOLS
        .iter()
        .all(|name| modules.join(name).join("package.json").is_file())
    {
        return true;
    }
    if !root.join("xtask").join("package-lock.json").is_file() {
        return false;
    }
    eprintln!(
        "fetching {} with npm into xtask/node_modules",
        NODE_TOOLS.join(" and ")
    );
    Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--prefix"])
        .arg(root.join("xtask"))
        .status()
        .is_ok_and(|s| s.success())
}

/// `xtask/package.json`'s packages.
const NODE_TOOLS: [&str; 4] = ["binaryen", "uplot", "esbuild", "@niivue/niivue"];

/// uPlot's script and style sheet into `pkg/vendor/` (the site's Content-Security-Policy allows
/// no CDN); false, with the page drawing no charts, where npm cannot install it.
fn vendor_uplot(root: &Path, pkg: &Path) -> Result<bool> {
    if !node_tools(root) {
        return Ok(false);
    }
    let dist = root.join("xtask/node_modules/uplot/dist");
    let vendor = pkg.join("vendor");
    std::fs::create_dir_all(&vendor)?;
    for file in ["uPlot.iife.min.js", "uPlot.min.css"] {
        std::fs::copy(dist.join(file), vendor.join(file))
            .with_context(|| format!("cannot copy uPlot's {file}"))?;
    }
    std::fs::copy(
        root.join("xtask/node_modules/uplot/LICENSE"),
        vendor.join("uPlot-LICENSE"),
    )
    .context("cannot copy uPlot's licence")?;
    Ok(true)
}

/// NiiVue, bundled by esbuild with its dependencies into one ES module, `pkg/vendor/niivue.js`,
/// that the page imports only when a volume is dropped (its npm build imports bare package
/// names, which a browser cannot resolve without a bundler or an inline import map, and the
/// Content-Security-Policy allows neither inline scripts nor CDNs); false, with volumes shown
/// one slice at a time, where npm cannot install it.
fn vendor_niivue(root: &Path, pkg: &Path) -> Result<bool> {
    if !node_tools(root) {
        return Ok(false);
    }
    let tools = root.join("xtask");
    let vendor = pkg.join("vendor");
    std::fs::create_dir_all(&vendor)?;
    let entry = patched_niivue(&tools)?;
    let mut esbuild = Command::new(tools.join("node_modules/.bin/esbuild"))
        .current_dir(&tools)
        .args([
            "--bundle",
            "--format=esm",
            "--minify",
            "--legal-comments=none",
        ])
        .arg("--log-level=warning")
        .arg(format!("--outfile={}", vendor.join("niivue.js").display()))
        .stdin(std::process::Stdio::piped())
        .spawn()
        .context("cannot run esbuild (xtask/node_modules/.bin/esbuild)")?;
    esbuild.stdin.take().expect("piped").write_all(
        format!("export {{ Niivue, NVImage, SLICE_TYPE, SHOW_RENDER }} from './{entry}';\n")
            .as_bytes(),
    )?;
    let status = esbuild.wait()?;
    anyhow::ensure!(
        status.success(),
        "esbuild could not bundle NiiVue ({status})"
    );
    // The npm package ships no licence file: its package.json names the licence.
    let package: serde_json::Value =
        read_json(&tools.join("node_modules/@niivue/niivue/package.json"))?;
    let field = |name: &str| package[name].as_str().unwrap_or("?").to_string();
    std::fs::write(
        vendor.join("niivue-NOTICE.txt"),
        format!(
            "niivue.js bundles {} {} ({} licence, by the {}; https://github.com/niivue/niivue) with its npm dependencies, each under its own licence (xtask/package-lock.json lists them). lran patched one line (the gradient texture computed only where the render shader reads it: docs/niivue-lazy-gradient.md).\n",
            field("name"),
            field("version"),
            field("license"),
            field("author"),
        ),
    )?;
    Ok(true)
}

/// NiiVue's ES module, where the page's viewer runs it.
const NIIVUE_MODULE: &str = "node_modules/@niivue/niivue/build/niivue/index.js";
/// Where [`patched_niivue`] writes it patched: inside `node_modules`, so that its bare imports
/// (gl-matrix, fflate, ...) resolve as the original's do.
const NIIVUE_PATCHED: &str = "node_modules/.lran/niivue.js";
/// NiiVue 0.69 recomputes the background's gradient texture (a blur and a Sobel pass over the
/// whole volume) on every layer refresh, though only the gradient render shaders sample it;
/// on a software WebGL (no GPU) that is seconds per volume and per threshold change. The patch
/// computes it only where the render shader in use reads it (NiiVue's own
/// setVolumeRenderIllumination refreshes layer 0 after switching shaders, so it stays correct
/// there). Written up for NiiVue's tracker in docs/niivue-lazy-gradient.md.
const NIIVUE_GRADIENT_PATCH: (&str, &str) = (
    "      this.volumeTexture = outTexture;\n      this.gradientTexture = gradientGL({",
    "      this.volumeTexture = outTexture;\n      if (this.renderShader === this.renderGradientShader || this.renderShader === this.renderGradientValuesShader) this.gradientTexture = gradientGL({",
);

/// Writes NiiVue's module with [`NIIVUE_GRADIENT_PATCH`] applied; returns its path under `tools`.
/// Another NiiVue version without the patched code is an error naming it, not a silent skip.
fn patched_niivue(tools: &Path) -> Result<&'static str> {
    let source = std::fs::read_to_string(tools.join(NIIVUE_MODULE))
        .with_context(|| format!("cannot read {NIIVUE_MODULE}"))?;
    let (from, to) = NIIVUE_GRADIENT_PATCH;
    anyhow::ensure!(
        source.matches(from).count() == 1,
        "{NIIVUE_MODULE}: the gradient patch's code occurs {} times, not once: update NIIVUE_GRADIENT_PATCH for this NiiVue version",
        source.matches(from).count()
    );
    let target = tools.join(NIIVUE_PATCHED);
    std::fs::create_dir_all(target.parent().expect("a file in a folder"))?;
    std::fs::write(&target, source.replacen(from, to, 1))?;
    Ok(NIIVUE_PATCHED)
}

fn gzip_len(bytes: &[u8]) -> Result<u64> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes)?;
    Ok(encoder.finish()?.len() as u64)
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    if from.is_file() {
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(from, to).with_context(|| format!("cannot copy {}", from.display()))?;
        return Ok(());
    }
    std::fs::create_dir_all(to)?;
    for entry in
        std::fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))?
    {
        let path = entry?.path();
        copy_tree(&path, &to.join(path.file_name().unwrap()))?;
    }
    Ok(())
}

fn folder_bytes(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        total += if path.is_dir() {
            folder_bytes(&path)?
        } else {
            std::fs::metadata(&path)?.len()
        };
    }
    Ok(total)
}
