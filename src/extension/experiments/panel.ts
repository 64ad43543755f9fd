// The leaderboard of an experiment: a webview panel (one per experiment) with the sortable
// table and the parallel-coordinates chart (webview/experiments/). The host sends the whole
// view on every change (a trial's step, state.json rewritten); the page asks to promote a trial.
import * as vscode from 'vscode';
import { LeaderboardHostMessage, parseLeaderboardWebviewMessage, PromoteAction } from '../../protocol/experiment-view';
import { readExperimentState } from '../../engine/core/experiment/state';
import { pageFor, webviewOptions } from '../monitor/provider';
import { ExperimentManager } from './session';
import { experimentView } from './view';

export const LEADERBOARD_VIEW_TYPE = 'adaptLab.leaderboard';

export interface LeaderboardActions {
  promote(runDir: string, action: PromoteAction): Promise<unknown>;
  open(runDir: string): void;
}

export class LeaderboardPanels implements vscode.Disposable {
  private readonly panels = new Map<string, { panel: vscode.WebviewPanel; ready: boolean }>();
  private timer?: NodeJS.Timeout;

  constructor(private readonly extensionUri: vscode.Uri, private readonly manager: ExperimentManager, private readonly actions: LeaderboardActions) {}

  /** The message for the experiment in `dir` as it is now. */
  message(dir: string): LeaderboardHostMessage {
    const state = readExperimentState(dir);
    if (!state) throw new Error(`${dir}: no experiment state (state.json) there`);
    const session = this.manager.sessionFor(dir);
    return { type: 'experiment', view: experimentView(dir, state, { live: !!session, progress: session?.progress }) };
  }

  show(dir: string): vscode.WebviewPanel {
    const open = this.panels.get(dir);
    if (open) {
      open.panel.reveal();
      this.post(dir);
      return open.panel;
    }
    const first = this.message(dir); // an unreadable state fails here, before a panel opens
    const panel = vscode.window.createWebviewPanel(LEADERBOARD_VIEW_TYPE, `Leaderboard: ${first.view.name}`, vscode.ViewColumn.Active, {
      ...webviewOptions(this.extensionUri), retainContextWhenHidden: false,
    });
    const entry = { panel, ready: false };
    this.panels.set(dir, entry);
    panel.onDidDispose(() => this.panels.delete(dir));
    panel.webview.onDidReceiveMessage((raw: unknown) => void this.receive(dir, raw));
    panel.webview.html = pageFor(panel.webview, this.extensionUri, 'experiments', `Leaderboard: ${first.view.name}`);
    return panel;
  }

  /** Re-sends every open leaderboard (debounced: steps come several a second). */
  refresh(delayMs = 300): void {
    if (this.timer || !this.panels.size) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      for (const dir of this.panels.keys()) this.post(dir);
    }, delayMs);
  }

  private post(dir: string): void {
    const entry = this.panels.get(dir);
    if (!entry?.ready) return;
    try {
      void entry.panel.webview.postMessage(this.message(dir));
    } catch (e) {
      console.warn(`Adapt Lab leaderboard: ${(e as Error).message}`);
    }
  }

  private async receive(dir: string, raw: unknown): Promise<void> {
    let m;
    try {
      m = parseLeaderboardWebviewMessage(raw);
    } catch (e) {
      console.warn(`Adapt Lab leaderboard: ignored a message from the page: ${(e as Error).message}`);
      return;
    }
    if (m.type === 'ready') {
      this.panels.get(dir)!.ready = true;
      this.post(dir);
      return;
    }
    const trial = readExperimentState(dir)?.trials.find((t) => t.index === m.trial);
    try {
      if (!trial?.runDir) throw new Error(`trial ${m.trial + 1} has no run yet`);
      if (m.type === 'open') this.actions.open(trial.runDir);
      else {
        if (m.action === 'activeRun' && trial.status !== 'finished') throw new Error(`trial ${m.trial + 1} is ${trial.status === 'pruned' ? 'stopped early' : trial.status}: only a finished trial becomes the active run`);
        await this.actions.promote(trial.runDir, m.action);
      }
    } catch (e) {
      void vscode.window.showErrorMessage(`Adapt Lab: ${(e as Error).message}`);
    }
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const { panel } of this.panels.values()) panel.dispose();
  }
}
