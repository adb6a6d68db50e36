//! `--backend`: which burn device trains and scores.

use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use lran::burn::tensor::Device;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// A hardware GPU through wgpu if one is found, else the CPU.
    Auto,
    /// The GPU through wgpu (Vulkan, Metal or DX12; plain build, no autotune or fusion).
    Wgpu,
    /// burn's flex backend on the CPU (multi-threaded).
    Cpu,
}

/// The chosen device and a description for logs and provenance.
pub struct SelectedDevice {
    pub device: Device,
    pub description: String,
}

pub fn select(backend: Backend) -> Result<SelectedDevice> {
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
    }
}

/// The default wgpu adapter, and whether it is hardware (a card rather than a rasterizer).
fn wgpu() -> Result<(SelectedDevice, bool)> {
    // Adapter discovery can panic inside drivers; keep that a clean error.
    let device = std::panic::catch_unwind(|| Device::wgpu_options().init())
        .map_err(|_| anyhow::anyhow!("the wgpu runtime panicked while looking for an adapter"))?
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let identity = std::panic::catch_unwind(|| device.identity())
        .map_err(|_| anyhow::anyhow!("the wgpu adapter failed to open"))?;
    let Some(identity) = identity else {
        bail!("the wgpu device reports no adapter")
    };
    let hardware = identity.physical.is_some();
    let kind = if hardware { "" } else { ", software" };
    Ok((
        SelectedDevice {
            device,
            description: format!("wgpu: {}{kind}", identity.name),
        },
        hardware,
    ))
}
