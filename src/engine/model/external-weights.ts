// Frozen weights kept outside the tensor backend in their file's encoding (F32, F16, BF16 or ggml
// blocks): never expanded to float32 for the whole model, never in the wasm heap. On BLAS each
// product reads the weight where it lives (native/external.ts: F32 in place, the others a block of
// rows at a time through a scratch buffer). Without BLAS only quantized bases are kept so, and each
// product dequantizes the weight into a temporary float32 tensor right before its matMul and frees
// it after — in the forward pass and again in the backward pass (so a training step does not hold
// every layer's float32 copy for the gradient), in row chunks so a large vocabulary head never
// needs one huge temporary. The stored matrix W is [N, K] as the file has it (nn.Linear's
// [out, in]; the embedding's [vocab, d]), so every use is y = x·Wᵀ and its input gradient dx = dy·W.
import { tf, Tensor, customGrad } from '../tf';
import { dequantizeRowList, dequantizeRows, type StoredMatrix } from '../core/formats/quant';
import type { ParamSpec } from '../core/params';
import { productsOnBlas } from '../native';
import { externalProduct } from '../native/external';

/** Values per temporary float32 chunk (64 MiB): bounds the transient memory of one product. */
const CHUNK_VALUES = 16 * 2 ** 20;

/** Which parameters may stay external: linear weights and the token embedding (small ones are expanded at load). */
export function canStayExternal(spec: ParamSpec, embeddingName: string): boolean {
  return spec.layout === 'linear' || spec.layout === 'conv1d' || spec.name === embeddingName;
}

/** The [N, K] stored shape an external parameter must have, from its Hugging Face spec. */
export function storedShape(spec: ParamSpec): [number, number] {
  const [a, b] = spec.shape;
  return spec.layout === 'conv1d' ? [b, a] : [a, b];
}

/** The parameter in the model's in-memory layout (linear and conv1d [in, out]; embedding [vocab, d]). */
export function dequantizeParam(q: StoredMatrix, spec: ParamSpec): Float32Array {
  const w = dequantizeRows(q);
  if (spec.layout !== 'linear' && spec.layout !== 'conv1d') return w;
  const out = new Float32Array(w.length);
  for (let r = 0; r < q.rows; r++) for (let c = 0; c < q.cols; c++) out[c * q.rows + r] = w[r * q.cols + c];
  return out;
}

function rowChunks(q: StoredMatrix): [number, number][] {
  const per = Math.max(1, Math.floor(CHUNK_VALUES / q.cols));
  const out: [number, number][] = [];
  for (let r = 0; r < q.rows; r += per) out.push([r, Math.min(q.rows, r + per)]);
  return out;
}

function rowsTensor(q: StoredMatrix, from: number, to: number): Tensor {
  return tf.tensor2d(dequantizeRows(q, from, to), [to - from, q.cols]);
}

/** x [M, K] · W[from:to]ᵀ → [M, to − from]: one plain 2D matMul (wasm's fast path) after a transpose. */
function productNT(x: Tensor, q: StoredMatrix): Tensor {
  const parts = rowChunks(q).map(([from, to]) => tf.tidy(() => {
    const w = rowsTensor(q, from, to);
    // One query row (decoding) is a dot product per output: the transposed flag costs less
    // there than transposing the whole temporary.
    if (x.shape[0] === 1) return tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D, false, true);
    return tf.matMul(x as tf.Tensor2D, tf.transpose(w) as tf.Tensor2D);
  }));
  if (parts.length === 1) return parts[0];
  const y = tf.concat(parts, 1);
  tf.dispose(parts);
  return y;
}

/** dy [M, N] · W → [M, K], summed over row chunks of W. */
function productNN(dy: Tensor, q: StoredMatrix): Tensor {
  const chunks = rowChunks(q);
  if (chunks.length === 1) return tf.tidy(() => tf.matMul(dy as tf.Tensor2D, rowsTensor(q, 0, q.rows) as tf.Tensor2D));
  let acc: Tensor | undefined;
  for (const [from, to] of chunks) {
    const part = tf.tidy(() => tf.matMul(tf.slice(dy, [0, from], [dy.shape[0]!, to - from]) as tf.Tensor2D, rowsTensor(q, from, to) as tf.Tensor2D));
    const next: Tensor = acc ? tf.add(acc, part) : part;
    if (acc) { acc.dispose(); part.dispose(); }
    acc = next;
  }
  return acc!;
}

/** x [..., K] · Wᵀ (+ bias) → [..., N] for a frozen external W; differentiable in x. */
export function externalLinear(x: Tensor, q: StoredMatrix, bias?: Tensor): Tensor {
  const lead = x.shape.slice(0, -1);
  const x2 = x.rank === 2 ? x : x.reshape([-1, q.cols]);
  // The matrix is a plain JS object (not a tensor), so the closure is safe for the backward pass.
  const blas = productsOnBlas() && x.dtype === 'float32';
  const f = customGrad((xi: Tensor) => ({
    value: blas ? externalProduct(xi, q, true) : productNT(xi, q),
    gradFunc: (dy: Tensor) => [blas ? externalProduct(dy, q, false) : productNN(dy, q)],
  }));
  let y = f(x2);
  if (bias) y = tf.add(y, bias);
  return x.rank === 2 ? y : y.reshape([...lead, q.rows]);
}

/** Rows of an external embedding table for flat ids [n] → [n, d] (only those rows are decoded). */
export function externalEmbed(q: StoredMatrix, ids: Tensor): Tensor {
  const idx = ids.dataSync();
  return tf.tensor2d(dequantizeRowList(q, idx), [idx.length, q.cols]);
}
