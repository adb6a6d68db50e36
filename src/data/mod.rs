//! Datasets as the model sees them: preprocessed images with anomaly labels, and the paper's
//! one-class protocol.

pub mod idx;

use burn::tensor::{Device, Tensor, TensorData};

use crate::config::ModelConfig;
use crate::error::{LranError, Result};
use crate::preprocess::gray_to_input;
use crate::rng::SplitMix64;
use idx::LabelledImages;

/// Preprocessed images (model input, `channels × size × size` each, values in [−1, 1]) with
/// per-image labels: `true` = anomalous.
#[derive(Debug, Clone, Default)]
pub struct ImageSet {
    pub image_len: usize,
    pub data: Vec<f32>,
    pub anomalous: Vec<bool>,
    /// Original class of each image (for per-class reports), when the dataset has classes.
    pub classes: Vec<u8>,
}

impl ImageSet {
    pub fn new(config: &ModelConfig) -> Self {
        Self { image_len: config.pixels(), ..Default::default() }
    }

    pub fn len(&self) -> usize {
        self.anomalous.len()
    }

    pub fn is_empty(&self) -> bool {
        self.anomalous.is_empty()
    }

    pub fn push(&mut self, image: Vec<f32>, anomalous: bool, class: u8) {
        assert_eq!(image.len(), self.image_len, "image length differs from the set's");
        self.data.extend(image);
        self.anomalous.push(anomalous);
        self.classes.push(class);
    }

    /// Keeps the first `count` images.
    pub fn truncate(&mut self, count: usize) {
        let count = count.min(self.len());
        self.data.truncate(count * self.image_len);
        self.anomalous.truncate(count);
        self.classes.truncate(count);
    }

    pub fn image(&self, index: usize) -> &[f32] {
        &self.data[index * self.image_len..(index + 1) * self.image_len]
    }

    /// The images at `indices` as a `[n, channels, size, size]` tensor on `device`.
    pub fn batch(&self, indices: &[usize], config: &ModelConfig, device: &Device) -> Tensor<4> {
        let mut values = Vec::with_capacity(indices.len() * self.image_len);
        for &i in indices {
            values.extend_from_slice(self.image(i));
        }
        let shape = [indices.len(), config.channels, config.image_size, config.image_size];
        Tensor::from_data(TensorData::new(values, shape), device)
    }
}

/// The paper's one-class protocol on a labelled dataset: train on the normal class only (less
/// a held-out healthy validation part), test on the whole test split with the other classes
/// anomalous.
#[derive(Debug, Clone)]
pub struct OneClassSplit {
    pub normal_class: u8,
    pub train: ImageSet,
    /// Normal training images held out for checkpoint choice and calibration.
    pub validation: ImageSet,
    pub test: ImageSet,
}

impl OneClassSplit {
    pub fn new(
        train: &LabelledImages,
        test: &LabelledImages,
        normal_class: u8,
        validation_fraction: f64,
        seed: u64,
        config: &ModelConfig,
    ) -> Result<Self> {
        if normal_class > 9 {
            return Err(LranError::config(format!("normal class {normal_class} is outside 0–9")));
        }
        if !(0.0..1.0).contains(&validation_fraction) {
            return Err(LranError::config(format!(
                "validation fraction {validation_fraction} must be in [0, 1)"
            )));
        }
        let mut normal: Vec<usize> = (0..train.len()).filter(|&i| train.labels[i] == normal_class).collect();
        SplitMix64::new(seed).shuffle(&mut normal);
        let held_out = ((normal.len() as f64) * validation_fraction).round() as usize;
        if normal.len() < 2 || (validation_fraction > 0.0 && held_out == 0) || held_out >= normal.len() {
            return Err(LranError::config(format!(
                "class {normal_class} has {} training images: too few to train and validate",
                normal.len()
            )));
        }
        let convert = |images: &LabelledImages, indices: &[usize], normal_class: u8| -> Result<ImageSet> {
            let mut set = ImageSet::new(config);
            for &i in indices {
                let input = gray_to_input(images.image(i), images.width, images.height, config)?;
                let class = images.labels[i];
                set.push(input, class != normal_class, class);
            }
            Ok(set)
        };
        let (validation_indices, train_indices) = normal.split_at(held_out);
        let test_indices: Vec<usize> = (0..test.len()).collect();
        Ok(Self {
            normal_class,
            train: convert(train, train_indices, normal_class)?,
            validation: convert(train, validation_indices, normal_class)?,
            test: convert(test, &test_indices, normal_class)?,
        })
    }
}
