// The page: picks an exported model from models/, hands it and the visitor's files to the model
// thread (www/worker.js, the lran crate compiled to WebAssembly) and shows what comes back.
// Nothing the visitor drops leaves the browser (index.html's Content-Security-Policy forbids
// any network access beyond this origin). The model, NIfTI reader, slice pipeline,
// preprocessing and colour maps are Rust, the same code the trainer runs; the page moves bytes
// and draws. This module wires the parts, each in its own module:
//
//   protocol.js         the messages between page and model thread, checked on both sides
//   model-thread.js     the page's side of the worker: requests as promises
//   state.js            what the page holds (lists, the loaded model, scored items, bounded)
//   model-card.js       the model panel: provenance, input, threshold
//   slice-view.js       one scored image or slice: input, reconstruction, heat map, verdict
//   volume-view.js      a scored volume: slider, score plot, ranking
//   latent-explorer.js  the latent scatter and z vs ẑ
//   ui.js               helpers: formats, the file log, the error box, exposed facts

import { drawLatentBars, drawScatter, resetScatter, wireScatter } from './latent-explorer.js';
import { describeModel, hideModel, showBuild } from './model-card.js';
import { ModelThread } from './model-thread.js';
import { drawLegend, drawOverlay, fillColormaps, showResult } from './slice-view.js';
import { forgetScored, remember, state } from './state.js';
import {
  $, attemptDone, clearError, expose, fetchOk, logFile, megabytes, message, params, refuse,
  setStatus, showError, formatScore,
} from './ui.js';
import { hideVolume, nearestSlice, openVolume, ranking, showSlice, updateVolume } from './volume-view.js';
import {
  downloadMap, moveViewerTo, openInViewer, setThreshold, showInViewer, viewerBuilt, viewerDropped,
  viewerFailed, viewerFollows,
} from './volume-viewer.js';

/** Files larger than this are refused before they are read (the readers have their own limits). */
const MAX_FILE_BYTES = 256 * 1024 * 1024;
/** Files per drop: more are refused, each by name, so one drop cannot queue unbounded work. */
const MAX_FILES = 32;
/** Slices per batch while scoring a volume: one pass and one read-back each. */
const VOLUME_BATCH = 16;

let thread = null;
// Model loads and scoring, one after another in the order asked.
let queue = Promise.resolve();

// ---------------------------------------------------------------------------------------------
// The model.

async function loadModel(name, backend) {
  const { models } = state;
  const entry = models.find((m) => m.name === name);
  state.card = null;
  state.engine = null;
  hideModel();
  expose(document.body, { model: 'loading' });
  if (models.length === 0) throw new Error('this site has no exported models (models/ is empty)');
  if (!entry) throw new Error(`there is no model named “${name}” (available: ${models.map((m) => m.name).join(', ')})`);
  setStatus(`Loading model ${name} (${megabytes(entry.bytes)})…`);
  const base = `models/${encodeURIComponent(name)}/`;
  const card = await (await fetchOk(`${base}model.json`, 'model description')).text();
  const weights = new Uint8Array(await (await fetchOk(`${base}${entry.weights_file}`, 'model weights')).arrayBuffer());
  setStatus(`Starting ${name} on the ${backend === 'cpu' ? 'CPU' : 'best available'} backend…`);
  const loaded = await thread.ask({ type: 'load', backend, card, weights, volumeBatch: VOLUME_BATCH }, [weights.buffer]);
  state.card = loaded.card;
  state.engine = loaded;
  fillColormaps();
  describeModel(state.card, entry);
  showBuild(state.build, loaded.module);
  expose(document.body, { model: 'loaded', scope: loaded.scope, warmMs: loaded.warmMs, warmVolumePasses: loaded.warmVolumePasses });
  expose($('status'), { backend: loaded.gpu ? 'webgpu' : 'cpu' });
  setStatus(`Ready: ${name} on ${loaded.backend} in a ${loaded.scope === 'DedicatedWorkerGlobalScope' ? 'Web Worker' : loaded.scope} (warmed up in ${loaded.warmMs.toFixed(0)} ms${warmVolumeText(loaded.warmVolumePasses)}).`);
  showSamples(name);
  forgetScored();
  $('result').hidden = true;
  hideVolume();
  $('latent').hidden = !state.card.latent_views;
  resetScatter();
  drawScatter();
}

// The warm-up's synthetic volume, as the model thread reports it (none for a model that takes no
// single volume, once on WebGPU, several times on the CPU path).
function warmVolumeText(passes) {
  if (!passes) return '';
  return passes === 1 ? ', a synthetic volume included' : `, a synthetic volume scored ${passes} times`;
}

function modelFailed(error) {
  showError(message(error));
  setStatus('No model loaded.');
  expose(document.body, { model: 'failed' });
}

function showSamples(model) {
  const list = $('sample-list');
  list.replaceChildren();
  for (const sample of state.samples.filter((s) => s.model === model)) {
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
// Showing a report: the slice view, and the volume and latent views that follow it.

function show(item, index) {
  state.current = { item, index };
  if (!item.reports[index]) return;
  showResult(item, index, VOLUME_BATCH);
  viewerFollows(item);
  if (item.kind === 'volume') {
    showSlice(item, index);
    moveViewerTo(item, index);
  }
  drawLatentBars(item.reports[index]);
  drawScatter();
}

const pickSlice = (item) => (index) => show(item, index);

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
    if (!state.card) throw new Error(`${name}: no model is loaded, so nothing can be scored.`);
    if (bytes.length === 0) throw new Error(`${name}: the file is empty`);
    if (isVolume(name, bytes)) await scoreVolume(name, bytes);
    else await scoreImage(name, bytes);
    clearError();
  } catch (error) {
    refuse(name, message(error));
    setStatus(`Ready: ${state.engine ? state.engine.backend : 'no model'}. ${name} could not be scored.`);
  } finally {
    attemptDone();
  }
}

async function scoreImage(name, bytes) {
  setStatus(`Scoring ${name}…`);
  const started = performance.now();
  const reply = await thread.ask({ type: 'image', name, bytes }, [bytes.buffer]);
  const item = { name, kind: 'image', reports: [reply.report], axial: [0], ms: reply.ms, totalMs: performance.now() - started };
  remember(item);
  logFile(name, `latent score ${formatScore(reply.report.latent_score)} (${reply.report.anomalous ? 'above' : 'within'} the healthy range)`, 'scored');
  hideVolume();
  show(item, 0);
  setStatus(`Ready: ${state.engine.backend}.`);
}

async function scoreVolume(name, bytes) {
  setStatus(`Reading ${name}…`);
  const row = $('progress-row');
  $('progress-name').textContent = name;
  $('progress').value = 0;
  $('progress-text').textContent = 'reading the volume';
  row.hidden = false;
  const item = { name, kind: 'volume', reports: [], axial: [], ms: 0, totalSlices: 0 };
  const pick = pickSlice(item);
  const started = performance.now();
  // The model thread gets the bytes; the viewer, when the site has one, a copy, which it
  // reads while the volume is scored.
  const viewing = viewerBuilt(state.build) ? openInViewer(item, bytes.slice()) : null;
  let done;
  try {
    done = await thread.ask({ type: 'volume', name, bytes, batch: VOLUME_BATCH }, [bytes.buffer], (reply) => {
      if (reply.type === 'volume-open') {
        item.axial = reply.axial;
        item.totalSlices = reply.totalSlices;
        item.openMs = reply.ms;
        item.reports = new Array(reply.sliceCount);
        $('progress').max = reply.sliceCount;
        remember(item);
        openVolume(item);
      } else {
        reply.reports.forEach((report, k) => { item.reports[reply.start + k] = report; });
        const scored = reply.start + reply.reports.length;
        $('progress').value = scored;
        $('progress-text').textContent = `${scored} of ${item.reports.length} slices`;
        if (state.current?.item !== item) show(item, 0);
        updateVolume(item, pick);
      }
    });
    item.ms = done.ms;
    item.totalMs = performance.now() - started;
  } catch (error) {
    if (viewing) viewerDropped();
    throw error;
  } finally {
    row.hidden = true;
  }
  // The scores stand whatever the viewer does: a browser without WebGL2, say, shows them
  // without it, and the viewer says why.
  if (viewing) await showInViewer(viewing, done.anomalyMap, pick).catch(viewerFailed);
  item.shownMs = performance.now() - started;
  show(item, ranking(item)[0]);
  updateVolume(item, pick);
  const flagged = item.reports.filter((r) => r.anomalous).length;
  logFile(name, `${item.reports.length} of ${item.totalSlices} axial slices scored in ${(item.ms / 1000).toFixed(2)} s; ${flagged} above the threshold`, 'scored');
  expose(document.body, {
    volumeMs: item.ms,
    volumeShownMs: item.shownMs,
    volumeOpenMs: item.openMs,
    mapMs: done.mapMs,
    workerWasmBytes: done.memory.wasmBytes,
    workerHeapBytes: done.memory.heapBytes,
  });
  setStatus(`Ready: ${state.engine.backend}. ${name}: ${item.reports.length} slices in ${(item.ms / 1000).toFixed(2)} s.`);
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
    const { current } = state;
    if (!current) return;
    drawLegend();
    drawOverlay(current.item.reports[current.index]);
  };
  $('colormap-select').addEventListener('change', redraw);
  $('opacity').addEventListener('input', redraw);
  $('viewer-threshold').addEventListener('input', setThreshold);
  $('download-map').addEventListener('click', () =>
    downloadMap().catch((error) => showError(`Cannot save the anomaly map: ${message(error)}`)));
  const volumeShown = () => (state.current?.item.kind === 'volume' ? state.current : null);
  $('rank-select').addEventListener('change', () => {
    const shown = volumeShown();
    if (shown) updateVolume(shown.item, pickSlice(shown.item));
  });
  $('slice-slider').addEventListener('input', () => {
    const shown = volumeShown();
    if (shown) show(shown.item, Number($('slice-slider').value));
  });
  const plot = $('score-plot');
  plot.addEventListener('click', (e) => {
    const shown = volumeShown();
    if (shown) show(shown.item, nearestSlice(shown.item, e.clientX));
  });
  plot.addEventListener('keydown', (e) => {
    const shown = volumeShown();
    const step = { ArrowLeft: -1, ArrowRight: 1 }[e.key];
    if (!shown || !step) return;
    e.preventDefault();
    show(shown.item, Math.max(0, Math.min(shown.item.reports.length - 1, shown.index + step)));
  });
  wireScatter();
}

async function main() {
  wireInputs();
  thread = new ModelThread();
  try {
    state.build = await (await fetchOk('www/pkg/build.json', 'build description')).json();
    state.models = (await (await fetchOk('www/pkg/models.json', 'model list')).json()).models;
    state.samples = (await (await fetchOk('www/pkg/samples.json', 'sample list')).json()).samples;
  } catch (error) {
    setStatus('The site is incomplete: was it built with `cargo xtask web`?');
    modelFailed(error);
    return;
  }
  const select = $('model-select');
  for (const model of state.models) select.append(new Option(model.label ?? model.name, model.name));
  select.disabled = state.models.length < 2;
  const backend = ['cpu', 'webgpu'].includes(params.get('backend')) ? params.get('backend') : 'auto';
  $('backend-select').value = backend;
  const name = params.get('model') ?? state.models[0]?.name ?? '';
  if (state.models.some((m) => m.name === name)) select.value = name;
  queue = queue.then(() => loadModel(name, backend).catch(modelFailed));
}

main();
