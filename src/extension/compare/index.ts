// Compare Runs: the runs ticked in the Runs view (or passed from code), else two or more picked
// from a list, side by side in the Compare panel.
import * as vscode from 'vscode';
import { registerGuarded } from '../commands';
import { RunArg } from '../runs/pick';
import { RunNode } from '../runs/tree';
import type { Shared } from '../shared';
import { openComparePanel } from './panel';

export async function compareRuns(context: vscode.ExtensionContext, s: Shared, arg: RunArg | (RunNode | string)[], all?: RunNode[]): Promise<vscode.WebviewPanel | undefined> {
  let dirs: string[] = [];
  if (Array.isArray(arg)) dirs = arg.map((a) => (typeof a === 'string' ? a : a.runDir));
  // A multi-selection may hold experiment nodes too (no runDir): only runs are compared.
  else if (all && all.length > 1) dirs = all.filter((n) => n.runDir).map((n) => n.runDir);
  if (dirs.length < 2) {
    const nodes = s.runs.list();
    if (nodes.length < 2) throw new Error('compare needs at least two runs in this workspace');
    const pre = new Set([typeof arg === 'string' ? arg : arg && !(arg instanceof vscode.Uri) && 'runDir' in arg ? arg.runDir : undefined]);
    const items = nodes.map((n) => ({ label: n.record.name, description: `${n.record.status} · ${n.record.method}${n.record.bestValLoss !== undefined ? ` · val ${n.record.bestValLoss.toFixed(3)}` : ''}`, picked: pre.has(n.runDir), dir: n.runDir }));
    const picked = await vscode.window.showQuickPick(items, { title: 'Compare Runs', placeHolder: 'Tick two or more runs', canPickMany: true, ignoreFocusOut: true });
    if (!picked) return undefined;
    dirs = picked.map((p) => p.dir);
    if (dirs.length < 2) throw new Error('tick at least two runs to compare');
  }
  return openComparePanel(context.extensionUri, dirs);
}

export function register(context: vscode.ExtensionContext, s: Shared): void {
  context.subscriptions.push(registerGuarded('adaptLab.compareRuns', (a?: RunArg | (RunNode | string)[], all?: RunNode[]) => compareRuns(context, s, a, all), s.log));
}
