// Parameter math for the extension host, from `adapt-lab inspect MODEL --json` alone (the
// extension never loads TensorFlow.js). It follows src/engine/train/methods.ts rule for rule —
// glob semantics, LoRA targets, biases and norms, the method summary — so the counts shown in
// Adapt Model and the Layers view are the ones the trainer reports in its "started" event
// (test/e2e/params.test.ts checks both against each other).
import { AdaptConfig } from '../protocol/config';
import { globToRegExp, layerOf, selectLoraTargets, selects } from '../engine/core/paths';
import type { ModuleNode } from '../engine/core/modules';

export { globToRegExp, layerOf };

export interface InspectTensor {
  name: string;
  shape: number[];
  dtype?: string;
  params: number;
}

/** A node of the module tree `inspect --json` prints (the engine's moduleTree; a type-only import keeps TensorFlow.js out). */
export type InspectNode = ModuleNode;

export interface InspectConfig {
  family: 'llama' | 'gpt2';
  vocabSize: number;
  hidden: number;
  intermediate?: number;
  layers: number;
  heads: number;
  [k: string]: unknown;
}

/** What `adapt-lab inspect MODEL --json` prints. */
export interface ModelInfo {
  name: string;
  path: string;
  format?: string;
  family: string;
  config: InspectConfig;
  totalParams: number;
  tensors: InspectTensor[];
  tree: InspectNode;
  backend?: string;
}

/** The LoRA head is never a target (methods.ts: model.family.headName, `lm_head` for both families). */
export const HEAD_NAME = 'lm_head';

/** Biases and norm weights: the 1-D tensors (methods.ts: layout "vector"). */
export function isVector(t: InspectTensor): boolean {
  return t.shape.length === 1;
}

/** Every node of the tree by path. */
export function indexTree(root: InspectNode): Map<string, InspectNode> {
  const out = new Map<string, InspectNode>();
  const walk = (n: InspectNode) => {
    out.set(n.path, n);
    n.children.forEach(walk);
  };
  walk(root);
  return out;
}

/** Linear modules (LoRA-capable), in model order, head included (as modules.ts linearModules). */
export function linearModules(info: ModelInfo): string[] {
  const nodes = indexTree(info.tree);
  const out: string[] = [];
  for (const t of info.tensors) {
    if (!t.name.endsWith('.weight')) continue;
    const mod = t.name.slice(0, -'.weight'.length);
    if (nodes.get(mod)?.linear && t.shape.length === 2) out.push(mod);
  }
  return out;
}

/** LoRA target paths for `targetModules` / `layers`, with methods.ts' errors. */
export function loraTargets(info: ModelInfo, targets: string[] | 'all-linear', layers?: number[]): string[] {
  return selectLoraTargets(linearModules(info).filter((p) => p !== HEAD_NAME), info.config.layers, targets, layers);
}

/** A (in × r) plus B (r × out): rank × (in + out), whatever the weight's layout. */
export function loraParamsFor(info: ModelInfo, modulePath: string, rank: number): number {
  const w = info.tensors.find((t) => t.name === `${modulePath}.weight`);
  if (!w || w.shape.length !== 2) return 0;
  return rank * (w.shape[0] + w.shape[1]);
}

export interface TrainableCount {
  trainable: number;
  total: number;
  percent: number;
  /** First block a trainable parameter lives in (0 when the embedding trains), as methods.ts. */
  firstTrainableLayer: number;
  /** The summary the trainer records as the run's method. */
  method: string;
}

/** The trainable parameters an `adapt` section selects; throws what applyAdapt would throw. */
export function countTrainable(info: ModelInfo, adapt: AdaptConfig): TrainableCount {
  const unfreeze = new Set<string>();
  for (const g of adapt.unfreeze ?? []) {
    const re = globToRegExp(g);
    const hits = info.tensors.filter((t) => selects(re, t.name));
    if (hits.length === 0) throw new Error(`unfreeze pattern "${g}" matches no parameter (see \`adapt-lab inspect\` for the paths)`);
    hits.forEach((t) => unfreeze.add(t.name));
  }
  if (adapt.biases) info.tensors.filter(isVector).forEach((t) => unfreeze.add(t.name));
  const L = info.config.layers;
  let first = L;
  const note = (path: string) => {
    const l = layerOf(path);
    if (/(^|\.)(embed_tokens|wte|wpe)(\.|$)/.test(path)) first = 0;
    else if (l !== undefined) first = Math.min(first, l);
  };
  let trainable = 0;
  let any = false;
  for (const t of info.tensors) {
    if (!unfreeze.has(t.name)) continue;
    trainable += t.params;
    any = true;
    note(t.name);
  }
  const parts: string[] = [];
  if (adapt.lora) {
    const l = adapt.lora;
    const targets = loraTargets(info, l.targetModules, l.layers);
    for (const p of targets) {
      trainable += loraParamsFor(info, p, l.rank);
      any = true;
      note(p);
    }
    const kinds = [...new Set(targets.map((p) => p.split('.').pop()))].join(',');
    parts.push(`LoRA r${l.rank} ${kinds}${l.layers?.length ? ` (blocks ${l.layers.join(',')})` : ''}`);
  }
  if (!any) throw new Error('nothing to train: the adapt section selects no parameters');
  if (adapt.unfreeze?.length) parts.push(`unfreeze ${adapt.unfreeze.join(',')}`);
  if (adapt.biases) parts.push('biases+norms');
  const total = info.totalParams;
  return { trainable, total, percent: (100 * trainable) / total, firstTrainableLayer: first, method: parts.join(' + ') };
}

/** Tensor names under a node (the node itself when it is a tensor). */
export function tensorsUnder(node: InspectNode): string[] {
  if (node.shape) return [node.path];
  return node.children.flatMap(tensorsUnder);
}

/**
 * The shortest unfreeze list for a set of ticked tensors: a module whose tensors are all
 * ticked is named once (its path selects them all), otherwise its children are looked at.
 * When every bias and norm is ticked, they become `biases: true` instead of a long list.
 */
export function selectionToAdapt(info: ModelInfo, ticked: ReadonlySet<string>, lora: ReadonlySet<string>, rank: number): AdaptConfig {
  const compress = (chosen: ReadonlySet<string>): string[] => {
    const out: string[] = [];
    const walk = (n: InspectNode) => {
      const under = tensorsUnder(n);
      const hit = under.filter((t) => chosen.has(t)).length;
      if (hit === 0) return;
      if (hit === under.length && n.path) {
        out.push(n.path);
        return;
      }
      n.children.forEach(walk);
    };
    walk(info.tree);
    return out;
  };
  let unfreeze = compress(ticked);
  let biases = false;
  const vectors = new Set(info.tensors.filter(isVector).map((t) => t.name));
  if (vectors.size > 0 && [...vectors].every((v) => ticked.has(v))) {
    const others = compress(new Set([...ticked].filter((t) => !vectors.has(t))));
    if (others.length + 1 < unfreeze.length) {
      unfreeze = others;
      biases = true;
    }
  }
  const adapt: AdaptConfig = {};
  if (unfreeze.length) adapt.unfreeze = unfreeze;
  if (biases) adapt.biases = true;
  if (lora.size) adapt.lora = { rank, alpha: 2 * rank, dropout: 0.05, targetModules: [...lora] };
  return adapt;
}

/** Where the blocks are: `model.layers` (Llama) or `transformer.h` (GPT-2). */
export function blockPaths(info: ModelInfo): string[] {
  const nodes = indexTree(info.tree);
  const out: string[] = [];
  for (let i = 0; i < info.config.layers; i++) {
    const p = [`model.layers.${i}`, `transformer.h.${i}`].find((c) => nodes.has(c));
    if (p) out.push(p);
  }
  return out;
}

/** LoRA targets for "attention": q and v where the model has them, else GPT-2's fused c_attn. */
export function attentionLoraTargets(info: ModelInfo): string[] {
  const names = new Set(linearModules(info).map((p) => p.split('.').pop()));
  if (names.has('q_proj') && names.has('v_proj')) return ['q_proj', 'v_proj'];
  if (names.has('c_attn')) return ['c_attn'];
  return [...names].filter((n): n is string => !!n && n !== HEAD_NAME).slice(0, 1);
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

export function formatPercent(p: number): string {
  return p >= 0.01 || p === 0 ? `${p.toFixed(2)}%` : `${p.toExponential(1)}%`;
}
