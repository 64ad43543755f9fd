// Causal self-attention read straight from a packed q|k|v tensor [B, T, 3·H·hd] (GPT-2's c_attn
// output) on BLAS: each head's products are sgemm calls on strided views of it (leading
// dimension 3·H·hd), so no split, no head transposes and no concatenated gradient. Three
// kernels: scores, context, and the whole backward pass into one [B, T, 3·H·hd] gradient.
// The softmax between them stays the backend's (model/attention-packed.ts composes them).
import { tf } from '../tf';
import { activeBlas } from './index';
import { Sgemm } from './blas';
import { kernelCounts } from './kernels';

export const SCORES = 'AdaptLabPackedScores';
export const CONTEXT = 'AdaptLabPackedContext';
export const GRAD = 'AdaptLabPackedAttentionGrad';

/** Added to the scores of future positions before the softmax (as ops.ts's causal mask). */
const MASKED = -1e9;

/* eslint-disable @typescript-eslint/no-explicit-any */
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

interface Dims {
  B: number;
  T: number;
  H: number;
  hd: number;
  /** H·hd, and the packed row 3·H·hd. */
  d: number;
  row: number;
}

function dimsOf(qkv: tf.TensorInfo, heads: number): Dims {
  const [B, T, row] = qkv.shape;
  if (qkv.shape.length !== 3 || row % (3 * heads) !== 0) throw new Error(`packed attention: q|k|v is [${qkv.shape}], not [B, T, 3·${heads}·head_dim]`);
  const d = row / 3;
  return { B, T, H: heads, hd: d / heads, d, row };
}

/** S[b,h] = scale · Q[b,h] · K[b,h]ᵀ, future positions masked: [B, H, T, T]. */
function scores(sgemm: Sgemm, backend: any, qkv: tf.TensorInfo, heads: number, scale: number): tf.TensorInfo {
  const { B, T, H, hd, d, row } = dimsOf(qkv, heads);
  const v = views(backend);
  const out = v.alloc([B, H, T, T]);
  const x = v.view(qkv);
  const s = v.view(out);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const q = b * T * row + h * hd;
      const o = (b * H + h) * T * T;
      sgemm(false, true, T, T, hd, scale, x.subarray(q), row, x.subarray(q + d), row, 0, s.subarray(o, o + T * T), T);
      for (let i = 0; i < T - 1; i++) s.fill(MASKED, o + i * T + i + 1, o + (i + 1) * T);
    }
  }
  kernelCounts.blas += B * H;
  return out;
}

/** O[b, :, h] = P[b,h] · V[b,h]: [B, T, H·hd]. */
function context(sgemm: Sgemm, backend: any, p: tf.TensorInfo, qkv: tf.TensorInfo, heads: number): tf.TensorInfo {
  const { B, T, H, hd, d, row } = dimsOf(qkv, heads);
  const v = views(backend);
  const out = v.alloc([B, T, d]);
  const x = v.view(qkv);
  const pv = v.view(p);
  const o = v.view(out);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const pOff = (b * H + h) * T * T;
      sgemm(false, false, T, hd, T, 1, pv.subarray(pOff, pOff + T * T), T, x.subarray(b * T * row + 2 * d + h * hd), row, 0, o.subarray(b * T * d + h * hd), d);
    }
  }
  kernelCounts.blas += B * H;
  return out;
}

// One [T, T] scratch for dP/dS per thread, reused (JS memory: sgemm reads and writes it in place).
let scratch = new Float32Array(0);

/**
 * The gradient with respect to the packed q|k|v, given dO [B, T, H·hd] and the softmax output P:
 * dS = P ⊙ (dO·Vᵀ − rowsum(dO·Vᵀ ⊙ P)); dQ = scale·dS·K, dK = scale·dSᵀ·Q, dV = Pᵀ·dO, each written
 * into its columns of the result.
 */
function grad(sgemm: Sgemm, backend: any, dy: tf.TensorInfo, p: tf.TensorInfo, qkv: tf.TensorInfo, heads: number, scale: number): tf.TensorInfo {
  const { B, T, H, hd, d, row } = dimsOf(qkv, heads);
  const v = views(backend);
  const out = v.alloc([B, T, row]);
  const x = v.view(qkv);
  const pv = v.view(p);
  const g = v.view(dy);
  const dx = v.view(out);
  if (scratch.length < T * T) scratch = new Float32Array(T * T);
  const ds = scratch.subarray(0, T * T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const base = b * T * row + h * hd;
      const dO = g.subarray(b * T * d + h * hd);
      const P = pv.subarray((b * H + h) * T * T, (b * H + h + 1) * T * T);
      sgemm(false, true, T, T, hd, 1, dO, d, x.subarray(base + 2 * d), row, 0, ds, T);
      for (let i = 0; i < T; i++) {
        const r = i * T;
        let dot = 0;
        for (let j = 0; j < T; j++) dot += ds[r + j] * P[r + j];
        for (let j = 0; j < T; j++) ds[r + j] = P[r + j] * (ds[r + j] - dot);
      }
      sgemm(false, false, T, hd, T, scale, ds, T, x.subarray(base + d), row, 0, dx.subarray(base), row);
      sgemm(true, false, T, hd, T, scale, ds, T, x.subarray(base), row, 0, dx.subarray(base + d), row);
      sgemm(true, false, T, hd, T, 1, P, T, dO, d, 0, dx.subarray(base + 2 * d), row);
    }
  }
  kernelCounts.blas += 4 * B * H;
  return out;
}

let registered = false;
function registerKernels(): void {
  if (registered) return;
  registered = true;
  const sgemm = () => activeBlas()!.sgemm;
  for (const backendName of ['wasm', 'cpu']) {
    tf.registerKernel({
      kernelName: SCORES, backendName,
      kernelFunc: ((a: { inputs: { qkv: tf.TensorInfo }; attrs: { heads: number; scale: number }; backend: any }) =>
        scores(sgemm(), a.backend, a.inputs.qkv, a.attrs.heads, a.attrs.scale)) as unknown as tf.KernelFunc,
    });
    tf.registerKernel({
      kernelName: CONTEXT, backendName,
      kernelFunc: ((a: { inputs: { p: tf.TensorInfo; qkv: tf.TensorInfo }; attrs: { heads: number }; backend: any }) =>
        context(sgemm(), a.backend, a.inputs.p, a.inputs.qkv, a.attrs.heads)) as unknown as tf.KernelFunc,
    });
    tf.registerKernel({
      kernelName: GRAD, backendName,
      kernelFunc: ((a: { inputs: { dy: tf.TensorInfo; p: tf.TensorInfo; qkv: tf.TensorInfo }; attrs: { heads: number; scale: number }; backend: any }) =>
        grad(sgemm(), a.backend, a.inputs.dy, a.inputs.p, a.inputs.qkv, a.attrs.heads, a.attrs.scale)) as unknown as tf.KernelFunc,
    });
  }
}
/* eslint-enable @typescript-eslint/no-explicit-any */

type Attrs = tf.NamedAttrMap;

/** Masked, scaled scores [B, H, T, T] of packed q|k|v [B, T, 3·H·hd] (BLAS on: the caller checks productsOnBlas()). */
export function packedScores(qkv: tf.Tensor, heads: number, scale: number): tf.Tensor {
  registerKernels();
  return tf.engine().runKernel(SCORES, { qkv }, { heads, scale } as unknown as Attrs) as tf.Tensor;
}

/** Attention output [B, T, H·hd] from the probabilities [B, H, T, T] and packed q|k|v. */
export function packedContext(p: tf.Tensor, qkv: tf.Tensor, heads: number): tf.Tensor {
  registerKernels();
  return tf.engine().runKernel(CONTEXT, { p, qkv }, { heads } as unknown as Attrs) as tf.Tensor;
}

/** d(loss)/d(q|k|v) [B, T, 3·H·hd] from dO [B, T, H·hd], the probabilities and packed q|k|v. */
export function packedAttentionGrad(dy: tf.Tensor, p: tf.Tensor, qkv: tf.Tensor, heads: number, scale: number): tf.Tensor {
  registerKernels();
  return tf.engine().runKernel(GRAD, { dy, p, qkv }, { heads, scale } as unknown as Attrs) as tf.Tensor;
}
