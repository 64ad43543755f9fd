// The parallel-coordinates chart's data: one vertical axis per configuration field and one for
// the objective, each trial a line through its values normalised to 0..1 on every axis. Numbers
// are placed by value (on a log scale when they span a factor of 10 or more, as learning rates
// do); anything else (methods, files, none) by its order of appearance. No DOM: tested under mocha.
import { axisValueLabel } from '../../src/protocol/experiment';
import type { ViewTrial } from '../../src/protocol/experiment-view';

export interface ParallelAxis {
  key: string;
  label: string;
  /** The values shown on the axis, at their normalised height. */
  ticks: { y: number; text: string }[];
  log: boolean;
}

export interface ParallelLine {
  trial: number;
  /** Normalised heights, one per axis; null where the field does not apply to the trial. */
  ys: (number | null)[];
  /** The values as text, one per axis (tooltips). */
  texts: string[];
  objective: number | null;
  /** 0 = worst objective, 1 = best; null without an objective (drawn grey, dashed). */
  quality: number | null;
}

export interface ParallelData {
  axes: ParallelAxis[];
  lines: ParallelLine[];
}

const numeric = (vs: unknown[]) => vs.length > 0 && vs.every((v) => typeof v === 'number' && Number.isFinite(v));

function scale(values: number[]): { at: (v: number) => number; log: boolean } {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const log = lo > 0 && hi / lo >= 10;
  const f = log ? Math.log : (v: number) => v;
  const span = f(hi) - f(lo);
  return { at: (v) => (span > 0 ? (f(v) - f(lo)) / span : 0.5), log };
}

function axisFor(key: string, label: string, values: unknown[]): { axis: ParallelAxis; at: (v: unknown) => number | null } {
  const present = values.filter((v) => v !== undefined);
  if (numeric(present)) {
    const nums = [...new Set(present as number[])].sort((a, b) => a - b);
    const s = scale(nums);
    const shown = nums.length <= 6 ? nums : [nums[0], nums[nums.length - 1]];
    return {
      axis: { key, label, log: s.log, ticks: shown.map((v) => ({ y: s.at(v), text: axisValueLabel(v) })) },
      at: (v) => (typeof v === 'number' ? s.at(v) : null),
    };
  }
  const cats: string[] = [];
  for (const v of present) {
    const t = axisValueLabel(v);
    if (!cats.includes(t)) cats.push(t);
  }
  const y = (i: number) => (cats.length > 1 ? i / (cats.length - 1) : 0.5);
  return {
    axis: { key, label, log: false, ticks: cats.map((text, i) => ({ y: y(i), text })) },
    at: (v) => (v === undefined ? null : y(cats.indexOf(axisValueLabel(v)))),
  };
}

/** A field path's last part, as an axis title ("training.learningRate" → "learningRate"). */
export function axisTitle(path: string): string {
  const parts = path.split('.');
  return parts.length > 1 && parts[parts.length - 1].length <= 3 ? parts.slice(-2).join('.') : parts[parts.length - 1];
}

export function parallelData(trials: ViewTrial[], axes: string[], metric: string, higherIsBetter: boolean): ParallelData {
  const fields = axes.map((path) => axisFor(path, axisTitle(path), trials.map((t) => (path in t.params ? t.params[path] : undefined))));
  const objectives = trials.map((t) => (typeof t.objective === 'number' && Number.isFinite(t.objective) ? t.objective : undefined));
  const objective = axisFor('objective', metric, objectives);
  const withObjective = objectives.filter((o): o is number => o !== undefined);
  const lo = Math.min(...withObjective);
  const hi = Math.max(...withObjective);
  const quality = (o: number | undefined) => {
    if (o === undefined) return null;
    const q = hi > lo ? (o - lo) / (hi - lo) : 1;
    return higherIsBetter ? q : 1 - q;
  };
  const lines = trials.map((t, i): ParallelLine => {
    const vals = axes.map((path) => (path in t.params ? t.params[path] : undefined));
    return {
      trial: t.index,
      ys: [...fields.map((f, k) => f.at(vals[k])), objective.at(objectives[i])],
      texts: [...vals.map((v) => (v === undefined ? 'n/a' : axisValueLabel(v))), objectives[i] === undefined ? '–' : objectives[i]!.toFixed(3)],
      objective: objectives[i] ?? null,
      quality: quality(objectives[i]),
    };
  });
  // The objective axis's ticks as numbers to 3 decimals (axisValueLabel keeps 4 significant digits).
  objective.axis.ticks = objective.axis.ticks.map((t) => ({ ...t, text: Number(t.text).toFixed(3) }));
  return { axes: [...fields.map((f) => f.axis), objective.axis], lines };
}

/** Red (worst) through yellow to green (best), as an hsl() colour; grey without an objective. */
export function qualityColor(q: number | null): string {
  if (q === null) return 'hsl(0, 0%, 55%)';
  return `hsl(${Math.round(120 * Math.max(0, Math.min(1, q)))}, 70%, 50%)`;
}
