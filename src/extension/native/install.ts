// "Adapt Lab: Install Native Backend": installs @tensorflow/tfjs-node (or -node-gpu where an
// NVIDIA GPU answers nvidia-smi) with npm into the extension's global storage; trainers and
// workers started afterwards find it there (ADAPT_LAB_NATIVE_MODULES, read by the engine's
// backend choice). Its install script downloads libtensorflow: where that fails, the one line
// that says why is returned, and the wasm backend (with BLAS) keeps running. No `vscode`
// import: tested under plain mocha.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

export const NATIVE_VERSION = '4.22.0';

export interface InstallOptions {
  /** The folder npm installs into (`--prefix`): its node_modules is what the trainer reads. */
  dir: string;
  gpu: boolean;
  /** npm's executable (default: npm on PATH). */
  npm?: string;
  onLine?: (line: string) => void;
  /** Aborts the install (a cancelled notification). */
  signal?: AbortSignal;
}

export type InstallResult = { ok: true; pkg: string; modules: string } | { ok: false; pkg: string; reason: string };

export function nativePackage(gpu: boolean): string {
  return gpu ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
}

/** Whether an NVIDIA GPU is there to use (nvidia-smi lists one). */
export function hasNvidiaGpu(): boolean {
  const r = spawnSync('nvidia-smi', ['-L'], { encoding: 'utf8', timeout: 10_000 });
  return r.status === 0 && /GPU \d+:/.test(r.stdout ?? '');
}

/** The node_modules folder an install into `dir` fills, when it holds a native backend. */
export function installedModules(dir: string): string | undefined {
  const modules = join(dir, 'node_modules');
  return [nativePackage(true), nativePackage(false)].some((p) => existsSync(join(modules, p, 'package.json'))) ? modules : undefined;
}

/** The one line of npm's output that says why an install failed. */
export function failureReason(output: string): string {
  const lines = output.split('\n').map((l) => l.replace(/^npm (error|ERR!)\s*/, '').trim()).filter(Boolean);
  const error = lines.find((l) => /^(\w+)?Error: /.test(l) || /\b(ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|ECONNRESET|E404|EACCES)\b/.test(l));
  const url = lines.find((l) => /^https?:\/\//.test(l));
  if (error) return `${error}${url && !error.includes(url) ? ` (fetching ${url})` : ''}`;
  return lines.filter((l) => !/complete log of this run/.test(l)).pop() ?? 'npm failed without saying why';
}

/** Runs npm; resolves with the installed folder or the reason it failed (never rejects). */
export function installNativeBackend(o: InstallOptions): Promise<InstallResult> {
  const pkg = nativePackage(o.gpu);
  mkdirSync(o.dir, { recursive: true });
  const npm = o.npm ?? (process.platform === 'win32' ? 'npm.cmd' : 'npm');
  const args = ['install', '--no-audit', '--no-fund', '--no-save', '--prefix', o.dir, `${pkg}@${NATIVE_VERSION}`];
  return new Promise((resolve) => {
    let output = '';
    let rest = '';
    // A parent `npm run` sets this; some install scripts refuse to run under another npm's agent.
    const env = { ...process.env, npm_config_user_agent: undefined };
    const child = spawn(npm, args, { cwd: o.dir, env, shell: process.platform === 'win32', signal: o.signal });
    const take = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      output += text;
      const parts = (rest + text).split('\n');
      rest = parts.pop() ?? '';
      for (const l of parts) if (l.trim()) o.onLine?.(l.trim());
    };
    child.stdout?.on('data', take);
    child.stderr?.on('data', take);
    child.on('error', (e) => resolve({ ok: false, pkg, reason: (e as NodeJS.ErrnoException).code === 'ABORT_ERR' ? 'cancelled' : `cannot run ${npm}: ${e.message}` }));
    child.on('close', (code, signal) => {
      if (o.signal?.aborted) return resolve({ ok: false, pkg, reason: 'cancelled' });
      if (code !== 0) return resolve({ ok: false, pkg, reason: `${pkg}: ${failureReason(output)}${signal ? ` (${signal})` : ''}` });
      const modules = installedModules(o.dir);
      if (!modules) return resolve({ ok: false, pkg, reason: `${pkg}: npm finished but ${join(o.dir, 'node_modules', pkg)} is missing` });
      resolve({ ok: true, pkg, modules });
    });
  });
}
