// How the features' commands run: errors become notifications (with Open Log) instead of
// silent failures, and CLI calls (export, eval, suggest) show a cancellable progress
// notification with their output in the log.
import * as vscode from 'vscode';
import { runCli } from './cli';
import { showError } from './errors';
import type { Shared } from './shared';

/** A command whose errors become notifications (with Open Log) instead of silent failures. */
export function registerGuarded(id: string, fn: (...args: any[]) => unknown, log: vscode.OutputChannel): vscode.Disposable {
  return vscode.commands.registerCommand(id, async (...args: unknown[]) => {
    try {
      return await fn(...args);
    } catch (e) {
      if (e instanceof vscode.CancellationError) return undefined;
      void showError((e as Error).message ?? String(e), log);
      return undefined;
    }
  });
}

/**
 * Runs `adapt-lab <args>` under a progress notification, its lines in the log; its stdout.
 * A failure is shown (naming `files`) and then thrown as a CancellationError, so the guarded
 * command does not show it twice.
 */
export async function runCliWithProgress(s: Shared, title: string, args: string[], echo = false, files: string[] = []): Promise<string> {
  s.log.appendLine(`adapt-lab ${args.join(' ')}`);
  try {
    const r = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, (_p, token) =>
      runCli(s.rt(), args, { token, onLine: (l) => l.trim() && s.log.appendLine(`  ${l}`) }));
    if (echo) s.log.show(true);
    return r.stdout;
  } catch (e) {
    if (e instanceof vscode.CancellationError) throw e;
    await showError((e as Error).message, s.log, files);
    throw new vscode.CancellationError();
  }
}
