//! Browser bindings (wasm32 only): load an exported model from fetched bytes and score an
//! uploaded image. Everything else — the model, preprocessing, scoring, colour maps — is the same
//! code the trainer and the tests run natively; this module only translates to and from
//! JavaScript.
//!
//! The page loads one of two builds of this crate: with the `webgpu` feature it scores on
//! WebGPU (falling back to its own CPU backend if the adapter cannot be used), without it on
//! the CPU only, a much smaller download for browsers that have no WebGPU.

use burn::tensor::Device;
use wasm_bindgen::prelude::*;

use crate::colormap::{HEATMAP_MAX, heatmap_rgba, image_rgba};
use crate::export::{ModelCard, ScoringModel};
use crate::preprocess::{decode_image, image_to_input};

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

    #[wasm_bindgen(getter)]
    pub fn image_size(&self) -> usize {
        self.model.config().image_size
    }

    #[wasm_bindgen(getter)]
    pub fn channels(&self) -> usize {
        self.model.config().channels
    }

    /// The model description (`model.json`) as a JS object.
    #[wasm_bindgen(getter)]
    pub fn card(&self) -> Result<JsValue, JsError> {
        serde_wasm_bindgen::to_value(&self.model.card).map_err(js_error)
    }

    /// Scores one mid-gray image and discards the result: the first pass compiles the GPU
    /// kernels, so the timings a visitor sees afterwards are warm.
    pub async fn warm_up(&self) -> Result<(), JsError> {
        let input = vec![0.0; self.model.config().pixels()];
        self.model
            .report_async(&input)
            .await
            .map(|_| ())
            .map_err(js_error)
    }

    /// Scores PNG or JPEG bytes: latent and pixel scores, normalised score, percentile among
    /// healthy validation images, verdict, the model's input, reconstruction and residual map.
    pub async fn score_image(&self, name: String, bytes: Vec<u8>) -> Result<JsValue, JsError> {
        let image = decode_image(&name, &bytes).map_err(js_error)?;
        let input = image_to_input(&image, self.model.config()).map_err(js_error)?;
        let report = self.model.report_async(&input).await.map_err(js_error)?;
        serde_wasm_bindgen::to_value(&report).map_err(js_error)
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

/// A model-range image (`channels × size × size`) as RGBA bytes for an `ImageData`.
#[wasm_bindgen]
pub fn render_image(values: Vec<f32>, channels: usize, size: usize) -> Result<Vec<u8>, JsError> {
    image_rgba(&values, channels, size).map_err(js_error)
}

/// Residual values as inferno RGBA bytes, full heat at [`heatmap_max`].
#[wasm_bindgen]
pub fn render_heatmap(values: Vec<f32>) -> Vec<u8> {
    heatmap_rgba(&values, HEATMAP_MAX)
}

/// The residual drawn at full heat (the legend's top value).
#[wasm_bindgen]
pub fn heatmap_max() -> f32 {
    HEATMAP_MAX
}
