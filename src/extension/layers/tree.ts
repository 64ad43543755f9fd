// The Layers view: the chosen model's module tree with parameter counts, checkboxes to
// unfreeze, a LoRA toggle on linear modules and the running total of trainable parameters.
// The selection is a set of ticked parameter tensors plus a set of LoRA modules; a module is
// shown ticked only when every tensor under it is (VS Code 1.90 has no tri-state checkbox).
import * as vscode from 'vscode';
import { AdaptConfig } from '../../protocol/config';
import {
  blockPaths, planFor, formatCount, formatPercent, InspectNode, isVector, linearModules, loraTargets, ModelInfo,
  selectionToAdapt, tensorsUnder,
} from './params';

const STATE_KEY = 'adaptLab.layers';
const DEFAULT_RANK = 8;

interface SavedState {
  model?: string;
  ticked?: string[];
  lora?: string[];
  rank?: number;
}

export interface LayersSelection {
  model: string;
  adapt: AdaptConfig;
  trainable: number;
  total: number;
}

export class LayersTreeProvider implements vscode.TreeDataProvider<InspectNode>, vscode.Disposable {
  private readonly changeEmitter = new vscode.EventEmitter<InspectNode | undefined | void>();
  readonly onDidChangeTreeData = this.changeEmitter.event;
  private readonly selectionEmitter = new vscode.EventEmitter<void>();
  /** The ticked set or LoRA set changed. */
  readonly onDidChangeSelection = this.selectionEmitter.event;
  private view?: vscode.TreeView<InspectNode>;
  info?: ModelInfo;
  modelPath?: string;
  private loadError?: string;
  private ticked = new Set<string>();
  private lora = new Set<string>();
  private rank = DEFAULT_RANK;
  /** Suggest Layers' gradient scores by module path, and the rank order. */
  private scores = new Map<string, { score: number; rank: number }>();
  private parents = new Map<string, InspectNode>();

  constructor(private readonly state: vscode.Memento, private readonly inspect: (model: string) => Promise<ModelInfo>) {}

  attach(view: vscode.TreeView<InspectNode>): vscode.Disposable {
    this.view = view;
    this.updateDescription();
    return view.onDidChangeCheckboxState((e) => {
      for (const [node, state] of e.items) this.setTicked(node, state === vscode.TreeItemCheckboxState.Checked, false);
      this.changed();
    });
  }

  /**
   * Restores the last model and selection of this workspace (without blocking activation);
   * with none saved, shows `fallback` (the default or embedded model).
   */
  async restore(fallback?: string): Promise<void> {
    const saved = this.state.get<SavedState>(STATE_KEY);
    if (!saved?.model) {
      if (fallback && !this.modelPath) await this.setModel(fallback).catch(() => undefined);
      return;
    }
    try {
      await this.setModel(saved.model, { keepSelection: false });
      this.ticked = new Set((saved.ticked ?? []).filter((t) => this.info?.tensors.some((x) => x.name === t)));
      this.lora = new Set((saved.lora ?? []).filter((p) => this.linear().includes(p)));
      this.rank = saved.rank ?? DEFAULT_RANK;
      this.changed();
    } catch {
      /* the model moved or broke: the view says so when it is chosen again */
    }
  }

  /** Shows `modelPath`'s module tree (running `adapt-lab inspect` in a child process). */
  async setModel(modelPath: string, opts: { keepSelection?: boolean } = {}): Promise<ModelInfo> {
    this.modelPath = modelPath;
    this.loadError = undefined;
    this.info = undefined;
    if (this.view) this.view.message = undefined;
    this.changeEmitter.fire();
    this.updateDescription('loading…');
    void vscode.commands.executeCommand('setContext', 'adaptLab.layersModel', true);
    try {
      const info = await this.inspect(modelPath);
      if (this.modelPath !== modelPath) return info; // another model was chosen meanwhile
      this.info = info;
      this.parents.clear();
      const walk = (n: InspectNode) => n.children.forEach((c) => {
        this.parents.set(c.path, n);
        walk(c);
      });
      walk(info.tree);
      if (!opts.keepSelection) {
        this.ticked.clear();
        this.lora.clear();
        this.scores.clear();
      }
      this.changed();
      return info;
    } catch (e) {
      this.loadError = (e as Error).message;
      if (this.view) this.view.message = `Cannot load ${modelPath}: ${this.loadError}`;
      this.changeEmitter.fire();
      this.updateDescription('failed to load');
      throw e;
    }
  }

  // ------------------------------------------------------------------ selection

  private linear(): string[] {
    return this.info ? linearModules(this.info) : [];
  }

  isTicked(node: InspectNode): boolean {
    const under = tensorsUnder(node);
    return under.length > 0 && under.every((t) => this.ticked.has(t));
  }

  private partlyTicked(node: InspectNode): boolean {
    return tensorsUnder(node).some((t) => this.ticked.has(t)) && !this.isTicked(node);
  }

  /** Ticks or unticks a module and everything under it. */
  setTicked(node: InspectNode | string, on: boolean, notify = true): void {
    const n = typeof node === 'string' ? this.find(node) : node;
    if (!n) throw new Error(`no module "${node}" in ${this.info?.name ?? 'the model'}`);
    for (const t of tensorsUnder(n)) on ? this.ticked.add(t) : this.ticked.delete(t);
    if (notify) this.changed();
  }

  setLora(modulePath: string, on: boolean): void {
    if (!this.linear().includes(modulePath)) throw new Error(`"${modulePath}" is not a linear module`);
    on ? this.lora.add(modulePath) : this.lora.delete(modulePath);
    this.changed();
  }

  hasLora(modulePath: string): boolean {
    return this.lora.has(modulePath);
  }

  setRank(rank: number): void {
    this.rank = rank;
    this.changed();
  }

  find(path: string): InspectNode | undefined {
    if (!this.info) return undefined;
    const walk = (n: InspectNode): InspectNode | undefined => (n.path === path ? n : n.children.map(walk).find(Boolean));
    return walk(this.info.tree);
  }

  clear(): void {
    this.ticked.clear();
    this.lora.clear();
    this.changed();
  }

  // ------------------------------------------------------------------ presets

  private requireInfo(): ModelInfo {
    if (!this.info) throw new Error('choose a model for the Layers view first (Adapt Lab: Choose Model for Layers)');
    return this.info;
  }

  presetLastBlocks(n: number): void {
    const blocks = blockPaths(this.requireInfo());
    this.ticked.clear();
    this.lora.clear();
    for (const b of blocks.slice(Math.max(0, blocks.length - n))) this.setTicked(b, true, false);
    this.changed();
  }

  presetAttentionOnly(): void {
    const info = this.requireInfo();
    this.ticked.clear();
    this.lora.clear();
    const walk = (n: InspectNode) => {
      if (/^(self_attn|attn|attention)$/.test(n.name) && !n.shape) this.setTicked(n, true, false);
      else n.children.forEach(walk);
    };
    walk(info.tree);
    this.changed();
  }

  presetAllLinearLora(): void {
    const info = this.requireInfo();
    this.ticked.clear();
    this.lora = new Set(loraTargets(info, 'all-linear'));
    this.changed();
  }

  presetBiasesNorms(): void {
    const info = this.requireInfo();
    this.ticked = new Set(info.tensors.filter(isVector).map((t) => t.name));
    this.lora.clear();
    this.changed();
  }

  /** Shows Suggest Layers' scores and ticks the `top` best modules (replacing the selection). */
  applySuggestions(modules: { path: string; score: number }[], top: number): void {
    this.requireInfo();
    this.scores = new Map(modules.map((m, i) => [m.path, { score: m.score, rank: i + 1 }]));
    this.ticked.clear();
    this.lora.clear();
    for (const m of modules.slice(0, top)) if (this.find(m.path)) this.setTicked(m.path, true, false);
    this.changed();
  }

  // ------------------------------------------------------------------ totals

  /** The selection as a run config's `adapt` section, or undefined when nothing is selected. */
  selection(): LayersSelection | undefined {
    if (!this.info || !this.modelPath || (this.ticked.size === 0 && this.lora.size === 0)) return undefined;
    const adapt = selectionToAdapt(this.info, this.ticked, this.lora, this.rank);
    const c = planFor(this.info, adapt);
    return { model: this.modelPath, adapt, trainable: c.trainable, total: c.total };
  }

  /** Trainable parameters of the current selection (0 when nothing is ticked). */
  get trainable(): number {
    return this.selection()?.trainable ?? 0;
  }

  private changed(): void {
    this.changeEmitter.fire();
    this.updateDescription();
    this.selectionEmitter.fire();
    void this.state.update(STATE_KEY, { model: this.modelPath, ticked: [...this.ticked], lora: [...this.lora], rank: this.rank } satisfies SavedState);
  }

  private updateDescription(text?: string): void {
    if (!this.view) return;
    if (text !== undefined) {
      this.view.description = text;
      return;
    }
    if (!this.info) {
      this.view.description = undefined;
      return;
    }
    const total = this.info.totalParams;
    const t = this.trainable;
    this.view.description = t ? `${formatCount(t)} trainable (${formatPercent((100 * t) / total)})` : `${formatCount(total)} params, none trainable`;
  }

  // ------------------------------------------------------------------ TreeDataProvider

  getChildren(node?: InspectNode): InspectNode[] {
    if (!this.info) return [];
    const of = node ?? this.info.tree;
    // Parameter tensors are the leaves; a module made only of tensors (a norm, q_proj) is shown
    // as one leaf so the tree stays at module granularity.
    if (!node && of.children.length === 0) return [];
    return this.isLeaf(of) && node ? [] : of.children;
  }

  private isLeaf(n: InspectNode): boolean {
    return !!n.shape || n.children.every((c) => !!c.shape);
  }

  getParent(node: InspectNode): InspectNode | undefined {
    const p = this.parents.get(node.path);
    return p && p.path ? p : undefined;
  }

  getTreeItem(n: InspectNode): vscode.TreeItem {
    const leaf = this.isLeaf(n);
    const parent = this.parents.get(n.path);
    const label = /^\d+$/.test(n.name) && parent ? `${parent.name}.${n.name}` : n.name;
    const depth = n.path.split('.').length;
    const item = new vscode.TreeItem(label, leaf ? vscode.TreeItemCollapsibleState.None
      : depth <= 2 ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed);
    item.id = n.path;
    item.checkboxState = this.isTicked(n) ? vscode.TreeItemCheckboxState.Checked : vscode.TreeItemCheckboxState.Unchecked;
    const linear = !!n.linear && n.path !== this.info?.headName;
    const lora = linear && this.lora.has(n.path);
    const loraUnder = !linear ? [...this.lora].filter((p) => p.startsWith(`${n.path}.`)).length : 0;
    const score = this.scores.get(n.path);
    const parts = [formatCount(n.params)];
    if (lora) parts.push('LoRA');
    else if (loraUnder) parts.push(`LoRA ×${loraUnder}`);
    if (this.partlyTicked(n)) parts.push('partly');
    if (score) parts.push(`#${score.rank} score ${score.score.toPrecision(3)}`);
    item.description = parts.join(' · ');
    item.contextValue = linear ? `linear ${lora ? 'lora' : 'nolora'}` : 'module';
    if (lora) item.iconPath = new vscode.ThemeIcon('circuit-board');
    const tip = new vscode.MarkdownString(undefined, true);
    tip.appendMarkdown(`**${n.path}**\n\n${formatCount(n.params)} parameters`);
    if (this.info) tip.appendMarkdown(` (${formatPercent((100 * n.params) / this.info.totalParams)} of the model)`);
    const tensors = this.info?.tensors.filter((t) => t.name === n.path || t.name.startsWith(`${n.path}.`)) ?? [];
    if (leaf) for (const t of tensors) tip.appendMarkdown(`\n\n\`${t.name.slice(n.path.length + 1) || t.name}\` [${t.shape.join(' × ')}] ${t.dtype ?? ''}`);
    if (linear) tip.appendMarkdown(`\n\nLinear: LoRA can adapt it${lora ? ` (on, rank ${this.rank})` : ''}.`);
    if (score) tip.appendMarkdown(`\n\nSuggest Layers: gradient norm ${score.score.toPrecision(4)}, rank ${score.rank} of ${this.scores.size}`);
    item.tooltip = tip;
    return item;
  }

  dispose(): void {
    this.changeEmitter.dispose();
    this.selectionEmitter.dispose();
  }
}
