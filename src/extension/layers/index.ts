// The Layers feature: the view of the chosen model's modules (opened on adaptLab.defaultModel,
// else the model shipped with the extension), Choose Model, the selection presets, LoRA on a
// module, and Suggest Layers.
import * as vscode from 'vscode';
import { registerGuarded } from '../commands';
import { embeddedModels, modelLabel, pickModel } from '../pickers';
import { defaultModel, resolveSettingPath } from '../settings';
import type { Shared } from '../shared';
import { isTrusted } from '../trust';
import { InspectNode } from './params';
import { suggestLayers } from './suggest';

async function chooseModel(context: vscode.ExtensionContext, s: Shared, path?: string): Promise<void> {
  const model = path ?? await pickModel(context.extensionUri.fsPath, context.globalState, { title: 'Choose Model for Layers' }, s.layers.modelPath);
  if (!model) return;
  void vscode.commands.executeCommand('adaptLab.layers.focus');
  await vscode.window.withProgress({ location: { viewId: 'adaptLab.layers' }, title: `Reading ${modelLabel(model)}` }, () => s.layers.setModel(model));
}

async function lastBlocks(s: Shared, n?: number): Promise<void> {
  const info = s.layers.info;
  if (!info) throw new Error('choose a model for the Layers view first');
  if (n === undefined) {
    const L = info.config.layers;
    const text = await vscode.window.showInputBox({
      title: 'Unfreeze the last N blocks', prompt: `How many of the ${L} blocks, counting from the last?`, value: String(Math.min(2, L)),
      validateInput: (v) => (/^\d+$/.test(v.trim()) && Number(v) >= 1 && Number(v) <= L ? undefined : `Enter a whole number from 1 to ${L}`),
    });
    if (!text) return;
    n = Number(text.trim());
  }
  s.layers.presetLastBlocks(n);
}

export function register(context: vscode.ExtensionContext, s: Shared): vscode.TreeView<InspectNode> {
  const subs = context.subscriptions;
  const layers = s.layers;
  const view = vscode.window.createTreeView('adaptLab.layers', { treeDataProvider: layers, manageCheckboxStateManually: true, showCollapseAll: true });
  subs.push(view, layers.attach(view));
  const choose = (path?: string) => chooseModel(context, s, path);
  const c = (id: string, fn: (...args: any[]) => unknown) => registerGuarded(id, fn, s.log);
  subs.push(
    c('adaptLab.chooseModel', (path?: string) => choose(path)),
    c('adaptLab.suggestLayers', (data?: string) => suggestLayers(s, () => choose(), data)),
    c('adaptLab.layers.lastBlocks', (n?: number) => lastBlocks(s, n)),
    c('adaptLab.layers.attentionOnly', () => layers.presetAttentionOnly()),
    c('adaptLab.layers.allLinearLora', () => layers.presetAllLinearLora()),
    c('adaptLab.layers.biasesNorms', () => layers.presetBiasesNorms()),
    c('adaptLab.layers.clear', () => layers.clear()),
    c('adaptLab.layers.addLora', (n: InspectNode) => layers.setLora(n.path, true)),
    c('adaptLab.layers.removeLora', (n: InspectNode) => layers.setLora(n.path, false)),
  );

  // In Restricted Mode only once the workspace is trusted (reading a model starts a process).
  const restore = () => {
    const model = defaultModel();
    void layers.restore(model ? resolveSettingPath(model) : embeddedModels(context.extensionPath)[0]);
  };
  if (isTrusted()) restore();
  subs.push(vscode.workspace.onDidGrantWorkspaceTrust(restore));
  return view;
}
