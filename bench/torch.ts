// The PyTorch reference (../shared/bench/torch_gpt_bench.py), run with the setup its header
// recommends: Debian's python3-torch from /usr/bin/python3, OpenBLAS's OpenMP flavour, two
// threads, OPENBLAS_CORETYPE unset, glibc told to keep freed memory.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

export const PYTHON = '/usr/bin/python3';
export const TORCH_SCRIPT = resolve(process.cwd(), '../shared/bench/torch_gpt_bench.py');

const ENV_SET: Record<string, string> = {
  MALLOC_MMAP_MAX_: '0',
  MALLOC_TRIM_THRESHOLD_: '68719476736',
  MALLOC_TOP_PAD_: '536870912',
  LD_LIBRARY_PATH: '/usr/lib/x86_64-linux-gnu/openblas-openmp',
};

export function torchEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env, ...ENV_SET };
  delete env.OPENBLAS_CORETYPE;
  return env;
}

/** The command line as one would type it (for the report). */
export function commandLine(args: string[]): string {
  const sets = Object.entries(ENV_SET).map(([k, v]) => `${k}=${v}`).join(' ');
  return `env -u OPENBLAS_CORETYPE ${sets} ${PYTHON} ${TORCH_SCRIPT} ${args.join(' ')}`;
}

export interface TorchCheck {
  ok: boolean;
  reason?: string;
  version?: string;
}

/** Whether torch runs here, with `script` (default the GPT reference) present. */
export function checkTorch(script = TORCH_SCRIPT): TorchCheck {
  if (!existsSync(script)) return { ok: false, reason: `${script} not found` };
  if (!existsSync(PYTHON)) return { ok: false, reason: `${PYTHON} not found` };
  const r = spawnSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8', env: torchEnv(), timeout: 120_000 });
  if (r.status !== 0) {
    const last = (r.stderr ?? '').trim().split('\n').pop() ?? '';
    return { ok: false, reason: `${PYTHON} -c "import torch" failed: ${last || r.error?.message || `exit ${r.status}`} (install: apt-get install -y python3-torch python3-numpy libopenblas0-openmp)` };
  }
  return { ok: true, version: r.stdout.trim() };
}

export interface TorchRun {
  result?: Record<string, unknown>;
  error?: string;
  command: string;
  /** Every thread count tried, with its tokens/s (the best one is `result`). */
  tried?: { threads: number; tokensPerSecond: number; otherCores: number }[];
}

/** Runs the script with `args` (plus --threads N --json) and returns its JSON result. */
export function runTorch(args: string[], timeoutMs: number, threads = 2): TorchRun {
  const full = [...args, '--threads', String(threads), '--json'];
  const command = commandLine(full);
  const r = spawnSync(PYTHON, [TORCH_SCRIPT, ...full], { encoding: 'utf8', env: torchEnv(), timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  const lines = (r.stdout ?? '').split('\n').filter((l) => l.startsWith('{'));
  if (r.status === 0 && lines.length) {
    try {
      return { result: JSON.parse(lines[lines.length - 1]), command };
    } catch (e) {
      return { error: `unparsable output: ${(e as Error).message}`, command };
    }
  }
  const tail = (r.stderr ?? '').trim().split('\n').slice(-2).join(' | ');
  return { error: `${r.error ? r.error.message : `exit ${r.status}`}: ${tail}`, command };
}

export function torchTrainArgs(s: { d: number; layers: number; heads: number; ctx: number; vocab: number; batch: number }, mode: string, steps: number, warmup: number): string[] {
  return ['--d-model', String(s.d), '--layers', String(s.layers), '--heads', String(s.heads), '--ctx', String(s.ctx), '--vocab', String(s.vocab), '--batch', String(s.batch), '--mode', mode, '--steps', String(steps), '--warmup', String(warmup)];
}

export function torchInferArgs(s: { d: number; layers: number; heads: number; ctx: number; vocab: number }, promptLen: number, newTokens: number): string[] {
  return ['--d-model', String(s.d), '--layers', String(s.layers), '--heads', String(s.heads), '--ctx', String(s.ctx), '--vocab', String(s.vocab), '--infer', '--prompt-len', String(promptLen), '--new-tokens', String(newTokens), '--warmup', '1'];
}

/**
 * The reference as fast as it runs on this machine right now: `--threads 2` (the script's
 * recommendation), and when other processes took more than half a core meanwhile, `--threads 1`
 * as well — two OpenMP threads on a busy 2-core machine can be 10× slower than one (measured
 * here: 264 vs 2,812 tok/s on tiny:full at load 7). `force` pins the thread count.
 */
export function runTorchBest(args: string[], timeoutMs: number, force?: number): TorchRun {
  if (force) return runTorch(args, timeoutMs, force);
  const runs: TorchRun[] = [runTorch(args, timeoutMs, 2)];
  const busy = (r?: Record<string, unknown>) => !r || (r.other_cores as number) > 0.5;
  if (busy(runs[0].result)) runs.push(runTorch(args, timeoutMs, 1));
  const ok = runs.filter((r) => r.result);
  if (!ok.length) return runs[0];
  const best = ok.reduce((a, b) => ((b.result!.tokens_per_s as number) > (a.result!.tokens_per_s as number) ? b : a));
  return {
    ...best,
    tried: ok.map((r) => ({ threads: r.result!.threads as number, tokensPerSecond: r.result!.tokens_per_s as number, otherCores: r.result!.other_cores as number })),
  };
}
