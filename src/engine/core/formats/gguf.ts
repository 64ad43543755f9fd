// GGUF (versions 2 and 3, little-endian): "GGUF", u32 version, u64 tensor count, u64 metadata
// count, the typed metadata key/values, the tensor infos, padding to `general.alignment`, then
// the tensor data. The whole file is read into memory once; every count and length is checked
// against the bytes left, so a hostile file neither allocates beyond its size nor hangs.
// Metadata keeps each value's GGUF type (`typedMetadata`), so a file can be written back as read.
import { alignedView, BinaryReader, BinaryWriter, FormatError, Label, leBytes, writeFileAtomic } from './binary';
import { bf16BytesToF32, f16BytesToF32, f32ArrayToBf16, f32ArrayToF16 } from './float16';
import { dequantizeRows, isQuantType, QUANT_TYPES } from './quant';
import { readModelFile } from './limits';

/** Metadata value types. */
export const GgufType = {
  UINT8: 0, INT8: 1, UINT16: 2, INT16: 3, UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7, STRING: 8, ARRAY: 9,
  UINT64: 10, INT64: 11, FLOAT64: 12,
} as const;
export type GgufType = (typeof GgufType)[keyof typeof GgufType];
export type GgufScalarType = Exclude<GgufType, typeof GgufType.ARRAY>;
const TYPE_NAMES = Object.keys(GgufType);

export type GgufScalar = number | string | boolean;
/** A metadata value without its GGUF type (64-bit integers are numbers, refused beyond 2^53). */
export type GgufValue = GgufScalar | GgufValue[];
export type GgufTypedArray =
  | { type: typeof GgufType.ARRAY; itemType: GgufScalarType; value: GgufScalar[] }
  | { type: typeof GgufType.ARRAY; itemType: typeof GgufType.ARRAY; value: GgufTypedArray[] };
/** A metadata value with its GGUF type; arrays of arrays hold typed arrays. */
export type GgufTypedValue = { type: GgufScalarType; value: GgufScalar } | GgufTypedArray;

/** Tensor types: [id, name, elements per block, bytes per block]. */
const GGML_TABLE: [number, string, number, number][] = [
  [0, 'F32', 1, 4], [1, 'F16', 1, 2], [2, 'Q4_0', 32, 18], [3, 'Q4_1', 32, 20], [6, 'Q5_0', 32, 22],
  [7, 'Q5_1', 32, 24], [8, 'Q8_0', 32, 34], [9, 'Q8_1', 32, 36], [10, 'Q2_K', 256, 84], [11, 'Q3_K', 256, 110],
  [12, 'Q4_K', 256, 144], [13, 'Q5_K', 256, 176], [14, 'Q6_K', 256, 210], [15, 'Q8_K', 256, 292],
  [16, 'IQ2_XXS', 256, 66], [17, 'IQ2_XS', 256, 74], [18, 'IQ3_XXS', 256, 98], [19, 'IQ1_S', 256, 50],
  [20, 'IQ4_NL', 32, 18], [21, 'IQ3_S', 256, 110], [22, 'IQ2_S', 256, 82], [23, 'IQ4_XS', 256, 136],
  [24, 'I8', 1, 1], [25, 'I16', 1, 2], [26, 'I32', 1, 4], [27, 'I64', 1, 8], [28, 'F64', 1, 8],
  [29, 'IQ1_M', 256, 56], [30, 'BF16', 1, 2], [31, 'Q4_0_4_4', 32, 18], [32, 'Q4_0_4_8', 32, 18],
  [33, 'Q4_0_8_8', 32, 18], [34, 'TQ1_0', 256, 54], [35, 'TQ2_0', 256, 66], [39, 'MXFP4', 32, 17],
];
export interface GgmlTypeInfo { id: number; name: string; blockSize: number; typeSize: number }
export const GGML_TYPES: ReadonlyMap<number, GgmlTypeInfo> =
  new Map(GGML_TABLE.map(([id, name, blockSize, typeSize]) => [id, { id, name, blockSize, typeSize }]));
const GGML_BY_NAME = new Map([...GGML_TYPES.values()].map((t) => [t.name, t]));
/** Tensor types loadTensor decodes (the catalogue's verdicts read this list too). */
export const LOADABLE: readonly string[] = ['F32', 'F16', 'BF16', ...QUANT_TYPES];

export interface GgufTensorInfo {
  name: string;
  /** GGUF order: ne[0] varies fastest. */
  ne: number[];
  /** Row-major (ne reversed): a PyTorch [out, in] weight has shape [out, in]. */
  shape: number[];
  type: number;
  typeName: string;
  /** Relative to the start of the data section (`dataOffset`). */
  offset: number;
  byteSize: number;
}

export interface GgufFile {
  path: string;
  version: 2 | 3;
  metadata: Map<string, GgufValue>;
  /** The same values with their GGUF types, in file order; `writeGguf` takes it as is. */
  typedMetadata: Map<string, GgufTypedValue>;
  tensors: GgufTensorInfo[];
  alignment: number;
  /** Absolute offset of the data section in the file. */
  dataOffset: number;
  tensor(name: string): GgufTensorInfo | undefined;
  /** The tensor as Float32 (F32, F16, BF16 and the quantized types of quant.ts), in row-major order. */
  loadTensor(name: string): Float32Array;
  /** The tensor's stored bytes (a view into the file's buffer). */
  tensorBytes(name: string): Uint8Array;
}

const MAX_DIMS = 8;
const MAX_NESTING = 16;
const TENSOR_INFO_MIN = 8 + 4 + 8 + 4 + 8; // name length, n_dims, one dimension, type, offset
const KV_MIN = 8 + 4 + 1; // key length, type, smallest value
const SCALAR_SIZE = [1, 1, 2, 2, 4, 4, 4, 1, 8, 12, 8, 8, 8]; // by type; STRING/ARRAY: their smallest

export function readGguf(path: string): GgufFile {
  return parseGguf(readModelFile(path, 'GGUF'), path);
}

/** Parses a whole GGUF file held in memory; `path` names it in errors. */
export function parseGguf(bytes: Uint8Array, path: string): GgufFile {
  const r = new BinaryReader(bytes, path);
  const magic = r.take(4, 'magic');
  if (magic[0] !== 0x47 || magic[1] !== 0x47 || magic[2] !== 0x55 || magic[3] !== 0x46) {
    throw r.error(`not a GGUF file (starts with ${JSON.stringify(Buffer.from(magic).toString('latin1'))}, not "GGUF")`);
  }
  const version = r.u32('version');
  if (version !== 2 && version !== 3) {
    const hint = version === 1 ? ' (GGUF version 1 is obsolete; re-convert the model)'
      : (version & 0xffff) === 0 && version >>> 16 !== 0 ? ' (a big-endian file?)' : '';
    throw r.error(`GGUF version ${version} is not supported (supported: 2, 3)${hint}`);
  }
  const tensorCount = r.u64('tensor count');
  const kvCount = r.u64('metadata count');
  if (kvCount * KV_MIN + tensorCount * TENSOR_INFO_MIN > r.remaining) {
    throw r.error(`header claims ${kvCount} metadata entries and ${tensorCount} tensors, more than the ${r.remaining} `
      + 'bytes after it could hold (truncated or corrupt)');
  }

  const typedMetadata = new Map<string, GgufTypedValue>();
  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < kvCount; i++) {
    const key = r.string(() => `metadata key #${i}`);
    if (typedMetadata.has(key)) throw r.error(`metadata key #${i} ("${key}") appears twice`);
    const label = () => `metadata key #${i} ("${key}") value`;
    const type = r.u32(() => `metadata key #${i} ("${key}") type`);
    const value = readValue(r, type, label);
    typedMetadata.set(key, value);
    metadata.set(key, plainValue(value));
  }

  let alignment = 32;
  const alignValue = typedMetadata.get('general.alignment');
  if (alignValue) {
    const v = alignValue.value;
    if (alignValue.type === GgufType.ARRAY || typeof v !== 'number' || !Number.isInteger(v) || v <= 0 || v > 2 ** 30
      || (v & (v - 1)) !== 0) {
      throw r.error(`general.alignment is ${JSON.stringify(v)?.slice(0, 40)}; it must be a power of two`);
    }
    alignment = v;
  }

  const tensors: GgufTensorInfo[] = [];
  const byName = new Map<string, GgufTensorInfo>();
  for (let i = 0; i < tensorCount; i++) {
    const name = r.string(() => `tensor #${i} name`);
    if (byName.has(name)) throw r.error(`tensor name "${name}" appears twice`);
    const { ne, count, type, info, offset } = readTensorInfo(r, name);
    if (ne[0] % info.blockSize !== 0) {
      throw r.error(`tensor "${name}" has ${ne[0]} columns, not a multiple of the ${info.name} block size ${info.blockSize}`);
    }
    if (offset % alignment !== 0) throw r.error(`tensor "${name}" data offset ${offset} is not a multiple of the alignment ${alignment}`);
    const t: GgufTensorInfo = {
      name, ne, shape: ne.slice().reverse(), type, typeName: info.name, offset, byteSize: (count / info.blockSize) * info.typeSize,
    };
    tensors.push(t);
    byName.set(name, t);
  }
  const dataOffset = Math.ceil(r.offset / alignment) * alignment;
  for (const t of tensors) {
    if (t.byteSize > 0 && dataOffset + t.offset + t.byteSize > bytes.length) {
      throw r.error(`tensor "${t.name}" data (${t.byteSize} bytes at ${dataOffset + t.offset}) goes past the end of the file `
        + `(${bytes.length} bytes; truncated?)`);
    }
  }

  const get = (name: string): GgufTensorInfo => {
    const t = byName.get(name);
    if (!t) throw new FormatError(path, `has no tensor "${name}"`);
    return t;
  };
  return {
    path, version, metadata, typedMetadata, tensors, alignment, dataOffset,
    tensor: (name) => byName.get(name),
    tensorBytes: (name) => {
      const t = get(name);
      return bytes.subarray(dataOffset + t.offset, dataOffset + t.offset + t.byteSize);
    },
    loadTensor: (name) => decodeTensor(bytes, dataOffset, get(name), path),
  };
}

/**
 * The rest of one tensor info after its name — dimensions, type, data offset — each checked as
 * it is read (the full reader and the header-only reader of the catalogue share it).
 */
export function readTensorInfo(r: BinaryReader, name: string): { ne: number[]; count: number; type: number; info: GgmlTypeInfo; offset: number } {
  const nDims = r.u32(() => `tensor "${name}" n_dims`);
  if (nDims < 1 || nDims > MAX_DIMS) throw r.error(`tensor "${name}" has ${nDims} dimensions (1 to ${MAX_DIMS} supported)`);
  const ne: number[] = [];
  let count = 1;
  for (let d = 0; d < nDims; d++) {
    const n = r.u64(() => `tensor "${name}" dimension ${d}`);
    ne.push(n);
    count *= n;
  }
  if (count > Number.MAX_SAFE_INTEGER) throw r.error(`tensor "${name}" dimensions [${ne.join(', ')}] are absurdly large`);
  const type = r.u32(() => `tensor "${name}" type`);
  const info = GGML_TYPES.get(type);
  if (!info) throw r.error(`tensor "${name}" has unknown type ${type}`);
  const offset = r.u64(() => `tensor "${name}" data offset`);
  return { ne, count, type, info, offset };
}

function decodeTensor(bytes: Uint8Array, dataOffset: number, t: GgufTensorInfo, path: string): Float32Array {
  const at = dataOffset + t.offset;
  const n = t.ne.reduce((a, b) => a * b, 1);
  switch (t.typeName) {
    case 'F32': return new Float32Array(alignedView(bytes, at, n, Float32Array));
    case 'F16': return f16BytesToF32(bytes, at, n);
    case 'BF16': return bf16BytesToF32(bytes, at, n);
    default:
      if (isQuantType(t.typeName)) {
        const cols = t.ne[0];
        if (n === 0) return new Float32Array(0);
        return dequantizeRows({ type: t.typeName, rows: n / cols, cols, bytes: bytes.subarray(at, at + t.byteSize) });
      }
      throw new FormatError(path, `tensor "${t.name}" has type ${t.typeName}, which is not supported `
        + `(supported: ${LOADABLE.join(', ')})`);
  }
}

export function checkType(r: BinaryReader, type: number, label: Label): GgufType {
  if (type > 12) throw r.error(`${typeof label === 'string' ? label : label()} has unknown type ${type}`);
  return type as GgufType;
}

export function readScalar(r: BinaryReader, type: GgufScalarType, what: Label): GgufScalar {
  switch (type) {
    case GgufType.UINT8: return r.u8(what);
    case GgufType.INT8: return r.i8(what);
    case GgufType.UINT16: return r.u16(what);
    case GgufType.INT16: return r.i16(what);
    case GgufType.UINT32: return r.u32(what);
    case GgufType.INT32: return r.i32(what);
    case GgufType.FLOAT32: return r.f32(what);
    case GgufType.BOOL: return r.bool(what);
    case GgufType.STRING: return r.string(what);
    case GgufType.UINT64: return r.u64(what);
    case GgufType.INT64: return r.i64(what);
    case GgufType.FLOAT64: return r.f64(what);
  }
}

function readValue(r: BinaryReader, type: number, label: () => string): GgufTypedValue {
  const t = checkType(r, type, label);
  if (t === GgufType.ARRAY) return readArray(r, label, 0);
  return { type: t, value: readScalar(r, t, label) };
}

/** An array's item type, length and items (the part after its ARRAY type tag). */
function readArray(r: BinaryReader, label: () => string, depth: number): GgufTypedArray {
  const itemType = checkType(r, r.u32(() => `${label()} item type`), () => `${label()} item`);
  const n = r.u64(() => `${label()} length`);
  if (n * SCALAR_SIZE[itemType] > r.remaining) {
    throw r.error(`${label()} is an array of ${n} ${TYPE_NAMES[itemType]}, more than the ${r.remaining} bytes left could hold `
      + '(truncated or corrupt)');
  }
  let i = 0;
  const item = () => `${label()} item ${i}`;
  if (itemType === GgufType.ARRAY) {
    if (depth >= MAX_NESTING) throw r.error(`${label()} nests arrays more than ${MAX_NESTING} deep`);
    const value: GgufTypedArray[] = new Array(n);
    for (; i < n; i++) value[i] = readArray(r, item, depth + 1);
    return { type: GgufType.ARRAY, itemType, value };
  }
  const value: GgufScalar[] = new Array(n);
  for (; i < n; i++) value[i] = readScalar(r, itemType, item);
  return { type: GgufType.ARRAY, itemType, value };
}

/** The value without its types (arrays of scalars are shared, not copied). */
export function plainValue(v: GgufTypedValue): GgufValue {
  if (v.type !== GgufType.ARRAY) return v.value;
  if (v.itemType !== GgufType.ARRAY) return v.value;
  return v.value.map(plainValue);
}

// ---------------------------------------------------------------------------------------------
// Writing

export type GgufMetadataInput =
  | Map<string, GgufTypedValue | GgufValue>
  | ({ key: string } & GgufTypedValue)[];

export type GgufWriteTensor =
  /** Float data, stored as F32 (default), F16 or BF16. `shape` is row-major. */
  | { name: string; shape: number[]; data: Float32Array; type?: 'F32' | 'F16' | 'BF16' }
  /** Bytes already in a ggml type (its name or id), e.g. copied from another file's `tensorBytes`. */
  | { name: string; shape: number[]; raw: Uint8Array; type: string | number };

/**
 * Writes a GGUF v3 file atomically (to `path + '.tmp'`, then renamed). Typed metadata values are
 * written with their type; plain ones are typed by what they hold: booleans BOOL, strings STRING,
 * integers UINT32 (INT32 if negative, 64-bit beyond 32 bits), other numbers FLOAT32; integer arrays
 * INT32 where they fit. Alignment is 32 unless the metadata sets `general.alignment`.
 */
export function writeGguf(path: string, metadata: GgufMetadataInput, tensors: GgufWriteTensor[]): void {
  const entries: [string, GgufTypedValue][] = Array.isArray(metadata)
    ? metadata.map(({ key, ...tv }) => [key, tv as GgufTypedValue])
    : [...metadata].map(([key, v]) => [key, isTyped(v) ? v : inferType(v, key)]);
  const w = new BinaryWriter();
  w.bytes(Buffer.from('GGUF', 'latin1')).u32(3).u64(tensors.length).u64(entries.length);
  const keys = new Set<string>();
  let alignment = 32;
  for (const [key, tv] of entries) {
    if (keys.has(key)) throw new Error(`writeGguf: metadata key "${key}" given twice`);
    keys.add(key);
    if (key === 'general.alignment') {
      const v = tv.value;
      if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0 || (v & (v - 1)) !== 0) {
        throw new Error('writeGguf: general.alignment must be a power of two');
      }
      alignment = v;
    }
    w.string(key).u32(tv.type);
    if (tv.type === GgufType.ARRAY) writeArray(w, tv, key);
    else writeScalar(w, tv.type, tv.value, key);
  }

  const data: { bytes: Uint8Array; offset: number }[] = [];
  const names = new Set<string>();
  let offset = 0;
  for (const t of tensors) {
    const bad = (what: string) => new Error(`writeGguf: tensor "${t.name}": ${what}`);
    if (names.has(t.name)) throw bad('name given twice');
    names.add(t.name);
    if (t.shape.length < 1 || t.shape.length > MAX_DIMS || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw bad(`bad shape [${t.shape.join(', ')}]`);
    }
    const count = t.shape.reduce((a, b) => a * b, 1);
    let bytes: Uint8Array;
    let info: GgmlTypeInfo | undefined;
    if ('raw' in t) {
      info = typeof t.type === 'number' ? GGML_TYPES.get(t.type) : GGML_BY_NAME.get(t.type);
      if (!info) throw bad(`unknown type ${t.type}`);
      const cols = t.shape[t.shape.length - 1];
      if (cols % info.blockSize !== 0) throw bad(`${cols} columns is not a multiple of the ${info.name} block size`);
      if (t.raw.length !== (count / info.blockSize) * info.typeSize) {
        throw bad(`${t.raw.length} bytes given, ${info.name} [${t.shape.join(', ')}] needs ${(count / info.blockSize) * info.typeSize}`);
      }
      bytes = t.raw;
    } else {
      const type = t.type ?? 'F32';
      info = GGML_BY_NAME.get(type);
      if (!info || !['F32', 'F16', 'BF16'].includes(type)) throw bad(`type ${type} cannot be written from floats`);
      if (t.data.length !== count) throw bad(`${t.data.length} values given, shape [${t.shape.join(', ')}] needs ${count}`);
      bytes = leBytes(type === 'F32' ? t.data : type === 'F16' ? f32ArrayToF16(t.data) : f32ArrayToBf16(t.data));
    }
    w.string(t.name).u32(t.shape.length);
    for (let d = t.shape.length - 1; d >= 0; d--) w.u64(t.shape[d]);
    w.u32(info.id).u64(offset);
    data.push({ bytes, offset });
    offset += Math.ceil(bytes.length / alignment) * alignment;
  }
  w.pad(alignment);
  const header = w.finish();
  const chunks: Uint8Array[] = [header];
  for (const d of data) {
    chunks.push(d.bytes);
    const pad = (alignment - (d.bytes.length % alignment)) % alignment;
    if (pad) chunks.push(new Uint8Array(pad));
  }
  writeFileAtomic(path, chunks);
}

function isTyped(v: GgufTypedValue | GgufValue): v is GgufTypedValue {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function inferType(v: GgufValue, key: string): GgufTypedValue {
  if (Array.isArray(v)) return inferArray(v, key);
  if (typeof v === 'boolean') return { type: GgufType.BOOL, value: v };
  if (typeof v === 'string') return { type: GgufType.STRING, value: v };
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) return { type: GgufType.FLOAT32, value: v };
    if (v >= 0 && v <= 0xffffffff) return { type: GgufType.UINT32, value: v };
    if (v < 0 && v >= -0x80000000) return { type: GgufType.INT32, value: v };
    return { type: v < 0 ? GgufType.INT64 : GgufType.UINT64, value: v };
  }
  throw new Error(`writeGguf: metadata "${key}" has a value of unsupported kind ${typeof v}`);
}

function inferArray(v: GgufValue[], key: string): GgufTypedArray {
  if (v.every(Array.isArray)) {
    return { type: GgufType.ARRAY, itemType: GgufType.ARRAY, value: (v as GgufValue[][]).map((x) => inferArray(x, key)) };
  }
  const kinds = new Set(v.map((x) => typeof x));
  if (kinds.size > 1) throw new Error(`writeGguf: metadata "${key}" mixes ${[...kinds].join(' and ')} in one array`);
  const s = v as GgufScalar[];
  if (kinds.has('string')) return { type: GgufType.ARRAY, itemType: GgufType.STRING, value: s };
  if (kinds.has('boolean')) return { type: GgufType.ARRAY, itemType: GgufType.BOOL, value: s };
  const nums = v as number[];
  let itemType: GgufScalarType = GgufType.INT32;
  if (!nums.every(Number.isInteger)) itemType = GgufType.FLOAT32;
  else if (!nums.every((x) => x >= -0x80000000 && x <= 0x7fffffff)) {
    itemType = nums.every((x) => x >= 0 && x <= 0xffffffff) ? GgufType.UINT32 : nums.some((x) => x < 0) ? GgufType.INT64 : GgufType.UINT64;
  }
  return { type: GgufType.ARRAY, itemType, value: s };
}

const INT_RANGE: Partial<Record<GgufScalarType, [number, number]>> = {
  [GgufType.UINT8]: [0, 0xff], [GgufType.INT8]: [-0x80, 0x7f], [GgufType.UINT16]: [0, 0xffff],
  [GgufType.INT16]: [-0x8000, 0x7fff], [GgufType.UINT32]: [0, 0xffffffff], [GgufType.INT32]: [-0x80000000, 0x7fffffff],
  [GgufType.UINT64]: [0, Number.MAX_SAFE_INTEGER], [GgufType.INT64]: [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};

function writeScalar(w: BinaryWriter, type: number, v: unknown, key: string): void {
  const bad = () => new Error(`writeGguf: metadata "${key}": ${JSON.stringify(v)?.slice(0, 40)} is not a valid `
    + `${TYPE_NAMES[type] ?? `type ${type}`}`);
  if (type === GgufType.STRING) { if (typeof v !== 'string') throw bad(); w.string(v); return; }
  if (type === GgufType.BOOL) { if (typeof v !== 'boolean') throw bad(); w.bool(v); return; }
  if (typeof v !== 'number') throw bad();
  if (type === GgufType.FLOAT32) { w.f32(v); return; }
  if (type === GgufType.FLOAT64) { w.f64(v); return; }
  const range = INT_RANGE[type as GgufScalarType];
  if (!range || !Number.isInteger(v) || v < range[0] || v > range[1]) throw bad();
  switch (type) {
    case GgufType.UINT8: w.u8(v); break;
    case GgufType.INT8: w.i8(v); break;
    case GgufType.UINT16: w.u16(v); break;
    case GgufType.INT16: w.i16(v); break;
    case GgufType.UINT32: w.u32(v); break;
    case GgufType.INT32: w.i32(v); break;
    case GgufType.UINT64: w.u64(v); break;
    case GgufType.INT64: w.i64(v); break;
  }
}

function writeArray(w: BinaryWriter, a: GgufTypedArray, key: string): void {
  if (!Array.isArray(a.value)) throw new Error(`writeGguf: metadata "${key}": an ARRAY value must be an array`);
  w.u32(a.itemType).u64(a.value.length);
  if (a.itemType === GgufType.ARRAY) {
    for (const x of a.value) {
      if (!isTyped(x as GgufTypedValue) || x.type !== GgufType.ARRAY) {
        throw new Error(`writeGguf: metadata "${key}": items of an array of arrays must be typed arrays`);
      }
      writeArray(w, x, key);
    }
  } else {
    for (const x of a.value) writeScalar(w, a.itemType, x, key);
  }
}
