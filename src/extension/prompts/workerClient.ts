// The extension's side of the inference worker (src/trainer/worker.ts): one long-lived
// `adapt-lab worker` process, forked on the first request and reused (it keeps the last two
// models loaded), forked again on the next request after it dies. A request that is pending
// when the process dies fails with a message saying so. No vscode import: the benchmark forks
// the worker through this too.
import { ChildProcess } from 'node:child_process';
import { GenerateDone, GenerateRequest, parseWorkerResponse, WorkerRequest, WorkerResponse } from '../../protocol/worker';

export type GenerateParams = Omit<GenerateRequest, 'type' | 'id'>;

export interface GenerateOptions {
  /** Each streamed piece of text, in order. */
  onToken?: (text: string) => void;
  /** Aborting sends `cancel`; the promise then rejects with a CancelledError. */
  signal?: AbortSignal;
}

export class CancelledError extends Error {
  constructor() {
    super('cancelled');
    this.name = 'CancelledError';
  }
}

export interface WorkerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Requests that were waiting for an answer (they have been rejected). */
  pending: number;
  /** The last lines the process wrote on stderr. */
  stderr: string;
  /** True when dispose() ended it. */
  expected: boolean;
}

interface Pending {
  resolve: (d: GenerateDone) => void;
  reject: (e: Error) => void;
  onToken?: (text: string) => void;
}

export class WorkerClient {
  private child?: ChildProcess;
  private ready?: Promise<void>;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private stderrTail = '';
  private disposed = false;
  private starts = 0;
  /** The backend the running worker chose (from its ready message). */
  backend?: string;

  /**
   * `spawn` forks `adapt-lab worker` with an IPC channel (and stderr piped, if its output is
   * wanted in `log`); `onExit` hears about every exit that was not asked for.
   */
  constructor(
    private readonly spawn: () => ChildProcess,
    private readonly hooks: { log?: (line: string) => void; onExit?: (e: WorkerExit) => void } = {},
  ) {}

  /** The running worker's process id, if one is running. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** How many worker processes have been started so far. */
  get startCount(): number {
    return this.starts;
  }

  get busy(): boolean {
    return this.pending.size > 0;
  }

  async generate(params: GenerateParams, opts: GenerateOptions = {}): Promise<GenerateDone> {
    if (this.disposed) throw new Error('the inference worker has been shut down');
    if (opts.signal?.aborted) throw new CancelledError();
    const child = this.ensure();
    const id = this.nextId++;
    const done = new Promise<GenerateDone>((resolve, reject) => this.pending.set(id, { resolve, reject, onToken: opts.onToken }));
    done.catch(() => undefined); // settled through `await done` below, or superseded by a failed start
    let sent = false;
    const onAbort = () => {
      const p = this.pending.get(id);
      if (!p) return;
      this.pending.delete(id);
      if (sent) this.send(child, { type: 'cancel', id });
      p.reject(new CancelledError());
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await this.ready;
      if (this.pending.has(id)) {
        this.send(child, { type: 'generate', id, ...params });
        sent = true;
      }
      return await done;
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Forks the worker if none is running; `ready` settles when it has chosen its backend. */
  private ensure(): ChildProcess {
    if (this.child) return this.child;
    this.starts++;
    this.stderrTail = '';
    const child = this.spawn();
    this.child = child;
    let markReady!: () => void;
    let failReady!: (e: Error) => void;
    this.ready = new Promise<void>((res, rej) => {
      markReady = res;
      failReady = rej;
    });
    this.ready.catch(() => undefined);
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-4000);
      for (const line of chunk.split('\n')) if (line.trim()) this.hooks.log?.(`[worker] ${line}`);
    });
    child.stdout?.on('data', () => undefined); // keep the pipe drained
    child.on('message', (raw: unknown) => {
      let m: WorkerResponse;
      try {
        m = parseWorkerResponse(raw);
      } catch (e) {
        // A reply we cannot read fails its request (when it names one) instead of hanging it.
        const id = (raw as { id?: unknown } | undefined)?.id;
        const message = `the inference worker sent a reply this version cannot read: ${(e as Error).message}`;
        this.hooks.log?.(message);
        const p = typeof id === 'number' ? this.pending.get(id) : undefined;
        if (p) {
          this.pending.delete(id as number);
          p.reject(new Error(message));
        }
        return;
      }
      if (m.type === 'ready') {
        this.backend = m.backend;
        this.hooks.log?.(`inference worker ${m.pid} ready (backend ${m.backend})`);
        markReady();
        return;
      }
      const p = this.pending.get(m.id);
      if (m.type === 'token') p?.onToken?.(m.text);
      else if (m.type === 'done') {
        this.pending.delete(m.id);
        p?.resolve(m);
      } else if (m.type === 'error') {
        if (!p) this.hooks.log?.(`inference worker: ${m.message}`);
        this.pending.delete(m.id);
        p?.reject(new Error(m.message));
      }
    });
    const ended = (code: number | null, signal: NodeJS.Signals | null, err?: Error) => {
      if (this.child !== child) return;
      this.child = undefined;
      this.ready = undefined;
      const stderr = this.stderrTail.split('\n').map((l) => l.trim()).filter(Boolean).slice(-3).join('\n');
      const why = err ? `could not be started (${err.message})` : signal ? `was killed (${signal})` : `exited with status ${code}`;
      const message = `the inference worker ${why}${stderr ? `: ${stderr}` : ''}`;
      failReady(new Error(message));
      const pending = [...this.pending.values()];
      this.pending.clear();
      for (const p of pending) p.reject(new Error(message));
      if (!this.disposed) this.hooks.onExit?.({ code, signal, pending: pending.length, stderr, expected: false });
      this.hooks.log?.(message);
    };
    child.on('exit', (code, signal) => ended(code, signal));
    child.on('error', (e) => ended(null, null, e));
    return child;
  }

  private send(child: ChildProcess, m: WorkerRequest): void {
    if (!child.connected) return;
    try {
      child.send(m);
    } catch {
      /* the exit handler reports it */
    }
  }

  /** Asks the worker to exit, and kills it if it has not within a second. */
  dispose(): void {
    this.disposed = true;
    const child = this.child;
    if (!child) return;
    this.send(child, { type: 'shutdown' });
    const timer = setTimeout(() => child.kill('SIGKILL'), 1000);
    timer.unref();
    child.once('exit', () => clearTimeout(timer));
  }
}
