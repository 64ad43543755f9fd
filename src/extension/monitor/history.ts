// What the Monitor shows, kept on the host side: the run on display and its whole event
// history. The webview is not retained while hidden, so each time it (re)loads it is sent
// this history again. No `vscode` import: tested under plain mocha.
import { basename } from 'node:path';
import { backendLabel, RunStatus, TrainerEvent } from '../../protocol/events';
import { MonitorHostMessage, MonitorRunInfo } from '../../protocol/webview';
import { isRunTrainerAlive, readMetricsDetailed, reconcileRun } from '../../engine/core/runs/store';

/** Events of live runs that are not on display, kept briefly in case they are not on disk yet. */
const RECENT_PER_RUN = 256;
const RECENT_RUNS = 8;

function eventKey(e: TrainerEvent): string {
  return `${e.type}|${e.time}|${'step' in e ? e.step : ''}`;
}

function statusAfter(status: RunStatus, e: TrainerEvent): RunStatus {
  switch (e.type) {
    case 'started':
    case 'resumed':
      return 'running';
    case 'paused':
      return 'paused';
    case 'finished':
    case 'stopped':
    case 'failed':
      return e.type;
    default:
      return status;
  }
}

export interface LoadedRun {
  info: MonitorRunInfo;
  events: TrainerEvent[];
  problem?: string;
}

/** Reads run.json and metrics.jsonl of `runDir`; what cannot be read becomes `problem`, not an exception. */
export function loadRun(runDir: string): LoadedRun {
  const problems: string[] = [];
  let info: MonitorRunInfo = { runDir, id: basename(runDir), name: basename(runDir), status: 'running' };
  let pidGone = false;
  try {
    // Looking at a run whose trainer died marks it failed (and audits that), as listRuns does.
    const r = reconcileRun(runDir);
    info = {
      runDir, id: r.id, name: r.name || r.id, status: r.status, method: r.method, backend: r.backend && backendLabel(r.backend),
    };
    pidGone = (r.status === 'running' || r.status === 'paused') && !isRunTrainerAlive(r);
  } catch (e) {
    problems.push((e as Error).message);
  }
  let events: TrainerEvent[] = [];
  try {
    const m = readMetricsDetailed(runDir);
    events = m.events;
    if (m.problems.length) {
      const p = m.problems[0];
      problems.push(`metrics.jsonl line ${p.line}: ${p.message}${m.problems.length > 1 ? ` (and ${m.problems.length - 1} more)` : ''}`);
    }
  } catch (e) {
    problems.push((e as Error).message);
  }
  for (const e of events) {
    info.status = statusAfter(info.status, e);
    if (e.type === 'started') {
      info.totalSteps = e.totalSteps;
      info.backend = backendLabel(e.backend);
    }
  }
  if (pidGone && (info.status === 'running' || info.status === 'paused')) {
    info.status = 'failed';
    problems.push('the trainer process is no longer running');
  }
  return { info, events, ...(problems.length ? { problem: problems.join('; ') } : {}) };
}

export class MonitorHistory {
  private current?: LoadedRun;
  private keys = new Set<string>();
  private recent = new Map<string, TrainerEvent[]>();

  get runDir(): string | undefined {
    return this.current?.info.runDir;
  }

  get status(): RunStatus | undefined {
    return this.current?.info.status;
  }

  /** Loads `runDir` from disk (plus any of its live events not written there yet). */
  show(runDir: string, load: (dir: string) => LoadedRun = loadRun): void {
    const run = load(runDir);
    this.keys = new Set(run.events.map(eventKey));
    for (const e of this.recent.get(runDir) ?? []) this.append(run, e);
    this.current = run;
  }

  /** Records a live event; true when it belongs to the run on display and is new. */
  push(runDir: string, e: TrainerEvent): boolean {
    let buf = this.recent.get(runDir);
    if (!buf) {
      if (this.recent.size >= RECENT_RUNS) this.recent.delete(this.recent.keys().next().value as string);
      buf = [];
      this.recent.set(runDir, buf);
    }
    buf.push(e);
    if (buf.length > RECENT_PER_RUN) buf.splice(0, buf.length - RECENT_PER_RUN);
    return this.current?.info.runDir === runDir && this.append(this.current, e);
  }

  private append(run: LoadedRun, e: TrainerEvent): boolean {
    const k = eventKey(e);
    if (this.keys.has(k)) return false;
    this.keys.add(k);
    run.events.push(e);
    run.info.status = statusAfter(run.info.status, e);
    if (e.type === 'started') {
      run.info.totalSteps = e.totalSteps;
      run.info.backend = backendLabel(e.backend);
    }
    return true;
  }

  resetMessage(): MonitorHostMessage {
    const c = this.current;
    if (!c) return { type: 'reset', run: null, events: [] };
    return { type: 'reset', run: { ...c.info }, events: c.events, ...(c.problem ? { problem: c.problem } : {}) };
  }
}
