// Every Adapt Lab setting is read here and nowhere else: the names, defaults and clamping of
// package.json's contributes.configuration in one file, so a renamed or retuned setting is one
// edit. The default runs folder is the engine's (a run config without runsDir uses it too).
import { isAbsolute, resolve } from 'node:path';
import * as vscode from 'vscode';
import { DEFAULT_RUN } from '../engine/core/run-config';

const SECTION = 'adaptLab';

/** Where runs go when adaptLab.runsDir is empty: `.adapt-lab/runs`, relative to the workspace folder. */
export const DEFAULT_RUNS_DIR = DEFAULT_RUN.runsDir;

function cfg(scope?: vscode.Uri): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration(SECTION, scope);
}

function strings(key: string): string[] {
  const v = cfg().get<unknown>(key);
  return Array.isArray(v) ? v.filter((p): p is string => typeof p === 'string' && p.trim() !== '') : [];
}

/** adaptLab.nodePath: the Node runtime for child processes ('' = the extension host's own). */
export function nodePath(): string {
  return (cfg().get<string>('nodePath') ?? '').trim();
}

/** adaptLab.backend ('auto' when empty). */
export function backend(): string {
  return cfg().get<string>('backend') || 'auto';
}

/** adaptLab.blas: matrix products on the platform's BLAS. */
export function blas(): boolean {
  return cfg().get<boolean>('blas') ?? true;
}

/** adaptLab.trainingThreads as set (0, the default, means "choose"). */
export function trainingThreadsSetting(): number {
  return cfg().get<number>('trainingThreads') ?? 0;
}

/** adaptLab.defaultModel, trimmed ('' when unset). */
export function defaultModel(): string {
  return (cfg().get<string>('defaultModel') ?? '').trim();
}

/** adaptLab.extraModels: model paths added to the pickers. */
export function extraModels(): string[] {
  return strings('extraModels');
}

/** adaptLab.modelFolders: extra folders to look for models in (machine setting). */
export function modelFolders(): string[] {
  return strings('modelFolders');
}

/**
 * adaptLab.evaluation.runtime: 'llamacpp' has Evaluate Run also run the cases in llama.cpp and
 * inline prompts answered there; anything else is Adapt Lab's engine.
 */
export function evaluationRuntime(): 'engine' | 'llamacpp' {
  return cfg().get<string>('evaluation.runtime') === 'llamacpp' ? 'llamacpp' : 'engine';
}

/** Sets adaptLab.evaluation.runtime for the user (the llama.cpp-missing notification's "Use Adapt Lab's Engine"). */
export function setEvaluationRuntime(value: 'engine' | 'llamacpp'): Thenable<void> {
  return cfg().update('evaluation.runtime', value, vscode.ConfigurationTarget.Global);
}

/** adaptLab.prompts.maxTokens: tokens per answer of a prompt case (at least 1). */
export function promptsMaxTokens(): number {
  return Math.max(1, Math.floor(cfg().get<number>('prompts.maxTokens') ?? 16));
}

/** adaptLab.prompts.selectionMaxTokens: tokens per answer of Evaluate Selection (at least 1). */
export function promptsSelectionMaxTokens(): number {
  return Math.max(1, Math.floor(cfg().get<number>('prompts.selectionMaxTokens') ?? 48));
}

/**
 * adaptLab.runsDir of a workspace folder (the default when empty), and whether the workspace's
 * own settings chose it (rather than the user's): trust.ts asks before using such a folder
 * outside the workspace.
 */
export function runsDirSetting(folder: vscode.WorkspaceFolder): { value: string; fromWorkspace: boolean } {
  const c = cfg(folder.uri);
  const value = c.get<string>('runsDir') || DEFAULT_RUNS_DIR;
  const i = c.inspect<string>('runsDir');
  const fromWorkspace = i !== undefined && (i.workspaceFolderValue === value || i.workspaceValue === value) && i.globalValue !== value;
  return { value, fromWorkspace };
}

/** True when a configuration change moves the runs folder. */
export function affectsRunsDir(e: vscode.ConfigurationChangeEvent): boolean {
  return e.affectsConfiguration(`${SECTION}.runsDir`);
}

/** A path from a setting: `~` and workspace-relative paths resolved. */
export function resolveSettingPath(p: string): string {
  if (p.startsWith('~/')) return resolve(process.env.HOME ?? '', p.slice(2));
  if (isAbsolute(p)) return p;
  const root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  return root ? resolve(root, p) : resolve(p);
}
