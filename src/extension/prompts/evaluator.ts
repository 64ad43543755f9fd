// Evaluating prompts through the worker: a case of a prompts file with the base model, the
// active run's adapted model, or both (⇄ Compare), and a selection of any file. Answers stream
// into the inline result as they come.
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import * as vscode from 'vscode';
import { PromptCase } from '../../engine/core/prompts';
import { matches } from '../../engine/core/match';
import { ActiveRun } from './activeRun';
import * as settings from '../settings';
import { resolveSettingPath } from '../settings';
import { analyzePrompts, caseAtLine, stopsOf } from './cases';
import { Answer, LineResult, ResultStore, Which } from './results';
import { CancelledError, WorkerClient } from './workerClient';
import type { PromptMessage, PromptRuntime } from '../../protocol/worker';
import { llamaCppMissing, RUNTIME_LABEL } from './runtime';

export type CaseMode = Which | 'compare';

const BASE_MODEL_KEY = 'adaptLab.prompts.baseModel';
const TOP_ALTERNATIVES = 4;

export interface ModelChoice {
  which: Which;
  label: string;
  model: string;
  adapter?: string;
  /** Who answers (adaptLab.evaluation.runtime); the engine when absent. */
  runtime?: PromptRuntime;
}


export class PromptEvaluator {
  constructor(
    private readonly worker: WorkerClient,
    private readonly activeRun: ActiveRun,
    private readonly results: ResultStore,
    private readonly state: vscode.Memento,
    /** The models shipped inside the extension, offered first. */
    private readonly embedded: () => string[] = () => [],
  ) {}

  /**
   * The base model: the active run's base when a run is active, else adaptLab.defaultModel,
   * else the one chosen last time, else asked for (`ask` false: undefined instead).
   */
  async baseModel(ask = true): Promise<string | undefined> {
    const run = this.activeRun.info;
    if (run) return run.model;
    const defaultModel = settings.defaultModel();
    if (defaultModel) return resolveSettingPath(defaultModel);
    const remembered = this.state.get<string>(BASE_MODEL_KEY);
    if (remembered && existsSync(remembered)) return remembered;
    return ask ? this.chooseBaseModel() : undefined;
  }

  /** A quick pick of the embedded model, adaptLab.extraModels and the base models of the workspace's runs, or Browse…. */
  async chooseBaseModel(): Promise<string | undefined> {
    type Item = vscode.QuickPickItem & { path?: string; browse?: boolean };
    const seen = new Set<string>();
    const items: Item[] = [];
    const add = (p: string, description: string) => {
      if (seen.has(p)) return;
      seen.add(p);
      items.push({ label: `$(file-binary) ${basename(p)}`, description, detail: p, path: p });
    };
    for (const p of this.embedded()) add(p, 'embedded');
    for (const p of settings.extraModels()) add(resolveSettingPath(p.trim()), 'adaptLab.extraModels');
    const remembered = this.state.get<string>(BASE_MODEL_KEY);
    if (remembered) add(remembered, 'last used');
    for (const r of this.activeRun.candidates()) add(r.model, `base of run ${r.name}`);
    items.push({ label: '$(folder-opened) Browse…', browse: true });
    const picked = await vscode.window.showQuickPick(items, { title: 'Adapt Lab: Base Model for Prompts', placeHolder: 'Which model answers the prompts? (set adaptLab.defaultModel to skip this)' });
    if (!picked) return undefined;
    let path = picked.path;
    if (picked.browse) {
      const uris = await vscode.window.showOpenDialog({ title: 'Choose a model (.gguf file or Hugging Face folder)', canSelectFiles: true, canSelectFolders: true, canSelectMany: false, openLabel: 'Use Model' });
      path = uris?.[0]?.fsPath;
    }
    if (path) await this.state.update(BASE_MODEL_KEY, path);
    return path;
  }

  /** The model for `which`; undefined when the user gave none. `adapted` asks for a run if none is active. */
  async modelFor(which: Which): Promise<ModelChoice | undefined> {
    // The same setting as Evaluate Run: prompts are answered where the report runs them.
    const runtime = settings.evaluationRuntime();
    const where = RUNTIME_LABEL[runtime];
    if (which === 'adapted') {
      const run = this.activeRun.info ?? (await this.activeRun.pick());
      if (!run) return undefined;
      return { which, label: `Adapted (${run.name})${where}`, model: run.model, adapter: run.runDir, runtime };
    }
    const model = await this.baseModel();
    return model ? { which, label: `Base${where}`, model, runtime } : undefined;
  }

  /** One answer from the worker; `onToken` sees the text so far. Errors become an `error` answer. */
  async answer(choice: ModelChoice, prompt: string, opts: { maxTokens: number; stop?: string[]; expected?: string; match?: PromptCase['match']; messages?: PromptMessage[]; signal?: AbortSignal; onUpdate?: (a: Answer) => void }): Promise<Answer> {
    const a: Answer = { which: choice.which, label: choice.label, model: choice.model, adapter: choice.adapter, text: '', state: 'waiting' };
    try {
      const done = await this.worker.generate(
        {
          model: choice.model, adapter: choice.adapter, prompt, maxTokens: opts.maxTokens, stop: opts.stop, top: TOP_ALTERNATIVES,
          ...(opts.messages ? { messages: opts.messages } : {}), ...(choice.runtime === 'llamacpp' ? { runtime: 'llamacpp' as const } : {}),
        },
        {
          signal: opts.signal,
          onToken: (t) => {
            a.text += t;
            a.state = 'streaming';
            opts.onUpdate?.(a);
          },
        },
      );
      a.text = done.text;
      a.done = done;
      a.state = done.stopReason === 'cancelled' ? 'cancelled' : 'done';
      if (opts.expected !== undefined && a.state === 'done') a.correct = matches(done.text, opts.expected, opts.match ?? 'exact');
    } catch (e) {
      if (e instanceof CancelledError) a.state = 'cancelled';
      else {
        a.state = 'error';
        a.error = (e as Error).message;
        if (choice.runtime === 'llamacpp') llamaCppMissing(a.error);
      }
    }
    opts.onUpdate?.(a);
    return a;
  }

  /** Runs the case on a 0-based line; the result shows inline. Undefined when there is no valid case there or no model. */
  async runCase(doc: vscode.TextDocument, line: number, mode: CaseMode, signal?: AbortSignal): Promise<LineResult | undefined> {
    const analyzed = analyzePrompts(doc.getText(), basename(doc.fileName));
    const c = caseAtLine(analyzed, line + 1);
    if (!c) {
      const problem = analyzed.problems.find((p) => p.line === line + 1);
      void vscode.window.showWarningMessage(`Adapt Lab: line ${line + 1} is not a valid case${problem ? `: ${problem.message}` : ''}`);
      return undefined;
    }
    const whiches: Which[] = mode === 'compare' ? ['base', 'adapted'] : [mode];
    const choices: ModelChoice[] = [];
    // Adapted first: choosing a run also decides the base model (the run's base).
    for (const w of [...whiches].reverse()) {
      const ch = await this.modelFor(w);
      if (!ch) return undefined;
      choices.unshift(ch);
    }
    if (mode === 'compare') choices[0] = { ...choices[0], model: choices[1].model };
    return this.evaluate(doc.uri, { startLine: line, endLine: line, anchor: doc.lineAt(line).range.end, prompt: c.prompt, expected: c.expected, match: c.match, caseId: c.id }, choices, {
      maxTokens: settings.promptsMaxTokens(), stop: stopsOf(c), signal, messages: c.messages,
    });
  }

  /** Answers `choices` one after the other into a fresh inline result. */
  async evaluate(uri: vscode.Uri, where: Omit<LineResult, 'answers'>, choices: ModelChoice[], opts: { maxTokens: number; stop?: string[]; signal?: AbortSignal; messages?: PromptMessage[] }): Promise<LineResult> {
    const r: LineResult = { ...where, answers: choices.map((ch) => ({ which: ch.which, label: ch.label, model: ch.model, adapter: ch.adapter, text: '', state: 'waiting' as const })) };
    this.results.put(uri, r);
    for (let i = 0; i < choices.length; i++) {
      if (opts.signal?.aborted) {
        r.answers[i].state = 'cancelled';
        continue;
      }
      r.answers[i] = await this.answer(choices[i], r.prompt, {
        ...opts, expected: r.expected, match: r.match,
        onUpdate: (a) => {
          r.answers[i] = a;
          this.results.changed(uri, r);
        },
      });
      this.results.changed(uri, r, true);
    }
    return r;
  }

  /**
   * Evaluate Selection: the selected text as a prompt to the active run's adapted model (the
   * base model when no run is active); streams in after the selection; cancellable.
   */
  async evaluateSelection(editor: vscode.TextEditor | undefined = vscode.window.activeTextEditor, signal?: AbortSignal): Promise<LineResult | undefined> {
    if (!editor || editor.selection.isEmpty) {
      void vscode.window.showInformationMessage('Adapt Lab: select the text to send as a prompt first.');
      return undefined;
    }
    const sel = editor.selection;
    const prompt = editor.document.getText(sel);
    const choice = await this.modelFor(this.activeRun.info ? 'adapted' : 'base');
    if (!choice) return undefined;
    // A selection of whole lines ends at column 0 of the next one: the answer goes after the last selected line.
    const end = sel.end.character === 0 && sel.end.line > sel.start.line ? editor.document.lineAt(sel.end.line - 1).range.end : sel.end;
    const where = { startLine: sel.start.line, endLine: end.line, anchor: end, prompt };
    return vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Adapt Lab: ${choice.label} is answering…`, cancellable: true },
      (_p, token) => {
        const ac = new AbortController();
        const sub = token.onCancellationRequested(() => ac.abort());
        const abort = () => ac.abort();
        signal?.addEventListener('abort', abort);
        return this.evaluate(editor.document.uri, where, [choice], { maxTokens: settings.promptsSelectionMaxTokens(), signal: ac.signal }).finally(() => {
          sub.dispose();
          signal?.removeEventListener('abort', abort);
        });
      },
    );
  }
}
