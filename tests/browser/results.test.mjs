// Drives the results page (www/results.html) in headless Chromium and writes what it drew to a
// JSON file; xtask/tests/browser.rs reads every number back from the results files it names.
//
//   node results.test.mjs <site url> <output json> [screenshots dir]
//
// Output: tables (count), cells [{ text, numbers: [{ file, pointer, scale, digits, shown }] }],
// charts [{ name, series, points, inked }] (inked: non-white pixels of the chart's canvas),
// thumbnails [{ src, width, tumour }] (the most anomalous slices as drawn),
// rocSwitch (the ROC chart after picking another model), rocCase (the chart after picking a
// brain model's second test case: model, case, latentAuc, pixelAuc, legend), provenance (the panel's text after
// clicking a cell of ours), foreign (requests that left the origin), log (console messages).

import { chromium } from 'playwright-core';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [siteUrl, outPath, screenshotsDir] = process.argv.slice(2);
if (!outPath) {
  console.error('usage: node results.test.mjs <site url> <output json> [screenshots dir]');
  process.exit(2);
}

const userDataDir = await mkdtemp(join(tmpdir(), 'lran-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1280, height: 800 },
  args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
});
context.setDefaultTimeout(120_000);
const origin = new URL(siteUrl).origin;
const page = await context.newPage();
const log = [];
const foreign = [];
page.on('console', (m) => log.push(`${m.type()}: ${m.text()}`));
page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
page.on('request', (r) => {
  if (new URL(r.url()).origin !== origin) foreign.push(r.url());
});
const output = { log, foreign };
try {
  await page.goto(new URL('www/results.html', siteUrl).href);
  await page.waitForFunction(() => window.lranResults?.ready || window.lranResults?.error, null, { timeout: 60_000 });
  await page.waitForFunction(() => [...document.images].every((i) => i.complete), null, { timeout: 60_000 });
  const summary = await page.evaluate(() => {
    const inked = (holder) => {
      const canvas = holder?.querySelector('canvas');
      if (!canvas) return 0;
      const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
      let n = 0;
      for (let i = 0; i < data.length; i += 4) {
        if (data[i + 3] > 0 && (data[i] < 240 || data[i + 1] < 240 || data[i + 2] < 240)) n += 1;
      }
      return n;
    };
    const charts = window.lranResults.charts.map((c) => ({ ...c, inked: inked(document.querySelector(`[data-chart="${CSS.escape(c.name)}"]`)) }));
    const cells = [...document.querySelectorAll('td[data-numbers]')].map((td) => ({
      text: td.textContent,
      origin: td.classList.contains('origin-paper') ? 'paper' : 'ours',
      numbers: JSON.parse(td.dataset.numbers),
    }));
    return {
      error: window.lranResults.error ?? null,
      tables: document.querySelectorAll('table.report-table').length,
      status: document.getElementById('results-status').textContent,
      cells,
      charts,
      thumbnails: [...document.querySelectorAll('#top-slices-body img')].map((img) => ({
        src: new URL(img.src).pathname,
        width: img.naturalWidth,
        tumour: img.closest('figure').classList.contains('tumour'),
      })),
    };
  });
  Object.assign(output, summary);
  // Another model in the ROC picker redraws the chart with that model's curves.
  const models = await page.locator('#roc-model option').count();
  if (models > 1) {
    await page.selectOption('#roc-model', '1');
    output.rocSwitch = await page.evaluate(() => document.getElementById('roc-chart').dataset.model);
  }
  // A brain model's ROC for one test case: the chart's model, case and AUCs as drawn.
  const brain = await page.locator('#roc-suite option', { hasText: /^brain( \(reduced budget\))?$/ }).getAttribute('value').catch(() => null);
  if (brain !== null) {
    await page.selectOption('#roc-suite', brain);
    await page.selectOption('#roc-case', '1');
    output.rocCase = await page.evaluate(() => {
      const chart = document.getElementById('roc-chart');
      return { ...chart.dataset, legend: chart.innerText, cases: document.querySelectorAll('#roc-case option').length - 1 };
    });
  }
  // A cell of ours opens the panel naming its results files.
  const ours = page.locator('td.origin-ours[data-numbers]').first();
  if (await ours.count()) {
    await ours.click();
    output.provenance = await page.locator('#provenance').innerText();
    if (screenshotsDir) await page.screenshot({ path: join(screenshotsDir, 'results-1280x800.png') });
  }
} catch (error) {
  output.error = String(error?.stack ?? error);
} finally {
  await writeFile(outPath, JSON.stringify(output, null, 1));
  await context.close();
  await rm(userDataDir, { recursive: true, force: true });
}
