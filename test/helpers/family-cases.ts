// The random-model configs of every family the reference tests run, with the tolerance of
// each against llama.cpp (max |Δ log p| over every position and token above 1e-12).
import { tinyLlamaConfig } from './random-model';

export interface FamilyCase {
  name: string;
  config: Record<string, unknown>;
  normOffset?: boolean;
  /** max |Δ log p| against llama.cpp (see the note on each). */
  tol: number;
}

// f32 weights, F32 KV cache, flash attention off: what remains is float32 summation order
// (ggml's SIMD dot products vs XNNPACK's) through a few layers, ~1e-5 on these shapes; 1e-3
// leaves room for longer sequences without hiding a wrong formula (those give 1e-1 and up).
// Gemma: llama.cpp's CPU GELU reads an f16 table (GGML_GELU_FP16: input and output rounded
// to f16, relative 4.9e-4), measured 1.9e-3 (Gemma 2) and 2.1e-3 (Gemma 3) here; with that
// rounding emulated in our engine the differences fell to 6e-4 and 9e-5, so 5e-3 is the f16
// table, not the formulas.
const GEMMA_TOL = 5e-3;
const llama3 = { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 };
const gemma = (extra: Record<string, unknown>) => tinyLlamaConfig({
  hidden_size: 64, intermediate_size: 128, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 32,
  query_pre_attn_scalar: 32, rms_norm_eps: 1e-6, tie_word_embeddings: true, sliding_window: 8, ...extra,
});

export const FAMILY_CASES: FamilyCase[] = [
  // Llama 3.x: llama3 rope scaling with a small original context, so most frequencies are scaled.
  { name: 'Llama 3 (rope llama3)', config: tinyLlamaConfig({ rope_scaling: llama3, rope_theta: 500000 }), tol: 1e-3 },
  { name: 'Llama (rope linear)', config: tinyLlamaConfig({ rope_scaling: { rope_type: 'linear', factor: 4 } }), tol: 1e-3 },
  { name: 'SmolLM2 (llama, tied)', config: tinyLlamaConfig({ tie_word_embeddings: true, num_key_value_heads: 4 }), tol: 1e-3 },
  { name: 'Mistral', config: tinyLlamaConfig({ architectures: ['MistralForCausalLM'], model_type: 'mistral', sliding_window: 4096 }), tol: 1e-3 },
  { name: 'Qwen2', config: tinyLlamaConfig({ architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', tie_word_embeddings: true }), tol: 1e-3 },
  { name: 'Qwen3', config: tinyLlamaConfig({ architectures: ['Qwen3ForCausalLM'], model_type: 'qwen3', head_dim: 32, tie_word_embeddings: true, rope_theta: 1000000 }), tol: 1e-3 },
  // Gemma 2: caps small enough to bite on random weights; an 8-position window on even layers.
  { name: 'Gemma 2', config: gemma({ architectures: ['Gemma2ForCausalLM'], model_type: 'gemma2', attn_logit_softcapping: 5, final_logit_softcapping: 8, hidden_activation: 'gelu_pytorch_tanh' }), normOffset: true, tol: GEMMA_TOL },
  // Gemma 3: layers 0, 1 slide (local base 10000), layer 2 is global (base 1e6, linear ×8).
  { name: 'Gemma 3', config: gemma({ architectures: ['Gemma3ForCausalLM'], model_type: 'gemma3_text', num_hidden_layers: 3, sliding_window_pattern: 3, rope_theta: 1000000, rope_local_base_freq: 10000, rope_scaling: { rope_type: 'linear', factor: 8 }, hidden_activation: 'gelu_pytorch_tanh' }), normOffset: true, tol: GEMMA_TOL },
  { name: 'Phi-3', config: tinyLlamaConfig({ architectures: ['Phi3ForCausalLM'], model_type: 'phi3', sliding_window: 2047, num_key_value_heads: 4 }), tol: 1e-3 },
];

