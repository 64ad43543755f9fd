// What one model is, from its headers only: a GGUF's metadata and tensor infos, or a Hugging
// Face folder's config.json and safetensors headers. The verdict "can Adapt Lab train it"
// comes from the engine's own lists (model/architectures.ts) and config checks, so it follows
// the loader as families and tensor types are added.
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { readGgufHeader, GgufHeader } from '../formats/gguf-header';
import { parseHfConfig } from '../formats/hfconfig';
import { GGUF_ARCHITECTURES, LOADABLE_GGML_TYPES, TRAINABLE_SAFETENSORS_DTYPES } from '../architectures';
import { Scope } from './scope';

export interface ModelFacts {
  family?: string;
  params?: number;
  dtype?: string;
  sizeBytes: number;
  trainable: boolean;
  reason?: string;
  /** The chat template stored in the model (GGUF tokenizer.chat_template). */
  chatTemplate?: string;
}

/** llama.cpp's `general.file_type` (enum llama_ftype) names. */
const FILE_TYPES: Record<number, string> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 7: 'Q8_0', 8: 'Q5_0', 9: 'Q5_1', 10: 'Q2_K', 11: 'Q3_K_S', 12: 'Q3_K_M',
  13: 'Q3_K_L', 14: 'Q4_K_S', 15: 'Q4_K_M', 16: 'Q5_K_S', 17: 'Q5_K_M', 18: 'Q6_K', 19: 'IQ2_XXS', 20: 'IQ2_XS',
  21: 'Q2_K_S', 22: 'IQ3_XS', 23: 'IQ3_XXS', 24: 'IQ1_S', 25: 'IQ4_NL', 26: 'IQ3_S', 27: 'IQ3_M', 28: 'IQ2_S',
  29: 'IQ2_M', 30: 'IQ4_XS', 31: 'IQ1_M', 32: 'BF16', 36: 'TQ1_0', 37: 'TQ2_0', 38: 'MXFP4_MOE',
};

const MAX_CONFIG = 1024 * 1024;
const MAX_ST_HEADER = 16 * 1024 * 1024;

/** The key with the largest total. */
function dominant(weights: Map<string, number>): string | undefined {
  let best: string | undefined;
  for (const [k, v] of weights) if (best === undefined || v > weights.get(best)!) best = k;
  return best;
}

/** A GGUF's facts from its header (`sizeBytes` is the file's size). */
export async function probeGguf(path: string): Promise<ModelFacts> {
  const h = await readGgufHeader(path);
  return ggufFacts(h);
}

export function ggufFacts(h: GgufHeader): ModelFacts {
  const str = (k: string) => { const v = h.metadata.get(k); return typeof v === 'string' ? v : undefined; };
  const family = str('general.architecture');
  const params = h.tensors.reduce((n, t) => n + t.count, 0);
  const bytesByType = new Map<string, number>();
  for (const t of h.tensors) bytesByType.set(t.typeName, (bytesByType.get(t.typeName) ?? 0) + t.byteSize);
  const ft = h.metadata.get('general.file_type');
  const dtype = (typeof ft === 'number' ? FILE_TYPES[ft] : undefined) ?? dominant(bytesByType);
  const template = h.metadata.get('tokenizer.chat_template');
  const facts: ModelFacts = {
    family, params, dtype, sizeBytes: h.fileSize, trainable: true,
    ...(typeof template === 'string' ? { chatTemplate: template } : {}),
  };
  const refuse = (reason: string): ModelFacts => ({ ...facts, trainable: false, reason });
  if (str('general.type') === 'adapter') return refuse('a LoRA adapter (general.type "adapter"), not a base model');
  if (!family) return refuse('has no general.architecture');
  if (!GGUF_ARCHITECTURES.includes(family)) {
    return refuse(`architecture "${family}" is not supported (supported: ${GGUF_ARCHITECTURES.join(', ')})`);
  }
  if (h.tensors.length === 0) return refuse('has no tensors (a split or vocabulary-only file?)');
  const split = h.metadata.get('split.count');
  if (typeof split === 'number' && split > 1) return refuse(`is split into ${split} files, which the loader does not join`);
  const unloadable = h.tensors.filter((t) => !LOADABLE_GGML_TYPES.includes(t.typeName));
  if (unloadable.length) {
    const types = [...new Set(unloadable.map((t) => t.typeName))].join(', ');
    return refuse(`${unloadable.length} of ${h.tensors.length} tensors are ${types} (e.g. "${unloadable[0].name}"); `
      + `tensor types supported: ${LOADABLE_GGML_TYPES.join(', ')}`);
  }
  if (!h.metadata.has('tokenizer.ggml.tokens')) return refuse('has no tokenizer (tokenizer.ggml.tokens)');
  return facts;
}

/** A safetensors header's tensors: name → dtype and shape (the JSON only; no tensor data). */
async function safetensorsHeader(path: string): Promise<Map<string, { dtype: string; count: number }>> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const lenBuf = Buffer.alloc(8);
    if ((await fh.read(lenBuf, 0, 8, 0)).bytesRead < 8) throw new Error(`${path}: too short for a safetensors file`);
    const len = Number(lenBuf.readBigUInt64LE(0));
    if (len > size - 8 || len > MAX_ST_HEADER) throw new Error(`${path}: header length ${len} is not plausible (file ${size} bytes)`);
    const buf = Buffer.alloc(len);
    await fh.read(buf, 0, len, 8);
    let header: unknown;
    try { header = JSON.parse(buf.toString('utf8')); } catch (e) { throw new Error(`${path}: header is not JSON (${(e as Error).message})`); }
    if (typeof header !== 'object' || header === null) throw new Error(`${path}: header is not a JSON object`);
    const out = new Map<string, { dtype: string; count: number }>();
    for (const [name, v] of Object.entries(header as Record<string, unknown>)) {
      if (name === '__metadata__') continue;
      const t = v as { dtype?: unknown; shape?: unknown };
      if (typeof t?.dtype !== 'string' || !Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
        throw new Error(`${path}: tensor "${name}" has no valid dtype and shape`);
      }
      out.set(name, { dtype: t.dtype, count: (t.shape as number[]).reduce((a, b) => a * b, 1) });
    }
    return out;
  } finally {
    await fh.close();
  }
}

/**
 * A Hugging Face folder's facts. Files are resolved through `scope` (links into the cache's
 * blobs are followed, links out of the root are not); `sizeBytes` sums the files it is made of.
 */
export async function probeHfFolder(dir: string, scope: Scope): Promise<ModelFacts & { error?: string }> {
  const facts: ModelFacts & { error?: string } = { sizeBytes: 0, trainable: true };
  const problems: string[] = [];
  const refuse = (reason: string) => { if (facts.trainable) { facts.trainable = false; facts.reason = reason; } };
  const names = await scope.list(dir);
  if (!Array.isArray(names)) return { ...facts, trainable: false, reason: names.error, error: names.error };
  const file = async (name: string) => {
    const r = await scope.resolve(join(dir, name));
    if ('error' in r) { problems.push(r.error); return undefined; }
    facts.sizeBytes += r.isDir ? 0 : r.size;
    return r.real;
  };
  const counted = new Set<string>();
  const sized = async (name: string) => { if (!counted.has(name)) { counted.add(name); return file(name); } return undefined; };

  const configText = names.includes('config.json') ? await scope.readText(join(dir, 'config.json'), MAX_CONFIG) : undefined;
  let raw: Record<string, unknown> | undefined;
  if (configText === undefined) refuse('has no config.json');
  else if (typeof configText !== 'string') { problems.push(configText.error); refuse(configText.error); }
  else {
    try {
      raw = JSON.parse(configText) as Record<string, unknown>;
      if (typeof raw?.model_type === 'string') facts.family = raw.model_type;
      parseHfConfig(raw, join(dir, 'config.json'));
      const q = raw.quantization_config as { quant_method?: unknown } | undefined;
      if (q) refuse(`config.json: quantization_config (${String(q.quant_method ?? 'unknown method')}) is not supported; only unquantized weights train`);
    } catch (e) {
      // JSON.parse throws SyntaxError; parseHfConfig a FormatError that names the file and field.
      refuse(e instanceof SyntaxError ? `config.json is not valid JSON (${e.message})` : (e as Error).message);
    }
  }

  // Weights: one file, or the shards the index names.
  let shards: string[] = [];
  if (names.includes('model.safetensors')) shards = ['model.safetensors'];
  else if (names.includes('model.safetensors.index.json')) {
    const idx = await scope.readText(join(dir, 'model.safetensors.index.json'), MAX_CONFIG);
    await sized('model.safetensors.index.json');
    if (typeof idx !== 'string') { problems.push(idx.error); refuse(idx.error); }
    else {
      try {
        const wm = (JSON.parse(idx) as { weight_map?: Record<string, unknown> }).weight_map;
        if (!wm || typeof wm !== 'object') throw new Error('has no weight_map');
        shards = [...new Set(Object.values(wm).map(String))];
        if (shards.some((s) => s.includes('/') || s.includes('\\') || s.startsWith('.'))) throw new Error('names a shard outside the folder');
      } catch (e) {
        refuse(`model.safetensors.index.json ${(e as Error).message}`);
      }
    }
  } else if (names.some((n) => /^pytorch_model.*\.bin$/.test(n))) refuse('has only pytorch_model.bin weights (PyTorch pickles are not read: convert to safetensors)');
  else refuse('has no model.safetensors');

  const dtypeCounts = new Map<string, number>();
  let params = 0;
  for (const s of shards) {
    const real = await sized(s);
    if (!real) { refuse(`weights file ${s} cannot be read`); continue; }
    try {
      for (const t of (await safetensorsHeader(real)).values()) {
        params += t.count;
        dtypeCounts.set(t.dtype, (dtypeCounts.get(t.dtype) ?? 0) + t.count);
      }
    } catch (e) {
      problems.push((e as Error).message);
      refuse((e as Error).message);
    }
  }
  if (params > 0) facts.params = params;
  const dtype = dominant(dtypeCounts);
  if (dtype) facts.dtype = dtype;
  const odd = [...dtypeCounts.keys()].filter((d) => !TRAINABLE_SAFETENSORS_DTYPES.includes(d));
  if (odd.length && dtype && !TRAINABLE_SAFETENSORS_DTYPES.includes(dtype)) {
    refuse(`weights are mostly ${dtype} (supported: ${TRAINABLE_SAFETENSORS_DTYPES.join(', ')})`);
  }
  if (!names.includes('tokenizer.json')) refuse('has no tokenizer.json (the trainer needs the tokenizer)');
  for (const n of names) await sized(n);
  // A dangling or looping file means the copy is broken even where the verdict did not need it.
  if (problems.length) facts.error = problems.join('; ');
  return facts;
}
