// Suggest Layers: `adapt-lab suggest` ranks the model's modules by gradient norm on a data file;
// the strongest are ticked for LoRA in the Layers view. The --json answer is validated by the
// protocol's parseSuggestResult, as the CLI validates it before printing.
import { basename } from 'node:path';
import * as vscode from 'vscode';
import { ModuleScore, parseSuggestResult } from '../../protocol/suggest';
import { runCliWithProgress } from '../commands';
import { modelLabel, pickDataset } from '../pickers';
import type { Shared } from '../shared';

export async function suggestLayers(s: Shared, chooseModel: () => Promise<void>, data?: string, top = 5): Promise<ModuleScore[] | undefined> {
  const layers = s.layers;
  if (!layers.info || !layers.modelPath) {
    await chooseModel();
    if (!layers.info || !layers.modelPath) return undefined;
  }
  const model = layers.modelPath!;
  const file = data ?? await pickDataset({ title: 'Suggest Layers' }, 'Which data to probe the gradients with?');
  if (!file) return undefined;
  const stdout = await runCliWithProgress(s, `Ranking the modules of ${modelLabel(model)} by gradient norm on ${basename(file)}…`, ['suggest', '--model', model, '--data', file, '--json'], false, [file]);
  const parsed = parseSuggestResult(JSON.parse(stdout), `adapt-lab suggest --model ${model} --json`);
  layers.applySuggestions(parsed.modules, top);
  void vscode.commands.executeCommand('adaptLab.layers.focus');
  const names = parsed.modules.slice(0, top).map((m) => m.path.split('.').slice(-3).join('.')).join(', ');
  void vscode.window.showInformationMessage(`Adapt Lab: ticked the ${Math.min(top, parsed.modules.length)} modules with the strongest gradient signal: ${names}.`);
  return parsed.modules;
}
