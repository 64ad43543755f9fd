// The experiment leaderboard page: the ranked rows (one per configuration, mean ± spread over
// seeds) sortable by objective, accuracy, forgetting, trainable parameters, time per step and
// peak memory, with Promote buttons; the trials with their live status; and a parallel-
// coordinates chart of the configuration axes → objective (chart.js, one line per trial,
// coloured from worst to best objective).
import '@vscode-elements/elements/dist/vscode-button/index.js';
import { CategoryScale, Chart, LinearScale, LineController, LineElement, PointElement, Tooltip, type Plugin } from 'chart.js';
import { axisValueLabel, LeaderboardRow } from '../../src/protocol/experiment';
import { ExperimentView, LeaderboardWebviewMessage, parseLeaderboardHostMessage, ViewTrial } from '../../src/protocol/experiment-view';
import { adoptCss, fmtNumber, h } from '../shared/dom';
import { onThemeChange, palette, Palette } from '../shared/theme';
import { vscodeApi } from '../shared/vscode';
import { columns, fmtForgetting, fmtObjective, fmtPercent, nextSort, Sort, sortRows } from './table';
import { axisTitle, ParallelData, parallelData, qualityColor } from './parallel';
import baseCss from '../shared/base.css';
import pageCss from './experiments.css';

Chart.register(LineController, LineElement, PointElement, CategoryScale, LinearScale, Tooltip);

const vscode = vscodeApi<LeaderboardWebviewMessage, { sort: Sort }>();
let sort: Sort = vscode.getState()?.sort ?? { key: 'rank', ascending: true };

adoptCss(baseCss + pageCss);

const titleEl = h('h1', {}, 'Leaderboard');
const statusEl = h('span', { class: 'status' });
const summaryEl = h('span', { class: 'muted' });
const noteEl = h('div', { class: 'note muted', hidden: true });
const table = h('table', { id: 'leaderboard' });
const trialsTable = h('table', { id: 'trials' });
const chartBox = h('div', { class: 'chart', id: 'parallel-chart', 'data-lines': 0, 'data-axes': 0 }, h('canvas'));
const app = document.getElementById('app') ?? document.body;
app.append(
  h('header', { class: 'page' }, titleEl, statusEl, summaryEl),
  noteEl,
  h('section', { class: 'card' }, h('div', { class: 'card-head' }, h('h2', {}, 'Leaderboard'), h('span', { class: 'muted' }, 'click a column to sort')), h('div', { class: 'table-wrap' }, table)),
  h('section', { class: 'card parallel' },
    h('div', { class: 'card-head' }, h('h2', {}, 'Configuration → objective'), h('span', { class: 'legend' }, 'worst', h('span', { class: 'gradient' }), 'best', h('span', { class: 'muted' }, '· grey dashed: no objective'))),
    chartBox),
  h('section', { class: 'card' }, h('div', { class: 'card-head' }, h('h2', {}, 'Trials')), h('div', { class: 'table-wrap' }, trialsTable)),
);

let view: ExperimentView | undefined;
let colors: Palette = palette();
let data: ParallelData = { axes: [], lines: [] };

// ------------------------------------------------------------------------------- the table

/** One line per axis: its field's last name and the value. */
const configText = (params: Record<string, unknown>, axes: string[]) =>
  axes.filter((a) => a in params).map((a) => h('div', { class: 'param' }, h('span', { class: 'muted' }, `${axisTitle(a)} `), h('b', {}, axisValueLabel(params[a]))));

/** The trial a row's Promote acts on: its best finished seed. */
function bestTrialOf(row: LeaderboardRow, v: ExperimentView): ViewTrial | undefined {
  const ts = v.trials.filter((t) => row.trials.includes(t.index) && t.runDir);
  const done = ts.filter((t) => t.status === 'finished' && t.objective !== undefined);
  const better = (a: ViewTrial, b: ViewTrial) => (v.higherIsBetter ? a.objective! > b.objective! : a.objective! < b.objective!);
  return done.reduce<ViewTrial | undefined>((best, t) => (!best || better(t, best) ? t : best), undefined) ?? ts.find((t) => t.status !== 'running');
}

function promoteButtons(trial: ViewTrial | undefined): HTMLElement {
  const cell = h('td', { class: 'actions' });
  if (!trial) return cell;
  // Icon buttons (their titles say what they do): the table keeps its width for the figures.
  const active = h('vscode-button', { icon: 'beaker', secondary: true, title: `Set as Active Run for Prompts: trial ${trial.index + 1}`, 'aria-label': 'Set as Active Run', 'data-action': 'activeRun', 'data-trial': trial.index });
  const exp = h('vscode-button', { icon: 'export', secondary: true, title: `Export Run…: trial ${trial.index + 1}`, 'aria-label': 'Export Run', 'data-action': 'export', 'data-trial': trial.index });
  if (trial.status !== 'finished') active.setAttribute('disabled', '');
  active.addEventListener('click', () => vscode.postMessage({ type: 'promote', trial: trial.index, action: 'activeRun' }));
  exp.addEventListener('click', () => vscode.postMessage({ type: 'promote', trial: trial.index, action: 'export' }));
  cell.append(active, exp);
  return cell;
}

function renderTable(v: ExperimentView): void {
  const cols = columns(v.higherIsBetter, v.metric);
  const rows = sortRows(v.rows, sort, cols);
  const head = h('tr', {}, ...cols.map((c) => {
    const th = h('th', { class: `sortable${c.key === 'rank' ? '' : ' num'}${sort.key === c.key ? ' sorted' : ''}`, 'data-key': c.key, 'data-arrow': sort.ascending ? '▲' : '▼', title: `sort by ${c.label}` }, c.label);
    th.addEventListener('click', () => {
      sort = nextSort(sort, c);
      vscode.setState({ sort });
      renderTable(v);
    });
    return th;
  }), h('th', {}, 'status'), h('th', {}, 'configuration'), h('th', {}, 'promote'));
  const body = rows.map((r) => h('tr', { class: r.feasible ? undefined : 'infeasible', 'data-group': r.group, 'data-rank': r.rank },
    h('td', {}, String(r.rank)),
    h('td', { class: 'num' }, fmtObjective(r)),
    h('td', { class: 'num' }, fmtPercent(r.accuracy)),
    h('td', { class: 'num' }, fmtForgetting(r.forgettingPercent), r.feasible ? '' : h('span', { class: 'infeasible-mark', title: `above the ceiling of +${v.forgettingCeiling}%` }, ' ✗')),
    h('td', { class: 'num' }, r.trainableParams === null ? '–' : r.trainableParams.toLocaleString('en-US')),
    h('td', { class: 'num' }, r.secondsPerStep === null ? '–' : fmtNumber(r.secondsPerStep, 3)),
    h('td', { class: 'num' }, r.peakRssMiB === null ? '–' : `${Math.round(r.peakRssMiB)} MiB`),
    h('td', {}, r.status + (r.seeds.length > 1 ? ` (${r.seeds.length} seeds)` : '')),
    h('td', { class: 'config' }, ...configText(r.params, v.axes)),
    promoteButtons(bestTrialOf(r, v)),
  ));
  if (!body.length) body.push(h('tr', {}, h('td', { colspan: cols.length + 3, class: 'muted' }, 'No trials yet.')));
  table.replaceChildren(h('thead', {}, head), h('tbody', {}, ...body));
  table.dataset.rows = String(rows.length);
  table.dataset.sort = `${sort.key}:${sort.ascending ? 'asc' : 'desc'}`;
}

function renderTrials(v: ExperimentView): void {
  const head = h('tr', {}, h('th', {}, '#'), h('th', {}, 'seed'), h('th', {}, 'status'), h('th', { class: 'num' }, v.metric), h('th', {}, 'configuration'), h('th', {}, ''));
  const body = v.trials.map((t) => {
    const open = h('vscode-button', { icon: 'graph-line', secondary: true, title: 'Open in Monitor' }, 'Monitor');
    open.addEventListener('click', () => vscode.postMessage({ type: 'open', trial: t.index }));
    return h('tr', { 'data-trial': t.index, 'data-status': t.status },
      h('td', {}, String(t.index + 1)), h('td', {}, String(t.seed)),
      h('td', { class: `trial-status ${t.status}`, title: t.reason ?? '' }, t.label),
      h('td', { class: 'num' }, t.objective === undefined ? '–' : t.objective.toFixed(3)),
      h('td', { class: 'config' }, ...configText(t.params, v.axes)),
      h('td', { class: 'actions' }, t.runDir ? open : ''));
  });
  trialsTable.replaceChildren(h('thead', {}, head), h('tbody', {}, ...body));
}

// --------------------------------------------------------------------- parallel coordinates

/** Draws each axis's values beside its vertical line. */
const axisLabels: Plugin<'line'> = {
  id: 'axisLabels',
  afterDatasetsDraw(chart) {
    const ctx = chart.ctx;
    const x = chart.scales.x;
    const y = chart.scales.y;
    ctx.save();
    ctx.font = `11px ${colors.font}`;
    ctx.textBaseline = 'middle';
    data.axes.forEach((axis, i) => {
      const px = x.getPixelForValue(i);
      const right = i === data.axes.length - 1;
      ctx.textAlign = right ? 'right' : 'left';
      for (const t of axis.ticks) {
        const py = y.getPixelForValue(t.y);
        const text = t.text.length > 28 ? `${t.text.slice(0, 27)}…` : t.text;
        const w = ctx.measureText(text).width;
        const tx = right ? px - 6 : px + 6;
        ctx.fillStyle = colors.grid;
        ctx.globalAlpha = 0.35;
        ctx.fillRect(right ? tx - w - 2 : tx - 2, py - 7, w + 4, 14);
        ctx.globalAlpha = 1;
        ctx.fillStyle = colors.foreground;
        ctx.fillText(text, tx, py);
      }
    });
    ctx.restore();
  },
};

const chart = new Chart<'line', (number | null)[], string>(chartBox.querySelector('canvas')!, {
  type: 'line',
  data: { labels: [], datasets: [] },
  options: {
    animation: false,
    responsive: true,
    maintainAspectRatio: false,
    spanGaps: false,
    layout: { padding: { left: 8, right: 8, top: 12, bottom: 4 } },
    interaction: { mode: 'nearest', intersect: false },
    elements: { point: { radius: 3, hoverRadius: 5 }, line: { borderWidth: 2, tension: 0 } },
    scales: {
      x: { type: 'category', offset: false, grid: { color: colors.muted, lineWidth: 1.5 }, ticks: { color: colors.foreground } },
      y: { type: 'linear', min: -0.06, max: 1.06, display: false },
    },
    plugins: {
      tooltip: {
        callbacks: {
          title: (items) => (items[0] ? `trial ${data.lines[items[0].datasetIndex]?.trial + 1}` : ''),
          label: (item) => {
            const line = data.lines[item.datasetIndex];
            return line ? data.axes.map((a, k) => `${a.label}: ${line.texts[k]}`) : '';
          },
        },
      },
    },
  },
  plugins: [axisLabels],
});

function drawChart(v: ExperimentView): void {
  data = parallelData(v.trials, v.axes, v.metric, v.higherIsBetter);
  chart.data.labels = data.axes.map((a) => (a.log ? `${a.label} (log)` : a.label));
  // Best lines last, so they are drawn on top.
  const order = data.lines.map((l, i) => i).sort((a, b) => (data.lines[a].quality ?? -1) - (data.lines[b].quality ?? -1));
  data = { axes: data.axes, lines: order.map((i) => data.lines[i]) };
  chart.data.datasets = data.lines.map((l) => {
    const c = qualityColor(l.quality);
    return { label: `trial ${l.trial + 1}`, data: l.ys, borderColor: c, backgroundColor: c, borderDash: l.quality === null ? [4, 3] : undefined };
  });
  const scales = chart.options.scales as { x: { grid: { color: string }; ticks: { color: string } } };
  scales.x.grid.color = colors.muted;
  scales.x.ticks.color = colors.foreground;
  chart.update('none');
  chartBox.dataset.lines = String(data.lines.length);
  chartBox.dataset.axes = String(data.axes.length);
}

// ---------------------------------------------------------------------------------- render

function render(): void {
  if (!view) return;
  const v = view;
  titleEl.textContent = `Leaderboard: ${v.name}`;
  statusEl.textContent = v.status;
  statusEl.className = `status ${v.status}`;
  const ended = v.trials.filter((t) => t.status !== 'pending' && t.status !== 'running').length;
  summaryEl.textContent = `${ended}/${v.trials.length} trials · objective ${v.metric} (${v.higherIsBetter ? 'higher' : 'lower'} is better)${v.forgettingCeiling !== undefined ? ` · forgetting ceiling +${v.forgettingCeiling}%` : ''}`;
  const notes = [v.budgetNote ? `Stopped by the ${v.budgetNote}: raise the budget and run the experiment again to continue.` : '',
    v.status === 'interrupted' ? 'Its process is gone: Run Experiment continues it where it stopped.' : '',
    v.forgettingCeiling !== undefined ? `✗: forgetting above +${v.forgettingCeiling}% probe perplexity; such rows rank after the rest.` : ''].filter(Boolean);
  noteEl.hidden = !notes.length;
  noteEl.textContent = notes.join(' ');
  renderTable(v);
  renderTrials(v);
  drawChart(v);
  document.body.dataset.status = v.status;
}

window.addEventListener('message', (ev: MessageEvent) => {
  try {
    view = parseLeaderboardHostMessage(ev.data).view;
  } catch (e) {
    console.error(`Adapt Lab leaderboard: ignored a message: ${(e as Error).message}`);
    return;
  }
  render();
});

onThemeChange(() => {
  colors = palette();
  render();
});

vscode.postMessage({ type: 'ready' });
