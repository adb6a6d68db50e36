// A scored volume: the slice slider, the latent score of every kept slice along the volume
// (with the threshold; click or arrow keys to move), and the ranking of its most anomalous
// slices by the chosen score.

import { state } from './state.js';
import { $, expose, formatScore } from './ui.js';

/** Kept slices from the most to the least anomalous by the chosen score. */
export function ranking(item) {
  const key = $('rank-select').value;
  return item.reports
    .map((r, i) => [r ? r[key] : -Infinity, i])
    .sort((a, b) => b[0] - a[0])
    .map(([, i]) => i);
}

/** Opens the volume panel for `item`, whose slices are about to arrive. */
export function openVolume(item) {
  $('volume').hidden = false;
  $('volume-name').textContent = item.name;
  $('volume-facts').textContent = `${item.reports.length} of ${item.totalSlices} axial slices hold enough brain to score (as in training).`;
  const slider = $('slice-slider');
  slider.max = String(Math.max(0, item.reports.length - 1));
  slider.value = '0';
}

export function hideVolume() {
  $('volume').hidden = true;
}

/** Redraws the plot and the ranking of `item` if it is shown; `pick(index)` shows a slice. */
export function updateVolume(item, pick) {
  if (state.current?.item !== item) return;
  drawScorePlot(item);
  const key = $('rank-select').value;
  const ranked = ranking(item).filter((i) => item.reports[i]).slice(0, 10);
  const list = $('ranking');
  list.replaceChildren();
  for (const i of ranked) {
    const li = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    const r = item.reports[i];
    button.textContent = `slice ${item.axial[i]}: ${formatScore(r[key])}${r.anomalous ? ' (latent score above threshold)' : ''}`;
    button.addEventListener('click', () => pick(i));
    li.append(button);
    list.append(li);
  }
  expose($('volume'), {
    sliceCount: item.reports.length,
    scored: item.reports.filter(Boolean).length,
    ranking: ranked.map((i) => item.axial[i]).join(','),
    rankedBy: key,
  });
}

/** Moves the slider and the plot's ring to slice `index` of the shown volume. */
export function showSlice(item, index) {
  $('slice-slider').value = String(index);
  $('slice-label').textContent = `${item.axial[index]} (${index + 1} of ${item.reports.length} scored)`;
  drawScorePlot(item);
}

function plotGeometry(item) {
  const canvas = $('score-plot');
  const scores = item.reports.filter(Boolean).map((r) => r.latent_score);
  const threshold = state.card.calibration.latent.threshold;
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
  const { current } = state;
  if (current?.item === item && item.reports[current.index]) {
    ctx.strokeStyle = '#111';
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.arc(x(item.axial[current.index]), y(item.reports[current.index].latent_score), 6, 0, 2 * Math.PI);
    ctx.stroke();
    ctx.lineWidth = 1;
  }
  expose(canvas, { points: item.reports.filter(Boolean).length });
}

/** The kept slice (its index among the scored) at the plot's pixel column `clientX`. */
export function nearestSlice(item, clientX) {
  const { canvas, x, lo, hi } = plotGeometry(item);
  const rect = canvas.getBoundingClientRect();
  const px = ((clientX - rect.left) / rect.width) * canvas.width;
  // x is linear in the axial index: invert it, then take the nearest kept slice.
  const span = x(hi) - x(lo);
  return nearestKept(item, span === 0 ? lo : lo + ((px - x(lo)) / span) * (hi - lo)) ?? 0;
}

/** The index of the kept slice whose axial index is nearest `axial`, or null if none is kept. */
export function nearestKept(item, axial) {
  let best = null;
  item.axial.forEach((a, i) => {
    if (best === null || Math.abs(a - axial) < Math.abs(item.axial[best] - axial)) best = i;
  });
  return best;
}
