// The Runs view: every run under the workspace's runs folder (adaptLab.runsDir), newest first,
// with its status, method, best validation loss and age. listRuns also reconciles runs whose
// trainer died, so a crashed run shows as failed the next time the view refreshes.
import { join, resolve } from 'node:path';
import * as vscode from 'vscode';
import { listRuns, RunRecord } from '../../engine/core/runs/store';
import { backendLabel, RunStatus } from '../../protocol/events';
import { isTrusted, runsDirFor } from '../trust';

export interface RunNode {
  record: RunRecord;
  runDir: string;
  runsDir: string;
}

/** A node another feature adds to the Runs view; `kind` tells its section's nodes apart. */
export interface SectionNode {
  kind: string;
}

export type RunsViewNode = RunNode | SectionNode;

/** Nodes another feature shows in the Runs view, above the runs (experiments: experiments/tree.ts). */
export interface RunsSection {
  owns(node: RunsViewNode): boolean;
  /** Its top-level nodes, and the run folders they show under themselves (not repeated at the top). */
  roots(runsDirs: string[]): { nodes: RunsViewNode[]; claimed: Set<string> };
  children(node: RunsViewNode): RunsViewNode[];
  treeItem(node: RunsViewNode): vscode.TreeItem;
}

const ICONS: Record<RunStatus, [string, string?]> = {
  running: ['sync~spin'],
  paused: ['debug-pause', 'charts.yellow'],
  finished: ['pass', 'testing.iconPassed'],
  stopped: ['circle-slash'],
  failed: ['error', 'testing.iconFailed'],
};

/** The runs folders of the open workspace folders (adaptLab.runsDir, relative to each). */
export function runsDirs(): string[] {
  return (vscode.workspace.workspaceFolders ?? []).map(runsDirFor);
}

/** "5 min ago", "yesterday", "3 days ago". */
export function relativeTime(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '';
  const s = Math.max(0, (now - Date.parse(iso)) / 1000);
  if (s < 45) return 'just now';
  if (s < 90 * 60) return `${Math.round(s / 60)} min ago`;
  if (s < 36 * 3600) return `${Math.round(s / 3600)} h ago`;
  const d = Math.round(s / 86400);
  return d === 1 ? 'yesterday' : `${d} days ago`;
}

export class RunsTreeProvider implements vscode.TreeDataProvider<RunsViewNode>, vscode.Disposable {
  private readonly changeEmitter = new vscode.EventEmitter<RunsViewNode | undefined | void>();
  readonly onDidChangeTreeData = this.changeEmitter.event;
  private nodes: RunNode[] = [];
  private loaded = false;
  private timer?: NodeJS.Timeout;
  private section?: RunsSection;

  constructor(private readonly isLive: (runDir: string) => boolean) {}

  /** Adds a section's nodes (experiments) to the view. */
  setSection(section: RunsSection): void {
    this.section = section;
    this.refresh(0);
  }

  /** Re-reads the runs folders (debounced: events and file watchers come in bursts). */
  refresh(delayMs = 200): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.loaded = false;
      this.changeEmitter.fire();
    }, delayMs);
  }

  /** Every run, read now. */
  list(): RunNode[] {
    const out: RunNode[] = [];
    for (const runsDir of runsDirs()) {
      for (const record of listRuns(runsDir)) out.push({ record, runDir: join(runsDir, record.id), runsDir });
    }
    out.sort((a, b) => (a.record.createdAt < b.record.createdAt ? 1 : a.record.createdAt > b.record.createdAt ? -1 : 0));
    this.nodes = out;
    this.loaded = true;
    return out;
  }

  byDir(runDir: string): RunNode | undefined {
    return (this.loaded ? this.nodes : this.list()).find((n) => n.runDir === runDir);
  }

  getChildren(node?: RunsViewNode): RunsViewNode[] {
    // Restricted Mode: no runs listed (each offers actions that read the workspace's files); the view's welcome says why.
    if (!isTrusted()) return [];
    if (node) return this.section?.owns(node) ? this.section.children(node) : [];
    const runs = this.list();
    if (!this.section) return runs;
    const { nodes, claimed } = this.section.roots(runsDirs());
    return [...nodes, ...runs.filter((n) => !claimed.has(n.runDir))];
  }

  getParent(): undefined {
    return undefined;
  }

  getTreeItem(n: RunsViewNode): vscode.TreeItem {
    if (this.section?.owns(n)) return this.section.treeItem(n);
    return this.runItem(n as RunNode);
  }

  /** A run's item (a section's run nodes start from it). */
  runItem(n: RunNode): vscode.TreeItem {
    const r = n.record;
    const item = new vscode.TreeItem(r.name || r.id, vscode.TreeItemCollapsibleState.None);
    item.id = n.runDir;
    const [icon, color] = ICONS[r.status] ?? ['question'];
    item.iconPath = new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
    const parts: string[] = [];
    if (r.method) parts.push(r.method);
    if (r.bestValLoss !== undefined) parts.push(`val ${r.bestValLoss.toFixed(3)}`);
    parts.push(relativeTime(r.endedAt ?? r.startedAt ?? r.createdAt));
    item.description = parts.filter(Boolean).join(' · ');
    const live = this.isLive(n.runDir);
    item.contextValue = `run-${r.status}${live ? ' live' : ''}`;
    const tip = new vscode.MarkdownString(undefined, true);
    tip.appendMarkdown(`**${r.name}** — ${r.status}${r.step !== undefined ? ` at step ${r.step}` : ''}\n\n`);
    tip.appendMarkdown(`- model: \`${r.config?.model ?? '?'}\`\n- data: \`${r.config?.data?.train ?? '?'}\`\n- method: ${r.method}\n`);
    if (r.params) tip.appendMarkdown(`- trainable: ${r.params.trainable.toLocaleString('en-US')} of ${r.params.total.toLocaleString('en-US')} (${r.params.percent.toFixed(2)}%)\n`);
    const t = r.config?.training;
    if (t) tip.appendMarkdown(`- lr ${t.learningRate}, batch ${t.batchSize}${t.maxSteps ? `, ${t.maxSteps} steps` : `, ${t.epochs} epochs`}\n`);
    if (r.bestValLoss !== undefined) tip.appendMarkdown(`- best validation loss: ${r.bestValLoss.toFixed(4)}\n`);
    if (r.backend) tip.appendMarkdown(`- backend: ${backendLabel(r.backend)}\n`);
    if (r.failure) tip.appendMarkdown(`\n$(error) ${r.failure}\n`);
    tip.appendMarkdown(`\n${n.runDir}`);
    item.tooltip = tip;
    item.command = { command: 'adaptLab.openInMonitor', title: 'Open in Monitor', arguments: [n] };
    return item;
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.changeEmitter.dispose();
  }
}
