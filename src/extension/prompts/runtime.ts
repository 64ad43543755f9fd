// Inline prompts in llama.cpp (adaptLab.evaluation.runtime = "llamacpp"): how answers are
// labelled, and what a user is told when the worker cannot load node-llama-cpp. That package
// carries native binaries and is not inside the packaged extension: the worker looks for it
// beside the extension and in the workspace folder (its working folder).
import * as vscode from 'vscode';
import { LLAMACPP_MISSING, PromptRuntime } from '../../protocol/worker';
import { setEvaluationRuntime } from '../settings';

export const NODE_LLAMA_CPP = 'node-llama-cpp@3.21.1';

export const RUNTIME_LABEL: Record<PromptRuntime, string> = { engine: '', llamacpp: ' · llama.cpp' };

/** The worker's message when node-llama-cpp could not be imported (engine/llamacpp/runtime.ts). */
export function isLlamaCppMissing(message: string): boolean {
  return message.includes(LLAMACPP_MISSING);
}

let told = false;

/** Once per session: how to install node-llama-cpp, or go back to the engine. */
export function llamaCppMissing(message: string | undefined): void {
  if (!message || !isLlamaCppMissing(message) || told) return;
  told = true;
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const install = `npm install ${NODE_LLAMA_CPP}`;
  void vscode.window.showWarningMessage(
    `Adapt Lab: inline prompts are set to run in llama.cpp (adaptLab.evaluation.runtime), which needs the npm package ${NODE_LLAMA_CPP}. `
    + `It is not part of the extension: run \`${install}\` in ${folder ? `the workspace folder (${folder})` : 'a folder you open as the workspace'}, or answer with Adapt Lab's engine.`,
    'Copy Install Command', "Use Adapt Lab's Engine",
  ).then(async (choice) => {
    if (choice === 'Copy Install Command') await vscode.env.clipboard.writeText(install);
    if (choice === "Use Adapt Lab's Engine") await setEvaluationRuntime('engine');
  });
}
