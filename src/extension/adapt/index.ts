// The Adapt feature: Adapt Model (the guided flow) and Adapt Model from Config; startRun is
// also the test API's and the walkthrough's way to start a run.
import * as vscode from 'vscode';
import { registerGuarded } from '../commands';
import type { Shared } from '../shared';
import type { RunSession } from '../trainer';
import { adaptFromConfig, adaptModel, startRun } from './start';

export interface AdaptFeature {
  startRun: (config: unknown, baseDir?: string) => RunSession;
  adaptFromConfig: (uri?: vscode.Uri) => Promise<RunSession | undefined>;
}

export function register(context: vscode.ExtensionContext, s: Shared): AdaptFeature {
  context.subscriptions.push(
    registerGuarded('adaptLab.adaptModel', () => adaptModel(context, s), s.log),
    registerGuarded('adaptLab.adaptFromConfig', (uri?: vscode.Uri) => adaptFromConfig(context, s, uri), s.log),
  );
  return {
    startRun: (config, baseDir) => startRun(context, s, config, baseDir),
    adaptFromConfig: (uri) => adaptFromConfig(context, s, uri),
  };
}
