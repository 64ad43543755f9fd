// A Hugging Face config.json, checked and reduced to the fields the engine uses, as a
// discriminated union by model family. Errors are FormatErrors naming the file and the field.
import { FormatError } from './binary';
import { readJsonFile, showValue } from './limits';
import type { GemmaExtras, RopeScaling } from '../model-config';

export const SUPPORTED_MODEL_TYPES = ['llama', 'mistral', 'qwen2', 'qwen3', 'gemma2', 'gemma3_text', 'phi3', 'gpt2'] as const;
type LlamaLineage = 'llama' | 'mistral' | 'qwen2' | 'qwen3' | 'gemma2' | 'gemma3_text' | 'phi3';
const LLAMA_LINEAGE: readonly string[] = ['llama', 'mistral', 'qwen2', 'qwen3', 'gemma2', 'gemma3_text', 'phi3'];

/**
 * Llama-style decoders (llama, mistral, qwen2, qwen3, gemma2, gemma3_text, phi3): RMSNorm,
 * rotary positions, gated MLP, GQA, and what each adds (see the engine's model/config.ts).
 */
export interface LlamaConfig {
  family: 'llama';
  modelType: LlamaLineage;
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  /** Defaults to numAttentionHeads. */
  numKeyValueHeads: number;
  /** head_dim if given, else hiddenSize / numAttentionHeads. */
  headDim: number;
  rmsNormEps: number;
  /** Default 10000. */
  ropeTheta: number;
  maxPositionEmbeddings: number;
  vocabSize: number;
  /** Default false. */
  tieWordEmbeddings: boolean;
  /** Biases on the q, k and v projections (qwen2: always; llama/mistral: attention_bias). */
  attentionBias: boolean;
  /** Bias on the output projection (llama/mistral: attention_bias; qwen2: never). */
  attentionOutputBias: boolean;
  /** Biases in the MLP (llama: mlp_bias, default false). */
  mlpBias: boolean;
  /** Default "silu". */
  hiddenAct: string;
  /** bos_token_id as a list (empty when absent). */
  bosTokenIds: number[];
  /** eos_token_id as a list (empty when absent). */
  eosTokenIds: number[];
  /** rope_scaling (or transformers 5's rope_parameters); absent for the default rotation. */
  ropeScaling?: RopeScaling;
  /** max_position_embeddings as the engine may use it (dynamic scaling extends it by its factor). */
  contextLength: number;
  /** Qwen3, Gemma 3: q_norm and k_norm per head. */
  qkNorm: boolean;
  /** Sliding-window attention and the layers it applies to (undefined: every layer). */
  slidingWindow?: number;
  slidingLayers?: boolean[];
  gemma?: GemmaExtras;
  /** The whole parsed JSON, for fields not covered here. */
  raw: Record<string, unknown>;
}

export interface Gpt2Config {
  family: 'gpt2';
  modelType: 'gpt2';
  nEmbd: number;
  nLayer: number;
  nHead: number;
  /** n_positions, or n_ctx. */
  nPositions: number;
  /** n_inner, default 4 × nEmbd. */
  nInner: number;
  vocabSize: number;
  /** Default 1e-5. */
  layerNormEpsilon: number;
  /** Default "gelu_new". */
  activationFunction: string;
  /** Default true. */
  tieWordEmbeddings: boolean;
  bosTokenIds: number[];
  eosTokenIds: number[];
  raw: Record<string, unknown>;
}

export type HfConfig = LlamaConfig | Gpt2Config;

export function readHfConfig(path: string): HfConfig {
  return parseHfConfig(readJsonFile(path), path);
}

/** Checks an already parsed config.json; `path` names it in errors. */
export function parseHfConfig(raw: unknown, path: string): HfConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new FormatError(path, 'is not a JSON object');
  const c = raw as Record<string, unknown>;
  const { int, num, bool, str, ids, has, bad } = readersFor(c, path);

  const modelType = c.model_type;
  if (modelType === 'gpt2') {
    const nEmbd = int('n_embd');
    const nHead = int('n_head');
    if (nEmbd % nHead !== 0) throw bad('n_head', `a divisor of n_embd (${nEmbd})`);
    return {
      family: 'gpt2', modelType,
      nEmbd, nLayer: int('n_layer'), nHead,
      nPositions: has('n_positions') ? int('n_positions') : int('n_ctx'),
      nInner: int('n_inner', 4 * nEmbd),
      vocabSize: int('vocab_size'),
      layerNormEpsilon: num('layer_norm_epsilon', 1e-5),
      activationFunction: str('activation_function', 'gelu_new'),
      tieWordEmbeddings: bool('tie_word_embeddings', true),
      bosTokenIds: ids('bos_token_id'), eosTokenIds: ids('eos_token_id'),
      raw: c,
    };
  }
  if (typeof modelType === 'string' && LLAMA_LINEAGE.includes(modelType)) {
    return parseLlamaLineage(c, modelType as LlamaLineage, path);
  }
  if (modelType === 'gemma3') {
    throw new FormatError(path, 'model_type "gemma3" is the multimodal Gemma 3 (text_config inside); only its text model '
      + '(model_type "gemma3_text", Gemma3ForCausalLM, e.g. gemma-3-1b) is supported');
  }
  const supported = `(supported: ${SUPPORTED_MODEL_TYPES.join(', ')})`;
  if (!has('model_type')) throw new FormatError(path, `field "model_type" is missing ${supported}`);
  throw new FormatError(path, `model_type ${JSON.stringify(modelType)?.slice(0, 60)} is not supported ${supported}`);
}

interface Readers {
  int(f: string, def?: number): number;
  num(f: string, def?: number): number;
  bool(f: string, def: boolean): boolean;
  str(f: string, def: string): string;
  ids(f: string): number[];
  has(f: string): boolean;
  bad(f: string, want: string): FormatError;
}

// Defaults of transformers' config classes for the fields a checkpoint may omit.
const GEMMA_DEFAULTS: Record<string, Record<string, unknown>> = {
  gemma2: { head_dim: 256, query_pre_attn_scalar: 256, rope_theta: 10000, sliding_window: 4096, attn_logit_softcapping: 50, final_logit_softcapping: 30, max_position_embeddings: 8192, rms_norm_eps: 1e-6, tie_word_embeddings: true },
  gemma3_text: { head_dim: 256, query_pre_attn_scalar: 256, rope_theta: 1e6, rope_local_base_freq: 10000, sliding_window: 4096, sliding_window_pattern: 6, max_position_embeddings: 131072, rms_norm_eps: 1e-6, tie_word_embeddings: true },
};

function parseLlamaLineage(raw: Record<string, unknown>, modelType: LlamaLineage, path: string): LlamaConfig {
  // A Gemma field the file leaves out takes transformers' default (null means "none" and stays).
  const c: Record<string, unknown> = { ...raw };
  for (const [k, v] of Object.entries(GEMMA_DEFAULTS[modelType] ?? {})) if (c[k] === undefined) c[k] = v;
  const rr = readersFor(c, path);
  const { int, num, bool, str, ids, has, bad } = rr;
  const hiddenSize = int('hidden_size');
  const numAttentionHeads = int('num_attention_heads');
  const numKeyValueHeads = int('num_key_value_heads', numAttentionHeads);
  if (numAttentionHeads % numKeyValueHeads !== 0) throw bad('num_key_value_heads', `a divisor of num_attention_heads (${numAttentionHeads})`);
  const qwen3Dim = modelType === 'qwen3' ? 128 : undefined;
  if (!has('head_dim') && qwen3Dim === undefined && hiddenSize % numAttentionHeads !== 0) {
    throw bad('num_attention_heads', `a divisor of hidden_size (${hiddenSize}) when head_dim is not given`);
  }
  const headDim = int('head_dim', qwen3Dim ?? hiddenSize / numAttentionHeads);
  const qwen2 = modelType === 'qwen2';
  const gemma = modelType === 'gemma2' || modelType === 'gemma3_text';
  const attentionBias = qwen2 ? true : bool('attention_bias', false);
  if (has('partial_rotary_factor') && c.partial_rotary_factor !== 1) {
    throw bad('partial_rotary_factor', '1 (rotating part of each head is not supported)');
  }
  const maxPositionEmbeddings = int('max_position_embeddings');
  const rope = ropeOf(c, rr, path, modelType, maxPositionEmbeddings);
  const layers = int('num_hidden_layers');
  const window = slidingOf(c, rr, modelType, layers);
  const hiddenAct = gemma ? str('hidden_activation', str('hidden_act', 'gelu_pytorch_tanh')) : str('hidden_act', 'silu');
  const softcap = (f: string): number | undefined => (has(f) ? num(f) : undefined);
  return {
    family: 'llama', modelType,
    hiddenSize, intermediateSize: int('intermediate_size'), numHiddenLayers: layers,
    numAttentionHeads, numKeyValueHeads, headDim,
    rmsNormEps: num('rms_norm_eps'),
    ropeTheta: rope.theta,
    maxPositionEmbeddings,
    contextLength: rope.scaling?.type === 'dynamic' ? Math.floor(maxPositionEmbeddings * rope.scaling.factor) : maxPositionEmbeddings,
    vocabSize: int('vocab_size'),
    tieWordEmbeddings: bool('tie_word_embeddings', gemma),
    attentionBias,
    // transformers' llama, mistral and qwen3 put attention_bias on o_proj as well; qwen2 never.
    attentionOutputBias: qwen2 ? false : attentionBias,
    mlpBias: qwen2 ? false : bool('mlp_bias', false),
    hiddenAct,
    bosTokenIds: ids('bos_token_id'), eosTokenIds: ids('eos_token_id'),
    ropeScaling: rope.scaling,
    qkNorm: modelType === 'qwen3' || modelType === 'gemma3_text',
    slidingWindow: window?.size,
    slidingLayers: window?.layers,
    gemma: gemma ? {
      queryPreAttnScalar: num('query_pre_attn_scalar'),
      attnSoftcap: softcap('attn_logit_softcapping'),
      finalSoftcap: softcap('final_logit_softcapping'),
      ropeLocalTheta: modelType === 'gemma3_text' ? rope.localTheta ?? num('rope_local_base_freq') : undefined,
    } : undefined,
    raw,
  };
}

function readersFor(c: Record<string, unknown>, path: string): Readers {
  const bad = (field: string, want: string) =>
    new FormatError(path, `field "${field}" ${field in c ? `is ${showValue(c[field])}` : 'is missing'}; expected ${want}`);
  const has = (f: string) => c[f] !== undefined && c[f] !== null;
  return {
    has, bad,
    int: (f, def) => {
      if (!has(f) && def !== undefined) return def;
      const v = c[f];
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) throw bad(f, 'a positive integer');
      return v;
    },
    num: (f, def) => {
      if (!has(f) && def !== undefined) return def;
      const v = c[f];
      if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw bad(f, 'a positive number');
      return v;
    },
    bool: (f, def) => {
      if (!has(f)) return def;
      if (typeof c[f] !== 'boolean') throw bad(f, 'true or false');
      return c[f] as boolean;
    },
    str: (f, def) => {
      if (!has(f)) return def;
      if (typeof c[f] !== 'string') throw bad(f, 'a string');
      return c[f] as string;
    },
    ids: (f) => {
      if (!has(f)) return [];
      const v = c[f];
      const list = Array.isArray(v) ? v : [v];
      if (!list.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0)) throw bad(f, 'a token id or a list of token ids');
      return list as number[];
    },
  };
}

/** Rope types implemented, as transformers' modeling_rope_utils names them. */
export const SUPPORTED_ROPE_TYPES = ['default', 'linear', 'dynamic', 'llama3'] as const;

/**
 * rope_theta and rope_scaling (transformers ≤ 4: `rope_scaling` with `rope_type` or the older
 * `type`; transformers 5: `rope_parameters`, per layer kind for Gemma 3). A type that changes the
 * math and is not implemented here is refused by name.
 */
function ropeOf(c: Record<string, unknown>, r: Readers, path: string, modelType: LlamaLineage, maxPositions: number): { theta: number; scaling?: RopeScaling; localTheta?: number } {
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  let theta = r.num('rope_theta', 10000);
  let params: unknown = c.rope_scaling;
  let field = 'rope_scaling';
  let localTheta: number | undefined;
  if ((params === undefined || params === null) && isObj(c.rope_parameters)) {
    field = 'rope_parameters';
    const all = c.rope_parameters;
    params = all;
    if (isObj(all.full_attention)) {
      const local = all.sliding_attention;
      if (isObj(local)) {
        if (typeof local.rope_theta === 'number') localTheta = local.rope_theta;
        if ((local.rope_type ?? 'default') !== 'default') {
          throw new FormatError(path, `${field}.sliding_attention.rope_type ${JSON.stringify(local.rope_type)} is not supported (only "default" on sliding layers)`);
        }
      }
      params = all.full_attention;
      field += '.full_attention';
    }
    if (isObj(params) && typeof params.rope_theta === 'number') theta = params.rope_theta;
  }
  if (params === undefined || params === null) return { theta, localTheta };
  if (!isObj(params)) throw r.bad(field, 'an object or null');
  const p = params;
  const type = p.rope_type ?? p.type ?? 'default';
  const num = (k: string): number => {
    const v = p[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new FormatError(path, `${field}.${k} ${k in p ? `is ${JSON.stringify(p[k])}` : 'is missing'}; expected a positive number`);
    }
    return v;
  };
  switch (type) {
    case 'default': return { theta, localTheta };
    case 'linear': return { theta, localTheta, scaling: { type: 'linear', factor: num('factor') } };
    case 'dynamic': {
      const factor = num('factor');
      if (factor < 1) throw new FormatError(path, `${field}.factor is ${factor}; dynamic scaling needs a factor of at least 1`);
      return { theta, localTheta, scaling: { type: 'dynamic', factor, originalMax: maxPositions } };
    }
    case 'llama3': {
      const low = num('low_freq_factor');
      const high = num('high_freq_factor');
      if (high <= low) throw new FormatError(path, `${field}: high_freq_factor (${high}) must exceed low_freq_factor (${low})`);
      return { theta, localTheta, scaling: { type: 'llama3', factor: num('factor'), lowFreqFactor: low, highFreqFactor: high, originalMax: num('original_max_position_embeddings') } };
    }
    default:
      throw new FormatError(path, `${field} type ${JSON.stringify(type)?.slice(0, 40)} is not supported for ${modelType} `
        + `(supported: ${SUPPORTED_ROPE_TYPES.join(', ')}); its frequencies would be wrong at every position`);
  }
}

/**
 * Which layers use sliding-window attention, as transformers decides: an explicit `layer_types`
 * wins; Mistral and Phi-3 slide on every layer when `sliding_window` is set; Qwen2/3 only with
 * use_sliding_window, from layer max_window_layers on; Gemma 2 on even layers; Gemma 3 on all
 * but every sliding_window_pattern-th. Llama has no sliding window.
 */
function slidingOf(c: Record<string, unknown>, r: Readers, modelType: LlamaLineage, layers: number): { size: number; layers?: boolean[] } | undefined {
  if (modelType === 'llama' || !r.has('sliding_window')) return undefined;
  if ((modelType === 'qwen2' || modelType === 'qwen3') && !r.bool('use_sliding_window', false)) return undefined;
  const size = r.int('sliding_window');
  if (Array.isArray(c.layer_types)) {
    const t = c.layer_types;
    if (t.length !== layers || !t.every((x) => x === 'sliding_attention' || x === 'full_attention')) {
      throw r.bad('layer_types', `${layers} entries, each "sliding_attention" or "full_attention"`);
    }
    return { size, layers: t.map((x) => x === 'sliding_attention') };
  }
  const each = (f: (i: number) => boolean) => Array.from({ length: layers }, (_, i) => f(i));
  switch (modelType) {
    case 'qwen2': case 'qwen3': {
      const from = r.int('max_window_layers', layers);
      return { size, layers: each((i) => i >= from) };
    }
    case 'gemma2': return { size, layers: each((i) => i % 2 === 0) };
    case 'gemma3_text': {
      const n = r.int('sliding_window_pattern');
      return { size, layers: each((i) => (i + 1) % n !== 0) };
    }
    default: return { size };
  }
}
