//! Correctness gate: the same training steps from the same weights on the CPU backend (flex)
//! and on wgpu must agree (`lran::gate`). This is what decides which GPU configuration lran
//! trains with. Without a wgpu adapter the test is skipped, unless `LRAN_REQUIRE_WGPU=1` (CI sets
//! it, with Mesa's lavapipe installed), which turns a missing adapter into a failure.
//! `LRAN_WGPU_API=gl|vulkan` pins the graphics API, as for `cargo xtask`.

use std::sync::OnceLock;

use lran::ModelConfig;
use lran::burn::tensor::Device;
use lran::burn::tensor::wgpu::WgpuBackend;
use lran::conv::ConvAlgorithm;
use lran::gate::{GateTolerance, compare_training, compare_training_configs};
use lran::train::TrainConfig;

/// The wgpu device, opened once: burn's runtime cannot be initialised twice in a process.
fn wgpu_device() -> Option<Device> {
    static DEVICE: OnceLock<Option<Device>> = OnceLock::new();
    DEVICE
        .get_or_init(|| {
            let api = match std::env::var("LRAN_WGPU_API").as_deref() {
                Ok("gl") => WgpuBackend::Gl,
                Ok("vulkan") => WgpuBackend::Vulkan,
                _ => WgpuBackend::Auto,
            };
            let device =
                std::panic::catch_unwind(|| Device::wgpu_options().graphics_api(api).init())
                    .ok()?
                    .ok()?;
            let name = std::panic::catch_unwind(|| device.identity()).ok()??.name;
            eprintln!("wgpu adapter: {name}");
            Some(device)
        })
        .clone()
}

fn gate_on_wgpu(algorithm: ConvAlgorithm) {
    let Some(gpu) = wgpu_device() else {
        if std::env::var("LRAN_REQUIRE_WGPU").is_ok_and(|v| v == "1") {
            panic!("LRAN_REQUIRE_WGPU=1 but no wgpu adapter was found");
        }
        eprintln!(
            "skipped: no wgpu adapter (install mesa-vulkan-drivers to run this gate on a CPU)"
        );
        return;
    };
    let mut config = TrainConfig::new(ModelConfig::tiny(1).with_conv(algorithm));
    config.batch_size = 16;
    let report =
        compare_training(&config, 4, GateTolerance::default(), &Device::flex(), &gpu).unwrap();
    for step in &report.steps {
        eprintln!(
            "step {}: worst term {} differs by {:.2e}",
            step.step, step.worst_term, step.worst_relative_difference
        );
    }
    assert!(
        report.reference_checksum > 1.0,
        "the checksum visited no weights"
    );
    assert_eq!(report.steps.len(), 4);
    assert!(report.passed, "{}", report.failure.unwrap_or_default());
    // The operations one by one: convolutions (forward and both gradients) and Adam.
    for check in lran::gate::kernel_checks(&Device::flex(), &gpu, 1e-4) {
        assert!(
            check.passed,
            "{}: {:.2e}",
            check.name, check.max_relative_difference
        );
    }
}

#[test]
fn wgpu_training_steps_agree_with_the_cpu_backend() {
    gate_on_wgpu(ConvAlgorithm::Native);
}

/// The matmul convolutions on wgpu, against burn's convolutions on the CPU.
#[test]
fn wgpu_training_steps_with_matmul_convolutions_agree_with_the_cpu_backend() {
    gate_on_wgpu(ConvAlgorithm::Gemm);
}

/// The gate itself must be able to fail: a candidate that trains with twice the learning rate
/// (a stand-in for a wrong kernel) is caught at its first differing step, on the CPU alone.
#[test]
fn the_gate_catches_a_candidate_that_computes_something_else() {
    let mut config = TrainConfig::new(ModelConfig::tiny(1));
    config.batch_size = 8;
    let cpu = Device::flex();
    let report = compare_training(&config, 3, GateTolerance::default(), &cpu, &cpu).unwrap();
    assert!(report.passed, "flex against itself: {:?}", report.failure);
    assert!(report.checksum_relative_difference.unwrap() < 1e-6);

    let mut other = config.clone();
    other.learning_rate *= 2.0;
    let report =
        compare_training_configs(&config, &other, 3, GateTolerance::default(), &cpu, &cpu).unwrap();
    assert!(!report.passed);
    let failure = report.failure.unwrap();
    // Step 0's losses come before any update, so they still agree; step 1's do not.
    assert!(
        report.steps[0].worst_relative_difference < 1e-6,
        "{failure}"
    );
    assert!(failure.starts_with("step 1:"), "{failure}");
}

/// Whole training steps with the matmul convolutions (`lran::conv`) against burn's, both on the
/// CPU: the gate runs its reference with burn's and its candidate with the configuration's.
#[test]
fn matmul_convolutions_train_like_burns_on_the_cpu() {
    let mut config = TrainConfig::new(ModelConfig {
        image_size: 64,
        ..ModelConfig::tiny(1).with_conv(ConvAlgorithm::Gemm)
    });
    config.batch_size = 8;
    let cpu = Device::flex();
    let report = compare_training(&config, 3, GateTolerance::default(), &cpu, &cpu).unwrap();
    assert!(report.passed, "{:?}", report.failure);
    // Not trivially equal: another summation order, so some difference must show.
    assert!(
        report.steps[0].worst_relative_difference > 0.0
            || report.checksum_relative_difference > Some(0.0)
    );
}
