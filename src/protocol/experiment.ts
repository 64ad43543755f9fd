// An experiment: trials of one base run config over a search space, judged by one objective.
// state.json (in <runsDir>/experiments/<name>/) is written by the engine and read by the
// extension; `adapt-lab experiment --jsonl` prints ExperimentEvent lines. `validateExperimentState`
// checks a value read from disk or from another process.

export type ObjectiveMetric = 'valLoss' | 'accuracy' | 'weightedError';
export const OBJECTIVE_METRICS: readonly ObjectiveMetric[] = ['valLoss', 'accuracy', 'weightedError'];

/** Higher is better for accuracy; lower for the others. */
export function higherIsBetter(metric: ObjectiveMetric): boolean {
  return metric === 'accuracy';
}

export type TrialStatus = 'pending' | 'running' | 'finished' | 'pruned' | 'failed';

export interface TrialState {
  index: number;
  /** The axis values of this trial, by field path ("training.learningRate"). */
  params: Record<string, unknown>;
  seed: number;
  /** Trials that differ only in their seed share a group (the leaderboard averages over it). */
  group: string;
  status: TrialStatus;
  runId?: string;
  runDir?: string;
  /** Why it was pruned or failed. */
  reason?: string;
  /** Validation loss after each evaluation: [step, loss]. */
  curve: [number, number][];
  steps: number;
  bestValLoss?: number;
  accuracy?: number | null;
  weightedError?: number | null;
  /** Probe perplexity change, percent (100 × (adapted / base − 1)). */
  forgettingPercent?: number;
  objective?: number;
  trainableParams?: number;
  secondsPerStep?: number;
  peakRssMiB?: number;
  startedAt?: string;
  endedAt?: string;
}

export interface ExperimentState {
  version: 1;
  name: string;
  /** The experiment file, absolute. */
  file: string;
  /** SHA-256 of the resolved spec: a changed file is a new experiment, not a continuation. */
  specHash: string;
  objective: { metric: ObjectiveMetric; forgettingCeiling?: number };
  stopping: StoppingRule;
  createdAt: string;
  updatedAt: string;
  status: 'running' | 'finished' | 'stopped' | 'failed';
  /** Set when the budget ended the experiment before every trial ran. */
  budgetNote?: string;
  /** Seconds spent running trials, over every session: the time budget counts across resumes. */
  elapsedSeconds?: number;
  /** The process running it while status is "running" (pid + start time + token, as a run's trainer). */
  process?: { pid: number; startTime?: string; token: string; host?: string };
  trials: TrialState[];
}

/**
 * Median stopping (as Google Vizier's): at an evaluation at step s after `graceSteps`, a trial
 * whose best validation loss so far is worse than the median of the completed trials' best at s
 * is stopped, once at least `minTrials` trials have completed.
 */
export type StoppingRule = { rule: 'none' } | { rule: 'median'; minTrials: number; graceSteps: number };

export interface LeaderboardRow {
  rank: number;
  group: string;
  params: Record<string, unknown>;
  trials: number[];
  seeds: number[];
  status: TrialStatus;
  /** Mean and standard deviation over the group's completed trials (seeds). */
  objective: { mean: number; std: number; n: number } | null;
  accuracy: number | null;
  forgettingPercent: number | null;
  bestValLoss: number | null;
  trainableParams: number | null;
  secondsPerStep: number | null;
  peakRssMiB: number | null;
  /** False when forgetting is above the ceiling: ranked after every feasible row. */
  feasible: boolean;
}

export type ExperimentEvent =
  | { type: 'experimentStarted'; time: string; name: string; dir: string; trials: number; resumed: boolean }
  | { type: 'trialStarted'; time: string; index: number; params: Record<string, unknown>; seed: number; runDir?: string; resumed: boolean }
  | { type: 'trialEnded'; time: string; index: number; status: TrialStatus; objective?: number; reason?: string }
  | { type: 'experimentEnded'; time: string; name: string; status: ExperimentState['status']; leaderboard: LeaderboardRow[]; note?: string };

// ---------------------------------------------------------------------------------- validation

const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
const STATUSES: readonly TrialStatus[] = ['pending', 'running', 'finished', 'pruned', 'failed'];

/** Problems with a value that should be an ExperimentState, one line each; empty when it is one. */
export function validateExperimentState(v: unknown): string[] {
  const out: string[] = [];
  if (!isObj(v)) return ['not an object'];
  if (v.version !== 1) out.push(`version must be 1, got ${JSON.stringify(v.version)}`);
  for (const k of ['name', 'file', 'specHash', 'createdAt', 'updatedAt', 'status']) {
    if (typeof v[k] !== 'string') out.push(`${k} must be a string`);
  }
  if (!isObj(v.objective) || !OBJECTIVE_METRICS.includes(v.objective.metric as ObjectiveMetric)) out.push('objective.metric must be one of ' + OBJECTIVE_METRICS.join(', '));
  if (!Array.isArray(v.trials)) out.push('trials must be an array');
  else {
    v.trials.forEach((t, i) => {
      if (!isObj(t)) { out.push(`trials[${i}] must be an object`); return; }
      if (typeof t.index !== 'number') out.push(`trials[${i}].index must be a number`);
      if (!STATUSES.includes(t.status as TrialStatus)) out.push(`trials[${i}].status must be one of ${STATUSES.join(', ')}`);
      if (!isObj(t.params)) out.push(`trials[${i}].params must be an object`);
      if (!Array.isArray(t.curve)) out.push(`trials[${i}].curve must be an array`);
    });
  }
  return out;
}

export function parseExperimentState(v: unknown, source = 'state.json'): ExperimentState {
  const problems = validateExperimentState(v);
  if (problems.length) throw new Error(`${source}: not an experiment state: ${problems.slice(0, 3).join('; ')}`);
  return v as ExperimentState;
}

// ---------------------------------------------------------------------------------- labels

const shortList = (xs: unknown[]) => xs.map(String).join(',');

/**
 * An axis value as a person reads it: an `adapt` object as its method ("LoRA r8 q_proj,v_proj"),
 * a file path as its name, null as "none". The leaderboard (CLI and view) and the chart use it.
 */
export function axisValueLabel(value: unknown): string {
  if (value === null || value === undefined) return 'none';
  if (typeof value === 'number') return String(Number(value.toPrecision(4)));
  if (typeof value === 'string') return /[\\/]/.test(value) ? value.split(/[\\/]/).pop()! : value;
  if (Array.isArray(value)) return shortList(value);
  if (isObj(value)) {
    const parts: string[] = [];
    if (isObj(value.lora)) {
      const l = value.lora;
      const targets = Array.isArray(l.targetModules) ? ` ${shortList(l.targetModules)}` : typeof l.targetModules === 'string' ? ` ${l.targetModules}` : '';
      parts.push(`LoRA${typeof l.rank === 'number' ? ` r${l.rank}` : ''}${targets}`);
    }
    if (Array.isArray(value.unfreeze)) parts.push(`unfreeze ${shortList(value.unfreeze)}`);
    if (value.biases === true) parts.push('biases+norms');
    if (parts.length) return parts.join(' + ');
  }
  return JSON.stringify(value);
}
