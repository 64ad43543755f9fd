// The status-bar item while a run of this window is active: step/total and loss; a click
// opens the run in the Monitor.
import * as vscode from 'vscode';
import { RunSession, TrainerManager } from './trainer';

export class RunStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('adaptLab.run', vscode.StatusBarAlignment.Left, 50);
  private readonly subs: vscode.Disposable[] = [];
  private last = 0;
  private timer?: NodeJS.Timeout;

  constructor(private readonly trainer: TrainerManager) {
    this.item.name = 'Adapt Lab Run';
    this.subs.push(trainer.onDidChange(() => this.update()), trainer.onEvent((e) => {
      if (e.event.type !== 'step') return this.update();
      // Steps can come 20+ a second: redraw at most 4 times a second.
      const wait = 250 - (Date.now() - this.last);
      if (wait <= 0) this.update();
      else this.timer ??= setTimeout(() => this.update(), wait);
    }));
  }

  private update(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.last = Date.now();
    const active = this.trainer.active;
    void vscode.commands.executeCommand('setContext', 'adaptLab.runActive', active.length > 0);
    const s: RunSession | undefined = active[active.length - 1];
    if (!s) {
      this.item.hide();
      return;
    }
    const icon = s.state === 'paused' ? '$(debug-pause)' : '$(sync~spin)';
    const progress = s.state === 'starting' ? 'starting…' : `${s.step}/${s.totalSteps ?? '?'}`;
    const loss = s.loss !== undefined ? ` · loss ${s.loss.toFixed(3)}` : '';
    const more = active.length > 1 ? ` (+${active.length - 1})` : '';
    this.item.text = `${icon} ${progress}${loss}${more}`;
    this.item.tooltip = `Adapt Lab: ${s.name} — ${s.state}${s.valLoss !== undefined ? `, validation loss ${s.valLoss.toFixed(4)}` : ''}${s.backend ? `\non ${s.backend}` : ''}\nClick to open it in the Monitor`;
    this.item.command = s.runDir ? { command: 'adaptLab.openInMonitor', title: 'Open in Monitor', arguments: [s.runDir] } : { command: 'adaptLab.showLog', title: 'Show Log' };
    this.item.show();
  }

  /** What the item shows (for tests). */
  get text(): string | undefined {
    return this.item.text;
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.subs.forEach((d) => d.dispose());
    this.item.dispose();
  }
}
