// Ranks an experiment's trials: trials that differ only by seed form one row, with the mean and
// spread of the objective over the seeds, so a winner can be told from noise. Rows whose
// forgetting exceeds the ceiling rank after every feasible row; pruned and failed trials last.
import { axisValueLabel, ExperimentState, higherIsBetter, LeaderboardRow, TrialState } from '../../../protocol/experiment';

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const std = (xs: number[]) => {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
};
const meanOf = (ts: TrialState[], f: (t: TrialState) => number | null | undefined): number | null => {
  const xs = ts.map(f).filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  return xs.length ? mean(xs) : null;
};

const STATUS_ORDER: Record<string, number> = { finished: 0, running: 1, pending: 2, pruned: 3, failed: 4 };

export function leaderboard(state: Pick<ExperimentState, 'trials' | 'objective'>): LeaderboardRow[] {
  const groups = new Map<string, TrialState[]>();
  for (const t of state.trials) groups.set(t.group, [...(groups.get(t.group) ?? []), t]);
  const up = higherIsBetter(state.objective.metric);
  const ceiling = state.objective.forgettingCeiling;
  const rows: LeaderboardRow[] = [...groups.entries()].map(([group, ts]) => {
    const done = ts.filter((t) => t.status === 'finished' && typeof t.objective === 'number' && Number.isFinite(t.objective));
    const objs = done.map((t) => t.objective!);
    const forgetting = meanOf(done, (t) => t.forgettingPercent);
    const status = ts.map((t) => t.status).sort((a, b) => STATUS_ORDER[a] - STATUS_ORDER[b])[0];
    return {
      rank: 0, group, params: ts[0].params, trials: ts.map((t) => t.index), seeds: ts.map((t) => t.seed), status,
      objective: objs.length ? { mean: mean(objs), std: std(objs), n: objs.length } : null,
      accuracy: meanOf(done, (t) => t.accuracy),
      forgettingPercent: forgetting,
      bestValLoss: meanOf(done.length ? done : ts, (t) => t.bestValLoss),
      trainableParams: ts[0].trainableParams ?? null,
      secondsPerStep: meanOf(ts, (t) => t.secondsPerStep),
      peakRssMiB: meanOf(ts, (t) => t.peakRssMiB),
      feasible: ceiling === undefined || forgetting === null || forgetting <= ceiling,
    };
  });
  rows.sort((a, b) => {
    if (!!a.objective !== !!b.objective) return a.objective ? -1 : 1;
    if (a.feasible !== b.feasible) return a.feasible ? -1 : 1;
    if (a.objective && b.objective && a.objective.mean !== b.objective.mean) return up ? b.objective.mean - a.objective.mean : a.objective.mean - b.objective.mean;
    if (!a.objective && !b.objective && a.status !== b.status) return STATUS_ORDER[a.status] - STATUS_ORDER[b.status];
    return (a.bestValLoss ?? Infinity) - (b.bestValLoss ?? Infinity);
  });
  rows.forEach((r, i) => { r.rank = i + 1; });
  return rows;
}

const fmt = (x: number | null | undefined, digits = 3) => (x === null || x === undefined ? '–' : x.toFixed(digits));
const pct = (x: number | null) => (x === null ? '–' : `${(100 * x).toFixed(0)}%`);

/** The leaderboard as a plain-text table (the CLI's last output). */
export function formatLeaderboard(rows: LeaderboardRow[], metric: string, ceiling?: number): string {
  const header = ['#', `objective (${metric})`, 'accuracy', 'forgetting', 'val loss', 'trainable', 's/step', 'status', 'configuration'];
  const body = rows.map((r) => [
    String(r.rank),
    r.objective ? `${fmt(r.objective.mean)}${r.objective.n > 1 ? ` ± ${fmt(r.objective.std)}` : ''}` : '–',
    pct(r.accuracy),
    r.forgettingPercent === null ? '–' : `${r.forgettingPercent >= 0 ? '+' : ''}${r.forgettingPercent.toFixed(0)}%${r.feasible ? '' : ' ✗'}`,
    fmt(r.bestValLoss),
    r.trainableParams === null ? '–' : r.trainableParams.toLocaleString('en-US'),
    fmt(r.secondsPerStep, 2),
    r.status + (r.seeds.length > 1 ? ` (${r.seeds.length} seeds)` : ''),
    Object.entries(r.params).map(([k, v]) => `${k}=${axisValueLabel(v)}`).join(' ') || '(base)',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  const note = ceiling === undefined ? '' : `\n✗: forgetting above the ceiling of +${ceiling}% probe perplexity (ranked after the rest)`;
  return [line(header), ...body.map(line)].join('\n') + note;
}
