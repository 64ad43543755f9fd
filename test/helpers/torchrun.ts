// What the torchrun tests need: torchrun with torch behind it. They fail (never skip) without
// it, naming what to install: CI installs Debian's python3-torch (.ci/run).
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { runJsonlProcess } from './jsonl-process';
import { TrainerEvent } from '../../src/protocol/events';

const CLI = resolve('dist/cli.js');
let checked = false;

export function requireTorchrun(): void {
  if (checked) return;
  const exe = process.env.ADAPT_LAB_TORCHRUN ?? 'torchrun';
  const r = spawnSync(exe, ['--help'], { encoding: 'utf8', timeout: 120_000 });
  if (r.error || r.status !== 0) {
    throw new Error(`these tests need torchrun with PyTorch (${exe}: ${r.error ? (r.error as Error).message : `exit ${r.status}: ${r.stderr.split('\n').filter(Boolean).pop()}`}); install it: apt-get install python3-torch (Debian) or pip install torch`);
  }
  checked = true;
}

export interface CliRun {
  events: TrainerEvent[];
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** `adapt-lab <args> --jsonl` as a process, its events parsed. */
export async function cliJsonl(args: string[], onEvent?: (e: TrainerEvent, kill: () => void) => void, env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  const { lines, ...rest } = await runJsonlProcess<TrainerEvent>(CLI, [...args, '--jsonl'], onEvent, env);
  return { events: lines, ...rest };
}
