//! A short real training run on MNIST digits: the losses fall and nothing diverges.

mod common;

use lran::ModelConfig;
use lran::burn::tensor::Device;
use lran::train::{TrainConfig, Trainer};

/// The tiny network, its training configuration at `batch_size`, and the MNIST sample split
/// with `normal_class` as the one normal class.
fn tiny_digits(
    normal_class: u8,
    batch_size: usize,
) -> (ModelConfig, lran::data::Split, TrainConfig) {
    let config = ModelConfig::tiny(1);
    let split = common::sample_split(normal_class, &config);
    let mut train_config = TrainConfig::new(config);
    train_config.batch_size = batch_size;
    (config, split, train_config)
}

#[test]
fn a_short_run_on_real_digits_lowers_the_generator_loss() {
    let (_, split, mut train_config) = tiny_digits(1, 32);
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
    let (config, split, mut train_config) = tiny_digits(7, 16);
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
    let (_, split, mut train_config) = tiny_digits(3, 16);
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

/// `Trainer::fit` keeps the weights of the epoch with the lowest healthy-validation objective,
/// calibrated on the validation scores of exactly those weights; test AUCs are reported but the
/// choice never reads them; the observer sees every step and epoch.
#[test]
fn a_fit_selects_and_calibrates_on_healthy_validation_images() {
    use lran::fit::{EpochReport, FitData, FitObserver, FitStart, Unobserved};
    use lran::metrics::ScoreCalibration;

    #[derive(Default)]
    struct Watch {
        started: Vec<(u64, u64)>,
        steps: usize,
        newly_selected: Vec<u64>,
        trainer_steps: Vec<u64>,
    }
    impl FitObserver for Watch {
        type Error = lran::LranError;
        fn epoch_started(&mut self, epoch: u64, steps: u64) {
            self.started.push((epoch, steps));
        }
        fn step(&mut self, _: &lran::train::StepLosses) {
            self.steps += 1;
        }
        fn epoch_done(&mut self, trainer: &Trainer, report: &EpochReport<'_>) -> lran::Result<()> {
            if let Some(selected) = report.newly_selected {
                assert_eq!(selected.selection.epoch, report.metrics.epoch);
                self.newly_selected.push(selected.selection.epoch);
            }
            self.trainer_steps.push(trainer.steps);
            Ok(())
        }
    }

    let (_, split, mut train_config) = tiny_digits(3, 32);
    train_config.learning_rate = 1e-3;
    let mut trainer = Trainer::new(train_config.clone(), &Device::flex()).unwrap();
    let train = common::head(&split.train, 96);
    let test = common::head(&split.test, 60);
    let data = FitData {
        train: &train,
        validation: &split.validation,
        test: Some(&test),
    };
    let mut watch = Watch::default();
    let fitted = trainer
        .fit(data, 4, FitStart::default(), &mut watch)
        .unwrap();

    assert_eq!(watch.started, vec![(1, 3), (2, 3), (3, 3), (4, 3)]);
    assert_eq!(watch.steps, 12);
    assert_eq!(watch.trainer_steps, vec![3, 6, 9, 12]);
    assert_eq!(fitted.history.len(), 4);
    assert_eq!(fitted.progress.epoch, 4);
    assert_eq!(fitted.progress.steps, 12);
    // The selected epoch is the validation objective's minimum; a new selection was reported
    // exactly when an epoch beat every earlier one.
    let objectives: Vec<f64> = fitted
        .history
        .iter()
        .map(|m| m.validation_objective)
        .collect();
    let best = (0..4)
        .min_by(|&a, &b| objectives[a].total_cmp(&objectives[b]))
        .unwrap();
    assert_eq!(fitted.selected.selection.epoch, best as u64 + 1);
    assert_eq!(fitted.progress.best_epoch, best as u64 + 1);
    let improving: Vec<u64> = (0..4)
        .filter(|&i| objectives[..i].iter().all(|&o| objectives[i] < o))
        .map(|i| i as u64 + 1)
        .collect();
    assert_eq!(watch.newly_selected, improving);
    for metrics in &fitted.history {
        assert_eq!(metrics.selected, improving.contains(&metrics.epoch));
        let latent = metrics.test_latent_auc.expect("a test set was given");
        assert!((0.0..=1.0).contains(&latent), "{latent}");
    }
    // The calibration is that of the selected weights on the healthy validation images.
    let generator = fitted.generator("fitted").unwrap();
    let scores = lran::scorer::score_set(
        &generator,
        &split.validation,
        &fitted.model,
        &Device::flex(),
        64,
    );
    let calibration =
        ScoreCalibration::from_healthy(&scores, train_config.threshold_percentile).unwrap();
    let stored = &fitted.selected.selection.calibration;
    assert!(
        (stored.latent.threshold - calibration.latent.threshold).abs()
            <= 1e-5 * calibration.latent.threshold.abs().max(1e-3),
        "{stored:?} against {calibration:?}"
    );

    // A fit of no epochs, or without healthy validation images, is refused with a reason.
    let empty = common::head(&split.validation, 0);
    let err = trainer
        .fit(
            FitData {
                validation: &empty,
                ..data
            },
            5,
            FitStart::default(),
            &mut Unobserved,
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("validation"), "{err}");
    let err = trainer
        .fit(data, 0, FitStart::default(), &mut Unobserved)
        .unwrap_err()
        .to_string();
    assert!(err.contains("at least one epoch"), "{err}");
}

/// A seed names one set of starting weights even when other models are built at the same time
/// on other threads (burn's weight stream is one per process; lran draws from it under a lock).
#[test]
fn a_seed_names_the_same_weights_when_models_are_built_side_by_side() {
    let build = |seed: u64| {
        let mut config = TrainConfig::new(ModelConfig::tiny(1));
        config.seed = seed;
        let trainer = Trainer::new(config, &Device::flex()).unwrap();
        // The values, not the burnpack bytes (those carry each parameter's random id).
        struct Values(Vec<f32>);
        impl lran::burn::module::ModuleVisitor for Values {
            fn visit_float<const D: usize>(
                &mut self,
                param: &lran::burn::module::Param<lran::burn::tensor::Tensor<D>>,
            ) {
                let data = param.val().into_data().convert::<f32>();
                self.0.extend_from_slice(data.as_slice::<f32>().unwrap());
            }
        }
        let mut values = Values(Vec::new());
        lran::burn::module::Module::visit(&trainer.generator, &mut values);
        lran::burn::module::Module::visit(&trainer.discriminator, &mut values);
        values.0
    };
    let alone = [build(0), build(1)];
    assert_ne!(alone[0], alone[1]);
    assert!(
        build(0) == alone[0],
        "seed 0 drew other weights a second time, alone"
    );
    let threads: Vec<_> = (0..8u64)
        .map(|k| std::thread::spawn(move || (k % 2, build(k % 2))))
        .collect();
    for thread in threads {
        let (seed, weights) = thread.join().unwrap();
        assert!(
            weights == alone[seed as usize],
            "seed {seed} drew other weights"
        );
    }
}
