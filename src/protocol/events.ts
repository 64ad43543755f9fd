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
}

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
  | FinishedEvent | StoppedEvent | FailedEvent | PausedEvent | EvalReportEvent;

export type EndEvent = FinishedEvent | StoppedEvent | FailedEvent;

/** Parent → trainer. */
export type TrainerCommand = { type: 'stop' } | { type: 'pause' } | { type: 'resume' };

const EVENT_TYPES = new Set(['started', 'step', 'eval', 'checkpoint', 'log', 'finished', 'stopped', 'failed', 'paused', 'resumed', 'evalReport']);

/** Validate at the boundary: anything that is not a known event is refused with a reason. */
export function parseTrainerEvent(value: unknown): TrainerEvent {
  if (!value || typeof value !== 'object') throw new Error('trainer event is not an object');
  const e = value as { type?: unknown; time?: unknown };
  if (typeof e.type !== 'string' || !EVENT_TYPES.has(e.type)) throw new Error(`unknown trainer event type ${JSON.stringify(e.type)}`);
  if (typeof e.time !== 'string') throw new Error(`trainer event "${e.type}" has no time`);
  const need = (k: string, t: string) => {
    if (typeof (value as Record<string, unknown>)[k] !== t) throw new Error(`trainer event "${e.type}" needs ${t} "${k}"`);
  };
  if (e.type === 'step') ['step', 'loss', 'lr'].forEach((k) => need(k, 'number'));
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
