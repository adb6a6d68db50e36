// The page's model thread: loads the lran crate compiled to WebAssembly and does all model work
// (decoding, NIfTI reading and slicing, the network, read-back) here, so the page stays
// responsive while a volume is scored. www/app.js talks to it with messages:
//
//   → { id, type: 'load', backend: 'auto'|'webgpu'|'cpu', card, weights }
//       ← { id, type: 'loaded', module, backend, gpu, warmMs, colormaps, heatmapMax }
//   → { id, type: 'image', name, bytes }          ← { id, type: 'image', report, ms }
//   → { id, type: 'volume', name, bytes, batch }
//       ← { id, type: 'volume-open', sliceCount, totalSlices, axial, ms }
//       ← { id, type: 'volume-slices', start, reports }   (repeated, in order)
//       ← { id, type: 'volume-done', ms }
//   any failure                                    ← { id, type: 'error', message }
//
// Two builds of the crate exist: lran_gpu (WebGPU, with its own CPU fallback) and the much
// smaller lran_cpu; this worker loads the one the chosen backend needs, once.

const modules = new Map();
let scorer = null;

function message(error) {
  return error instanceof Error ? error.message : String(error);
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
      await module.default();
      modules.set(name, module);
    } catch (error) {
      throw new Error(`cannot start the WebAssembly module ${name}: ${message(error)}`);
    }
  }
  return modules.get(name);
}

async function load({ backend, card, weights }) {
  scorer?.free();
  scorer = null;
  const gpuWanted = backend !== 'cpu';
  const gpuOffered = gpuWanted && (await webGpuAdapter());
  if (backend === 'webgpu' && !gpuOffered) {
    throw new Error('this browser offers no WebGPU adapter: choose the CPU backend');
  }
  const name = gpuOffered ? 'lran_gpu' : 'lran_cpu';
  const lran = await openModule(name);
  const loaded = await lran.Scorer.load(card, weights, gpuOffered);
  const started = performance.now();
  await loaded.warm_up();
  const warmMs = performance.now() - started;
  scorer = loaded;
  return {
    module: name,
    backend: scorer.backend,
    gpu: scorer.gpu,
    warmMs,
    colormaps: lran.colormaps(),
    heatmapMax: lran.heatmap_max(),
    scope: self.constructor.name,
  };
}

function requireModel(name) {
  if (!scorer) throw new Error(`${name}: no model is loaded, so nothing can be scored.`);
}

async function scoreVolume(id, { name, bytes, batch }) {
  requireModel(name);
  const started = performance.now();
  const volume = scorer.open_volume(name, bytes);
  try {
    const axial = Array.from(volume.axial_indices);
    postMessage({
      id,
      type: 'volume-open',
      sliceCount: volume.slice_count,
      totalSlices: volume.total_slices,
      axial,
      ms: performance.now() - started,
    });
    const size = Math.max(1, batch | 0);
    for (let start = 0; start < volume.slice_count; start += size) {
      const reports = await scorer.score_slices(volume, start, size);
      const transfer = reports.flatMap((r) => [r.input_rgba.buffer, r.reconstruction_rgba.buffer]);
      postMessage({ id, type: 'volume-slices', start, reports }, transfer);
    }
    return { ms: performance.now() - started };
  } finally {
    volume.free();
  }
}

// Messages are handled one at a time, in order: the model is not re-entrant.
let queue = Promise.resolve();

self.onmessage = (event) => {
  const request = event.data;
  queue = queue.then(async () => {
    const { id, type } = request;
    try {
      if (type === 'load') {
        postMessage({ id, type: 'loaded', ...(await load(request)) });
      } else if (type === 'image') {
        requireModel(request.name);
        const started = performance.now();
        const [report] = await scorer.score_image(request.name, request.bytes);
        const ms = performance.now() - started;
        postMessage({ id, type: 'image', report, ms }, [report.input_rgba.buffer, report.reconstruction_rgba.buffer]);
      } else if (type === 'volume') {
        const { ms } = await scoreVolume(id, request);
        postMessage({ id, type: 'volume-done', ms });
      } else {
        throw new Error(`unknown request ${type}`);
      }
    } catch (error) {
      postMessage({ id, type: 'error', message: message(error) });
    }
  });
};
