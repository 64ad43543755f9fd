// chart.js set up for live data: only the parts we use are registered, no animation, points
// given as {x, y} (parsing off, sorted by x); long series are thinned first (decimate.ts).
import {
  Chart, ChartDataset, Legend, LinearScale, LineController, LineElement, LogarithmicScale, PointElement,
  ScaleOptionsByType, Tooltip,
} from 'chart.js';
import { fmtNumber } from './dom';
import { Palette } from './theme';

Chart.register(LineController, LineElement, PointElement, LinearScale, LogarithmicScale, Tooltip, Legend);

export interface Point {
  x: number;
  y: number;
}

export type LineDataset = ChartDataset<'line', Point[]>;
export type LineChart = Chart<'line', Point[]>;

export interface LineChartOptions {
  legend?: boolean;
  logScale?: boolean;
  /** Tick label formatter for y. */
  yFormat?: (v: number) => string;
}

function scaleColors(p: Palette) {
  return { grid: { color: p.grid }, border: { color: p.grid }, ticks: { color: p.muted } };
}

export function yScale(type: 'linear' | 'logarithmic', p: Palette, format: (v: number) => string = fmtNumber) {
  const c = scaleColors(p);
  return {
    type, grace: type === 'linear' ? '5%' : 0, ...c,
    ticks: { ...c.ticks, maxTicksLimit: 6, callback: (v: number | string) => format(Number(v)) },
  } as unknown as ScaleOptionsByType<'linear'>;
}

/** The last x tick is the latest step; it is dropped when it would crowd the round tick before it. */
function dropCrowdedLastTick(scale: { ticks: { value: number }[] }): void {
  const t = scale.ticks;
  if (t.length < 3) return;
  const step = t[1].value - t[0].value;
  if (t[t.length - 1].value - t[t.length - 2].value < step * 0.5) t.pop();
}

export function lineChart(canvas: HTMLCanvasElement, datasets: LineDataset[], p: Palette, o: LineChartOptions = {}): LineChart {
  Chart.defaults.font.family = p.font;
  Chart.defaults.font.size = 11;
  Chart.defaults.color = p.muted;
  const c = scaleColors(p);
  return new Chart<'line', Point[]>(canvas, {
    type: 'line',
    data: { datasets },
    options: {
      animation: false,
      parsing: false,
      normalized: true,
      responsive: true,
      maintainAspectRatio: false,
      spanGaps: true,
      interaction: { mode: 'nearest', axis: 'x', intersect: false },
      elements: { point: { radius: 0, hitRadius: 4, hoverRadius: 3 }, line: { borderWidth: 1.5, tension: 0 } },
      scales: {
        x: { type: 'linear', bounds: 'data', min: 0, ...c, ticks: { ...c.ticks, maxTicksLimit: 6, precision: 0 }, afterBuildTicks: dropCrowdedLastTick },
        y: yScale(o.logScale ? 'logarithmic' : 'linear', p, o.yFormat),
      },
      plugins: {
        legend: {
          display: !!o.legend,
          labels: { color: p.foreground, boxWidth: 12, boxHeight: 2, filter: (item) => !item.text.startsWith('_') },
        },
        tooltip: {
          animation: false,
          callbacks: { label: (ctx) => `${ctx.dataset.label?.replace(/^_/, '') ?? ''}: ${fmtNumber(ctx.parsed.y ?? undefined)}` },
        },
      },
    },
  });
}

/**
 * The x-axis's tick labels and the tooltip's title for what x counts (steps, tokens, seconds);
 * `integer` keeps ticks on whole numbers (steps, tokens).
 */
export function setXFormat(chart: LineChart, format: (v: number) => string, integer: boolean): void {
  // Set property by property: the options are chart.js proxies, which do not survive spreading.
  const ticks = (chart.options.scales!.x as { ticks: { precision?: number; callback?: unknown } }).ticks;
  ticks.precision = integer ? 0 : undefined;
  ticks.callback = (v: number | string) => format(Number(v));
  chart.options.plugins!.tooltip!.callbacks!.title = (items) => (items.length ? format(items[0].parsed.x ?? NaN) : '');
}

/** Re-colours grid, ticks and legend after a theme change (datasets are re-coloured by the caller). */
export function applyScaleTheme(chart: LineChart, p: Palette): void {
  const c = scaleColors(p);
  const scales = chart.options.scales as Record<string, { grid?: object; border?: object; ticks?: object }>;
  for (const s of Object.values(scales)) {
    s.grid = { ...s.grid, ...c.grid };
    s.border = { ...s.border, ...c.border };
    s.ticks = { ...s.ticks, ...c.ticks };
  }
  const legend = chart.options.plugins?.legend;
  if (legend?.labels) legend.labels.color = p.foreground;
  Chart.defaults.font.family = p.font;
  Chart.defaults.color = p.muted;
}
