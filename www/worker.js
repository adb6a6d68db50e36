// The page's model thread: loads the lran crate compiled to WebAssembly and does all model work
// (model.json, decoding, NIfTI reading and slicing, the network, read-back) here, so the page
// stays responsive while a volume is scored. It speaks www/protocol.js's messages, one request
// at a time.
//
// Two builds of the crate exist: lran_gpu (WebGPU, with its own CPU fallback) and the much
// smaller lran_cpu; this thread loads the one the chosen backend needs, once.

import { checkReply, checkRequest, message } from './protocol.js';

const modules = new Map();
let scorer = null;
/** The instance exports of the module the loaded model runs in. */
let loadedExports = null;

/** Sends a reply, checked against the protocol first (the page checks it again on arrival). */
function reply(body, transfer = []) {
  checkReply(body);
  postMessage(body, transfer);
}

/** The RGBA buffers of `reports`, moved to the page rather than copied. */
function buffers(reports) {
  return reports.flatMap((r) => [r.input_rgba.buffer, r.reconstruction_rgba.buffer]);
}

/** Whether this browser offers a WebGPU adapter to workers. */
async function webGpuAdapter() {
  if (!('gpu' in navigator)) return false;
  try {
    return (await navigator.gpu.requestAdapter()) !== null;
  } catch {
    return false;
  }
}

async function openModule(name) {
  if (!modules.has(name)) {
    try {
      const module = await import(`./pkg/${name}.js`);
      // The instance's exports: its linear memory is what the volume-done reply measures.
      const exports = await module.default();
      modules.set(name, { module, exports });
    } catch (error) {
      throw new Error(`cannot start the WebAssembly module ${name}: ${message(error)}`);
    }
  }
  return modules.get(name);
}

async function load({ backend, card, weights, volumeBatch }) {
  scorer?.free();
  scorer = null;
  const gpuWanted = backend !== 'cpu';
  const gpuOffered = gpuWanted && (await webGpuAdapter());
  if (backend === 'webgpu' && !gpuOffered) {
    throw new Error('this browser offers no WebGPU adapter: choose the CPU backend');
  }
  const name = gpuOffered ? 'lran_gpu' : 'lran_cpu';
  const { module: lran, exports } = await openModule(name);
  const loaded = await lran.Scorer.load(card, weights, gpuOffered);
  loadedExports = exports;
  const started = performance.now();
  const warmVolumePasses = await loaded.warm_up(volumeBatch);
  const warmMs = performance.now() - started;
  scorer = loaded;
  return {
    module: name,
    backend: scorer.backend,
    gpu: scorer.gpu,
    warmMs,
    warmVolumePasses,
    colormaps: lran.colormaps(),
    heatmapMax: lran.heatmap_max(),
    scope: self.constructor.name,
    card: scorer.card,
  };
}

function requireModel(name) {
  if (!scorer) throw new Error(`${name}: no model is loaded, so nothing can be scored.`);
}

async function scoreImage(id, { name, bytes }) {
  requireModel(name);
  const started = performance.now();
  const [report] = await scorer.score_image(name, bytes);
  reply({ id, type: 'image', report, ms: performance.now() - started }, buffers([report]));
}

async function scoreVolume(id, { name, bytes, batch }) {
  requireModel(name);
  const started = performance.now();
  const volume = scorer.open_volume(name, bytes);
  let freed = false;
  try {
    reply({
      id,
      type: 'volume-open',
      sliceCount: volume.slice_count,
      totalSlices: volume.total_slices,
      axial: Array.from(volume.axial_indices),
      ms: performance.now() - started,
    });
    const size = Math.max(1, batch | 0);
    for (let start = 0; start < volume.slice_count; start += size) {
      const reports = await scorer.score_slices(volume, start, size);
      reply({ id, type: 'volume-slices', start, reports }, buffers(reports));
    }
    const mapStarted = performance.now();
    const anomalyMap = volume.anomaly_map_nifti();
    const mapMs = performance.now() - mapStarted;
    volume.free();
    freed = true;
    reply(
      { id, type: 'volume-done', ms: performance.now() - started, anomalyMap, mapMs, memory: memory() },
      [anomalyMap.buffer],
    );
  } finally {
    // Freed once, also when scoring failed.
    if (!freed) volume.free();
  }
}

/** The model thread's memory: the WebAssembly module's linear memory and the JS heap. */
function memory() {
  // gc exists only where the browser was started to expose it (the browser test, to compare
  // readings); elsewhere this reads the heap as it stands.
  globalThis.gc?.();
  return {
    wasmBytes: loadedExports?.memory?.buffer.byteLength ?? 0,
    heapBytes: performance.memory?.usedJSHeapSize ?? 0,
  };
}

const handlers = {
  load: async (id, request) => reply({ id, type: 'loaded', ...(await load(request)) }),
  image: scoreImage,
  volume: scoreVolume,
};

// Requests are handled one at a time, in order: the model is not re-entrant.
let queue = Promise.resolve();

self.onmessage = (event) => {
  const request = event.data;
  queue = queue.then(async () => {
    const id = Number.isInteger(request?.id) ? request.id : 0;
    try {
      checkRequest(request);
      await handlers[request.type](id, request);
    } catch (error) {
      postMessage({ id, type: 'error', message: message(error) });
    }
  });
};
