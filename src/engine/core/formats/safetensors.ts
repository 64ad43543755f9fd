// safetensors: an 8-byte little-endian header length, a JSON header
// { name: { dtype, shape, data_offsets: [begin, end] }, __metadata__?: { string: string } },
// then the tensor bytes (offsets relative to the end of the header). Every tensor is read as
// Float32, when first asked for (`data`), or kept as its stored bytes (`bytes`) by a model that
// keeps frozen weights in the file's dtype. Also sharded Hugging Face checkpoints
// (model.safetensors.index.json).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative, resolve, isAbsolute } from 'node:path';
import { alignedView, BinaryReader, FormatError, leBytes, writeFileAtomic } from './binary';
import { bf16BytesToF32, f16BytesToF32, f32ArrayToBf16, f32ArrayToF16 } from './float16';
import { readModelFile } from './limits';

export interface TensorEntry {
  name: string;
  /** The dtype stored in the file (the data is always Float32). */
  dtype: string;
  shape: number[];
  /** The values as Float32 (decoded on first use, then kept). */
  readonly data: Float32Array;
  /** The stored little-endian bytes (a view into the file's buffer). */
  readonly bytes: Uint8Array;
}

export interface SafetensorsFile {
  path: string;
  metadata: Record<string, string>;
  tensors: Map<string, TensorEntry>;
}

/** Bytes per element of each readable dtype. */
const ITEM_SIZE = new Map<string, number>([['F32', 4], ['F16', 2], ['BF16', 2], ['F64', 8], ['I32', 4], ['I64', 8], ['I8', 1], ['U8', 1]]);
/** The safetensors reference implementation's own limit on the header. */
const MAX_HEADER = 100 * 1024 * 1024;

export function readSafetensors(path: string): SafetensorsFile {
  return parseSafetensors(readModelFile(path, 'safetensors'), path);
}

/** Parses a whole safetensors file held in memory; `path` names it in errors. */
export function parseSafetensors(bytes: Uint8Array, path: string): SafetensorsFile {
  const r = new BinaryReader(bytes, path);
  const headerLen = r.u64('header length');
  if (headerLen > r.remaining) {
    throw r.error(`header length ${headerLen} is more than the ${r.remaining} bytes after it (truncated or not a safetensors file)`);
  }
  if (headerLen > MAX_HEADER) throw r.error(`header length ${headerLen} is more than the limit of ${MAX_HEADER}`);
  const h = r.take(headerLen);
  const headerText = Buffer.from(h.buffer, h.byteOffset, h.length).toString('utf8');
  let header: unknown;
  try {
    header = JSON.parse(headerText);
  } catch (e) {
    throw r.error(`header is not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(header)) throw r.error('header is not a JSON object');
  const dataStart = r.offset;
  const dataSize = bytes.length - dataStart;

  const metadataEntries: [string, string][] = [];
  const tensors = new Map<string, TensorEntry>();
  const spans: { name: string; dtype: string; shape: number[]; begin: number; end: number; count: number }[] = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (!isObject(entry)) throw r.error('__metadata__ is not a JSON object');
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== 'string') throw r.error(`__metadata__ value of "${k}" is not a string`);
        metadataEntries.push([k, v]);
      }
      continue;
    }
    const bad = (what: string) => r.error(`tensor "${name}": ${what}`);
    if (!isObject(entry)) throw bad('entry is not a JSON object');
    const { dtype, shape, data_offsets: offsets } = entry;
    if (typeof dtype !== 'string') throw bad('dtype is missing or not a string');
    const itemSize = ITEM_SIZE.get(dtype);
    if (itemSize === undefined) {
      throw bad(`dtype ${JSON.stringify(dtype).slice(0, 40)} is not supported (supported: ${[...ITEM_SIZE.keys()].join(', ')})`);
    }
    if (!Array.isArray(shape) || !shape.every(isCount)) throw bad('shape is not a list of non-negative integers');
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
      throw bad('data_offsets is not a pair of non-negative integers');
    }
    const [begin, end] = offsets as number[];
    if (begin > end) throw bad(`data_offsets [${begin}, ${end}] are reversed`);
    if (end > dataSize) throw bad(`data_offsets [${begin}, ${end}] go past the end of the data (${dataSize} bytes; truncated?)`);
    let count = 1;
    for (const d of shape as number[]) count *= d;
    if (count * itemSize !== end - begin) {
      throw bad(`shape [${shape.join(', ')}] of ${dtype} needs ${count * itemSize} bytes but data_offsets [${begin}, ${end}] `
        + `hold ${end - begin}`);
    }
    spans.push({ name, dtype, shape: shape as number[], begin, end, count });
  }
  // Two tensors sharing bytes would alias each other's weights; the format lays them end to end.
  const sorted = spans.filter((t) => t.end > t.begin).sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    const [a, b] = [sorted[i - 1], sorted[i]];
    if (b.begin < a.end) {
      throw r.error(`tensor "${b.name}": data_offsets [${b.begin}, ${b.end}] overlap those of tensor "${a.name}" [${a.begin}, ${a.end}]`);
    }
  }
  for (const t of spans) tensors.set(t.name, lazyEntry(bytes, dataStart, t));
  return { path, metadata: Object.fromEntries(metadataEntries), tensors };
}

/** An entry that decodes its values on first use: a model keeping its weights as stored bytes never does. */
function lazyEntry(bytes: Uint8Array, dataStart: number, t: { name: string; dtype: string; shape: number[]; begin: number; end: number; count: number }): TensorEntry {
  let data: Float32Array | undefined;
  return {
    name: t.name, dtype: t.dtype, shape: t.shape,
    get data() {
      return (data ??= decode(bytes, dataStart + t.begin, t.count, t.dtype));
    },
    bytes: bytes.subarray(dataStart + t.begin, dataStart + t.end),
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function decode(bytes: Uint8Array, at: number, n: number, dtype: string): Float32Array {
  switch (dtype) {
    case 'F32': return new Float32Array(alignedView(bytes, at, n, Float32Array));
    case 'F16': return f16BytesToF32(bytes, at, n);
    case 'BF16': return bf16BytesToF32(bytes, at, n);
    case 'F64': return new Float32Array(alignedView(bytes, at, n, Float64Array));
    case 'I32': return new Float32Array(alignedView(bytes, at, n, Int32Array));
    case 'I8': return new Float32Array(new Int8Array(bytes.buffer, bytes.byteOffset + at, n));
    case 'U8': return new Float32Array(bytes.subarray(at, at + n));
    case 'I64': {
      const src = alignedView(bytes, at, n, BigInt64Array);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = Number(src[i]);
      return out;
    }
    default: throw new Error(`unreachable dtype ${dtype}`);
  }
}

/**
 * All tensors of a Hugging Face checkpoint folder: `model.safetensors`, or the shards listed by
 * `model.safetensors.index.json` (each shard must exist and hold the tensors the index puts there).
 */
export function readSafetensorsModel(dir: string): Map<string, TensorEntry> {
  const single = join(dir, 'model.safetensors');
  if (existsSync(single)) return readSafetensors(single).tensors;
  const indexPath = join(dir, 'model.safetensors.index.json');
  if (!existsSync(indexPath)) {
    throw new FormatError(dir, 'has neither model.safetensors nor model.safetensors.index.json');
  }
  let index: unknown;
  try {
    index = JSON.parse(readFileSync(indexPath, 'utf8'));
  } catch (e) {
    throw new FormatError(indexPath, `is not valid JSON (${(e as Error).message})`);
  }
  const weightMap = isObject(index) ? index.weight_map : undefined;
  if (!isObject(weightMap)) throw new FormatError(indexPath, 'has no "weight_map" object');
  const byShard = new Map<string, string[]>();
  for (const [name, shard] of Object.entries(weightMap)) {
    if (typeof shard !== 'string' || shard === '') {
      throw new FormatError(indexPath, `weight_map entry for "${name}" is not a file name`);
    }
    (byShard.get(shard) ?? byShard.set(shard, []).get(shard)!).push(name);
  }
  const root = resolve(dir);
  const out = new Map<string, TensorEntry>();
  for (const [shard, names] of byShard) {
    const shardPath = resolve(root, shard);
    const rel = relative(root, shardPath);
    if (rel.startsWith('..') || isAbsolute(rel)) throw new FormatError(indexPath, `shard "${shard}" is outside the folder`);
    if (!existsSync(shardPath) || !statSync(shardPath).isFile()) {
      throw new FormatError(indexPath, `shard "${shard}" (holding "${names[0]}"${names.length > 1 ? ` and ${names.length - 1} more` : ''}) is missing`);
    }
    const file = readSafetensors(shardPath);
    for (const name of names) {
      const t = file.tensors.get(name);
      if (!t) throw new FormatError(shardPath, `has no tensor "${name}", which ${basename(indexPath)} puts there`);
      out.set(name, t);
    }
  }
  return out;
}

export interface SafetensorsWriteTensor {
  name: string;
  shape: number[];
  data: Float32Array;
  /** Default F32 (F16 and BF16 rounded to nearest, ties to even). */
  dtype?: 'F32' | 'F16' | 'BF16';
}

/**
 * Writes a safetensors file atomically (to `path + '.tmp'`, then renamed). `metadata` goes to
 * `__metadata__`, with `format: "pt"` added unless given (transformers expects it).
 */
export function writeSafetensors(path: string, tensors: SafetensorsWriteTensor[], metadata: Record<string, string> = {}): void {
  const entries: [string, unknown][] = [['__metadata__', Object.fromEntries([['format', 'pt'], ...Object.entries(metadata)])]];
  const names = new Set<string>();
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') throw new Error(`writeSafetensors: metadata "${k}" is not a string`);
  }
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const t of tensors) {
    if (!t.name || t.name === '__metadata__' || names.has(t.name)) {
      throw new Error(`writeSafetensors: tensor name "${t.name}" is empty, reserved or repeated`);
    }
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new Error(`writeSafetensors: tensor "${t.name}" has a bad shape [${t.shape.join(', ')}]`);
    }
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) {
      throw new Error(`writeSafetensors: tensor "${t.name}" has ${t.data.length} values but shape [${t.shape.join(', ')}] needs ${count}`);
    }
    const dtype = t.dtype ?? 'F32';
    if (dtype !== 'F32' && dtype !== 'F16' && dtype !== 'BF16') throw new Error(`writeSafetensors: tensor "${t.name}": dtype ${dtype} cannot be written`);
    const bytes = leBytes(dtype === 'F16' ? f32ArrayToF16(t.data) : dtype === 'BF16' ? f32ArrayToBf16(t.data) : t.data);
    names.add(t.name);
    entries.push([t.name, { dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] }]);
    offset += bytes.length;
    chunks.push(bytes);
  }
  let json = JSON.stringify(Object.fromEntries(entries));
  const jsonLen = Buffer.byteLength(json, 'utf8');
  json += ' '.repeat((8 - (jsonLen % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(headerBytes.length));
  writeFileAtomic(path, [len, headerBytes, ...chunks]);
}
