// Runs torchrun on a launch folder and follows the events its rank 0 appends to the run's
// metrics.jsonl: each is folded into run.json (status, step, best loss, checkpoints) and handed
// to `emit` (the CLI's --jsonl, the extension's IPC). A torchrun that ends without an end event
// (killed, crashed before it could write one) is recorded as failed, naming its exit.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, AddressInfo } from 'node:net';
import { isEndEvent, parseTrainerEvent, TrainerEvent } from '../../protocol/events';
import { METRICS_FILE, RunHandle } from '../core/runs/store';
import { torchrunArgs, TorchrunOptions } from './torchrun';

export interface FollowOptions extends TorchrunOptions {
  /** The torchrun executable (default `torchrun` on PATH; ADAPT_LAB_TORCHRUN overrides). */
  torchrun?: string;
  emit?: (e: TrainerEvent) => void;
  /** torchrun's own output (its log and the workers' stderr), line by line. */
  onOutput?: (line: string) => void;
  /** Called with a function that asks torchrun to stop (SIGTERM: every rank checkpoints and stops). */
  onStart?: (stop: () => void) => void;
  pollMs?: number;
}

/** Reads the complete lines appended to a file since `offset`. */
class Tail {
  private offset: number;
  private rest = '';
  constructor(readonly path: string) {
    this.offset = existsSync(path) ? fstatSizeOf(path) : 0;
  }
  lines(): string[] {
    if (!existsSync(this.path)) return [];
    const fd = openSync(this.path, 'r');
    try {
      const size = fstatSync(fd).size;
      if (size <= this.offset) return [];
      const buf = Buffer.alloc(size - this.offset);
      const n = readSync(fd, buf, 0, buf.length, this.offset);
      this.offset += n;
      const text = this.rest + buf.subarray(0, n).toString('utf8');
      const parts = text.split('\n');
      this.rest = parts.pop() ?? '';
      return parts.filter((l) => l.trim() !== '');
    } finally {
      closeSync(fd);
    }
  }
}

function fstatSizeOf(path: string): number {
  const fd = openSync(path, 'r');
  try {
    return fstatSync(fd).size;
  } finally {
    closeSync(fd);
  }
}

/** Runs torchrun in `launchDir` for `run` until it exits; returns its end event. */
export async function runTorchrun(run: RunHandle, launchDir: string, o: FollowOptions): Promise<TrainerEvent & { type: 'finished' | 'stopped' | 'failed' }> {
  const exe = o.torchrun ?? process.env.ADAPT_LAB_TORCHRUN ?? 'torchrun';
  // One node: a rendezvous port of its own, so concurrent runs never share torchrun's store.
  const localPort = (o.nnodes ?? 1) === 1 ? await freePort() : undefined;
  const args = torchrunArgs({ ...o, managed: true, localPort });
  const tail = new Tail(join(run.dir, METRICS_FILE));
  let end: (TrainerEvent & { type: 'finished' | 'stopped' | 'failed' }) | undefined;
  let lastStep = run.record.step ?? 0;
  const drain = () => {
    for (const line of tail.lines()) {
      let e: TrainerEvent;
      try {
        e = parseTrainerEvent(JSON.parse(line));
      } catch (err) {
        o.onOutput?.(`metrics.jsonl: ${(err as Error).message}`);
        continue;
      }
      run.recordEvent(e);
      if ('step' in e && typeof e.step === 'number') lastStep = e.step;
      o.emit?.(e);
      if (isEndEvent(e)) end = e;
    }
  };
  return new Promise((resolvePromise) => {
    const child = spawn(exe, args, { cwd: launchDir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PYTHONUNBUFFERED: '1' } });
    const recent: string[] = [];
    const onData = (d: Buffer) => {
      for (const line of d.toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        recent.push(line);
        if (recent.length > 20) recent.shift();
        o.onOutput?.(line);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    o.onStart?.(() => child.kill('SIGTERM'));
    const timer = setInterval(drain, o.pollMs ?? 200);
    let spawnError: Error | undefined;
    child.on('error', (e) => (spawnError = e));
    child.on('close', (code, signal) => {
      clearInterval(timer);
      drain();
      if (!end) {
        const why = spawnError
          ? `cannot run ${exe}: ${(spawnError as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found; install PyTorch (pip install torch, or Debian\'s python3-torch) or set ADAPT_LAB_TORCHRUN to its torchrun' : spawnError.message}`
          : `torchrun exited ${signal ? `on ${signal}` : `with code ${code}`} before the run ended${lastError(recent)}`;
        const failed = { type: 'failed' as const, time: new Date().toISOString(), step: lastStep, reason: why, ...(run.record.lastCheckpoint ? { lastCheckpoint: run.record.lastCheckpoint } : {}) };
        run.appendEvent(failed);
        o.emit?.(failed);
        end = failed;
      }
      resolvePromise(end);
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as AddressInfo).port;
      srv.close(() => resolvePort(port));
    });
  });
}

/** The most telling line of torchrun's output: a Python error, else the last line. */
function lastError(lines: string[]): string {
  const err = [...lines].reverse().find((l) => /(Error|Exception):/.test(l));
  const line = (err ?? lines[lines.length - 1] ?? '').trim();
  return line ? `: ${line.slice(0, 300)}` : '';
}
