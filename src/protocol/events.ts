// Messages between the trainer process and whoever runs it (the extension over IPC, a script
// reading `--jsonl`). Every event is one JSON object with a `type`; metrics.jsonl stores them.
import { RunConfig } from './config';
import { EvalReportEvent } from './eval';

export type { EvalReportEvent };

export interface TokenStats {
  examples: number;
  tokens: number;
  /** Tokens that carry loss (completion / assistant / all for plain text). */
  labelTokens: number;
  minLength: number;
  maxLength: number;
  meanLength: number;
  p50Length: number;
  p95Length: number;
  /** Examples cut to maxLength. */
  truncated: number;
}

export interface BackendInfo {
  name: string;
  skipped: { name: string; reason: string }[];
  versions: Record<string, string>;
  /** What ran, in words: "wasm + OpenBLAS 0.3.21 (1 thread)" (absent in older runs). */
  label?: string;
  /** Matrix products on the platform's BLAS (wasm and cpu backends), or why not. */
  blas?: { on: boolean; label?: string; library?: string; threads?: number; reason?: string };
}

/** The backend as people should read it: its label, else its name. */
export function backendLabel(b: BackendInfo): string {
  return b.label ?? b.name;
}

export interface MemoryInfo {
  rssMiB: number;
  heapMiB: number;
  numTensors: number;
  tensorMiB: number;
}

export interface StartedEvent {
  type: 'started';
  time: string;
  runId: string;
  runDir: string;
  config: RunConfig;
  backend: BackendInfo;
  params: { total: number; trainable: number; percent: number };
  train: TokenStats;
  validation?: TokenStats;
  totalSteps: number;
  stepsPerEpoch: number;
  resumedFrom?: number;
}

export interface StepEvent {
  type: 'step';
  time: string;
  step: number;
  epoch: number;
  loss: number;
  lr: number;
  gradNorm: number;
  tokensPerSecond: number;
  memory: MemoryInfo;
  // The x-axes and system panels of the Monitor. Absent in runs recorded before they existed:
  // readers must accept a step event without them.
  /** Tokens trained on since the run began, this step's included (continues across a resume). */
  tokensSeen?: number;
  /**
   * Seconds of training since the run began: counted from the `started` event, pauses and the
   * time between a kill and its resume left out (continues across a resume).
   */
  elapsedSeconds?: number;
  /** This step's own wall time, seconds (what tokensPerSecond divides by). */
  stepSeconds?: number;
  /**
   * The trainer process's CPU time (all its threads, gradient workers included) over the wall
   * time since the previous step event, in % of one core: above 100 when several cores work.
   */
  cpuPercent?: number;
}

/** Optional numbers of a step event (see StepEvent): finite and not negative when present. */
export const STEP_SYSTEM_FIELDS = ['tokensSeen', 'elapsedSeconds', 'stepSeconds', 'cpuPercent'] as const;

export interface EvalEvent {
  type: 'eval';
  time: string;
  step: number;
  valLoss: number;
  perplexity: number;
  tokenAccuracy: number;
  best: boolean;
}

export interface CheckpointEvent {
  type: 'checkpoint';
  time: string;
  step: number;
  path: string;
  best: boolean;
}

/**
 * A kept checkpoint judged by evaluation (training.selectCheckpoint "eval"): the prompt cases
 * and the forgetting probe run on the model as it is at this step.
 */
export interface CheckpointEvalEvent {
  type: 'checkpointEval';
  time: string;
  step: number;
  /** Share of prompt cases passed, 0..1. */
  accuracy: number;
  /** Cost-weighted share of failed cases, 0..1. */
  weightedError: number;
  /** Probe perplexity change against the base model, percent (absent without a probe). */
  forgettingPercent?: number;
  /** Over training.forgettingCeiling: ranked after every checkpoint under it. */
  overCeiling: boolean;
  /** This checkpoint is now the chosen one (copied to best/). */
  chosen: boolean;
}

/** One line for people: `checkpoint at step 130: accuracy 92.5%, forgetting +24.0% (chosen)`. */
export function checkpointEvalLine(e: CheckpointEvalEvent): string {
  const f = e.forgettingPercent;
  const forgetting = f === undefined ? '' : `, forgetting ${f >= 0 ? '+' : ''}${f.toFixed(1)}%${e.overCeiling ? ' (over the ceiling)' : ''}`;
  return `checkpoint at step ${e.step}: accuracy ${(100 * e.accuracy).toFixed(1)}%${forgetting}${e.chosen ? ' (chosen)' : ''}`;
}

export interface LogEvent {
  type: 'log';
  time: string;
  level: 'info' | 'warn' | 'error';
  message: string;
}

export interface FinishedEvent {
  type: 'finished';
  time: string;
  step: number;
  reason: 'max-steps' | 'epochs' | 'early-stopping';
  bestValLoss?: number;
}

export interface StoppedEvent {
  type: 'stopped';
  time: string;
  step: number;
}

export interface FailedEvent {
  type: 'failed';
  time: string;
  step: number;
  reason: string;
  /** The checkpoint a resume would start from, if any. */
  lastCheckpoint?: string;
}

export interface PausedEvent {
  type: 'paused' | 'resumed';
  time: string;
  step: number;
}

export type TrainerEvent =
  | StartedEvent | StepEvent | EvalEvent | CheckpointEvent | LogEvent
  | FinishedEvent | StoppedEvent | FailedEvent | PausedEvent | EvalReportEvent | CheckpointEvalEvent;

export type EndEvent = FinishedEvent | StoppedEvent | FailedEvent;

/** Parent → trainer. */
export type TrainerCommand = { type: 'stop' } | { type: 'pause' } | { type: 'resume' };

const EVENT_TYPES = new Set(['started', 'step', 'eval', 'checkpoint', 'log', 'finished', 'stopped', 'failed', 'paused', 'resumed', 'evalReport', 'checkpointEval']);

/** Validate at the boundary: anything that is not a known event is refused with a reason. */
export function parseTrainerEvent(value: unknown): TrainerEvent {
  if (!value || typeof value !== 'object') throw new Error('trainer event is not an object');
  const e = value as { type?: unknown; time?: unknown };
  if (typeof e.type !== 'string' || !EVENT_TYPES.has(e.type)) throw new Error(`unknown trainer event type ${JSON.stringify(e.type)}`);
  if (typeof e.time !== 'string') throw new Error(`trainer event "${e.type}" has no time`);
  const need = (k: string, t: string) => {
    if (typeof (value as Record<string, unknown>)[k] !== t) throw new Error(`trainer event "${e.type}" needs ${t} "${k}"`);
  };
  if (e.type === 'step') {
    ['step', 'loss', 'lr'].forEach((k) => need(k, 'number'));
    for (const k of STEP_SYSTEM_FIELDS) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && v >= 0)) {
        throw new Error(`trainer event "step" has "${k}" ${JSON.stringify(v)}: a number not below 0, or absent`);
      }
    }
  }
  if (e.type === 'checkpointEval') {
    ['step', 'accuracy', 'weightedError'].forEach((k) => need(k, 'number'));
    ['overCeiling', 'chosen'].forEach((k) => need(k, 'boolean'));
  }
  if (e.type === 'eval') ['step', 'valLoss'].forEach((k) => need(k, 'number'));
  if (e.type === 'failed') need('reason', 'string');
  if (e.type === 'log') need('message', 'string');
  if (e.type === 'evalReport') ['path', 'verdict'].forEach((k) => need(k, 'string'));
  return value as TrainerEvent;
}

export function isEndEvent(e: TrainerEvent): e is EndEvent {
  return e.type === 'finished' || e.type === 'stopped' || e.type === 'failed';
}

export type RunStatus = 'running' | 'paused' | 'finished' | 'stopped' | 'failed';
