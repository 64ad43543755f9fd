// What `adapt-lab inspect MODEL --json` prints and the extension reads back (the Layers view,
// Adapt Model's summary): the model's parameters and module tree. The CLI checks what it is
// about to print with `validateModelInfo`, and the extension checks what it read with
// `parseModelInfo`, so a change on one side fails on that side, naming the field.
import type { ModelConfig } from './model-config';

/**
 * How a parameter is stored. `linear` (nn.Linear, HF shape [out,in]) is kept transposed as
 * [in,out] in memory so every product is a plain x·W; `conv1d` (GPT-2) already is [in,out].
 */
export type ParamLayout = 'linear' | 'conv1d' | 'embedding' | 'vector';
export const PARAM_LAYOUTS: readonly ParamLayout[] = ['linear', 'conv1d', 'embedding', 'vector'];

export interface InspectTensor {
  /** Hugging Face name, e.g. `model.layers.0.self_attn.q_proj.weight`. */
  name: string;
  /** Shape as Hugging Face stores it. */
  shape: number[];
  layout: ParamLayout;
  dtype?: string;
  params: number;
}

/** A node of the module tree (embeddings, blocks, attention, MLP, norms, head), with parameter counts. */
export interface ModuleNode {
  /** Full module path, e.g. `model.layers.0.self_attn.q_proj` ('' for the root). */
  path: string;
  name: string;
  params: number;
  /** Set on leaf parameters. */
  shape?: number[];
  dtype?: string;
  /** Linear modules can carry LoRA. */
  linear?: boolean;
  children: ModuleNode[];
}

export interface ModelInfo {
  name: string;
  path: string;
  format?: string;
  family: string;
  config: ModelConfig;
  totalParams: number;
  tensors: InspectTensor[];
  tree: ModuleNode;
  /** Parameter name of the token embedding table (the plan's frozen-prefix cut reads it). */
  embeddingName: string;
  /** Module path of the LM head (never a LoRA target). */
  headName: string;
  backend?: string;
  tokenizer?: { kind: string; vocabSize: number } | null;
  /** The decoder within the family (llama, qwen3, gemma2, phi3, ..., gpt2). */
  arch?: string;
  /** inspect's estimate of LoRA training memory (rank 8 on every linear layer but the head). */
  loraMemory?: { rank: number; batchSize: number; maxLength: number; threads: number; trainableParams: number; bytes: number; heapBytes: number; activations: number; weights: number; external?: number; optimizer: number; recompute?: number };
  /**
   * Where the base weights live as loaded here: bytes held as tensors (the wasm heap) and kept
   * outside the backend in the file's encoding, and whether products read those on BLAS.
   */
  weightLayout?: { heapBytes: number; externalBytes: number; blas: boolean };
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isShape = (v: unknown) => Array.isArray(v) && v.every(isCount);

function node(v: unknown, at: string, out: string[], depth: number): void {
  if (!isObj(v)) { out.push(`${at}: not an object`); return; }
  if (typeof v.path !== 'string') out.push(`${at}.path: not a string`);
  if (typeof v.name !== 'string') out.push(`${at}.name: not a string`);
  if (!isCount(v.params)) out.push(`${at}.params: not a non-negative integer`);
  if (v.shape !== undefined && !isShape(v.shape)) out.push(`${at}.shape: not a list of sizes`);
  if (v.linear !== undefined && typeof v.linear !== 'boolean') out.push(`${at}.linear: not a boolean`);
  if (!Array.isArray(v.children)) { out.push(`${at}.children: not a list`); return; }
  if (depth > 32) { out.push(`${at}: nested deeper than 32 levels`); return; }
  v.children.forEach((c, i) => node(c, `${at}.children[${i}]`, out, depth + 1));
}

function config(c: unknown, out: string[]): void {
  if (!isObj(c)) { out.push('inspect.config: not an object'); return; }
  if (c.family !== 'llama' && c.family !== 'gpt2') { out.push(`inspect.config.family: ${JSON.stringify(c.family)} is not llama or gpt2`); return; }
  const counts = ['vocabSize', 'hidden', 'layers', 'heads', 'headDim', 'maxPositions', ...(c.family === 'llama' ? ['intermediate', 'kvHeads'] : [])];
  for (const k of counts) if (!isCount(c[k])) out.push(`inspect.config.${k}: not a non-negative integer`);
  for (const k of ['normEps', ...(c.family === 'llama' ? ['ropeTheta'] : [])]) if (typeof c[k] !== 'number') out.push(`inspect.config.${k}: not a number`);
  for (const k of ['tiedHead', ...(c.family === 'llama' ? ['attentionBias'] : [])]) if (typeof c[k] !== 'boolean') out.push(`inspect.config.${k}: not a boolean`);
}

/** Every problem with `value` as a ModelInfo, one line each (empty when valid). */
export function validateModelInfo(value: unknown): string[] {
  if (!isObj(value)) return ['inspect: not an object'];
  const out: string[] = [];
  for (const k of ['name', 'path', 'family', 'embeddingName', 'headName']) if (typeof value[k] !== 'string') out.push(`inspect.${k}: not a string`);
  if (!isCount(value.totalParams)) out.push('inspect.totalParams: not a non-negative integer');
  config(value.config, out);
  if (!Array.isArray(value.tensors)) out.push('inspect.tensors: not a list');
  else {
    value.tensors.forEach((t, i) => {
      const at = `inspect.tensors[${i}]`;
      if (!isObj(t)) { out.push(`${at}: not an object`); return; }
      if (typeof t.name !== 'string') out.push(`${at}.name: not a string`);
      if (!isShape(t.shape)) out.push(`${at}.shape: not a list of sizes`);
      if (!PARAM_LAYOUTS.includes(t.layout as ParamLayout)) out.push(`${at}.layout: ${JSON.stringify(t.layout)} is not one of ${PARAM_LAYOUTS.join(', ')}`);
      if (!isCount(t.params)) out.push(`${at}.params: not a non-negative integer`);
      if (t.dtype !== undefined && typeof t.dtype !== 'string') out.push(`${at}.dtype: not a string`);
    });
  }
  node(value.tree, 'inspect.tree', out, 0);
  const w = value.weightLayout;
  if (w !== undefined) {
    if (!isObj(w)) out.push('inspect.weightLayout: not an object');
    else {
      for (const k of ['heapBytes', 'externalBytes']) if (!isCount(w[k])) out.push(`inspect.weightLayout.${k}: not a non-negative integer`);
      if (typeof w.blas !== 'boolean') out.push('inspect.weightLayout.blas: not a boolean');
    }
  }
  return out;
}

/** The value as a ModelInfo, or an Error listing its problems (one per line, at most 20). */
export function parseModelInfo(value: unknown, source = 'adapt-lab inspect --json'): ModelInfo {
  const problems = validateModelInfo(value);
  if (problems.length) throw new Error(problems.slice(0, 20).map((p) => `${source}: ${p}`).join('\n'));
  return value as ModelInfo;
}
