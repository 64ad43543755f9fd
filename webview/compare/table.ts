// The hyperparameter table of Compare Runs: a few summary rows, then every resolved config key
// any run has, in the order they first appear. No DOM: tested under plain mocha.
import type { CompareRun } from '../../src/protocol/webview';
import { fmtNumber } from '../shared/dom';

export const MISSING = '—';

export interface Row {
  key: string;
  values: string[];
  /** Not every run has the same value. */
  differs: boolean;
}

const SUMMARY: { key: string; value: (r: CompareRun) => string | undefined }[] = [
  { key: 'status', value: (r) => r.status },
  { key: 'method', value: (r) => r.method || undefined },
  { key: 'backend used', value: (r) => r.backend },
  { key: 'trainable %', value: (r) => (r.trainablePercent === undefined ? undefined : `${fmtNumber(r.trainablePercent, 3)}%`) },
  { key: 'best val loss', value: (r) => (r.bestValLoss === undefined ? undefined : fmtNumber(r.bestValLoss)) },
];

export function hyperparameterRows(runs: CompareRun[]): Row[] {
  const keys: string[] = [];
  const seen = new Set<string>();
  for (const r of runs) {
    for (const k of Object.keys(r.config)) {
      if (!seen.has(k)) {
        seen.add(k);
        keys.push(k);
      }
    }
  }
  const row = (key: string, values: string[]): Row => ({ key, values, differs: values.some((v) => v !== values[0]) });
  return [
    ...SUMMARY.map((s) => row(s.key, runs.map((r) => s.value(r) ?? MISSING))),
    ...keys.map((k) => row(k, runs.map((r) => r.config[k] ?? MISSING))),
  ];
}

/** Rows to show: all, or only those where the runs differ. */
export function visibleRows(rows: Row[], differencesOnly: boolean): Row[] {
  return differencesOnly ? rows.filter((r) => r.differs) : rows;
}
