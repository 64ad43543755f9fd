// Which parameters an `adapt` section trains, decided once: the trainer builds its variables
// from this plan (adapt/methods.ts applyAdapt) and the extension counts and shows it (Adapt
// Model's summary, the Layers view) from `inspect --json`. TensorFlow-free, like all of core/.
import { AdaptConfig } from '../../protocol/config';
import { ParamSpec } from './params';
import { linearModules } from './modules';
import { globToRegExp, layerOf, selectLoraTargets, selects } from './paths';

/** What a plan needs to know of a model: its parameters and where its embedding, head and blocks are. */
export interface ModelDescription {
  /** Every parameter in model order, as the family declares it. */
  specs: ParamSpec[];
  /** Number of blocks. */
  layers: number;
  /** Parameter name of the token embedding table (`model.embed_tokens.weight`, `transformer.wte.weight`). */
  embeddingName: string;
  /** Module path of the LM head, never a LoRA target (`lm_head`). */
  headName: string;
}

export interface LoraPlanEntry {
  /** Module path, e.g. `model.layers.3.self_attn.q_proj`. */
  path: string;
  /** A (in × r) plus B (r × out). */
  params: number;
}

export interface AdaptPlan {
  /** Base parameters that train as whole tensors, in model order. */
  unfrozen: string[];
  /** Modules that get LoRA adapters, in model order. */
  lora: LoraPlanEntry[];
  trainable: number;
  total: number;
  percent: number;
  /** First block whose output depends on a trainable parameter (0 when the embedding trains). */
  firstTrainableLayer: number;
  /** A one-line summary the run records as its method, e.g. "LoRA r8 q_proj,v_proj + biases+norms". */
  method: string;
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** LoRA target paths for a config entry: `all-linear`, name suffixes (`q_proj`) or globs; never the head. */
export function loraTargets(model: ModelDescription, targets: string[] | 'all-linear', layers?: number[]): string[] {
  const linear = linearModules(model.specs).filter((p) => p !== model.headName);
  return selectLoraTargets(linear, model.layers, targets, layers);
}

/** Does training this path make block 0's input trainable: the token embedding, or GPT-2's positions (wpe)? */
function isEmbedding(model: ModelDescription, path: string): boolean {
  return path === model.embeddingName || /wpe/.test(path);
}

/** The plan for `adapt` on `model`; throws, with what to change, when it selects nothing or cannot be built. */
export function planAdapt(model: ModelDescription, adapt: AdaptConfig): AdaptPlan {
  const unfreeze = new Set<string>();
  for (const g of adapt.unfreeze ?? []) {
    const re = globToRegExp(g);
    const hits = model.specs.filter((s) => selects(re, s.name));
    if (hits.length === 0) throw new Error(`unfreeze pattern "${g}" matches no parameter (see \`adapt-lab inspect\` for the paths)`);
    hits.forEach((s) => unfreeze.add(s.name));
  }
  if (adapt.biases) model.specs.filter((s) => s.layout === 'vector').forEach((s) => unfreeze.add(s.name));
  const unfrozen = model.specs.filter((s) => unfreeze.has(s.name));

  let first = model.layers;
  const note = (path: string) => {
    const l = layerOf(path);
    if (isEmbedding(model, path)) first = 0;
    else if (l !== undefined) first = Math.min(first, l);
  };
  let trainable = 0;
  for (const s of unfrozen) {
    trainable += size(s.shape);
    note(s.name);
  }

  const lora: LoraPlanEntry[] = [];
  const parts: string[] = [];
  if (adapt.lora) {
    const l = adapt.lora;
    const targets = loraTargets(model, l.targetModules, l.layers);
    const dims = targets.map((p) => ({ p, s: model.specs.find((s) => s.name === `${p}.weight`)! }));
    const tightest = dims.reduce((a, b) => (Math.min(...b.s.shape) < Math.min(...a.s.shape) ? b : a), dims[0]);
    if (tightest && l.rank > Math.min(...tightest.s.shape)) {
      throw new Error(`adapt.lora.rank is ${l.rank}, more than the target modules allow: "${tightest.p}" is [${tightest.s.shape.join(', ')}], `
        + `so the rank can be at most ${Math.min(...tightest.s.shape)}`);
    }
    for (const { p, s } of dims) {
      const params = l.rank * (s.shape[0] + s.shape[1]);
      lora.push({ path: p, params });
      trainable += params;
      note(p);
    }
    const kinds = [...new Set(targets.map((p) => p.split('.').pop()))].join(',');
    parts.push(`LoRA r${l.rank} ${kinds}${l.layers?.length ? ` (blocks ${l.layers.join(',')})` : ''}`);
  }
  if (unfrozen.length === 0 && lora.length === 0) throw new Error('nothing to train: the adapt section selects no parameters');
  if (adapt.unfreeze?.length) parts.push(`unfreeze ${adapt.unfreeze.join(',')}`);
  if (adapt.biases) parts.push('biases+norms');
  const total = model.specs.reduce((n, s) => n + size(s.shape), 0);
  return {
    unfrozen: unfrozen.map((s) => s.name), lora, trainable, total, percent: (100 * trainable) / total,
    firstTrainableLayer: first, method: parts.join(' + '),
  };
}
