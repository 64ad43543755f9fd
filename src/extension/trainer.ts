// Training runs as separate Node processes (`adapt-lab train CONFIG`, forked with IPC). The
// manager starts them, relays their events (output channel, Runs, Monitor, status bar) and
// makes sure a trainer that dies without saying so leaves a failed run, not a "running" one.
import { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import * as vscode from 'vscode';
import { RunConfig } from '../protocol/config';
import { backendLabel, checkpointEvalLine, isEndEvent, parseTrainerEvent, RunStatus, TrainerCommand, TrainerEvent } from '../protocol/events';
import { ensureRunsDir, reconcileRun, readRunRecord, writeJsonAtomic } from '../engine/core/runs/store';
import { cliErrorMessage, forkCli, Runtime } from './cli';
import { assertTrusted } from './trust';

export type SessionState = 'starting' | RunStatus;

export interface SessionEnd {
  status: 'finished' | 'stopped' | 'failed';
  /** Set for failures: the trainer's reason, or its last error lines. */
  reason?: string;
  /** The trainer ended without an end event (crashed, killed). */
  unexpected: boolean;
  /** No run folder was made (the config, model or data was refused up front). */
  noRun: boolean;
}

/** One trainer process. */
export class RunSession {
  state: SessionState = 'starting';
  runDir?: string;
  runId?: string;
  name: string;
  step = 0;
  totalSteps?: number;
  loss?: number;
  valLoss?: number;
  /** The backend in words, from the started event ("wasm + OpenBLAS 0.3.21 (1 thread)"). */
  backend?: string;
  stderr = '';
  readonly ended: Promise<SessionEnd>;
  private resolveEnded!: (e: SessionEnd) => void;
  /** Resolves with the run folder once the trainer reports "started". */
  readonly started: Promise<string>;
  private resolveStarted!: (dir: string) => void;
  private rejectStarted!: (e: Error) => void;

  constructor(readonly child: ChildProcess, readonly config: RunConfig | undefined, readonly configPath: string | undefined, readonly resumeDir?: string) {
    this.name = config?.name ?? (resumeDir ? basename(resumeDir) : 'run');
    this.ended = new Promise((r) => (this.resolveEnded = r));
    this.started = new Promise((res, rej) => {
      this.resolveStarted = res;
      this.rejectStarted = rej;
    });
    this.started.catch(() => undefined);
    if (resumeDir) this.runDir = resumeDir;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get live(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null && this.state !== 'finished' && this.state !== 'stopped' && this.state !== 'failed';
  }

  /** Sends stop / pause / resume over IPC; false when the trainer is gone. */
  send(type: TrainerCommand['type']): boolean {
    if (!this.child.connected) return false;
    this.child.send({ type } satisfies TrainerCommand);
    return true;
  }

  /** @internal */ markStarted(dir: string): void {
    this.resolveStarted(dir);
  }
  /** @internal */ markEnded(e: SessionEnd): void {
    this.rejectStarted(new Error(e.reason ?? `the run ended (${e.status}) before it started`));
    this.resolveEnded(e);
  }
}

export interface SessionEvent {
  session: RunSession;
  event: TrainerEvent;
}

export class TrainerManager implements vscode.Disposable {
  private readonly sessions = new Set<RunSession>();
  private readonly eventEmitter = new vscode.EventEmitter<SessionEvent>();
  private readonly changeEmitter = new vscode.EventEmitter<RunSession>();
  private readonly endEmitter = new vscode.EventEmitter<{ session: RunSession; end: SessionEnd }>();
  /** Every trainer event, as it arrives. */
  readonly onEvent = this.eventEmitter.event;
  /** A session started, changed state or ended. */
  readonly onDidChange = this.changeEmitter.event;
  readonly onDidEnd = this.endEmitter.event;

  constructor(private readonly rt: () => Runtime, private readonly log: vscode.OutputChannel) {}

  get active(): RunSession[] {
    return [...this.sessions].filter((s) => s.live);
  }

  /** The live session training `runDir`, if this window started it. */
  sessionFor(runDir: string): RunSession | undefined {
    return [...this.sessions].find((s) => s.runDir === runDir && s.live);
  }

  /**
   * Writes the (validated, absolute-path) config to `<runsDir>/.pending/<time>.json` and starts
   * `adapt-lab train` on it. The pending file goes once the trainer has read it.
   */
  start(config: RunConfig, torchrun?: { nproc: number }): RunSession {
    assertTrusted('Training'); // before anything is written into the workspace
    ensureRunsDir(config.runsDir); // a runsDir that is a file: a clear error, not a raw ENOTDIR
    const pendingDir = join(config.runsDir, '.pending');
    mkdirSync(pendingDir, { recursive: true });
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const configPath = join(pendingDir, `${stamp}-${process.pid}-${Math.random().toString(36).slice(2, 8)}.json`);
    writeJsonAtomic(configPath, config);
    // torchrun: `adapt-lab launch` writes the launch folder into the run and runs PyTorch there.
    const args = torchrun ? ['launch', configPath, '--torchrun', '--nproc', String(torchrun.nproc)] : ['train', configPath];
    return this.launch(args, config, configPath);
  }

  /** `adapt-lab train --resume RUN_DIR`: continues from the run's latest checkpoint. */
  resume(runDir: string): RunSession {
    const rec = readRunRecord(runDir);
    // A torchrun run (it has a launch folder) resumes on torchrun, with the processes it had.
    const torchrun = existsSync(join(runDir, 'launch', 'launch.json'));
    const session = this.launch(torchrun ? ['launch', '--resume', runDir, '--torchrun'] : ['train', '--resume', runDir], rec.config, undefined, runDir);
    session.name = rec.name;
    return session;
  }

  private launch(args: string[], config: RunConfig | undefined, configPath: string | undefined, resumeDir?: string): RunSession {
    const rt = this.rt();
    if (rt.backend && rt.backend !== 'auto' && !resumeDir) args.push('--backend', rt.backend);
    let child: ChildProcess;
    try {
      child = forkCli(rt, args, { cwd: config ? undefined : resumeDir });
    } catch (e) {
      if (configPath) rmSync(configPath, { force: true });
      throw new Error(`cannot start the trainer with ${rt.execPath}: ${(e as Error).message}`);
    }
    const s = new RunSession(child, config, configPath, resumeDir);
    this.sessions.add(s);
    this.log.appendLine(`[${s.name}] ${resumeDir ? `resuming ${resumeDir}` : `starting: ${config?.model}`} (node ${rt.execPath}, pid ${child.pid})`);
    let gotEnd: TrainerEvent | undefined;
    const dropPending = () => {
      if (s.configPath) rmSync(s.configPath, { force: true });
    };
    const tail = (stream: 'stdout' | 'stderr') => {
      let rest = '';
      return (chunk: Buffer) => {
        const text = chunk.toString('utf8');
        if (stream === 'stderr') {
          s.stderr = (s.stderr + text).slice(-20000);
          // `adapt-lab: <message>` is the CLI's last word before exiting on an error; a trainer
          // that fails before starting would otherwise stay alive on its open IPC channel.
          if (s.state === 'starting' && /^adapt-lab: /m.test(text)) {
            setTimeout(() => {
              if (child.connected && s.state === 'starting') child.disconnect();
            }, 300);
          }
        }
        const parts = (rest + text).split('\n');
        rest = parts.pop() ?? '';
        for (const l of parts) if (l.trim()) this.log.appendLine(`[${s.name}] ${l}`);
      };
    };
    child.stdout?.on('data', tail('stdout'));
    child.stderr?.on('data', tail('stderr'));
    child.on('message', (m) => {
      let e: TrainerEvent;
      try {
        e = parseTrainerEvent(m);
      } catch (err) {
        this.log.appendLine(`[${s.name}] ignored a bad trainer message: ${(err as Error).message}`);
        return;
      }
      this.handle(s, e);
      if (isEndEvent(e)) gotEnd = e;
      if (e.type === 'started') dropPending();
    });
    child.on('error', (err) => this.log.appendLine(`[${s.name}] ${err.message}`));
    // 'close' (stdio and IPC drained) normally comes right after 'exit'; it never comes when the
    // parent closed the IPC channel itself (see above), so 'exit' plus a grace period also ends it.
    let over = false;
    const onEnd = (code: number | null, signal: NodeJS.Signals | null) => {
      if (over) return;
      over = true;
      dropPending();
      let end: SessionEnd;
      if (gotEnd && isEndEvent(gotEnd)) {
        end = { status: gotEnd.type, reason: gotEnd.type === 'failed' ? gotEnd.reason : undefined, unexpected: false, noRun: false };
      } else if (s.runDir) {
        // Died mid-run: the run store marks the run failed once its pid is gone.
        let reason = cliErrorMessage(s.stderr, code, signal);
        try {
          const rec = reconcileRun(s.runDir);
          if (rec.status === 'failed' && rec.failure) reason = `${rec.failure}${signal ? ` (${signal})` : code ? ` (exit status ${code})` : ''}`;
        } catch (err) {
          reason = (err as Error).message;
        }
        end = { status: 'failed', reason, unexpected: true, noRun: false };
      } else {
        end = { status: 'failed', reason: cliErrorMessage(s.stderr, code, signal), unexpected: code !== 1 || !!signal, noRun: true };
      }
      s.state = end.status;
      this.log.appendLine(`[${s.name}] trainer exited (${signal ?? `status ${code}`}): ${end.status}${end.reason ? `: ${end.reason.split('\n')[0]}` : ''}`);
      s.markEnded(end);
      this.endEmitter.fire({ session: s, end });
      this.changeEmitter.fire(s);
      this.sessions.delete(s);
    };
    child.on('close', onEnd);
    child.on('exit', (code, signal) => setTimeout(() => onEnd(code, signal), 1000));
    this.changeEmitter.fire(s);
    return s;
  }

  private handle(s: RunSession, e: TrainerEvent): void {
    switch (e.type) {
      case 'started':
        s.runDir = e.runDir;
        s.runId = e.runId;
        s.name = e.config.name ?? e.runId;
        s.totalSteps = e.totalSteps;
        s.step = e.resumedFrom ?? 0;
        s.state = 'running';
        s.backend = backendLabel(e.backend);
        this.log.appendLine(`[${s.name}] started ${e.runDir} on ${s.backend}: ${e.params.trainable.toLocaleString('en-US')} trainable of ${e.params.total.toLocaleString('en-US')} (${e.params.percent.toFixed(2)}%), ${e.totalSteps} steps`);
        for (const sk of e.backend.skipped) this.log.appendLine(`[${s.name}]   backend ${sk.name} skipped: ${sk.reason}`);
        if (e.backend.blas && !e.backend.blas.on) this.log.appendLine(`[${s.name}]   matrix products on the backend's own kernels: ${e.backend.blas.reason}`);
        s.markStarted(e.runDir);
        break;
      case 'step':
        s.step = e.step;
        s.loss = e.loss;
        break;
      case 'eval':
        s.valLoss = e.valLoss;
        this.log.appendLine(`[${s.name}] step ${e.step}: validation loss ${e.valLoss.toFixed(4)}${e.best ? ' (best)' : ''}`);
        break;
      case 'log':
        this.log.appendLine(`[${s.name}] ${e.level === 'info' ? '' : `${e.level}: `}${e.message}`);
        break;
      case 'checkpoint':
        this.log.appendLine(`[${s.name}] checkpoint at step ${e.step}${e.best ? ' (best)' : ''}`);
        break;
      case 'checkpointEval':
        this.log.appendLine(`[${s.name}] ${checkpointEvalLine(e)}`);
        break;
      case 'paused':
      case 'resumed':
        s.state = e.type === 'paused' ? 'paused' : 'running';
        this.log.appendLine(`[${s.name}] ${e.type} at step ${e.step}`);
        break;
      case 'finished':
      case 'stopped':
      case 'failed':
        s.state = e.type;
        this.log.appendLine(`[${s.name}] ${e.type} at step ${e.step}${e.type === 'failed' ? `: ${e.reason}` : e.type === 'finished' ? ` (${e.reason})` : ''}`);
        break;
    }
    this.eventEmitter.fire({ session: s, event: e });
    if (e.type !== 'step' && e.type !== 'log') this.changeEmitter.fire(s);
  }

  dispose(): void {
    // Trainers outlive nothing: closing the window stops them (with a checkpoint).
    for (const s of this.sessions) if (s.live && !s.send('stop')) s.child.kill('SIGTERM');
    this.eventEmitter.dispose();
    this.changeEmitter.dispose();
    this.endEmitter.dispose();
  }
}
