//! Correctness gate: the same training steps from the same weights on the CPU backend (flex)
//! and on wgpu must agree. This is what decides which GPU configuration lran trains with.
//! Without a wgpu adapter the test is skipped, unless `LRAN_REQUIRE_WGPU=1` (CI sets it, with
//! Mesa's lavapipe installed), which turns a missing adapter into a failure.

mod common;

use lran::ModelConfig;
use lran::burn::module::{Module, ModuleVisitor, Param};
use lran::burn::tensor::{Device, Tensor};
use lran::train::{StepLosses, TrainConfig, Trainer};

fn wgpu_device() -> Option<Device> {
    let device = std::panic::catch_unwind(|| Device::wgpu_options().init())
        .ok()?
        .ok()?;
    let name = std::panic::catch_unwind(|| device.identity()).ok()??.name;
    eprintln!("wgpu adapter: {name}");
    Some(device)
}

struct Checksum(f64);

impl ModuleVisitor for Checksum {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let values: Vec<f32> = param.val().into_data().try_to_vec::<f32>().unwrap();
        self.0 += values.iter().map(|v| v.abs() as f64).sum::<f64>();
    }
}

fn close(a: f32, b: f32, relative: f32) -> bool {
    (a - b).abs() <= relative * a.abs().max(b.abs()).max(1e-3)
}

#[test]
fn wgpu_training_steps_agree_with_the_cpu_backend() {
    let Some(gpu) = wgpu_device() else {
        if std::env::var("LRAN_REQUIRE_WGPU").is_ok_and(|v| v == "1") {
            panic!("LRAN_REQUIRE_WGPU=1 but no wgpu adapter was found");
        }
        eprintln!(
            "skipped: no wgpu adapter (install mesa-vulkan-drivers to run this gate on a CPU)"
        );
        return;
    };
    let cpu = Device::flex();
    let config = ModelConfig::tiny(1);
    let split = common::sample_split(2, &config);
    let mut train_config = TrainConfig::new(config);
    train_config.batch_size = 16;

    let mut on_cpu = Trainer::new(train_config.clone(), &cpu).unwrap();
    let mut on_gpu = Trainer::restore(train_config, &gpu, on_cpu.state().unwrap()).unwrap();
    let steps = 4;
    for step in 0..steps {
        let indices: Vec<usize> = (step * 16..(step + 1) * 16).collect();
        let a: StepLosses = on_cpu
            .step(split.train.batch(&indices, &config, &cpu))
            .unwrap();
        let b: StepLosses = on_gpu
            .step(split.train.batch(&indices, &config, &gpu))
            .unwrap();
        for (name, x, y) in [
            ("generator", a.generator, b.generator),
            ("reconstruction", a.reconstruction, b.reconstruction),
            ("latent", a.latent, b.latent),
            ("low-rank", a.low_rank, b.low_rank),
            ("discriminator", a.discriminator, b.discriminator),
        ] {
            assert!(
                close(x, y, 2e-3),
                "step {step}: {name} loss flex {x} vs wgpu {y}"
            );
        }
    }
    let mut cpu_sum = Checksum(0.0);
    on_cpu.generator.visit(&mut cpu_sum);
    let mut gpu_sum = Checksum(0.0);
    on_gpu.generator.visit(&mut gpu_sum);
    assert!(cpu_sum.0 > 1.0, "the checksum visited no weights");
    let relative = (cpu_sum.0 - gpu_sum.0).abs() / cpu_sum.0;
    assert!(
        relative < 1e-4,
        "generator weight checksum flex {} vs wgpu {} (relative {relative:e})",
        cpu_sum.0,
        gpu_sum.0
    );
}
