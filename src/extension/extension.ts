// Adapt Lab's VS Code side. activate() only wires things up: it makes what the features share
// (shared.ts) and calls each feature folder's register(); models are read and trained by
// `adapt-lab` child processes (cli.ts, trainer.ts), started when a command asks for them.
import * as vscode from 'vscode';
import { ModelInspector, runtime } from './cli';
import { registerGuarded } from './commands';
import { LayersTreeProvider } from './layers/tree';
import { InspectNode } from './layers/params';
import { runsDirs, RunsTreeProvider, RunsViewNode } from './runs/tree';
import { RunStatusBar } from './statusBar';
import { RunSession, TrainerManager } from './trainer';
import { MonitorViewProvider } from './monitor/provider';
import type { PromptFeatures } from './prompts';
import type { Walkthrough } from './walkthrough/walkthrough';
import type { PreviewFeature } from './preview';
import type { ExperimentFeatures } from './experiments';
import type { EvaluateOptions } from './evaluate';
import type { RunArg } from './runs/pick';
import { allowRunsDir, initTrust } from './trust';
import type { Shared } from './shared';
import * as adapt from './adapt';
import * as compare from './compare';
import * as evaluate from './evaluate';
import * as experimentsFeature from './experiments';
import * as exporting from './export';
import * as layersFeature from './layers';
import * as monitorFeature from './monitor';
import * as native from './native';
import * as preview from './preview';
import * as prompts from './prompts';
import * as runsFeature from './runs';
import * as walkthroughFeature from './walkthrough';

/** The commands the extension's own tests and the walkthrough call directly. */
export interface CommandsApi {
  controlRun(runDir: string, cmd: 'stop' | 'pause' | 'resume'): void;
  deleteRun(arg: RunArg, confirmed?: boolean): Promise<boolean>;
  continueRun(arg: RunArg): Promise<RunSession | undefined>;
  adaptFromConfig(uri?: vscode.Uri): Promise<RunSession | undefined>;
  evaluateRun(arg: RunArg, promptsFile?: string, options?: EvaluateOptions): Promise<string | undefined>;
}

/** What activate() returns: the extension's own tests drive it through this. */
export interface AdaptLabApi {
  /** Validates a run config (relative paths against the workspace folder) and starts a trainer. */
  startRun(config: unknown, baseDir?: string): RunSession;
  commands: CommandsApi;
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
  /** Preview Training Data: its panel, and the command's action. */
  preview: PreviewFeature;
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
  let runsCommands: runsFeature.RunsFeature | undefined;
  const monitor = new MonitorViewProvider(context.extensionUri, (cmd, runDir) => {
    try {
      runsCommands?.controlRun(runDir, cmd);
    } catch (e) {
      void vscode.window.showErrorMessage(`Adapt Lab: ${(e as Error).message}`);
    }
  });
  const statusBar = new RunStatusBar(trainer);
  subs.push(log, trainer, layers, runs, statusBar);
  subs.push(registerGuarded('adaptLab.showLog', () => log.show(true), log));
  const shared: Shared = { log, rt, trainer, inspector, layers, runs, monitor };

  native.register(context, shared);
  monitorFeature.register(context, shared);
  runsCommands = runsFeature.register(context, shared);
  const layersView = layersFeature.register(context, shared);
  const adaptCommands = adapt.register(context, shared);
  const evaluateRun = evaluate.register(context, shared);
  exporting.register(context, shared);
  compare.register(context, shared);
  const promptFeatures = prompts.register(context, shared);
  const walkthrough = walkthroughFeature.register(context, shared, {
    adaptFromConfig: adaptCommands.adaptFromConfig, evaluateRun, setActiveRun: (runDir) => promptFeatures.setActiveRun(runDir),
  });
  const experiments = experimentsFeature.register(context, shared);
  const previewFeature = preview.register(context, shared);

  const commands: CommandsApi = {
    controlRun: runsCommands.controlRun, deleteRun: runsCommands.deleteRun, continueRun: runsCommands.continueRun,
    adaptFromConfig: adaptCommands.adaptFromConfig, evaluateRun,
  };
  return {
    startRun: adaptCommands.startRun,
    commands, trainer, layers, layersView, runs, runsView: runsCommands.view, statusBar, log, prompts: promptFeatures, walkthrough, allowRunsDir, runsDirs, preview: previewFeature, experiments,
  };
}

export function deactivate(): void {
  // Everything is in context.subscriptions; TrainerManager.dispose stops live trainers.
}

export { runsDirs };
