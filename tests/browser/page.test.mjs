// Drives the served page in headless Chromium (Debian's, through playwright-core) and writes
// what the page showed to a JSON file; xtask/tests/browser.rs prepares the fixtures, serves the
// site, runs this and compares the page's scores with the native scorer's.
//
//   node page.test.mjs <site url> <fixtures dir> <output json>
//
// fixtures.json: { "good": [file, …], "bad": [{ "file", "expect" }, …] }

import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [siteUrl, fixturesDir, outPath] = process.argv.slice(2);
if (!outPath) {
  console.error('usage: node page.test.mjs <site url> <fixtures dir> <output json>');
  process.exit(2);
}
const fixtures = JSON.parse(await readFile(join(fixturesDir, 'fixtures.json'), 'utf8'));
const requireWebGpu = process.env.LRAN_BROWSER_ALLOW_NO_WEBGPU !== '1';
const TIMEOUT = 180_000;

const userDataDir = await mkdtemp(join(tmpdir(), 'lran-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: [
    '--no-sandbox',
    '--disable-background-networking',
    '--disable-component-update',
    '--no-first-run',
    '--enable-unsafe-webgpu',
  ],
});
context.setDefaultTimeout(TIMEOUT);

const output = { pages: {}, errors: [] };
const problems = [];

async function openPage(query, setup) {
  const page = await context.newPage();
  const log = [];
  page.on('console', (m) => log.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
  if (setup) await setup(page);
  await page.goto(`${siteUrl}${query}`);
  await page.waitForFunction(() => ['loaded', 'failed'].includes(document.body.dataset.model));
  return { page, log };
}

async function attempts(page) {
  return Number(await page.evaluate(() => document.body.dataset.attempts ?? 0));
}

/** Gives the page one file and waits until it has finished with it (scored or refused). */
async function upload(page, file) {
  const before = await attempts(page);
  await page.setInputFiles('#file-input', join(fixturesDir, file));
  await page.waitForFunction((n) => Number(document.body.dataset.attempts ?? 0) > n, before);
}

async function shown(page) {
  return page.evaluate(() => {
    const result = document.getElementById('result');
    const error = document.getElementById('error');
    const canvas = document.getElementById('residual-canvas');
    let distinctColours = 0;
    if (canvas.width > 0) {
      const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
      const colours = new Set();
      for (let i = 0; i < data.length; i += 4) colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
      distinctColours = colours.size;
    }
    return {
      file: result.dataset.file ?? null,
      latent: Number(result.dataset.latentScore),
      pixel: Number(result.dataset.pixelScore),
      verdict: result.dataset.verdict ?? null,
      verdictText: document.getElementById('verdict').textContent,
      latentText: document.getElementById('latent-score').textContent,
      ms: Number(result.dataset.ms),
      backend: result.dataset.backend ?? null,
      resultVisible: !result.hidden,
      error: error.hidden ? null : error.textContent,
      heatmapColours: distinctColours,
    };
  });
}

function check(condition, text) {
  if (!condition) problems.push(text);
}

async function scoreGood(page, label) {
  const scored = [];
  for (const file of fixtures.good) {
    await upload(page, file);
    const s = await shown(page);
    check(s.file === file, `${label}: ${file} did not become the shown result (${JSON.stringify(s)})`);
    check(s.error === null, `${label}: ${file} showed an error: ${s.error}`);
    check(Number.isFinite(s.latent) && s.latent > 0, `${label}: ${file} latent score ${s.latent}`);
    check(s.latentText.length > 0 && s.verdictText.length > 0, `${label}: ${file} shows no score or verdict`);
    check(s.heatmapColours > 1, `${label}: ${file} heat map is blank (${s.heatmapColours} colours)`);
    scored.push(s);
  }
  // A second pass over the same files times warm scoring (kernels compiled, caches filled).
  const warm = [];
  for (const file of fixtures.good) {
    await upload(page, file);
    warm.push((await shown(page)).ms);
  }
  return { scored, warm_ms: warm };
}

async function badThenGood(page, label) {
  const refused = [];
  for (const bad of fixtures.bad) {
    await upload(page, bad.file);
    const s = await shown(page);
    check(s.error !== null && s.error.includes(bad.file) && s.error.includes(bad.expect),
      `${label}: ${bad.file} should show an error naming it and “${bad.expect}”, showed ${JSON.stringify(s.error)}`);
    refused.push({ file: bad.file, error: s.error });
    // The app keeps working: a good image still scores right after.
    const good = fixtures.good[0];
    await upload(page, good);
    const after = await shown(page);
    check(after.file === good && after.error === null && after.latent > 0,
      `${label}: after ${bad.file}, ${good} did not score (${JSON.stringify(after)})`);
  }
  return refused;
}

async function scoreSample(page, label) {
  const before = await attempts(page);
  const button = page.locator('#sample-list button').first();
  await button.click();
  await page.waitForFunction((n) => Number(document.body.dataset.attempts ?? 0) > n, before);
  const s = await shown(page);
  check(s.error === null && (s.file ?? '').endsWith('.png'), `${label}: the first sample did not score (${JSON.stringify(s)})`);
  return s.file;
}

try {
  for (const [label, query] of [['webgpu', '?backend=auto'], ['cpu', '?backend=cpu']]) {
    const { page, log } = await openPage(query);
    const state = await page.evaluate(() => ({
      model: document.body.dataset.model,
      backend: document.getElementById('status').dataset.backend ?? null,
      status: document.getElementById('status').textContent,
      error: document.getElementById('error').hidden ? null : document.getElementById('error').textContent,
      build: document.getElementById('build-facts').textContent,
    }));
    if (state.model !== 'loaded') {
      problems.push(`${label}: the model did not load: ${state.error} (console: ${log.join(' | ')})`);
      continue;
    }
    if (label === 'webgpu' && requireWebGpu) check(state.backend === 'webgpu', `webgpu: the page runs on ${state.backend}: ${state.status}`);
    if (label === 'cpu') check(state.backend === 'cpu', `cpu: the page runs on ${state.backend}: ${state.status}`);
    const good = await scoreGood(page, label);
    const refused = await badThenGood(page, label);
    const sample = await scoreSample(page, label);
    check(!log.some((line) => /panicked|pageerror|RuntimeError/.test(line)), `${label}: console shows a failure: ${log.join(' | ')}`);
    output.pages[label] = { ...state, ...good, refused, sample, console: log };
    await page.close();
  }

  // A model that does not exist, and weights cut short on the way: clear errors, no crash.
  {
    const { page } = await openPage('?model=no-such-model');
    const s = await page.evaluate(() => ({ model: document.body.dataset.model, error: document.getElementById('error').textContent }));
    check(s.model === 'failed' && s.error.includes('no-such-model'), `missing model: ${JSON.stringify(s)}`);
    await upload(page, fixtures.good[0]);
    const after = await shown(page);
    check((after.error ?? '').includes('no model is loaded'), `missing model, then an upload: ${JSON.stringify(after)}`);
    output.errors.push({ case: 'missing model', error: s.error });
    await page.close();
  }
  {
    const { page } = await openPage('', (p) => p.route('**/*.bpk', async (route) => {
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
