// The latent explorer: a rotatable 3D scatter (on a 2D canvas) of image latents z = E(x) on
// the three principal axes of the healthy validation latents (model.json's latent_views):
// the model's reference points beside the visitor's images; and z against ẑ = E′(x̂) per latent
// dimension for the shown image, whose mean squared difference is the score.

import { state } from './state.js';
import { $, expose } from './ui.js';

const COLORS = {
  'healthy-validation': '#3f8f5f',
  'normal-test': '#4a78a8',
  'anomalous-test': '#c0392b',
  upload: '#111111',
};

const view = { yaw: 0.6, pitch: 0.35 };

export function resetScatter() {
  view.yaw = 0.6;
  view.pitch = 0.35;
}

function scatterPoints() {
  const points = (state.card?.latent_views?.points ?? []).map((p) => ({ set: p.set, xyz: p.xyz, name: p.name }));
  for (const item of state.items) {
    item.reports.forEach((r, i) => {
      if (r?.latent_xyz) points.push({ set: 'upload', xyz: r.latent_xyz, current: state.current?.item === item && state.current.index === i });
    });
  }
  return points;
}

export function drawScatter() {
  const canvas = $('scatter');
  const views = state.card?.latent_views;
  if (!views) return;
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const points = scatterPoints();
  const reference = views.points.map((p) => p.xyz);
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
  expose(canvas, { points: projected.length, uploads: drawnUploads });
  const variance = views.explained_variance.map((v) => `${(100 * v).toFixed(0)} %`).join(', ');
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

export function drawLatentBars(report) {
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

export function wireScatter() {
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
