// Compare Runs: a webview panel with the chosen runs' curves overlaid, their hyperparameters
// side by side and their evaluation reports. The runs are re-read each time the page loads
// (it is not retained while hidden), so it shows what is on disk now.
import * as vscode from 'vscode';
import { CompareHostMessage, parseCompareWebviewMessage } from '../../protocol/webview';
import { pageFor, webviewOptions } from '../monitor/provider';
import { loadCompareRun } from './data';

export const COMPARE_VIEW_TYPE = 'adaptLab.compare';

export function openComparePanel(extensionUri: vscode.Uri, runDirs: string[]): vscode.WebviewPanel {
  const panel = vscode.window.createWebviewPanel(
    COMPARE_VIEW_TYPE,
    `Compare Runs (${runDirs.length})`,
    vscode.ViewColumn.Active,
    { ...webviewOptions(extensionUri), retainContextWhenHidden: false },
  );
  panel.webview.onDidReceiveMessage((raw: unknown) => {
    try {
      parseCompareWebviewMessage(raw); // only `ready`
    } catch (e) {
      console.warn(`Adapt Lab Compare: ignored a message from the page: ${(e as Error).message}`);
      return;
    }
    const message: CompareHostMessage = { type: 'compare', runs: runDirs.map(loadCompareRun) };
    void panel.webview.postMessage(message);
  });
  panel.webview.html = pageFor(panel.webview, extensionUri, 'compare', 'Compare Runs');
  return panel;
}
