// The experiment feature of the extension: Run Experiment (a *.experiment.json run by
// `adapt-lab experiment --jsonl`), Stop / continue, experiments and their trials in the Runs
// view, the leaderboard webview, and Promote (a trial becomes the active run for prompts, or is
// exported). register() wires it up; activate() calls it once.
import { basename, dirname } from 'node:path';
import * as vscode from 'vscode';
import { PromoteAction } from '../../protocol/experiment-view';
import { readExperimentState } from '../../engine/core/experiment/state';
import { signalTrainer, isTrainerAlive } from '../../engine/core/runs/process';
import { registerGuarded } from '../commands';
import { showError } from '../errors';
import { pickOne } from '../pickers';
import { runsDirs } from '../runs/tree';
import { DEFAULT_RUNS_DIR } from '../settings';
import type { Shared } from '../shared';
import { assertTrusted, onDidChangeRunsLocation } from '../trust';
import { LeaderboardPanels } from './panel';
import { ExperimentEnd, ExperimentManager, ExperimentSession } from './session';
import { ExperimentNode, ExperimentsSection, isExperimentTreeNode, TrialRunNode } from './tree';

export interface ExperimentFeatures {
  manager: ExperimentManager;
  section: ExperimentsSection;
  leaderboards: LeaderboardPanels;
  /** Runs an experiment file (continuing it when it ran before); resolves once it started. */
  run(file: string): Promise<ExperimentSession>;
}


type ExperimentArg = ExperimentNode | vscode.Uri | string | undefined;

const EXCLUDE = '{**/node_modules/**,**/.adapt-lab/**}';

/** The experiment folder a command is about: a tree node, a folder, or state.json's folder. */
function experimentDirOf(arg: ExperimentArg): string | undefined {
  if (isExperimentTreeNode(arg) && arg.kind === 'experiment') return arg.dir;
  if (typeof arg === 'string') return arg;
  if (arg instanceof vscode.Uri) return arg.fsPath.endsWith('state.json') ? dirname(arg.fsPath) : arg.fsPath;
  return undefined;
}

/** The runs folder of the workspace folder holding `file` (the first folder's otherwise). */
function runsDirFor(file: string): string {
  const folders = vscode.workspace.workspaceFolders ?? [];
  const folder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(file));
  const i = folder ? folders.indexOf(folder) : 0;
  const dir = runsDirs()[Math.max(0, i)];
  if (!dir) throw new Error(`open a folder first: experiments keep their runs inside the workspace (${DEFAULT_RUNS_DIR})`);
  return dir;
}

export function register(context: vscode.ExtensionContext, s: Shared): ExperimentFeatures {
  const d = { context, log: s.log, runs: s.runs, runtime: s.rt };
  const subs = context.subscriptions;
  const manager = new ExperimentManager(d.runtime, d.log);
  const section = new ExperimentsSection(d.runs, manager);
  d.runs.setSection(section);
  const leaderboards = new LeaderboardPanels(d.context.extensionUri, manager, {
    promote: (runDir, action) => promote(runDir, action),
    open: (runDir) => void vscode.commands.executeCommand('adaptLab.openInMonitor', runDir),
  });
  subs.push(manager, leaderboards);

  // Steps arrive several times a second: the tree and the open leaderboards follow at most once a second.
  let last = 0;
  let pending: NodeJS.Timeout | undefined;
  const follow = () => {
    leaderboards.refresh();
    if (pending) return;
    const wait = Math.max(0, 1000 - (Date.now() - last));
    pending = setTimeout(() => {
      pending = undefined;
      last = Date.now();
      d.runs.refresh(0);
    }, wait);
  };
  subs.push({ dispose: () => pending && clearTimeout(pending) });
  subs.push(manager.onDidChange(() => {
    void vscode.commands.executeCommand('setContext', 'adaptLab.experimentActive', manager.active.length > 0);
    follow();
  }));

  // state.json changes at each trial's start, evaluation and end; the running trial's step of an
  // experiment run elsewhere is read from its metrics, so the view is re-read every 2 s meanwhile.
  const poll = setInterval(() => {
    if (section.runningElsewhere) {
      d.runs.refresh(0);
      leaderboards.refresh(0);
    }
  }, 2000);
  subs.push({ dispose: () => clearInterval(poll) });

  // Experiments run from anywhere (the CLI, another window) show through their state.json.
  const watchers: vscode.Disposable[] = [];
  const watch = () => {
    watchers.splice(0).forEach((w) => w.dispose());
    for (const dir of runsDirs()) {
      const w = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(dir), 'experiments/*/state.json'));
      watchers.push(w, w.onDidCreate(follow), w.onDidChange(follow), w.onDidDelete(follow));
    }
  };
  watch();
  subs.push({ dispose: () => watchers.splice(0).forEach((w) => w.dispose()) });
  subs.push(vscode.workspace.onDidChangeWorkspaceFolders(watch), onDidChangeRunsLocation(watch), vscode.workspace.onDidGrantWorkspaceTrust(watch));
  subs.push(vscode.workspace.onDidChangeConfiguration((e) => e.affectsConfiguration('adaptLab.runsDir') && watch()));

  async function pickExperimentFile(): Promise<string | undefined> {
    const active = vscode.window.activeTextEditor?.document.uri.fsPath;
    if (active?.endsWith('.experiment.json')) return active;
    const found = await vscode.workspace.findFiles('**/*.experiment.json', EXCLUDE, 100);
    if (!found.length) throw new Error('no *.experiment.json in this workspace: an experiment file names a base run config and the axes to search (see the README, "Experiments")');
    if (found.length === 1) return found[0].fsPath;
    const picked = await pickOne(found.map((u) => ({ label: `$(beaker) ${basename(u.fsPath)}`, description: vscode.workspace.asRelativePath(dirname(u.fsPath), true), path: u.fsPath })), { title: 'Run Experiment', placeholder: 'Which experiment file?' });
    return picked?.path;
  }

  async function run(file: string): Promise<ExperimentSession> {
    assertTrusted('Run Experiment'); // before anything starts or is written
    const running = manager.sessionForFile(file);
    if (running) {
      if (running.dir) leaderboards.show(running.dir);
      throw new Error(`${basename(file)} is already running in this window (Stop Experiment first)`);
    }
    const session = manager.start(file, runsDirFor(file));
    void session.ended.then((end) => report(session, end));
    let dir: string;
    try {
      dir = await Promise.race([session.started, session.ended.then((e) => Promise.reject(new Error(e.reason ?? `the experiment ended (${e.status})`)))]);
    } catch (e) {
      // Refused before its first trial (a bad experiment file): the message names the file and field.
      throw new Error(`experiment ${basename(file)} could not start: ${(e as Error).message}`);
    }
    d.runs.refresh(0);
    void vscode.commands.executeCommand('adaptLab.runs.focus');
    leaderboards.show(dir);
    return session;
  }

  function report(session: ExperimentSession, end: ExperimentEnd): void {
    const name = session.name ?? basename(session.file);
    d.runs.refresh(0);
    leaderboards.refresh(0);
    if (end.status === 'failed') {
      if (!session.dir) return; // run() reported it
      void showError(`experiment "${name}" failed: ${end.reason ?? 'see the log'}`, d.log, [session.file]);
      return;
    }
    if (end.status === 'stopped') {
      vscode.window.setStatusBarMessage(`$(circle-slash) Adapt Lab: experiment "${name}" stopped (Run Experiment continues it)`, 8000);
      return;
    }
    const state = session.dir ? readExperimentState(session.dir) : undefined;
    const note = state?.budgetNote ? ` (stopped by the ${state.budgetNote})` : '';
    void vscode.window.showInformationMessage(`Adapt Lab: experiment "${name}" finished${note}.`, 'Show Leaderboard').then((a) => {
      if (a && session.dir) leaderboards.show(session.dir);
    });
  }

  async function runCommand(arg?: ExperimentArg): Promise<ExperimentSession | undefined> {
    let file: string | undefined;
    if (isExperimentTreeNode(arg) && arg.kind === 'experiment') file = arg.view?.file;
    else if (arg instanceof vscode.Uri) file = arg.fsPath;
    else if (typeof arg === 'string') file = arg;
    file ??= await pickExperimentFile();
    if (!file) return undefined;
    try {
      return await run(file);
    } catch (e) {
      // With the file, so a message naming a line of it offers to open it there.
      void showError((e as Error).message, d.log, [file]);
      return undefined;
    }
  }

  async function stop(arg?: ExperimentArg): Promise<void> {
    let dir = experimentDirOf(arg);
    if (!dir) {
      const live = manager.active;
      if (!live.length) throw new Error('no experiment is running in this window');
      dir = live.length === 1 ? live[0].dir : (await pickOne(live.map((s) => ({ label: s.name ?? basename(s.file), description: s.file, dir: s.dir })), { title: 'Stop Experiment', placeholder: 'Which experiment?' }))?.dir;
      if (!dir) return;
    }
    const session = manager.sessionFor(dir);
    if (session?.stop()) {
      d.log.appendLine(`[experiment ${session.name}] stop requested: the running trial stops after its step, with a checkpoint`);
      return;
    }
    // Started elsewhere (the CLI, another window): stopped by SIGTERM, only once its identity checks out.
    const state = readExperimentState(dir);
    if (state?.status === 'running' && isTrainerAlive(state.process)) {
      if (!signalTrainer(state.process, 'SIGTERM')) throw new Error(`experiment "${state.name}": its process could not be signalled`);
      d.log.appendLine(`[experiment ${state.name}] stop requested (SIGTERM to pid ${state.process!.pid})`);
      setTimeout(() => d.runs.refresh(0), 1500);
      return;
    }
    throw new Error(`experiment "${state?.name ?? basename(dir)}" is not running`);
  }

  async function showLeaderboard(arg?: ExperimentArg): Promise<vscode.WebviewPanel | undefined> {
    let dir = experimentDirOf(arg);
    if (!dir) {
      const all = section.list(runsDirs()).filter((n) => n.view);
      if (!all.length) throw new Error('no experiment in this workspace yet: Run Experiment starts one from a *.experiment.json');
      dir = all.length === 1 ? all[0].dir : (await pickOne(all.map((n) => ({ label: n.view!.name, description: n.view!.status, detail: n.dir, dir: n.dir })), { title: 'Show Leaderboard', placeholder: 'Which experiment?' }))?.dir;
      if (!dir) return undefined;
    }
    return leaderboards.show(dir);
  }

  async function promote(runDir: string, action?: PromoteAction): Promise<unknown> {
    const chosen = action ?? (await pickOne([
      { label: '$(beaker) Set as Active Run for Prompts', description: 'inline prompts and the Test Explorer use this trial', id: 'activeRun' as const },
      { label: '$(export) Export Run…', description: 'PEFT, GGUF LoRA, Ollama or a merged model', id: 'export' as const },
    ], { title: 'Promote Trial', placeholder: `What to do with ${basename(runDir)}?` }))?.id;
    if (chosen === 'activeRun') {
      await vscode.commands.executeCommand('adaptLab.setActiveRun', { runDir });
      void vscode.window.showInformationMessage(`Adapt Lab: ${basename(runDir)} is now the active run for prompts.`);
    } else if (chosen === 'export') {
      return vscode.commands.executeCommand('adaptLab.exportRun', runDir);
    }
    return chosen;
  }

  const c = (id: string, fn: (...args: any[]) => unknown) => registerGuarded(id, fn, d.log);
  subs.push(
    c('adaptLab.runExperiment', (arg?: ExperimentArg) => runCommand(arg)),
    // The same on an experiment node: the CLI continues an experiment that ran before.
    c('adaptLab.continueExperiment', (arg?: ExperimentArg) => runCommand(arg)),
    c('adaptLab.stopExperiment', (arg?: ExperimentArg) => stop(arg)),
    c('adaptLab.showLeaderboard', (arg?: ExperimentArg) => showLeaderboard(arg)),
    c('adaptLab.compareTrials', (arg?: ExperimentArg) => {
      const dir = experimentDirOf(arg);
      const state = dir ? readExperimentState(dir) : undefined;
      const runDirs = (state?.trials ?? []).flatMap((t) => (t.runDir ? [t.runDir] : []));
      if (runDirs.length < 2) throw new Error('compare needs at least two trials with a run');
      return vscode.commands.executeCommand('adaptLab.compareRuns', runDirs);
    }),
    c('adaptLab.promoteTrial', (arg?: TrialRunNode | string, action?: PromoteAction) => {
      const runDir = typeof arg === 'string' ? arg : arg?.runDir;
      if (!runDir) throw new Error('choose a trial in the Runs view (or a row of the leaderboard) to promote');
      return promote(runDir, action);
    }),
  );
  return { manager, section, leaderboards, run };
}

