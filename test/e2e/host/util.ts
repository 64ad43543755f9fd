// Helpers for the extension-host tests: the activated extension's API, the workspace folder
// (a fresh temp folder from the harness) with the mood task written into it, the shared model.
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as vscode from 'vscode';
import type { AdaptLabApi } from '../../../src/extension/extension';
import { moodCases, writeJsonl } from '../../helpers/tasks';
import { sharedRootFrom } from '../../helpers/shared';

export const REPO = resolve(__dirname, '..', '..', '..');

export const STORIES = () => join(sharedRootFrom(REPO), 'models', 'stories260K', 'stories260K.gguf');

export async function api(): Promise<AdaptLabApi> {
  const ext = vscode.extensions.all.find((e) => e.packageJSON?.name === 'adapt-lab');
  if (!ext) throw new Error('the Adapt Lab extension is not loaded');
  return (await ext.activate()) as AdaptLabApi;
}

export function workspaceDir(): string {
  const f = vscode.workspace.workspaceFolders?.[0];
  if (!f) throw new Error('the tests need a workspace folder');
  return f.uri.fsPath;
}

/** train.jsonl (160 mood stories) and val.jsonl (40) under <workspace>/data. */
export function moodData(): { train: string; validation: string } {
  const dir = join(workspaceDir(), 'data');
  mkdirSync(dir, { recursive: true });
  const strip = (c: { prompt: string; completion: string }) => ({ prompt: c.prompt, completion: c.completion });
  const train = join(dir, 'train.jsonl');
  const validation = join(dir, 'val.jsonl');
  if (!existsSync(train)) writeJsonl(train, moodCases(160, 1).map(strip));
  if (!existsSync(validation)) writeJsonl(validation, moodCases(40, 2).map(strip));
  return { train, validation };
}

export { sleep, waitFor } from '../../helpers/wait';
