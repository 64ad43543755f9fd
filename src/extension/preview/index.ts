// Preview Training Data: a data file rendered as training sees it with a chosen model — its
// chat template, its tokenizer — with the trained tokens highlighted. From the command palette,
// a data file's context menu in the Explorer or its editor title, the eye button on a file in
// Adapt Model's data step, or from code with {model, data, preserveFocus}.
import * as vscode from 'vscode';
import type { Shared } from '../shared';
import { registerGuarded } from '../commands';
import { pickDataset, pickModel } from '../pickers';
import { PreviewPanel } from './panel';
import { isDataFile, targetOf } from './source';

export const PREVIEW_COMMAND = 'adaptLab.previewTrainingData';
const TITLE = 'Preview Training Data';

export function register(context: vscode.ExtensionContext, s: Shared): PreviewPanel {
  // The model in the Layers view is offered first.
  const d = { context, log: s.log, rt: s.rt, currentModel: () => s.layers.modelPath };
  const panel = new PreviewPanel(d.context.extensionUri, d.rt, d.log);
  d.context.subscriptions.push(panel, registerGuarded(PREVIEW_COMMAND, async (arg?: unknown) => {
    const target = targetOf(arg);
    const active = vscode.window.activeTextEditor?.document.uri;
    const data = target.data
      ?? (active?.scheme === 'file' && isDataFile(active.fsPath) ? active.fsPath : undefined)
      ?? await pickDataset({ title: `${TITLE}: data`, step: 1, totalSteps: 2 }, 'Which data file to preview?');
    if (!data) return undefined;
    const model = target.model ?? await pickModel(d.context.extensionPath, d.context.globalState, { title: `${TITLE}: model (its chat template and tokenizer)`, step: 2, totalSteps: 2 }, d.currentModel());
    if (!model) return undefined;
    return panel.show(model, data, target.preserveFocus);
  }, d.log));
  return panel;
}
