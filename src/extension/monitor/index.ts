// The Monitor feature: the side-panel view, following this window's trainers live. Its Stop /
// Pause / Resume buttons go to `control` (the Runs feature's controlRun).
import * as vscode from 'vscode';
import type { TrainerManager } from '../trainer';
import { MonitorViewProvider } from './provider';

export function register(context: vscode.ExtensionContext, s: { monitor: MonitorViewProvider; trainer: TrainerManager }): void {
  context.subscriptions.push(vscode.window.registerWebviewViewProvider(MonitorViewProvider.viewType, s.monitor));
  context.subscriptions.push(s.trainer.onEvent(({ session, event }) => {
    if (session.runDir) s.monitor.pushEvent(session.runDir, event);
  }));
}
