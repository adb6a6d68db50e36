// Drives the served page in headless Chromium (Debian's, through playwright-core) and writes
// what the page showed to a JSON file; xtask/tests/browser.rs prepares the fixtures, serves the
// site, runs this and compares the page's scores with the native scorer's.
//
//   node page.test.mjs <site url> <fixtures dir> <output json> [screenshots dir]
//
// fixtures.json (written by browser.rs):
//   mnistModel, brainModel: model names
//   warmUpPasses: how often a brain model's warm-up reads its synthetic head on the CPU path
//   good: [file], bad: [{ file, expect }]         images for the MNIST model
//   volume: { file, sliceCount, dims, tumour: [axial], native: { latent_score: [axial], pixel_score: [axial] } }
//           (native: every kept slice from the most to the least anomalous, by each score;
//           dims: the volume's canonical RAS dimensions)
//   badVolumes: [{ file, expect }]                 NIfTI files the brain model must refuse
//   many: { files: [file], bad: [{ file, expect }] } one drop of twenty files

import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';

const [siteUrl, fixturesDir, outPath, screenshotsDir] = process.argv.slice(2);
if (!outPath) {
  console.error('usage: node page.test.mjs <site url> <fixtures dir> <output json> [screenshots dir]');
  process.exit(2);
}
const fixtures = JSON.parse(await readFile(join(fixturesDir, 'fixtures.json'), 'utf8'));
const requireWebGpu = process.env.LRAN_BROWSER_ALLOW_NO_WEBGPU !== '1';
const TIMEOUT = 300_000;
const fixture = (file) => (isAbsolute(file) ? file : join(fixturesDir, file));

const userDataDir = await mkdtemp(join(tmpdir(), 'lran-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1280, height: 800 },
  args: [
    '--no-sandbox',
    '--disable-background-networking',
    '--disable-component-update',
    '--no-first-run',
    '--enable-unsafe-webgpu',
    // Memory readings that can be compared: exact heap sizes, and gc() to collect first.
    '--enable-precise-memory-info',
    '--js-flags=--expose-gc',
  ],
});
context.setDefaultTimeout(TIMEOUT);

const output = { pages: {}, volumes: {}, errors: [] };
const problems = [];

function check(condition, text) {
  if (!condition) problems.push(text);
}

async function openPage(query, setup) {
  const page = await context.newPage();
  const log = [];
  const requests = [];
  page.on('console', (m) => log.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
  page.on('request', (r) => requests.push(r.url()));
  const responses = [];
  page.on('response', (r) => responses.push(r));
  page.__responses = responses;
  if (setup) await setup(page);
  await page.goto(`${siteUrl}${query}`);
  await page.waitForFunction(() => ['loaded', 'failed'].includes(document.body.dataset.model));
  return { page, log, requests };
}

async function state(page) {
  return page.evaluate(() => ({
    model: document.body.dataset.model,
    scope: document.body.dataset.scope ?? null,
    warmVolumePasses: Number(document.body.dataset.warmVolumePasses),
    backend: document.getElementById('status').dataset.backend ?? null,
    status: document.getElementById('status').textContent,
    error: document.getElementById('error').hidden ? null : document.getElementById('error').textContent,
    build: document.getElementById('build-facts').textContent,
  }));
}

async function attempts(page) {
  return Number(await page.evaluate(() => document.body.dataset.attempts ?? 0));
}

/** Gives the page files and waits until it has finished with each (scored or refused). */
async function upload(page, files) {
  const list = Array.isArray(files) ? files : [files];
  const before = await attempts(page);
  await page.setInputFiles('#file-input', list.map(fixture));
  await page.waitForFunction((n) => Number(document.body.dataset.attempts ?? 0) >= n, before + list.length);
}

async function shown(page) {
  return page.evaluate(() => {
    const distinct = (id) => {
      const canvas = document.getElementById(id);
      if (!canvas || canvas.width === 0) return 0;
      const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
      const colours = new Set();
      for (let i = 0; i < data.length; i += 4) colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
      return colours.size;
    };
    const result = document.getElementById('result');
    const error = document.getElementById('error');
    return {
      file: result.dataset.file ?? null,
      slice: result.dataset.slice ?? null,
      latent: Number(result.dataset.latentScore),
      pixel: Number(result.dataset.pixelScore),
      verdict: result.dataset.verdict ?? null,
      verdictText: document.getElementById('verdict').textContent,
      latentText: document.getElementById('latent-score').textContent,
      ms: Number(result.dataset.ms),
      backend: result.dataset.backend ?? null,
      resultVisible: !result.hidden,
      error: error.hidden ? null : error.textContent,
      overlayColours: distinct('overlay-canvas'),
      scatterColours: distinct('scatter'),
      barColours: distinct('latent-bars'),
      log: Array.from(document.querySelectorAll('#file-log li')).map((li) => ({ text: li.textContent, kind: li.className })),
    };
  });
}

async function scoreGood(page, label) {
  const scored = [];
  for (const file of fixtures.good) {
    await upload(page, file);
    const s = await shown(page);
    check(s.file === file, `${label}: ${file} did not become the shown result (${JSON.stringify(s.file)})`);
    check(s.error === null, `${label}: ${file} showed an error: ${s.error}`);
    check(Number.isFinite(s.latent) && s.latent > 0, `${label}: ${file} latent score ${s.latent}`);
    check(s.latentText.length > 0 && s.verdictText.length > 0, `${label}: ${file} shows no score or verdict`);
    check(s.overlayColours > 1, `${label}: ${file} overlay is blank (${s.overlayColours} colours)`);
    scored.push({ file: s.file, latent: s.latent, pixel: s.pixel, verdict: s.verdict, ms: s.ms });
  }
  // A second pass over the same files times warm scoring (kernels compiled, caches filled).
  const warm = [];
  for (const file of fixtures.good) {
    await upload(page, file);
    warm.push((await shown(page)).ms);
  }
  return { scored, warm_ms: warm };
}

async function refusedOneByOne(page, label, cases, good) {
  const refused = [];
  for (const bad of cases) {
    await upload(page, bad.file);
    const s = await shown(page);
    check(s.error !== null && s.error.includes(bad.file) && s.error.includes(bad.expect),
      `${label}: ${bad.file} should show an error naming it and “${bad.expect}”, showed ${JSON.stringify(s.error)}`);
    refused.push({ file: bad.file, error: s.error });
    // The app keeps working: a good file still scores right after.
    await upload(page, good);
    const after = await shown(page);
    check(after.error === null && after.latent > 0,
      `${label}: after ${bad.file}, ${good} did not score (${JSON.stringify(after.error)})`);
  }
  return refused;
}

async function scoreSample(page, label) {
  const before = await attempts(page);
  await page.locator('#sample-list button').first().click();
  await page.waitForFunction((n) => Number(document.body.dataset.attempts ?? 0) > n, before);
  const s = await shown(page);
  check(s.error === null && (s.file ?? '').endsWith('.png'), `${label}: the first sample did not score (${JSON.stringify(s.error)})`);
  return s.file;
}

async function volumeState(page) {
  return page.evaluate(() => {
    const volume = document.getElementById('volume');
    const scatter = document.getElementById('scatter');
    const plot = document.getElementById('score-plot');
    return {
      visible: !volume.hidden,
      sliceCount: Number(volume.dataset.sliceCount),
      scored: Number(volume.dataset.scored),
      ranking: (volume.dataset.ranking ?? '').split(',').filter(Boolean).map(Number),
      plotPoints: Number(plot.dataset.points ?? 0),
      scatterPoints: Number(scatter.dataset.points ?? 0),
      scatterUploads: Number(scatter.dataset.uploads ?? 0),
      rankingButtons: document.querySelectorAll('#ranking button').length,
      ms: Number(document.body.dataset.volumeMs),
    };
  });
}

async function scoreVolume(page, label) {
  const v = fixtures.volume;
  const requestsBefore = page.__requests.length;
  await upload(page, v.file);
  // The viewer's module is the site's own code, fetched once with the first volume; nothing
  // else may be requested.
  const requestsWhileScoring = page.__requests.slice(requestsBefore).filter((u) => !u.endsWith('/www/pkg/vendor/niivue.js'));
  const s = await shown(page);
  const vs = await volumeState(page);
  const name = v.file.split('/').pop();
  check(s.error === null, `${label}: the volume showed an error: ${s.error}`);
  check(vs.visible && vs.sliceCount === v.sliceCount && vs.scored === v.sliceCount,
    `${label}: the volume shows ${vs.sliceCount} slices (${vs.scored} scored), native slicing kept ${v.sliceCount}`);
  // The ranking by each score is the native scorer's, and so is whether it puts a tumour slice
  // among the top five (the page cannot know the tumour; the native side read the segmentation).
  const rankings = {};
  for (const key of ['latent_score', 'pixel_score']) {
    await page.selectOption('#rank-select', key);
    const ranked = (await volumeState(page)).ranking;
    const top5 = ranked.slice(0, 5);
    const nativeTop = new Set(v.native[key].slice(0, 7));
    check(top5.length === 5 && top5.every((a) => nativeTop.has(a)),
      `${label}: the page's top five slices by ${key} ${top5} are not the native scorer's (${v.native[key].slice(0, 7)})`);
    const tumourInTop5 = top5.some((a) => v.tumour.includes(a));
    const nativeTumourInTop5 = v.native[key].slice(0, 5).some((a) => v.tumour.includes(a));
    check(tumourInTop5 === nativeTumourInTop5,
      `${label}: by ${key}, a tumour slice is ${tumourInTop5 ? '' : 'not '}among the page's top five ${top5}, unlike natively`);
    rankings[key] = { top5, tumourInTop5 };
  }
  // The shipped brain model finds the tumour: among its five most anomalous slices by the
  // latent score, at least one holds tumour (as the native scorer's ranking does).
  check(rankings.latent_score.tumourInTop5,
    `${label}: no tumour slice among the latent score's top five ${rankings.latent_score.top5} (tumour slices: ${v.tumour})`);
  await page.selectOption('#rank-select', 'latent_score');
  check(s.file === name && Number(s.slice) === vs.ranking[0],
    `${label}: the shown slice is not the most anomalous (${s.file} ${s.slice})`);
  check(s.overlayColours > 8, `${label}: the overlay is not drawn (${s.overlayColours} colours)`);
  check(vs.plotPoints === v.sliceCount, `${label}: the score plot shows ${vs.plotPoints} points`);
  check(vs.scatterUploads === v.sliceCount && vs.scatterPoints > vs.scatterUploads && s.scatterColours > 4,
    `${label}: the latent scatter is not drawn (${JSON.stringify(vs)}, ${s.scatterColours} colours)`);
  check(s.barColours > 2, `${label}: z vs ẑ is not drawn`);
  check(requestsWhileScoring.length === 0, `${label}: the page made requests while scoring: ${requestsWhileScoring}`);
  // The slider and the ranking move the view.
  await page.locator('#ranking button').nth(2).click();
  const third = await shown(page);
  check(Number(third.slice) === vs.ranking[2], `${label}: the third ranking button shows slice ${third.slice}, not ${vs.ranking[2]}`);
  const viewer = await checkViewer(page, label, vs.ranking[2]);
  await page.$eval('#slice-slider', (slider) => {
    slider.value = '0';
    slider.dispatchEvent(new Event('input'));
  });
  const first = await shown(page);
  check(Number(first.slice) === Math.min(...v.native.latent_score), `${label}: the slider at 0 shows slice ${first.slice}`);
  return { ms: vs.ms, slices: vs.sliceCount, rankings, requestsWhileScoring, viewer };
}

async function viewerState(page) {
  return page.evaluate(async () => {
    const viewer = document.getElementById('viewer');
    const { viewerPixels } = await import('./www/volume-viewer.js');
    return {
      visible: !viewer.hidden,
      volumes: Number(viewer.dataset.volumes ?? 0),
      dims: viewer.dataset.dims ?? null,
      axial: Number(viewer.dataset.axial),
      ms: Number(viewer.dataset.ms),
      moduleMs: Number(viewer.dataset.moduleMs),
      pixels: viewerPixels(),
      shownMs: Number(document.body.dataset.volumeShownMs),
      mapMs: Number(document.body.dataset.mapMs),
    };
  });
}

/**
 * NiiVue shows the scan and the anomaly map in three planes and a render, its crosshair on the
 * page's slice (`axial`); a click in the coronal plane moves the page to the nearest scored
 * slice; the anomaly map downloads.
 */
async function checkViewer(page, label, axial) {
  const v = fixtures.volume;
  const vw = await viewerState(page);
  const px = vw.pixels;
  check(vw.visible && vw.volumes === 2, `${label}: the viewer does not show the scan and the map (${JSON.stringify(vw)})`);
  check(vw.dims === v.dims.join('x'), `${label}: the viewer's volume is ${vw.dims}, the file ${v.dims.join('x')}`);
  const planes = new Set((px?.panes ?? []).map((p) => p.axCorSag));
  check([0, 1, 2].every((p) => planes.has(p)) && px.panes.length >= 4,
    `${label}: the viewer lacks a plane or the render (${JSON.stringify(px?.panes)})`);
  check(px && px.inked > 0.15 * px.width * px.height, `${label}: the viewer is nearly blank (${px?.inked} of ${px?.width}×${px?.height} pixels inked)`);
  check(px && px.coloured > 100, `${label}: the anomaly overlay is not drawn (${px?.coloured} overlay-coloured pixels)`);
  check(vw.axial === axial && Math.floor(px.crosshair[2] * v.dims[2]) === axial,
    `${label}: the viewer's crosshair is at axial ${Math.floor(px.crosshair[2] * v.dims[2])} (${vw.axial}), the page shows ${axial}`);
  // A click a quarter of the way down the coronal plane: a higher slice than the middle.
  const coronal = px.panes.find((p) => p.axCorSag === 1);
  await page.locator('#viewer-canvas').scrollIntoViewIfNeeded();
  const box = await page.locator('#viewer-canvas').boundingBox();
  const scale = box.width / px.width;
  const [l, t, w, h] = coronal.ltwh;
  await page.mouse.click(box.x + (l + w / 2) * scale, box.y + (t + h / 4) * scale);
  // Software WebGL (SwiftShader) draws a frame in a good fraction of a second: wait for it.
  await page.waitForFunction((before) => Number(document.getElementById('viewer').dataset.axial) !== before, axial, { timeout: 20_000 })
    .catch(() => {});
  const after = await viewerState(page);
  const clickedAxial = Math.floor(after.pixels.crosshair[2] * v.dims[2]);
  const kept = v.native.latent_score;
  const nearest = kept.reduce((best, a) => (Math.abs(a - clickedAxial) < Math.abs(best - clickedAxial) ? a : best), kept[0]);
  const s = await shown(page);
  check(Number(s.slice) === nearest && clickedAxial !== axial,
    `${label}: a click in the coronal plane moved the crosshair to axial ${clickedAxial}; the page shows slice ${s.slice}, not the nearest scored ${nearest}`);
  // The download: the anomaly map as .nii.gz (browser.rs reads it back).
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-map')]);
  const saved = join(fixturesDir, `anomaly-map-${label.replace(/\W+/g, '-')}.nii.gz`);
  await download.saveAs(saved);
  check(download.suggestedFilename() === `${v.file.split('/').pop().replace(/\.nii(\.gz)?$/, '')}-anomaly-map.nii.gz`,
    `${label}: the download is named ${download.suggestedFilename()}`);
  return { ms: vw.ms, moduleMs: vw.moduleMs, shownMs: vw.shownMs, mapMs: vw.mapMs, inked: px.inked, coloured: px.coloured, download: saved, clickedAxial, panes: px.panes };
}

/** The page's and the model thread's memory, after garbage collection where gc() is exposed. */
async function memory(page) {
  return page.evaluate(() => {
    globalThis.gc?.();
    return {
      pageHeapBytes: performance.memory?.usedJSHeapSize ?? 0,
      workerWasmBytes: Number(document.body.dataset.workerWasmBytes),
      workerHeapBytes: Number(document.body.dataset.workerHeapBytes),
    };
  });
}

/** The volume dropped `count` times in a row: memory after each must stay flat. */
async function volumesInARow(page, label, count) {
  const readings = [];
  for (let i = 0; i < count; i++) {
    await upload(page, fixtures.volume.file);
    const s = await shown(page);
    check(s.error === null, `${label}: volume ${i + 1} of ${count} showed an error: ${s.error}`);
    readings.push({ ...(await memory(page)), shownMs: Number(await page.evaluate(() => document.body.dataset.volumeShownMs)) });
  }
  // After the first two (caches, kernels, the viewer's module), nothing may grow: the wasm
  // memory never shrinks, so a leak of a volume (tens of MB) shows at once. The heaps swing
  // from one reading to the next by what the last volume left for collection, so their
  // highest readings are compared: drops 3–5 against drops 8–10 (a volume leaked per drop
  // would add five volumes' worth).
  const MB = 1 << 20;
  const peak = (from, to, key) => Math.max(...readings.slice(from, to).map((r) => r[key]));
  const early = (key) => peak(2, 5, key);
  const late = (key) => peak(count - 3, count, key);
  check(late('workerWasmBytes') <= early('workerWasmBytes'),
    `${label}: the model thread's wasm memory grew from ${early('workerWasmBytes')} to ${late('workerWasmBytes')} bytes over ${count} volumes`);
  check(late('pageHeapBytes') <= early('pageHeapBytes') + 8 * MB,
    `${label}: the page's heap grew from ${early('pageHeapBytes')} to ${late('pageHeapBytes')} bytes (peaks) over ${count} volumes`);
  check(late('workerHeapBytes') <= early('workerHeapBytes') + 8 * MB,
    `${label}: the model thread's heap grew from ${early('workerHeapBytes')} to ${late('workerHeapBytes')} bytes (peaks) over ${count} volumes`);
  return readings;
}

try {
  // MNIST: images on WebGPU and on the forced CPU path, against the native scorer.
  for (const [label, backend] of [['webgpu', 'auto'], ['cpu', 'cpu']]) {
    const { page, log, requests } = await openPage(`?model=${fixtures.mnistModel}&backend=${backend}`);
    const st = await state(page);
    if (st.model !== 'loaded') {
      problems.push(`${label}: the MNIST model did not load: ${st.error} (console: ${log.join(' | ')})`);
      continue;
    }
    if (label === 'webgpu' && requireWebGpu) check(st.backend === 'webgpu', `webgpu: the page runs on ${st.backend}: ${st.status}`);
    if (label === 'cpu') check(st.backend === 'cpu', `cpu: the page runs on ${st.backend}: ${st.status}`);
    check(st.scope === 'DedicatedWorkerGlobalScope', `${label}: the model does not run in a Web Worker (${st.scope})`);
    check(st.warmVolumePasses === 0 && !st.status.includes('synthetic volume'),
      `${label}: an image model's warm-up read a volume (${st.warmVolumePasses} passes): ${st.status}`);
    const good = await scoreGood(page, label);
    const refused = await refusedOneByOne(page, label, fixtures.bad, fixtures.good[0]);
    const sample = await scoreSample(page, label);
    check(!log.some((line) => /panicked|pageerror|RuntimeError/.test(line)), `${label}: console shows a failure: ${log.join(' | ')}`);
    // Images alone never fetch the volume viewer; what the visit downloaded, in bytes.
    check(!requests.some((u) => u.includes('niivue')), `${label}: a visit without a volume fetched NiiVue`);
    const downloaded = (await Promise.all(page.__responses.map(async (r) => (await r.body().catch(() => Buffer.alloc(0))).length)))
      .reduce((a, b) => a + b, 0);
    output.pages[label] = { ...st, ...good, refused, sample, console: log, downloadedBytes: downloaded, requests: requests.length };
    await page.close();
  }

  // The brain model: a real NIfTI volume on both backends, with the privacy check.
  for (const [label, backend] of fixtures.volume ? [['webgpu', 'auto'], ['cpu', 'cpu']] : []) {
    const { page, log, requests } = await openPage(`?model=${fixtures.brainModel}&backend=${backend}`);
    page.__requests = requests;
    const st = await state(page);
    if (st.model !== 'loaded') {
      problems.push(`${label}: the brain model did not load: ${st.error} (console: ${log.join(' | ')})`);
      continue;
    }
    check(st.scope === 'DedicatedWorkerGlobalScope', `${label}: the model does not run in a Web Worker (${st.scope})`);
    check(st.warmVolumePasses >= 1 && st.status.includes('synthetic volume'),
      `${label}: the brain model's warm-up read no volume (${st.warmVolumePasses} passes): ${st.status}`);
    check(st.warmVolumePasses === (st.backend === 'cpu' ? fixtures.warmUpPasses : 1),
      `${label}: the warm-up read its synthetic head ${st.warmVolumePasses} times on ${st.backend} (CPU: ${fixtures.warmUpPasses}, WebGPU: 1)`);
    const volume = await scoreVolume(page, `${label} volume`);
    if (label === 'webgpu' && screenshotsDir) {
      // The most anomalous slice, as a visitor first sees it.
      await page.locator('#ranking button').first().click();
      await mkdir(screenshotsDir, { recursive: true });
      await page.screenshot({ path: join(screenshotsDir, 'page-volume-1280x800.png'), fullPage: true });
      await page.setViewportSize({ width: 390, height: 844 });
      await page.screenshot({ path: join(screenshotsDir, 'page-volume-phone-390.png'), fullPage: true });
      await page.setViewportSize({ width: 1280, height: 800 });
    }
    check(!log.some((line) => /panicked|pageerror|RuntimeError/.test(line)), `${label} volume: console shows a failure: ${log.join(' | ')}`);
    output.volumes[label] = { backend: st.status, ...volume };
    if (label === 'cpu') output.volumes.inARow = await volumesInARow(page, `${label} volumes`, 10);
    if (label === 'webgpu') {
      // Bad volumes one by one, each followed by a good slice; then twenty files in one drop.
      output.volumes.refused = await refusedOneByOne(page, 'brain', fixtures.badVolumes, fixtures.many.files[0]);
      const before = await attempts(page);
      await upload(page, fixtures.many.files);
      const after = await shown(page);
      check(await attempts(page) === before + fixtures.many.files.length, 'twenty files: not every file was handled');
      const entries = after.log.slice(0, fixtures.many.files.length);
      for (const bad of fixtures.many.bad) {
        check(entries.some((e) => e.kind === 'refused' && e.text.includes(bad.file) && e.text.includes(bad.expect)),
          `twenty files: no refusal naming ${bad.file} and “${bad.expect}” in ${JSON.stringify(entries)}`);
      }
      const scoredCount = entries.filter((e) => e.kind === 'scored').length;
      check(scoredCount === fixtures.many.files.length - fixtures.many.bad.length,
        `twenty files: ${scoredCount} scored, expected ${fixtures.many.files.length - fixtures.many.bad.length}`);
      output.volumes.many = entries;
      // Accessibility basics: every image has alt text, every control a label, canvases a name.
      const a11y = await page.evaluate(() => ({
        imagesWithoutAlt: Array.from(document.images).filter((i) => !i.alt).length,
        unlabelled: Array.from(document.querySelectorAll('input, select')).filter((c) => !c.labels || c.labels.length === 0).map((c) => c.id),
        unnamedCanvases: Array.from(document.querySelectorAll('canvas')).filter((c) => !c.getAttribute('aria-label')).map((c) => c.id),
      }));
      check(a11y.imagesWithoutAlt === 0 && a11y.unlabelled.length === 0 && a11y.unnamedCanvases.length === 0,
        `accessibility: ${JSON.stringify(a11y)}`);
    }
    await page.close();
  }

  // A browser without WebGL2 (no GPU, or WebGL switched off): the volume is scored and its map
  // downloads; the viewer says why it shows nothing.
  if (fixtures.volume) {
    const label = 'no WebGL2';
    const { page, log } = await openPage(`?model=${fixtures.brainModel}&backend=cpu`, (p) => p.addInitScript(() => {
      const getContext = HTMLCanvasElement.prototype.getContext;
      HTMLCanvasElement.prototype.getContext = function (kind, ...rest) {
        return kind === 'webgl2' ? null : getContext.call(this, kind, ...rest);
      };
    }));
    await upload(page, fixtures.volume.file);
    const s = await shown(page);
    const viewer = await page.evaluate(() => {
      const v = document.getElementById('viewer');
      return { visible: !v.hidden, failed: v.dataset.failed ?? null, status: document.getElementById('viewer-status').textContent, canvasHidden: document.getElementById('viewer-canvas').hidden };
    });
    check(s.error === null && s.log[0]?.kind === 'scored', `${label}: the volume was not scored: ${JSON.stringify({ error: s.error, log: s.log[0] })}`);
    check(viewer.visible && viewer.failed !== null && viewer.canvasHidden && viewer.status.includes('could not show'),
      `${label}: the viewer does not say why it shows nothing: ${JSON.stringify(viewer)}`);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-map')]);
    const saved = join(fixturesDir, 'anomaly-map-no-webgl2.nii.gz');
    await download.saveAs(saved);
    check(download.suggestedFilename() === `${fixtures.volume.file.split('/').pop().replace(/\.nii(\.gz)?$/, '')}-anomaly-map.nii.gz`,
      `${label}: the download is named ${download.suggestedFilename()}`);
    check(!log.some((line) => /panicked|pageerror|RuntimeError/.test(line)), `${label}: console shows a failure: ${log.join(' | ')}`);
    output.volumes.withoutWebGl2 = { viewer, download: saved, name: download.suggestedFilename() };
    await page.close();
  }
  // A volume given to the MNIST model: refused, naming why.
  if (fixtures.volume) {
    const { page } = await openPage(`?model=${fixtures.mnistModel}&backend=cpu`);
    await upload(page, fixtures.volume.file);
    const s = await shown(page);
    check((s.error ?? '').includes('not a brain model'), `a volume on the MNIST model: ${JSON.stringify(s.error)}`);
    output.errors.push({ case: 'volume on the MNIST model', error: s.error });
    await page.close();
  }
  // A model that does not exist, and weights cut short on the way: clear errors, no crash.
  {
    const { page } = await openPage('?model=no-such-model');
    const s = await page.evaluate(() => ({ model: document.body.dataset.model, error: document.getElementById('error').textContent }));
    check(s.model === 'failed' && s.error.includes('no-such-model'), `missing model: ${JSON.stringify(s)}`);
    await upload(page, fixtures.good[0]);
    const after = await shown(page);
    check((after.error ?? '').includes('no model is loaded'), `missing model, then an upload: ${JSON.stringify(after.error)}`);
    output.errors.push({ case: 'missing model', error: s.error });
    await page.close();
  }
  {
    const { page } = await openPage(`?model=${fixtures.mnistModel}`, (p) => p.route('**/*.bpk', async (route) => {
      const response = await route.fetch();
      const body = await response.body();
      await route.fulfill({ response, body: body.subarray(0, body.length >> 1) });
    }));
    const s = await page.evaluate(() => ({ model: document.body.dataset.model, error: document.getElementById('error').textContent }));
    check(s.model === 'failed' && s.error.includes('model.json expects'), `truncated weights: ${JSON.stringify(s)}`);
    output.errors.push({ case: 'truncated weights', error: s.error });
    await page.close();
  }
} finally {
  await context.close();
  await rm(userDataDir, { recursive: true, force: true });
}

output.problems = problems;
await writeFile(outPath, JSON.stringify(output, null, 2));
assert.deepEqual(problems, [], `the page misbehaved:\n${problems.join('\n')}`);
