//! Browser bindings (wasm32 only): load an exported model from fetched bytes and score an
//! uploaded image, on WebGPU when the browser offers an adapter and on the CPU otherwise.
//! Everything else — the model, preprocessing, scoring — is the same code the trainer runs.

use burn::tensor::Device;
use burn::tensor::wgpu::WgpuBackend;
use wasm_bindgen::prelude::*;

use crate::export::{ModelCard, ScoringModel};
use crate::preprocess::{decode_image, image_to_input};

#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}

fn js_error(error: impl std::fmt::Display) -> JsError {
    JsError::new(&error.to_string())
}

/// A loaded model and the device it runs on.
#[wasm_bindgen]
pub struct Scorer {
    model: ScoringModel,
    backend: String,
}

#[wasm_bindgen]
impl Scorer {
    /// Loads `model.json` text and the weights bytes. With `prefer_gpu`, WebGPU is tried first
    /// and the CPU is the fallback when no adapter is offered.
    pub async fn load(model_json: String, weights: Vec<u8>, prefer_gpu: bool) -> Result<Scorer, JsError> {
        let card = ModelCard::from_json("model.json", &model_json).map_err(js_error)?;
        let (device, backend) = match prefer_gpu {
            true => match Device::wgpu_options().graphics_api(WgpuBackend::WebGpu).init_async().await {
                Ok(device) => (device, "WebGPU".to_string()),
                Err(error) => (Device::flex(), format!("CPU (WebGPU unavailable: {error})")),
            },
            false => (Device::flex(), "CPU".to_string()),
        };
        let model = ScoringModel::from_bytes(card, weights, &device).map_err(js_error)?;
        Ok(Scorer { model, backend })
    }

    /// Which backend scores: "WebGPU" or "CPU ...".
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        self.backend.clone()
    }

    /// The model description (`model.json`) as a JS object.
    #[wasm_bindgen(getter)]
    pub fn card(&self) -> Result<JsValue, JsError> {
        serde_wasm_bindgen::to_value(&self.model.card).map_err(js_error)
    }

    /// Scores PNG or JPEG bytes: latent and pixel scores, normalised score, percentile among
    /// healthy validation images, verdict, reconstruction and residual map.
    pub async fn score_image(&self, name: String, bytes: Vec<u8>) -> Result<JsValue, JsError> {
        let image = decode_image(&name, &bytes).map_err(js_error)?;
        let input = image_to_input(&image, self.model.config()).map_err(js_error)?;
        let report = self.model.report_async(&input).await.map_err(js_error)?;
        serde_wasm_bindgen::to_value(&report).map_err(js_error)
    }
}
