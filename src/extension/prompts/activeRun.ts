// The active run: the adapted model that `▶ Adapted`, `⇄ Compare`, Evaluate Selection and the
// "Active run" test profile use. Chosen in the Runs view (the core calls setActiveRun) or from
// the status-bar item, remembered per workspace.
import { basename, join } from 'node:path';
import * as vscode from 'vscode';
import { listRuns, readRunRecord, RunRecord } from '../../engine/core/runs/store';
import { bestCheckpoint, latestCheckpoint } from '../../engine/core/runs/checkpoint';

const STATE_KEY = 'adaptLab.prompts.activeRun';
export const CHOOSE_RUN_COMMAND = 'adaptLab.chooseActiveRun';

export interface ActiveRunInfo {
  runDir: string;
  /** The run's name (or id). */
  name: string;
  /** The base model the run adapted (its config's model path). */
  model: string;
  record: RunRecord;
}

/** The run in `runDir` if it can be evaluated: a run.json with a model, and a checkpoint. */
export function readActiveRun(runDir: string): ActiveRunInfo {
  const record = readRunRecord(runDir);
  const model = record.config?.model;
  if (typeof model !== 'string' || !model) throw new Error(`${runDir}: the run's config names no model`);
  if (!bestCheckpoint(runDir) && !latestCheckpoint(runDir)) throw new Error(`run "${record.name || record.id}" has no checkpoint yet`);
  return { runDir, name: record.name || record.id, model, record };
}

export class ActiveRun implements vscode.Disposable {
  private current?: ActiveRunInfo;
  private readonly emitter = new vscode.EventEmitter<string | undefined>();
  readonly onDidChange = this.emitter.event;
  private readonly item = vscode.window.createStatusBarItem('adaptLab.activeRun', vscode.StatusBarAlignment.Left, 40);
  private readonly subs: vscode.Disposable[] = [];

  constructor(private readonly state: vscode.Memento, private readonly runsDir: () => string | undefined) {
    this.item.name = 'Adapt Lab Active Run';
    this.item.command = CHOOSE_RUN_COMMAND;
    const saved = state.get<string>(STATE_KEY);
    if (saved) {
      try {
        this.current = readActiveRun(saved);
      } catch {
        void state.update(STATE_KEY, undefined);
      }
    }
    this.subs.push(vscode.window.onDidChangeActiveTextEditor(() => this.render()));
    this.render();
  }

  get info(): ActiveRunInfo | undefined {
    return this.current;
  }

  get runDir(): string | undefined {
    return this.current?.runDir;
  }

  /** Throws (with a message for people) when `runDir` is not a run with a checkpoint. */
  set(runDir: string | undefined): void {
    const next = runDir ? readActiveRun(runDir) : undefined;
    const changed = next?.runDir !== this.current?.runDir;
    this.current = next;
    void this.state.update(STATE_KEY, next?.runDir);
    this.render();
    if (changed) this.emitter.fire(next?.runDir);
  }

  /** Finished runs with a checkpoint, newest first. */
  candidates(): ActiveRunInfo[] {
    const dir = this.runsDir();
    if (!dir) return [];
    const out: ActiveRunInfo[] = [];
    for (const r of listRuns(dir)) {
      if (r.status !== 'finished') continue;
      try {
        out.push(readActiveRun(join(dir, r.id)));
      } catch {
        continue;
      }
    }
    return out;
  }

  /** The status-bar picker; resolves with the run chosen (undefined: none, or dismissed). */
  async pick(): Promise<ActiveRunInfo | undefined> {
    type Item = vscode.QuickPickItem & { runDir?: string; none?: boolean };
    const runs = this.candidates();
    const items: Item[] = runs.map((r) => ({
      label: `${r.runDir === this.current?.runDir ? '$(check)' : '$(beaker)'} ${r.name}`,
      description: [r.record.method, r.record.bestValLoss !== undefined ? `val ${r.record.bestValLoss.toFixed(3)}` : ''].filter(Boolean).join(' · '),
      detail: `base ${basename(r.model)} · ${r.record.endedAt ? new Date(r.record.endedAt).toLocaleString() : r.record.id}`,
      runDir: r.runDir,
    }));
    if (this.current) items.push({ label: '$(circle-slash) No Active Run', description: 'evaluate with the base model only', none: true });
    const picked = await vscode.window.showQuickPick(items, {
      title: 'Adapt Lab: Active Run for Prompts',
      placeHolder: runs.length ? 'The adapted model that ▶ Adapted, ⇄ Compare and Evaluate Selection use' : 'No finished run with a checkpoint in this workspace yet',
      matchOnDescription: true,
    });
    if (!picked) return this.current;
    this.set(picked.none ? undefined : picked.runDir);
    return this.current;
  }

  private render(): void {
    void vscode.commands.executeCommand('setContext', 'adaptLab.hasActiveRun', !!this.current);
    if (this.current) {
      this.item.text = `$(beaker) ${this.current.name}`;
      this.item.tooltip = `Adapt Lab: prompts are evaluated with run "${this.current.name}" (base ${this.current.model})\nClick to choose another run`;
      this.item.show();
      return;
    }
    const doc = vscode.window.activeTextEditor?.document;
    if (doc && doc.fileName.endsWith('.prompts.jsonl')) {
      this.item.text = '$(beaker) No active run';
      this.item.tooltip = 'Adapt Lab: choose the run whose adapted model ▶ Adapted and ⇄ Compare use';
      this.item.show();
    } else this.item.hide();
  }

  /** What the status-bar item shows, and whether it is visible (for tests). */
  get statusText(): string {
    return this.item.text;
  }

  dispose(): void {
    this.subs.forEach((d) => d.dispose());
    this.item.dispose();
    this.emitter.dispose();
  }
}
