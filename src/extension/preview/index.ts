// Preview Training Data: a data file rendered as training sees it with a chosen model — its
// chat template, its tokenizer — with the trained tokens highlighted. From the command palette,
// a data file's context menu in the Explorer or its editor title, the eye button on a file in
// Adapt Model's data step, or from code with {model, data, preserveFocus}.
import * as vscode from 'vscode';
import type { Shared } from '../shared';
import { registerGuarded } from '../commands';
import { pickDataset, pickModel } from '../pickers';
import { assertTrusted } from '../trust';
import type { PreviewPayload } from '../../protocol/preview';
import { PreviewPanel } from './panel';
import { isDataFile, targetOf } from './source';

export const PREVIEW_COMMAND = 'adaptLab.previewTrainingData';
const TITLE = 'Preview Training Data';

export interface PreviewFeature {
  panel: PreviewPanel;
  /** What the command does (errors thrown, not shown): a file URI, {model, data, preserveFocus}, or nothing (asked for). */
  open(arg?: unknown): Promise<PreviewPayload | undefined>;
}

export function register(context: vscode.ExtensionContext, s: Shared): PreviewFeature {
  const panel = new PreviewPanel(context.extensionUri, s.rt, s.log);
  const open = async (arg?: unknown): Promise<PreviewPayload | undefined> => {
    // In Restricted Mode no tokenizer is read: refused before asking for anything.
    assertTrusted(TITLE);
    const target = targetOf(arg);
    const active = vscode.window.activeTextEditor?.document.uri;
    const data = target.data
      ?? (active?.scheme === 'file' && isDataFile(active.fsPath) ? active.fsPath : undefined)
      ?? await pickDataset({ title: `${TITLE}: data`, step: 1, totalSteps: 2 }, 'Which data file to preview?');
    if (!data) return undefined;
    // The model in the Layers view is offered first.
    const model = target.model ?? await pickModel(context.extensionPath, context.globalState, { title: `${TITLE}: model (its chat template and tokenizer)`, step: 2, totalSteps: 2 }, s.layers.modelPath);
    if (!model) return undefined;
    return panel.show(model, data, target.preserveFocus);
  };
  context.subscriptions.push(panel, registerGuarded(PREVIEW_COMMAND, open, s.log));
  return { panel, open };
}
