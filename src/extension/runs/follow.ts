// What the user hears about a run this window started or resumed: the Monitor shows it once
// it has a folder, the Runs view refreshes, and its end is a notification (finished: Open in
// Monitor / Export…; stopped: the status bar; failed: the reason, naming the files involved).
import * as vscode from 'vscode';
import { showError } from '../errors';
import type { Shared } from '../shared';
import type { RunSession } from '../trainer';

export function followSession(s: Shared, session: RunSession, files: string[]): void {
  void session.started.then((runDir) => {
    s.monitor.showRun(runDir);
    s.runs.refresh(0);
  }, () => undefined);
  void session.ended.then((end) => {
    s.runs.refresh(0);
    const name = session.name;
    if (end.status === 'finished') {
      const best = session.valLoss !== undefined ? ` (validation loss ${session.valLoss.toFixed(4)})` : '';
      void vscode.window.showInformationMessage(`Adapt Lab: run "${name}" finished at step ${session.step}${best}.`, 'Open in Monitor', 'Export…').then((a) => {
        if (a === 'Open in Monitor' && session.runDir) s.monitor.showRun(session.runDir);
        if (a === 'Export…' && session.runDir) void vscode.commands.executeCommand('adaptLab.exportRun', session.runDir);
      });
    } else if (end.status === 'stopped') {
      vscode.window.setStatusBarMessage(`$(circle-slash) Adapt Lab: run "${name}" stopped at step ${session.step} (checkpoint saved)`, 8000);
    } else {
      const what = end.noRun ? 'could not start' : end.unexpected ? 'failed: the trainer exited unexpectedly' : 'failed';
      const reason = end.reason && !(end.unexpected && !end.noRun && end.reason.startsWith('trainer process exited')) ? `: ${end.reason}` : '';
      void showError(`run "${name}" ${what}${reason}`, s.log, files, session.runDir ? ['Open in Monitor'] : []).then((a) => {
        if (a === 'Open in Monitor' && session.runDir) s.monitor.showRun(session.runDir);
      });
    }
  });
}
