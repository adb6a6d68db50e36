// The newest scored volume in NiiVue (the field's in-browser viewer): axial, coronal and sagittal
// planes and a render, the anomaly map (the slices' residuals put back into the volume's own
// grid by the Rust code in the model thread) as a thresholded overlay with its colour bar, and
// the crosshair tied to the page's slice: picking a slice in the ranking, the plot or the slider
// moves the crosshair there, and moving the crosshair off the slice in the viewer shows the
// nearest scored slice. NiiVue (pkg/vendor/niivue.js, bundled by `cargo xtask web`) is imported
// only when the first volume is scored, so a visit with images alone never downloads it.
//
// One viewer and one volume at a time: a new volume replaces the old one (its textures freed),
// so dropping volume after volume holds the memory of one.

import { $, expose } from './ui.js';
import { nearestKept } from './volume-view.js';

/** The overlay's colour map (one of NiiVue's). */
const OVERLAY_COLORMAP = 'warm';

let niivue = null;
let viewer = null;
/** What the viewer shows: { item, dims } or null. */
let shown = null;
/** The newest volume and its anomaly map, for the download even where the viewer failed: { item, map }. */
let latest = null;
/** Called with a kept slice's index when the crosshair moves to another axial slice. */
let onPick = null;
/** How long NiiVue took to start on the canvas (WebGL2 context, shaders), once. */
let attachMs = 0;

async function loadViewer() {
  if (viewer) return viewer;
  niivue = await import('./pkg/vendor/niivue.js');
  const nv = new niivue.Niivue({
    backColor: [0.07, 0.08, 0.1, 1],
    crosshairColor: [0.2, 0.9, 0.3, 1],
    isColorbar: true,
    isRadiologicalConvention: true,
    multiplanarShowRender: niivue.SHOW_RENDER.ALWAYS,
    dragAndDropEnabled: false,
    show3Dcrosshair: true,
    logLevel: 'error',
  });
  const attachStarted = performance.now();
  await nv.attachToCanvas($('viewer-canvas'));
  attachMs = performance.now() - attachStarted;
  nv.setSliceType(nv.sliceTypeMultiplanar);
  nv.onLocationChange = (location) => {
    if (!shown || !onPick) return;
    const axial = Math.floor(location.frac[2] * shown.dims[2]);
    const index = nearestKept(shown.item, axial);
    if (index !== null) onPick(index);
  };
  viewer = nv;
  return nv;
}

/** Whether this site was built with the viewer (npm could install NiiVue). */
export function viewerBuilt(build) {
  return build?.viewer === true;
}

/**
 * Starts showing `item`, a volume being scored, from `scan` (the uploaded file's bytes, the
 * page's copy for the viewer): NiiVue is imported, the scan read and drawn while the model
 * thread scores, so that only the overlay is left once the scores are in. Returns what
 * [`showInViewer`] finishes.
 */
export function openInViewer(item, scan) {
  const started = performance.now();
  latest = { item, map: null };
  shown = null;
  $('viewer').hidden = false;
  $('viewer-canvas').hidden = false;
  $('viewer-status').textContent = 'Loading the viewer…';
  const ready = (async () => {
    const nv = await loadViewer();
    const loaded = performance.now();
    // NiiVue keeps the buffer it is given: `scan` is already the page's copy.
    const base = await niivue.NVImage.loadFromUrl({ url: scan.buffer, name: item.name, colorbarVisible: false });
    const parsed = performance.now();
    // The scan alone, drawn now: its layer is refreshed here, while the scores come in, and
    // the last volume's layers are dropped (addVolume sets the background and the overlays
    // from the list; images made with NVImage leave nothing in the scene's document).
    nv.volumes = [];
    nv.addVolume(base);
    finishDrawing(nv);
    $('viewer-status').textContent = `${item.name}: the scan; its anomaly map follows once every slice is scored.`;
    return { nv, base, moduleMs: loaded - started, scanParsedMs: parsed - started, baseMs: performance.now() - started };
  })();
  // A failure surfaces in showInViewer; until then it is not an unhandled rejection.
  ready.catch(() => {});
  return { item, started, ready };
}

/**
 * Finishes showing the volume [`openInViewer`] started: `map` is its anomaly map (.nii,
 * uncompressed, from the model thread), `pick(index)` shows kept slice `index` on the page.
 * Resolves once the scan and the overlay are drawn.
 */
export async function showInViewer(viewing, map, pick) {
  const { item, started } = viewing;
  // The download stands even where the viewer fails.
  latest = { item, map };
  const { nv, base, moduleMs, scanParsedMs, baseMs } = await viewing.ready;
  const overlayStarted = performance.now();
  const threshold = $('viewer-threshold');
  // The map is copied, as the page keeps it for the download.
  const overlay = await niivue.NVImage.loadFromUrl({
    url: map.slice().buffer,
    name: `${baseName(item.name)}-anomaly-map.nii`,
    colormap: OVERLAY_COLORMAP,
    opacity: 0.85,
    cal_min: Number(threshold.value),
    cal_max: Number(threshold.max),
    colorbarVisible: true,
  });
  // Only the overlay's layer is rendered into its 3D texture: the scan's went in while the
  // model thread scored. addVolume would refresh every layer again (NiiVue's updateGLVolume),
  // which a software WebGL (no GPU) pays for in a third of a second a layer
  // (results/browser/viewer/). refreshLayers is that refresh for one layer, marked internal in
  // NiiVue's API: the lockfile pins NiiVue, and the browser test checks the overlay is drawn.
  const drawStarted = performance.now();
  nv.volumes = [base, overlay];
  nv.back = base;
  nv.overlays = [overlay];
  nv.refreshLayers(overlay, 1);
  nv.drawScene();
  finishDrawing(nv);
  const drawMs = performance.now() - drawStarted;
  onPick = pick;
  shown = { item, dims: base.dimsRAS.slice(1, 4) };
  $('viewer-threshold-value').textContent = overlay.cal_min.toFixed(2);
  $('viewer-status').textContent = `${item.name}: the anomaly map (residual |x − x̂| of the scored slices, in the volume's own voxels) over the scan. Click a plane to move the crosshair.`;
  expose($('viewer'), {
    volumes: nv.volumes.length,
    dims: shown.dims.join('x'),
    mapMax: overlay.global_max,
    threshold: overlay.cal_min,
    ms: performance.now() - started,
    // Where the time went: from the drop, NiiVue imported and started (attachMs of it, on
    // the first volume only), the scan parsed, the scan drawn; then the map read and drawn.
    moduleMs,
    attachMs,
    scanParsedMs,
    baseMs,
    overlayMs: drawStarted - overlayStarted,
    drawMs,
  });
}

/** Shown means drawn: one pixel read back waits for the GPU (software WebGL, here) to finish. */
function finishDrawing(nv) {
  nv.gl.readPixels(0, 0, 1, 1, nv.gl.RGBA, nv.gl.UNSIGNED_BYTE, new Uint8Array(4));
}

/**
 * The viewer could not show the newest volume (no WebGL2, say): it says why, and its scores
 * and the map's download stand.
 */
export function viewerFailed(error) {
  shown = null;
  $('viewer-canvas').hidden = true;
  $('viewer-status').textContent = `The viewer could not show ${latest?.item.name ?? 'this volume'}: ${error?.message ?? error}. The slice scores above stand, and the anomaly map still downloads.`;
  expose($('viewer'), { failed: String(error?.message ?? error) });
}

/** The volume [`openInViewer`] started could not be scored: the viewer hides. */
export function viewerDropped() {
  latest = null;
  shown = null;
  $('viewer').hidden = true;
}

/** The overlay draws residuals from the threshold slider's value to the heat map's top. */
export function setThreshold() {
  const input = $('viewer-threshold');
  $('viewer-threshold-value').textContent = Number(input.value).toFixed(2);
  if (!viewer || !shown) return;
  const overlay = viewer.volumes[1];
  overlay.cal_min = Number(input.value);
  overlay.cal_max = Number(input.max);
  viewer.updateGLVolume();
  expose($('viewer'), { threshold: overlay.cal_min });
}

/** Moves the crosshair to kept slice `index` of `item`, if the viewer shows it. */
export function moveViewerTo(item, index) {
  if (!viewer || shown?.item !== item) return;
  const axial = item.axial[index];
  const position = viewer.scene.crosshairPos;
  const z = (axial + 0.5) / shown.dims[2];
  if (Math.floor(position[2] * shown.dims[2]) !== axial) {
    viewer.scene.crosshairPos = [position[0], position[1], z];
    viewer.drawScene();
  }
  expose($('viewer'), { axial });
}

/** Hides the viewer unless it holds `item`, the newest volume. */
export function viewerFollows(item) {
  if (latest) $('viewer').hidden = latest.item !== item;
}

/**
 * Saves the newest volume's anomaly map as `<name>-anomaly-map.nii.gz`, gzipped here (the
 * browser's own gzip, off the page's thread) when asked for rather than in the model thread
 * before the viewer could show it.
 */
export async function downloadMap() {
  if (!latest?.map) return;
  const gzipped = new Blob([latest.map]).stream().pipeThrough(new CompressionStream('gzip'));
  const blob = await new Response(gzipped, { headers: { 'content-type': 'application/gzip' } }).blob();
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = `${baseName(latest.item.name)}-anomaly-map.nii.gz`;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 0);
}

function baseName(name) {
  return name.replace(/\.nii(\.gz)?$/i, '');
}

/**
 * For the browser test: the viewer's panes in canvas pixels ({ axCorSag, ltwh }), the pixels
 * of the last frame that are not the background, and those in the overlay's colours.
 */
export function viewerPixels() {
  if (!viewer) return null;
  viewer.drawScene();
  const canvas = $('viewer-canvas');
  const copy = document.createElement('canvas');
  copy.width = canvas.width;
  copy.height = canvas.height;
  const ctx = copy.getContext('2d');
  ctx.drawImage(canvas, 0, 0);
  const { data } = ctx.getImageData(0, 0, copy.width, copy.height);
  const back = viewer.opts.backColor.map((v) => Math.round(v * 255));
  let inked = 0;
  let coloured = 0;
  for (let i = 0; i < data.length; i += 4) {
    const [r, g, b] = [data[i], data[i + 1], data[i + 2]];
    if (Math.abs(r - back[0]) + Math.abs(g - back[1]) + Math.abs(b - back[2]) > 24) inked++;
    if (r > 150 && r - b > 80) coloured++;
  }
  const panes = viewer.screenSlices.map((s) => ({ axCorSag: s.axCorSag, ltwh: Array.from(s.leftTopWidthHeight) }));
  return { inked, coloured, panes, width: canvas.width, height: canvas.height, crosshair: Array.from(viewer.scene.crosshairPos) };
}
