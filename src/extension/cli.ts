// Everything heavy (loading a model, TensorFlow.js) happens in child processes running the
// `adapt-lab` CLI (dist/cli.js), never in the extension host. This module forks them with the
// configured Node runtime and turns their output into values or one-line errors.
import { ChildProcess, fork, ForkOptions } from 'node:child_process';
import { statSync } from 'node:fs';
import * as vscode from 'vscode';
import { ModelInfo, parseModelInfo } from '../protocol/inspect';
import { assertTrusted, RestrictedModeError } from './trust';
import * as settings from './settings';
import { installedModules } from './native/install';

let nativeDir: string | undefined;
/** Where Install Native Backend puts tfjs-node (the extension's global storage); set at activation. */
export function setNativeBackendDir(dir: string): void {
  nativeDir = dir;
}
export function nativeBackendDir(): string | undefined {
  return nativeDir;
}

export interface Runtime {
  /** dist/cli.js of this extension. */
  cliPath: string;
  /** The Node runtime for children: adaptLab.nodePath or the extension host's own. */
  execPath: string;
  /** adaptLab.backend. */
  backend: string;
  /** adaptLab.blas: matrix products on the platform's BLAS (false: ADAPT_LAB_BLAS=off for children). */
  blas: boolean;
}

export function runtime(extensionUri: vscode.Uri): Runtime {
  return {
    cliPath: vscode.Uri.joinPath(extensionUri, 'dist', 'cli.js').fsPath,
    execPath: settings.nodePath() || process.execPath,
    backend: settings.backend(),
    blas: settings.blas(),
  };
}

/** What a child process needs in its environment for these settings. */
export function childEnv(rt: Pick<Runtime, 'blas'>): NodeJS.ProcessEnv {
  const modules = nativeDir ? installedModules(nativeDir) : undefined;
  return {
    ...process.env, ELECTRON_RUN_AS_NODE: '1',
    ...(rt.blas ? {} : { ADAPT_LAB_BLAS: 'off' }),
    // The engine's backend choice tries tfjs-node from here first (see Install Native Backend).
    ...(modules ? { ADAPT_LAB_NATIVE_MODULES: modules } : {}),
  };
}

/** fork() of the CLI with stdio piped and IPC; works under Electron's Node too. */
export function forkCli(rt: Runtime, args: string[], opts: ForkOptions = {}): ChildProcess {
  // The one door to adapt-lab processes (inspect, train, eval, export, suggest): shut in Restricted Mode.
  assertTrusted(`adapt-lab ${args[0] ?? ''}`.trim());
  return fork(rt.cliPath, args, {
    execPath: rt.execPath,
    silent: true,
    ...opts,
    env: { ...childEnv(rt), ...opts.env },
  });
}

/** The CLI prints errors as `adapt-lab: <message>` lines; this keeps the messages. */
export function cliErrorMessage(stderr: string, code: number | null, signal: NodeJS.Signals | null): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  const mine = lines.filter((l) => l.startsWith('adapt-lab: ')).map((l) => l.slice('adapt-lab: '.length));
  if (mine.length) return mine.join('\n');
  if (lines.length) return lines.slice(-5).join('\n');
  return signal ? `adapt-lab was killed (${signal})` : `adapt-lab exited with status ${code}`;
}

export interface CliResult {
  stdout: string;
  stderr: string;
}

/**
 * Runs `adapt-lab ARGS` to completion. Rejects with the CLI's own error message on a non-zero
 * exit; a cancelled token kills the child.
 */
export function runCli(rt: Runtime, args: string[], opts: { token?: vscode.CancellationToken; onLine?: (line: string, stream: 'stdout' | 'stderr') => void; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = forkCli(rt, args, { cwd: opts.cwd });
    } catch (e) {
      reject(e instanceof RestrictedModeError ? e : new Error(`cannot start ${rt.execPath}: ${(e as Error).message}`));
      return;
    }
    let stdout = '';
    let stderr = '';
    const lines = (stream: 'stdout' | 'stderr') => {
      let rest = '';
      return (chunk: Buffer) => {
        const text = chunk.toString('utf8');
        if (stream === 'stdout') stdout += text;
        else stderr += text;
        if (!opts.onLine) return;
        const parts = (rest + text).split('\n');
        rest = parts.pop() ?? '';
        for (const l of parts) opts.onLine(l, stream);
      };
    };
    child.stdout?.on('data', lines('stdout'));
    child.stderr?.on('data', lines('stderr'));
    const cancel = opts.token?.onCancellationRequested(() => child.kill());
    child.on('error', (e) => {
      cancel?.dispose();
      reject(new Error(`cannot run adapt-lab with ${rt.execPath}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      cancel?.dispose();
      if (opts.token?.isCancellationRequested) reject(new vscode.CancellationError());
      else if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(cliErrorMessage(stderr, code, signal)));
    });
  });
}

/** `adapt-lab inspect MODEL --json`, cached per path and modification time. */
export class ModelInspector {
  private readonly cache = new Map<string, { key: string; info: Promise<ModelInfo> }>();
  constructor(private readonly rt: () => Runtime) {}

  inspect(modelPath: string, token?: vscode.CancellationToken): Promise<ModelInfo> {
    let key: string;
    try {
      const st = statSync(modelPath);
      key = `${st.mtimeMs}:${st.size}`;
    } catch {
      return Promise.reject(new Error(`${modelPath}: no such file or folder`));
    }
    const hit = this.cache.get(modelPath);
    if (hit && hit.key === key) return hit.info;
    const info = runCli(this.rt(), ['inspect', modelPath, '--json'], { token }).then((r) => {
      const parsed = parseModelInfo(JSON.parse(r.stdout), `adapt-lab inspect ${modelPath} --json`);
      return { ...parsed, path: modelPath };
    });
    this.cache.set(modelPath, { key, info });
    info.catch(() => {
      if (this.cache.get(modelPath)?.info === info) this.cache.delete(modelPath);
    });
    return info;
  }
}
