// Experiments run as `adapt-lab experiment FILE --jsonl` child processes (forked with IPC, as
// `train` is: "stop" goes over IPC and a closed window stops them with the trial checkpointed).
// The manager reads their JSON Lines: which experiment folder, which trial is training and at
// what step; everything else is read from state.json, which the process keeps.
import { ChildProcess } from 'node:child_process';
import * as vscode from 'vscode';
import { cliErrorMessage, forkCli, Runtime } from '../cli';
import { TrialProgress } from './view';
import { parseExperimentLine } from './lines';

export interface ExperimentEnd {
  status: 'finished' | 'stopped' | 'failed';
  reason?: string;
}

export class ExperimentSession {
  /** The experiment's folder (<runsDir>/experiments/<name>), once the process has said it. */
  dir?: string;
  name?: string;
  stderr = '';
  readonly progress = new Map<number, TrialProgress>();
  readonly ended: Promise<ExperimentEnd>;
  /** Resolves with the folder once the experiment started (rejects when it could not). */
  readonly started: Promise<string>;
  /** @internal */ resolveEnded!: (e: ExperimentEnd) => void;
  /** @internal */ resolveStarted!: (dir: string) => void;
  /** @internal */ rejectStarted!: (e: Error) => void;
  endedWith?: ExperimentEnd;
  /** The status of the experimentEnded event (the process still exits after it). */
  reported?: 'running' | 'finished' | 'stopped' | 'failed';

  constructor(readonly child: ChildProcess, readonly file: string) {
    this.ended = new Promise((r) => (this.resolveEnded = r));
    this.started = new Promise((res, rej) => {
      this.resolveStarted = res;
      this.rejectStarted = rej;
    });
    this.started.catch(() => undefined);
  }

  get live(): boolean {
    return !this.endedWith;
  }

  /** Stops after the running trial's current step (with a checkpoint); false when the process is gone. */
  stop(): boolean {
    if (!this.child.connected) return false;
    this.child.send({ type: 'stop' });
    return true;
  }
}

export class ExperimentManager implements vscode.Disposable {
  private readonly sessions = new Set<ExperimentSession>();
  private readonly changeEmitter = new vscode.EventEmitter<ExperimentSession>();
  /** Anything about a session changed: a trial started, a step, an end. */
  readonly onDidChange = this.changeEmitter.event;

  constructor(private readonly rt: () => Runtime, private readonly log: vscode.OutputChannel) {}

  get active(): ExperimentSession[] {
    return [...this.sessions].filter((s) => s.live);
  }

  sessionFor(dir: string): ExperimentSession | undefined {
    return this.active.find((s) => s.dir === dir);
  }

  sessionForFile(file: string): ExperimentSession | undefined {
    return this.active.find((s) => s.file === file);
  }

  /** Forks `adapt-lab experiment FILE --jsonl --runs-dir RUNS_DIR` (refused in Restricted Mode by forkCli). */
  start(file: string, runsDir: string): ExperimentSession {
    const rt = this.rt();
    const args = ['experiment', file, '--jsonl', '--runs-dir', runsDir];
    if (rt.backend && rt.backend !== 'auto') args.push('--backend', rt.backend);
    let child: ChildProcess;
    try {
      child = forkCli(rt, args);
    } catch (e) {
      if ((e as Error).name === 'RestrictedModeError' || /Restricted Mode/.test((e as Error).message)) throw e;
      throw new Error(`cannot start the experiment with ${rt.execPath}: ${(e as Error).message}`);
    }
    const s = new ExperimentSession(child, file);
    this.sessions.add(s);
    const tag = () => `[experiment ${s.name ?? file}]`;
    this.log.appendLine(`${tag()} adapt-lab ${args.join(' ')} (pid ${child.pid})`);
    let rest = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      const parts = (rest + chunk.toString('utf8')).split('\n');
      rest = parts.pop() ?? '';
      for (const text of parts) if (text.trim()) this.handle(s, text, tag);
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      s.stderr = (s.stderr + text).slice(-20000);
      for (const l of text.split('\n')) if (l.trim()) this.log.appendLine(`${tag()} ${l}`);
    });
    child.on('error', (err) => this.log.appendLine(`${tag()} ${err.message}`));
    child.on('close', (code, signal) => {
      if (s.endedWith) return;
      const end: ExperimentEnd = (code === 0
        ? { status: 'finished' }
        : { status: 'failed', reason: cliErrorMessage(s.stderr, code, signal) });
      this.finish(s, end, tag);
    });
    this.changeEmitter.fire(s);
    return s;
  }

  private handle(s: ExperimentSession, text: string, tag: () => string): void {
    const e = parseExperimentLine(text);
    if (!e) {
      this.log.appendLine(`${tag()} ${text}`);
      return;
    }
    switch (e.type) {
      case 'experimentStarted':
        s.dir = e.dir;
        s.name = e.name;
        this.log.appendLine(`${tag()} ${e.trials} trials${e.resumed ? ' (continuing)' : ''}; state in ${e.dir}`);
        s.resolveStarted(e.dir);
        break;
      case 'trialStarted':
        s.progress.set(e.index, { step: 0 });
        this.log.appendLine(`${tag()} trial ${e.index + 1} (seed ${e.seed})${e.resumed ? ' resuming' : ''}: ${JSON.stringify(e.params)}`);
        break;
      case 'trialEnded':
        s.progress.delete(e.index);
        this.log.appendLine(`${tag()} trial ${e.index + 1} ${e.status}${e.objective !== undefined ? ` (objective ${e.objective.toFixed(4)})` : ''}${e.reason ? `: ${e.reason}` : ''}`);
        break;
      case 'trialEvent': {
        const p = s.progress.get(e.index) ?? { step: 0 };
        if (e.event.type === 'started') p.totalSteps = e.event.totalSteps;
        else if (e.event.type === 'step') p.step = e.event.step;
        else if (e.event.type === 'log' && e.event.level !== 'info') this.log.appendLine(`${tag()} trial ${e.index + 1} ${e.event.level}: ${e.event.message}`);
        s.progress.set(e.index, p);
        break;
      }
      case 'experimentEnded':
        this.log.appendLine(`${tag()} ${e.status}${e.note ? ` (${e.note})` : ''}`);
        s.progress.clear();
        s.reported = e.status;
        break;
    }
    this.changeEmitter.fire(s);
  }

  private finish(s: ExperimentSession, end: ExperimentEnd, tag: () => string): void {
    if (end.status === 'finished' && s.reported === 'stopped') end = { status: 'stopped' };
    s.endedWith = end;
    this.log.appendLine(`${tag()} process ended: ${end.status}${end.reason ? `: ${end.reason.split('\n')[0]}` : ''}`);
    s.rejectStarted(new Error(end.reason ?? `the experiment ended (${end.status}) before it started`));
    s.resolveEnded(end);
    this.sessions.delete(s);
    this.changeEmitter.fire(s);
  }

  dispose(): void {
    // Closing the window stops experiments (the running trial checkpoints and resumes next time).
    for (const s of this.sessions) if (!s.stop()) s.child.kill('SIGTERM');
    this.changeEmitter.dispose();
  }
}
