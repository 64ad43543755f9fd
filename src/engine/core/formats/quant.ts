// ggml's quantized block types that Adapt Lab reads (and, for tests and the bench, writes):
// one codec per type, and the plain functions the model uses on a frozen weight kept in its
// file's encoding — rows of its stored bytes to float32, on demand — so a frozen base stays
// compact and outside the tensor backend. F32, F16 and BF16 are stored types too (one-value
// blocks, float-codecs.ts). Any other ggml type (IQ*, TQ*, MXFP4, …) is refused by name.
import { Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, type BlockCodec } from './quant-legacy';
import { BF16, F16, F32 } from './float-codecs';
import { dequantQ2K, dequantQ3K, dequantQ4K, dequantQ5K, dequantQ6K } from './kquant';
import { quantQ2K, quantQ3K, quantQ4K, quantQ5K, quantQ6K } from './kquant-make';

export type { BlockCodec } from './quant-legacy';

const K = (name: string, typeSize: number, dequant: BlockCodec['dequant'], quant: BlockCodec['quant']): BlockCodec =>
  ({ name, blockSize: 256, typeSize, dequant, quant });

const CODECS: ReadonlyMap<string, BlockCodec> = new Map([
  Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,
  K('Q2_K', 84, dequantQ2K, quantQ2K), K('Q3_K', 110, dequantQ3K, quantQ3K), K('Q4_K', 144, dequantQ4K, quantQ4K),
  K('Q5_K', 176, dequantQ5K, quantQ5K), K('Q6_K', 210, dequantQ6K, quantQ6K),
].map((c) => [c.name, c]));

/** Names of the quantized types that load (as frozen weights). */
export const QUANT_TYPES: readonly string[] = [...CODECS.keys()];

/** Float types a frozen weight may be stored in as well. */
const FLOATS: ReadonlyMap<string, BlockCodec> = new Map([F32, F16, BF16].map((c) => [c.name, c]));

export function isQuantType(typeName: string): boolean {
  return CODECS.has(typeName);
}

/** A type a StoredMatrix may have: the quantized ones, F32, F16 and BF16. */
export function isStoredType(typeName: string): boolean {
  return CODECS.has(typeName) || FLOATS.has(typeName);
}

export function codecOf(typeName: string): BlockCodec {
  const c = CODECS.get(typeName) ?? FLOATS.get(typeName);
  if (!c) throw new Error(`ggml type ${typeName} is not a supported quantized type (supported: ${QUANT_TYPES.join(', ')})`);
  return c;
}

/**
 * A frozen weight kept in its file's encoding (ggml blocks, or F32/F16/BF16 values): `rows` rows
 * of `cols` values, each row a whole number of blocks, row-major as the file stores it (for a
 * linear layer, nn.Linear's [out, in]).
 */
export interface StoredMatrix {
  type: string;
  rows: number;
  cols: number;
  bytes: Uint8Array;
}

export function rowBytes(type: string, cols: number): number {
  const c = codecOf(type);
  if (cols % c.blockSize !== 0) throw new Error(`${cols} columns is not a multiple of the ${type} block size ${c.blockSize}`);
  return (cols / c.blockSize) * c.typeSize;
}

/** Rows [from, to) of a quantized matrix as float32, row-major, into `out` (allocated if not given). */
export function dequantizeRows(m: StoredMatrix, from = 0, to = m.rows, out?: Float32Array): Float32Array {
  const c = codecOf(m.type);
  const n = (to - from) * m.cols;
  const dst = out ?? new Float32Array(n);
  if (from < 0 || to > m.rows || from > to || dst.length < n) {
    throw new Error(`dequantizeRows: rows [${from}, ${to}) of a ${m.rows}-row matrix into ${dst.length} values`);
  }
  const per = m.cols / c.blockSize;
  c.dequant(m.bytes, from * per * c.typeSize, (to - from) * per, dst, 0);
  return dst;
}

/** The listed rows (e.g. token ids) of a quantized matrix as float32, one after another. */
export function dequantizeRowList(m: StoredMatrix, rows: ArrayLike<number>, out = new Float32Array(rows.length * m.cols)): Float32Array {
  const c = codecOf(m.type);
  const per = m.cols / c.blockSize;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    if (!(r >= 0 && r < m.rows)) throw new Error(`dequantizeRowList: row ${r} of a ${m.rows}-row matrix`);
    c.dequant(m.bytes, r * per * c.typeSize, per, out, i * m.cols);
  }
  return out;
}

/** Quantizes a row-major [rows, cols] float32 matrix (cols a multiple of the block size) with ggml's reference encoder. */
export function quantizeMatrix(type: string, data: Float32Array, rows: number, cols: number): StoredMatrix {
  const c = codecOf(type);
  const rb = rowBytes(type, cols);
  if (data.length !== rows * cols) throw new Error(`quantizeMatrix: ${data.length} values for [${rows}, ${cols}]`);
  const bytes = new Uint8Array(rows * rb);
  c.quant(data, 0, (rows * cols) / c.blockSize, bytes, 0);
  return { type, rows, cols, bytes };
}

/** Rows of a quantized matrix reordered: row i of the result is row order[i] of m (whole rows of blocks move). */
export function permuteQuantRows(m: StoredMatrix, order: ArrayLike<number>): StoredMatrix {
  const rb = rowBytes(m.type, m.cols);
  const bytes = new Uint8Array(m.bytes.length);
  for (let i = 0; i < m.rows; i++) bytes.set(m.bytes.subarray(order[i] * rb, (order[i] + 1) * rb), i * rb);
  return { ...m, bytes };
}

/** Bits per weight of a quantized type (e.g. Q4_K: 4.5). */
export function bitsPerWeight(type: string): number {
  const c = codecOf(type);
  return (c.typeSize * 8) / c.blockSize;
}

/** The matrix's values without a copy when it is stored as aligned F32 (BLAS reads them in place). */
export function f32View(m: StoredMatrix): Float32Array | undefined {
  if (m.type !== 'F32' || (m.bytes.byteOffset % 4) !== 0) return undefined;
  return new Float32Array(m.bytes.buffer, m.bytes.byteOffset, m.rows * m.cols);
}

/** The bytes of a float32 array as an F32 StoredMatrix [rows, cols] (a view, no copy). */
export function storedF32(data: Float32Array, rows: number, cols: number): StoredMatrix {
  if (data.length !== rows * cols) throw new Error(`storedF32: ${data.length} values for [${rows}, ${cols}]`);
  return { type: 'F32', rows, cols, bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/** A float-typed matrix transposed ([rows, cols] → [cols, rows]) in its own encoding (Conv1D weights stored [in, out]). */
export function transposeStored(m: StoredMatrix): StoredMatrix {
  const c = codecOf(m.type);
  if (c.blockSize !== 1) throw new Error(`transposeStored: ${m.type} blocks cannot be transposed`);
  const s = c.typeSize;
  const out = new Uint8Array(m.bytes.length);
  for (let r = 0; r < m.rows; r++) {
    for (let k = 0; k < m.cols; k++) {
      const from = (r * m.cols + k) * s;
      const to = (k * m.rows + r) * s;
      for (let b = 0; b < s; b++) out[to + b] = m.bytes[from + b];
    }
  }
  return { type: m.type, rows: m.cols, cols: m.rows, bytes: out };
}
