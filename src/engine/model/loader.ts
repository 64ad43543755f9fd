// Loads a model from a GGUF file or a Hugging Face folder (config.json + safetensors,
// sharded or not, + tokenizer.json) into a CausalLM whose parameters carry the Hugging Face
// transformers names. GGUF names are mapped here, and GGUF's interleaved rotary layout of
// Llama q/k rows is permuted back to Hugging Face's.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { tf, Tensor } from '../tf';
import { readGguf, GgufFile } from '../core/formats/gguf';
import { FormatError } from '../core/formats/binary';
import { readSafetensorsModel, readSafetensors, type TensorEntry } from '../core/formats/safetensors';
import { readHfConfig, type LlamaConfig as HfLlamaConfig } from '../core/formats/hfconfig';
import { hasGgufMagic } from '../core/formats/gguf-header';
import { checkLayerCount, checkPositiveFinite, readJsonFile } from '../core/formats/limits';
import { isQuantType, isStoredType, permuteQuantRows, transposeStored, type StoredMatrix } from '../core/formats/quant';
import { canStayExternal, storedShape } from './external-weights';
import { productsOnBlas } from '../native';
import { Tokenizer, tokenizerFromGgufMetadata, tokenizerFromHfJson } from '../tokenizers';
import { archOf, checkConfig, DECODER_ARCHS, DecoderArch, LlamaConfig, ModelConfig, RopeScaling } from '../core/model-config';
import * as llama from './llama';
import * as gemma from './gemma';
import * as phi3 from './phi3';
import { GGUF_ARCHITECTURES } from '../core/architectures';
import { CausalLM } from './model';
import { familyOf } from './families';
import { internalShape, ParamSpec } from '../core/params';

export interface TensorInfo {
  name: string;
  shape: number[];
  dtype: string;
}

export interface LoadedModel {
  model: CausalLM;
  tokenizer?: Tokenizer;
  format: 'gguf' | 'hf';
  path: string;
  /** Files the model was read from (hashed into the run record). */
  files: string[];
  name: string;
  /** Source dtype of each parameter, by HF name. */
  dtypes: Map<string, string>;
  chatTemplate?: string;
  loadMs: number;
}

export interface LoadOptions {
  /** An explicit config.json (for a bare .safetensors file). */
  config?: string;
  /**
   * true: keep F32/F16/BF16 linear weights and the token embedding outside the tensor backend, in
   * the file's encoding (quantized ones always are); false: as float32 tensors. Default
   * (externalPolicy): on BLAS, F32 always and F16/BF16 when the model would take more than
   * EXTERNAL_HALF_ABOVE as float32.
   */
  external?: boolean;
}

/**
 * Float32 size above which F16/BF16 weights stay in their encoding on BLAS: a quarter of the wasm
 * heap. Below it they are decoded once at load, as before: a product then reads float32 instead of
 * decoding a block first. Measured on a 20 M-parameter BF16 Llama (load 4-9 on 2 cores): a
 * generated token 56-94 ms outside vs 23-32 ms decoded, a LoRA step of 256 tokens 668 vs 645 ms
 * (medians of 4) — the step's rows share each decoding, a token's one row does not.
 */
export const EXTERNAL_HALF_ABOVE = 2 ** 30;

/** Which float weights stay outside the backend: none, F32 only (read in place: free), or all. */
export type FloatPolicy = 'none' | 'f32' | 'all';

/**
 * Without BLAS the backend's own kernels need tensors: none (quantized bases still stay blocks).
 * On BLAS products read the weights where they lie at BLAS speed and the wasm heap keeps only what
 * trains and the activations: F32 always (no copy, no decoding), F16/BF16 when the model is large.
 */
export function externalPolicy(explicit: boolean | undefined, float32Bytes: number, blas = productsOnBlas()): FloatPolicy {
  if (explicit !== undefined) return explicit ? 'all' : 'none';
  if (!blas) return 'none';
  return float32Bytes > EXTERNAL_HALF_ABOVE ? 'all' : 'f32';
}

/** Raw weights by HF name, in HF layout, before they become tensors. */
interface RawWeights {
  get(name: string): { data: Float32Array; shape: number[]; dtype: string } | undefined;
  /** The shape `get` would return, without decoding the data. */
  shape(name: string): number[] | undefined;
  names(): string[];
  /**
   * The weight in the file's encoding, [out, in] (storedShape), rows in HF order: when the file
   * stores it quantized, or as a float type the policy keeps. Undefined otherwise.
   */
  stored(name: string, floats: FloatPolicy): StoredMatrix | undefined;
}

/** Field names of the counts and floats that a file claims, for messages. */
interface ClaimFields { layers: string; normEps: string; ropeTheta?: string }

/**
 * What the metadata claims, checked before anything is sized by it (formats/limits.ts): the layer
 * count against the blocks the tensors hold, float hyperparameters finite and positive.
 */
function checkClaims(file: string, config: ModelConfig, fields: ClaimFields, tensorNames: string[]): void {
  checkPositiveFinite(file, fields.normEps, config.normEps);
  if (config.family === 'llama' && fields.ropeTheta) checkPositiveFinite(file, fields.ropeTheta, config.ropeTheta);
  checkLayerCount(file, fields.layers, config.layers, tensorNames);
}

function ggufClaimFields(file: GgufFile): ClaimFields {
  const arch = String(file.metadata.get('general.architecture') ?? '');
  return arch === 'gpt2'
    ? { layers: 'gpt2.block_count', normEps: 'gpt2.attention.layer_norm_epsilon' }
    : { layers: `${arch}.block_count`, normEps: `${arch}.attention.layer_norm_rms_epsilon`, ropeTheta: `${arch}.rope.freq_base` };
}

// ---------------------------------------------------------------------------------- GGUF

function metaOf(file: GgufFile) {
  const get = (key: string): unknown => {
    return file.metadata.get(key) as unknown;
  };
  const num = (key: string, fallback?: number): number => {
    const v = get(key);
    if (typeof v === 'number') return v;
    if (typeof v === 'bigint') return Number(v);
    if (fallback !== undefined) return fallback;
    throw new Error(`${basename(file.path)}: metadata "${key}" is missing or not a number`);
  };
  return { get, num };
}

const GPT2_GGUF_NAMES: [RegExp, string][] = [
  [/^token_embd\.weight$/, 'transformer.wte.weight'],
  [/^position_embd\.weight$/, 'transformer.wpe.weight'],
  [/^output_norm\.(weight|bias)$/, 'transformer.ln_f.$1'],
  [/^output\.weight$/, 'lm_head.weight'],
  [/^blk\.(\d+)\.attn_norm\.(weight|bias)$/, 'transformer.h.$1.ln_1.$2'],
  [/^blk\.(\d+)\.attn_qkv\.(weight|bias)$/, 'transformer.h.$1.attn.c_attn.$2'],
  [/^blk\.(\d+)\.attn_output\.(weight|bias)$/, 'transformer.h.$1.attn.c_proj.$2'],
  [/^blk\.(\d+)\.ffn_norm\.(weight|bias)$/, 'transformer.h.$1.ln_2.$2'],
  [/^blk\.(\d+)\.ffn_up\.(weight|bias)$/, 'transformer.h.$1.mlp.c_fc.$2'],
  [/^blk\.(\d+)\.ffn_down\.(weight|bias)$/, 'transformer.h.$1.mlp.c_proj.$2'],
];

/** The GGUF ↔ Hugging Face name table of a decoder ('llama' for the whole llama.ts family). */
function ggufNames(arch: DecoderArch | 'gpt2'): [RegExp, string][] {
  if (arch === 'gpt2') return GPT2_GGUF_NAMES;
  if (arch === 'gemma2' || arch === 'gemma3') return gemma.GGUF_NAMES;
  if (arch === 'phi3') return phi3.GGUF_NAMES;
  return llama.GGUF_NAMES;
}

/** HF name for a GGUF tensor name, and the reverse (for the GGUF export). */
export function ggufToHfName(arch: DecoderArch | 'gpt2', name: string): string | undefined {
  for (const [re, to] of ggufNames(arch)) if (re.test(name)) return name.replace(re, to);
  return undefined;
}

export function hfToGgufName(arch: DecoderArch | 'gpt2', name: string): string | undefined {
  for (const [re, to] of ggufNames(arch)) {
    // The GGUF regex's groups, in order: `$k` in the HF template stands for group k.
    const groups = re.source.match(/\([^)]*\)/g) ?? [];
    const back = new RegExp('^' + to.replace(/\./g, '\\.').replace(/\$(\d)/g, (_, k) => groups[Number(k) - 1]) + '$');
    const m = name.match(back);
    if (!m) continue;
    // Group j of `back` is the j-th `$k` met in the template; put each value back at its k.
    const order = [...to.matchAll(/\$(\d)/g)].map((x) => Number(x[1]));
    const values: string[] = [];
    order.forEach((k, j) => (values[k - 1] = m[j + 1]));
    let i = 0;
    return re.source.slice(1, -1).replace(/\([^)]*\)/g, () => values[i++]).replace(/\\\./g, '.');
  }
  return undefined;
}

/**
 * Rows of a q/k weight (or bias) from Meta/GGUF's interleaved rotary pairs (2i, 2i+1) to
 * Hugging Face's halves (i, i+hd/2); `inverse` goes back (for the GGUF export).
 */
export function permuteRope(data: Float32Array, rows: number, cols: number, heads: number, inverse = false): Float32Array {
  const order = ropeRowOrder(rows, heads, inverse);
  const out = new Float32Array(data.length);
  for (let dst = 0; dst < rows; dst++) out.set(data.subarray(order[dst] * cols, (order[dst] + 1) * cols), dst * cols);
  return out;
}

/** Row order of permuteRope: row i of the result is row order[i] of its input. */
export function ropeRowOrder(rows: number, heads: number, inverse = false): Int32Array {
  const hd = rows / heads;
  const half = hd / 2;
  const order = new Int32Array(rows);
  for (let h = 0; h < heads; h++) {
    for (let a = 0; a < 2; a++) {
      for (let i = 0; i < half; i++) {
        const hfRow = h * hd + a * half + i;
        const metaRow = h * hd + i * 2 + a;
        if (inverse) order[metaRow] = hfRow;
        else order[hfRow] = metaRow;
      }
    }
  }
  return order;
}

export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}

/**
 * Rotary scaling of a GGUF file, as llama.cpp reads it: a rope_freqs tensor (llama3 scaling,
 * converted to per-frequency factors), or rope.scaling.type linear with its factor. Types we do
 * not implement (yarn, longrope and Phi-3's long/short factor tensors) are refused by name.
 */
function ggufRopeScaling(file: GgufFile, arch: string, src: string): RopeScaling | undefined {
  const { get } = metaOf(file);
  const longrope = file.tensors.find((t) => /^rope_factors_(long|short)\.weight$/.test(t.name));
  if (longrope) throw new Error(`${src}: tensor "${longrope.name}" is longrope scaling (Phi-3 128k / Phi-3.5), which is not supported`);
  const freqs = file.tensors.find((t) => t.name === 'rope_freqs.weight');
  const type = get(`${arch}.rope.scaling.type`);
  const factor = Number(get(`${arch}.rope.scaling.factor`) ?? get(`${arch}.rope.scale_linear`) ?? 0);
  if (type !== undefined && type !== 'none' && type !== 'linear') {
    throw new Error(`${src}: ${arch}.rope.scaling.type "${String(type)}" is not supported (supported: none, linear, and a rope_freqs tensor)`);
  }
  if (freqs) {
    if (factor && factor !== 1) throw new Error(`${src}: both a rope_freqs tensor and ${arch}.rope.scaling.factor ${factor}; only one is supported`);
    return { type: 'factors', factors: [...file.loadTensor(freqs.name)] };
  }
  // llama.cpp applies a factor whatever the type says (linear when absent).
  return factor && factor !== 1 ? { type: 'linear', factor } : undefined;
}

function configFromGguf(file: GgufFile): ModelConfig {
  const { get, num } = metaOf(file);
  const arch = String(get('general.architecture') ?? '');
  const src = basename(file.path);
  const tensor = (n: string) => file.tensors.find((t) => t.name === n);
  if (!GGUF_ARCHITECTURES.includes(arch)) {
    throw new Error(`${src}: architecture "${arch}" is not supported (supported: ${GGUF_ARCHITECTURES.join(', ')})`);
  }
  const embd = tensor('token_embd.weight');
  if (!embd) throw new Error(`${src}: tensor "token_embd.weight" is missing`);
  const vocabSize = embd.shape[0];
  if ((DECODER_ARCHS as readonly string[]).includes(arch)) {
    const hidden = num(`${arch}.embedding_length`);
    const heads = num(`${arch}.attention.head_count`);
    const layers = num(`${arch}.block_count`);
    const headDim = num(`${arch}.attention.key_length`, hidden / heads);
    const gemma = arch === 'gemma2' || arch === 'gemma3';
    const c: LlamaConfig = {
      family: 'llama',
      arch: arch as DecoderArch,
      vocabSize,
      hidden,
      intermediate: num(`${arch}.feed_forward_length`),
      layers,
      heads,
      kvHeads: num(`${arch}.attention.head_count_kv`, heads),
      headDim,
      maxPositions: num(`${arch}.context_length`, 2048),
      normEps: num(`${arch}.attention.layer_norm_rms_epsilon`, 1e-5),
      ropeTheta: num(`${arch}.rope.freq_base`, 10000),
      attentionBias: !!tensor('blk.0.attn_q.bias'),
      tiedHead: !tensor('output.weight'),
      ropeScaling: ggufRopeScaling(file, arch, src),
      qkNorm: !!tensor('blk.0.attn_q_norm.weight'),
    };
    const rotDims = get(`${arch}.rope.dimension_count`);
    // (More dims than a head holds is a corrupt count: the tensor shape checks name it.)
    if (rotDims !== undefined && Number(rotDims) < headDim) {
      throw new Error(`${src}: ${arch}.rope.dimension_count ${String(rotDims)} rotates part of each ${headDim}-dim head, which is not supported`);
    }
    // Sliding windows as llama.cpp sets them per architecture (llama.cpp leaves Phi-3's off;
    // we keep it, as transformers does, so a GGUF and its HF folder compute alike).
    const window = num(`${arch}.attention.sliding_window`, arch === 'gemma2' ? 4096 : 0);
    if (window > 0 && arch !== 'qwen2' && arch !== 'qwen3' && arch !== 'llama') {
      c.slidingWindow = window;
      if (gemma) {
        const n = num(`${arch}.attention.sliding_window_pattern`, arch === 'gemma2' ? 2 : 6);
        c.slidingLayers = Array.from({ length: layers }, (_, i) => n === 0 || i % n < n - 1);
      }
    }
    if (gemma) {
      // llama.cpp scales queries by 1/√(hidden/heads) for the 27B models and 1/√head_dim otherwise
      // (the GGUF does not carry query_pre_attn_scalar).
      const big = (arch === 'gemma2' && layers === 46) || (arch === 'gemma3' && layers === 62);
      c.gemma = {
        queryPreAttnScalar: big ? hidden / heads : headDim,
        attnSoftcap: arch === 'gemma2' ? num('gemma2.attn_logit_softcapping', 50) : undefined,
        finalSoftcap: num(`${arch}.final_logit_softcapping`, arch === 'gemma2' ? 30 : 0) || undefined,
        ropeLocalTheta: arch === 'gemma3' && c.slidingWindow ? num('gemma3.rope.freq_base_swa', 10000) : undefined,
      };
    }
    return c;
  }
  if (arch === 'gpt2') {
    const hidden = num('gpt2.embedding_length');
    const heads = num('gpt2.attention.head_count');
    return {
      family: 'gpt2',
      vocabSize,
      hidden,
      layers: num('gpt2.block_count'),
      heads,
      headDim: hidden / heads,
      maxPositions: num('gpt2.context_length', 1024),
      normEps: num('gpt2.attention.layer_norm_epsilon', 1e-5),
      tiedHead: !tensor('output.weight'),
    };
  }
  throw new Error(`${src}: architecture "${arch}" is listed in GGUF_ARCHITECTURES but has no loader branch`);
}

function ggufWeights(file: GgufFile, config: ModelConfig): RawWeights {
  const src = basename(file.path);
  const byHf = new Map<string, string>();
  for (const t of file.tensors) {
    const hf = ggufToHfName(archOf(config), t.name);
    if (hf) byHf.set(hf, t.name);
  }
  const arch = String(metaOf(file).get('general.architecture'));
  const transposed = (name: string, shape: number[]) => config.family === 'gpt2' && shape.length === 2 && /\.(c_attn|c_proj|c_fc)\.weight$/.test(name);
  return {
    names: () => [...byHf.keys()],
    shape(name) {
      const g = byHf.get(name);
      const info = g === undefined ? undefined : file.tensor(g);
      if (!info) return undefined;
      return transposed(name, info.shape) ? [info.shape[1], info.shape[0]] : info.shape.slice();
    },
    stored(name, floats) {
      const info = file.tensor(byHf.get(name) ?? '');
      if (!info || info.shape.length !== 2 || !keeps(floats, info.typeName)) return undefined;
      const q: StoredMatrix = { type: info.typeName, rows: info.shape[0], cols: info.shape[1], bytes: file.tensorBytes(info.name) };
      const m = config.family === 'llama' && arch === 'llama' && name.match(/self_attn\.(q|k)_proj\.weight$/);
      return m ? permuteQuantRows(q, ropeRowOrder(q.rows, m[1] === 'q' ? config.heads : config.kvHeads)) : q;
    },
    get(name) {
      const g = byHf.get(name);
      if (!g) return undefined;
      const info = file.tensors.find((t) => t.name === g)!;
      let data = file.loadTensor(g);
      let shape = info.shape.slice();
      if (config.family === 'llama' && arch === 'llama') {
        const m = name.match(/self_attn\.(q|k)_proj\.(weight|bias)$/);
        if (m) {
          const heads = m[1] === 'q' ? config.heads : config.kvHeads;
          data = permuteRope(data, shape[0], shape.length > 1 ? shape[1] : 1, heads);
        }
      }
      if (config.family === 'llama' && (config.arch === 'gemma2' || config.arch === 'gemma3') && gemma.isShiftedNorm(name)) {
        data = data.map((v) => v - gemma.NORM_SHIFT);
      }
      if (transposed(name, shape)) {
        // GGUF keeps nn.Linear's [out, in]; Hugging Face's GPT-2 Conv1D is [in, out].
        data = transpose2d(data, shape[0], shape[1]);
        shape = [shape[1], shape[0]];
      }
      void src;
      return { data, shape, dtype: info.typeName };
    },
  };
}

/** Whether a weight of this type stays in its encoding under the policy. */
function keeps(floats: FloatPolicy, type: string): boolean {
  if (isQuantType(type)) return true;
  if (!isStoredType(type)) return false;
  return floats === 'all' || (floats === 'f32' && type === 'F32');
}

// ------------------------------------------------------------------------ Hugging Face

function findConfig(path: string, explicit?: string): string | undefined {
  if (explicit) return explicit;
  if (statSync(path).isDirectory()) return existsSync(join(path, 'config.json')) ? join(path, 'config.json') : undefined;
  const stem = basename(path).replace(/(\.model)?\.safetensors$/, '');
  for (const c of [join(dirname(path), `${stem}.config.json`), join(dirname(path), 'config.json')]) if (existsSync(c)) return c;
  return undefined;
}

function hfWeights(path: string): { weights: RawWeights; files: string[] } {
  const isDir = statSync(path).isDirectory();
  const map = isDir ? readSafetensorsModel(path) : readSafetensors(path).tensors;
  // GPT2Model checkpoints (and some exports) omit the `transformer.` prefix.
  const norm = new Map<string, TensorEntry>();
  for (const [k, v] of map) norm.set(/^(h\.\d+|wte|wpe|ln_f)\./.test(k) ? `transformer.${k}` : k, v);
  let files = [path];
  if (isDir) {
    const index = join(path, 'model.safetensors.index.json');
    if (existsSync(index)) {
      const wm = JSON.parse(readFileSync(index, 'utf8')).weight_map as Record<string, string>;
      files = [index, ...[...new Set(Object.values(wm))].map((f) => join(path, f))];
    } else files = [join(path, 'model.safetensors')];
  }
  const weights: RawWeights = {
    names: () => [...norm.keys()],
    get: (n) => norm.get(n),
    shape: (n) => norm.get(n)?.shape,
    stored(name, floats) {
      const t = norm.get(name);
      if (!t || t.shape.length !== 2 || !keeps(floats, t.dtype)) return undefined;
      const m: StoredMatrix = { type: t.dtype, rows: t.shape[0], cols: t.shape[1], bytes: t.bytes };
      // GPT-2's Conv1D weights are [in, out] in its checkpoints; stored matrices are [out, in].
      return /\.(c_attn|c_proj|c_fc)\.weight$/.test(name) ? transposeStored(m) : m;
    },
  };
  return { weights, files };
}

/** The engine config of a Hugging Face config.json (refused by name when a field is not supported). */
export function configFromHf(configPath: string): ModelConfig {
  const c = readHfConfig(configPath);
  const src = basename(configPath);
  if (c.family === 'gpt2') {
    if (c.nInner !== 4 * c.nEmbd) throw new Error(`${src}: n_inner ${c.nInner} is not supported (only 4 × n_embd)`);
    if (!/gelu/.test(c.activationFunction)) throw new Error(`${src}: activation_function "${c.activationFunction}" is not supported (gelu_new)`);
    return { family: 'gpt2', vocabSize: c.vocabSize, hidden: c.nEmbd, layers: c.nLayer, heads: c.nHead, headDim: c.nEmbd / c.nHead, maxPositions: c.nPositions, normEps: c.layerNormEpsilon, tiedHead: c.tieWordEmbeddings };
  }
  if (c.attentionOutputBias || c.mlpBias) throw new Error(`${src}: biases on o_proj or the MLP are not supported`);
  const arch = ARCH_OF_MODEL_TYPE[c.modelType];
  const gemma = arch === 'gemma2' || arch === 'gemma3';
  // Gemma's MLP is GELU (tanh approximation); the others' SwiGLU.
  const act = gemma ? ['gelu_pytorch_tanh', 'gelu_new'] : ['silu'];
  if (!act.includes(c.hiddenAct)) throw new Error(`${src}: ${gemma ? 'hidden_activation' : 'hidden_act'} "${c.hiddenAct}" is not supported (${act.join(', ')})`);
  if (c.attentionBias && arch !== 'qwen2' && arch !== 'llama' && arch !== 'mistral') throw new Error(`${src}: attention_bias is not supported for ${c.modelType}`);
  return {
    family: 'llama', arch, vocabSize: c.vocabSize, hidden: c.hiddenSize, intermediate: c.intermediateSize, layers: c.numHiddenLayers,
    heads: c.numAttentionHeads, kvHeads: c.numKeyValueHeads, headDim: c.headDim, maxPositions: c.contextLength,
    normEps: c.rmsNormEps, ropeTheta: c.ropeTheta, attentionBias: c.attentionBias, tiedHead: c.tieWordEmbeddings,
    ropeScaling: c.ropeScaling, qkNorm: c.qkNorm || undefined, slidingWindow: c.slidingWindow, slidingLayers: c.slidingLayers, gemma: c.gemma,
  };
}

/** transformers' model_type → our decoder. */
const ARCH_OF_MODEL_TYPE: Record<HfLlamaConfig['modelType'], DecoderArch> = {
  llama: 'llama', mistral: 'mistral', qwen2: 'qwen2', qwen3: 'qwen3', gemma2: 'gemma2', gemma3_text: 'gemma3', phi3: 'phi3',
};

// ------------------------------------------------------------------------------ common

function buildModel(config: ModelConfig, weights: RawWeights, source: string, external: boolean | undefined): { model: CausalLM; dtypes: Map<string, string> } {
  checkConfig(config, source);
  const specs: ParamSpec[] = familyOf(config).paramSpecs(config);
  // Every tensor's presence and shape first: dims claimed by the metadata (heads, hidden size,
  // vocabulary) are checked against the file before any tensor is decoded or permuted by them.
  for (const s of specs) {
    const shape = weights.shape(s.name);
    if (!shape) throw new Error(`${source}: tensor "${s.name}" is missing`);
    if (shape.join() !== s.shape.join()) {
      throw new Error(`${source}: tensor "${s.name}" has shape [${shape}], expected [${s.shape}] from the config`);
    }
  }
  const floats = externalPolicy(external, 4 * specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0));
  const params = new Map<string, Tensor>();
  const stored = new Map<string, StoredMatrix>();
  const dtypes = new Map<string, string>();
  const embeddingName = familyOf(config).embeddingName;
  try {
    for (const s of specs) {
      // Linear weights and the token embedding stored quantized stay so (decoded per product), and
      // float ones as the policy says.
      const q = canStayExternal(s, embeddingName) ? weights.stored(s.name, floats) : undefined;
      if (q) {
        const want = storedShape(s);
        if (q.rows !== want[0] || q.cols !== want[1]) {
          throw new Error(`${source}: tensor "${s.name}" is stored as [${q.rows}, ${q.cols}] (${q.type}), expected [${want}] from the config`);
        }
        stored.set(s.name, q);
        dtypes.set(s.name, q.type);
        continue;
      }
      const w = weights.get(s.name)!;
      const data = s.layout === 'linear' ? transpose2d(w.data, s.shape[0], s.shape[1]) : w.data;
      params.set(s.name, tf.tensor(data, internalShape(s), 'float32'));
      dtypes.set(s.name, w.dtype);
    }
  } catch (e) {
    for (const t of params.values()) t.dispose();
    throw e;
  }
  return { model: new CausalLM(config, params, familyOf(config), stored), dtypes };
}

/** A .gguf file, or a file that starts with GGUF's magic (an Ollama blob has no extension). */
export function isGgufPath(path: string): boolean {
  return /\.gguf$/i.test(path) || hasGgufMagic(path);
}

export async function loadModel(path: string, opts: LoadOptions = {}): Promise<LoadedModel> {
  const t0 = performance.now();
  if (!existsSync(path)) throw new Error(`${path}: no such file or folder`);
  if (isGgufPath(path)) {
    const file = readGguf(path);
    const config = configFromGguf(file);
    checkClaims(path, config, ggufClaimFields(file), file.tensors.map((t) => t.name));
    const { model, dtypes } = buildModel(config, ggufWeights(file, config), basename(path), opts.external);
    const meta = new Map<string, unknown>();
    for (const k of file.metadata.keys()) meta.set(k, metaOf(file).get(k));
    const tokenizer = ggufTokenizer(path, meta);
    const name = String(meta.get('general.name') ?? basename(path, '.gguf'));
    const chatTemplate = meta.get('tokenizer.chat_template') as string | undefined;
    return { model, tokenizer, format: 'gguf', path, files: [path], name, dtypes, chatTemplate, loadMs: performance.now() - t0 };
  }
  const configPath = findConfig(path, opts.config);
  if (!configPath) throw new Error(`${path}: no config.json found (pass one with --config)`);
  const config = configFromHf(configPath);
  const { weights, files } = hfWeights(path);
  const gpt2 = config.family === 'gpt2';
  checkClaims(configPath, config, gpt2 ? { layers: 'n_layer', normEps: 'layer_norm_epsilon' }
    : { layers: 'num_hidden_layers', normEps: 'rms_norm_eps', ropeTheta: 'rope_theta' }, weights.names());
  const { model, dtypes } = buildModel(config, weights, basename(path), opts.external);
  const dir = statSync(path).isDirectory() ? path : dirname(path);
  let chatTemplate: string | undefined;
  const tokenizer = hfTokenizer(dir, configPath, config.vocabSize);
  if (tokenizer) files.push(join(dir, 'tokenizer.json'));
  const tcPath = join(dir, 'tokenizer_config.json');
  if (existsSync(tcPath)) {
    const tc = readJsonFile(tcPath);
    if (typeof tc !== 'object' || tc === null || Array.isArray(tc)) throw new FormatError(tcPath, 'is not a JSON object');
    const template = (tc as Record<string, unknown>).chat_template;
    if (template !== undefined && template !== null && typeof template !== 'string' && !Array.isArray(template)) {
      throw new FormatError(tcPath, 'field "chat_template" is not a string');
    }
    if (typeof template === 'string') chatTemplate = template;
  }
  files.unshift(configPath);
  return { model, tokenizer, format: 'hf', path, files, name: basename(path), dtypes, chatTemplate, loadMs: performance.now() - t0 };
}

function ggufTokenizer(path: string, meta: Map<string, unknown>): Tokenizer | undefined {
  if (!meta.has('tokenizer.ggml.tokens')) return undefined;
  try {
    return tokenizerFromGgufMetadata(meta);
  } catch (e) {
    throw new FormatError(path, (e as Error).message);
  }
}

/** The folder's tokenizer.json, if there is one (its ids checked against the model's vocabulary). */
function hfTokenizer(dir: string, configPath: string, vocabSize: number): Tokenizer | undefined {
  const tokPath = join(dir, 'tokenizer.json');
  if (!existsSync(tokPath)) return undefined;
  const raw = readJsonFile(tokPath);
  const cfgJson = readJsonFile(configPath) as Record<string, unknown>;
  return tokenizerFromHfJson(raw, cfgJson, { path: tokPath, modelVocabSize: vocabSize });
}

/** Only the tokenizer of a model (no weights decoded): for `adapt-lab tokenize`. */
export function loadTokenizer(path: string, opts: LoadOptions = {}): Tokenizer {
  if (!existsSync(path)) throw new Error(`${path}: no such file or folder`);
  let tokenizer: Tokenizer | undefined;
  if (isGgufPath(path)) {
    tokenizer = ggufTokenizer(path, readGguf(path).metadata as Map<string, unknown>);
  } else {
    const configPath = findConfig(path, opts.config);
    if (!configPath) throw new Error(`${path}: no config.json found (pass one with --config)`);
    const dir = statSync(path).isDirectory() ? path : dirname(path);
    tokenizer = hfTokenizer(dir, configPath, configFromHf(configPath).vocabSize);
  }
  if (!tokenizer) throw new Error(`${path}: the model has no tokenizer (GGUF vocabulary or tokenizer.json)`);
  return tokenizer;
}
