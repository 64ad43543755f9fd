// Workspace trust. A cloned repository can name models, data, configs and a runs folder; in
// Restricted Mode (an untrusted workspace) Adapt Lab therefore starts no process that would
// read them (no trainer, no inference worker, no `adapt-lab inspect`), lists no runs, and the
// Layers and Runs views say why with a button to manage trust. adaptLab.runsDir and
// adaptLab.defaultModel are restricted settings (package.json), so VS Code ignores a
// workspace's values of them there. In a trusted workspace, a runs folder that the
// workspace's own settings put outside the workspace is used only once the user allows it.
import { isAbsolute, relative, resolve } from 'node:path';
import * as vscode from 'vscode';
import { DEFAULT_RUNS_DIR, runsDirSetting } from './settings';

export const MANAGE_TRUST = 'Manage Workspace Trust';
const ALLOWED_KEY = 'adaptLab.allowedRunsDirs';

/** Thrown instead of starting a process in an untrusted workspace. */
export class RestrictedModeError extends Error {
  constructor(what: string) {
    super(`${what} is not available in Restricted Mode: this workspace is not trusted, and Adapt Lab reads models `
      + `and data and trains only in trusted workspaces (${MANAGE_TRUST} to trust it)`);
  }
}

export function isTrusted(): boolean {
  return vscode.workspace.isTrusted;
}

/** Throws a RestrictedModeError naming `what` when the workspace is not trusted. */
export function assertTrusted(what: string): void {
  if (!vscode.workspace.isTrusted) throw new RestrictedModeError(what);
}

/** True when an error message is a RestrictedModeError's (errors travel as text to showError). */
export function isRestrictedMessage(message: string): boolean {
  return message.includes('not available in Restricted Mode');
}

export function manageTrust(): Thenable<unknown> {
  return vscode.commands.executeCommand('workbench.trust.manage');
}

const inside = (folder: string, p: string) => {
  const rel = relative(folder, p);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
};

let memento: vscode.Memento | undefined;
const changed = new vscode.EventEmitter<void>();
const asked = new Set<string>();
/** Fires when the user allows a runs folder outside the workspace (the Runs view re-reads). */
export const onDidChangeRunsLocation = changed.event;

/** Called once by activate(): where allowed runs folders are remembered (per workspace). */
export function initTrust(state: vscode.Memento): vscode.Disposable {
  memento = state;
  return changed;
}

function allowed(): string[] {
  return memento?.get<string[]>(ALLOWED_KEY) ?? [];
}

/** Allows a runs folder outside the workspace that the workspace's settings name. */
export async function allowRunsDir(dir: string): Promise<void> {
  if (!allowed().includes(dir)) await memento?.update(ALLOWED_KEY, [...allowed(), dir]);
  changed.fire();
}

async function askToAllow(dir: string, folder: vscode.WorkspaceFolder): Promise<void> {
  if (asked.has(dir)) return;
  asked.add(dir);
  const allow = 'Keep Runs There';
  const choice = await vscode.window.showWarningMessage(
    `Adapt Lab: this workspace's settings keep runs in ${dir}, outside the folder ${folder.name}. `
    + `Until you allow it, runs go to ${DEFAULT_RUNS_DIR} inside the workspace.`, allow, 'Keep Them in the Workspace');
  if (choice === allow) await allowRunsDir(dir);
}

/**
 * The runs folder of a workspace folder: adaptLab.runsDir resolved against it, except that a
 * folder outside the workspace named by the workspace's own settings is replaced by the default
 * until the user allows it (asked once per window).
 */
export function runsDirFor(folder: vscode.WorkspaceFolder): string {
  const base = folder.uri.fsPath;
  const { value, fromWorkspace } = runsDirSetting(folder);
  const dir = resolve(base, value);
  if (inside(base, dir)) return dir;
  if (!fromWorkspace || allowed().includes(dir)) return dir;
  if (vscode.workspace.isTrusted) void askToAllow(dir, folder);
  return resolve(base, DEFAULT_RUNS_DIR);
}
