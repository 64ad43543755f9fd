// Merged exports: every parameter with its LoRA delta added (W + A·B·alpha/r), written as a
// Hugging Face folder (config.json, model.safetensors, generation_config.json, tokenizer files)
// or as one GGUF v3 file (F32 or F16; 1-D tensors stay F32, as llama.cpp does).
import { copyFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { tf } from '../tf';
import { CausalLM } from '../model/model';
import { loraDelta } from '../model/lora-adapter';
import { internalShape, ParamSpec } from '../core/params';
import { archOf, DecoderArch, LlamaConfig, ModelConfig, RopeScaling } from '../core/model-config';
import * as gemma from '../model/gemma';
import { inverseFrequencies } from '../model/rope';
import { ggufToHfName, hfToGgufName, permuteRope, transpose2d } from '../model/loader';
import { readGguf, GgufType, type GgufTypedValue, type GgufWriteTensor, writeGguf } from '../core/formats/gguf';
import { writeSafetensors } from '../core/formats/safetensors';
import { hfTokenizerFromGguf, ggufTokenizerFromHf } from './hf-tokenizer';
import type { ExportSource } from './source';

export interface HfTensor {
  /** Hugging Face name. */
  name: string;
  /** Hugging Face shape (nn.Linear [out, in], Conv1D [in, out]). */
  shape: number[];
  data: Float32Array;
}

/** One parameter in the in-memory layout with its LoRA delta (if any) merged in. */
export function mergedParam(model: CausalLM, spec: ParamSpec): Float32Array {
  const ad = spec.name.endsWith('.weight') ? model.lora.get(spec.name.slice(0, -'.weight'.length)) : undefined;
  if (!ad) return model.values(spec.name);
  // An external base weight is decoded for this one tensor (merged exports are float).
  const merged = tf.tidy(() => {
    const w = model.external.has(spec.name) ? tf.tensor(model.values(spec.name), internalShape(spec), 'float32') : model.param(spec.name);
    return tf.add(w, loraDelta(ad));
  });
  try {
    return Float32Array.from(merged.dataSync() as Float32Array);
  } finally {
    merged.dispose();
  }
}

/** In-memory layout → Hugging Face layout (nn.Linear weights back to [out, in]). */
export function toHfLayout(spec: ParamSpec, data: Float32Array): Float32Array {
  if (spec.layout !== 'linear') return data;
  const [rows, cols] = internalShape(spec);
  return transpose2d(data, rows, cols);
}

/** Every parameter, merged, in Hugging Face layout and model order. */
export function mergedHfTensors(model: CausalLM): HfTensor[] {
  return model.specs.map((s) => ({ name: s.name, shape: s.shape.slice(), data: toHfLayout(s, mergedParam(model, s)) }));
}

/** A float32 metadata value written with its shortest decimal (1e-5, not 9.999999747378752e-06). */
function tidyFloat(v: number): number {
  for (let p = 1; p <= 9; p++) {
    const x = Number(v.toPrecision(p));
    if (Math.fround(x) === Math.fround(v)) return x;
  }
  return v;
}

/** The HF folder (or the folder holding the .safetensors file) of an HF base. */
function hfBaseDir(path: string): string {
  return statSync(path).isDirectory() ? path : dirname(path);
}

function readJson(path: string): Record<string, unknown> | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const v = JSON.parse(readFileSync(path, 'utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

function baseConfigJson(src: ExportSource): Record<string, unknown> | undefined {
  if (src.base.format !== 'hf') return undefined;
  const dir = hfBaseDir(src.base.path);
  if (statSync(src.base.path).isDirectory()) return readJson(join(dir, 'config.json'));
  const stem = basename(src.base.path).replace(/(\.model)?\.safetensors$/, '');
  return readJson(join(dir, `${stem}.config.json`)) ?? readJson(join(dir, 'config.json'));
}

/** A Hugging Face config.json for the model (fields of an HF base's own config.json win). */
export function hfConfigJson(config: ModelConfig, ids: { bos?: number; eos?: number }, dtype: 'f32' | 'f16', base?: Record<string, unknown>): Record<string, unknown> {
  let c: Record<string, unknown>;
  if (config.family === 'gpt2') {
    c = {
      architectures: ['GPT2LMHeadModel'], model_type: 'gpt2',
      vocab_size: config.vocabSize, n_embd: config.hidden, n_layer: config.layers, n_head: config.heads,
      n_positions: config.maxPositions, n_ctx: config.maxPositions, n_inner: null,
      activation_function: 'gelu_new', layer_norm_epsilon: tidyFloat(config.normEps),
      resid_pdrop: 0.1, embd_pdrop: 0.1, attn_pdrop: 0.1, initializer_range: 0.02, scale_attn_weights: true,
      tie_word_embeddings: config.tiedHead, use_cache: true,
    };
  } else {
    c = llamaLineageConfigJson(config);
  }
  if (ids.bos !== undefined) c.bos_token_id = ids.bos;
  if (ids.eos !== undefined) c.eos_token_id = ids.eos;
  const out = { ...c, ...(base ?? {}) };
  out.torch_dtype = dtype === 'f16' ? 'float16' : 'float32';
  out.tie_word_embeddings = config.tiedHead;
  return out;
}

/** transformers' names of our decoders: model_type and architecture class. */
const HF_NAMES: Record<DecoderArch, [string, string]> = {
  llama: ['llama', 'LlamaForCausalLM'], mistral: ['mistral', 'MistralForCausalLM'], qwen2: ['qwen2', 'Qwen2ForCausalLM'],
  qwen3: ['qwen3', 'Qwen3ForCausalLM'], gemma2: ['gemma2', 'Gemma2ForCausalLM'], gemma3: ['gemma3_text', 'Gemma3ForCausalLM'],
  phi3: ['phi3', 'Phi3ForCausalLM'],
};

/** transformers' rope_scaling for our scaling (per-frequency factors have no transformers form). */
function hfRopeScaling(s: RopeScaling | undefined): Record<string, unknown> | null {
  if (!s) return null;
  switch (s.type) {
    case 'linear': return { rope_type: 'linear', factor: s.factor };
    case 'dynamic': return { rope_type: 'dynamic', factor: s.factor };
    case 'llama3': return { rope_type: 'llama3', factor: s.factor, low_freq_factor: s.lowFreqFactor, high_freq_factor: s.highFreqFactor, original_max_position_embeddings: s.originalMax };
    case 'factors':
      throw new Error('rope frequency factors from a GGUF rope_freqs tensor have no transformers rope_scaling; '
        + 'export this model as merged-gguf instead (or start from its Hugging Face folder)');
  }
}

/** config.json fields of a Llama-lineage model (transformers' names and defaults). */
function llamaLineageConfigJson(config: LlamaConfig): Record<string, unknown> {
  // Qwen2-style q/k/v biases: transformers' llama `attention_bias` also puts a bias on o_proj,
  // which this model has not, so such a model is written as qwen2 (biases on q, k, v only).
  const arch = config.attentionBias ? 'qwen2' : archOf(config) as DecoderArch;
  const [modelType, cls] = HF_NAMES[arch];
  const gemma = arch === 'gemma2' || arch === 'gemma3';
  const c: Record<string, unknown> = {
    architectures: [cls], model_type: modelType,
    vocab_size: config.vocabSize, hidden_size: config.hidden, intermediate_size: config.intermediate,
    num_hidden_layers: config.layers, num_attention_heads: config.heads, num_key_value_heads: config.kvHeads,
    head_dim: config.headDim, max_position_embeddings: config.ropeScaling?.type === 'dynamic' ? config.ropeScaling.originalMax : config.maxPositions,
    rms_norm_eps: tidyFloat(config.normEps), rope_theta: tidyFloat(config.ropeTheta), rope_scaling: hfRopeScaling(config.ropeScaling),
    attention_dropout: 0, initializer_range: 0.02, tie_word_embeddings: config.tiedHead, use_cache: true,
  };
  if (gemma) c.hidden_activation = 'gelu_pytorch_tanh';
  else c.hidden_act = 'silu';
  if (arch === 'llama' || arch === 'mistral' || arch === 'qwen3') Object.assign(c, { attention_bias: false });
  if (arch === 'llama') Object.assign(c, { mlp_bias: false, pretraining_tp: 1 });
  const layers = config.slidingLayers;
  if (arch === 'qwen2' || arch === 'qwen3') {
    // transformers' Qwen: sliding from layer max_window_layers on.
    const from = layers ? layers.indexOf(true) : config.slidingWindow ? 0 : -1;
    if (layers && from >= 0 && layers.some((v, i) => v !== i >= from)) throw new Error('this sliding-window layer pattern has no Qwen config form');
    Object.assign(c, { use_sliding_window: from >= 0, sliding_window: config.slidingWindow ?? null, max_window_layers: from >= 0 ? from : config.layers });
  } else if (arch === 'mistral' || arch === 'phi3') {
    c.sliding_window = config.slidingWindow ?? null;
  } else if (gemma) {
    c.sliding_window = config.slidingWindow ?? null;
    if (layers) c.layer_types = layers.map((v) => (v ? 'sliding_attention' : 'full_attention'));
    const g = config.gemma!;
    Object.assign(c, {
      query_pre_attn_scalar: g.queryPreAttnScalar, attn_logit_softcapping: g.attnSoftcap ?? null, final_logit_softcapping: g.finalSoftcap ?? null,
      attention_bias: false,
    });
    if (arch === 'gemma3') c.rope_local_base_freq = g.ropeLocalTheta ?? config.ropeTheta;
  }
  return c;
}

const HF_TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'tokenizer.model', 'vocab.json', 'merges.txt', 'added_tokens.json'];

function writeJson(path: string, v: unknown): void {
  writeFileSync(path, JSON.stringify(v, null, 2) + '\n');
}

/** Writes the merged Hugging Face folder into `dir`; returns the file names written. */
export function writeMergedHf(src: ExportSource, dir: string, dtype: 'f32' | 'f16'): { names: string[]; notes: string[] } {
  const model = src.model;
  const names: string[] = [];
  const notes: string[] = [];
  const tok = src.tokenizer;
  const ids = { bos: tok?.bos, eos: tok?.eos };

  writeJson(join(dir, 'config.json'), hfConfigJson(model.config, ids, dtype, baseConfigJson(src)));
  names.push('config.json');

  const tensors = mergedHfTensors(model).map((t) => ({ ...t, dtype: (dtype === 'f16' ? 'F16' : 'F32') as 'F16' | 'F32' }));
  writeSafetensors(join(dir, 'model.safetensors'), tensors);
  names.push('model.safetensors');

  const baseDir = src.base.format === 'hf' ? hfBaseDir(src.base.path) : undefined;
  if (baseDir && existsSync(join(baseDir, 'generation_config.json'))) {
    copyFileSync(join(baseDir, 'generation_config.json'), join(dir, 'generation_config.json'));
  } else {
    const gc: Record<string, unknown> = { _from_model_config: true };
    if (ids.bos !== undefined) gc.bos_token_id = ids.bos;
    if (ids.eos !== undefined) gc.eos_token_id = ids.eos;
    writeJson(join(dir, 'generation_config.json'), gc);
  }
  names.push('generation_config.json');

  if (baseDir) {
    let n = 0;
    for (const f of HF_TOKENIZER_FILES) {
      if (!existsSync(join(baseDir, f))) continue;
      copyFileSync(join(baseDir, f), join(dir, f));
      names.push(f);
      n++;
    }
    if (!n) notes.push(`the base ${src.base.path} has no tokenizer files; the export has none either`);
  } else {
    const meta = readGguf(src.base.path).metadata as Map<string, unknown>;
    if (meta.has('tokenizer.ggml.tokens')) {
      const files = hfTokenizerFromGguf(meta, { modelMaxLength: model.config.maxPositions });
      writeJson(join(dir, 'tokenizer.json'), files.tokenizer);
      writeJson(join(dir, 'tokenizer_config.json'), files.tokenizerConfig);
      writeJson(join(dir, 'special_tokens_map.json'), files.specialTokensMap);
      names.push('tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json');
      notes.push('tokenizer.json was written from the GGUF vocabulary');
    } else {
      notes.push(`the base ${basename(src.base.path)} has no tokenizer; the export has none either`);
    }
  }
  if (src.chatTemplate && existsSync(join(dir, 'tokenizer_config.json'))) {
    // The template the run trained with, which may be the default one for a base without one.
    const tc = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
    if (tc.chat_template !== src.chatTemplate) writeJson(join(dir, 'tokenizer_config.json'), { ...tc, chat_template: src.chatTemplate });
  }
  return { names, notes };
}

// ------------------------------------------------------------------------------- GGUF

/**
 * The GGUF name of an HF parameter, checked by mapping it back. (loader.ts's hfToGgufName misses
 * GPT-2's `transformer.ln_f.{weight,bias}`, whose GGUF pattern captures weight|bias as group 1.)
 */
export function ggufNameOf(arch: DecoderArch | 'gpt2', hfName: string): string {
  let name = hfToGgufName(arch, hfName);
  if (name === undefined || ggufToHfName(arch, name) !== hfName) {
    const m = arch === 'gpt2' ? /^transformer\.ln_f\.(weight|bias)$/.exec(hfName) : null;
    name = m ? `output_norm.${m[1]}` : undefined;
  }
  if (name === undefined || ggufToHfName(arch, name) !== hfName) throw new Error(`no GGUF name for tensor "${hfName}"`);
  return name;
}

/** The llama.cpp architecture a model whose base is not a GGUF file is written as. */
export function ggufArchFor(config: ModelConfig): string {
  if (config.family === 'gpt2') return 'gpt2';
  if (config.attentionBias) return 'qwen2';
  // llama.cpp has no mistral architecture: converted Mistral models are llama (q/k permuted).
  const arch = archOf(config);
  return arch === 'mistral' ? 'llama' : arch;
}

/** The GGUF architecture of an export's base: the base file's own, or ggufArchFor. */
export function ggufArchOf(src: ExportSource): string {
  return src.base.format === 'gguf' ? String(readGguf(src.base.path).metadata.get('general.architecture')) : ggufArchFor(src.model.config);
}

/** llama.cpp's llama architecture keeps Meta's interleaved rotary rows in q/k (its converter permutes them). */
export function ropeRowsPermuted(config: ModelConfig, arch: string): config is LlamaConfig {
  return config.family === 'llama' && arch === 'llama';
}

/** One merged parameter as a GGUF tensor: GGUF name, row-major shape, data in GGUF's layout. */
function ggufTensor(model: CausalLM, spec: ParamSpec, arch: string, dtype: 'f32' | 'f16'): GgufWriteTensor {
  const c = model.config;
  const name = ggufNameOf(archOf(c), spec.name);
  let data = toHfLayout(spec, mergedParam(model, spec));
  let shape = spec.shape.slice();
  if (c.family === 'llama' && (c.arch === 'gemma2' || c.arch === 'gemma3') && gemma.isShiftedNorm(spec.name)) {
    // llama.cpp's Gemma norms are plain x̂·w: its converter stores 1 + w.
    data = data.map((v) => v + gemma.NORM_SHIFT);
  }
  if (ropeRowsPermuted(c, arch)) {
    // Back to Meta's interleaved rotary rows, which llama.cpp's llama architecture expects.
    const m = spec.name.match(/self_attn\.(q|k)_proj\.(weight|bias)$/);
    if (m) data = permuteRope(data, shape[0], shape.length > 1 ? shape[1] : 1, m[1] === 'q' ? c.heads : c.kvHeads, true);
  }
  if (c.family === 'gpt2' && shape.length === 2 && /\.(c_attn|c_proj|c_fc)\.weight$/.test(spec.name)) {
    // Hugging Face's Conv1D [in, out] → GGUF's nn.Linear [out, in].
    data = transpose2d(data, shape[0], shape[1]);
    shape = [shape[1], shape[0]];
  }
  const type = shape.length === 1 || dtype === 'f32' ? 'F32' : 'F16';
  return { name, shape, data, type };
}

const u32 = (value: number): GgufTypedValue => ({ type: GgufType.UINT32, value });
const f32 = (value: number): GgufTypedValue => ({ type: GgufType.FLOAT32, value });
const str = (value: string): GgufTypedValue => ({ type: GgufType.STRING, value });

/** llama.cpp's general.file_type: 0 all F32, 1 mostly F16. */
const FILE_TYPE = { f32: 0, f16: 1 } as const;

/** Architecture metadata for a model whose base was not a GGUF file. */
function archMetadata(config: ModelConfig, arch: string, notes: string[]): [string, GgufTypedValue][] {
  const md: [string, GgufTypedValue][] = [];
  const k = (key: string, v: GgufTypedValue) => md.push([`${arch}.${key}`, v]);
  k('context_length', u32(config.maxPositions));
  k('embedding_length', u32(config.hidden));
  k('block_count', u32(config.layers));
  if (config.family === 'gpt2') {
    k('feed_forward_length', u32(4 * config.hidden));
    k('attention.head_count', u32(config.heads));
    k('attention.layer_norm_epsilon', f32(config.normEps));
  } else {
    k('feed_forward_length', u32(config.intermediate));
    k('attention.head_count', u32(config.heads));
    k('attention.head_count_kv', u32(config.kvHeads));
    k('attention.layer_norm_rms_epsilon', f32(config.normEps));
    k('rope.freq_base', f32(config.ropeTheta));
    k('rope.dimension_count', u32(config.headDim));
    if (config.headDim * config.heads !== config.hidden || arch === 'gemma2' || arch === 'gemma3') {
      k('attention.key_length', u32(config.headDim));
      k('attention.value_length', u32(config.headDim));
    }
    md.push(...decoderMetadata(config, arch, notes));
  }
  k('vocab_size', u32(config.vocabSize));
  return md;
}

/** The period n of a layer pattern llama.cpp can express (layer i slides iff i % n < n − 1), or undefined. */
function swaPeriod(layers: boolean[]): number | undefined {
  for (let n = 1; n <= layers.length + 1; n++) if (layers.every((v, i) => v === i % n < n - 1)) return n;
  return undefined;
}

/** Rope scaling, sliding windows and Gemma's extras as llama.cpp reads them for `arch`. */
function decoderMetadata(c: LlamaConfig, arch: string, notes: string[]): [string, GgufTypedValue][] {
  const md: [string, GgufTypedValue][] = [];
  const k = (key: string, v: GgufTypedValue) => md.push([`${arch}.${key}`, v]);
  const s = c.ropeScaling;
  if (s?.type === 'dynamic') throw new Error('dynamic (NTK) rope scaling has no GGUF form that llama.cpp reads; export this model as merged-hf');
  if (s?.type === 'linear') {
    k('rope.scaling.type', str('linear'));
    k('rope.scaling.factor', f32(s.factor));
  }
  if (c.slidingWindow) {
    if (arch === 'gemma2' || arch === 'gemma3') {
      const period = swaPeriod(c.slidingLayers ?? new Array(c.layers).fill(true));
      if (period === undefined) throw new Error('this sliding-window layer pattern has no llama.cpp form (layer i slides iff i % n < n − 1)');
      k('attention.sliding_window', u32(c.slidingWindow));
      k('attention.sliding_window_pattern', u32(period));
    } else if (arch === 'phi3') {
      k('attention.sliding_window', u32(c.slidingWindow));
      notes.push(`llama.cpp ignores Phi-3's sliding window (${c.slidingWindow}): it attends to the whole context`);
    } else {
      notes.push(`llama.cpp's ${arch} architecture has no sliding window: it attends to the whole context, not the last ${c.slidingWindow} positions`);
    }
  }
  const g = c.gemma;
  if (g) {
    if (g.attnSoftcap) k('attn_logit_softcapping', f32(g.attnSoftcap));
    if (g.finalSoftcap) k('final_logit_softcapping', f32(g.finalSoftcap));
    if (arch === 'gemma3' && g.ropeLocalTheta !== undefined) k('rope.freq_base_swa', f32(g.ropeLocalTheta));
    const big = (arch === 'gemma2' && c.layers === 46) || (arch === 'gemma3' && c.layers === 62);
    const cppScalar = big ? c.hidden / c.heads : c.headDim;
    if (cppScalar !== g.queryPreAttnScalar) {
      notes.push(`llama.cpp scales ${arch} queries by 1/√${cppScalar}, this model by 1/√${g.queryPreAttnScalar} (query_pre_attn_scalar): its logits will differ`);
    }
    if (arch === 'gemma2' && !g.attnSoftcap) notes.push('llama.cpp soft-caps gemma2 attention at 50 when the GGUF gives no attn_logit_softcapping: its logits will differ');
    if (arch === 'gemma2' && !g.finalSoftcap) notes.push('llama.cpp soft-caps gemma2 logits at 30 when the GGUF gives no final_logit_softcapping: its logits will differ');
  }
  return md;
}

/** llama3 scaling (or GGUF factors) as llama.cpp's rope_freqs tensor: factor i = inv_freq_plain[i] / inv_freq_scaled[i]. */
function ropeFreqsTensor(c: LlamaConfig): GgufWriteTensor | undefined {
  const s = c.ropeScaling;
  if (s?.type !== 'llama3' && s?.type !== 'factors') return undefined;
  const spec = { theta: c.ropeTheta, dim: c.headDim, maxPositions: c.maxPositions };
  const plain = inverseFrequencies(spec, 0);
  const scaled = inverseFrequencies({ ...spec, scaling: s }, 0);
  return { name: 'rope_freqs.weight', shape: [c.headDim / 2], data: Float32Array.from(plain, (f, i) => f / scaled[i]), type: 'F32' };
}


/** Writes `<dir>/model.gguf`; returns the file names written. */
export function writeMergedGguf(src: ExportSource, dir: string, dtype: 'f32' | 'f16'): { names: string[]; notes: string[] } {
  const model = src.model;
  const c = model.config;
  const notes: string[] = [];
  const metadata = new Map<string, GgufTypedValue>();
  const tensors: GgufWriteTensor[] = [];
  const done = new Set<string>();
  const specByName = new Map(model.specs.map((s) => [s.name, s]));

  if (src.base.format === 'gguf') {
    const file = readGguf(src.base.path);
    const arch = String(file.metadata.get('general.architecture'));
    for (const [key, v] of file.typedMetadata) metadata.set(key, v);
    metadata.set('general.file_type', u32(FILE_TYPE[dtype]));
    if (src.chatTemplate) metadata.set('tokenizer.chat_template', str(src.chatTemplate));
    // The base file's tensor order; tensors the model does not hold (e.g. rope_freqs) are copied as they are.
    for (const t of file.tensors) {
      const hf = ggufToHfName(archOf(c), t.name);
      const spec = hf ? specByName.get(hf) : undefined;
      if (spec) {
        tensors.push(ggufTensor(model, spec, arch, dtype));
        done.add(spec.name);
      } else {
        tensors.push({ name: t.name, shape: t.shape, raw: file.tensorBytes(t.name), type: t.type });
      }
    }
    for (const s of model.specs) if (!done.has(s.name)) tensors.push(ggufTensor(model, s, arch, dtype));
  } else {
    const arch = ggufArchFor(c);
    metadata.set('general.architecture', str(arch));
    metadata.set('general.name', str(basename(src.base.path).replace(/\.safetensors$/, '')));
    metadata.set('general.file_type', u32(FILE_TYPE[dtype]));
    for (const [k, v] of archMetadata(c, arch, notes)) metadata.set(k, v);
    const freqs = c.family === 'llama' ? ropeFreqsTensor(c) : undefined;
    if (freqs) tensors.push(freqs);
    const tokPath = join(hfBaseDir(src.base.path), 'tokenizer.json');
    if (existsSync(tokPath)) {
      const t = ggufTokenizerFromHf(JSON.parse(readFileSync(tokPath, 'utf8')), { vocabSize: c.vocabSize, tokenizer: src.tokenizer, chatTemplate: src.chatTemplate });
      for (const [k, v] of t.metadata) metadata.set(k, v);
      notes.push(...t.notes);
    } else {
      notes.push('the base has no tokenizer.json: the GGUF has no tokenizer (llama.cpp needs one)');
    }
    for (const s of model.specs) tensors.push(ggufTensor(model, s, arch, dtype));
  }
  writeGguf(join(dir, 'model.gguf'), metadata, tensors);
  return { names: ['model.gguf'], notes };
}
