// The building blocks every architecture uses, written so that on the wasm backend every
// matrix product — forward and backward — is a plain 2D matMul (XNNPACK's fast path):
// tfjs's own matMul gradient uses transpose flags and attention is a batched matMul, both of
// which fall to a naive loop there. Other backends may take the generic path.
import { tf, Tensor, customGrad } from '../tf';
import { productsOnBlas } from '../native';
import { batchedAttention, clearGroupMasks } from './attention-batched';

let fastPath = true;
/** Use explicit transposes, custom gradients and per-head 2D products (wasm); off = tfjs's generic ops. */
export function setFastPath(on: boolean): void {
  fastPath = on;
}

/** Whether attention may read a packed q|k|v in place (attention-packed.ts): the fast path with products on BLAS. */
export function packedAttentionOn(): boolean {
  return fastPath && productsOnBlas();
}

export function isTrainable(t: Tensor): boolean {
  return t instanceof tf.Variable && t.trainable;
}

const matmulBoth = customGrad((a: Tensor, b: Tensor, save: tf.GradSaveFunc) => {
  save([a, b]);
  return {
    value: tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D),
    gradFunc: (dy: Tensor, saved: Tensor[]) => [
      tf.matMul(dy as tf.Tensor2D, tf.transpose(saved[1]) as tf.Tensor2D),
      tf.matMul(tf.transpose(saved[0]) as tf.Tensor2D, dy as tf.Tensor2D),
    ],
  };
});

// On BLAS, transpose flags cost nothing: the backward products take them instead of copies.
const matmulBothFlags = customGrad((a: Tensor, b: Tensor, save: tf.GradSaveFunc) => {
  save([a, b]);
  return {
    value: tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D),
    gradFunc: (dy: Tensor, saved: Tensor[]) => [
      tf.matMul(dy as tf.Tensor2D, saved[1] as tf.Tensor2D, false, true),
      tf.matMul(saved[0] as tf.Tensor2D, dy as tf.Tensor2D, true, false),
    ],
  };
});

/** a [M,K] × b [K,N], both differentiable. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (!fastPath) return tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D);
  return productsOnBlas() ? matmulBothFlags(a, b) : matmulBoth(a, b);
}

const matmulNTBoth = customGrad((a: Tensor, b: Tensor, save: tf.GradSaveFunc) => {
  save([a, b]);
  return {
    value: tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D, false, true),
    gradFunc: (dy: Tensor, saved: Tensor[]) => [
      tf.matMul(dy as tf.Tensor2D, saved[1] as tf.Tensor2D),
      tf.matMul(dy as tf.Tensor2D, saved[0] as tf.Tensor2D, true, false),
    ],
  };
});

/**
 * a [M,K] × wᵀ for w [N,K] (a tied head: the embedding table). On BLAS the transpose is a flag;
 * elsewhere a transposed copy (kept for a frozen w, as XNNPACK caches packed weights per tensor).
 */
export function matmulNT(a: Tensor, w: Tensor): Tensor {
  if (!fastPath) return tf.matMul(a as tf.Tensor2D, w as tf.Tensor2D, false, true);
  if (productsOnBlas()) {
    if (isTrainable(w)) return matmulNTBoth(a, w);
    return customGrad((xi: Tensor) => ({
      value: tf.matMul(xi as tf.Tensor2D, w as tf.Tensor2D, false, true),
      gradFunc: (dy: Tensor) => [tf.matMul(dy as tf.Tensor2D, w as tf.Tensor2D)],
    }))(a);
  }
  return isTrainable(w) ? matmulBoth(a, tf.transpose(w)) : matmulConst(a, transposedOf(w));
}

const transposed = new Map<number, Tensor>();
function transposedOf(w: Tensor): Tensor {
  let t = transposed.get(w.id);
  if (!t || t.isDisposed) {
    t = tf.keep(tf.transpose(w));
    transposed.set(w.id, t);
  }
  return t;
}
/** Free the kept transposes of these weights (call when a model lets go of them). */
export function releaseTransposed(ws: Iterable<Tensor>): void {
  for (const w of ws) {
    transposed.get(w.id)?.dispose();
    transposed.delete(w.id);
  }
}

/** x [M,K] × w [K,N] where w is a constant: the backward pass computes dx only. */
export function matmulConst(x: Tensor, w: Tensor): Tensor {
  if (!fastPath) return tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D);
  if (productsOnBlas()) {
    return customGrad((xi: Tensor) => ({
      value: tf.matMul(xi as tf.Tensor2D, w as tf.Tensor2D),
      gradFunc: (dy: Tensor) => [tf.matMul(dy as tf.Tensor2D, w as tf.Tensor2D, false, true)],
    }))(x);
  }
  // w is a long-lived constant (a frozen weight), so the closure is safe. Its transpose is kept
  // too: a fresh one every backward pass would also miss XNNPACK's packed-weight cache.
  return customGrad((xi: Tensor) => ({
    value: tf.matMul(xi as tf.Tensor2D, w as tf.Tensor2D),
    gradFunc: (dy: Tensor) => [tf.matMul(dy as tf.Tensor2D, transposedOf(w) as tf.Tensor2D)],
  }))(x);
}

/** x [..., in] × w [in, out] (+ bias), flattening leading dims into one 2D product. */
export function linear(x: Tensor, w: Tensor, bias?: Tensor): Tensor {
  const lead = x.shape.slice(0, -1);
  const x2 = x.rank === 2 ? x : x.reshape([-1, x.shape[x.rank - 1]]);
  let y = isTrainable(w) ? matmul(x2, w) : matmulConst(x2, w);
  if (bias) y = fastPath && isTrainable(bias) ? addBias(y, bias) : tf.add(y, bias);
  return x.rank === 2 ? y : y.reshape([...lead, w.shape[1]!]);
}

const onesCache = new Map<number, Tensor>();
/** A kept ones row [1, m] (the left operand of column sums). */
function onesRow(m: number): Tensor {
  let t = onesCache.get(m);
  if (!t || t.isDisposed) {
    t = tf.keep(tf.ones([1, m]));
    if (onesCache.size > 64) clearOnes();
    onesCache.set(m, t);
  }
  return t;
}
function clearOnes(): void {
  for (const t of onesCache.values()) t.dispose();
  onesCache.clear();
}

/**
 * Sum of x [..., n] over every axis but the last → [n], as ones[1, M] × x[M, n]: a plain 2D
 * matMul. wasm's Sum over leading axes transposes its input first (a scalar loop).
 */
export function sumRows(x: Tensor): Tensor {
  const n = x.shape[x.rank - 1]!;
  const x2 = x.reshape([-1, n]);
  return tf.matMul(onesRow(x2.shape[0]!) as tf.Tensor2D, x2 as tf.Tensor2D).reshape([n]);
}

/** y [M, n] + b [n], the bias gradient a column sum (sumRows). */
const addBias = customGrad((y: Tensor, b: Tensor) => ({
  value: tf.add(y, b),
  gradFunc: (dy: Tensor) => [dy, sumRows(dy)],
}));

/**
 * Embedding lookup. tfjs's gather gradient needs UnsortedSegmentSum, which wasm lacks, so
 * the table's gradient is a scatter-add done here.
 */
export function embed(table: Tensor, ids: Tensor): Tensor {
  if (!isTrainable(table)) return tf.gather(table, ids);
  const [vocab, dim] = table.shape;
  // Tensors a gradient needs must go through save(): closures may be disposed by then.
  return customGrad((t: Tensor, i: Tensor, save: tf.GradSaveFunc) => {
    save([i]);
    return {
      value: tf.gather(t, i),
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const g = new Float32Array(vocab * dim);
        const d = dy.dataSync() as Float32Array;
        const idx = saved[0].dataSync();
        for (let n = 0; n < idx.length; n++) {
          const row = idx[n] * dim;
          const src = n * dim;
          for (let j = 0; j < dim; j++) g[row + j] += d[src + j];
        }
        return [tf.tensor2d(g, [vocab, dim]), tf.zerosLike(saved[0])];
      },
    };
  })(table, ids);
}

/** 1/√(mean(x²) + eps) over the last axis, [..., 1]. */
function rmsOf(x: Tensor, eps: number): Tensor {
  return tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps));
}

/**
 * dx of a normalisation n = x̂·w whose x̂ = c·r (c = x or x − mean, r = 1/rms of c), given
 * g = dy·w: r·(g − x̂·mean(g·x̂)), minus mean(g)·r when the mean was subtracted too.
 */
function normInputGrad(g: Tensor, xhat: Tensor, r: Tensor, centred: boolean): Tensor {
  let d = tf.sub(g, tf.mul(xhat, tf.mean(tf.mul(g, xhat), -1, true)));
  if (centred) d = tf.sub(d, tf.mean(g, -1, true));
  return tf.mul(d, r);
}

// Norms with a hand-written backward pass: tfjs's autodiff of the generic ops runs a dozen
// kernels per norm, and its weight gradients sum over the leading axes (a transpose on wasm).
// One op per eps (custom ops take only tensors).
type NormOp = (...inputs: Tensor[]) => Tensor;
const normOps = new Map<string, NormOp>();
function cachedOp(key: string, make: () => NormOp): NormOp {
  let op = normOps.get(key);
  if (!op) normOps.set(key, (op = make()));
  return op;
}

const rmsNormOp = (eps: number) => cachedOp(`rms:${eps}`, () => customGrad((x: Tensor, w: Tensor, save: tf.GradSaveFunc) => {
  const r = rmsOf(x, eps);
  const xhat = tf.mul(x, r);
  save([xhat, r, w]);
  return {
    value: tf.mul(xhat, w),
    gradFunc: (dy: Tensor, [xh, rr, ww]: Tensor[]) => [normInputGrad(tf.mul(dy, ww), xh, rr, false), sumRows(tf.mul(dy, xh))],
  };
}));

const layerNormOp = (eps: number) => cachedOp(`layer:${eps}`, () => customGrad((x: Tensor, w: Tensor, b: Tensor, save: tf.GradSaveFunc) => {
  const c = tf.sub(x, tf.mean(x, -1, true));
  const r = rmsOf(c, eps);
  const xhat = tf.mul(c, r);
  save([xhat, r, w]);
  return {
    value: tf.add(tf.mul(xhat, w), b),
    gradFunc: (dy: Tensor, [xh, rr, ww]: Tensor[]) => [normInputGrad(tf.mul(dy, ww), xh, rr, true), sumRows(tf.mul(dy, xh)), sumRows(dy)],
  };
}));

export function rmsNorm(x: Tensor, weight: Tensor, eps: number): Tensor {
  if (fastPath) return rmsNormOp(eps)(x, weight);
  return tf.tidy(() => tf.mul(tf.mul(x, rmsOf(x, eps)), weight));
}

export function layerNorm(x: Tensor, weight: Tensor, bias: Tensor, eps: number): Tensor {
  if (fastPath) return layerNormOp(eps)(x, weight, bias);
  return tf.tidy(() => {
    const c = tf.sub(x, tf.mean(x, -1, true));
    return tf.add(tf.mul(tf.mul(c, rmsOf(c, eps)), weight), bias);
  });
}

const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;
/**
 * GELU, tanh approximation (GPT-2's "gelu_new"): 0.5·x·(1 + tanh(u)) = x·σ(2u) with
 * u = c·(x + a·x³). wasm's Tanh is a scalar loop ~15× slower than its vectorised Sigmoid.
 */
const geluFast = customGrad((x: Tensor, save: tf.GradSaveFunc) => {
  const s = tf.sigmoid(tf.mul(x, tf.add(tf.mul(tf.square(x), 2 * GELU_C * GELU_A), 2 * GELU_C)));
  save([x, s]);
  return {
    value: tf.mul(x, s),
    // d/dx x·σ(2u) = σ + x·σ·(1 − σ)·2u',  2u' = 2c + 6ca·x²
    gradFunc: (dy: Tensor, [xs, ss]: Tensor[]) => {
      const du = tf.add(tf.mul(tf.square(xs), 6 * GELU_C * GELU_A), 2 * GELU_C);
      return [tf.mul(dy, tf.add(ss, tf.mul(tf.mul(xs, tf.sub(ss, tf.square(ss))), du)))];
    },
  };
});

export function geluTanh(x: Tensor): Tensor {
  if (fastPath) return geluFast(x);
  return tf.tidy(() => {
    const inner = tf.mul(tf.add(x, tf.mul(tf.mul(tf.mul(x, x), x), GELU_A)), GELU_C); // pow is slow on wasm
    return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
  });
}

/** SiLU x·σ(x), its gradient σ·(1 + x·(1 − σ)) written out. */
const siluFast = customGrad((x: Tensor, save: tf.GradSaveFunc) => {
  const s = tf.sigmoid(x);
  save([x, s]);
  return {
    value: tf.mul(x, s),
    gradFunc: (dy: Tensor, [xs, ss]: Tensor[]) => [tf.mul(dy, tf.mul(ss, tf.add(tf.mul(xs, tf.sub(1, ss)), 1)))],
  };
});

export function silu(x: Tensor): Tensor {
  if (fastPath) return siluFast(x);
  return tf.mul(x, tf.sigmoid(x));
}

const maskCache = new Map<string, Tensor>();
/** Drop cached constants (causal masks); they are rebuilt on demand. */
export function clearOpCaches(): void {
  for (const t of maskCache.values()) t.dispose();
  maskCache.clear();
  clearOnes();
  clearGroupMasks();
}
/**
 * Additive causal mask [Tq, Tk] for queries at absolute positions past..past+Tq-1; with a
 * sliding `window`, keys `window` or more positions behind the query are masked too.
 */
function causalMask(tq: number, tk: number, past: number, window = 0): Tensor {
  const key = `${tq}x${tk}@${past}w${window}`;
  const hit = maskCache.get(key);
  if (hit && !hit.isDisposed) return hit;
  const m = new Float32Array(tq * tk);
  for (let i = 0; i < tq; i++) {
    for (let j = past + i + 1; j < tk; j++) m[i * tk + j] = -1e9;
    if (window) for (let j = 0; j <= past + i - window && j < tk; j++) m[i * tk + j] = -1e9;
  }
  const t = tf.keep(tf.tensor2d(m, [tq, tk]));
  if (past === 0 && maskCache.size < 64) maskCache.set(key, t);
  return t;
}

export interface AttentionOptions {
  /** Score scale (default head_dim^-1/2; Gemma: query_pre_attn_scalar^-1/2). */
  scale?: number;
  /** Sliding window: each query sees its latest `window` positions, itself included. */
  window?: number;
  /** Gemma 2: scores become cap·tanh(scores/cap) before the mask and softmax. */
  softcap?: number;
}

/**
 * Causal multi-head attention with grouped kv heads.
 * q [B,Tq,H,hd]; k, v [B,Tk,KVH,hd]; the queries sit at positions past..past+Tq-1.
 * Returns [B,Tq,H*hd].
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, past: number, opts: AttentionOptions = {}): Tensor {
  const [B, Tq, H, hd] = q.shape;
  const [, Tk, KVH] = k.shape as number[];
  const group = H / KVH;
  const scale = opts.scale ?? 1 / Math.sqrt(hd);
  const window = opts.window ?? 0;
  // Keys past the queries (a fixed-capacity cache's unfilled rows) are masked too, and with a
  // window the keys that fell out of it.
  const needMask = Tq > 1 || Tk > past + Tq || (window > 0 && past + Tq > window);
  const mask = needMask ? causalMask(Tq, Tk, past, window) : undefined;
  const out = tf.tidy(() => {
    // One query (decoding with a cache) does few FLOPs: the batched product is cheapest then,
    // and it reads nothing back from the wasm heap. Soft-capped scores take this generic path
    // too (autodiff through tanh; the headwise op's backward pass does not model the cap).
    if (!fastPath || Tq === 1 || opts.softcap) {
      let kk = k, vv = v;
      if (group > 1) {
        kk = tf.stack(new Array(group).fill(k), 3).reshape([B, Tk, H, hd]);
        vv = tf.stack(new Array(group).fill(v), 3).reshape([B, Tk, H, hd]);
      }
      const qh = tf.transpose(q, [0, 2, 1, 3]);
      const kh = tf.transpose(kk, [0, 2, 1, 3]);
      const vh = tf.transpose(vv, [0, 2, 1, 3]);
      let s = tf.mul(tf.matMul(qh, kh, false, true), scale);
      if (opts.softcap) s = tf.mul(tf.tanh(tf.div(s, opts.softcap)), opts.softcap);
      if (mask) s = tf.add(s, mask);
      const o = tf.matMul(tf.softmax(s), vh);
      return tf.transpose(o, [0, 2, 1, 3]).reshape([B, Tq, H * hd]);
    }
    return productsOnBlas() ? batchedAttention(q, k, v, mask, scale) : headwiseAttention(q, k, v, mask, scale);
  });
  if (mask && past !== 0) mask.dispose();
  return out;
}

/**
 * Splits [N, r, c] into N tensors [r, c] with ONE read of the input. tf.unstack / tf.split run
 * the wasm Slice kernel once per piece, and each call copies the whole input out of the wasm
 * heap: N pieces cost N full copies.
 */
function pieces(x: Tensor): Tensor[] {
  const [n, r, c] = x.shape as number[];
  const data = x.dataSync() as Float32Array;
  const size = r * c;
  return Array.from({ length: n }, (_, i) => tf.tensor2d(data.subarray(i * size, (i + 1) * size), [r, c]));
}

/**
 * Attention as one differentiable op with a hand-written backward pass, every product a plain
 * 2D matMul (XNNPACK's fast path on wasm). q [B,Tq,H,hd]; k, v [B,Tk,KVH,hd] → [B,Tq,H*hd].
 * Each operand is split into heads once, in whichever orientation its products need ([T,hd]
 * or [hd,T], one whole-tensor transpose each), so no head is transposed on its own; the scale
 * is folded into q; the softmax outputs are kept per head for the backward pass.
 */
function headwiseAttention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | undefined, scale: number): Tensor {
  const [B, Tq, H, hd] = q.shape as number[];
  const [, Tk, KVH] = k.shape as number[];
  const group = H / KVH;
  const nQ = B * H;
  const kvIndex = (i: number) => Math.floor(i / H) * KVH + Math.floor((i % H) / group);
  // [B,T,n,hd] → heads [T,hd] or transposed heads [hd,T], and back.
  const heads = (t: Tensor, n: number, T: number) => pieces(tf.transpose(t, [0, 2, 1, 3]).reshape([B * n, T, hd]));
  const headsT = (t: Tensor, n: number, T: number) => pieces(tf.transpose(t, [0, 2, 3, 1]).reshape([B * n, hd, T]));
  const fromHeads = (ts: Tensor[], n: number, T: number) => tf.transpose(tf.stack(ts).reshape([B, n, T, hd]), [0, 2, 1, 3]);
  const fromHeadsT = (ts: Tensor[], n: number, T: number) => tf.transpose(tf.stack(ts).reshape([B, n, hd, T]), [0, 3, 1, 2]);
  const f = customGrad((qi: Tensor, ki: Tensor, vi: Tensor, save: tf.GradSaveFunc) => {
    const qs = heads(tf.mul(qi, scale), H, Tq);
    const kts = headsT(ki, KVH, Tk);
    const vs = heads(vi, KVH, Tk);
    const probs = qs.map((qh, i) => {
      const s = tf.matMul(qh as tf.Tensor2D, kts[kvIndex(i)] as tf.Tensor2D);
      return tf.softmax(mask ? tf.add(s, mask) : s);
    });
    const outs = probs.map((p, i) => tf.matMul(p as tf.Tensor2D, vs[kvIndex(i)] as tf.Tensor2D));
    save([qi, ki, vi, ...probs]);
    return {
      value: fromHeads(outs, H, Tq).reshape([B, Tq, H * hd]),
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [q0, k0, v0] = saved;
        const P = saved.slice(3);
        const d4 = dy.reshape([B, Tq, H, hd]);
        const dO = heads(d4, H, Tq);
        const dOT = headsT(d4, H, Tq);
        const qsT = headsT(tf.mul(q0, scale), H, Tq);
        const kh = heads(k0, KVH, Tk);
        const vT = headsT(v0, KVH, Tk);
        const dq: Tensor[] = [];
        const dkT: (Tensor | undefined)[] = new Array(B * KVH);
        const dvT: (Tensor | undefined)[] = new Array(B * KVH);
        const acc = (arr: (Tensor | undefined)[], j: number, t: Tensor) => (arr[j] = arr[j] ? tf.add(arr[j]!, t) : t);
        for (let i = 0; i < nQ; i++) {
          const g = kvIndex(i);
          acc(dvT, g, tf.matMul(dOT[i] as tf.Tensor2D, P[i] as tf.Tensor2D));
          const dP = tf.matMul(dO[i] as tf.Tensor2D, vT[g] as tf.Tensor2D);
          const dS = tf.mul(P[i], tf.sub(dP, tf.sum(tf.mul(dP, P[i]), -1, true)));
          dq.push(tf.matMul(dS as tf.Tensor2D, kh[g] as tf.Tensor2D));
          acc(dkT, g, tf.matMul(qsT[i] as tf.Tensor2D, dS as tf.Tensor2D));
        }
        return [tf.mul(fromHeads(dq, H, Tq), scale), fromHeadsT(dkT as Tensor[], KVH, Tk), fromHeadsT(dvT as Tensor[], KVH, Tk)];
      },
    };
  });
  return f(q, k, v);
}

/**
 * Mean cross-entropy of logits [N,V] against labels [N] (int32), each row weighted by
 * weights [N] (0 masks a row). The gradient is written directly: softmax − one-hot.
 */
export function crossEntropy(logits: Tensor, labels: Tensor, weights: Tensor): Tensor {
  const V = logits.shape[1]!;
  const onehot = tf.cast(tf.oneHot(labels as tf.Tensor1D, V), 'float32'); // float oneHot is wrong on wasm
  const w = weights.reshape([-1, 1]);
  if (!fastPath) return tf.neg(tf.sum(tf.mul(tf.mul(tf.logSoftmax(logits), onehot), w)));
  const total = customGrad((x: Tensor, oh: Tensor, wt: Tensor, save: tf.GradSaveFunc) => {
    const lse = tf.logSumExp(x, 1, true);
    const picked = tf.sum(tf.mul(x, oh), 1, true);
    save([x, lse, oh, wt]);
    return {
      value: tf.sum(tf.mul(tf.sub(lse, picked), wt)),
      gradFunc: (dy: Tensor, [xs, l, o, ws]: Tensor[]) => [tf.mul(tf.mul(tf.sub(tf.exp(tf.sub(xs, l)), o), ws), dy), tf.zerosLike(o), tf.zerosLike(ws)],
    };
  })(logits, onehot, w);
  return total;
}
