// What the features share, made once by activate() and handed to each feature's register():
// the output channel, the CLI runtime, the trainer processes of this window, and the three
// views other features refresh or show things in.
import * as vscode from 'vscode';
import type { ModelInspector, Runtime } from './cli';
import type { TrainerManager } from './trainer';
import type { LayersTreeProvider } from './layers/tree';
import type { RunsTreeProvider } from './runs/tree';
import type { MonitorViewProvider } from './monitor/provider';

export interface Shared {
  log: vscode.OutputChannel;
  /** The CLI and Node runtime as the settings say now. */
  rt: () => Runtime;
  trainer: TrainerManager;
  inspector: ModelInspector;
  layers: LayersTreeProvider;
  runs: RunsTreeProvider;
  monitor: MonitorViewProvider;
}
