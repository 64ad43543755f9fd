// What the Runs tree and the leaderboard show of an experiment, built from its state.json (so
// experiments started from the CLI show too) plus the live progress of the trial that is
// training (from the JSON Lines events of an experiment this window runs, else from the trial's
// metrics.jsonl). No `vscode` import: tested under plain mocha.
import { ExperimentState, higherIsBetter, TrialState } from '../../protocol/experiment';
import { ExperimentView, ExperimentViewStatus, ViewTrial } from '../../protocol/experiment-view';
import { leaderboard } from '../../engine/core/experiment/leaderboard';
import { isTrainerAlive } from '../../engine/core/runs/process';
import { readMetrics } from '../../engine/core/runs/store';

export interface TrialProgress {
  step: number;
  totalSteps?: number;
}

/** Running, or interrupted when state.json says running but no process of it is alive. */
export function experimentStatus(state: ExperimentState, live: boolean, alive: (p: ExperimentState['process']) => boolean = isTrainerAlive): ExperimentViewStatus {
  if (state.status !== 'running') return state.status;
  return live || alive(state.process) ? 'running' : 'interrupted';
}

/** The trial's status in words, with its step while it trains. */
export function trialLabel(t: Pick<TrialState, 'status' | 'steps'>, status: ExperimentViewStatus, progress?: TrialProgress): string {
  switch (t.status) {
    case 'pending': return 'queued';
    case 'finished': return 'done';
    case 'pruned': return 'stopped early';
    case 'failed': return 'failed';
    case 'running': {
      const step = Math.max(progress?.step ?? 0, t.steps);
      if (status !== 'running') return step ? `interrupted at step ${step} (continues when the experiment runs again)` : 'interrupted (starts again when the experiment runs again)';
      if (!step) return 'starting';
      return progress?.totalSteps ? `running step ${step}/${progress.totalSteps}` : `running step ${step}`;
    }
  }
}

/** The step and planned steps of a trial that is training, read from its metrics. */
export function progressFromMetrics(runDir: string | undefined): TrialProgress | undefined {
  if (!runDir) return undefined;
  let step = 0;
  let totalSteps: number | undefined;
  try {
    for (const e of readMetrics(runDir)) {
      if (e.type === 'started') totalSteps = e.totalSteps;
      else if (e.type === 'step') step = e.step;
    }
  } catch {
    return undefined; // no metrics yet
  }
  return { step, totalSteps };
}

export interface ViewOptions {
  /** This window runs the experiment (its events are the live progress). */
  live?: boolean;
  /** Progress of trials by index, from live events. */
  progress?: Map<number, TrialProgress>;
  alive?: (p: ExperimentState['process']) => boolean;
}

export function experimentView(dir: string, state: ExperimentState, o: ViewOptions = {}): ExperimentView {
  const status = experimentStatus(state, !!o.live, o.alive);
  const trials: ViewTrial[] = state.trials.map((t) => {
    const progress = t.status === 'running' ? o.progress?.get(t.index) ?? progressFromMetrics(t.runDir) : undefined;
    return {
      index: t.index, seed: t.seed, group: t.group, status: t.status, label: trialLabel(t, status, progress), params: t.params,
      runDir: t.runDir, objective: t.objective, steps: Math.max(t.steps, progress?.step ?? 0), totalSteps: progress?.totalSteps, reason: t.reason,
    };
  });
  const axes: string[] = [];
  for (const t of state.trials) for (const k of Object.keys(t.params)) if (!axes.includes(k)) axes.push(k);
  return {
    name: state.name, dir, file: state.file, status, metric: state.objective.metric, higherIsBetter: higherIsBetter(state.objective.metric),
    forgettingCeiling: state.objective.forgettingCeiling, axes, rows: leaderboard(state), trials, budgetNote: state.budgetNote,
  };
}

/** The experiment's one-line summary: "3/8 done · running trial 4 · best accuracy 0.93". */
export function experimentSummary(view: ExperimentView): string {
  const ended = view.trials.filter((t) => t.status === 'finished' || t.status === 'pruned' || t.status === 'failed').length;
  const parts = [`${ended}/${view.trials.length} trials`];
  const running = view.trials.find((t) => t.status === 'running');
  if (view.status === 'running' && running) parts.push(`trial ${running.index + 1} ${running.label}`);
  else if (view.status !== 'finished') parts.push(view.status);
  const best = view.rows[0]?.objective;
  if (best) parts.push(`best ${view.metric} ${best.mean.toFixed(3)}`);
  return parts.join(' · ');
}
