// The results page: draws www/pkg/results/data.json, which `cargo xtask web` writes from the
// report's own document (the README's tables, every number naming its file and JSON pointer),
// the suites' summaries and ROC curves, and the exported models' latent views. Nothing here
// computes a number: it shows what the data holds. Charts are uPlot's (vendored at build time).

const DATA = 'pkg/results/data.json';
const $ = (id) => document.getElementById(id);

// The page's test reads what it drew through this hook.
const drawn = { tables: 0, charts: [] };
window.lranResults = drawn;

function element(tag, attributes = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === 'text') node.textContent = value;
    else if (key === 'html') node.innerHTML = value; // built by our own report, never by a visitor
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function renderBlocks(container, blocks, data) {
  for (const block of blocks) {
    if (block.kind === 'prose') {
      container.append(element('div', { class: 'prose', html: block.html }));
      continue;
    }
    const head = element('tr', {}, block.header.map((h) => element('th', { scope: 'col', html: h })));
    const body = block.rows.map((row) => element('tr', {}, row.map((cell) => tableCell(cell, data))));
    const table = element('table', { class: 'report-table' }, [element('thead', {}, [head]), element('tbody', {}, body)]);
    container.append(element('div', { class: 'table-scroll' }, [table]));
    drawn.tables += 1;
  }
}

function tableCell(cell, data) {
  const td = element('td', { html: cell.html ?? '' });
  if (cell.origin) td.classList.add(`origin-${cell.origin}`);
  if (cell.numbers?.length) {
    td.dataset.numbers = JSON.stringify(cell.numbers.map(({ file, pointer, scale, digits, shown }) => ({ file, pointer, scale, digits, shown })));
    td.tabIndex = 0;
    td.title = cell.origin === 'paper' ? 'The paper\'s number: click for where it was transcribed' : 'Ours: click for its results files';
    const open = () => showProvenance(cell, data);
    td.addEventListener('click', open);
    td.addEventListener('keydown', (e) => { if (e.key === 'Enter') open(); });
  }
  return td;
}

function showProvenance(cell, data) {
  const body = $('provenance-body');
  body.replaceChildren();
  const files = [...new Set([...(cell.files ?? []), ...cell.numbers.map((n) => n.file)])];
  if (cell.origin === 'paper') {
    body.append(element('p', { text: 'Reported by the paper\'s authors; lran did not produce it. Transcribed in docs/paper/tables.json (each table names the lines of the paper\'s text it was read from).' }));
  }
  for (const file of files) {
    const facts = data.files[file];
    const list = element('dl', { class: 'facts' });
    const add = (term, value) => {
      if (value === undefined || value === null || value === '') return;
      list.append(element('dt', { text: term }), element('dd', { text: String(value) }));
    };
    if (facts) {
      add('kind', facts.kind);
      add('written at commit', facts.commit);
      add('trained at commit', facts.trained_with_commit);
      add('command', facts.command);
      add('seed', facts.seed);
      add('epochs', facts.epochs);
      add('optimiser steps', facts.steps);
      add('trained on', facts.device);
      if (facts.reduced !== undefined) add('budget', facts.reduced ? 'REDUCED (less than the paper\'s): a check of the pipeline, not a reproduction' : 'the paper\'s');
      if (facts.data_files?.length) {
        add('data', facts.data_files.map(([name, hash]) => `${name} sha256:${hash.slice(0, 16)}…`).join('\n'));
      }
    }
    const numbers = cell.numbers.filter((n) => n.file === file).map((n) => `${n.pointer} = ${n.value}`);
    add('numbers read here', numbers.join('\n'));
    const link = element('a', { href: `pkg/results/${file}`, class: 'results-file', text: file });
    body.append(element('h3', {}, [link]), list);
  }
  $('provenance').hidden = false;
  $('provenance').focus?.();
}

// ---- charts ----------------------------------------------------------------------------------

const COLOURS = ['#4a78a8', '#c0392b', '#7f8c8d', '#d4a017', '#3f8f5f', '#8e44ad'];

function chartsAvailable(container) {
  if (window.uPlot) return true;
  container.append(element('p', { class: 'status', text: 'Charts need uPlot, which `cargo xtask web` copies from npm; this build has none (npm was missing). The tables above hold every number.' }));
  return false;
}

function width(container) {
  return Math.max(320, Math.min(860, container.clientWidth || 860));
}

function record(name, container, plot) {
  container.dataset.chart = name;
  drawn.charts.push({ name, series: plot.series.length - 1, points: plot.data[0].length });
}

// Grouped bars: one group per category, one bar per series (mean; a whisker for ±std). Every
// bar has its own x (category + offset), and each series is null at the others' bars.
function barChart(container, name, title, categories, series) {
  const figure = element('figure', { class: 'chart' });
  container.append(figure);
  figure.append(element('figcaption', { text: title }));
  const holder = element('div');
  figure.append(holder);
  const count = series.length;
  const step = 0.8 / count;
  const offset = (k) => (k - (count - 1) / 2) * step;
  const x = categories.flatMap((_, i) => series.map((_, k) => i + offset(k)));
  const columns = series.map((s, k) => categories.flatMap((_, i) => series.map((_, j) => (j === k ? s.values[i] : null))));
  const whiskers = {
    hooks: {
      draw: [(u) => {
        const ctx = u.ctx;
        ctx.save();
        ctx.strokeStyle = '#222';
        ctx.lineWidth = 1;
        series.forEach((s, k) => {
          s.std?.forEach((std, i) => {
            if (std === null || s.values[i] === null) return;
            const px = u.valToPos(i + offset(k), 'x', true);
            ctx.beginPath();
            ctx.moveTo(px, u.valToPos(s.values[i] - std, 'y', true));
            ctx.lineTo(px, u.valToPos(s.values[i] + std, 'y', true));
            ctx.stroke();
          });
        });
        ctx.restore();
      }],
    },
  };
  const plot = new window.uPlot({
    width: width(container),
    height: 260,
    plugins: [whiskers],
    scales: { x: { time: false, range: [-0.6, categories.length - 0.4] }, y: { range: [0, 1] } },
    axes: [
      { splits: () => categories.map((_, i) => i), values: (u, splits) => splits.map((v) => categories[v] ?? ''), gap: 4 },
      { label: 'AUC' },
    ],
    series: [
      { label: 'x' },
      ...series.map((s, k) => ({
        label: s.label,
        fill: COLOURS[k % COLOURS.length],
        stroke: COLOURS[k % COLOURS.length],
        paths: window.uPlot.paths.bars({ size: [0.9, Infinity], align: 0 }),
        points: { show: false },
      })),
    ],
  }, [x, ...columns], holder);
  record(name, figure, plot);
  return figure;
}

function command(container, text) {
  container.append(element('p', { class: 'command' }, ['Reproduce: ', element('code', { text })]));
}

function drawRoc(data) {
  const suiteSelect = $('roc-suite');
  const modelSelect = $('roc-model');
  const caseSelect = $('roc-case');
  const suites = data.suites.filter((s) => s.models.length);
  const chart = $('roc-chart');
  if (!suites.length || !chartsAvailable(chart)) return;
  suites.forEach((s, i) => suiteSelect.append(element('option', { value: String(i), text: `${s.folder}${s.reduced ? ' (reduced budget)' : ''}` })));
  let plot = null;
  const model = () => suites[Number(suiteSelect.value)].models[Number(modelSelect.value)];
  // A brain model's curves are the pooled test slices' or one case's (its tumour slices
  // against its own healthy slices).
  const showCurves = () => {
    const chosen = model();
    const caseRoc = caseSelect.value === '' ? null : chosen.cases[Number(caseSelect.value)];
    const curves = caseRoc ?? chosen;
    const grid = [...new Set([...curves.roc_latent, ...curves.roc_pixel].map(([f]) => f))].sort((a, b) => a - b);
    // Each curve as a step function on the shared grid of false positive rates.
    const at = (curve) => grid.map((f) => {
      let best = 0;
      for (const [fp, tp] of curve) if (fp <= f && tp > best) best = tp;
      return best;
    });
    plot?.destroy();
    plot = new window.uPlot({
      width: width(chart),
      height: 320,
      scales: { x: { time: false, range: [0, 1] }, y: { range: [0, 1] } },
      axes: [{ label: 'false positive rate' }, { label: 'true positive rate' }],
      series: [
        { label: 'FPR' },
        { label: `latent ‖z − ẑ‖², AUC ${curves.latent_auc.toFixed(3)}`, stroke: COLOURS[0], width: 2 },
        { label: `pixel ‖x − x̂‖₁, AUC ${curves.pixel_auc.toFixed(3)}`, stroke: COLOURS[1], width: 2 },
      ],
    }, [grid, at(curves.roc_latent), at(curves.roc_pixel)], chart);
    drawn.charts = drawn.charts.filter((c) => c.name !== 'roc');
    record('roc', chart, plot);
    chart.dataset.model = chosen.file;
    chart.dataset.case = caseRoc?.case ?? '';
    chart.dataset.latentAuc = curves.latent_auc.toFixed(3);
    chart.dataset.pixelAuc = curves.pixel_auc.toFixed(3);
    $('roc-command').textContent = chosen.command;
  };
  const showModel = () => {
    const { cases } = model();
    const previous = caseSelect.selectedOptions[0]?.textContent;
    caseSelect.replaceChildren(
      element('option', { value: '', text: 'all test slices, pooled' }),
      ...cases.map((c, i) => element('option', { value: String(i), text: `${c.case} (${c.tumour} tumour, ${c.healthy} healthy)` })),
    );
    // Keep the case picked when another seed of the same suite is shown.
    const again = [...caseSelect.options].find((o) => o.textContent === previous);
    if (again) caseSelect.value = again.value;
    $('roc-case-label').hidden = cases.length === 0;
    showCurves();
  };
  const showSuite = () => {
    modelSelect.replaceChildren(...suites[Number(suiteSelect.value)].models.map((m, i) => element('option', { value: String(i), text: m.label })));
    showModel();
  };
  suiteSelect.addEventListener('change', showSuite);
  modelSelect.addEventListener('change', showModel);
  caseSelect.addEventListener('change', showCurves);
  showSuite();
}

const VARIANTS = {
  'no-latent-no-low-rank': 'rec + adv',
  'no-latent': '+ low-rank',
  'no-low-rank': '+ latent',
  full: 'all four',
};

function groupSeries(summary) {
  const groups = summary.groups;
  return [
    { label: 'latent score', values: groups.map((g) => g.latent_auc.mean), std: groups.map((g) => (g.latent_auc.n > 1 ? g.latent_auc.std : null)) },
    { label: 'pixel score', values: groups.map((g) => g.pixel_auc.mean), std: groups.map((g) => (g.pixel_auc.n > 1 ? g.pixel_auc.std : null)) },
  ];
}

function reducedNote(suite) {
  return suite.reduced ? ' — REDUCED budget: a check of the pipeline, not a reproduction' : '';
}

function drawAblation(data) {
  const container = $('ablation-charts');
  const suites = data.suites.filter((s) => s.suite === 'ablation');
  if (!suites.length) container.append(element('p', { text: 'No ablation results yet: cargo xtask reproduce --suite ablation.' }));
  if (!suites.length || !chartsAvailable(container)) return;
  for (const suite of suites) {
    const labels = suite.summary.groups.map((g) => VARIANTS[g.key] ?? g.key);
    barChart(container, `ablation:${suite.folder}`, `${suite.folder}: AUC per loss configuration, mean ± std over classes and seeds${reducedNote(suite)}`, labels, groupSeries(suite.summary));
    command(container, suite.command);
  }
}

function drawPerClass(data) {
  const container = $('per-class-charts');
  const suites = data.suites.filter((s) => ['mnist', 'fashion-mnist', 'cifar10'].includes(s.suite));
  if (!suites.length || !chartsAvailable(container)) return;
  for (const suite of suites) {
    barChart(container, `per-class:${suite.folder}`, `${suite.folder}: AUC per normal class, mean ± std over seeds${reducedNote(suite)}`, suite.summary.groups.map((g) => g.key), groupSeries(suite.summary));
    command(container, suite.command);
  }
}

const BRAIN_SCORES = [
  ['latent', 'latent score'],
  ['pixel', 'pixel score'],
  ['brain-area', 'baseline: brain area'],
  ['centrality', 'baseline: centrality'],
  ['mean-intensity', 'baseline: mean intensity'],
];

function drawBrain(data) {
  const container = $('brain-charts');
  const suites = data.suites.filter((s) => s.suite === 'brain' && s.summary.brain_cases?.length);
  if (!suites.length || !chartsAvailable(container)) return;
  for (const suite of suites) {
    const cases = suite.summary.brain_cases;
    const series = BRAIN_SCORES.map(([key, label]) => ({
      label,
      values: cases.map((c) => c.auroc[key]?.mean ?? null),
      std: cases.map((c) => (c.auroc[key]?.n > 1 ? c.auroc[key].std : null)),
    }));
    barChart(container, `brain:${suite.folder}`, `${suite.folder}: within-case AUROC (tumour slices against the same case's healthy slices), mean ± std over seeds`, cases.map((c) => c.case.replace(/^Brats18_/, '')), series);
    const matched = suite.summary.brain['latent.height_matched_auroc'];
    if (matched) {
      container.append(element('p', { text: `Height-matched latent AUROC (tumour slices against healthy validation slices at the same relative height): ${matched.mean.toFixed(3)}${matched.n > 1 ? ` ± ${matched.std.toFixed(3)}` : ''} (n=${matched.n}).` }));
    }
    command(container, suite.command);
  }
}

const SETS = { 'healthy-validation': '#3f8f5f', 'normal-test': '#4a78a8', 'anomalous-test': '#c0392b' };

// A scatter on the first two principal axes (uPlot draws lines and bars; a scatter needs no
// library: one canvas).
function drawLatent(data) {
  const container = $('latent-charts');
  for (const model of data.models) {
    const points = model.latent_views.points ?? [];
    const figure = element('figure', { class: 'chart' });
    const canvas = element('canvas', { width: '420', height: '320', role: 'img', 'aria-label': `latent scatter of ${model.name}` });
    figure.append(element('figcaption', { text: `${model.name}: z = E(x) of its reference images on the healthy validation latents' first two principal axes (${points.length} points)` }), canvas);
    const legend = element('p', { class: 'legend' });
    for (const [set, colour] of Object.entries(SETS)) {
      const n = points.filter((p) => p.set === set).length;
      if (!n) continue;
      // Through the CSSOM: the Content-Security-Policy forbids style attributes.
      const swatch = element('span', { class: 'swatch' });
      swatch.style.setProperty('--swatch', colour);
      legend.append(swatch, ` ${set} (${n})  `);
    }
    figure.append(legend);
    container.append(figure);
    command(container, `cargo xtask export (wrote ${model.file}; its latent views are computed from the model's own validation and test images)`);
    const ctx = canvas.getContext('2d');
    const xs = points.map((p) => p.xyz[0]);
    const ys = points.map((p) => p.xyz[1]);
    const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    const sx = (v) => 20 + ((v - x0) / (x1 - x0 || 1)) * (canvas.width - 40);
    const sy = (v) => canvas.height - 20 - ((v - y0) / (y1 - y0 || 1)) * (canvas.height - 40);
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    for (const p of points) {
      ctx.fillStyle = SETS[p.set] ?? '#111';
      ctx.beginPath();
      ctx.arc(sx(p.xyz[0]), sy(p.xyz[1]), 2.5, 0, 2 * Math.PI);
      ctx.fill();
    }
    figure.dataset.chart = `latent:${model.name}`;
    drawn.charts.push({ name: `latent:${model.name}`, series: Object.keys(SETS).length, points: points.length });
  }
}

function drawTopSlices(data) {
  const container = $('top-slices-body');
  const top = data.top_slices;
  if (!top) {
    container.append(element('p', { text: 'None drawn yet: cargo xtask score --model models/brain-t1 <the test cases> --heatmaps results/brain/top-slices --top 5 --out results/brain/top-slices/scores.json' }));
    return;
  }
  container.append(element('p', { text: `Model ${top.model}; each panel is the input, its reconstruction and the residual over the input, as the score command draws them. Tumour: from the case's expert segmentation${top.labels_from ? ` (as labelled in ${top.labels_from})` : ''}.` }));
  for (const c of top.cases) {
    const row = element('div', { class: 'thumbnails' });
    for (const s of c.slices) {
      const label = s.tumour === true ? 'tumour slice' : s.tumour === false ? 'healthy slice' : 'not labelled (few tumour voxels)';
      const img = element('img', { src: `pkg/results/${s.image}`, alt: `${c.case} axial slice ${s.slice}: input, reconstruction, residual` });
      row.append(element('figure', { class: `thumbnail ${s.tumour === true ? 'tumour' : ''}` }, [
        img,
        element('figcaption', { text: `z${s.slice} · latent ${s.latent_score.toPrecision(3)} · ${s.verdict} · ${label}` }),
      ]));
    }
    container.append(element('h3', { text: c.case }), row);
  }
  command(container, top.command);
  drawn.thumbnails = top.cases.reduce((n, c) => n + c.slices.length, 0);
}

async function main() {
  const status = $('results-status');
  $('provenance-close').addEventListener('click', () => { $('provenance').hidden = true; });
  let data;
  try {
    const response = await fetch(DATA);
    if (!response.ok) throw new Error(`${DATA}: HTTP ${response.status}`);
    data = await response.json();
  } catch (error) {
    status.textContent = `Cannot read the results (${error.message}): build the site with cargo xtask web.`;
    status.classList.add('error');
    drawn.error = error.message;
    return;
  }
  renderBlocks($('ours-blocks'), data.results, data);
  renderBlocks($('paper-blocks'), data.paper, data);
  for (const draw of [drawRoc, drawAblation, drawPerClass, drawBrain, drawTopSlices, drawLatent]) {
    try {
      draw(data);
    } catch (error) {
      drawn.error = `${draw.name}: ${error.message}`;
      console.error(error);
    }
  }
  status.textContent = `Built at commit ${data.commit} from ${Object.keys(data.files).length} results files: ${drawn.tables} tables, ${drawn.charts.length} charts.`;
  drawn.ready = true;
}

main();
