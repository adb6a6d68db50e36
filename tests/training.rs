//! A short real training run on MNIST digits: the losses fall and nothing diverges.

mod common;

use lran::ModelConfig;
use lran::burn::tensor::Device;
use lran::train::{TrainConfig, Trainer};

#[test]
fn a_short_run_on_real_digits_lowers_the_generator_loss() {
    let config = ModelConfig::tiny(1);
    let split = common::sample_split(1, &config);
    let mut train_config = TrainConfig::new(config);
    train_config.batch_size = 32;
    train_config.learning_rate = 1e-3;
    let mut trainer = Trainer::new(train_config, &Device::flex()).unwrap();
    let train = common::head(&split.train, 320);
    let mut history = Vec::new();
    for epoch in 0..4 {
        trainer
            .train_epoch(&train, epoch, |losses| history.push(*losses))
            .unwrap();
    }
    assert_eq!(history.len(), 40);
    let mean = |slice: &[lran::train::StepLosses]| {
        slice.iter().map(|l| l.generator).sum::<f32>() / slice.len() as f32
    };
    let (first, last) = (mean(&history[..5]), mean(&history[35..]));
    assert!(
        last < 0.6 * first,
        "generator loss went from {first} to {last}"
    );
    let rec = |slice: &[lran::train::StepLosses]| {
        slice.iter().map(|l| l.reconstruction).sum::<f32>() / slice.len() as f32
    };
    assert!(rec(&history[35..]) < 0.6 * rec(&history[..5]));
    assert!(
        history
            .iter()
            .all(|l| l.low_rank > 0.0 && l.discriminator > 0.0)
    );
}

#[test]
fn switched_off_terms_do_not_enter_the_objective() {
    let config = ModelConfig::tiny(1);
    let split = common::sample_split(7, &config);
    let mut train_config = TrainConfig::new(config);
    train_config.batch_size = 16;
    train_config.losses.latent.enabled = false;
    train_config.losses.low_rank.enabled = false;
    train_config.losses.adversarial.enabled = false;
    let mut trainer = Trainer::new(train_config, &Device::flex()).unwrap();
    let train = common::head(&split.train, 16);
    let indices: Vec<usize> = (0..16).collect();
    let images = train.batch(&indices, &config, &Device::flex());
    let losses = trainer.step(images).unwrap();
    // Only the reconstruction term remains: total = 50 · L1.
    assert!((losses.generator - 50.0 * losses.reconstruction).abs() < 1e-3 * losses.generator);
    assert_eq!(losses.low_rank, 0.0);
    assert_eq!(losses.discriminator, 0.0);
}

#[test]
fn a_diverging_run_stops_with_a_message() {
    let config = ModelConfig::tiny(1);
    let split = common::sample_split(3, &config);
    let mut train_config = TrainConfig::new(config);
    train_config.batch_size = 16;
    // Absurd weights make the loss explode at once.
    train_config.losses.reconstruction.weight = 1e9;
    let mut trainer = Trainer::new(train_config, &Device::flex()).unwrap();
    let train = common::head(&split.train, 32);
    let error = trainer
        .train_epoch(&train, 0, |_| {})
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("training stopped") && error.contains("exploded"),
        "{error}"
    );
}

/// Augmentation reaches the batches the trainer sees (other losses than without it), is
/// repeatable with the seed, and keeps the batch order (its draws are a stream of their own).
#[test]
fn augmentation_changes_the_batches_repeatably() {
    let config = ModelConfig::tiny(1);
    let split = common::sample_split(3, &config);
    let train = common::head(&split.train, 64);
    let first_step = |augmentation: Option<lran::augment::Augmentation>| {
        let mut train_config = TrainConfig::new(config);
        train_config.batch_size = 32;
        train_config.augmentation = augmentation;
        let mut trainer = Trainer::new(train_config, &Device::flex()).unwrap();
        let mut losses = Vec::new();
        trainer.train_epoch(&train, 0, |l| losses.push(*l)).unwrap();
        losses[0]
    };
    let brain = Some(lran::augment::Augmentation::brain());
    let plain = first_step(None);
    let augmented = first_step(brain);
    assert_eq!(
        augmented,
        first_step(brain),
        "same seed, same augmented step"
    );
    assert_ne!(plain.reconstruction, augmented.reconstruction);
}
