// Products against a frozen weight kept outside the tensor backend, in its file's encoding (F32,
// F16, BF16 or a ggml block type; a StoredMatrix [rows, cols]): x·Wᵀ (a linear layer's forward
// pass, W as nn.Linear's [out, in]) and x·W (its input gradient). The wasm heap stops at 4 GiB,
// so a model whose weights do not fit keeps its frozen ones here. Aligned F32 is read where it
// is (zero-copy); other encodings a block of rows at a time into one reused scratch buffer
// (decode, then sgemm, accumulating over the blocks for x·W). Not differentiable by itself:
// model/external-weights.ts wraps it with the gradient.
import { tf, Tensor } from '../tf';
import { activeBlas } from './index';
import { Sgemm } from './blas';
import { dequantizeRows, f32View, type StoredMatrix } from '../core/formats/quant';

/** Rows per scratch block: about 4 MiB of float32 (at least one row). */
function blockRows(m: StoredMatrix): number {
  return Math.max(1, Math.min(m.rows, Math.floor((1 << 20) / m.cols)));
}

// One scratch buffer for every product of this thread (JS memory, outside the heap): a fresh
// 4 MiB array per product would be garbage at the rate of the products.
let scratch = new Float32Array(0);
function scratchFor(values: number): Float32Array {
  if (scratch.length < values) scratch = new Float32Array(values);
  return scratch;
}

/** Bytes the scratch buffer holds now (for the memory figures). */
export function scratchBytes(): number {
  return scratch.byteLength;
}

/* eslint-disable @typescript-eslint/no-explicit-any */
const KERNEL = 'AdaptLabExternalMatMul';

/** The backend's float32 view of a tensor, and output allocation (as kernels.ts does). */
function views(backend: any): { alloc(shape: number[]): tf.TensorInfo; view(t: tf.TensorInfo): Float32Array } {
  if (backend.wasm) {
    return {
      alloc: (shape) => backend.makeOutput(shape, 'float32'),
      view: (t) => new Float32Array(backend.wasm.HEAPF32.buffer, backend.dataIdMap.get(t.dataId).memoryOffset, t.shape.reduce((p, d) => p * d, 1)),
    };
  }
  return {
    alloc: (shape) => backend.makeTensorInfo(shape, 'float32', new Float32Array(shape.reduce((p, d) => p * d, 1))),
    view: (t) => backend.data.get(t.dataId).values as Float32Array,
  };
}

/** y = x·Wᵀ (transposed) or y = x·W, on BLAS, W read in place or block by block. */
function productOnBlas(sgemm: Sgemm, backend: any, x: tf.TensorInfo, w: StoredMatrix, transposed: boolean): tf.TensorInfo {
  const [M, inner] = x.shape;
  const R = w.rows;
  const C = w.cols;
  if (inner !== (transposed ? C : R)) throw new Error(`external matmul: x is [${x.shape}], the weight [${R}, ${C}]${transposed ? 'ᵀ' : ''}`);
  const v = views(backend);
  const out = v.alloc([M, transposed ? R : C]);
  // Views after the allocation: it may grow the wasm memory (detaching older views).
  const xv = v.view(x);
  const y = v.view(out);
  if (M === 0) return out;
  const whole = f32View(w);
  if (whole) {
    if (transposed) sgemm(false, true, M, R, C, 1, xv, C, whole, C, 0, y, R);
    else sgemm(false, false, M, C, R, 1, xv, R, whole, C, 0, y, C);
    return out;
  }
  const step = blockRows(w);
  const buf = scratchFor(step * C);
  for (let r0 = 0; r0 < R; r0 += step) {
    const r1 = Math.min(R, r0 + step);
    const block = buf.subarray(0, (r1 - r0) * C);
    dequantizeRows(w, r0, r1, block);
    // x·Wᵀ: y[:, r0:r1] = x·W[r0:r1]ᵀ; x·W: y += x[:, r0:r1]·W[r0:r1].
    if (transposed) sgemm(false, true, M, r1 - r0, C, 1, xv, C, block, C, 0, y.subarray(r0), R);
    else sgemm(false, false, M, C, r1 - r0, 1, xv.subarray(r0), R, block, C, r0 === 0 ? 0 : 1, y, C);
  }
  return out;
}

let registered = false;
function registerKernel(): void {
  if (registered) return;
  registered = true;
  for (const backendName of ['wasm', 'cpu']) {
    tf.registerKernel({
      kernelName: KERNEL, backendName,
      kernelFunc: ((args: { inputs: { x: tf.TensorInfo }; attrs: { weight: StoredMatrix; transposed: boolean }; backend: any }) =>
        productOnBlas(activeBlas()!.sgemm, args.backend, args.inputs.x, args.attrs.weight, args.attrs.transposed)) as unknown as tf.KernelFunc,
    });
  }
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/**
 * x [M, cols] · Wᵀ → [M, rows] (transposed) or x [M, rows] · W → [M, cols], on BLAS (the caller
 * checks productsOnBlas()). No gradient of its own.
 */
export function externalProduct(x: Tensor, w: StoredMatrix, transposed: boolean): Tensor {
  if (x.rank !== 2 || x.dtype !== 'float32') throw new Error(`external matmul takes float32 x of rank 2, got ${x.dtype} [${x.shape}]`);
  registerKernel();
  return tf.engine().runKernel(KERNEL, { x }, { weight: w, transposed } as unknown as tf.NamedAttrMap) as Tensor;
}
