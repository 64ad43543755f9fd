// Experiments in the Runs view: one node per experiment under the runs folders (read from its
// state.json, so experiments started from the CLI show too), with its trials below it and their
// live status. A trial that has a run folder is a run node as well, so every run command (Open
// in Monitor, Export, Set as Active Run, Compare) works on it; its run is not repeated at the top.
import * as vscode from 'vscode';
import { axisValueLabel } from '../../protocol/experiment';
import { ExperimentView, ExperimentViewStatus, ViewTrial } from '../../protocol/experiment-view';
import { listExperiments } from '../../engine/core/experiment/state';
import { relativeTime, RunNode, RunsSection, RunsTreeProvider, RunsViewNode } from '../runs/tree';
import { ExperimentManager } from './session';
import { experimentSummary, experimentView } from './view';

export interface ExperimentNode {
  kind: 'experiment';
  dir: string;
  runsDir: string;
  view?: ExperimentView;
  /** Why state.json could not be read. */
  problem?: string;
  updatedAt?: string;
}

/** A trial with no run folder yet (queued, or just starting). */
export interface TrialNode {
  kind: 'trial';
  experiment: ExperimentNode;
  trial: ViewTrial;
}

/** A trial with its run: a RunNode too. */
export type TrialRunNode = RunNode & { kind: 'trialRun'; experiment: ExperimentNode; trial: ViewTrial };

export type ExperimentTreeNode = ExperimentNode | TrialNode | TrialRunNode;

const KINDS = new Set(['experiment', 'trial', 'trialRun']);

export function isExperimentTreeNode(n: unknown): n is ExperimentTreeNode {
  return !!n && typeof n === 'object' && KINDS.has((n as { kind?: string }).kind ?? '');
}

const EXPERIMENT_ICONS: Record<ExperimentViewStatus, [string, string?]> = {
  running: ['sync~spin'],
  finished: ['beaker', 'testing.iconPassed'],
  stopped: ['circle-slash'],
  interrupted: ['debug-pause', 'charts.yellow'],
  failed: ['error', 'testing.iconFailed'],
};

const TRIAL_ICONS: Record<ViewTrial['status'], [string, string?]> = {
  pending: ['circle-outline'],
  running: ['sync~spin'],
  finished: ['pass', 'testing.iconPassed'],
  pruned: ['debug-step-out', 'charts.yellow'],
  failed: ['error', 'testing.iconFailed'],
};

const icon = ([id, color]: [string, string?]) => new vscode.ThemeIcon(id, color ? new vscode.ThemeColor(color) : undefined);

/** "lr 0.008 · replay.txt · LoRA r8 q_proj,k_proj": the trial's axis values, short. */
export function trialTitle(t: ViewTrial, axes: string[], showSeed = false): string {
  const vals = axes.filter((a) => a in t.params).map((a) => axisValueLabel(t.params[a]));
  return `${t.index + 1}. ${vals.join(' · ') || '(base config)'}${showSeed ? ` · seed ${t.seed}` : ''}`;
}

export class ExperimentsSection implements RunsSection {
  constructor(private readonly runs: RunsTreeProvider, private readonly manager: ExperimentManager) {}

  owns(node: RunsViewNode): boolean {
    return isExperimentTreeNode(node);
  }

  /** Set by list(): an experiment runs in another process (the CLI, another window), so its steps show only by polling. */
  runningElsewhere = false;

  /** Every experiment under the runs folders, read now. */
  list(runsDirs: string[]): ExperimentNode[] {
    const out: ExperimentNode[] = [];
    let elsewhere = false;
    for (const runsDir of runsDirs) {
      for (const l of listExperiments(runsDir)) {
        const session = this.manager.sessionFor(l.dir);
        const view = l.state ? experimentView(l.dir, l.state, { live: !!session, progress: session?.progress }) : undefined;
        out.push({ kind: 'experiment', dir: l.dir, runsDir, view, problem: l.problem, updatedAt: l.state?.updatedAt });
        if (view?.status === 'running' && !session) elsewhere = true;
      }
    }
    this.runningElsewhere = elsewhere;
    return out;
  }

  roots(runsDirs: string[]): { nodes: RunsViewNode[]; claimed: Set<string> } {
    const nodes = this.list(runsDirs);
    const claimed = new Set<string>();
    for (const n of nodes) for (const t of n.view?.trials ?? []) if (t.runDir) claimed.add(t.runDir);
    return { nodes, claimed };
  }

  children(node: RunsViewNode): RunsViewNode[] {
    if (!isExperimentTreeNode(node) || node.kind !== 'experiment' || !node.view) return [];
    return node.view.trials.map((trial) => {
      const run = trial.runDir ? this.runs.byDir(trial.runDir) : undefined;
      const n: TrialRunNode | TrialNode = run ? { ...run, kind: 'trialRun', experiment: node, trial } : { kind: 'trial', experiment: node, trial };
      return n;
    });
  }

  treeItem(node: RunsViewNode): vscode.TreeItem {
    const n = node as ExperimentTreeNode;
    if (n.kind === 'experiment') return this.experimentItem(n);
    const axes = n.experiment.view?.axes ?? [];
    const metric = n.experiment.view?.metric;
    const t = n.trial;
    const item = n.kind === 'trialRun' ? this.runs.runItem(n) : new vscode.TreeItem('');
    const seeds = new Set(n.experiment.view?.trials.map((x) => x.seed));
    item.label = trialTitle(t, axes, seeds.size > 1);
    item.id = `${n.experiment.dir}#${t.index}`;
    item.collapsibleState = vscode.TreeItemCollapsibleState.None;
    item.iconPath = icon(TRIAL_ICONS[t.status]);
    item.description = [t.label, t.objective !== undefined && metric ? `${metric} ${t.objective.toFixed(3)}` : ''].filter(Boolean).join(' · ');
    const tip = new vscode.MarkdownString(undefined, true);
    tip.appendMarkdown(`**Trial ${t.index + 1}** (seed ${t.seed}) — ${t.label}\n\n`);
    for (const [k, v] of Object.entries(t.params)) tip.appendMarkdown(`- \`${k}\`: ${axisValueLabel(v)}\n`);
    if (t.objective !== undefined) tip.appendMarkdown(`\n${metric}: ${t.objective.toFixed(4)}\n`);
    if (t.reason) tip.appendMarkdown(`\n${t.reason}\n`);
    if (t.runDir) tip.appendMarkdown(`\n${t.runDir}`);
    item.tooltip = tip;
    // A trial's run keeps the run's context (run-finished …) so the run commands apply; "trial" adds Promote.
    item.contextValue = n.kind === 'trialRun' ? `${item.contextValue} trial` : `trial-${t.status}`;
    if (n.kind === 'trial') item.command = undefined;
    return item;
  }

  private experimentItem(n: ExperimentNode): vscode.TreeItem {
    const v = n.view;
    const name = v?.name ?? n.dir.split(/[\\/]/).pop() ?? n.dir;
    const expanded = v?.status === 'running' ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed;
    const item = new vscode.TreeItem(name, v ? expanded : vscode.TreeItemCollapsibleState.None);
    item.id = n.dir;
    if (!v) {
      item.iconPath = icon(['warning', 'charts.yellow']);
      item.description = 'unreadable state.json';
      item.tooltip = n.problem;
      item.contextValue = 'experiment-unreadable';
      return item;
    }
    item.iconPath = icon(EXPERIMENT_ICONS[v.status]);
    item.description = `${experimentSummary(v)} · ${relativeTime(n.updatedAt)}`;
    const tip = new vscode.MarkdownString(undefined, true);
    tip.appendMarkdown(`**Experiment ${v.name}** — ${v.status}\n\n- file: \`${v.file}\`\n- objective: ${v.metric} (${v.higherIsBetter ? 'higher' : 'lower'} is better)`);
    if (v.forgettingCeiling !== undefined) tip.appendMarkdown(`, forgetting ceiling +${v.forgettingCeiling}%`);
    tip.appendMarkdown(`\n- axes: ${v.axes.map((a) => `\`${a}\``).join(', ')}\n`);
    if (v.budgetNote) tip.appendMarkdown(`\nstopped by the ${v.budgetNote}\n`);
    if (v.status === 'interrupted') tip.appendMarkdown('\nIts process is gone: Run Experiment continues it where it stopped.\n');
    tip.appendMarkdown(`\n${n.dir}`);
    item.tooltip = tip;
    item.contextValue = `experiment-${v.status}`;
    item.command = { command: 'adaptLab.showLeaderboard', title: 'Show Leaderboard', arguments: [n] };
    return item;
  }
}
