// Messages between the extension host and the experiment leaderboard webview. The host reads
// the experiment's state.json (and the live events of an experiment it runs) and sends the
// whole view; the page sorts the table, draws the parallel coordinates and asks the host to
// promote a trial. Both sides validate what they receive.
import { LeaderboardRow, ObjectiveMetric, TrialStatus } from './experiment';

/** As the experiment is now: `interrupted` when state.json says running but its process is gone. */
export type ExperimentViewStatus = 'running' | 'finished' | 'stopped' | 'failed' | 'interrupted';

export interface ViewTrial {
  index: number;
  seed: number;
  group: string;
  status: TrialStatus;
  /** "queued", "running step 40/170", "stopped early", "done", "failed", "interrupted at step 12". */
  label: string;
  params: Record<string, unknown>;
  runDir?: string;
  objective?: number;
  steps: number;
  totalSteps?: number;
  reason?: string;
}

export interface ExperimentView {
  name: string;
  dir: string;
  file: string;
  status: ExperimentViewStatus;
  metric: ObjectiveMetric;
  higherIsBetter: boolean;
  forgettingCeiling?: number;
  /** The axis field paths, in the order the file lists them (the chart's axes). */
  axes: string[];
  rows: LeaderboardRow[];
  trials: ViewTrial[];
  budgetNote?: string;
}

export type PromoteAction = 'activeRun' | 'export';

/** Host → leaderboard page. */
export type LeaderboardHostMessage = { type: 'experiment'; view: ExperimentView };

/** Leaderboard page → host. */
export type LeaderboardWebviewMessage =
  | { type: 'ready' }
  /** Make trial `trial`'s run the active one for prompts, or export it. */
  | { type: 'promote'; trial: number; action: PromoteAction }
  /** Show trial `trial`'s run in the Monitor. */
  | { type: 'open'; trial: number };

// ------------------------------------------------------------------------------- validation

const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

export function parseLeaderboardWebviewMessage(v: unknown): LeaderboardWebviewMessage {
  if (!isObj(v)) throw new Error('the message is not an object');
  if (v.type === 'ready') return { type: 'ready' };
  if (v.type === 'promote' || v.type === 'open') {
    if (typeof v.trial !== 'number' || !Number.isInteger(v.trial) || v.trial < 0) throw new Error(`${v.type} needs a trial index, got ${JSON.stringify(v.trial)}`);
    if (v.type === 'open') return { type: 'open', trial: v.trial };
    if (v.action !== 'activeRun' && v.action !== 'export') throw new Error(`promote needs action "activeRun" or "export", got ${JSON.stringify(v.action)}`);
    return { type: 'promote', trial: v.trial, action: v.action };
  }
  throw new Error(`unknown message type ${JSON.stringify(v.type)}`);
}

export function parseLeaderboardHostMessage(v: unknown): LeaderboardHostMessage {
  if (!isObj(v) || v.type !== 'experiment') throw new Error(`expected an "experiment" message, got ${JSON.stringify(isObj(v) ? v.type : v)}`);
  const view = v.view;
  if (!isObj(view)) throw new Error('experiment message needs a view object');
  for (const k of ['name', 'dir', 'status', 'metric']) if (typeof view[k] !== 'string') throw new Error(`the view needs string "${k}"`);
  for (const k of ['axes', 'rows', 'trials']) if (!Array.isArray(view[k])) throw new Error(`the view needs array "${k}"`);
  (view.trials as unknown[]).forEach((t, i) => {
    if (!isObj(t) || typeof t.index !== 'number' || typeof t.label !== 'string' || !isObj(t.params)) throw new Error(`view.trials[${i}] needs index, label and params`);
  });
  (view.rows as unknown[]).forEach((r, i) => {
    if (!isObj(r) || typeof r.rank !== 'number' || !Array.isArray(r.trials) || !isObj(r.params)) throw new Error(`view.rows[${i}] needs rank, trials and params`);
  });
  return v as LeaderboardHostMessage;
}
