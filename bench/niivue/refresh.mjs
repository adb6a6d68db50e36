// What one NiiVue scene refresh costs in this machine's Chromium, with NiiVue as npm ships it
// and as `cargo xtask web` patches it (docs/niivue-lazy-gradient.md): a scan and an overlay of
// its size loaded as the page's viewer loads them (two NVImages, one refresh), then drawn.
//
//   cargo xtask web            # writes the patched module, xtask/node_modules/.lran/niivue.js
//   node bench/niivue/refresh.mjs <scan.nii.gz> results/bench/niivue-refresh.json
//
// Runs each build `RUNS` times in a fresh page and writes every time, with the commit, the scan
// (path, bytes, SHA-256), Chromium's version and its WebGL renderer.

import { createServer } from 'node:http';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { median, root, sha256, treeCommit } from '../common.mjs';
import { createRequire } from 'node:module';

const require = createRequire(join(root, 'xtask/package.json'));
const esbuild = require('esbuild');
const { chromium } = createRequire(join(root, 'tests/browser/package.json'))('playwright-core');

const RUNS = 3;
const [scanPath, outPath] = process.argv.slice(2);
if (!scanPath || !outPath) {
  console.error('usage: node bench/niivue/refresh.mjs <scan.nii.gz> <out.json>');
  process.exit(2);
}
const scan = await readFile(scanPath);
const builds = {
  npm: join(root, 'xtask/node_modules/@niivue/niivue/build/niivue/index.js'),
  patched: join(root, 'xtask/node_modules/.lran/niivue.js'),
};
const bundles = {};
for (const [name, entry] of Object.entries(builds)) {
  const out = await esbuild.build({
    stdin: { contents: `export { Niivue, NVImage, SHOW_RENDER } from ${JSON.stringify(entry)};`, resolveDir: root },
    bundle: true, format: 'esm', write: false, logLevel: 'warning',
  });
  bundles[name] = out.outputFiles[0].contents;
}

const page = `<!doctype html><canvas id="c" width="1100" height="600" style="width:1100px;height:600px"></canvas>
<script type="module">
window.measure = async (build) => {
  const niivue = await import('/' + build + '.js');
  const nv = new niivue.Niivue({ isColorbar: true, multiplanarShowRender: niivue.SHOW_RENDER.ALWAYS, logLevel: 'error' });
  await nv.attachToCanvas(document.getElementById('c'));
  nv.setSliceType(nv.sliceTypeMultiplanar);
  const bytes = await (await fetch('/scan.nii.gz')).arrayBuffer();
  const finish = () => { const p = new Uint8Array(4); nv.gl.readPixels(0, 0, 1, 1, nv.gl.RGBA, nv.gl.UNSIGNED_BYTE, p); };
  const t0 = performance.now();
  const [base, overlay] = await Promise.all([
    niivue.NVImage.loadFromUrl({ url: bytes.slice(0), name: 'scan.nii.gz', colorbarVisible: false }),
    niivue.NVImage.loadFromUrl({ url: bytes.slice(0), name: 'overlay.nii.gz', colormap: 'warm', opacity: 0.85 }),
  ]);
  const t1 = performance.now();
  nv.volumes = [base];
  nv.addVolume(overlay);
  finish();
  const t2 = performance.now();
  nv.drawScene();
  finish();
  const t3 = performance.now();
  const info = nv.gl.getExtension('WEBGL_debug_renderer_info');
  return { read_ms: t1 - t0, refresh_ms: t2 - t1, draw_ms: t3 - t2, dims: base.dimsRAS.slice(1, 4),
    renderer: info ? nv.gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : nv.gl.getParameter(nv.gl.RENDERER) };
};
</script>`;
const server = createServer((req, res) => {
  const name = req.url.slice(1).replace(/\.js$/, '');
  if (req.url === '/') res.writeHead(200, { 'content-type': 'text/html' }).end(page);
  else if (req.url === '/scan.nii.gz') res.writeHead(200).end(scan);
  else if (bundles[name]) res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundles[name]);
  else res.writeHead(404).end();
});
await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
const url = `http://127.0.0.1:${server.address().port}/`;

const browser = await chromium.launchPersistentContext(await mkdtemp(join(tmpdir(), 'lran-niivue-')), {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
});
const runs = {};
let renderer = null;
let dims = null;
for (const name of Object.keys(builds)) {
  runs[name] = [];
  for (let i = 0; i < RUNS; i++) {
    const tab = await browser.newPage();
    await tab.goto(url);
    await tab.waitForFunction(() => window.measure);
    const run = await tab.evaluate((build) => window.measure(build), name);
    ({ renderer, dims } = run);
    runs[name].push({ read_ms: run.read_ms, refresh_ms: run.refresh_ms, draw_ms: run.draw_ms });
    await tab.close();
  }
}
const version = browser.browser()?.version() ?? null;
await browser.close();
server.close();

const results = {
  kind: 'niivue-refresh',
  commit: treeCommit(),
  command: `node bench/niivue/refresh.mjs ${scanPath} ${outPath}`,
  created_unix: Math.floor(Date.now() / 1000),
  data: { scan: scanPath, bytes: scan.length, sha256: sha256(scan), dims },
  device: { cpu: cpus()[0]?.model ?? null, threads: cpus().length, chromium: version, webgl_renderer: renderer },
  niivue: JSON.parse(await readFile(join(root, 'xtask/node_modules/@niivue/niivue/package.json'), 'utf8')).version,
  note: 'Per run, in a fresh page: read_ms decodes the scan and an overlay of its size (two NVImages); refresh_ms is the one refresh putting both layers into their 3D textures (addVolume), to the GPU finishing; draw_ms one multiplanar frame with the render. npm: NiiVue as published; patched: with the gradient texture computed only where the render shader reads it.',
  runs,
  median_refresh_ms: Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, median(v.map((r) => r.refresh_ms))])),
};
await writeFile(outPath, `${JSON.stringify(results, null, 2)}\n`);
console.log(JSON.stringify(results.median_refresh_ms));
