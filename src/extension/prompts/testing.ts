// Prompt cases with an `expected` answer as tests in the Test Explorer: one group per
// `*.prompts.jsonl` of the workspace, two run profiles (the base model, the active run), a
// failure showing expected against actual, and the worker's own timing as the duration.
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import * as vscode from 'vscode';
import { PromptCase } from '../../engine/core/prompts';
import { analyzePrompts, PROMPTS_GLOB, isPromptsFile, shorten, stopsOf } from './cases';
import { PromptEvaluator, ModelChoice } from './evaluator';
import { Which } from './results';
import { ActiveRun } from './activeRun';

export const CONTROLLER_ID = 'adaptLab.promptCases';

/** One finished test, as the last run reported it (for tests of this extension). */
export interface TestOutcome {
  id: string;
  label: string;
  state: 'passed' | 'failed' | 'errored' | 'skipped';
  durationMs?: number;
  message?: string;
  expected?: string;
  actual?: string;
}

export class PromptTests implements vscode.Disposable {
  readonly controller = vscode.tests.createTestController(CONTROLLER_ID, 'Prompt cases');
  readonly profiles: Record<Which, vscode.TestRunProfile>;
  private readonly subs: vscode.Disposable[] = [];
  private readonly cases = new WeakMap<vscode.TestItem, PromptCase>();
  private discovered?: Promise<void>;
  /** Outcomes of the last run, in order. */
  lastRun: TestOutcome[] = [];
  private readonly runEnded = new vscode.EventEmitter<TestOutcome[]>();
  readonly onDidEndRun = this.runEnded.event;

  constructor(private readonly evaluator: PromptEvaluator, private readonly activeRun: ActiveRun, private readonly maxTokens: () => number) {
    const c = this.controller;
    c.resolveHandler = async (item) => {
      if (!item) await this.discover();
    };
    c.refreshHandler = async () => {
      this.discovered = undefined;
      await this.discover();
    };
    this.profiles = {
      base: c.createRunProfile('Base model', vscode.TestRunProfileKind.Run, async (req, token) => void (await this.run(req, token, 'base')), true),
      adapted: c.createRunProfile('Active run', vscode.TestRunProfileKind.Run, async (req, token) => void (await this.run(req, token, 'adapted')), false),
    };
    const watcher = vscode.workspace.createFileSystemWatcher(PROMPTS_GLOB);
    this.subs.push(
      watcher,
      watcher.onDidCreate((u) => void this.updateFromDisk(u)),
      watcher.onDidChange((u) => {
        // An open document is followed through its edits instead.
        if (!vscode.workspace.textDocuments.some((d) => d.uri.toString() === u.toString() && d.isDirty)) void this.updateFromDisk(u);
      }),
      watcher.onDidDelete((u) => c.items.delete(u.toString())),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (isPromptsFile(e.document.fileName) && e.document.uri.scheme === 'file') this.updateFile(e.document.uri, e.document.getText());
      }),
      vscode.workspace.onDidOpenTextDocument((d) => {
        if (isPromptsFile(d.fileName) && d.uri.scheme === 'file') this.updateFile(d.uri, d.getText());
      }),
    );
  }

  /** Finds every prompts file of the workspace (once; the watcher keeps the tree current). */
  discover(): Promise<void> {
    this.discovered ??= (async () => {
      const uris = await vscode.workspace.findFiles(PROMPTS_GLOB, '**/{node_modules,.git,.adapt-lab}/**');
      const seen = new Set(uris.map((u) => u.toString()));
      this.controller.items.forEach((i) => {
        if (!seen.has(i.id)) this.controller.items.delete(i.id);
      });
      await Promise.all(uris.map((u) => this.updateFromDisk(u)));
    })();
    return this.discovered;
  }

  private async updateFromDisk(uri: vscode.Uri): Promise<void> {
    const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
    let text: string;
    try {
      text = open ? open.getText() : await readFile(uri.fsPath, 'utf8');
    } catch {
      this.controller.items.delete(uri.toString());
      return;
    }
    this.updateFile(uri, text);
  }

  /** (Re)builds a file's group from its text: cases with `expected`, by case id. */
  updateFile(uri: vscode.Uri, text: string): vscode.TestItem | undefined {
    const c = this.controller;
    const { cases, problems } = analyzePrompts(text, basename(uri.fsPath));
    const withExpected = cases.filter((x) => x.expected !== undefined);
    let file = c.items.get(uri.toString());
    if (!withExpected.length && !problems.length) {
      if (file) c.items.delete(file.id);
      return undefined;
    }
    if (!file) {
      file = c.createTestItem(uri.toString(), basename(uri.fsPath), uri);
      c.items.add(file);
    }
    file.description = vscode.workspace.asRelativePath(uri, false) !== basename(uri.fsPath) ? vscode.workspace.asRelativePath(vscode.Uri.joinPath(uri, '..'), false) : undefined;
    file.error = problems.length ? new vscode.MarkdownString(`${problems.length} bad line${problems.length > 1 ? 's' : ''} (see the Problems panel), first: line ${problems[0].line}: ${problems[0].message}`) : undefined;
    const children: vscode.TestItem[] = [];
    for (const pc of withExpected) {
      const item = file.children.get(pc.id) ?? c.createTestItem(pc.id, '', uri);
      item.label = /^line-\d+$/.test(pc.id) ? shorten(pc.prompt, 50) : pc.id;
      item.description = `expects ${JSON.stringify(pc.expected)}${pc.match !== 'exact' ? ` (${pc.match})` : ''}`;
      item.range = new vscode.Range(pc.line - 1, 0, pc.line - 1, 0);
      this.cases.set(item, pc);
      children.push(item);
    }
    file.children.replace(children);
    return file;
  }

  /** Runs a request with one profile's model. */
  async run(request: vscode.TestRunRequest, token: vscode.CancellationToken, which: Which): Promise<TestOutcome[]> {
    await this.discover();
    const items: vscode.TestItem[] = [];
    const excluded = new Set(request.exclude ?? []);
    const collect = (it: vscode.TestItem) => {
      if (excluded.has(it)) return;
      if (this.cases.has(it) && it.parent) items.push(it);
      else it.children.forEach(collect);
    };
    if (request.include) request.include.forEach(collect);
    else this.controller.items.forEach(collect);

    const run = this.controller.createTestRun(request, which === 'base' ? 'Prompt cases · base model' : 'Prompt cases · active run', true);
    const outcomes: TestOutcome[] = [];
    const ac = new AbortController();
    const sub = token.onCancellationRequested(() => ac.abort());
    try {
      items.forEach((i) => run.enqueued(i));
      let choice: ModelChoice | undefined;
      let why = '';
      if (items.length) {
        if (which === 'adapted' && !this.activeRun.info) why = 'No active run: choose one with "Adapt Lab: Choose Active Run for Prompts" (status bar) or from the Runs view';
        else {
          try {
            choice = await this.evaluator.modelFor(which);
          } catch (e) {
            why = (e as Error).message;
          }
          if (!choice && !why) why = 'No base model: set adaptLab.defaultModel or choose one';
        }
      }
      for (const item of items) {
        const pc = this.cases.get(item)!;
        const label = item.label;
        if (!choice) {
          run.errored(item, new vscode.TestMessage(why));
          outcomes.push({ id: item.id, label, state: 'errored', message: why });
          continue;
        }
        if (token.isCancellationRequested) {
          run.skipped(item);
          outcomes.push({ id: item.id, label, state: 'skipped' });
          continue;
        }
        run.started(item);
        const a = await this.evaluator.answer(choice, pc.prompt, { maxTokens: this.maxTokens(), stop: stopsOf(pc), expected: pc.expected, match: pc.match, messages: pc.messages, signal: ac.signal });
        const duration = a.done?.totalMs;
        const where = item.uri && item.range ? new vscode.Location(item.uri, item.range) : undefined;
        if (a.state === 'cancelled') {
          run.skipped(item);
          outcomes.push({ id: item.id, label, state: 'skipped' });
        } else if (a.state === 'error') {
          const m = new vscode.TestMessage(a.error ?? 'failed');
          m.location = where;
          run.errored(item, m);
          outcomes.push({ id: item.id, label, state: 'errored', message: a.error });
        } else if (a.correct) {
          run.passed(item, duration);
          outcomes.push({ id: item.id, label, state: 'passed', durationMs: duration, actual: a.text });
        } else {
          const expected = pc.expected!;
          const actual = a.text.trim();
          const m = vscode.TestMessage.diff(`${choice.label} answered ${JSON.stringify(actual)}; expected ${pc.match === 'exact' ? '' : `(${pc.match}) `}${JSON.stringify(expected)}`, expected, actual);
          m.location = where;
          run.failed(item, m, duration);
          outcomes.push({ id: item.id, label, state: 'failed', durationMs: duration, message: m.message as string, expected, actual });
        }
        run.appendOutput(`${a.correct ? '✓' : '✗'} ${label}: ${JSON.stringify(a.text)} (${duration !== undefined ? Math.round(duration) : '?'} ms)\r\n`, undefined, item);
      }
    } finally {
      sub.dispose();
      run.end();
      this.lastRun = outcomes;
      this.runEnded.fire(outcomes);
    }
    return outcomes;
  }

  dispose(): void {
    this.subs.forEach((d) => d.dispose());
    this.runEnded.dispose();
    this.controller.dispose();
  }
}
