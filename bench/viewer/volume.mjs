// How long the page takes, on its CPU path, from a dropped NIfTI volume to its scores and its
// anomaly map shown in the viewer, phase by phase, in this machine's headless Chromium: the
// issue-18 budget ("a 155-slice volume scored and shown within 3 s on the CPU path").
//
//   cargo xtask serve --port 8080 &    # the shipped build (or: cargo xtask dist, then serve --root)
//   node bench/viewer/volume.mjs http://127.0.0.1:8080/ <t1.nii.gz> results/browser/viewer/<name>.json
//
// Each mode runs in PAGES fresh pages, the volume dropped RUNS times one after another in each
// (a page's first drop also loads NiiVue, and finds the WebAssembly least optimised): `viewer`
// as a visitor gets it; `scores only` with WebGL2 switched off, so the viewer stands aside and
// the model thread has the machine to itself (what the scores cost alone). The results file
// holds each page's warm-up, every drop's phases, the site's build.json (commit, profiles,
// module sizes), the volume (path, bytes, SHA-256) and the browser.
//
// CHROMIUM_JS_FLAGS=... passes V8 flags to Chromium (recorded in the file): with
// '--no-liftoff --no-wasm-lazy-compilation' WebAssembly is optimised before it first runs, which
// tells what of a first volume's time is Chromium's baseline compiler.

import { mkdtemp, readFile, writeFile, mkdir } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { median, root, sha256, treeCommit } from '../common.mjs';
import { createRequire } from 'node:module';

const { chromium } = createRequire(join(root, 'tests/browser/package.json'))('playwright-core');

const RUNS = 4;
const PAGES = 3;
const [siteUrl, volumePath, outPath] = process.argv.slice(2);
if (!siteUrl || !volumePath || !outPath) {
  console.error('usage: node bench/viewer/volume.mjs <site url> <volume.nii.gz> <out.json>');
  process.exit(2);
}
const volume = await readFile(volumePath);
const build = await (await fetch(new URL('www/pkg/build.json', siteUrl))).json();
const jsFlags = process.env.CHROMIUM_JS_FLAGS ?? null;

const context = await chromium.launchPersistentContext(await mkdtemp(join(tmpdir(), 'lran-viewer-bench-')), {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1280, height: 800 },
  args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run',
    ...(jsFlags ? [`--js-flags=${jsFlags}`] : [])],
});

const noWebGl2 = () => {
  const getContext = HTMLCanvasElement.prototype.getContext;
  HTMLCanvasElement.prototype.getContext = function (kind, ...rest) {
    return kind === 'webgl2' ? null : getContext.call(this, kind, ...rest);
  };
};

async function drops(mode) {
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  if (mode === 'scores only') await page.addInitScript(noWebGl2);
  await page.goto(new URL('?model=brain-t1&backend=cpu', siteUrl).href);
  await page.waitForFunction(() => ['loaded', 'failed'].includes(document.body.dataset.model));
  // The model thread's warm-up (the page is ready after it), for what it costs the page's load.
  const warmMs = Number(await page.evaluate(() => document.body.dataset.warmMs));
  const out = [];
  for (let i = 0; i < RUNS; i++) {
    const before = Number(await page.evaluate(() => document.body.dataset.attempts ?? 0));
    await page.setInputFiles('#file-input', volumePath);
    await page.waitForFunction((n) => Number(document.body.dataset.attempts ?? 0) > n, before, { timeout: 300_000 });
    const drop = await page.evaluate(() => {
      const body = document.body.dataset;
      const viewer = document.getElementById('viewer').dataset;
      const number = (v) => (v === undefined ? null : Number(v));
      return {
        shown_ms: number(body.volumeShownMs),
        scored_ms: number(body.volumeMs),
        open_ms: number(body.volumeOpenMs),
        map_ms: number(body.mapMs),
        viewer_failed: viewer.failed ?? null,
        viewer_module_ms: number(viewer.moduleMs),
        viewer_attach_ms: number(viewer.attachMs),
        viewer_scan_parsed_ms: number(viewer.scanParsedMs),
        viewer_scan_read_ms: number(viewer.baseMs),
        viewer_map_read_ms: number(viewer.overlayMs),
        viewer_draw_ms: number(viewer.drawMs),
        error: document.getElementById('error').hidden ? null : document.getElementById('error').textContent,
      };
    });
    if (drop.error || !(drop.shown_ms > 0)) throw new Error(`${mode}, drop ${i + 1}: ${drop.error ?? 'no volume shown'} ${errors.join('; ')}`);
    out.push(drop);
    console.log(mode, i + 1, drop.shown_ms.toFixed(0), drop.scored_ms.toFixed(0));
  }
  await page.close();
  return { warm_ms: warmMs, drops: out };
}

// Per mode, per page: its warm-up and its drops in order.
const modes = {};
for (const mode of ['viewer', 'scores only']) {
  modes[mode] = [];
  for (let p = 0; p < PAGES; p++) modes[mode].push(await drops(mode));
}
const version = context.browser()?.version() ?? null;
const perMode = (f) => Object.fromEntries(Object.entries(modes).map(([k, pages]) => [k, f(pages)]));
await context.close();

const results = {
  kind: 'lran-viewer-volume-bench/2',
  commit: treeCommit(),
  command: `node bench/viewer/volume.mjs ${siteUrl} ${volumePath} ${outPath}`,
  created_unix: Math.floor(Date.now() / 1000),
  data: { volume: volumePath, bytes: volume.length, sha256: sha256(volume) },
  device: { cpu: cpus()[0]?.model ?? null, threads: cpus().length, chromium: version, js_flags: jsFlags },
  build,
  note: 'Per page, warm_ms: the model thread\'s warm-up before the page is ready. Per drop, in ms from the drop: shown_ms, the scores and the anomaly map drawn in the viewer (the budget); scored_ms, the model thread done (open, every slice, the map); open_ms, the volume read and sliced; map_ms, the anomaly map written; viewer_module_ms, NiiVue imported and started on the canvas (viewer_attach_ms of it: WebGL2 context and shaders, once a page); viewer_scan_parsed_ms, the scan parsed by NiiVue; viewer_scan_read_ms, the scan drawn (all while the model thread scores); viewer_map_read_ms, the map read; viewer_draw_ms, the map layer into its texture and the scene drawn, to the GPU finishing. "scores only": WebGL2 off, so no viewer.',
  runs: modes,
  // A page's first drop (what a visitor's first volume costs), and every later one.
  median_first_shown_ms: perMode((pages) => median(pages.map((p) => p.drops[0].shown_ms))),
  worst_first_shown_ms: perMode((pages) => Math.max(...pages.map((p) => p.drops[0].shown_ms))),
  median_later_shown_ms: perMode((pages) => median(pages.flatMap((p) => p.drops.slice(1).map((r) => r.shown_ms)))),
  median_warm_ms: perMode((pages) => median(pages.map((p) => p.warm_ms))),
};
await mkdir(dirname(outPath), { recursive: true });
await writeFile(outPath, `${JSON.stringify(results, null, 2)}\n`);
console.log(JSON.stringify({ first: results.median_first_shown_ms, worstFirst: results.worst_first_shown_ms, later: results.median_later_shown_ms, warm: results.median_warm_ms }));
