// A (batched, broadcast) matrix product on float32 views through one sgemm per batch entry,
// transposes as BLAS flags. Shared by the wasm and cpu kernels (kernels.ts): they differ only
// in where tensor data lives.
import { Sgemm } from './blas';

export interface ProductShape {
  /** Output shape: broadcast batch dims, then [M, N]. */
  out: number[];
  m: number;
  n: number;
  k: number;
}

const size = (dims: number[]) => dims.reduce((p, d) => p * d, 1);

/** Broadcasts two batch shapes (numpy rules); undefined when they do not broadcast. */
function broadcastDims(a: number[], b: number[]): number[] | undefined {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const x = a[a.length - r + i] ?? 1;
    const y = b[b.length - r + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) return undefined;
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** Shape of op(a) × op(b), or an error in tfjs's words when they do not fit. */
export function productShape(aShape: number[], bShape: number[], tA: boolean, tB: boolean): ProductShape {
  const ra = aShape.length;
  const rb = bShape.length;
  const m = tA ? aShape[ra - 1] : aShape[ra - 2];
  const k = tA ? aShape[ra - 2] : aShape[ra - 1];
  const kb = tB ? bShape[rb - 1] : bShape[rb - 2];
  const n = tB ? bShape[rb - 2] : bShape[rb - 1];
  const batch = broadcastDims(aShape.slice(0, -2), bShape.slice(0, -2));
  if (k !== kb || !batch) {
    throw new Error(`Error in matMul: inner shapes (${k}) and (${kb}) of Tensors with shapes ${aShape} and ${bShape} and transposeA=${tA} and transposeB=${tB} must match.`);
  }
  return { out: [...batch, m, n], m, n, k };
}

/** Maps an output batch index to the operand's batch index under broadcasting. */
function batchIndexer(outDims: number[], dims: number[]): (i: number) => number {
  const total = size(dims);
  if (total === 1) return () => 0;
  if (total === size(outDims)) return (i) => i;
  const padded = [...new Array(outDims.length - dims.length).fill(1), ...dims];
  const strides = new Array(padded.length).fill(0);
  for (let d = padded.length - 1, s = 1; d >= 0; d--) {
    strides[d] = padded[d] === 1 ? 0 : s;
    s *= padded[d];
  }
  return (i) => {
    let idx = 0;
    for (let d = outDims.length - 1; d >= 0; d--) {
      idx += (i % outDims[d]) * strides[d];
      i = Math.floor(i / outDims[d]);
    }
    return idx;
  };
}

/**
 * c = op(a)·op(b) + beta·c for row-major float32 data of the given shapes (batch dims
 * broadcast). beta = 1 adds to what c holds (a bias written there first).
 */
export function gemmInto(sgemm: Sgemm, a: Float32Array, aShape: number[], b: Float32Array, bShape: number[], tA: boolean, tB: boolean, c: Float32Array, beta = 0): void {
  const { out, m, n, k } = productShape(aShape, bShape, tA, tB);
  if (m === 0 || n === 0) return;
  if (k === 0) {
    if (beta === 0) c.fill(0);
    return;
  }
  const outBatch = out.slice(0, -2);
  const batches = size(outBatch);
  const aDims = aShape.slice(0, -2);
  const bDims = bShape.slice(0, -2);
  const lda = tA ? m : k;
  const ldb = tB ? k : n;
  // One shared right operand and a row-major left one: all batches are one taller product.
  if (size(bDims) === 1 && !tA && size(aDims) === batches) {
    sgemm(false, tB, m * batches, n, k, 1, a, lda, b, ldb, beta, c, n);
    return;
  }
  const ai = batchIndexer(outBatch, aDims);
  const bi = batchIndexer(outBatch, bDims);
  const sa = m * k;
  const sb = k * n;
  const sc = m * n;
  for (let i = 0; i < batches; i++) {
    const ao = ai(i) * sa;
    const bo = bi(i) * sb;
    sgemm(tA, tB, m, n, k, 1, a.subarray(ao, ao + sa), lda, b.subarray(bo, bo + sb), ldb, beta, c.subarray(i * sc, i * sc + sc), n);
  }
}
