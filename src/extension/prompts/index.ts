// Evaluating prompts where they are written: diagnostics and CodeLens in `*.prompts.jsonl`
// files, inline answers with hovers, Evaluate Selection, prompt cases in the Test Explorer, and
// the active run they evaluate against. Everything heavy happens in one long-lived inference
// worker process (`adapt-lab worker`), started on the first evaluation.
import { fork } from 'node:child_process';
import * as vscode from 'vscode';
import { childEnv } from '../cli';
import { embeddedModels } from '../pickers';
import { ActiveRun, CHOOSE_RUN_COMMAND } from './activeRun';
import { PROMPTS_GLOB } from './cases';
import { PromptCodeLensProvider, RUN_CASE_COMMAND } from './codeLens';
import { PromptDiagnostics } from './diagnostics';
import { CaseMode, PromptEvaluator } from './evaluator';
import { LineResult, ResultStore } from './results';
import { PromptTests, TestOutcome } from './testing';
import { WorkerClient } from './workerClient';
import { assertTrusted } from '../trust';
import * as settings from '../settings';
import type { Shared } from '../shared';
import type { RunNode } from '../runs/tree';
import { runsDirs } from '../runs/tree';

export interface PromptFeatureDeps {
  extensionUri: vscode.Uri;
  /** dist/cli.js (forked as `adapt-lab worker`). */
  cliPath: string;
  /** The Node runtime for the worker (adaptLab.nodePath or the extension host's). */
  nodePath: () => string;
  /** The runs folder whose finished runs can be the active run. */
  runsDir: () => string | undefined;
  output: vscode.OutputChannel;
}

/** What this extension's own tests drive and read. */
export interface PromptTestHooks {
  /** Same as clicking a CodeLens (line is 0-based); resolves when every answer is in. */
  runCase(uri: vscode.Uri, line: number, mode: CaseMode): Promise<LineResult | undefined>;
  /** Evaluate Selection on an editor; resolves when the answer is in (or cancelled: `signal` does what the notification's Cancel does). */
  evaluateSelection(editor?: vscode.TextEditor, signal?: AbortSignal): Promise<LineResult | undefined>;
  /** The inline text last handed to a visible editor for a 0-based line. */
  inlineText(uri: vscode.Uri, line: number): string | undefined;
  /** The result covering a 0-based line. */
  result(uri: vscode.Uri, line: number): LineResult | undefined;
  /** Runs prompt-case tests with a profile (all, or `include`), as the Test Explorer would. */
  runTests(profile: 'base' | 'adapted', include?: vscode.TestItem[]): Promise<TestOutcome[]>;
  /** Outcomes of the last test run (also after one started from the Test Explorer). */
  readonly lastTestRun: TestOutcome[];
  readonly onDidEndTestRun: vscode.Event<TestOutcome[]>;
  readonly testController: vscode.TestController;
  readonly diagnostics: vscode.DiagnosticCollection;
  /** The worker process: its pid (undefined until the first evaluation) and how many were started. */
  readonly worker: { readonly pid: number | undefined; readonly startCount: number; readonly busy: boolean };
  /** The active-run status-bar item's text. */
  readonly statusText: string;
}

export interface PromptFeatures {
  /** Makes `runDir` the active run (undefined: none). False, after telling the user why, when it cannot be one (no checkpoint...). */
  setActiveRun(runDir: string | undefined): boolean;
  getActiveRun(): string | undefined;
  readonly onDidChangeActiveRun: vscode.Event<string | undefined>;
  readonly test: PromptTestHooks;
}

export function registerPromptFeatures(context: vscode.ExtensionContext, deps: PromptFeatureDeps): PromptFeatures {
  const subs = context.subscriptions;
  const log = (line: string) => deps.output.appendLine(line);

  const worker = new WorkerClient(
    () => {
      assertTrusted('Evaluating prompts');
      return fork(deps.cliPath, ['worker', '--backend', settings.backend()], {
        execPath: deps.nodePath(),
        // node-llama-cpp (inline prompts in llama.cpp) is looked for beside the extension, then here.
        cwd: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath,
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        env: childEnv({ blas: settings.blas() }),
      });
    },
    {
      log,
      onExit: (e) => {
        if (!e.pending) return;
        const why = e.signal ? `was killed (${e.signal})` : `exited with status ${e.code}`;
        void vscode.window.showErrorMessage(`Adapt Lab: the inference worker ${why} during an evaluation; the next evaluation starts a new one.`, 'Open Log').then((c) => {
          if (c) deps.output.show(true);
        });
      },
    },
  );
  subs.push({ dispose: () => worker.dispose() });

  const activeRun = new ActiveRun(context.workspaceState, deps.runsDir);
  const results = new ResultStore();
  const evaluator = new PromptEvaluator(worker, activeRun, results, context.workspaceState, () => embeddedModels(deps.extensionUri.fsPath));
  const diagnostics = new PromptDiagnostics();
  const lenses = new PromptCodeLensProvider(activeRun);
  const maxTokens = settings.promptsMaxTokens;
  const tests = new PromptTests(evaluator, activeRun, maxTokens);
  subs.push(activeRun, results, diagnostics, lenses, tests);
  subs.push(vscode.languages.registerCodeLensProvider({ pattern: PROMPTS_GLOB }, lenses));

  const fail = (e: unknown) => {
    const msg = e instanceof Error ? e.message : String(e);
    log(`prompts: ${msg}`);
    void vscode.window.showErrorMessage(`Adapt Lab: ${msg.split('\n')[0]}`);
  };

  const runCase = async (uri: vscode.Uri, line: number, mode: CaseMode): Promise<LineResult | undefined> => {
    const doc = await vscode.workspace.openTextDocument(uri);
    return vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'Adapt Lab: evaluating' }, () => evaluator.runCase(doc, line, mode));
  };

  const setActiveRun = (runDir: string | undefined): boolean => {
    try {
      activeRun.set(runDir);
      return true;
    } catch (e) {
      fail(e);
      return false;
    }
  };

  subs.push(
    vscode.commands.registerCommand(RUN_CASE_COMMAND, (uri: vscode.Uri, line: number, mode: CaseMode) => runCase(uri, line, mode).catch(fail)),
    vscode.commands.registerCommand('adaptLab.evaluateSelection', () => evaluator.evaluateSelection().catch(fail)),
    vscode.commands.registerCommand(CHOOSE_RUN_COMMAND, () => activeRun.pick().catch(fail)),
    vscode.commands.registerCommand('adaptLab.prompts.chooseBaseModel', () => evaluator.chooseBaseModel().catch(fail)),
    vscode.commands.registerCommand('adaptLab.prompts.clearResults', () => results.clear()),
  );

  const test: PromptTestHooks = {
    runCase,
    evaluateSelection: (editor, signal) => evaluator.evaluateSelection(editor, signal),
    inlineText: (uri, line) => results.renderedText(uri, line),
    result: (uri, line) => results.at(uri, line),
    runTests: (profile, include) => {
      const cts = new vscode.CancellationTokenSource();
      return tests.run(new vscode.TestRunRequest(include, undefined, tests.profiles[profile]), cts.token, profile).finally(() => cts.dispose());
    },
    get lastTestRun() {
      return tests.lastRun;
    },
    onDidEndTestRun: tests.onDidEndRun,
    testController: tests.controller,
    diagnostics: diagnostics.collection,
    worker: {
      get pid() {
        return worker.pid;
      },
      get startCount() {
        return worker.startCount;
      },
      get busy() {
        return worker.busy;
      },
    },
    get statusText() {
      return activeRun.statusText;
    },
  };

  return {
    setActiveRun,
    getActiveRun: () => activeRun.runDir,
    onDidChangeActiveRun: activeRun.onDidChange,
    test,
  };
}

/** The prompts feature as activate() wires it: the worker on the CLI runtime, runs from the first workspace folder, and Set as Active Run on a Runs view item. */
export function register(context: vscode.ExtensionContext, s: Shared): PromptFeatures {
  const prompts = registerPromptFeatures(context, {
    extensionUri: context.extensionUri, cliPath: s.rt().cliPath, nodePath: () => s.rt().execPath, runsDir: () => runsDirs()[0], output: s.log,
  });
  context.subscriptions.push(vscode.commands.registerCommand('adaptLab.setActiveRun', (node?: RunNode) => {
    if (node?.runDir) prompts.setActiveRun(node.runDir);
    else void vscode.commands.executeCommand(CHOOSE_RUN_COMMAND);
  }));
  return prompts;
}
