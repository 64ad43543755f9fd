// Parameter math for the extension host, from `adapt-lab inspect --json` alone (the
// extension never loads TensorFlow.js). Which parameters train is the engine core's plan
// (src/engine/core/plan.ts planAdapt), the same function the trainer builds its variables
// from, so Adapt Model and the Layers view show the counts the trainer reports.
import { AdaptConfig } from '../../protocol/config';
import type { InspectTensor, ModelInfo, ModuleNode } from '../../protocol/inspect';
import { globToRegExp, layerOf } from '../../engine/core/paths';
import { loraDefaults } from '../../engine/core/run-config';
import { linearModules as linearOf } from '../../engine/core/modules';
import { AdaptPlan, loraTargets as planTargets, ModelDescription, planAdapt } from '../../engine/core/plan';

export { globToRegExp, layerOf };
export type { AdaptPlan, InspectTensor, ModelInfo };

/** A node of the module tree `inspect --json` prints. */
export type InspectNode = ModuleNode;

/** Biases and norm weights (layout "vector"): what `biases: true` trains. */
export function isVector(t: InspectTensor): boolean {
  return t.layout === 'vector';
}

/** What the plan sees of an inspected model. */
export function describeInspected(info: ModelInfo): ModelDescription {
  return { specs: info.tensors, layers: info.config.layers, embeddingName: info.embeddingName, headName: info.headName };
}

/** The plan for `adapt` on the inspected model; throws what the trainer would throw. */
export function planFor(info: ModelInfo, adapt: AdaptConfig): AdaptPlan {
  return planAdapt(describeInspected(info), adapt);
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

/** Linear modules (LoRA-capable), in model order, head included. */
export function linearModules(info: ModelInfo): string[] {
  return linearOf(info.tensors);
}

/** LoRA target paths for `targetModules` / `layers` (never the head), with the trainer's errors. */
export function loraTargets(info: ModelInfo, targets: string[] | 'all-linear', layers?: number[]): string[] {
  return planTargets(describeInspected(info), targets, layers);
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
  if (lora.size) adapt.lora = { ...loraDefaults(rank), targetModules: [...lora] };
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
  return [...names].filter((n): n is string => !!n && n !== info.headName).slice(0, 1);
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

export function formatPercent(p: number): string {
  return p >= 0.01 || p === 0 ? `${p.toFixed(2)}%` : `${p.toExponential(1)}%`;
}
