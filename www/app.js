// The page: picks an exported model from models/, hands it and the visitor's files to the model
// thread (www/worker.js, the lran crate compiled to WebAssembly), and draws what comes back.
// Nothing the visitor drops leaves the browser (index.html's Content-Security-Policy forbids
// any network access beyond this origin). The model, NIfTI reader, slice pipeline,
// preprocessing and colour maps are Rust, the same code the trainer runs; this file moves bytes
// and draws.

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
/** Files larger than this are refused before they are read (the readers have their own limits). */
const MAX_FILE_BYTES = 256 * 1024 * 1024;
/** Files per drop: more are refused, each by name, so one drop cannot queue unbounded work. */
const MAX_FILES = 32;
/** Slices per batch while scoring a volume: one pass and one read-back each. */
const VOLUME_BATCH = 16;
const VIEW_PIXELS = 224;
const COLORS = {
  'healthy-validation': '#3f8f5f',
  'normal-test': '#4a78a8',
  'anomalous-test': '#c0392b',
  upload: '#111111',
};

let worker = null;
let nextId = 1;
const pending = new Map();
let build = null;
let models = [];
let samples = [];
let card = null;
let engine = null; // what the worker said when the model loaded
let colormaps = [];
// Everything scored, newest last: { name, kind: 'image'|'volume', reports: [], axial: [], ... }.
const items = [];
let current = null; // { item, index }
let queue = Promise.resolve();

// ---------------------------------------------------------------------------------------------
// The model thread.

function message(error) {
  return error instanceof Error ? error.message : String(error);
}

function startWorker() {
  worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  worker.onmessage = (event) => {
    const reply = event.data;
    const entry = pending.get(reply.id);
    if (!entry) return;
    if (reply.type === 'error') {
      pending.delete(reply.id);
      entry.reject(new Error(reply.message));
    } else if (reply.type === 'volume-open' || reply.type === 'volume-slices') {
      entry.progress?.(reply);
    } else {
      pending.delete(reply.id);
      entry.resolve(reply);
    }
  };
  worker.onerror = (event) => {
    const text = `the model thread failed: ${event.message ?? 'unknown error'}`;
    for (const entry of pending.values()) entry.reject(new Error(text));
    pending.clear();
  };
}

function ask(request, transfer = [], progress = null) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject, progress });
    worker.postMessage({ id, ...request }, transfer);
  });
}

// ---------------------------------------------------------------------------------------------
// Small helpers.

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

/** One line per file in the log: what became of it. */
function logFile(name, text, kind) {
  const li = document.createElement('li');
  li.className = kind;
  li.textContent = `${name}: ${text}`;
  $('file-log').prepend(li);
  while ($('file-log').childElementCount > 40) $('file-log').lastChild.remove();
}

/** Says why `name` was not scored: in the error box and in the file list. */
function refuse(name, text) {
  showError(text.includes(name) ? text : `${name}: ${text}`);
  logFile(name, `not scored: ${text}`, 'refused');
}

// Finished attempts (scored or refused), and the model state: hooks for the browser tests.
function attemptDone() {
  document.body.dataset.attempts = String(Number(document.body.dataset.attempts ?? 0) + 1);
}

// ---------------------------------------------------------------------------------------------
// The model.

function describeModel(entry) {
  const list = $('model-facts');
  list.replaceChildren();
  const p = card.provenance;
  const normal = p.normal_class === null || p.normal_class === undefined ? '' : `, normal class ${p.normal_class}`;
  const input = card.brain_input
    ? `axial ${card.brain_input.modalities.join('+').toUpperCase()} slices, ${card.model.image_size}×${card.model.image_size}, z-scored inside the brain`
    : `${card.model.image_size}×${card.model.image_size}×${card.model.channels} images`;
  fact(list, 'Trained on', `${p.dataset}${normal}: healthy/normal images only`);
  fact(list, 'Input', input);
  fact(list, 'Network', `latent ${card.model.latent_dim}, width ${card.model.base_width}; loss weights rec ${card.losses.reconstruction.weight}, adv ${card.losses.adversarial.weight}, lat ${card.losses.latent.weight}, low-rank ${card.losses.low_rank.weight}`);
  fact(list, 'Training', `${p.epochs} epochs (weights of epoch ${p.selected_epoch}, chosen on validation data), seed ${p.seed}, ${p.device}, commit ${p.commit}`);
  if (card.results) {
    const r = card.results;
    fact(list, 'Test AUC (ours)', `latent score ${r.latent_auc.toFixed(3)}, pixel score ${r.pixel_auc.toFixed(3)} on ${r.test_images} ${r.dataset} test images (${r.test_anomalous} anomalous), from its results file (commit ${r.commit})`);
  }
  const t = card.calibration.latent;
  fact(list, 'Threshold', `${formatScore(t.threshold)}: the ${t.threshold_percentile}th percentile of ${t.count} healthy validation scores`);
  fact(list, 'Download', `${megabytes(entry.bytes)} (model.json and ${card.weights_precision ?? 'f32'} weights)`);
  list.hidden = false;
  const note = $('model-note');
  note.textContent = card.brain_input
    ? 'Drop a skull-stripped brain MRI volume (NIfTI, T1) to score every axial slice, or try a sample slice below. A high score means unlike the healthy training brains, not disease.'
    : 'Drop PNG or JPEG images, or try a sample below. A high score means unlike the normal class.';
  note.hidden = false;
}

async function loadModel(name, backend) {
  const entry = models.find((m) => m.name === name);
  card = null;
  engine = null;
  $('model-facts').hidden = true;
  $('model-note').hidden = true;
  document.body.dataset.model = 'loading';
  if (models.length === 0) throw new Error('this site has no exported models (models/ is empty)');
  if (!entry) throw new Error(`there is no model named “${name}” (available: ${models.map((m) => m.name).join(', ')})`);
  setStatus(`Loading model ${name} (${megabytes(entry.bytes)})…`);
  const base = `models/${encodeURIComponent(name)}/`;
  const cardText = await (await fetchOk(`${base}model.json`, 'model description')).text();
  let parsed;
  try {
    parsed = JSON.parse(cardText);
  } catch (error) {
    throw new Error(`${base}model.json is not JSON (${message(error)})`);
  }
  const weights = new Uint8Array(await (await fetchOk(`${base}${parsed.weights_file}`, 'model weights')).arrayBuffer());
  setStatus(`Starting ${name} on the ${backend === 'cpu' ? 'CPU' : 'best available'} backend…`);
  const loaded = await ask({ type: 'load', backend, card: cardText, weights }, [weights.buffer]);
  card = parsed;
  engine = loaded;
  colormaps = loaded.colormaps;
  fillColormaps();
  describeModel(entry);
  showBuild(loaded.module);
  document.body.dataset.model = 'loaded';
  document.body.dataset.scope = loaded.scope;
  $('status').dataset.backend = loaded.gpu ? 'webgpu' : 'cpu';
  setStatus(`Ready: ${name} on ${loaded.backend} in a ${loaded.scope === 'DedicatedWorkerGlobalScope' ? 'Web Worker' : loaded.scope} (first pass ${loaded.warmMs.toFixed(0)} ms, compiling kernels).`);
  showSamples(name);
  items.length = 0;
  current = null;
  $('result').hidden = true;
  $('volume').hidden = true;
  $('latent').hidden = !card.latent_views;
  resetScatter();
  drawScatter();
}

function showBuild(name) {
  const facts = build?.modules.find((m) => m.name === name);
  if (facts) {
    $('build-facts').textContent = `WebAssembly module ${name}: ${megabytes(facts.wasm_bytes)} (${megabytes(facts.wasm_gzip_bytes)} gzipped); commit ${build.commit}, wasm-bindgen ${build.wasm_bindgen}.`;
  }
}

function modelFailed(error) {
  showError(message(error));
  setStatus('No model loaded.');
  document.body.dataset.model = 'failed';
}

function showSamples(model) {
  const list = $('sample-list');
  list.replaceChildren();
  for (const sample of samples.filter((s) => s.model === model)) {
    const button = document.createElement('button');
    button.type = 'button';
    button.title = `${sample.description} (${sample.source})`;
    const img = document.createElement('img');
    img.src = sample.url;
    img.alt = sample.description;
    button.append(img);
    button.addEventListener('click', async () => {
      try {
        const bytes = new Uint8Array(await (await fetchOk(img.src, 'sample')).arrayBuffer());
        enqueue(sample.file, bytes);
      } catch (error) {
        showError(message(error));
        attemptDone();
      }
    });
    list.append(button);
  }
  $('samples').hidden = list.childElementCount === 0;
}

// ---------------------------------------------------------------------------------------------
// Scoring.

function isVolume(name, bytes) {
  const lower = name.toLowerCase();
  if (lower.endsWith('.nii') || lower.endsWith('.nii.gz')) return true;
  // A .gz that is not an image: NIfTI is the only compressed format the page takes.
  return lower.endsWith('.gz') || (bytes.length >= 348 && new DataView(bytes.buffer, bytes.byteOffset).getInt32(0, true) === 348);
}

async function scoreBytes(name, bytes) {
  try {
    if (!card) throw new Error(`${name}: no model is loaded, so nothing can be scored.`);
    if (bytes.length === 0) throw new Error(`${name}: the file is empty`);
    if (isVolume(name, bytes)) await scoreVolume(name, bytes);
    else await scoreImage(name, bytes);
    clearError();
  } catch (error) {
    refuse(name, message(error));
    setStatus(`Ready: ${engine ? engine.backend : 'no model'}. ${name} could not be scored.`);
  } finally {
    attemptDone();
  }
}

async function scoreImage(name, bytes) {
  setStatus(`Scoring ${name}…`);
  const started = performance.now();
  const reply = await ask({ type: 'image', name, bytes }, [bytes.buffer]);
  const totalMs = performance.now() - started;
  const item = { name, kind: 'image', reports: [reply.report], axial: [0], ms: reply.ms, totalMs };
  items.push(item);
  logFile(name, `latent score ${formatScore(reply.report.latent_score)} (${reply.report.anomalous ? 'above' : 'within'} the healthy range)`, 'scored');
  $('volume').hidden = true;
  show(item, 0);
  setStatus(`Ready: ${engine.backend}.`);
}

async function scoreVolume(name, bytes) {
  setStatus(`Reading ${name}…`);
  const row = $('progress-row');
  $('progress-name').textContent = name;
  $('progress').value = 0;
  $('progress-text').textContent = 'reading the volume';
  row.hidden = false;
  const item = { name, kind: 'volume', reports: [], axial: [], ms: 0, totalSlices: 0 };
  const started = performance.now();
  try {
    const done = await ask({ type: 'volume', name, bytes, batch: VOLUME_BATCH }, [bytes.buffer], (reply) => {
      if (reply.type === 'volume-open') {
        item.axial = reply.axial;
        item.totalSlices = reply.totalSlices;
        item.reports = new Array(reply.sliceCount);
        $('progress').max = reply.sliceCount;
        items.push(item);
        showVolume(item);
      } else {
        reply.reports.forEach((report, k) => { item.reports[reply.start + k] = report; });
        const scored = reply.start + reply.reports.length;
        $('progress').value = scored;
        $('progress-text').textContent = `${scored} of ${item.reports.length} slices`;
        if (current?.item !== item) show(item, 0);
        updateVolume(item);
      }
    });
    item.ms = done.ms;
    item.totalMs = performance.now() - started;
  } finally {
    row.hidden = true;
  }
  const ranked = ranking(item);
  show(item, ranked[0]);
  updateVolume(item);
  const flagged = item.reports.filter((r) => r.anomalous).length;
  logFile(name, `${item.reports.length} of ${item.totalSlices} axial slices scored in ${(item.ms / 1000).toFixed(2)} s; ${flagged} above the threshold`, 'scored');
  document.body.dataset.volumeMs = String(item.ms);
  setStatus(`Ready: ${engine.backend}. ${name}: ${item.reports.length} slices in ${(item.ms / 1000).toFixed(2)} s.`);
}

function enqueue(name, bytes) {
  queue = queue.then(() => scoreBytes(name, bytes));
  return queue;
}

async function readFile(file) {
  if (file.size > MAX_FILE_BYTES) {
    throw new Error(`${file.name}: the file is ${megabytes(file.size)}; the largest accepted is ${megabytes(MAX_FILE_BYTES)}.`);
  }
  try {
    return new Uint8Array(await file.arrayBuffer());
  } catch (error) {
    throw new Error(`${file.name}: cannot read the file (${message(error)})`);
  }
}

function takeFiles(files) {
  const list = Array.from(files);
  list.forEach((file, k) => {
    if (k >= MAX_FILES) {
      logFile(file.name, `not scored: at most ${MAX_FILES} files per drop (${list.length} were given)`, 'refused');
      attemptDone();
      return;
    }
    queue = queue.then(async () => {
      let bytes;
      try {
        bytes = await readFile(file);
      } catch (error) {
        refuse(file.name, message(error));
        attemptDone();
        return;
      }
      await scoreBytes(file.name, bytes);
    });
  });
  if (list.length > MAX_FILES) showError(`${list.length} files were dropped; the first ${MAX_FILES} are scored, the rest refused (see the list).`);
}

// ---------------------------------------------------------------------------------------------
// Showing a result.

function drawRgba(canvas, rgba, size) {
  canvas.width = size;
  canvas.height = size;
  canvas.style.width = `${VIEW_PIXELS}px`;
  canvas.style.height = `${VIEW_PIXELS}px`;
  canvas.getContext('2d').putImageData(new ImageData(new Uint8ClampedArray(rgba), size, size), 0, 0);
}

function colormap() {
  const name = $('colormap-select').value;
  return colormaps.find((c) => c.name === name) ?? colormaps[0];
}

function fillColormaps() {
  const select = $('colormap-select');
  const chosen = select.value || params.get('colormap') || 'inferno';
  select.replaceChildren(...colormaps.map((c) => new Option(c.name, c.name)));
  if (colormaps.some((c) => c.name === chosen)) select.value = chosen;
  drawLegend();
}

function drawLegend() {
  const canvas = $('legend-canvas');
  const table = colormap().table;
  const ctx = canvas.getContext('2d');
  const image = ctx.createImageData(canvas.width, 1);
  for (let x = 0; x < canvas.width; x++) {
    const k = Math.round((x / (canvas.width - 1)) * 255) * 4;
    image.data.set(table.subarray(k, k + 4), x * 4);
  }
  ctx.putImageData(image, 0, 0);
  $('legend-max').textContent = `≥ ${engine.heatmapMax}`;
}

/** The input with the residual blended over it in the chosen colour map and opacity. */
function drawOverlay(report) {
  const size = card.model.image_size;
  const canvas = $('overlay-canvas');
  const table = colormap().table;
  const opacity = Number($('opacity').value);
  const rgba = new Uint8ClampedArray(report.input_rgba);
  const max = engine.heatmapMax;
  for (let i = 0; i < size * size; i++) {
    const t = Math.min(1, Math.max(0, report.residual[i] / max));
    const k = Math.round(t * 255) * 4;
    for (let c = 0; c < 3; c++) rgba[i * 4 + c] = (1 - opacity) * rgba[i * 4 + c] + opacity * table[k + c];
  }
  drawRgba(canvas, rgba, size);
  canvas.dataset.drawn = 'true';
}

function show(item, index) {
  current = { item, index };
  const report = item.reports[index];
  if (!report) return;
  const size = card.model.image_size;
  const label = item.kind === 'volume' ? `${item.name}, axial slice ${item.axial[index]}` : item.name;
  drawRgba($('input-canvas'), report.input_rgba, size);
  drawRgba($('reconstruction-canvas'), report.reconstruction_rgba, size);
  drawOverlay(report);
  $('result-name').textContent = label;
  $('latent-score').textContent = formatScore(report.latent_score);
  $('pixel-score').textContent = formatScore(report.pixel_score);
  $('normalised-score').textContent = report.normalised_score.toFixed(3);
  $('healthy-percentile').textContent = `${report.healthy_percentile.toFixed(1)} %`;
  $('threshold').textContent = formatScore(report.threshold);
  const verdict = $('verdict');
  const unsure = report.warnings && report.warnings.length > 0;
  verdict.className = `verdict ${unsure ? 'unsure' : report.anomalous ? 'anomalous' : 'normal'}`;
  verdict.textContent = unsure
    ? `No confident verdict: ${report.warnings.join('; ')}. (Its latent score ${formatScore(report.latent_score)} against the threshold ${formatScore(report.threshold)} means little for such an image.)`
    : report.anomalous
    ? `Anomalous: the latent score ${formatScore(report.latent_score)} is above the threshold ${formatScore(report.threshold)}; it is higher than ${report.healthy_percentile.toFixed(1)} % of healthy validation images.`
    : `Within the healthy range: the latent score ${formatScore(report.latent_score)} is at or below the threshold ${formatScore(report.threshold)} (higher than ${report.healthy_percentile.toFixed(1)} % of healthy validation images).`;
  $('timing').textContent = item.kind === 'volume'
    ? `The volume's ${item.reports.length} slices were scored in ${(item.ms / 1000).toFixed(2)} s on ${engine.backend} (reading, slicing, the network and read-back, in batches of ${VOLUME_BATCH}).`
    : `Scored in ${item.ms.toFixed(1)} ms on ${engine.backend} (decoding, preprocessing, the network and read-back).`;
  const result = $('result');
  Object.assign(result.dataset, {
    file: item.name,
    slice: String(item.axial[index]),
    latentScore: String(report.latent_score),
    pixelScore: String(report.pixel_score),
    verdict: unsure ? 'unsure' : report.anomalous ? 'anomalous' : 'normal',
    ms: String(item.ms),
    backend: engine.gpu ? 'webgpu' : 'cpu',
  });
  result.hidden = false;
  if (item.kind === 'volume') {
    $('slice-slider').value = String(index);
    $('slice-label').textContent = `${item.axial[index]} (${index + 1} of ${item.reports.length} scored)`;
    drawScorePlot(item);
  }
  drawLatentBars(report);
  drawScatter();
}

// ---------------------------------------------------------------------------------------------
// Volumes: slider, score plot, ranking.

/** Kept slices from the most to the least anomalous by the chosen score. */
function ranking(item) {
  const key = $('rank-select').value;
  return item.reports
    .map((r, i) => [r ? r[key] : -Infinity, i])
    .sort((a, b) => b[0] - a[0])
    .map(([, i]) => i);
}

function showVolume(item) {
  $('volume').hidden = false;
  $('volume-name').textContent = item.name;
  $('volume-facts').textContent = `${item.reports.length} of ${item.totalSlices} axial slices hold enough brain to score (as in training).`;
  const slider = $('slice-slider');
  slider.max = String(Math.max(0, item.reports.length - 1));
  slider.value = '0';
}

function updateVolume(item) {
  if (current?.item !== item) return;
  drawScorePlot(item);
  const list = $('ranking');
  list.replaceChildren();
  const ranked = ranking(item).filter((i) => item.reports[i]).slice(0, 10);
  for (const i of ranked) {
    const li = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    const r = item.reports[i];
    const key = $('rank-select').value;
    button.textContent = `slice ${item.axial[i]}: ${formatScore(r[key])}${r.anomalous ? ' (latent score above threshold)' : ''}`;
    button.addEventListener('click', () => show(item, i));
    li.append(button);
    list.append(li);
  }
  const volume = $('volume');
  volume.dataset.sliceCount = String(item.reports.length);
  volume.dataset.scored = String(item.reports.filter(Boolean).length);
  volume.dataset.ranking = ranked.map((i) => item.axial[i]).join(',');
  volume.dataset.rankedBy = $('rank-select').value;
}

function plotGeometry(item) {
  const canvas = $('score-plot');
  const scores = item.reports.filter(Boolean).map((r) => r.latent_score);
  const threshold = card.calibration.latent.threshold;
  const top = Math.max(threshold, ...scores) * 1.08;
  const bottom = Math.min(0, ...scores);
  const lo = item.axial[0] ?? 0;
  const hi = item.axial[item.axial.length - 1] ?? 1;
  const pad = { left: 48, right: 10, top: 10, bottom: 24 };
  const x = (axial) => pad.left + ((axial - lo) / Math.max(1, hi - lo)) * (canvas.width - pad.left - pad.right);
  const y = (score) => canvas.height - pad.bottom - ((score - bottom) / Math.max(1e-12, top - bottom)) * (canvas.height - pad.top - pad.bottom);
  return { canvas, x, y, threshold, pad, top, bottom, lo, hi };
}

function drawScorePlot(item) {
  const { canvas, x, y, threshold, pad, top, bottom, lo, hi } = plotGeometry(item);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.strokeStyle = '#d9dee4';
  ctx.strokeRect(pad.left, pad.top, canvas.width - pad.left - pad.right, canvas.height - pad.top - pad.bottom);
  ctx.fillStyle = '#5a6470';
  ctx.font = '11px system-ui, sans-serif';
  ctx.fillText(formatScore(top), 2, pad.top + 8);
  ctx.fillText(formatScore(bottom), 2, canvas.height - pad.bottom);
  ctx.fillText(`slice ${lo}`, pad.left, canvas.height - 6);
  ctx.fillText(`slice ${hi}`, canvas.width - pad.right - 50, canvas.height - 6);
  ctx.setLineDash([5, 4]);
  ctx.strokeStyle = '#8a3b12';
  ctx.beginPath();
  ctx.moveTo(pad.left, y(threshold));
  ctx.lineTo(canvas.width - pad.right, y(threshold));
  ctx.stroke();
  ctx.setLineDash([]);
  ctx.strokeStyle = '#4a78a8';
  ctx.beginPath();
  let started = false;
  item.reports.forEach((r, i) => {
    if (!r) return;
    if (started) ctx.lineTo(x(item.axial[i]), y(r.latent_score));
    else ctx.moveTo(x(item.axial[i]), y(r.latent_score));
    started = true;
  });
  ctx.stroke();
  item.reports.forEach((r, i) => {
    if (!r) return;
    ctx.fillStyle = r.anomalous ? '#a3122a' : '#4a78a8';
    ctx.fillRect(x(item.axial[i]) - 2, y(r.latent_score) - 2, 4, 4);
  });
  if (current?.item === item && item.reports[current.index]) {
    ctx.strokeStyle = '#111';
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.arc(x(item.axial[current.index]), y(item.reports[current.index].latent_score), 6, 0, 2 * Math.PI);
    ctx.stroke();
    ctx.lineWidth = 1;
  }
  canvas.dataset.points = String(item.reports.filter(Boolean).length);
}

function nearestSlice(item, clientX) {
  const { canvas, x } = plotGeometry(item);
  const rect = canvas.getBoundingClientRect();
  const px = ((clientX - rect.left) / rect.width) * canvas.width;
  let best = 0;
  item.axial.forEach((axial, i) => {
    if (Math.abs(x(axial) - px) < Math.abs(x(item.axial[best]) - px)) best = i;
  });
  return best;
}

// ---------------------------------------------------------------------------------------------
// The latent explorer: a rotatable 3D scatter on a 2D canvas, and z vs ẑ.

const view = { yaw: 0.6, pitch: 0.35 };

function resetScatter() {
  view.yaw = 0.6;
  view.pitch = 0.35;
}

function scatterPoints() {
  const points = (card?.latent_views?.points ?? []).map((p) => ({ set: p.set, xyz: p.xyz, name: p.name }));
  for (const item of items) {
    item.reports.forEach((r, i) => {
      if (r?.latent_xyz) points.push({ set: 'upload', xyz: r.latent_xyz, current: current?.item === item && current.index === i });
    });
  }
  return points;
}

function drawScatter() {
  const canvas = $('scatter');
  if (!card?.latent_views) return;
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const points = scatterPoints();
  const reference = card.latent_views.points.map((p) => p.xyz);
  const extent = Math.max(1e-9, ...reference.flat().map(Math.abs), ...points.map((p) => Math.max(...p.xyz.map(Math.abs))));
  const scale = (0.42 * Math.min(canvas.width, canvas.height)) / extent;
  const [cy, sy, cp, sp] = [Math.cos(view.yaw), Math.sin(view.yaw), Math.cos(view.pitch), Math.sin(view.pitch)];
  const project = ([a, b, c]) => {
    const x1 = cy * a + sy * c;
    const z1 = -sy * a + cy * c;
    const y2 = cp * b - sp * z1;
    const z2 = sp * b + cp * z1;
    return [canvas.width / 2 + scale * x1, canvas.height / 2 - scale * y2, z2];
  };
  // Axes.
  ctx.strokeStyle = '#c5ccd4';
  ctx.fillStyle = '#5a6470';
  ctx.font = '11px system-ui, sans-serif';
  ['PC1', 'PC2', 'PC3'].forEach((label, k) => {
    const end = [0, 0, 0];
    end[k] = extent;
    const [x0, y0] = project([0, 0, 0]);
    const [x1, y1] = project(end);
    ctx.beginPath();
    ctx.moveTo(x0, y0);
    ctx.lineTo(x1, y1);
    ctx.stroke();
    ctx.fillText(label, x1 + 3, y1);
  });
  const projected = points.map((p) => ({ ...p, screen: project(p.xyz) })).sort((a, b) => a.screen[2] - b.screen[2]);
  let drawnUploads = 0;
  for (const p of projected) {
    const [x, y] = p.screen;
    ctx.fillStyle = COLORS[p.set] ?? '#888';
    ctx.globalAlpha = p.set === 'upload' ? 1 : 0.65;
    ctx.beginPath();
    ctx.arc(x, y, p.set === 'upload' ? (p.current ? 6 : 4) : 2.5, 0, 2 * Math.PI);
    ctx.fill();
    if (p.current) {
      ctx.strokeStyle = '#f1c40f';
      ctx.lineWidth = 2;
      ctx.stroke();
      ctx.lineWidth = 1;
    }
    if (p.set === 'upload') drawnUploads++;
  }
  ctx.globalAlpha = 1;
  canvas.dataset.points = String(projected.length);
  canvas.dataset.uploads = String(drawnUploads);
  const variance = card.latent_views.explained_variance.map((v) => `${(100 * v).toFixed(0)} %`).join(', ');
  const legend = $('scatter-legend');
  legend.replaceChildren();
  for (const [set, text] of [
    ['healthy-validation', 'healthy validation'],
    ['normal-test', 'normal test'],
    ['anomalous-test', 'anomalous test'],
    ['upload', 'your images (ringed: shown)'],
  ]) {
    if (!points.some((p) => p.set === set)) continue;
    const span = document.createElement('span');
    const dot = document.createElement('i');
    dot.style.background = COLORS[set];
    span.append(dot, text);
    legend.append(span);
  }
  legend.append(` Axes explain ${variance} of the healthy latents' variance.`);
}

function drawLatentBars(report) {
  const canvas = $('latent-bars');
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const z = report.latent;
  const zHat = report.reconstructed_latent;
  const n = z.length;
  const extent = Math.max(1e-9, ...z.map(Math.abs), ...zHat.map(Math.abs));
  const mid = canvas.height / 2;
  const width = canvas.width / n;
  const h = (v) => (v / extent) * (canvas.height / 2 - 6);
  ctx.strokeStyle = '#c5ccd4';
  ctx.beginPath();
  ctx.moveTo(0, mid);
  ctx.lineTo(canvas.width, mid);
  ctx.stroke();
  for (let i = 0; i < n; i++) {
    ctx.fillStyle = '#4a78a8';
    ctx.fillRect(i * width + 1, mid - Math.max(0, h(z[i])), Math.max(1, width - 2), Math.abs(h(z[i])));
    ctx.strokeStyle = '#c0392b';
    ctx.strokeRect(i * width + 1, mid - Math.max(0, h(zHat[i])), Math.max(1, width - 2), Math.abs(h(zHat[i])));
  }
}

function wireScatter() {
  const canvas = $('scatter');
  let drag = null;
  canvas.addEventListener('pointerdown', (e) => {
    drag = { x: e.clientX, y: e.clientY, yaw: view.yaw, pitch: view.pitch };
    canvas.setPointerCapture(e.pointerId);
  });
  canvas.addEventListener('pointermove', (e) => {
    if (!drag) return;
    view.yaw = drag.yaw + (e.clientX - drag.x) * 0.01;
    view.pitch = Math.max(-1.5, Math.min(1.5, drag.pitch + (e.clientY - drag.y) * 0.01));
    drawScatter();
  });
  canvas.addEventListener('pointerup', () => { drag = null; });
  canvas.addEventListener('keydown', (e) => {
    const step = { ArrowLeft: [-0.1, 0], ArrowRight: [0.1, 0], ArrowUp: [0, -0.1], ArrowDown: [0, 0.1] }[e.key];
    if (!step) return;
    e.preventDefault();
    view.yaw += step[0];
    view.pitch = Math.max(-1.5, Math.min(1.5, view.pitch + step[1]));
    drawScatter();
  });
  $('scatter-reset').addEventListener('click', () => {
    resetScatter();
    drawScatter();
  });
}

// ---------------------------------------------------------------------------------------------
// Wiring.

function wireInputs() {
  const input = $('file-input');
  input.addEventListener('change', () => {
    takeFiles(input.files);
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
    takeFiles(event.dataTransfer.files);
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
  const redraw = () => {
    if (!current) return;
    drawLegend();
    drawOverlay(current.item.reports[current.index]);
  };
  $('colormap-select').addEventListener('change', redraw);
  $('opacity').addEventListener('input', redraw);
  $('rank-select').addEventListener('change', () => {
    if (current?.item.kind === 'volume') updateVolume(current.item);
  });
  $('slice-slider').addEventListener('input', () => {
    if (current?.item.kind === 'volume') show(current.item, Number($('slice-slider').value));
  });
  const plot = $('score-plot');
  plot.addEventListener('click', (e) => {
    if (current?.item.kind === 'volume') show(current.item, nearestSlice(current.item, e.clientX));
  });
  plot.addEventListener('keydown', (e) => {
    if (current?.item.kind !== 'volume') return;
    const step = { ArrowLeft: -1, ArrowRight: 1 }[e.key];
    if (!step) return;
    e.preventDefault();
    const next = Math.max(0, Math.min(current.item.reports.length - 1, current.index + step));
    show(current.item, next);
  });
  wireScatter();
}

async function main() {
  wireInputs();
  startWorker();
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
  for (const model of models) select.append(new Option(model.label ?? model.name, model.name));
  select.disabled = models.length < 2;
  const backend = ['cpu', 'webgpu'].includes(params.get('backend')) ? params.get('backend') : 'auto';
  $('backend-select').value = backend;
  const name = params.get('model') ?? models[0]?.name ?? '';
  if (models.some((m) => m.name === name)) select.value = name;
  queue = queue.then(() => loadModel(name, backend).catch(modelFailed));
}

main();
