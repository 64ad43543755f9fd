// A Hugging Face config.json, checked and reduced to the fields the engine uses, as a
// discriminated union by model family. Errors are FormatErrors naming the file and the field.
import { FormatError } from './binary';
import { readJsonFile, showValue } from './limits';

export const SUPPORTED_MODEL_TYPES = ['llama', 'mistral', 'qwen2', 'gpt2'] as const;

/** Llama-style decoders (llama, mistral, qwen2): RMSNorm, rotary positions, gated MLP, GQA. */
export interface LlamaConfig {
  family: 'llama';
  modelType: 'llama' | 'mistral' | 'qwen2';
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
  const bad = (field: string, want: string) =>
    new FormatError(path, `field "${field}" ${field in c ? `is ${showValue(c[field])}` : 'is missing'}; `
      + `expected ${want}`);
  const has = (f: string) => c[f] !== undefined && c[f] !== null;
  const int = (f: string, def?: number): number => {
    if (!has(f) && def !== undefined) return def;
    const v = c[f];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) throw bad(f, 'a positive integer');
    return v;
  };
  const num = (f: string, def?: number): number => {
    if (!has(f) && def !== undefined) return def;
    const v = c[f];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw bad(f, 'a positive number');
    return v;
  };
  const bool = (f: string, def: boolean): boolean => {
    if (!has(f)) return def;
    if (typeof c[f] !== 'boolean') throw bad(f, 'true or false');
    return c[f] as boolean;
  };
  const str = (f: string, def: string): string => {
    if (!has(f)) return def;
    if (typeof c[f] !== 'string') throw bad(f, 'a string');
    return c[f] as string;
  };
  const ids = (f: string): number[] => {
    if (!has(f)) return [];
    const v = c[f];
    const list = Array.isArray(v) ? v : [v];
    if (!list.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0)) {
      throw bad(f, 'a token id or a list of token ids');
    }
    return list as number[];
  };

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
  if (modelType === 'llama' || modelType === 'mistral' || modelType === 'qwen2') {
    const hiddenSize = int('hidden_size');
    const numAttentionHeads = int('num_attention_heads');
    const numKeyValueHeads = int('num_key_value_heads', numAttentionHeads);
    if (numAttentionHeads % numKeyValueHeads !== 0) throw bad('num_key_value_heads', `a divisor of num_attention_heads (${numAttentionHeads})`);
    if (!has('head_dim') && hiddenSize % numAttentionHeads !== 0) {
      throw bad('num_attention_heads', `a divisor of hidden_size (${hiddenSize}) when head_dim is not given`);
    }
    const headDim = int('head_dim', hiddenSize / numAttentionHeads);
    const qwen = modelType === 'qwen2';
    const attentionBias = qwen ? true : bool('attention_bias', false);
    return {
      family: 'llama', modelType,
      hiddenSize, intermediateSize: int('intermediate_size'), numHiddenLayers: int('num_hidden_layers'),
      numAttentionHeads, numKeyValueHeads, headDim,
      rmsNormEps: num('rms_norm_eps'),
      ropeTheta: num('rope_theta', 10000),
      maxPositionEmbeddings: int('max_position_embeddings'),
      vocabSize: int('vocab_size'),
      tieWordEmbeddings: bool('tie_word_embeddings', false),
      attentionBias,
      attentionOutputBias: qwen ? false : attentionBias,
      mlpBias: qwen ? false : bool('mlp_bias', false),
      hiddenAct: str('hidden_act', 'silu'),
      bosTokenIds: ids('bos_token_id'), eosTokenIds: ids('eos_token_id'),
      raw: c,
    };
  }
  const supported = `(supported: ${SUPPORTED_MODEL_TYPES.join(', ')})`;
  if (!has('model_type')) throw new FormatError(path, `field "model_type" is missing ${supported}`);
  throw new FormatError(path, `model_type ${JSON.stringify(modelType)?.slice(0, 60)} is not supported ${supported}`);
}
