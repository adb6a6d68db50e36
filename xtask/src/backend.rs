//! `--backend`: which burn device trains and scores.

use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use std::sync::OnceLock;

use lran::burn::tensor::Device;
use lran::burn::tensor::wgpu::WgpuBackend;
use lran::conv::ConvAlgorithm;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// A hardware GPU through wgpu if one is found, else the CPU.
    Auto,
    /// The GPU through wgpu (Vulkan, Metal, DX12 or GL: `LRAN_WGPU_API`; the build decides
    /// shaders, autotune and fusion, see `wgpu_build`).
    Wgpu,
    /// burn's flex backend on the CPU (multi-threaded).
    Cpu,
}

/// The chosen device and a description for logs and provenance.
pub struct SelectedDevice {
    pub device: Device,
    pub description: String,
    /// Short: what results files are named after (adapter and build, no driver details).
    pub name: String,
    /// How models built for this device compute their convolutions (`--conv`): put into their
    /// configuration with [`lran::ModelConfig::with_conv`].
    pub conv: ConvAlgorithm,
}

/// `--conv`: how the model's convolutions are computed (`lran::conv`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConvChoice {
    /// The measured faster one per backend. On flex burn's own (measured here: the matmul
    /// form is 2.5–3× slower, flex's convolutions are already matmul-based). On wgpu burn's
    /// too, until a GPU run of `cargo xtask bench` (which measures both) shows otherwise: on
    /// lavapipe the matmuls beat the direct kernels but the gathers cost more than that saves.
    Auto,
    /// burn's convolution ops.
    Native,
    /// Gathers plus one matmul per convolution.
    Gemm,
}

/// The convolution algorithm `choice` means. `auto` is burn's own on every backend for now
/// (see ConvChoice::Auto); when a GPU measurement says otherwise, this takes the backend.
pub fn conv_algorithm_for(choice: ConvChoice) -> ConvAlgorithm {
    match choice {
        ConvChoice::Native | ConvChoice::Auto => ConvAlgorithm::Native,
        ConvChoice::Gemm => ConvAlgorithm::Gemm,
    }
}

/// The device for `backend` with the convolution algorithm `conv` means, named in the
/// description, so results files record it.
pub fn select(backend: Backend, conv: ConvChoice) -> Result<SelectedDevice> {
    let mut selected = select_device(backend)?;
    selected.conv = conv_algorithm_for(conv);
    selected
        .description
        .push_str(&format!(", conv {}", selected.conv.name()));
    Ok(selected)
}

pub fn select_device(backend: Backend) -> Result<SelectedDevice> {
    match backend {
        Backend::Cpu => Ok(cpu()),
        Backend::Wgpu => wgpu().map(|(selected, _)| selected).context(
            "no usable wgpu adapter (install a Vulkan/Metal/DX12 driver, e.g. mesa-vulkan-drivers, or use --backend cpu)",
        ),
        // A software adapter (lavapipe) is 20–30× slower than flex: auto takes the CPU then.
        Backend::Auto => match wgpu() {
            Ok((selected, true)) => Ok(selected),
            _ => Ok(cpu()),
        },
    }
}

fn cpu() -> SelectedDevice {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    SelectedDevice {
        device: Device::flex(),
        description: format!("flex (CPU, {threads} threads)"),
        name: format!("flex cpu {threads} threads"),
        conv: ConvAlgorithm::Native,
    }
}

/// The graphics API wgpu is pinned to by `LRAN_WGPU_API` (`vulkan`, `gl`, `metal`, `dx12`;
/// unset or `auto`: wgpu's choice). GL is how a CPU-only machine runs the fusion + autotune
/// build, which crashes inside Mesa's lavapipe (Vulkan).
pub fn graphics_api() -> Result<WgpuBackend> {
    let value = std::env::var("LRAN_WGPU_API").unwrap_or_default();
    Ok(match value.to_ascii_lowercase().as_str() {
        "" | "auto" => WgpuBackend::Auto,
        "vulkan" => WgpuBackend::Vulkan,
        "gl" | "opengl" => WgpuBackend::Gl,
        "metal" => WgpuBackend::Metal,
        "dx12" => WgpuBackend::Dx12,
        other => bail!("LRAN_WGPU_API={other}: expected auto, vulkan, gl, metal or dx12"),
    })
}

/// The default wgpu adapter, and whether it is hardware (a card rather than a rasterizer).
/// Opened once per process: burn's wgpu runtime cannot be initialised twice.
fn wgpu() -> Result<(SelectedDevice, bool)> {
    static OPENED: OnceLock<std::result::Result<(SelectedDevice, bool), String>> = OnceLock::new();
    let opened = OPENED.get_or_init(|| open_wgpu().map_err(|e| format!("{e:#}")));
    match opened {
        Ok((selected, hardware)) => Ok((
            SelectedDevice {
                device: selected.device.clone(),
                description: selected.description.clone(),
                name: selected.name.clone(),
                conv: selected.conv,
            },
            *hardware,
        )),
        Err(message) => bail!("{message}"),
    }
}

fn open_wgpu() -> Result<(SelectedDevice, bool)> {
    let api = graphics_api()?;
    // Adapter discovery can panic inside drivers; keep that a clean error.
    let device = std::panic::catch_unwind(|| Device::wgpu_options().graphics_api(api).init())
        .map_err(|_| anyhow::anyhow!("the wgpu runtime panicked while looking for an adapter"))?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let identity = std::panic::catch_unwind(|| device.identity())
        .map_err(|_| anyhow::anyhow!("the wgpu adapter failed to open"))?;
    let Some(identity) = identity else {
        bail!("the wgpu device reports no adapter")
    };
    let hardware = identity.physical.is_some();
    let kind = if hardware { "" } else { ", software" };
    let api = match api {
        WgpuBackend::Auto => String::new(),
        other => format!(", {other:?}"),
    };
    // "llvmpipe (LLVM 15.0.6, 256 bits)" → "llvmpipe": driver details stay in the description.
    let adapter = identity.name.split(" (").next().unwrap_or(&identity.name);
    Ok((
        SelectedDevice {
            device,
            description: format!("wgpu: {}{kind}{api} ({})", identity.name, wgpu_build()),
            name: format!("wgpu {adapter}{api} {}", wgpu_build_tag()),
            conv: ConvAlgorithm::Native,
        },
        hardware,
    ))
}

/// How this binary's wgpu backend was compiled (Cargo features of lran; see Cargo.toml).
pub fn wgpu_build() -> String {
    let mut parts = vec![if cfg!(feature = "vulkan") {
        "SPIR-V shaders on Vulkan (burn `vulkan`)"
    } else {
        "WGSL shaders (burn `wgpu`)"
    }];
    parts.push(if cfg!(feature = "autotune") {
        "autotune"
    } else {
        "no autotune"
    });
    parts.push(if cfg!(feature = "fusion") {
        "fusion"
    } else {
        "no fusion"
    });
    parts.join(", ")
}

/// `wgpu_build` in a few letters, for file names: `wgsl`, `spirv-autotune-fusion`, ….
pub fn wgpu_build_tag() -> String {
    let mut tag = String::from(if cfg!(feature = "vulkan") {
        "spirv"
    } else {
        "wgsl"
    });
    if cfg!(feature = "autotune") {
        tag.push_str("-autotune");
    }
    if cfg!(feature = "fusion") {
        tag.push_str("-fusion");
    }
    tag
}
