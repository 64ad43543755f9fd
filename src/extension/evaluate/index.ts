// Evaluate Run: base against adapted on a prompts file (*.prompts.jsonl), optionally with a
// forgetting probe and in llama.cpp too (adaptLab.evaluation.runtime); writes <run>/eval.json.
// Runs `adapt-lab eval`.
import { basename, dirname, join } from 'node:path';
import * as vscode from 'vscode';
import { registerGuarded, runCliWithProgress } from '../commands';
import { pickOne } from '../pickers';
import { resolveRun, RunArg } from '../runs/pick';
import { evaluationRuntime } from '../settings';
import type { Shared } from '../shared';

/** What Evaluate Run adds to `adapt-lab eval` when called from code (the demo, tests). */
export interface EvaluateOptions {
  /** A text file for the forgetting check (`--probe`). */
  probe?: string;
  maxTokens?: number;
  /** Sampled answers per case for the stability figure (`--samples`). */
  samples?: number;
  /** False: no "evaluated" notification (the caller tells the user). */
  notify?: boolean;
  /** 'llamacpp': also run the cases in llama.cpp (`--runtime llamacpp`). Default: the adaptLab.evaluation.runtime setting. */
  runtime?: 'engine' | 'llamacpp';
}

/** Evaluate Run…; `promptsFile` (for scripts and tests) skips the question. Writes <run>/eval.json. */
export async function evaluateRun(s: Shared, arg: RunArg, promptsFile?: string, options: EvaluateOptions = {}): Promise<string | undefined> {
  const node = await resolveRun(s, arg, (n) => n.record.status !== 'running', 'Which run to evaluate?');
  if (!node) return undefined;
  let picked: { path: string } | undefined = promptsFile ? { path: promptsFile } : undefined;
  if (!picked) {
    const files = await vscode.workspace.findFiles('**/*.prompts.jsonl', '{**/node_modules/**,**/.adapt-lab/**}', 200);
    if (!files.length) throw new Error('no prompts file in this workspace: evaluation reads *.prompts.jsonl (one {"prompt", "expected"} per line)');
    picked = await pickOne(files.map((u) => ({ label: `$(checklist) ${basename(u.fsPath)}`, description: vscode.workspace.asRelativePath(dirname(u.fsPath), true), path: u.fsPath })), { title: `Evaluate "${node.record.name}"`, placeholder: 'Which prompts?' });
  }
  if (!picked) return undefined;
  const args = ['eval', '--model', node.record.config.model, '--adapter', node.runDir, '--prompts', picked.path];
  if (options.probe) args.push('--probe', options.probe);
  if (options.maxTokens !== undefined) args.push('--max-tokens', String(options.maxTokens));
  if (options.samples !== undefined) args.push('--samples', String(options.samples));
  if ((options.runtime ?? evaluationRuntime()) === 'llamacpp') args.push('--runtime', 'llamacpp');
  await runCliWithProgress(s, `Evaluating "${node.record.name}" on ${basename(picked.path)}…`, args, !promptsFile, [picked.path, ...(options.probe ? [options.probe] : [])]);
  s.runs.refresh(0);
  if (options.notify === false) return join(node.runDir, 'eval.json');
  void vscode.window.showInformationMessage(`Adapt Lab: evaluated "${node.record.name}" on ${basename(picked.path)}.`, 'Show Results', 'Compare Runs').then((a) => {
    if (a === 'Show Results') s.log.show(true);
    if (a === 'Compare Runs') void vscode.commands.executeCommand('adaptLab.compareRuns', node);
  });
  return join(node.runDir, 'eval.json');
}

export function register(context: vscode.ExtensionContext, s: Shared): (arg: RunArg, promptsFile?: string, options?: EvaluateOptions) => Promise<string | undefined> {
  const evaluate = (a: RunArg, prompts?: string, options?: EvaluateOptions) => evaluateRun(s, a, prompts, options);
  context.subscriptions.push(registerGuarded('adaptLab.evaluateRun', evaluate, s.log));
  return evaluate;
}
