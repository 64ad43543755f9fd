// Merged exports: every parameter with its LoRA delta added (W + A·B·alpha/r), written as a
// Hugging Face folder (config.json, model.safetensors, generation_config.json, tokenizer files)
// or as one GGUF v3 file (F32 or F16; 1-D tensors stay F32, as llama.cpp does).
import { copyFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { tf } from '../tf';
import { CausalLM } from '../model/model';
import { loraDelta } from '../model/lora-adapter';
import { internalShape, ParamSpec } from '../core/params';
import { LlamaConfig, ModelConfig } from '../core/model-config';
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
  // A quantized base weight is dequantized for this one tensor (merged exports are float).
  const merged = tf.tidy(() => {
    const w = model.quantized.has(spec.name) ? tf.tensor(model.values(spec.name), internalShape(spec), 'float32') : model.param(spec.name);
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
    // Qwen2-style q/k/v biases: transformers' llama `attention_bias` also puts a bias on o_proj,
    // which this model has not, so such a model is written as qwen2 (biases on q, k, v only).
    const qwen = config.attentionBias;
    c = {
      architectures: [qwen ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM'], model_type: qwen ? 'qwen2' : 'llama',
      vocab_size: config.vocabSize, hidden_size: config.hidden, intermediate_size: config.intermediate,
      num_hidden_layers: config.layers, num_attention_heads: config.heads, num_key_value_heads: config.kvHeads,
      head_dim: config.headDim, hidden_act: 'silu', max_position_embeddings: config.maxPositions,
      rms_norm_eps: tidyFloat(config.normEps), rope_theta: tidyFloat(config.ropeTheta), rope_scaling: null,
      ...(qwen ? { use_sliding_window: false } : { attention_bias: false, mlp_bias: false, pretraining_tp: 1 }),
      attention_dropout: 0, initializer_range: 0.02, tie_word_embeddings: config.tiedHead, use_cache: true,
    };
  }
  if (ids.bos !== undefined) c.bos_token_id = ids.bos;
  if (ids.eos !== undefined) c.eos_token_id = ids.eos;
  const out = { ...c, ...(base ?? {}) };
  out.torch_dtype = dtype === 'f16' ? 'float16' : 'float32';
  out.tie_word_embeddings = config.tiedHead;
  return out;
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
export function ggufNameOf(family: 'llama' | 'gpt2', hfName: string): string {
  let name = hfToGgufName(family, hfName);
  if (name === undefined || ggufToHfName(family, name) !== hfName) {
    const m = family === 'gpt2' ? /^transformer\.ln_f\.(weight|bias)$/.exec(hfName) : null;
    name = m ? `output_norm.${m[1]}` : undefined;
  }
  if (name === undefined || ggufToHfName(family, name) !== hfName) throw new Error(`no GGUF name for tensor "${hfName}"`);
  return name;
}

/** The llama.cpp architecture a model whose base is not a GGUF file is written as. */
export function ggufArchFor(config: ModelConfig): string {
  return config.family === 'gpt2' ? 'gpt2' : config.attentionBias ? 'qwen2' : 'llama';
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
  const name = ggufNameOf(c.family, spec.name);
  let data = toHfLayout(spec, mergedParam(model, spec));
  let shape = spec.shape.slice();
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
function archMetadata(config: ModelConfig, arch: string): [string, GgufTypedValue][] {
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
    if (config.headDim * config.heads !== config.hidden) {
      k('attention.key_length', u32(config.headDim));
      k('attention.value_length', u32(config.headDim));
    }
  }
  k('vocab_size', u32(config.vocabSize));
  return md;
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
      const hf = ggufToHfName(c.family, t.name);
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
    for (const [k, v] of archMetadata(c, arch)) metadata.set(k, v);
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
