//! Datasets as the model sees them: preprocessed images with anomaly labels, and the paper's
//! one-class protocol; readers of the formats they come in (IDX, CIFAR-10 batches, NIfTI) and
//! the brain slice pipeline.

pub mod brain;
pub mod cifar;
pub mod idx;
pub mod lesion;
pub mod nifti;
pub mod volume;

use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::config::ModelConfig;
use crate::error::{LranError, Result};
use crate::preprocess::planes_to_input;
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
    /// Where each image came from (e.g. `TCGA-DU-7294:z77`), for per-image reports; may be empty.
    pub names: Vec<String>,
}

impl ImageSet {
    pub fn new(config: &ModelConfig) -> Self {
        Self {
            image_len: config.pixels(),
            ..Default::default()
        }
    }

    pub fn len(&self) -> usize {
        self.anomalous.len()
    }

    pub fn is_empty(&self) -> bool {
        self.anomalous.is_empty()
    }

    pub fn push(&mut self, image: Vec<f32>, anomalous: bool, class: u8) {
        assert_eq!(
            image.len(),
            self.image_len,
            "image length differs from the set's"
        );
        self.data.extend(image);
        self.anomalous.push(anomalous);
        self.classes.push(class);
        self.names.push(String::new());
    }

    /// [`push`](Self::push) with the image's origin.
    pub fn push_named(&mut self, image: Vec<f32>, anomalous: bool, class: u8, name: String) {
        self.push(image, anomalous, class);
        *self.names.last_mut().expect("just pushed") = name;
    }

    /// Keeps the first `count` images.
    pub fn truncate(&mut self, count: usize) {
        let count = count.min(self.len());
        self.data.truncate(count * self.image_len);
        self.anomalous.truncate(count);
        self.classes.truncate(count);
        self.names.truncate(count);
    }

    pub fn image(&self, index: usize) -> &[f32] {
        &self.data[index * self.image_len..(index + 1) * self.image_len]
    }

    /// The images at `indices` as a `[n, channels, size, size]` tensor on `device`.
    pub fn batch(&self, indices: &[usize], config: &ModelConfig, device: &Device) -> Tensor<4> {
        self.augmented_batch(indices, config, device, None)
    }

    /// As [`batch`](Self::batch), each image varied by `augmentation` with `rng`'s draws.
    pub fn augmented_batch(
        &self,
        indices: &[usize],
        config: &ModelConfig,
        device: &Device,
        augmentation: Option<(&crate::augment::Augmentation, &mut crate::rng::SplitMix64)>,
    ) -> Tensor<4> {
        let mut values = Vec::with_capacity(indices.len() * self.image_len);
        for &i in indices {
            values.extend_from_slice(self.image(i));
        }
        if let Some((augmentation, rng)) = augmentation {
            for image in values.chunks_exact_mut(self.image_len) {
                augmentation.apply(image, config.channels, config.image_size, rng);
            }
        }
        let shape = [
            indices.len(),
            config.channels,
            config.image_size,
            config.image_size,
        ];
        Tensor::from_data(TensorData::new(values, shape), device)
    }
}

/// Which classes are normal in a ten-class benchmark.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// The paper's: class k is normal, the other nine are anomalous.
    #[default]
    OneClass,
    /// GANomaly's leave-one-class-out: class k is anomalous, the other nine are normal.
    LeaveOneOut,
}

impl Protocol {
    pub fn is_normal(self, class: u8, chosen: u8) -> bool {
        match self {
            Protocol::OneClass => class == chosen,
            Protocol::LeaveOneOut => class != chosen,
        }
    }
}

/// Share of the normal training images held out for validation, unless a dataset says otherwise
/// (GANomaly's and the paper's 10 %).
pub const VALIDATION_FRACTION: f64 = 0.1;

/// Training data (normal only), healthy validation data held out of it for checkpoint choice
/// and calibration, and a labelled test set.
#[derive(Debug, Clone)]
pub struct Split {
    pub train: ImageSet,
    /// Normal images held out for checkpoint choice and calibration.
    pub validation: ImageSet,
    pub test: ImageSet,
    /// Validation images with synthetic lesions (anomalous) beside the same images untouched
    /// (normal): a check on healthy data alone, always reported as synthetic.
    pub synthetic: Option<ImageSet>,
    /// Test images left out of every AUC (slices with a few tumour voxels), for the report.
    pub excluded: usize,
}

impl Split {
    /// A ten-class benchmark under `protocol` with `class` the chosen class: training images of
    /// the normal classes (less a held-out validation part) for training, the whole test split
    /// for testing.
    pub fn labelled_classes(
        train: &LabelledImages,
        test: &LabelledImages,
        class: u8,
        protocol: Protocol,
        validation_fraction: f64,
        seed: u64,
        config: &ModelConfig,
    ) -> Result<Self> {
        if class > 9 {
            return Err(LranError::config(format!("class {class} is outside 0–9")));
        }
        if !(0.0..1.0).contains(&validation_fraction) {
            return Err(LranError::config(format!(
                "validation fraction {validation_fraction} must be in [0, 1)"
            )));
        }
        let mut normal: Vec<usize> = (0..train.len())
            .filter(|&i| protocol.is_normal(train.labels[i], class))
            .collect();
        SplitMix64::new(seed).shuffle(&mut normal);
        let held_out = ((normal.len() as f64) * validation_fraction).round() as usize;
        if normal.len() < 2
            || (validation_fraction > 0.0 && held_out == 0)
            || held_out >= normal.len()
        {
            return Err(LranError::config(format!(
                "{} normal training images under {protocol:?} with class {class}: too few to train and validate",
                normal.len()
            )));
        }
        let (validation_indices, train_indices) = normal.split_at(held_out);
        let inputs = |indices: &[usize]| {
            model_inputs(train, indices.iter().copied(), class, protocol, config)
        };
        Ok(Self {
            train: inputs(train_indices)?,
            validation: inputs(validation_indices)?,
            test: labelled_test_set(test, class, protocol, config)?,
            synthetic: None,
            excluded: 0,
        })
    }
}

/// A whole ten-class test split as model inputs, each image anomalous unless `protocol` makes
/// its class normal for `class`: the test of [`Split::labelled_classes`], and what an exported
/// model is evaluated on (`cargo xtask eval --model`).
pub fn labelled_test_set(
    test: &LabelledImages,
    class: u8,
    protocol: Protocol,
    config: &ModelConfig,
) -> Result<ImageSet> {
    model_inputs(test, 0..test.len(), class, protocol, config)
}

/// Images `indices` of a labelled set as model inputs, labelled anomalous unless `protocol`
/// makes their class normal for `class`.
fn model_inputs(
    images: &LabelledImages,
    indices: impl IntoIterator<Item = usize>,
    class: u8,
    protocol: Protocol,
    config: &ModelConfig,
) -> Result<ImageSet> {
    let mut set = ImageSet::new(config);
    for i in indices {
        let input = planes_to_input(
            images.image(i),
            images.channels,
            images.width,
            images.height,
            config,
        )?;
        let label = images.labels[i];
        set.push(input, !protocol.is_normal(label, class), label);
    }
    Ok(set)
}
