// Overlays grouped by a configuration field, as W&B's "group by": runs with the same value of
// the field share a colour, so a learning-rate or method effect shows at a glance. No DOM:
// tested under plain mocha.
import type { CompareRun } from '../../src/protocol/webview';
import { hyperparameterRows, MISSING } from './table';

/** "Each run its own colour". */
export const NO_GROUP = '';

export interface RunGroup {
  /** The field's value shared by the group's runs (MISSING when a run lacks the field). */
  value: string;
  /** Indices into the runs. */
  runs: number[];
}

/** Rows that say nothing about configuration, or that every run has its own of. */
const NOT_FIELDS = new Set(['status', 'backend used', 'trainable %', 'best val loss', 'name']);

/** Fields worth grouping by: those that differ between the runs (the method first, then as the table orders them). */
export function groupFields(runs: CompareRun[]): string[] {
  const keys = hyperparameterRows(runs).filter((r) => r.differs && !NOT_FIELDS.has(r.key)).map((r) => r.key);
  return [...keys.filter((k) => k === 'method'), ...keys.filter((k) => k !== 'method')];
}

export function valueOf(run: CompareRun, field: string): string {
  if (field === 'method') return run.method || MISSING;
  return run.config[field] ?? MISSING;
}

/**
 * The runs grouped by `field` (NO_GROUP: one group per run), groups in order of their value:
 * numerically when every value is a number, else as text; a missing value last.
 */
export function groupRuns(runs: CompareRun[], field: string): RunGroup[] {
  if (field === NO_GROUP) return runs.map((r, i) => ({ value: r.name, runs: [i] }));
  const byValue = new Map<string, number[]>();
  runs.forEach((r, i) => {
    const v = valueOf(r, field);
    byValue.set(v, [...(byValue.get(v) ?? []), i]);
  });
  const values = [...byValue.keys()];
  const present = values.filter((v) => v !== MISSING);
  const numeric = present.every((v) => v.trim() !== '' && Number.isFinite(Number(v)));
  present.sort(numeric ? (a, b) => Number(a) - Number(b) : (a, b) => a.localeCompare(b));
  if (byValue.has(MISSING)) present.push(MISSING);
  return present.map((value) => ({ value, runs: byValue.get(value)! }));
}

/** Each run's group index (its colour). */
export function groupOfRun(groups: RunGroup[], runCount: number): number[] {
  const out = new Array<number>(runCount).fill(0);
  groups.forEach((g, gi) => g.runs.forEach((i) => (out[i] = gi)));
  return out;
}
