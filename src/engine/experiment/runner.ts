// Runs an experiment's trials one after another, each a normal run (its own folder, metrics,
// checkpoints and evaluation report), and keeps state.json in <runsDir>/experiments/<name>/ so
// a killed experiment continues where it stopped: finished trials are kept, the interrupted one
// resumes from its last checkpoint (or starts again when it had none).
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEvalReport } from '../../protocol/eval';
import { TrainerEvent, EndEvent } from '../../protocol/events';
import { ExperimentEvent, ExperimentState, TrialState } from '../../protocol/experiment';
import { EXPERIMENTS_DIR, experimentDir, readExperimentState, STATE_FILE } from '../core/experiment/state';
import { latestCheckpoint } from '../core/runs/checkpoint';
import { newTrainerIdentity, releaseIdentity } from '../core/runs/process';
import { readMetrics, readRunRecord, writeJsonAtomic } from '../core/runs/store';
import { TrainerControl } from '../train/control';
import { train } from '../train/trainer';
import { leaderboard } from '../core/experiment/leaderboard';
import { ExperimentSpec } from './spec';
import { shouldStop } from './stopping';

export { EXPERIMENTS_DIR, STATE_FILE, experimentDir, readExperimentState };

export interface ExperimentOptions {
  /** Experiment events, and every trainer event of the running trial tagged with its index. */
  emit?: (e: ExperimentEvent | { type: 'trialEvent'; index: number; event: TrainerEvent }) => void;
  /** Stops the experiment: the running trial stops with a checkpoint and resumes next time. */
  control?: TrainerControl;
  gradWorker?: string;
  who?: string;
  /** Start again even if a state for this experiment exists with other settings. */
  restart?: boolean;
}

const now = () => new Date().toISOString();

function freshState(spec: ExperimentSpec): ExperimentState {
  const t = now();
  return {
    version: 1, name: spec.name, file: spec.file, specHash: spec.hash, objective: spec.objective, stopping: spec.stopping,
    createdAt: t, updatedAt: t, status: 'running',
    trials: spec.trials.map((p) => ({ index: p.index, params: p.params, seed: p.seed, group: p.group, status: 'pending', curve: [], steps: 0 })),
  };
}

/** The trial's figures from its run folder: curve, steps, timing, memory, end, eval report. */
function collect(trial: TrialState): { end?: EndEvent } {
  if (!trial.runDir) return {};
  const events = readMetrics(trial.runDir);
  trial.curve = [];
  let end: EndEvent | undefined;
  let firstStep: { step: number; time: number } | undefined;
  let lastStep: { step: number; time: number } | undefined;
  for (const e of events) {
    if (e.type === 'eval' && e.step > 0) trial.curve.push([e.step, e.valLoss]);
    else if (e.type === 'step') {
      trial.steps = e.step;
      const at = { step: e.step, time: Date.parse(e.time) };
      firstStep ??= at;
      lastStep = at;
      trial.peakRssMiB = Math.max(trial.peakRssMiB ?? 0, e.memory?.rssMiB ?? 0);
    } else if (e.type === 'started') trial.trainableParams = e.params.trainable;
    else if (e.type === 'finished' || e.type === 'stopped' || e.type === 'failed') end = e;
  }
  if (firstStep && lastStep && lastStep.step > firstStep.step) trial.secondsPerStep = (lastStep.time - firstStep.time) / 1000 / (lastStep.step - firstStep.step);
  const best = trial.curve.reduce((m, [, l]) => Math.min(m, l), Infinity);
  if (Number.isFinite(best)) trial.bestValLoss = best;
  const evalPath = join(trial.runDir, 'eval.json');
  if (existsSync(evalPath)) {
    try {
      const r = parseEvalReport(JSON.parse(readFileSync(evalPath, 'utf8')), evalPath);
      trial.accuracy = r.adapted?.accuracy ?? null;
      trial.weightedError = r.adapted?.weightedError ?? null;
      if (r.forgetting) trial.forgettingPercent = r.forgetting.changePercent;
    } catch {
      // an unreadable report leaves the figures out; the objective then falls back below
    }
  }
  return { end };
}

function objectiveOf(trial: TrialState, metric: ExperimentState['objective']['metric']): number | undefined {
  const v = metric === 'valLoss' ? trial.bestValLoss : metric === 'accuracy' ? trial.accuracy : trial.weightedError;
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

export async function runExperiment(spec: ExperimentSpec, opts: ExperimentOptions = {}): Promise<ExperimentState> {
  const emit = opts.emit ?? (() => undefined);
  const control = opts.control ?? new TrainerControl();
  const dir = experimentDir(spec);
  mkdirSync(dir, { recursive: true });
  let state = readExperimentState(dir);
  const resumed = !!state && state.specHash === spec.hash && !opts.restart;
  if (state && !resumed && !opts.restart) {
    throw new Error(`${join(dir, STATE_FILE)}: experiment "${spec.name}" was started with other settings; give it another name, or pass --restart to start it again (its runs are kept)`);
  }
  if (!resumed) state = freshState(spec);
  const st = state!;
  st.status = 'running';
  // Readers (the extension) tell a live experiment from a killed one by this identity.
  const identity = newTrainerIdentity();
  st.process = identity;
  // The time budget counts every session's time, so a resumed experiment does not get it afresh.
  const started = Date.now();
  const before = resumed ? st.elapsedSeconds ?? 0 : 0;
  const elapsedSeconds = () => before + (Date.now() - started) / 1000;
  const save = () => {
    st.updatedAt = now();
    st.elapsedSeconds = Math.round(elapsedSeconds() * 10) / 10;
    writeJsonAtomic(join(dir, STATE_FILE), st);
  };
  try {
    return await runTrials(spec, st, { emit, control, dir, resumed, save, elapsedSeconds, opts });
  } finally {
    releaseIdentity(identity);
  }
}

interface Session {
  emit: NonNullable<ExperimentOptions['emit']>;
  control: TrainerControl;
  dir: string;
  resumed: boolean;
  save: () => void;
  elapsedSeconds: () => number;
  opts: ExperimentOptions;
}

async function runTrials(spec: ExperimentSpec, st: ExperimentState, { emit, control, dir, resumed, save, elapsedSeconds, opts }: Session): Promise<ExperimentState> {
  save();
  emit({ type: 'experimentStarted', time: now(), name: spec.name, dir, trials: st.trials.length, resumed });

  let budgetNote: string | undefined;
  for (const plan of spec.trials) {
    const trial = st.trials[plan.index];
    if (trial.status === 'finished' || trial.status === 'pruned' || trial.status === 'failed') continue;
    if (control.stopRequested) break;
    const begun = st.trials.filter((t) => t.status !== 'pending').length;
    const stepsUsed = st.trials.reduce((n, t) => n + t.steps, 0);
    if (trial.status === 'pending') {
      if (spec.budget.trials !== undefined && begun >= spec.budget.trials) { budgetNote = `budget: ${spec.budget.trials} trials`; break; }
      if (spec.budget.steps !== undefined && stepsUsed >= spec.budget.steps) { budgetNote = `budget: ${spec.budget.steps} steps (used ${stepsUsed})`; break; }
      if (spec.budget.minutes !== undefined && elapsedSeconds() / 60 >= spec.budget.minutes) { budgetNote = `budget: ${spec.budget.minutes} minutes`; break; }
    }

    // An interrupted trial: finished after all (killed before the state was saved), resumable
    // from a checkpoint, or started again.
    let resumeDir: string | undefined;
    if (trial.status === 'running' && trial.runDir && existsSync(join(trial.runDir, 'run.json'))) {
      const rec = readRunRecord(trial.runDir);
      if (rec.status === 'finished') {
        const { end } = collect(trial);
        finishTrial(trial, end, st, undefined);
        save();
        emit({ type: 'trialEnded', time: now(), index: trial.index, status: trial.status, objective: trial.objective, reason: trial.reason });
        continue;
      }
      if (latestCheckpoint(trial.runDir)) resumeDir = trial.runDir;
    }
    if (!resumeDir) Object.assign(trial, { runId: undefined, runDir: undefined, curve: [], steps: 0, reason: undefined });
    else collect(trial);
    trial.status = 'running';
    trial.startedAt ??= now();
    save();
    emit({ type: 'trialStarted', time: now(), index: trial.index, params: trial.params, seed: trial.seed, runDir: resumeDir, resumed: !!resumeDir });

    // The experiment's stop reaches the trial at its next event (every step emits one).
    const trialControl = new TrainerControl();
    let pruneReason: string | undefined;
    const completed = st.trials.filter((t) => t.status === 'finished');
    const end = await train(plan.config, {
      resumeDir, control: trialControl, who: opts.who, gradWorker: opts.gradWorker,
      emit: (e) => {
        if (e.type === 'started') {
          trial.runId = e.runId;
          trial.runDir = e.runDir;
          trial.trainableParams = e.params.trainable;
          save();
        } else if (e.type === 'step') trial.steps = e.step;
        else if (e.type === 'eval' && e.step > 0) {
          trial.curve.push([e.step, e.valLoss]);
          pruneReason ??= shouldStop(st.stopping, trial.curve, e.step, completed);
          if (pruneReason) trialControl.stop();
        }
        if (control.stopRequested) trialControl.stop();
        emit({ type: 'trialEvent', index: trial.index, event: e });
      },
    });
    collect(trial);
    if (end.type === 'stopped' && !pruneReason) {
      // The user stopped the experiment: the trial resumes from its checkpoint next time.
      save();
      break;
    }
    finishTrial(trial, end, st, pruneReason);
    save();
    emit({ type: 'trialEnded', time: now(), index: trial.index, status: trial.status, objective: trial.objective, reason: trial.reason });
  }

  const rows = leaderboard(st);
  const pending = st.trials.some((t) => t.status === 'pending' || t.status === 'running');
  st.status = control.stopRequested ? 'stopped' : 'finished';
  st.budgetNote = pending && !control.stopRequested ? budgetNote : undefined;
  st.process = undefined;
  save();
  emit({ type: 'experimentEnded', time: now(), name: spec.name, status: st.status, leaderboard: rows, note: st.budgetNote });
  return st;
}

function finishTrial(trial: TrialState, end: EndEvent | undefined, st: ExperimentState, pruneReason: string | undefined): void {
  trial.endedAt = now();
  if (pruneReason) {
    trial.status = 'pruned';
    trial.reason = pruneReason;
  } else if (!end || end.type === 'failed') {
    trial.status = 'failed';
    trial.reason = end?.type === 'failed' ? end.reason : 'the run ended without an end event';
  } else {
    trial.status = 'finished';
    if (end.type === 'finished' && typeof end.bestValLoss === 'number') trial.bestValLoss = Math.min(trial.bestValLoss ?? Infinity, end.bestValLoss);
  }
  trial.objective = trial.status === 'finished' ? objectiveOf(trial, st.objective.metric) : undefined;
}
