// The leaderboard table's columns and its sorting. No DOM: tested under plain mocha.
import type { LeaderboardRow } from '../../src/protocol/experiment';

export type SortKey = 'rank' | 'objective' | 'accuracy' | 'forgetting' | 'trainable' | 'secondsPerStep' | 'peakMemory';

export interface Sort {
  key: SortKey;
  /** Ascending when true. */
  ascending: boolean;
}

export interface Column {
  key: SortKey;
  label: string;
  value: (r: LeaderboardRow) => number | null;
  /** Whether a larger value is better (the first click sorts best first). */
  higherIsBetter: boolean;
}

export function columns(objectiveHigherIsBetter: boolean, metric: string): Column[] {
  return [
    { key: 'rank', label: '#', value: (r) => r.rank, higherIsBetter: false },
    { key: 'objective', label: `objective (${metric})`, value: (r) => r.objective?.mean ?? null, higherIsBetter: objectiveHigherIsBetter },
    { key: 'accuracy', label: 'accuracy', value: (r) => r.accuracy, higherIsBetter: true },
    { key: 'forgetting', label: 'forgetting', value: (r) => r.forgettingPercent, higherIsBetter: false },
    { key: 'trainable', label: 'trainable', value: (r) => r.trainableParams, higherIsBetter: false },
    { key: 'secondsPerStep', label: 's / step', value: (r) => r.secondsPerStep, higherIsBetter: false },
    { key: 'peakMemory', label: 'peak RSS', value: (r) => r.peakRssMiB, higherIsBetter: false },
  ];
}

/** A click on a column's header: best first on the first click, reversed on the next. */
export function nextSort(current: Sort, col: Column): Sort {
  if (current.key === col.key) return { key: col.key, ascending: !current.ascending };
  return { key: col.key, ascending: !col.higherIsBetter };
}

/**
 * The rows sorted by a column. Rows without a value go last whichever the direction; ties keep
 * the leaderboard's rank order (so feasible rows stay before infeasible ones).
 */
export function sortRows(rows: LeaderboardRow[], sort: Sort, cols: Column[]): LeaderboardRow[] {
  const col = cols.find((c) => c.key === sort.key) ?? cols[0];
  return [...rows].sort((a, b) => {
    const x = col.value(a);
    const y = col.value(b);
    if (x === null || y === null || !Number.isFinite(x) || !Number.isFinite(y)) {
      const xm = x === null || !Number.isFinite(x);
      const ym = y === null || !Number.isFinite(y);
      if (xm !== ym) return xm ? 1 : -1;
      return a.rank - b.rank;
    }
    if (x !== y) return sort.ascending ? x - y : y - x;
    return a.rank - b.rank;
  });
}

export function fmtPercent(x: number | null, digits = 0): string {
  return x === null ? '–' : `${(100 * x).toFixed(digits)}%`;
}

export function fmtForgetting(x: number | null): string {
  return x === null ? '–' : `${x >= 0 ? '+' : ''}${x.toFixed(0)}%`;
}

export function fmtObjective(r: LeaderboardRow): string {
  if (!r.objective) return '–';
  return r.objective.n > 1 ? `${r.objective.mean.toFixed(3)} ± ${r.objective.std.toFixed(3)}` : r.objective.mean.toFixed(3);
}
