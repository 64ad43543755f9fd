// Messages between the extension host and its webviews (Monitor, Compare Runs). Both sides
// validate what they receive with the parse* functions below: a webview is a separate
// program, and a message that does not fit is refused with a reason instead of half-handled.
import { parseTrainerEvent, RunStatus, TrainerEvent } from './events';

// ---------------------------------------------------------------------------------- Monitor

export type MonitorCommand = 'stop' | 'pause' | 'resume';

/** What the Monitor shows about a run besides its events (from run.json). */
export interface MonitorRunInfo {
  runDir: string;
  id: string;
  name: string;
  status: RunStatus;
  method?: string;
  backend?: string;
  totalSteps?: number;
}

/** Host → Monitor. */
export type MonitorHostMessage =
  /** Replace everything shown: a run (or none) and its whole history so far. */
  | { type: 'reset'; run: MonitorRunInfo | null; events: TrainerEvent[]; problem?: string }
  /** New events of the run being shown, in order. */
  | { type: 'events'; runDir: string; events: TrainerEvent[] };

/** Monitor → host. */
export type MonitorWebviewMessage =
  /** The page has loaded (first load, or again after being hidden) and wants a `reset`. */
  | { type: 'ready' }
  /** A button was pressed for the run the page shows. */
  | { type: 'command'; command: MonitorCommand; runDir: string };

// ---------------------------------------------------------------------------------- Compare

/** One model's side of an evaluation report, as Compare shows it (see EvalSection in eval.ts). */
export interface EvalSide {
  /** 0..1. */
  accuracy?: number;
  weightedError?: number;
  p95PerTokenMs?: number;
  p95FirstTokenMs?: number;
  tokensPerSecond?: number;
  peakMemoryMiB?: number;
  /** Mean answer agreement, 0..1. */
  stability?: number;
  perplexity?: number;
}

/** The parts of a run's eval.json that Compare shows, read defensively (the file may be older or newer). */
export interface EvalSummary {
  verdict?: string;
  base?: EvalSide;
  adapted?: EvalSide;
  /** Probe perplexity change, adapted vs base, in percent. */
  forgettingChangePercent?: number;
  regressions?: number;
  improvements?: number;
  cases?: number;
}

export const EVAL_SIDE_KEYS: readonly (keyof EvalSide)[] = [
  'accuracy', 'weightedError', 'p95PerTokenMs', 'p95FirstTokenMs', 'tokensPerSecond', 'peakMemoryMiB', 'stability', 'perplexity',
];

export interface CompareRun {
  runDir: string;
  id: string;
  name: string;
  status: string;
  method: string;
  backend?: string;
  trainablePercent?: number;
  bestValLoss?: number;
  /** [step, loss] pairs. */
  train: [number, number][];
  /** [step, validation loss] pairs. */
  val: [number, number][];
  /** Flattened resolved config (`training.learningRate` → "0.0002"). */
  config: Record<string, string>;
  eval?: EvalSummary;
  /** Why part of the run could not be read (shown, never hidden). */
  problem?: string;
}

/** Host → Compare. */
export type CompareHostMessage = { type: 'compare'; runs: CompareRun[] };

/** Compare → host. */
export type CompareWebviewMessage = { type: 'ready' };

// ------------------------------------------------------------------------------- validation

type Obj = Record<string, unknown>;

function obj(v: unknown, what: string): Obj {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${what} is not an object`);
  return v as Obj;
}

function str(o: Obj, k: string, what: string, optional = false): void {
  if (optional && o[k] === undefined) return;
  if (typeof o[k] !== 'string') throw new Error(`${what} needs string "${k}"`);
}

function num(o: Obj, k: string, what: string, optional = false): void {
  if (optional && o[k] === undefined) return;
  if (typeof o[k] !== 'number') throw new Error(`${what} needs number "${k}"`);
}

function arr(o: Obj, k: string, what: string): unknown[] {
  if (!Array.isArray(o[k])) throw new Error(`${what} needs array "${k}"`);
  return o[k] as unknown[];
}

const COMMANDS = new Set<string>(['stop', 'pause', 'resume']);
const STATUSES = new Set<string>(['running', 'paused', 'finished', 'stopped', 'failed']);

function events(o: Obj, what: string): void {
  arr(o, 'events', what).forEach((e, i) => {
    try {
      parseTrainerEvent(e);
    } catch (err) {
      throw new Error(`${what}: event ${i}: ${(err as Error).message}`);
    }
  });
}

export function parseMonitorHostMessage(value: unknown): MonitorHostMessage {
  const m = obj(value, 'monitor message');
  if (m.type === 'reset') {
    const what = 'monitor "reset"';
    if (m.run !== null) {
      const r = obj(m.run, `${what} run`);
      ['runDir', 'id', 'name'].forEach((k) => str(r, k, `${what} run`));
      if (typeof r.status !== 'string' || !STATUSES.has(r.status)) throw new Error(`${what} run has unknown status ${JSON.stringify(r.status)}`);
      str(r, 'method', `${what} run`, true);
      str(r, 'backend', `${what} run`, true);
      num(r, 'totalSteps', `${what} run`, true);
    }
    str(m, 'problem', what, true);
    events(m, what);
    return m as MonitorHostMessage;
  }
  if (m.type === 'events') {
    str(m, 'runDir', 'monitor "events"');
    events(m, 'monitor "events"');
    return m as MonitorHostMessage;
  }
  throw new Error(`unknown monitor message type ${JSON.stringify(m.type)}`);
}

export function parseMonitorWebviewMessage(value: unknown): MonitorWebviewMessage {
  const m = obj(value, 'monitor webview message');
  if (m.type === 'ready') return { type: 'ready' };
  if (m.type === 'command') {
    if (typeof m.command !== 'string' || !COMMANDS.has(m.command)) throw new Error(`unknown monitor command ${JSON.stringify(m.command)}`);
    str(m, 'runDir', 'monitor "command"');
    return { type: 'command', command: m.command as MonitorCommand, runDir: m.runDir as string };
  }
  throw new Error(`unknown monitor webview message type ${JSON.stringify(m.type)}`);
}

function pairs(o: Obj, k: string, what: string): void {
  arr(o, k, what).forEach((p, i) => {
    if (!Array.isArray(p) || p.length !== 2 || typeof p[0] !== 'number' || typeof p[1] !== 'number') {
      throw new Error(`${what}: "${k}"[${i}] is not a [step, value] pair`);
    }
  });
}

function evalSide(v: unknown, what: string): void {
  if (v === undefined) return;
  const s = obj(v, what);
  EVAL_SIDE_KEYS.forEach((k) => num(s, k, what, true));
}

export function parseCompareHostMessage(value: unknown): CompareHostMessage {
  const m = obj(value, 'compare message');
  if (m.type !== 'compare') throw new Error(`unknown compare message type ${JSON.stringify(m.type)}`);
  arr(m, 'runs', 'compare message').forEach((v, i) => {
    const what = `compare run ${i}`;
    const r = obj(v, what);
    ['runDir', 'id', 'name', 'status', 'method'].forEach((k) => str(r, k, what));
    str(r, 'backend', what, true);
    str(r, 'problem', what, true);
    num(r, 'trainablePercent', what, true);
    num(r, 'bestValLoss', what, true);
    pairs(r, 'train', what);
    pairs(r, 'val', what);
    const c = obj(r.config, `${what} config`);
    for (const k of Object.keys(c)) str(c, k, `${what} config`);
    if (r.eval !== undefined) {
      const e = obj(r.eval, `${what} eval`);
      str(e, 'verdict', `${what} eval`, true);
      ['forgettingChangePercent', 'regressions', 'improvements', 'cases'].forEach((k) => num(e, k, `${what} eval`, true));
      evalSide(e.base, `${what} eval.base`);
      evalSide(e.adapted, `${what} eval.adapted`);
    }
  });
  return m as CompareHostMessage;
}

export function parseCompareWebviewMessage(value: unknown): CompareWebviewMessage {
  const m = obj(value, 'compare webview message');
  if (m.type === 'ready') return { type: 'ready' };
  throw new Error(`unknown compare webview message type ${JSON.stringify(m.type)}`);
}
