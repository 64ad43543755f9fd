// The Monitor page: live charts of one run. Messages are folded into the model as they come;
// the charts are redrawn at most every REDRAW_MS, without animation, so a fast event stream
// never blocks the page.
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-progress-bar/index.js';
import type { VscodeCheckbox } from '@vscode-elements/elements/dist/vscode-checkbox/vscode-checkbox.js';
import type { VscodeProgressBar } from '@vscode-elements/elements/dist/vscode-progress-bar/vscode-progress-bar.js';
import type { VscodeButton } from '@vscode-elements/elements/dist/vscode-button/vscode-button.js';
import { MonitorCommand, MonitorHostMessage, MonitorWebviewMessage, parseMonitorHostMessage } from '../../src/protocol/webview';
import { applyScaleTheme, LineChart, LineDataset, lineChart, Point, setXFormat, yScale } from '../shared/charts';
import { drawBudget, fillView } from '../shared/decimate';
import { adoptCss, fmtCount, fmtDuration, fmtNumber, h } from '../shared/dom';
import { clampWeight, EmaState, emaStep, newEma } from '../shared/ema';
import { palette, Palette, onThemeChange, withAlpha } from '../shared/theme';
import { vscodeApi } from '../shared/vscode';
import { mapPoints, RunModel, Series, X_AXES, XAxis } from './model';
import baseCss from '../shared/base.css';
import monitorCss from './monitor.css';

export const REDRAW_MS = 250;

interface UiState {
  smoothing: number;
  logScale: boolean;
  /** What every chart's x-axis counts; remembered like the other settings. */
  xAxis: XAxis;
}

const vscode = vscodeApi<MonitorWebviewMessage, UiState>();
const saved = vscode.getState();
const ui: UiState = {
  smoothing: clampWeight(saved?.smoothing),
  logScale: saved?.logScale === true,
  xAxis: X_AXES.includes(saved?.xAxis as XAxis) ? saved!.xAxis : 'step',
};

adoptCss(baseCss + monitorCss);

// ------------------------------------------------------------------------------------- DOM

const nameEl = h('span', { class: 'name' });
const statusEl = h('span', { class: 'status' });
const metaEl = h('div', { class: 'meta muted' });
const progressEl = h('vscode-progress-bar', { 'aria-label': 'Training progress' }) as VscodeProgressBar;
const stepEl = h('span');
const etaEl = h('span');
const epochEl = h('span');
const speedEl = h('span');
const button = (id: MonitorCommand, icon: string, label: string, secondary: boolean) =>
  h('vscode-button', { id, icon, secondary, title: `${label} the run` }, label) as VscodeButton;
const pauseBtn = button('pause', 'debug-pause', 'Pause', true);
const resumeBtn = button('resume', 'debug-continue', 'Resume', true);
const stopBtn = button('stop', 'debug-stop', 'Stop', false);
const actionsEl = h('div', { class: 'actions' }, pauseBtn, resumeBtn, stopBtn);
const problemEl = h('div', { class: 'problem', hidden: true });
const endEl = h('div', { class: 'problem', hidden: true });

const AXIS_LABEL: Record<XAxis, string> = { step: 'Step', tokens: 'Tokens seen', time: 'Training time' };
const axisSelect = h('select', { id: 'x-axis', 'aria-label': 'X axis' }, ...X_AXES.map((a) => h('option', { value: a }, AXIS_LABEL[a])));
axisSelect.value = ui.xAxis;
const axisNote = h('span', { class: 'muted axis-note', hidden: true });
const axisBar = h('div', { class: 'controls axis-bar' }, h('label', { class: 'axis' }, 'X axis', axisSelect), axisNote);

const lossBox = h('div', { class: 'chart', id: 'loss-chart', 'data-points': 0, 'data-val-points': 0, 'data-axis': 'step' }, h('canvas'));
const bestEl = h('span', { class: 'muted' });
const slider = h('input', { type: 'range', min: 0, max: 0.99, step: 0.01, id: 'smoothing', 'aria-label': 'Smoothing' });
slider.value = String(ui.smoothing);
const sliderOut = h('output', { for: 'smoothing' }, ui.smoothing.toFixed(2));
const logBox = h('vscode-checkbox', { id: 'log-scale', label: 'Log scale', checked: ui.logScale }) as VscodeCheckbox;

function smallCard(id: string, title: string) {
  const value = h('span', { class: 'value muted' });
  const box = h('div', { class: 'chart', id: `${id}-chart`, 'data-points': 0 }, h('canvas'));
  const card = h('section', { class: 'card' }, h('div', { class: 'card-head' }, h('h2', {}, title), value), box);
  return { card, box, value, canvas: box.querySelector('canvas')! };
}
const lrCard = smallCard('lr', 'Learning rate');
const gradCard = smallCard('grad', 'Gradient norm');
const stepCard = smallCard('step', 'Step time (s)');
const tpsCard = smallCard('tps', 'Tokens / s');
const cpuCard = smallCard('cpu', 'CPU % (trainer)');
const memCard = smallCard('mem', 'Memory (RSS MiB)');
const logEl = h('div', { class: 'log', hidden: true });

const runEl = h('div', { class: 'view', hidden: true },
  h('header', { class: 'run' }, h('div', { class: 'title' }, nameEl, statusEl), metaEl),
  h('section', { class: 'progress' }, progressEl, h('div', { class: 'stats' }, stepEl, etaEl, epochEl, speedEl)),
  actionsEl, problemEl, endEl, axisBar,
  h('section', { class: 'card loss' },
    h('div', { class: 'card-head' }, h('h2', {}, 'Loss'), bestEl),
    lossBox,
    h('div', { class: 'controls' }, h('label', { class: 'slider' }, 'Smoothing', slider, sliderOut), logBox)),
  h('div', { class: 'grid' }, lrCard.card, gradCard.card),
  h('h2', { class: 'section' }, 'System'),
  h('div', { class: 'grid system' }, stepCard.card, tpsCard.card, cpuCard.card, memCard.card),
  logEl);
const emptyEl = h('div', { class: 'empty' },
  h('p', {}, 'No run on display.'),
  h('p', { class: 'muted' }, 'Start one with “Adapt Lab: Adapt Model”, or open a run from the Runs view.'));
const emptyProblemEl = h('div', { class: 'problem', hidden: true });
const app = document.getElementById('app') ?? document.body;
app.append(runEl, emptyEl, emptyProblemEl);

// ---------------------------------------------------------------------------------- charts

let colors: Palette = palette();
const smoothed: Point[] = [];
// What chart.js is given: the model's series, thinned to what the canvas can show (fillView).
const lossSets: LineDataset[] = [
  { label: '_train (raw)', data: [], borderWidth: 1 },
  { label: 'train', data: [], borderWidth: 1.75 },
  { label: 'validation', data: [], borderWidth: 1.5, borderDash: [5, 3], pointRadius: 2.5, pointHoverRadius: 4 },
  // The checkpoint the run keeps (best by validation loss, or chosen by evaluation): one marker.
  { label: '_chosen', data: [], showLine: false, pointStyle: 'rectRot', pointRadius: 6, pointHoverRadius: 7, borderWidth: 2 },
];
const lossChart = lineChart(lossBox.querySelector('canvas')!, lossSets, colors, { legend: true, logScale: ui.logScale });
const small = [
  { card: lrCard, color: 3, pick: (m: RunModel) => m.lr, fmt: (v: number) => (v === 0 ? '0' : v.toExponential(1)) },
  { card: gradCard, color: 4, pick: (m: RunModel) => m.gradNorm, fmt: fmtNumber },
  { card: stepCard, color: 1, pick: (m: RunModel) => m.stepTime, fmt: (v: number) => fmtNumber(v, 3) },
  { card: tpsCard, color: 2, pick: (m: RunModel) => m.tps, fmt: (v: number) => fmtNumber(v, 3) },
  { card: cpuCard, color: 0, pick: (m: RunModel) => m.cpu, fmt: (v: number) => fmtNumber(v, 3) },
  { card: memCard, color: 5, pick: (m: RunModel) => m.rss, fmt: (v: number) => fmtNumber(v, 4) },
].map((s) => ({ ...s, chart: lineChart(s.card.canvas, [{ label: s.card.card.querySelector('h2')!.textContent!, data: [] }], colors, { yFormat: s.fmt }) }));

function colorCharts(): void {
  const c = colors.series;
  lossSets[0].borderColor = withAlpha(c[0], 0.28);
  lossSets[1].borderColor = c[0];
  lossSets[2].borderColor = c[1];
  lossSets[2].backgroundColor = c[1];
  lossSets[3].borderColor = c[2];
  lossSets[3].backgroundColor = withAlpha(c[2], 0.35);
  for (const s of small) {
    const ds = s.chart.data.datasets[0];
    ds.borderColor = c[s.color];
    ds.backgroundColor = c[s.color];
  }
}
colorCharts();

// ----------------------------------------------------------------------------- model, redraw

let model = new RunModel();
let ema: EmaState = newEma();
let smoothDirty = true;
let timer: ReturnType<typeof setTimeout> | undefined;
let lastDraw = -Infinity;
/** redraws: ticks (at most one per REDRAW_MS); chartUpdates: chart.js updates; *DrawMs: per task. */
const stats = { redraws: 0, chartUpdates: 0, lastDrawMs: 0, maxDrawMs: 0, totalDrawMs: 0, messages: 0, rejected: 0, replayMs: 0 };
/** When the last `reset` arrived, until its loss chart is drawn (stats.replayMs). */
let resetAt: number | undefined;

function updateSmoothed(): void {
  const raw = model.loss;
  if (raw.takeRewound() || smoothDirty) {
    smoothed.length = 0;
    ema = newEma();
    smoothDirty = false;
  }
  const pts = raw.points;
  for (let i = smoothed.length; i < pts.length; i++) smoothed.push({ x: pts[i].x, y: emaStep(ema, ui.smoothing, pts[i].y) });
}

function scheduleRedraw(now = false): void {
  if (timer !== undefined) {
    if (!now) return;
    clearTimeout(timer);
  }
  const wait = now ? 0 : Math.max(0, lastDraw + REDRAW_MS - performance.now());
  timer = setTimeout(redraw, wait);
}

function last(s: Series): number | undefined {
  return s.points.length ? s.points[s.points.length - 1].y : undefined;
}

// ------------------------------------------------------------------------------------ x-axis

/** The axis drawn: the chosen one, or steps when the run did not record what it counts. */
let axis: XAxis = 'step';
const X_FORMAT: Record<XAxis, (v: number) => string> = {
  step: (v) => String(Math.round(v)),
  tokens: fmtCount,
  time: fmtDuration,
};

function axisFor(m: RunModel): { axis: XAxis; note?: string } {
  if (ui.xAxis === 'tokens' && !m.hasTokens && m.loss.length) {
    return { axis: 'step', note: 'This run was recorded without token counts: drawn by step.' };
  }
  if (ui.xAxis === 'time' && !m.hasTime && m.loss.length) {
    return { axis: 'step', note: 'This run\'s events carry no usable times: drawn by step.' };
  }
  return { axis: ui.xAxis };
}

/** Switches every chart to the axis the model and the setting call for; true when it changed. */
function applyAxis(): boolean {
  const a = axisFor(model);
  axisNote.hidden = !a.note;
  axisNote.textContent = a.note ?? '';
  lossBox.dataset.axis = a.axis;
  if (a.axis === axis) return false;
  axis = a.axis;
  for (const c of [lossChart, ...small.map((s) => s.chart)]) setXFormat(c, X_FORMAT[axis], axis !== 'time');
  return true;
}
for (const c of [lossChart, ...small.map((s) => s.chart)]) setXFormat(c, X_FORMAT[axis], true);

/** Points of `s` that have a place on the current axis (all of them on steps). */
function countOn(s: Series): number {
  if (axis === 'step') return s.length;
  let n = 0;
  for (const p of s.points) if (model.xOf(p.x, axis) !== undefined) n++;
  return n;
}

/** The chosen checkpoint's marker: on the validation curve at its step, else on the train curve. */
function chosenPoint(): Point | undefined {
  const c = model.chosen;
  if (!c) return undefined;
  const x = model.xOf(c.step, axis);
  if (x === undefined) return undefined;
  const yAt = (s: Series) => {
    for (let i = s.points.length - 1; i >= 0; i--) if (s.points[i].x === c.step) return s.points[i].y;
    return undefined;
  };
  const y = yAt(model.val) ?? yAt(model.loss);
  return y === undefined ? undefined : { x, y };
}

// Each chart is updated in its own task (so a redraw is never one long task), and only while
// it is on screen: the side panel is narrow and tall, most charts are usually scrolled away.
interface Drawn {
  box: HTMLElement;
  chart: LineChart;
  fill(): void;
  dirty: boolean;
  onScreen: boolean;
}
const drawn: Drawn[] = [
  {
    box: lossBox, chart: lossChart, dirty: true, onScreen: true,
    fill: () => {
      const budget = drawBudget(lossChart.width);
      // Thinned by step, then placed on the axis: only what is drawn is mapped.
      for (const [d, src] of [[lossSets[0].data, model.loss.points], [lossSets[1].data, smoothed], [lossSets[2].data, model.val.points]] as const) {
        fillView(d, src, budget);
        mapPoints(d, model, axis, d);
      }
      const chosen = chosenPoint();
      lossSets[3].data.length = 0;
      if (chosen) lossSets[3].data.push(chosen);
      lossSets[3].label = chosen ? `chosen (step ${model.chosen!.step})` : '_chosen';
    },
  },
  ...small.map((s) => ({
    box: s.card.box, chart: s.chart, dirty: true, onScreen: true,
    fill: () => {
      const d = s.chart.data.datasets[0].data;
      fillView(d, s.pick(model).points, drawBudget(s.chart.width));
      mapPoints(d, model, axis, d);
    },
  })),
];
let chain: ReturnType<typeof setTimeout> | undefined;

function timed(fn: () => void): void {
  const t0 = performance.now();
  fn();
  stats.lastDrawMs = performance.now() - t0;
  stats.maxDrawMs = Math.max(stats.maxDrawMs, stats.lastDrawMs);
  stats.totalDrawMs += stats.lastDrawMs;
}

/** Updates the next dirty chart on screen, then yields and continues with the rest. */
function drawNext(): void {
  chain = undefined;
  const d = drawn.find((c) => c.dirty && c.onScreen);
  if (!d) return;
  timed(() => {
    d.fill();
    d.chart.update('none');
  });
  d.dirty = false;
  stats.chartUpdates++;
  if (d.chart === lossChart && resetAt !== undefined) {
    stats.replayMs = performance.now() - resetAt;
    resetAt = undefined;
  }
  chain = setTimeout(drawNext, 0);
}

const visibility = new IntersectionObserver((entries) => {
  for (const e of entries) {
    const d = drawn.find((c) => c.box === e.target);
    if (!d) continue;
    d.onScreen = e.isIntersecting;
    if (d.onScreen && d.dirty) chain ??= setTimeout(drawNext, 0);
  }
});
for (const d of drawn) visibility.observe(d.box);

function redraw(): void {
  timer = undefined;
  lastDraw = performance.now();
  stats.redraws++;
  timed(() => {
    for (const s of [model.lr, model.gradNorm, model.tps, model.rss, model.stepTime, model.cpu, model.val]) s.takeRewound();
    applyAxis();
    updateSmoothed();
    for (const s of small) {
      const series = s.pick(model);
      const v = last(series);
      // A run recorded before step time and CPU % existed says so instead of an empty chart.
      s.card.value.textContent = v !== undefined ? s.fmt(v) : model.loss.length ? 'not recorded' : '';
      s.card.box.dataset.points = String(countOn(series));
    }
    lossBox.dataset.points = String(countOn(model.loss));
    lossBox.dataset.valPoints = String(countOn(model.val));
    lossBox.dataset.chosenStep = model.chosen ? String(model.chosen.step) : '';
    renderHeader();
  });
  for (const d of drawn) d.dirty = true;
  if (chain === undefined) drawNext();
}

const STATUS_TEXT = { running: 'running', paused: 'paused', finished: 'finished', stopped: 'stopped', failed: 'failed' };

function renderHeader(): void {
  const m = model;
  runEl.hidden = !m.run;
  emptyEl.hidden = !!m.run;
  emptyProblemEl.hidden = !!m.run || !m.problem;
  emptyProblemEl.textContent = m.problem ?? '';
  if (!m.run) return;
  nameEl.textContent = m.run.name;
  nameEl.title = m.run.runDir;
  const status = m.status ?? m.run.status;
  statusEl.dataset.status = status;
  statusEl.textContent = `● ${STATUS_TEXT[status]}`;
  const pct = m.params ? `${fmtNumber(m.params.percent, 3)}% trainable` : undefined;
  metaEl.textContent = [m.method, m.backend && `backend ${m.backend}`, pct].filter(Boolean).join(' · ');
  const p = m.progress();
  if (p === undefined) {
    progressEl.indeterminate = status === 'running';
    progressEl.removeAttribute('value');
  } else {
    progressEl.indeterminate = false;
    progressEl.max = 100;
    progressEl.value = Math.round(p * 1000) / 10;
  }
  stepEl.replaceChildren('step ', h('b', {}, String(m.step)), m.totalSteps ? ` / ${m.totalSteps}` : '');
  const eta = m.eta();
  etaEl.textContent = status === 'running' ? `ETA ${fmtDuration(eta)}` : '';
  etaEl.hidden = status !== 'running';
  epochEl.textContent = m.epoch !== undefined ? `epoch ${fmtNumber(m.epoch, 3)}` : '';
  speedEl.textContent = m.tokensPerSecond !== undefined && status === 'running' ? `${fmtNumber(m.tokensPerSecond, 3)} tok/s` : '';
  const live = status === 'running' || status === 'paused';
  actionsEl.hidden = !live;
  pauseBtn.disabled = status !== 'running';
  resumeBtn.disabled = status !== 'paused';
  stopBtn.disabled = !live;
  problemEl.hidden = !m.problem;
  problemEl.textContent = m.problem ?? '';
  const end = status === 'finished' ? `Finished at step ${m.step}${m.endReason ? ` (${m.endReason})` : ''}.`
    : status === 'stopped' ? `Stopped at step ${m.step}.`
      : status === 'failed' ? `Failed at step ${m.step}${m.endReason ? `: ${m.endReason}` : '.'}` : '';
  endEl.hidden = !end;
  endEl.textContent = end;
  endEl.classList.toggle('error', status === 'failed');
  const c = m.chosen;
  const chosenText = c?.by === 'eval'
    ? `chosen: step ${c.step}, accuracy ${fmtNumber((c.accuracy ?? NaN) * 100, 3)}%${c.forgettingPercent !== undefined ? `, forgetting ${c.forgettingPercent >= 0 ? '+' : ''}${fmtNumber(c.forgettingPercent, 3)}%` : ''}`
    : '';
  bestEl.textContent = [m.bestVal !== undefined ? `best val ${fmtNumber(m.bestVal)}` : '', chosenText].filter(Boolean).join(' · ');
  logEl.hidden = !m.lastLog;
  logEl.dataset.level = m.lastLog?.level ?? '';
  logEl.textContent = m.lastLog ? m.lastLog.message : '';
}

// -------------------------------------------------------------------------------- messages

function receive(msg: MonitorHostMessage): void {
  if (msg.type === 'reset') {
    model = new RunModel(msg.run, msg.problem);
    for (const e of msg.events) model.apply(e);
    smoothDirty = true;
    scheduleRedraw(true);
    return;
  }
  if (!model.run || msg.runDir !== model.run.runDir) return; // for a run no longer on display
  for (const e of msg.events) model.apply(e);
  scheduleRedraw();
}

window.addEventListener('message', (ev: MessageEvent) => {
  const t0 = performance.now();
  let msg: MonitorHostMessage;
  try {
    msg = parseMonitorHostMessage(ev.data);
  } catch (e) {
    stats.rejected++;
    console.error(`Adapt Lab Monitor: ignored a message: ${(e as Error).message}`);
    return;
  }
  stats.messages++;
  if (msg.type === 'reset') resetAt = t0;
  receive(msg);
});

const command = (c: MonitorCommand) => () => {
  if (model.run) vscode.postMessage({ type: 'command', command: c, runDir: model.run.runDir });
};
pauseBtn.addEventListener('click', command('pause'));
resumeBtn.addEventListener('click', command('resume'));
stopBtn.addEventListener('click', command('stop'));

function saveUi(): void {
  vscode.setState({ ...ui });
}

slider.addEventListener('input', () => {
  ui.smoothing = clampWeight(Number(slider.value));
  sliderOut.textContent = ui.smoothing.toFixed(2);
  smoothDirty = true;
  saveUi();
  scheduleRedraw(true);
});

axisSelect.addEventListener('change', () => {
  ui.xAxis = X_AXES.includes(axisSelect.value as XAxis) ? (axisSelect.value as XAxis) : 'step';
  saveUi();
  scheduleRedraw(true);
});

logBox.addEventListener('change', () => {
  ui.logScale = logBox.checked;
  lossChart.options.scales!.y = yScale(ui.logScale ? 'logarithmic' : 'linear', colors);
  saveUi();
  scheduleRedraw(true);
});

onThemeChange(() => {
  colors = palette();
  colorCharts();
  for (const c of [lossChart, ...small.map((s) => s.chart)]) applyScaleTheme(c, colors);
  scheduleRedraw(true);
});

function cpuChart(): LineChart {
  return small.find((s) => s.card === cpuCard)!.chart;
}

/** For tests and the benchmark: what is drawn, without reading pixels. */
(window as unknown as { __monitor: unknown }).__monitor = {
  stats,
  ui,
  smoothed: () => smoothed.map((p) => p.y),
  /** The loss chart's points as drawn (x on the current axis), and the axis. */
  drawn: () => ({ axis, loss: lossSets[0].data.map((p) => [p.x, p.y]), val: lossSets[2].data.map((p) => [p.x, p.y]), chosen: lossSets[3].data.map((p) => [p.x, p.y]) }),
  raw: () => model.loss.points.map((p) => p.y),
  yScaleType: () => (lossChart.scales.y as { type: string }).type,
  charts: { loss: lossChart as LineChart, cpu: cpuChart() },
};

renderHeader();
vscode.postMessage({ type: 'ready' });
