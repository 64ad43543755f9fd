// The architecture hyper-parameters of a model, whatever file it came from: what the engine
// builds a model from and what `inspect --json` prints (src/protocol/inspect.ts checks it).

/**
 * The decoders of the Llama lineage, each a config variant of llama.ts or its own file:
 * llama (Llama 2/3.x, TinyLlama, SmolLM2), mistral, qwen2, qwen3 (llama.ts); gemma2, gemma3
 * (gemma.ts); phi3 (phi3.ts).
 */
export type DecoderArch = 'llama' | 'mistral' | 'qwen2' | 'qwen3' | 'gemma2' | 'gemma3' | 'phi3';
export const DECODER_ARCHS: readonly DecoderArch[] = ['llama', 'mistral', 'qwen2', 'qwen3', 'gemma2', 'gemma3', 'phi3'];

/**
 * Rotary frequency scaling, as transformers' modeling_rope_utils defines each type: `linear`
 * divides every frequency by `factor`; `dynamic` (NTK) raises the base once a sequence is longer
 * than `originalMax`; `llama3` divides low frequencies by `factor` and blends the middle band;
 * `factors` divides frequency i by factors[i] (a GGUF file's rope_freqs tensor, which is how
 * llama.cpp carries llama3 scaling).
 */
export type RopeScaling =
  | { type: 'linear'; factor: number }
  | { type: 'dynamic'; factor: number; originalMax: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMax: number }
  | { type: 'factors'; factors: number[] };

/** What Gemma 2 / 3 add to a Llama-style decoder (gemma.ts). */
export interface GemmaExtras {
  /** Queries are scaled by query_pre_attn_scalar^-1/2 (not head_dim^-1/2). */
  queryPreAttnScalar: number;
  /** tanh soft-capping of attention scores (Gemma 2: 50) and of the final logits (Gemma 2: 30). */
  attnSoftcap?: number;
  finalSoftcap?: number;
  /** Rotary base of the sliding-window layers (Gemma 3: rope_local_base_freq); global layers use ropeTheta and ropeScaling. */
  ropeLocalTheta?: number;
}

export interface LlamaConfig {
  family: 'llama';
  /** Which decoder (default llama). */
  arch?: DecoderArch;
  vocabSize: number;
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  maxPositions: number;
  normEps: number;
  ropeTheta: number;
  /** Qwen2-style biases on q, k and v. */
  attentionBias: boolean;
  tiedHead: boolean;
  ropeScaling?: RopeScaling;
  /** Qwen3 / Gemma 3: RMSNorm over each head of q and k before the rotation. */
  qkNorm?: boolean;
  /** Sliding-window attention: a query sees only the latest `slidingWindow` positions (itself included). */
  slidingWindow?: number;
  /** Which layers slide (all when absent and slidingWindow is set). */
  slidingLayers?: boolean[];
  gemma?: GemmaExtras;
}

export interface Gpt2Config {
  family: 'gpt2';
  vocabSize: number;
  hidden: number;
  layers: number;
  heads: number;
  headDim: number;
  maxPositions: number;
  normEps: number;
  tiedHead: boolean;
}

export type ModelConfig = LlamaConfig | Gpt2Config;
