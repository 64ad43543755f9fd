// Starting runs: Adapt Model (the guided flow), Adapt Model from Config (an adapt-lab.json),
// and startRun from code. Each config is validated as the trainer will validate it, with the
// workspace's runs folder and the backend setting filled in when the config names none.
import { basename, dirname, join } from 'node:path';
import * as vscode from 'vscode';
import { RunConfig } from '../../protocol/config';
import { parseJsonWithPosition, validateRunConfig } from '../../engine/core/run-config';
import { showError } from '../errors';
import { pickOne, rememberModel } from '../pickers';
import { followSession } from '../runs/follow';
import { runsDirs } from '../runs/tree';
import { DEFAULT_RUNS_DIR } from '../settings';
import type { Shared } from '../shared';
import type { RunSession } from '../trainer';
import { adaptModelFlow } from './flow';
import { readTextFile } from '../../engine/core/read-file';

/** The workspace folder runs belong to (the first one), or an error a user can act on. */
function workspaceFolder(): vscode.WorkspaceFolder {
  const f = vscode.workspace.workspaceFolders?.[0];
  if (!f) throw new Error(`open a folder first: runs are kept inside the workspace (${DEFAULT_RUNS_DIR})`);
  return f;
}

function runsDirOf(folder: vscode.WorkspaceFolder): string {
  return runsDirs()[vscode.workspace.workspaceFolders!.indexOf(folder)] ?? join(folder.uri.fsPath, DEFAULT_RUNS_DIR);
}

function start(context: vscode.ExtensionContext, s: Shared, config: RunConfig, torchrun?: { nproc: number }): RunSession {
  const session = s.trainer.start(config, torchrun);
  void rememberModel(context.globalState, config.model);
  followSession(s, session, [config.data.train, ...(config.data.validation ? [config.data.validation] : []), ...(session.configPath ? [session.configPath] : [])]);
  return session;
}

export async function adaptModel(context: vscode.ExtensionContext, s: Shared): Promise<RunSession | undefined> {
  const folder = workspaceFolder();
  const plan = await adaptModelFlow({
    extensionPath: context.extensionUri.fsPath,
    globalState: context.globalState,
    inspect: (m, t) => s.inspector.inspect(m, t),
    layers: s.layers,
    folder: folder.uri.fsPath,
    runsDir: runsDirOf(folder),
    backend: s.rt().backend,
  });
  if (!plan) return undefined;
  if (!s.layers.modelPath) void s.layers.setModel(plan.config.model).catch(() => undefined);
  return start(context, s, plan.config, plan.torchrun);
}

/**
 * Validates a run config the way the trainer will (relative paths against `baseDir`, the
 * workspace's runs folder unless the config names one) and starts it. The test API's entry.
 */
export function startRun(context: vscode.ExtensionContext, s: Shared, raw: unknown, baseDir?: string, source = 'run config'): RunSession {
  const folder = workspaceFolder();
  const obj = { ...(raw as Record<string, unknown>) };
  if (obj.runsDir === undefined) obj.runsDir = runsDirOf(folder);
  if (obj.backend === undefined) obj.backend = s.rt().backend;
  const config = validateRunConfig(obj, baseDir ?? folder.uri.fsPath, source);
  return start(context, s, config);
}

/** The run config to start: the one given, else one picked from the workspace's adapt-lab*.json, the active editor's, or browsed to. */
async function pickConfig(): Promise<string | undefined> {
  const active = vscode.window.activeTextEditor?.document.uri;
  const found = await vscode.workspace.findFiles('**/adapt-lab*.json', '{**/node_modules/**,**/.adapt-lab/**}', 50);
  const items: (vscode.QuickPickItem & { path?: string })[] = found.map((u) => ({ label: `$(file-code) ${basename(u.fsPath)}`, description: vscode.workspace.asRelativePath(dirname(u.fsPath), true), path: u.fsPath }));
  if (active?.fsPath.endsWith('.json') && !found.some((u) => u.fsPath === active.fsPath)) {
    items.unshift({ label: `$(file-code) ${basename(active.fsPath)}`, description: 'the active editor', path: active.fsPath });
  }
  items.push({ label: '$(folder-opened) Browse…' });
  const picked = await pickOne(items, { title: 'Adapt Model from Config', placeholder: 'Which run config? (adapt-lab.json)' });
  if (!picked) return undefined;
  if (picked.path) return picked.path;
  const uris = await vscode.window.showOpenDialog({ title: 'Choose a run config', filters: { 'Run config': ['json'] }, canSelectMany: false });
  return uris?.[0]?.fsPath;
}

export async function adaptFromConfig(context: vscode.ExtensionContext, s: Shared, uri?: vscode.Uri): Promise<RunSession | undefined> {
  const path = uri?.fsPath ?? await pickConfig();
  if (!path) return undefined;
  const source = basename(path);
  let raw: unknown;
  try {
    raw = parseJsonWithPosition(readTextFile(path, source, 'the run config'), source);
  } catch (e) {
    void showError((e as Error).message, s.log, [path]);
    return undefined;
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    void showError(`${source}: the run config must be a JSON object`, s.log, [path]);
    return undefined;
  }
  try {
    return startRun(context, s, raw, dirname(path), source);
  } catch (e) {
    void showError((e as Error).message, s.log, [path]);
    return undefined;
  }
}
