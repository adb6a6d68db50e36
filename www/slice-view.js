// One scored image or slice: the model's input, its reconstruction and the residual heat map
// blended over the input (colour map and opacity chosen by the visitor), the scores and the
// verdict against the model's calibrated threshold.

import { state } from './state.js';
import { $, expose, formatScore, params } from './ui.js';

const VIEW_PIXELS = 224;

function drawRgba(canvas, rgba, size) {
  canvas.width = size;
  canvas.height = size;
  canvas.style.width = `${VIEW_PIXELS}px`;
  canvas.style.height = `${VIEW_PIXELS}px`;
  canvas.getContext('2d').putImageData(new ImageData(new Uint8ClampedArray(rgba), size, size), 0, 0);
}

function colormap() {
  const { colormaps } = state.engine;
  const name = $('colormap-select').value;
  return colormaps.find((c) => c.name === name) ?? colormaps[0];
}

/** Offers the loaded model's colour maps (keeping the visitor's choice, else ?colormap=). */
export function fillColormaps() {
  const { colormaps } = state.engine;
  const select = $('colormap-select');
  const chosen = select.value || params.get('colormap') || 'inferno';
  select.replaceChildren(...colormaps.map((c) => new Option(c.name, c.name)));
  if (colormaps.some((c) => c.name === chosen)) select.value = chosen;
  drawLegend();
}

export function drawLegend() {
  const canvas = $('legend-canvas');
  const table = colormap().table;
  const ctx = canvas.getContext('2d');
  const image = ctx.createImageData(canvas.width, 1);
  for (let x = 0; x < canvas.width; x++) {
    const k = Math.round((x / (canvas.width - 1)) * 255) * 4;
    image.data.set(table.subarray(k, k + 4), x * 4);
  }
  ctx.putImageData(image, 0, 0);
  $('legend-max').textContent = `≥ ${state.engine.heatmapMax}`;
}

/** The input with the residual blended over it in the chosen colour map and opacity. */
export function drawOverlay(report) {
  const size = state.card.model.image_size;
  const canvas = $('overlay-canvas');
  const table = colormap().table;
  const opacity = Number($('opacity').value);
  const rgba = new Uint8ClampedArray(report.input_rgba);
  const max = state.engine.heatmapMax;
  for (let i = 0; i < size * size; i++) {
    const t = Math.min(1, Math.max(0, report.residual[i] / max));
    const k = Math.round(t * 255) * 4;
    for (let c = 0; c < 3; c++) rgba[i * 4 + c] = (1 - opacity) * rgba[i * 4 + c] + opacity * table[k + c];
  }
  drawRgba(canvas, rgba, size);
  expose(canvas, { drawn: true });
}

function verdictOf(report) {
  if (report.warnings.length > 0) return 'unsure';
  return report.anomalous ? 'anomalous' : 'normal';
}

function verdictText(report, verdict) {
  const score = formatScore(report.latent_score);
  const threshold = formatScore(report.threshold);
  const share = report.healthy_percentile.toFixed(1);
  if (verdict === 'unsure') {
    return `No confident verdict: ${report.warnings.join('; ')}. (Its latent score ${score} against the threshold ${threshold} means little for such an image.)`;
  }
  if (verdict === 'anomalous') {
    return `Anomalous: the latent score ${score} is above the threshold ${threshold}; it is higher than ${share} % of healthy validation images.`;
  }
  return `Within the healthy range: the latent score ${score} is at or below the threshold ${threshold} (higher than ${share} % of healthy validation images).`;
}

/** Shows report `index` of `item` in the result panel. */
export function showResult(item, index, volumeBatch) {
  const report = item.reports[index];
  const { engine } = state;
  const size = state.card.model.image_size;
  drawRgba($('input-canvas'), report.input_rgba, size);
  drawRgba($('reconstruction-canvas'), report.reconstruction_rgba, size);
  drawOverlay(report);
  $('result-name').textContent = item.kind === 'volume' ? `${item.name}, axial slice ${item.axial[index]}` : item.name;
  $('latent-score').textContent = formatScore(report.latent_score);
  $('pixel-score').textContent = formatScore(report.pixel_score);
  $('normalised-score').textContent = report.normalised_score.toFixed(3);
  $('healthy-percentile').textContent = `${report.healthy_percentile.toFixed(1)} %`;
  $('threshold').textContent = formatScore(report.threshold);
  const verdict = verdictOf(report);
  $('verdict').className = `verdict ${verdict}`;
  $('verdict').textContent = verdictText(report, verdict);
  $('timing').textContent = item.kind === 'volume'
    ? `The volume's ${item.reports.length} slices were scored in ${(item.ms / 1000).toFixed(2)} s on ${engine.backend} (reading, slicing, the network and read-back, in batches of ${volumeBatch}).`
    : `Scored in ${item.ms.toFixed(1)} ms on ${engine.backend} (decoding, preprocessing, the network and read-back).`;
  const result = $('result');
  expose(result, {
    file: item.name,
    slice: item.axial[index],
    latentScore: report.latent_score,
    pixelScore: report.pixel_score,
    verdict,
    ms: item.ms,
    backend: engine.gpu ? 'webgpu' : 'cpu',
  });
  result.hidden = false;
}
