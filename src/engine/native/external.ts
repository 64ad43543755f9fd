// Products against a frozen weight kept outside the tensor backend (JS or native memory, in
// any dtype): x [M,K] · W [K,N] → [M,N], differentiable in x. The wasm heap stops at 4 GiB, so
// a model whose weights do not fit keeps its frozen ones here. On BLAS, f32 weights are read
// where they are (zero-copy) and other dtypes a block of rows at a time into a scratch buffer
// (dequantize, then sgemm accumulating over the blocks); without BLAS each block is copied
// into a tensor and multiplied there (correct, slower).
import { tf, Tensor, customGrad } from '../tf';
import { activeBlas, productsOnBlas } from './index';
import { Sgemm } from './blas';

export interface ExternalWeight {
  /** Rows (the product's inner dimension K, the layer's inputs). */
  readonly rows: number;
  /** Columns (N, the layer's outputs). */
  readonly cols: number;
  /** Writes rows [from, to) as float32, row-major, into out ((to − from) × cols values). */
  readRows(from: number, to: number, out: Float32Array): void;
  /** The whole weight as float32 when it is stored so: read without a copy. */
  readonly f32?: Float32Array;
}

/** A float32 weight [rows, cols] held in JS memory. */
export function f32Weight(data: Float32Array, rows: number, cols: number): ExternalWeight {
  if (data.length !== rows * cols) throw new Error(`external weight: ${data.length} values for [${rows}, ${cols}]`);
  return { rows, cols, f32: data, readRows: (from, to, out) => out.set(data.subarray(from * cols, to * cols)) };
}

/** A bfloat16 weight [rows, cols] (the upper halves of float32s), as safetensors and GGUF store it. */
export function bf16Weight(data: Uint16Array, rows: number, cols: number): ExternalWeight {
  if (data.length !== rows * cols) throw new Error(`external weight: ${data.length} values for [${rows}, ${cols}]`);
  return {
    rows, cols,
    readRows: (from, to, out) => {
      const bits = new Uint32Array(out.buffer, out.byteOffset, (to - from) * cols);
      const src = data.subarray(from * cols, to * cols);
      for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
    },
  };
}

/** Scratch rows per block: about 4 MiB of float32. */
function blockRows(w: ExternalWeight): number {
  return Math.max(1, Math.min(w.rows, Math.floor((1 << 20) / w.cols)));
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

/** y = x·W (transposed false) or y = x·Wᵀ (true), on BLAS, W read block by block. */
function productOnBlas(sgemm: Sgemm, backend: any, x: tf.TensorInfo, w: ExternalWeight, transposed: boolean): tf.TensorInfo {
  const [M, inner] = x.shape;
  const K = w.rows;
  const N = w.cols;
  const v = views(backend);
  const out = v.alloc([M, transposed ? K : N]);
  const xv = v.view(x);
  const y = v.view(out);
  if (inner !== (transposed ? N : K)) throw new Error(`external matmul: x is [${x.shape}], the weight [${K}, ${N}]${transposed ? 'ᵀ' : ''}`);
  if (M === 0) return out;
  if (w.f32) {
    if (transposed) sgemm(false, true, M, K, N, 1, xv, N, w.f32, N, 0, y, K);
    else sgemm(false, false, M, N, K, 1, xv, K, w.f32, N, 0, y, N);
    return out;
  }
  const step = blockRows(w);
  const scratch = new Float32Array(step * N);
  for (let k0 = 0; k0 < K; k0 += step) {
    const k1 = Math.min(K, k0 + step);
    const block = scratch.subarray(0, (k1 - k0) * N);
    w.readRows(k0, k1, block);
    // x·W: y += x[:, k0:k1]·W[k0:k1]; x·Wᵀ: y[:, k0:k1] = x·W[k0:k1]ᵀ.
    if (transposed) sgemm(false, true, M, k1 - k0, N, 1, xv, N, block, N, 0, y.subarray(k0), K);
    else sgemm(false, false, M, N, k1 - k0, 1, xv.subarray(k0), K, block, N, k0 === 0 ? 0 : 1, y, N);
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
      kernelFunc: ((args: { inputs: { x: tf.TensorInfo }; attrs: { weight: ExternalWeight; transposed: boolean }; backend: any }) =>
        productOnBlas(activeBlas()!.sgemm, args.backend, args.inputs.x, args.attrs.weight, args.attrs.transposed)) as unknown as tf.KernelFunc,
    });
  }
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/** Without BLAS: each block of rows becomes a tensor for the backend's own product. */
function productByBlocks(x: Tensor, w: ExternalWeight, transposed: boolean): Tensor {
  return tf.tidy(() => {
    const step = blockRows(w);
    const parts: Tensor[] = [];
    let acc: Tensor | undefined;
    for (let k0 = 0; k0 < w.rows; k0 += step) {
      const k1 = Math.min(w.rows, k0 + step);
      const block = new Float32Array((k1 - k0) * w.cols);
      w.readRows(k0, k1, block);
      const b = tf.tensor2d(block, [k1 - k0, w.cols]);
      if (transposed) parts.push(tf.matMul(x as tf.Tensor2D, b, false, true));
      else {
        const xs = tf.slice(x, [0, k0], [x.shape[0]!, k1 - k0]);
        const p = tf.matMul(xs as tf.Tensor2D, b);
        acc = acc ? tf.add(acc, p) : p;
      }
    }
    return transposed ? (parts.length === 1 ? parts[0] : tf.concat(parts, 1)) : acc!;
  });
}

function product(x: Tensor, w: ExternalWeight, transposed: boolean): Tensor {
  if (x.rank !== 2) throw new Error(`external matmul takes x of rank 2, got [${x.shape}]`);
  if (!productsOnBlas() || x.dtype !== 'float32') return productByBlocks(x, w, transposed);
  registerKernel();
  return tf.engine().runKernel(KERNEL, { x }, { weight: w, transposed } as unknown as tf.NamedAttrMap) as Tensor;
}

/** x [M,K] · W [K,N] → [M,N] for a frozen weight outside the backend; the gradient flows to x. */
export function matmulExternal(x: Tensor, w: ExternalWeight): Tensor {
  return customGrad((xi: Tensor) => ({
    value: product(xi, w, false),
    gradFunc: (dy: Tensor) => [product(dy, w, true)],
  }))(x);
}
