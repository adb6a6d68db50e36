// The page: loads the lran crate compiled to WebAssembly (www/pkg, built by `cargo xtask web`),
// an exported model from models/, and scores images the visitor picks, all on this device.
// The model, preprocessing and colour maps are Rust (the same code the trainer runs); this file
// only moves bytes and draws.
//
// There are two builds of the crate: lran_gpu (WebGPU) for browsers that offer a WebGPU adapter,
// and the much smaller lran_cpu for the others (and for ?backend=cpu).

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
/** Uploads larger than this are refused before they are read (the decoder has its own limits). */
const MAX_FILE_BYTES = 64 * 1024 * 1024;
const VIEW_PIXELS = 192;

let scorer = null;
let lran = null; // the loaded module's exports
let build = null;
const modules = new Map();
let models = [];
let samples = [];
// Scoring is serialised: one image at a time, in the order they were given.
let queue = Promise.resolve();

function setStatus(text) {
  $('status').textContent = text;
}

function showError(text) {
  $('error').textContent = text;
  $('error').hidden = false;
}

function clearError() {
  $('error').hidden = true;
  $('error').textContent = '';
}

function message(error) {
  return error instanceof Error ? error.message : String(error);
}

async function fetchOk(url, what) {
  let response;
  try {
    response = await fetch(url);
  } catch (error) {
    throw new Error(`${what}: cannot fetch ${url} (${message(error)})`);
  }
  if (!response.ok) throw new Error(`${what}: ${url} answered HTTP ${response.status}`);
  return response;
}

function megabytes(bytes) {
  return `${(bytes / 1e6).toFixed(2)} MB`;
}

function formatScore(value) {
  return Number.isFinite(value) ? value.toPrecision(4) : String(value);
}

function fact(list, term, text) {
  const dt = document.createElement('dt');
  dt.textContent = term;
  const dd = document.createElement('dd');
  dd.textContent = text;
  list.append(dt, dd);
}

function describeModel(card, entry) {
  const list = $('model-facts');
  list.replaceChildren();
  const p = card.provenance;
  const normal = p.normal_class === null || p.normal_class === undefined ? '' : `, normal class ${p.normal_class}`;
  fact(list, 'Trained on', `${p.dataset}${normal} (healthy/normal images only)`);
  fact(list, 'Network', `${card.model.image_size}×${card.model.image_size}×${card.model.channels} input, latent ${card.model.latent_dim}, width ${card.model.base_width}`);
  fact(list, 'Training', `${p.epochs} epochs (weights of epoch ${p.selected_epoch}, chosen on validation data), seed ${p.seed}, ${p.device}, commit ${p.commit}`);
  if (card.results) {
    const r = card.results;
    fact(list, 'Test AUC (ours)', `latent ${r.latent_auc.toFixed(4)}, pixel ${r.pixel_auc.toFixed(4)} on ${r.test_images} ${r.dataset} test images (commit ${r.commit})`);
  }
  const t = card.calibration.latent;
  fact(list, 'Threshold', `${formatScore(t.threshold)}: the ${t.threshold_percentile}th percentile of ${t.count} healthy validation scores`);
  fact(list, 'Download', megabytes(entry.bytes));
  list.hidden = false;
}

function draw(canvas, rgba, size) {
  canvas.width = size;
  canvas.height = size;
  canvas.style.width = `${VIEW_PIXELS}px`;
  canvas.style.height = `${VIEW_PIXELS}px`;
  canvas.getContext('2d').putImageData(new ImageData(new Uint8ClampedArray(rgba), size, size), 0, 0);
}

function drawLegend() {
  const canvas = $('legend-canvas');
  const max = lran.heatmap_max();
  const ramp = Float32Array.from({ length: canvas.width }, (_, i) => (max * i) / (canvas.width - 1));
  canvas.getContext('2d').putImageData(new ImageData(new Uint8ClampedArray(lran.render_heatmap(ramp)), canvas.width, 1), 0, 0);
  $('legend-max').textContent = `≥ ${max}`;
}

async function loadModel(name, backend) {
  const entry = models.find((m) => m.name === name);
  scorer?.free();
  scorer = null;
  $('model-facts').hidden = true;
  document.body.dataset.model = 'loading';
  if (models.length === 0) throw new Error('this site has no exported models (models/ is empty)');
  if (!entry) throw new Error(`there is no model named “${name}” (available: ${models.map((m) => m.name).join(', ')})`);
  setStatus(`Loading model ${name} (${megabytes(entry.bytes)})…`);
  const base = `models/${encodeURIComponent(name)}/`;
  const cardText = await (await fetchOk(`${base}model.json`, 'model description')).text();
  let card;
  try {
    card = JSON.parse(cardText);
  } catch (error) {
    throw new Error(`${base}model.json is not JSON (${message(error)})`);
  }
  const weights = new Uint8Array(await (await fetchOk(`${base}${card.weights_file}`, 'model weights')).arrayBuffer());
  lran = await openModule(backend);
  drawLegend();
  const loaded = await lran.Scorer.load(cardText, weights, backend !== 'cpu');
  const started = performance.now();
  await loaded.warm_up();
  const warmUp = performance.now() - started;
  scorer = loaded;
  describeModel(card, entry);
  document.body.dataset.model = 'loaded';
  $('status').dataset.backend = scorer.gpu ? 'webgpu' : 'cpu';
  setStatus(`Ready: ${name} on ${scorer.backend} (first pass ${warmUp.toFixed(0)} ms, compiling kernels).`);
  showSamples(name);
}

function showSamples(model) {
  const list = $('sample-list');
  list.replaceChildren();
  for (const sample of samples.filter((s) => s.model === model)) {
    const button = document.createElement('button');
    button.type = 'button';
    button.title = `${sample.source}: digit ${sample.label} (${sample.normal ? 'the normal class' : 'an anomaly for this model'})`;
    const img = document.createElement('img');
    img.src = `www/pkg/samples/${sample.file}`;
    img.alt = `digit ${sample.label}`;
    button.append(img);
    button.addEventListener('click', async () => {
      const bytes = new Uint8Array(await (await fetchOk(img.src, 'sample')).arrayBuffer());
      enqueue(sample.file, bytes);
    });
    list.append(button);
  }
  $('samples').hidden = list.childElementCount === 0;
}

function showReport(name, report, ms) {
  const size = scorer.image_size;
  draw($('input-canvas'), lran.render_image(report.input, scorer.channels, size), size);
  draw($('reconstruction-canvas'), lran.render_image(report.reconstruction, scorer.channels, size), size);
  draw($('residual-canvas'), lran.render_heatmap(report.residual), size);
  $('result-name').textContent = name;
  $('latent-score').textContent = formatScore(report.latent_score);
  $('pixel-score').textContent = formatScore(report.pixel_score);
  $('normalised-score').textContent = report.normalised_score.toFixed(3);
  $('healthy-percentile').textContent = `${report.healthy_percentile.toFixed(1)} %`;
  $('threshold').textContent = formatScore(report.threshold);
  $('threshold-note').textContent = '(from healthy validation images)';
  const verdict = $('verdict');
  verdict.className = `verdict ${report.anomalous ? 'anomalous' : 'normal'}`;
  verdict.textContent = report.anomalous
    ? `Anomalous: the latent score is above the threshold (higher than ${report.healthy_percentile.toFixed(1)} % of healthy validation images).`
    : 'Within the healthy range: the latent score is at or below the threshold.';
  $('timing').textContent = `Scored in ${ms.toFixed(1)} ms on ${scorer.backend} (warm: decoding, preprocessing, the network and read-back).`;
  const result = $('result');
  Object.assign(result.dataset, {
    file: name,
    latentScore: String(report.latent_score),
    pixelScore: String(report.pixel_score),
    verdict: report.anomalous ? 'anomalous' : 'normal',
    ms: String(ms),
    backend: scorer.gpu ? 'webgpu' : 'cpu',
  });
  result.hidden = false;
}

// Finished attempts (scored or refused), and the model state: hooks for the browser tests.
function attemptDone() {
  document.body.dataset.attempts = String(Number(document.body.dataset.attempts ?? 0) + 1);
}

async function scoreBytes(name, bytes) {
  try {
    await scoreLoaded(name, bytes);
  } finally {
    attemptDone();
  }
}

async function scoreLoaded(name, bytes) {
  if (!scorer) {
    showError(`${name}: no model is loaded, so nothing can be scored.`);
    return;
  }
  setStatus(`Scoring ${name}…`);
  const started = performance.now();
  try {
    const report = await scorer.score_image(name, bytes);
    const ms = performance.now() - started;
    clearError();
    showReport(name, report, ms);
    setStatus(`Ready: ${scorer.backend}.`);
  } catch (error) {
    showError(message(error));
    setStatus(`Ready: ${scorer.backend}. The last file could not be scored.`);
  }
}

function enqueue(name, bytes) {
  queue = queue.then(() => scoreBytes(name, bytes));
  return queue;
}

async function scoreFile(file) {
  if (file.size > MAX_FILE_BYTES) {
    showError(`${file.name}: the file is ${megabytes(file.size)}; the largest accepted is ${megabytes(MAX_FILE_BYTES)}.`);
    attemptDone();
    return;
  }
  let bytes;
  try {
    bytes = new Uint8Array(await file.arrayBuffer());
  } catch (error) {
    showError(`${file.name}: cannot read the file (${message(error)})`);
    attemptDone();
    return;
  }
  await enqueue(file.name, bytes);
}

function modelFailed(error) {
  showError(message(error));
  setStatus('No model loaded.');
  document.body.dataset.model = 'failed';
}

function wireInputs() {
  const input = $('file-input');
  input.addEventListener('change', () => {
    for (const file of input.files) scoreFile(file);
    input.value = '';
  });
  const zone = $('drop-zone');
  zone.addEventListener('dragover', (event) => {
    event.preventDefault();
    zone.classList.add('dragging');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('dragging'));
  zone.addEventListener('drop', (event) => {
    event.preventDefault();
    zone.classList.remove('dragging');
    for (const file of event.dataTransfer.files) scoreFile(file);
  });
  const reload = () => {
    const model = $('model-select').value;
    const backend = $('backend-select').value;
    const url = new URL(location.href);
    url.searchParams.set('model', model);
    url.searchParams.set('backend', backend);
    history.replaceState(null, '', url);
    queue = queue.then(() => loadModel(model, backend).catch(modelFailed));
  };
  $('model-select').addEventListener('change', reload);
  $('backend-select').addEventListener('change', reload);
}

/** Whether the browser offers a WebGPU adapter (then the WebGPU module is worth its size). */
async function webGpuAdapter() {
  if (!('gpu' in navigator)) return false;
  try {
    return (await navigator.gpu.requestAdapter()) !== null;
  } catch {
    return false;
  }
}

/** Loads (once) and returns the WebAssembly module for `backend`: "auto" or "cpu". */
async function openModule(backend) {
  const name = backend !== 'cpu' && (await webGpuAdapter()) ? 'lran_gpu' : 'lran_cpu';
  if (!modules.has(name)) {
    try {
      const module = await import(`./pkg/${name}.js`);
      await module.default();
      modules.set(name, module);
    } catch (error) {
      throw new Error(`cannot start the WebAssembly module ${name}: ${message(error)}`);
    }
  }
  const facts = build?.modules.find((m) => m.name === name);
  if (facts) {
    $('build-facts').textContent = `WebAssembly module ${name}: ${megabytes(facts.wasm_bytes)} (${megabytes(facts.wasm_gzip_bytes)} gzipped); commit ${build.commit}, wasm-bindgen ${build.wasm_bindgen}.`;
  }
  return modules.get(name);
}

async function main() {
  wireInputs();
  try {
    build = await (await fetchOk('www/pkg/build.json', 'build description')).json();
    models = (await (await fetchOk('www/pkg/models.json', 'model list')).json()).models;
    samples = (await (await fetchOk('www/pkg/samples.json', 'sample list')).json()).samples;
  } catch (error) {
    setStatus('The site is incomplete: was it built with `cargo xtask web`?');
    modelFailed(error);
    return;
  }
  const select = $('model-select');
  for (const model of models) select.append(new Option(model.name, model.name));
  select.disabled = models.length < 2;
  const backend = params.get('backend') === 'cpu' ? 'cpu' : 'auto';
  $('backend-select').value = backend;
  const name = params.get('model') ?? models[0]?.name ?? '';
  if (models.some((m) => m.name === name)) select.value = name;
  queue = queue.then(() => loadModel(name, backend).catch(modelFailed));
}

main();
