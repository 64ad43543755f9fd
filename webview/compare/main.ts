// The Compare Runs page: the runs' loss curves overlaid (train smoothed and solid, validation
// dashed, one colour per run, or per value of a configuration field when grouped), their
// hyperparameters side by side with "differences only", and their evaluation reports.
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import type { VscodeCheckbox } from '@vscode-elements/elements/dist/vscode-checkbox/vscode-checkbox.js';
import { CompareHostMessage, CompareRun, CompareWebviewMessage, EvalSide, parseCompareHostMessage } from '../../src/protocol/webview';
import { applyScaleTheme, LineDataset, lineChart, Point, yScale } from '../shared/charts';
import { drawBudget, fillView } from '../shared/decimate';
import { adoptCss, fmtNumber, h } from '../shared/dom';
import { clampWeight, ema } from '../shared/ema';
import { onThemeChange, palette, Palette } from '../shared/theme';
import { vscodeApi } from '../shared/vscode';
import { hyperparameterRows, visibleRows } from './table';
import { groupFields, groupOfRun, groupRuns, NO_GROUP, RunGroup } from './groups';
import baseCss from '../shared/base.css';
import compareCss from './compare.css';

interface UiState {
  smoothing: number;
  logScale: boolean;
  differencesOnly: boolean;
  /** The configuration field that colours the runs (NO_GROUP: a colour per run). */
  groupBy: string;
}

const vscode = vscodeApi<CompareWebviewMessage, UiState>();
const saved = vscode.getState();
const ui: UiState = {
  smoothing: clampWeight(saved?.smoothing),
  logScale: saved?.logScale === true,
  differencesOnly: saved?.differencesOnly === true,
  groupBy: typeof saved?.groupBy === 'string' ? saved.groupBy : NO_GROUP,
};
const saveUi = () => vscode.setState({ ...ui });

adoptCss(baseCss + compareCss);

// ------------------------------------------------------------------------------------- DOM

const countEl = h('span', { class: 'muted' });
const runsEl = h('div', { class: 'runs' });
const chartBox = h('div', { class: 'chart', id: 'compare-chart', 'data-series': 0 }, h('canvas'));
const slider = h('input', { type: 'range', min: 0, max: 0.99, step: 0.01, id: 'smoothing', 'aria-label': 'Smoothing' });
slider.value = String(ui.smoothing);
const sliderOut = h('output', { for: 'smoothing' }, ui.smoothing.toFixed(2));
const logBox = h('vscode-checkbox', { id: 'log-scale', label: 'Log scale', checked: ui.logScale }) as VscodeCheckbox;
const diffBox = h('vscode-checkbox', { id: 'differences-only', label: 'Differences only', checked: ui.differencesOnly }) as VscodeCheckbox;
const groupSelect = h('select', { id: 'group-by', 'aria-label': 'Colour by' });
const table = h('table', { id: 'hyperparameters' });
const evalsEl = h('div', { class: 'evals', id: 'evals' });
const problemsEl = h('div', { hidden: true });

const app = document.getElementById('app') ?? document.body;
app.append(
  h('header', { class: 'page' }, h('h1', {}, 'Compare Runs'), countEl),
  problemsEl,
  h('section', { class: 'card curves' },
    h('div', { class: 'card-head' }, h('h2', {}, 'Loss'), h('span', { class: 'legend-note muted' }, 'solid: train (smoothed) · dashed: validation')),
    runsEl, chartBox,
    h('div', { class: 'controls' }, h('label', { class: 'slider' }, 'Smoothing', slider, sliderOut), logBox,
      h('label', { class: 'group-by' }, 'Colour by', groupSelect))),
  h('section', {},
    h('div', { class: 'card-head' }, h('h2', {}, 'Hyperparameters'), diffBox),
    h('div', { class: 'table-wrap' }, table)),
  h('section', {}, h('div', { class: 'card-head' }, h('h2', {}, 'Evaluation')), evalsEl),
);

// ---------------------------------------------------------------------------------- render

let colors: Palette = palette();
let runs: CompareRun[] = [];
const chart = lineChart(chartBox.querySelector('canvas')!, [], colors, { logScale: ui.logScale });

/** The groups on display and each run's group: a run's colour is its group's. */
let groups: RunGroup[] = [];
let groupOf: number[] = [];
const groupColor = (g: number) => colors.series[g % colors.series.length];
const colorOf = (i: number) => groupColor(groupOf[i] ?? i);

/** The field to group by: the saved one when these runs differ in it, else none. */
function regroup(): void {
  const fields = groupFields(runs);
  const field = fields.includes(ui.groupBy) ? ui.groupBy : NO_GROUP;
  groupSelect.replaceChildren(h('option', { value: NO_GROUP }, 'each run'), ...fields.map((f) => h('option', { value: f }, f)));
  groupSelect.value = field;
  groups = groupRuns(runs, field);
  groupOf = groupOfRun(groups, runs.length);
  chartBox.dataset.groups = String(field === NO_GROUP ? 0 : groups.length);
  chartBox.dataset.groupBy = field;
}
const toPoints = (pairs: [number, number][]): Point[] => pairs.map(([x, y]) => ({ x, y }));

/** Smoothed train curves at full length (for the test hook); what is drawn is thinned. */
let smoothedTrain: Point[][] = [];

function datasets(): LineDataset[] {
  const out: LineDataset[] = [];
  const budget = drawBudget(chart.width);
  const thin = (pts: Point[]) => {
    const view: Point[] = [];
    fillView(view, pts, budget);
    return view;
  };
  smoothedTrain = [];
  runs.forEach((r, i) => {
    const c = colorOf(i);
    if (r.train.length) {
      const ys = ema(r.train.map((p) => p[1]), ui.smoothing);
      const pts = r.train.map(([x], k) => ({ x, y: ys[k] }));
      smoothedTrain.push(pts);
      out.push({ label: `${r.name} · train`, data: thin(pts), borderColor: c, backgroundColor: c, borderWidth: 1.75 });
    }
    if (r.val.length) {
      out.push({
        label: `${r.name} · validation`, data: thin(toPoints(r.val)), borderColor: c, backgroundColor: c,
        borderDash: [5, 3], borderWidth: 1.5, pointRadius: 2.5,
      });
    }
  });
  return out;
}

function drawChart(): void {
  chart.data.datasets = datasets();
  chart.update('none');
  chartBox.dataset.series = String(runs.filter((r) => r.train.length || r.val.length).length);
  chartBox.dataset.lines = String(chart.data.datasets.length);
}

function swatch(i: number): HTMLElement {
  const s = h('span', { class: 'swatch' });
  s.style.background = colorOf(i);
  return s;
}

function renderRuns(): void {
  if (chartBox.dataset.groupBy) {
    // Grouped: one legend entry per value, naming its runs.
    runsEl.replaceChildren(...groups.map((g, gi) => {
      const s = h('span', { class: 'swatch' });
      s.style.background = groupColor(gi);
      return h('span', { class: 'run group', 'data-value': g.value, title: g.runs.map((i) => runs[i].name).join(', ') },
        s, h('b', {}, `${chartBox.dataset.groupBy} = ${g.value}`), h('span', { class: 'muted' }, `${g.runs.length} run${g.runs.length === 1 ? '' : 's'}`));
    }));
  } else {
    runsEl.replaceChildren(...runs.map((r, i) => h('span', { class: 'run', title: r.runDir }, swatch(i), r.name,
      h('span', { class: 'muted' }, r.status))));
  }
  countEl.textContent = `${runs.length} run${runs.length === 1 ? '' : 's'}`;
  const problems = runs.filter((r) => r.problem);
  problemsEl.hidden = !problems.length;
  problemsEl.replaceChildren(...problems.map((r) => h('div', { class: 'problem' }, `${r.name}: ${r.problem}`)));
}

function renderTable(): void {
  const rows = visibleRows(hyperparameterRows(runs), ui.differencesOnly);
  const head = h('tr', {}, h('th', {}, ''), ...runs.map((r, i) => h('th', { title: r.runDir }, swatch(i), ' ', r.name)));
  const body = rows.map((row) => h('tr', { class: row.differs ? 'differs' : undefined, 'data-key': row.key },
    h('td', { class: 'key' }, row.key), ...row.values.map((v) => h('td', { class: 'value' }, v))));
  if (!body.length) body.push(h('tr', {}, h('td', { colspan: runs.length + 1, class: 'muted' }, 'The runs have the same settings.')));
  table.replaceChildren(h('thead', {}, head), h('tbody', {}, ...body));
  table.dataset.rows = String(rows.length);
}

type Better = 'higher' | 'lower';
const EVAL_ROWS: { key: keyof EvalSide; label: string; fmt: (v: number) => string; better: Better }[] = [
  { key: 'accuracy', label: 'accuracy', fmt: (v) => `${fmtNumber(v * 100, 3)}%`, better: 'higher' },
  { key: 'weightedError', label: 'weighted error', fmt: (v) => `${fmtNumber(v * 100, 3)}%`, better: 'lower' },
  { key: 'p95PerTokenMs', label: 'p95 ms / token', fmt: (v) => fmtNumber(v, 3), better: 'lower' },
  { key: 'p95FirstTokenMs', label: 'p95 first token ms', fmt: (v) => fmtNumber(v, 3), better: 'lower' },
  { key: 'tokensPerSecond', label: 'tokens / s', fmt: (v) => fmtNumber(v, 3), better: 'higher' },
  { key: 'peakMemoryMiB', label: 'peak memory MiB', fmt: (v) => fmtNumber(v, 4), better: 'lower' },
  { key: 'stability', label: 'stability', fmt: (v) => `${fmtNumber(v * 100, 3)}%`, better: 'higher' },
  { key: 'perplexity', label: 'probe perplexity', fmt: (v) => fmtNumber(v, 4), better: 'lower' },
];

function compareClass(base: number | undefined, adapted: number | undefined, better: Better): string | undefined {
  if (base === undefined || adapted === undefined || base === adapted) return undefined;
  return (adapted > base) === (better === 'higher') ? 'better' : 'worse';
}

function renderEvals(): void {
  const cards = runs.map((r, i) => {
    const title = h('h3', {}, swatch(i), r.name);
    const e = r.eval;
    if (!e) return h('div', { class: 'card', 'data-run': r.id }, title, h('div', { class: 'muted' }, 'No evaluation report (eval.json) for this run.'));
    const rows = EVAL_ROWS.filter((m) => e.base?.[m.key] !== undefined || e.adapted?.[m.key] !== undefined).map((m) => {
      const b = e.base?.[m.key];
      const a = e.adapted?.[m.key];
      return h('tr', {}, h('td', {}, m.label), h('td', {}, b === undefined ? '—' : m.fmt(b)),
        h('td', { class: compareClass(b, a, m.better) }, a === undefined ? '—' : m.fmt(a)));
    });
    const extra: HTMLElement[] = [];
    if (e.forgettingChangePercent !== undefined) {
      const f = e.forgettingChangePercent;
      extra.push(h('tr', {}, h('td', {}, 'forgetting'), h('td', {}, ''),
        h('td', { class: f > 0 ? 'worse' : 'better' }, `${f > 0 ? '+' : ''}${fmtNumber(f, 3)}% ppl`)));
    }
    if (e.regressions !== undefined || e.improvements !== undefined) {
      extra.push(h('tr', {}, h('td', {}, 'regressions / improvements'), h('td', {}, ''),
        h('td', {}, `${e.regressions ?? '—'} / ${e.improvements ?? '—'}`)));
    }
    return h('div', { class: 'card', 'data-run': r.id }, title,
      h('div', { class: 'verdict' }, e.verdict ?? ''),
      h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, ''), h('th', {}, 'base'), h('th', {}, 'adapted'))), h('tbody', {}, ...rows, ...extra)));
  });
  evalsEl.replaceChildren(...cards);
  evalsEl.dataset.reports = String(runs.filter((r) => r.eval).length);
}

function render(): void {
  regroup();
  renderRuns();
  drawChart();
  renderTable();
  renderEvals();
}

// -------------------------------------------------------------------------------- messages

window.addEventListener('message', (ev: MessageEvent) => {
  let msg: CompareHostMessage;
  try {
    msg = parseCompareHostMessage(ev.data);
  } catch (e) {
    console.error(`Adapt Lab Compare: ignored a message: ${(e as Error).message}`);
    return;
  }
  runs = msg.runs;
  render();
});

slider.addEventListener('input', () => {
  ui.smoothing = clampWeight(Number(slider.value));
  sliderOut.textContent = ui.smoothing.toFixed(2);
  saveUi();
  drawChart();
});

logBox.addEventListener('change', () => {
  ui.logScale = logBox.checked;
  chart.options.scales!.y = yScale(ui.logScale ? 'logarithmic' : 'linear', colors);
  saveUi();
  drawChart();
});

groupSelect.addEventListener('change', () => {
  ui.groupBy = groupSelect.value;
  saveUi();
  render();
});

diffBox.addEventListener('change', () => {
  ui.differencesOnly = diffBox.checked;
  saveUi();
  renderTable();
});

onThemeChange(() => {
  colors = palette();
  applyScaleTheme(chart, colors);
  render();
});

(window as unknown as { __compare: unknown }).__compare = {
  ui,
  yScaleType: () => (chart.scales.y as { type: string }).type,
  smoothedTrain: (i: number) => smoothedTrain[i]?.map((p) => p.y),
  /** Each drawn line's label and colour. */
  lines: () => chart.data.datasets.map((d) => ({ label: d.label, color: d.borderColor })),
};

vscode.postMessage({ type: 'ready' });
