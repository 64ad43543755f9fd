// Export Run: a run that is not training, in a format the user picks (PEFT, merged HF or GGUF,
// GGUF LoRA, an Ollama folder), into a folder that is new or holds an earlier export (the
// engine refuses any other, too). Runs `adapt-lab export`.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { EXPORT_MARKER } from '../../engine/core/export-guard';
import { registerGuarded, runCliWithProgress } from '../commands';
import { pickOne } from '../pickers';
import { resolveRun, RunArg } from '../runs/pick';
import type { Shared } from '../shared';

const FORMATS = [
  { label: 'peft', description: 'Hugging Face PEFT adapter', detail: 'adapter_config.json + adapter_model.safetensors (LoRA runs)', id: 'peft' },
  { label: 'merged-hf', description: 'merged model, Hugging Face safetensors folder', id: 'merged-hf' },
  { label: 'merged-gguf', description: 'merged model, GGUF (for llama.cpp, Ollama)', id: 'merged-gguf' },
  { label: 'gguf-lora', description: 'LoRA adapter, GGUF (llama.cpp --lora, Ollama ADAPTER)', detail: 'adapter.gguf, for the base GGUF (LoRA runs)', id: 'gguf-lora' },
  { label: 'ollama', description: 'Ollama model folder', detail: 'Modelfile (FROM, ADAPTER, TEMPLATE from the chat template, stop) with the GGUF adapter or merged model', id: 'ollama' },
];

/** Export Run…; `formatId` and `outDir` (for scripts and tests) skip the questions. */
export async function exportRun(s: Shared, arg: RunArg, formatId?: string, outDir?: string): Promise<string | undefined> {
  const node = await resolveRun(s, arg, (n) => n.record.status !== 'running', 'Which run to export?');
  if (!node) return undefined;
  const format = formatId ? { id: formatId } : await pickOne(FORMATS, { title: `Export "${node.record.name}"`, placeholder: 'Which format?' });
  if (!format) return undefined;
  const out = outDir ?? await vscode.window.showInputBox({
    title: `Export "${node.record.name}" as ${format.id}`, prompt: 'Output folder', value: join(node.runDir, 'exports', format.id), ignoreFocusOut: true,
    validateInput: (v) => (v.trim() ? undefined : 'Enter a folder'),
  });
  if (!out) return undefined;
  const dir = out.trim();
  const args = ['export', node.runDir, '--format', format.id, '--out', dir];
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    // Only an earlier export (it holds the marker) is ever replaced; the engine refuses the rest too.
    if (!existsSync(join(dir, EXPORT_MARKER))) throw new Error(`${dir} is not empty and was not made by an Adapt Lab export: choose a new folder (an export never replaces other folders)`);
    const ok = await vscode.window.showWarningMessage(`${dir} holds an earlier export. Replace it?`, { modal: true }, 'Replace');
    if (ok !== 'Replace') return undefined;
    args.push('--force');
  }
  await runCliWithProgress(s, `Exporting "${node.record.name}" as ${format.id}…`, args);
  s.runs.refresh(0);
  void vscode.window.showInformationMessage(`Adapt Lab: exported "${node.record.name}" to ${dir}`, 'Reveal in Explorer').then((a) => {
    if (a) void vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(dir));
  });
  return dir;
}

export function register(context: vscode.ExtensionContext, s: Shared): void {
  context.subscriptions.push(registerGuarded('adaptLab.exportRun', (a?: RunArg, format?: string, out?: string) => exportRun(s, a, format, out), s.log));
}
