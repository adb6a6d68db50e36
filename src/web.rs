//! Browser bindings (wasm32 only): load an exported model from fetched bytes, score uploaded
//! images, and slice and score uploaded NIfTI volumes. Everything else — the model, the NIfTI
//! reader and slice pipeline, scoring, colour maps — is the same code the trainer and the tests
//! run natively; this module only translates to and from JavaScript. The page runs it in a Web
//! Worker (www/worker.js), so scoring never blocks the page.
//!
//! The page loads one of two builds of this crate: with the `webgpu` feature it scores on
//! WebGPU (falling back to its own CPU backend if the adapter cannot be used), without it on
//! the CPU only, a much smaller download for browsers that have no WebGPU. What crosses to the
//! page is www/protocol.js's contract.

use burn::tensor::Device;
use wasm_bindgen::prelude::*;

use crate::card::ModelCard;
use crate::colormap::{Colormap, HEATMAP_MAX, image_rgba};
use crate::data::brain::{BrainInput, UploadedCase, WARM_UP_PASSES, anomaly_map, warm_up_volume};
use crate::data::nifti::encode_volume;
use crate::scorer::{ImageReport, ScoringModel};
use crate::upload::{open_volume, upload_image};

unsafe extern "C" {
    /// wasm-ld's synthetic function running the static constructors (cubecl registers its IR
    /// operations through `inventory`).
    fn __wasm_call_ctors();
}

#[wasm_bindgen(start)]
pub fn start() {
    // Run the constructors once, here. When a module never calls them itself, wasm-ld treats it
    // as a "command" and wraps every export in a call to them: cubecl's thousands of
    // registrations then re-ran on each call into the module, over a second per scored image.
    // SAFETY: called once, at instantiation, before any other export runs (wasm-bindgen calls
    // the start function from its init).
    unsafe { __wasm_call_ctors() };
    console_error_panic_hook::set_once();
}

fn js_error(error: impl std::fmt::Display) -> JsError {
    JsError::new(&error.to_string())
}

/// A value as a plain JS object tree (maps, such as flattened structs, as objects rather
/// than `Map`s; byte fields as `Uint8Array`).
fn to_js_value(value: &impl serde::Serialize) -> Result<JsValue, JsError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::new().serialize_maps_as_objects(true))
        .map_err(js_error)
}

/// A loaded model and the device it runs on.
#[wasm_bindgen]
pub struct Scorer {
    model: ScoringModel,
    backend: String,
    gpu: bool,
}

#[wasm_bindgen]
impl Scorer {
    /// Loads `model.json` text and the weights bytes. With `prefer_gpu`, WebGPU is tried first
    /// and the CPU is the fallback when the browser offers no adapter.
    pub async fn load(
        model_json: String,
        weights: Vec<u8>,
        prefer_gpu: bool,
    ) -> Result<Scorer, JsError> {
        let card = ModelCard::from_json("model.json", &model_json).map_err(js_error)?;
        let (device, backend, gpu) = match prefer_gpu {
            true => webgpu_or_cpu().await,
            false => (Device::flex(), "CPU (WebAssembly)".to_string(), false),
        };
        let model = ScoringModel::from_bytes(card, weights, &device).map_err(js_error)?;
        Ok(Scorer {
            model,
            backend,
            gpu,
        })
    }

    /// Which backend scores, for people: "WebGPU" or "CPU (WebAssembly…)".
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        self.backend.clone()
    }

    /// Whether scoring runs on WebGPU.
    #[wasm_bindgen(getter)]
    pub fn gpu(&self) -> bool {
        self.gpu
    }

    /// The model description (`model.json`) as a JS object.
    #[wasm_bindgen(getter)]
    pub fn card(&self) -> Result<JsValue, JsError> {
        to_js_value(&self.model.card)
    }

    /// Scores one mid-gray image and discards the result: the first pass compiles the GPU
    /// kernels, so the timings a visitor sees afterwards are warm. A brain model also reads,
    /// scores (`volume_batch` slices at a time, as the page asks) and maps a small synthetic
    /// head ([`warm_up_volume`]), so that the browser has optimised the volume path's
    /// WebAssembly before the first real volume: run only in the baseline compiler, the first
    /// volume took twice as long as the next (results/browser/viewer/). On the CPU path the
    /// head goes through [`WARM_UP_PASSES`] times, as after one pass the first volume was still
    /// read and scored about 1.6 times as slowly as the next; on WebGPU the arithmetic is the
    /// GPU's and one pass compiles its kernels. Returns how many times the head went through
    /// (0 for a model that takes no single volume), which the page states.
    pub async fn warm_up(&self, volume_batch: usize) -> Result<usize, JsError> {
        let input = vec![0.0; self.model.config().pixels()];
        self.model.report_async(&input).await.map_err(js_error)?;
        // Only a model an uploaded volume can feed: another's warm-up would fail its load.
        let takes_volumes = self
            .model
            .card
            .brain_input
            .as_ref()
            .is_some_and(BrainInput::takes_one_volume);
        let passes = match (takes_volumes, self.gpu) {
            (false, _) => 0,
            (true, true) => 1,
            (true, false) => WARM_UP_PASSES,
        };
        if passes > 0 {
            let batch = volume_batch.max(1);
            let head = warm_up_volume();
            for _ in 0..passes {
                let mut volume = self.open_volume("warm-up.nii.gz".into(), head.clone())?;
                for start in (0..volume.slice_count()).step_by(batch) {
                    self.score_slices(&mut volume, start, batch).await?;
                }
                volume.anomaly_map_nifti()?;
            }
        }
        Ok(passes)
    }

    /// Scores PNG or JPEG bytes: latent and pixel scores, normalised score, percentile among
    /// healthy validation images, verdict, the model's input, reconstruction and residual map,
    /// z, ẑ and z's place in the latent explorer; the input and reconstruction also as RGBA.
    pub async fn score_image(&self, name: String, bytes: Vec<u8>) -> Result<JsValue, JsError> {
        let image = upload_image(&name, &bytes, &self.model.card).map_err(js_error)?;
        let report = self
            .model
            .report_async(&image.input)
            .await
            .map_err(js_error)?;
        self.to_js(vec![report], &image.warnings)
    }

    /// Reads and slices a NIfTI volume (`.nii` or `.nii.gz` bytes) as the model's training
    /// sliced its data. Only brain models take volumes.
    pub fn open_volume(&self, name: String, bytes: Vec<u8>) -> Result<UploadedVolume, JsError> {
        let upload = open_volume(&name, &bytes, &self.model.card).map_err(js_error)?;
        let residuals = vec![None; upload.sliced.slices.len()];
        Ok(UploadedVolume { upload, residuals })
    }

    /// Scores the volume's kept slices `start .. start + count` in one batch; returns their
    /// reports (as [`score_image`](Self::score_image)). Their residual maps stay with the volume
    /// too, for its anomaly map.
    pub async fn score_slices(
        &self,
        volume: &mut UploadedVolume,
        start: usize,
        count: usize,
    ) -> Result<JsValue, JsError> {
        let slices = &volume.upload.sliced.slices;
        let end = start.saturating_add(count).min(slices.len());
        if start >= end {
            return Err(JsError::new(&format!(
                "slices {start}..{end} are outside the volume's {} kept slices",
                slices.len()
            )));
        }
        let inputs: Vec<f32> = slices[start..end]
            .iter()
            .flat_map(|s| s.input.iter().copied())
            .collect();
        let reports = self
            .model
            .report_batch_async(&inputs)
            .await
            .map_err(js_error)?;
        for (k, report) in reports.iter().enumerate() {
            volume.residuals[start + k] = Some(report.residual.clone());
        }
        self.to_js(reports, &[])
    }

    /// Reports as JS objects holding what the page draws (see [`PageReport`]).
    fn to_js(&self, reports: Vec<ImageReport>, warnings: &[String]) -> Result<JsValue, JsError> {
        let config = self.model.config();
        let rendered: Vec<PageReport> = reports
            .into_iter()
            .map(|report| PageReport::new(report, config, warnings))
            .collect::<Result<_, _>>()?;
        to_js_value(&rendered)
    }
}

/// One scored image as the page draws it (the `report` of www/protocol.js): the scores and
/// verdict, the input and reconstruction rendered to RGBA here (the same gray mapping as
/// everywhere else in lran), the residual map for the heat overlay, z and ẑ for the latent bars
/// and z's place in the latent explorer. The model's float input and reconstruction stay here:
/// the page never reads them, and for a volume they were most of what crossed to it.
#[derive(serde::Serialize)]
struct PageReport {
    latent_score: f32,
    pixel_score: f32,
    normalised_score: f32,
    healthy_percentile: f64,
    threshold: f32,
    anomalous: bool,
    #[serde(with = "serde_bytes_as_array")]
    input_rgba: Vec<u8>,
    #[serde(with = "serde_bytes_as_array")]
    reconstruction_rgba: Vec<u8>,
    residual: Vec<f32>,
    latent: Vec<f32>,
    reconstructed_latent: Vec<f32>,
    latent_xyz: Option<[f32; 3]>,
    /// Why the input may not be what the model was trained on; the page says so in the verdict.
    warnings: Vec<String>,
}

impl PageReport {
    fn new(
        report: ImageReport,
        config: &crate::ModelConfig,
        warnings: &[String],
    ) -> Result<Self, JsError> {
        let rgba =
            |image: &[f32]| image_rgba(image, config.channels, config.image_size).map_err(js_error);
        Ok(Self {
            input_rgba: rgba(&report.input)?,
            reconstruction_rgba: rgba(&report.reconstruction)?,
            latent_score: report.latent_score,
            pixel_score: report.pixel_score,
            normalised_score: report.normalised_score,
            healthy_percentile: report.healthy_percentile,
            threshold: report.threshold,
            anomalous: report.anomalous,
            residual: report.residual,
            latent: report.latent,
            reconstructed_latent: report.reconstructed_latent,
            latent_xyz: report.latent_xyz,
            warnings: warnings.to_vec(),
        })
    }
}

/// RGBA bytes cross to JS as a `Uint8Array`, not as an array of numbers.
mod serde_bytes_as_array {
    pub fn serialize<S: serde::Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(bytes)
    }
}

/// An uploaded volume cut into the model's slices, kept in the worker between calls, with the
/// residual map of each slice scored so far.
#[wasm_bindgen]
pub struct UploadedVolume {
    upload: UploadedCase,
    residuals: Vec<Option<Vec<f32>>>,
}

#[wasm_bindgen]
impl UploadedVolume {
    /// Kept slices (the ones with enough brain), the ones that are scored.
    #[wasm_bindgen(getter)]
    pub fn slice_count(&self) -> usize {
        self.upload.sliced.slices.len()
    }

    /// Axial slices in the volume.
    #[wasm_bindgen(getter)]
    pub fn total_slices(&self) -> usize {
        self.upload.sliced.total_slices
    }

    /// The axial index (inferior → superior, 0-based) of each kept slice.
    #[wasm_bindgen(getter)]
    pub fn axial_indices(&self) -> Vec<u32> {
        self.upload
            .sliced
            .slices
            .iter()
            .map(|s| s.index as u32)
            .collect()
    }

    /// The scored slices' residuals in the volume's own grid ([`anomaly_map`]) as a float32
    /// NIfTI (`.nii`) aligned with the upload: what the viewer overlays and the page, gzipped,
    /// downloads.
    pub fn anomaly_map_nifti(&self) -> Result<Vec<u8>, JsError> {
        let map = anomaly_map(&self.upload, &self.residuals).map_err(js_error)?;
        encode_volume(&map).map_err(js_error)
    }
}

#[cfg(feature = "webgpu")]
async fn webgpu_or_cpu() -> (Device, String, bool) {
    use burn::tensor::wgpu::WgpuBackend;
    match Device::wgpu_options()
        .graphics_api(WgpuBackend::WebGpu)
        .init_async()
        .await
    {
        Ok(device) => (device, "WebGPU".to_string(), true),
        Err(error) => (
            Device::flex(),
            format!("CPU (WebAssembly; WebGPU unavailable: {error})"),
            false,
        ),
    }
}

#[cfg(not(feature = "webgpu"))]
async fn webgpu_or_cpu() -> (Device, String, bool) {
    (
        Device::flex(),
        "CPU (WebAssembly; this build has no WebGPU)".to_string(),
        false,
    )
}

/// The heat maps on offer: `[{ name, table }]`, each table 256 RGBA entries for residuals
/// 0 … [`heatmap_max`], so the page recolours and blends overlays without a call per change.
#[wasm_bindgen]
pub fn colormaps() -> Result<JsValue, JsError> {
    #[derive(serde::Serialize)]
    struct Table {
        name: &'static str,
        #[serde(with = "serde_bytes_as_array")]
        table: Vec<u8>,
    }
    let tables: Vec<Table> = Colormap::ALL
        .iter()
        .map(|&c| Table {
            name: c.name(),
            table: c.lookup_table(),
        })
        .collect();
    to_js_value(&tables)
}

/// The residual drawn at full heat (the legend's top value).
#[wasm_bindgen]
pub fn heatmap_max() -> f32 {
    HEATMAP_MAX
}
