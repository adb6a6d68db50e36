//! Export → load → the same scores as the trainer; broken exports are refused with a reason.

mod common;

use lran::ModelConfig;
use lran::burn::tensor::Device;
use lran::card::{
    MODEL_CARD_FORMAT, ModelCard, PREPROCESSING, WEIGHTS_FILE, WeightsPrecision, generator_bytes,
    generator_bytes_in,
};
use lran::fit::{FitData, FitStart, Fitted, Unobserved};
use lran::metrics::ScoreCalibration;
use lran::scorer::{ScoringModel, score_set};
use lran::train::{TrainConfig, Trainer};

/// A model fitted for one epoch on a sample of digits: its card and f32 weights come from the
/// fit (selected weights, healthy calibration), as `cargo xtask export` writes them.
fn trained() -> (Trainer, Fitted, lran::data::Split) {
    let config = ModelConfig::tiny(1);
    let split = common::sample_split(4, &config);
    let mut train_config = TrainConfig::new(config);
    train_config.batch_size = 32;
    let mut trainer = Trainer::new(train_config, &Device::flex()).unwrap();
    let data = FitData {
        train: &common::head(&split.train, 96),
        validation: &split.validation,
        test: None,
    };
    let fitted = trainer
        .fit(data, 1, FitStart::default(), &mut Unobserved)
        .unwrap();
    (trainer, fitted, split)
}

#[test]
fn an_exported_model_scores_exactly_as_the_trainer() {
    let (trainer, fitted, split) = trained();
    let test = common::head(&split.test, 40);
    let from_trainer = trainer.score(&test);
    // The card carries the fit's calibration: the healthy validation scores' own statistics.
    let calibration =
        ScoreCalibration::from_healthy(&trainer.score(&split.validation), 95.0).unwrap();
    assert_eq!(fitted.selected.selection.calibration, calibration);

    let weights = fitted.selected.generator.clone();
    assert_eq!(weights, generator_bytes(&trainer.generator).unwrap());
    let card = fitted.card("test");
    assert_eq!(card.format, MODEL_CARD_FORMAT);
    assert_eq!(card.preprocessing, PREPROCESSING);
    assert_eq!(
        (card.weights_file.as_str(), card.weights_bytes),
        (WEIGHTS_FILE, weights.len())
    );
    let json = serde_json::to_string(&card).unwrap();
    let loaded = ScoringModel::from_bytes(
        ModelCard::from_json("model.json", &json).unwrap(),
        weights,
        &Device::flex(),
    )
    .unwrap();
    let from_export = loaded.score(&test.data).unwrap();
    assert_eq!(from_export.len(), 40);
    for i in 0..40 {
        assert!(
            (from_export.latent[i] - from_trainer.latent[i]).abs()
                <= 1e-6 * from_trainer.latent[i].abs().max(1e-3),
            "image {i}"
        );
        assert!(
            (from_export.pixel[i] - from_trainer.pixel[i]).abs() <= 1e-6,
            "image {i}"
        );
    }
    // The single-image report agrees with the batch scores and with the calibration.
    let report = loaded.report(test.image(0)).unwrap();
    assert!(
        (report.latent_score - from_export.latent[0]).abs()
            <= 1e-6 * from_export.latent[0].abs().max(1e-3)
    );
    assert_eq!(
        report.anomalous,
        report.latent_score > loaded.card.calibration.latent.threshold
    );
    assert_eq!(report.reconstruction.len(), 32 * 32);
    assert_eq!(report.residual.len(), 32 * 32);
    // The parts of the packed read-back land in their places: the pixel score, each residual
    // pixel and the input agree with the reconstruction they were computed from.
    assert!((report.pixel_score - from_export.pixel[0]).abs() <= 1e-6);
    assert_eq!(report.input, test.image(0));
    for (i, residual) in report.residual.iter().enumerate() {
        assert!(
            (residual - (report.input[i] - report.reconstruction[i]).abs()).abs() <= 1e-5,
            "pixel {i}"
        );
    }
    let mean_residual = report.residual.iter().sum::<f32>() / report.residual.len() as f32;
    assert!((mean_residual - report.pixel_score).abs() <= 1e-5);
    // z and ẑ are the latents the score came from: their mean squared difference is the score.
    let dim = loaded.config().latent_dim;
    assert_eq!(report.latent.len(), dim);
    assert_eq!(report.reconstructed_latent.len(), dim);
    let from_latents = report
        .latent
        .iter()
        .zip(&report.reconstructed_latent)
        .map(|(z, r)| (z - r).powi(2))
        .sum::<f32>()
        / dim as f32;
    assert!((from_latents - report.latent_score).abs() <= 1e-5 * report.latent_score.max(1e-3));
    assert_eq!(report.latent_xyz, None, "this card has no latent views");
    // A batch of reports (the page's volume path) equals the reports one by one.
    let batch = loaded.report_batch(&test.data[..5 * 32 * 32]).unwrap();
    assert_eq!(batch.len(), 5);
    for (i, batched) in batch.iter().enumerate() {
        let single = loaded.report(test.image(i)).unwrap();
        assert!(
            (batched.latent_score - single.latent_score).abs()
                <= 1e-5 * single.latent_score.max(1e-3),
            "image {i}"
        );
        assert_eq!(batched.input, single.input, "image {i}");
        for (a, b) in batched.residual.iter().zip(&single.residual) {
            assert!((a - b).abs() <= 1e-5, "image {i}");
        }
        for (a, b) in batched.latent.iter().zip(&single.latent) {
            assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0), "image {i}");
        }
    }
    // Trainer-side scoring through the shared helper matches too.
    let again = score_set(
        &trainer.generator,
        &test,
        &trainer.config.model,
        trainer.device(),
        7,
    );
    assert_eq!(again.latent.len(), 40);
}

#[test]
fn broken_exports_are_refused_with_a_reason() {
    let (_, fitted, split) = trained();
    let weights = fitted.selected.generator.clone();
    let card = fitted.card("test");
    let device = Device::flex();

    let truncated = weights[..weights.len() / 3].to_vec();
    let err = ScoringModel::from_bytes(card.clone(), truncated.clone(), &device)
        .err()
        .expect("truncated weights")
        .to_string();
    assert!(
        err.contains("model.json expects") && err.contains(&weights.len().to_string()),
        "{err}"
    );
    // Past the size check (a card that agrees with the cut file), the bytes themselves are refused.
    let agreeing = |len| ModelCard {
        weights_bytes: len,
        ..card.clone()
    };
    let err = ScoringModel::from_bytes(agreeing(truncated.len()), truncated, &device)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("unreadable weights"), "{err}");

    let garbage = b"not weights at all".to_vec();
    let err = ScoringModel::from_bytes(agreeing(garbage.len()), garbage, &device)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("unreadable weights"), "{err}");

    let mut wider = card.clone();
    wider.model.base_width *= 2;
    let err = ScoringModel::from_bytes(wider, weights.clone(), &device)
        .err()
        .expect("shape mismatch")
        .to_string();
    assert!(err.contains("do not fit"), "{err}");

    let err = ModelCard::from_json("model.json", "{\"format\": 3}")
        .unwrap_err()
        .to_string();
    assert!(err.contains("model.json is not valid"), "{err}");

    let loaded = ScoringModel::from_bytes(card, weights, &device).unwrap();
    assert!(loaded.score(&[0.0; 17]).is_err());
    let mut nan_image = split.test.image(0).to_vec();
    nan_image[5] = f32::NAN;
    let err = loaded.report(&nan_image).unwrap_err().to_string();
    assert!(err.contains("NaN"), "{err}");
}

/// f16 weights: about half the bytes, scores close to the f32 weights' (the page's download),
/// and a cut or foreign f16 file is refused like an f32 one.
#[test]
fn half_precision_exports_halve_the_weights_and_keep_the_scores() {
    let (trainer, fitted, split) = trained();
    let test = common::head(&split.test, 40);
    let full = generator_bytes(&trainer.generator).unwrap();
    let half = generator_bytes_in(&trainer.generator, WeightsPrecision::F16).unwrap();
    assert!(
        (half.len() as f64) < 0.6 * full.len() as f64,
        "f16 {} bytes against f32 {}",
        half.len(),
        full.len()
    );
    let device = Device::flex();
    let load = |bytes: Vec<u8>, precision| {
        let card = ModelCard {
            weights_precision: precision,
            weights_bytes: bytes.len(),
            ..fitted.card("test")
        };
        ScoringModel::from_bytes(card, bytes, &device)
    };
    let from_full = load(full, WeightsPrecision::F32)
        .unwrap()
        .score(&test.data)
        .unwrap();
    let from_half = load(half.clone(), WeightsPrecision::F16)
        .unwrap()
        .score(&test.data)
        .unwrap();
    for i in 0..test.len() {
        let (a, b) = (from_full.latent[i], from_half.latent[i]);
        assert!(
            (a - b).abs() <= 1e-2 * a.abs().max(1e-3),
            "image {i}: f32 {a}, f16 {b}"
        );
        let (a, b) = (from_full.pixel[i], from_half.pixel[i]);
        assert!(
            (a - b).abs() <= 1e-2 * a.abs().max(1e-3),
            "image {i}: f32 {a}, f16 {b}"
        );
    }
    let cut = half[..half.len() / 2].to_vec();
    let err = load(cut, WeightsPrecision::F16).err().unwrap().to_string();
    assert!(
        err.contains("unreadable weights") || err.contains("do not fit"),
        "{err}"
    );
    // f16 weights of a wider network do not fit this one.
    let mut wider = trainer.config.clone();
    wider.model.base_width *= 2;
    let other = lran::train::Trainer::new(wider, &device).unwrap();
    let foreign = generator_bytes_in(&other.generator, WeightsPrecision::F16).unwrap();
    let err = load(foreign, WeightsPrecision::F16)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("do not fit") || err.contains("unreadable"),
        "{err}"
    );
}

/// A brain card's slice pipeline must feed its network: a model.json whose slices are cut at
/// another size, or name another number of modalities, is refused on load (the page would
/// otherwise fail deep inside the network, or score the wrong pixels).
#[test]
fn a_brain_card_whose_slices_do_not_fit_its_network_is_refused() {
    let path = common::repository_root().join("models/brain-t1/model.json");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(ModelCard::from_json("model.json", &text).is_ok());
    let mut card: serde_json::Value = serde_json::from_str(&text).unwrap();
    let size = card["model"]["image_size"].as_u64().unwrap();
    card["brain_input"]["slices"]["image_size"] = serde_json::json!(size / 2);
    let err = ModelCard::from_json("model.json", &card.to_string())
        .unwrap_err()
        .to_string();
    assert!(err.contains("brain slices for a"), "{err}");
    let mut card: serde_json::Value = serde_json::from_str(&text).unwrap();
    card["brain_input"]["modalities"] = serde_json::json!(["t1", "flair"]);
    let err = ModelCard::from_json("model.json", &card.to_string())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("modalities for a network of 1 channels"),
        "{err}"
    );
}
