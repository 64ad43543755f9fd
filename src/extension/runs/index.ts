// The Runs feature: the Runs view (kept current from this window's trainers and, for runs
// written by anyone else, the file system), and the commands on a run — stop, pause, resume,
// continue, open in the Monitor, reveal, delete, refresh.
import { join } from 'node:path';
import * as vscode from 'vscode';
import { registerGuarded } from '../commands';
import { affectsRunsDir } from '../settings';
import type { Shared } from '../shared';
import { onDidChangeRunsLocation } from '../trust';
import { continueRun, control, controlRun } from './control';
import { deleteRun } from './delete';
import { resolveRun, runDirOf, RunArg } from './pick';
import { runsDirs, RunsViewNode } from './tree';

export interface RunsFeature {
  view: vscode.TreeView<RunsViewNode>;
  controlRun: (runDir: string, cmd: 'stop' | 'pause' | 'resume') => void;
  continueRun: (arg: RunArg) => ReturnType<typeof continueRun>;
  deleteRun: (arg: RunArg, confirmed?: boolean) => Promise<boolean>;
  openInMonitor: (arg: RunArg) => void;
}

export function register(context: vscode.ExtensionContext, s: Shared): RunsFeature {
  const subs = context.subscriptions;
  const view = vscode.window.createTreeView('adaptLab.runs', { treeDataProvider: s.runs, canSelectMany: true });
  subs.push(view);

  const openInMonitor = (arg: RunArg) => {
    const dir = runDirOf(arg);
    if (dir) {
      s.monitor.showRun(dir);
      return;
    }
    void resolveRun(s, undefined, () => true, 'Which run to show in the Monitor?').then((n) => n && s.monitor.showRun(n.runDir));
  };
  const c = (id: string, fn: (...args: any[]) => unknown) => registerGuarded(id, fn, s.log);
  subs.push(
    c('adaptLab.stopRun', (a?: RunArg) => control(s, a, 'stop')),
    c('adaptLab.pauseRun', (a?: RunArg) => control(s, a, 'pause')),
    c('adaptLab.resumeRun', (a?: RunArg) => control(s, a, 'resume')),
    c('adaptLab.continueRun', (a?: RunArg) => continueRun(s, a)),
    c('adaptLab.openInMonitor', (a?: RunArg) => openInMonitor(a)),
    c('adaptLab.revealRun', async (a?: RunArg) => {
      const node = await resolveRun(s, a, () => true, 'Which run to reveal?');
      if (node) await vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(join(node.runDir, 'run.json')));
    }),
    c('adaptLab.deleteRun', (a?: RunArg) => deleteRun(s, a)),
    c('adaptLab.refreshRuns', () => s.runs.refresh(0)),
  );

  // This window's trainers: the view changes on everything but steps and log lines.
  subs.push(s.trainer.onEvent(({ event }) => {
    if (event.type !== 'step' && event.type !== 'log') s.runs.refresh();
  }));
  subs.push(s.trainer.onDidChange(() => s.runs.refresh()));

  // Runs written by anyone (another window, the CLI) show up through the file system.
  const watchers: vscode.Disposable[] = [];
  const watch = () => {
    watchers.splice(0).forEach((w) => w.dispose());
    for (const dir of runsDirs()) {
      const w = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(dir), '*/run.json'));
      watchers.push(w, w.onDidCreate(() => s.runs.refresh()), w.onDidChange(() => s.runs.refresh()), w.onDidDelete(() => s.runs.refresh()));
    }
  };
  const rewatch = () => {
    watch();
    s.runs.refresh();
  };
  watch();
  subs.push({ dispose: () => watchers.splice(0).forEach((w) => w.dispose()) });
  subs.push(vscode.workspace.onDidChangeWorkspaceFolders(rewatch));
  subs.push(vscode.workspace.onDidChangeConfiguration((e) => {
    if (affectsRunsDir(e)) rewatch();
  }));
  subs.push(onDidChangeRunsLocation(rewatch));
  subs.push(vscode.workspace.onDidGrantWorkspaceTrust(rewatch));

  return {
    view,
    controlRun: (runDir, cmd) => controlRun(s, runDir, cmd),
    continueRun: (a) => continueRun(s, a),
    deleteRun: (a, confirmed) => deleteRun(s, a, confirmed),
    openInMonitor,
  };
}
