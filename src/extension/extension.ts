// Adapt Lab's VS Code side. activate() only wires things up: models are read and trained by
// `adapt-lab` child processes (cli.ts, trainer.ts), started when a command asks for them.
import * as vscode from 'vscode';
import { MonitorViewProvider } from './monitor/provider';
import { join } from 'node:path';
import { ModelInspector, nativeBackendDir, runtime, setNativeBackendDir } from './cli';
import { hasNvidiaGpu, installNativeBackend, nativePackage } from './nativeBackend';
import { Commands, registerGuarded } from './commands';
import { LayersTreeProvider } from './layers';
import { InspectNode } from './params';
import { RunNode, runsDirs, RunsTreeProvider, RunsViewNode } from './runs';
import { RunStatusBar } from './statusBar';
import { RunSession, TrainerManager } from './trainer';
import { PromptFeatures, registerPromptFeatures } from './prompts';
import { Walkthrough } from './walkthrough';
import { embeddedModels } from './pickers';
import { resolveSettingPath } from './prompts/evaluator';
import { allowRunsDir, initTrust, isTrusted, onDidChangeRunsLocation } from './trust';
import { registerPreview } from './preview';
import type { PreviewPanel } from './preview/panel';
import { ExperimentFeatures, register as registerExperiments } from './experiments';

/** What activate() returns: the extension's own tests drive it through this. */
export interface AdaptLabApi {
  /** Validates a run config (relative paths against the workspace folder) and starts a trainer. */
  startRun(config: unknown, baseDir?: string): RunSession;
  commands: Commands;
  trainer: TrainerManager;
  layers: LayersTreeProvider;
  layersView: vscode.TreeView<InspectNode>;
  runs: RunsTreeProvider;
  runsView: vscode.TreeView<RunsViewNode>;
  statusBar: RunStatusBar;
  log: vscode.OutputChannel;
  /** Inline prompt evaluation, the active run and the Test Explorer cases. */
  prompts: PromptFeatures;
  /** The Get Started walkthrough's Open Samples and Run Demo. */
  walkthrough: Walkthrough;
  /** Allows a runs folder outside the workspace named by its settings (what the notification's button does). */
  allowRunsDir(dir: string): Promise<void>;
  /** The runs folder of each workspace folder, as the Runs view and new runs use them. */
  runsDirs(): string[];
  /** Preview Training Data's panel. */
  preview: PreviewPanel;
  /** Run Experiment, the experiments in the Runs view, the leaderboard. */
  experiments: ExperimentFeatures;
}

export function activate(context: vscode.ExtensionContext): AdaptLabApi {
  const subs = context.subscriptions;
  subs.push(initTrust(context.workspaceState));
  const log = vscode.window.createOutputChannel('Adapt Lab');
  const rt = () => runtime(context.extensionUri);
  const inspector = new ModelInspector(rt);
  const trainer = new TrainerManager(rt, log);
  const layers = new LayersTreeProvider(context.workspaceState, (m) => inspector.inspect(m));
  const runs = new RunsTreeProvider((dir) => !!trainer.sessionFor(dir));
  let commands: Commands | undefined;
  const monitor = new MonitorViewProvider(context.extensionUri, (cmd, runDir) => {
    try {
      commands?.controlRun(runDir, cmd);
    } catch (e) {
      void vscode.window.showErrorMessage(`Adapt Lab: ${(e as Error).message}`);
    }
  });
  commands = new Commands({ context, log, trainer, inspector, layers, runs, monitor });

  const layersView = vscode.window.createTreeView('adaptLab.layers', { treeDataProvider: layers, manageCheckboxStateManually: true, showCollapseAll: true });
  const runsView = vscode.window.createTreeView('adaptLab.runs', { treeDataProvider: runs, canSelectMany: true });
  const statusBar = new RunStatusBar(trainer);
  subs.push(log, trainer, layers, runs, layersView, runsView, statusBar, layers.attach(layersView));
  subs.push(vscode.window.registerWebviewViewProvider(MonitorViewProvider.viewType, monitor));
  subs.push(...commands.register());

  // Trainer events: the Monitor follows them; the Runs view changes on everything but steps.
  subs.push(trainer.onEvent(({ session, event }) => {
    if (session.runDir) monitor.pushEvent(session.runDir, event);
    if (event.type !== 'step' && event.type !== 'log') runs.refresh();
  }));
  subs.push(trainer.onDidChange(() => runs.refresh()));

  // Runs written by anyone (another window, the CLI) show up through the file system.
  const watchers: vscode.Disposable[] = [];
  const watch = () => {
    watchers.splice(0).forEach((w) => w.dispose());
    for (const dir of runsDirs()) {
      const w = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(dir), '*/run.json'));
      watchers.push(w, w.onDidCreate(() => runs.refresh()), w.onDidChange(() => runs.refresh()), w.onDidDelete(() => runs.refresh()));
    }
  };
  watch();
  subs.push({ dispose: () => watchers.splice(0).forEach((w) => w.dispose()) });
  subs.push(vscode.workspace.onDidChangeWorkspaceFolders(() => {
    watch();
    runs.refresh();
  }));
  subs.push(vscode.workspace.onDidChangeConfiguration((e) => {
    if (e.affectsConfiguration('adaptLab.runsDir')) {
      watch();
      runs.refresh();
    }
  }));
  subs.push(onDidChangeRunsLocation(() => {
    watch();
    runs.refresh();
  }));
  // The Layers tree opens on adaptLab.defaultModel, else the model shipped with the extension;
  // in Restricted Mode only once the workspace is trusted (reading a model starts a process).
  const restoreLayers = () => {
    const defaultModel = (vscode.workspace.getConfiguration('adaptLab').get<string>('defaultModel') ?? '').trim();
    void layers.restore(defaultModel ? resolveSettingPath(defaultModel) : embeddedModels(context.extensionPath)[0]);
  };
  if (isTrusted()) restoreLayers();
  subs.push(vscode.workspace.onDidGrantWorkspaceTrust(() => {
    restoreLayers();
    watch();
    runs.refresh();
  }));

  const prompts = registerPromptFeatures(context, {
    extensionUri: context.extensionUri, cliPath: rt().cliPath, nodePath: () => rt().execPath, runsDir: () => runsDirs()[0], output: log,
  });
  subs.push(vscode.commands.registerCommand('adaptLab.setActiveRun', (node?: RunNode) => {
    if (node?.runDir) prompts.setActiveRun(node.runDir);
    else void vscode.commands.executeCommand('adaptLab.chooseActiveRun');
  }));

  setNativeBackendDir(join(context.globalStorageUri.fsPath, 'native'));
  subs.push(registerGuarded('adaptLab.installNativeBackend', () => installNativeCommand(log), log));

  const experiments = registerExperiments({ context, log, runs, runtime: rt });

  const walkthrough = new Walkthrough(context, commands, (runDir) => prompts.setActiveRun(runDir));
  subs.push(
    registerGuarded('adaptLab.openSamples', (only?: string) => walkthrough.openSamples(typeof only === 'string' ? only : undefined), log),
    registerGuarded('adaptLab.runDemo', () => walkthrough.runDemo(), log),
  );

  const preview = registerPreview({ context, log, rt, currentModel: () => layers.modelPath });

  return {
    startRun: (config, baseDir) => commands!.startRun(config, baseDir),
    commands, trainer, layers, layersView, runs, runsView, statusBar, log, prompts, walkthrough, allowRunsDir, runsDirs, preview, experiments,
  };
}

/** Install Native Backend: npm into global storage with a progress notification; the reason when it fails. */
async function installNativeCommand(log: vscode.OutputChannel): Promise<void> {
  const gpu = hasNvidiaGpu();
  const pkg = nativePackage(gpu);
  const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Adapt Lab: installing ${pkg}`, cancellable: true }, (progress, token) => {
    const abort = new AbortController();
    token.onCancellationRequested(() => abort.abort());
    return installNativeBackend({
      dir: nativeBackendDir()!, gpu, signal: abort.signal,
      onLine: (line) => {
        log.appendLine(`[install] ${line}`);
        progress.report({ message: line.slice(0, 100) });
      },
    });
  });
  if (result.ok) {
    log.appendLine(`[install] ${pkg} installed in ${result.modules}; trainers started from now on try it first`);
    void vscode.window.showInformationMessage(`Adapt Lab: ${pkg} is installed. Runs started from now on use it (the trainer's log says which backend ran).`);
  } else {
    log.appendLine(`[install] failed: ${result.reason}`);
    void vscode.window.showErrorMessage(`Adapt Lab: could not install ${pkg}: ${result.reason}. Training keeps using the wasm backend${process.platform === 'linux' ? ' with the BLAS' : ''}.`, 'Open Log').then((c) => {
      if (c) log.show(true);
    });
  }
}

export function deactivate(): void {
  // Everything is in context.subscriptions; TrainerManager.dispose stops live trainers.
}

export { runsDirs };
