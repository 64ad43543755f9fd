// The building blocks every architecture uses, written so that on the wasm backend every
// matrix product — forward and backward — is a plain 2D matMul (XNNPACK's fast path):
// tfjs's own matMul gradient uses transpose flags and attention is a batched matMul, both of
// which fall to a naive loop there. Other backends may take the generic path.
import { tf, Tensor, customGrad } from '../tf';

let fastPath = true;
/** Use explicit transposes, custom gradients and per-head 2D products (wasm); off = tfjs's generic ops. */
export function setFastPath(on: boolean): void {
  fastPath = on;
}
export function isFastPath(): boolean {
  return fastPath;
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

/** a [M,K] × b [K,N], both differentiable. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (!fastPath) return tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D);
  return matmulBoth(a, b);
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
  if (bias) y = tf.add(y, bias);
  return x.rank === 2 ? y : y.reshape([...lead, w.shape[1]!]);
}

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

export function rmsNorm(x: Tensor, weight: Tensor, eps: number): Tensor {
  return tf.tidy(() => {
    const ms = tf.mean(tf.square(x), -1, true);
    return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), weight);
  });
}

export function layerNorm(x: Tensor, weight: Tensor, bias: Tensor, eps: number): Tensor {
  return tf.tidy(() => {
    const mean = tf.mean(x, -1, true);
    const c = tf.sub(x, mean);
    const variance = tf.mean(tf.square(c), -1, true);
    return tf.add(tf.mul(tf.mul(c, tf.rsqrt(tf.add(variance, eps))), weight), bias);
  });
}

const GELU_C = Math.sqrt(2 / Math.PI);
/** GELU, tanh approximation (GPT-2's "gelu_new"). */
export function geluTanh(x: Tensor): Tensor {
  return tf.tidy(() => {
    const inner = tf.mul(tf.add(x, tf.mul(tf.mul(tf.mul(x, x), x), 0.044715)), GELU_C); // pow is slow on wasm
    return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
  });
}

export function silu(x: Tensor): Tensor {
  return tf.mul(x, tf.sigmoid(x));
}

const maskCache = new Map<string, Tensor>();
/** Drop cached constants (causal masks); they are rebuilt on demand. */
export function clearOpCaches(): void {
  for (const t of maskCache.values()) t.dispose();
  maskCache.clear();
}
/** Additive causal mask [Tq, Tk] for queries at absolute positions past..past+Tq-1. */
function causalMask(tq: number, tk: number, past: number): Tensor {
  const key = `${tq}x${tk}@${past}`;
  const hit = maskCache.get(key);
  if (hit && !hit.isDisposed) return hit;
  const m = new Float32Array(tq * tk);
  for (let i = 0; i < tq; i++) for (let j = past + i + 1; j < tk; j++) m[i * tk + j] = -1e9;
  const t = tf.keep(tf.tensor2d(m, [tq, tk]));
  if (past === 0 && maskCache.size < 64) maskCache.set(key, t);
  return t;
}

/**
 * Causal multi-head attention with grouped kv heads.
 * q [B,Tq,H,hd]; k, v [B,Tk,KVH,hd]; the queries sit at positions past..past+Tq-1.
 * Returns [B,Tq,H*hd].
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, past: number): Tensor {
  const [B, Tq, H, hd] = q.shape;
  const [, Tk, KVH] = k.shape as number[];
  const group = H / KVH;
  const scale = 1 / Math.sqrt(hd);
  const needMask = Tq > 1;
  const mask = needMask ? causalMask(Tq, Tk, past) : undefined;
  const out = tf.tidy(() => {
    // One query (decoding with a cache) does few FLOPs: the batched product is cheapest then,
    // and it reads nothing back from the wasm heap.
    if (!fastPath || Tq === 1) {
      let kk = k, vv = v;
      if (group > 1) {
        kk = tf.stack(new Array(group).fill(k), 3).reshape([B, Tk, H, hd]);
        vv = tf.stack(new Array(group).fill(v), 3).reshape([B, Tk, H, hd]);
      }
      const qh = tf.transpose(q, [0, 2, 1, 3]);
      const kh = tf.transpose(kk, [0, 2, 1, 3]);
      const vh = tf.transpose(vv, [0, 2, 1, 3]);
      let s = tf.mul(tf.matMul(qh, kh, false, true), scale);
      if (mask) s = tf.add(s, mask);
      const o = tf.matMul(tf.softmax(s), vh);
      return tf.transpose(o, [0, 2, 1, 3]).reshape([B, Tq, H * hd]);
    }
    return headwiseAttention(q, k, v, mask, scale);
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
 */
function headwiseAttention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | undefined, scale: number): Tensor {
  const [B, Tq, H, hd] = q.shape as number[];
  const [, Tk, KVH] = k.shape as number[];
  const group = H / KVH;
  const kvIndex = (i: number) => Math.floor(i / H) * KVH + Math.floor((i % H) / group);
  const toHeads = (t: Tensor, n: number, T: number) => tf.transpose(t, [0, 2, 1, 3]).reshape([B * n, T, hd]);
  const fromHeads = (t: Tensor, n: number, T: number) => tf.transpose(t.reshape([B, n, T, hd]), [0, 2, 1, 3]);
  const f = customGrad((qi: Tensor, ki: Tensor, vi: Tensor, save: tf.GradSaveFunc) => {
    const qs = pieces(toHeads(qi, H, Tq));
    const ks = pieces(toHeads(ki, KVH, Tk));
    const vs = pieces(toHeads(vi, KVH, Tk));
    const kts = ks.map((t) => tf.transpose(t));
    const probs = qs.map((qh, i) => {
      let s = tf.mul(tf.matMul(qh as tf.Tensor2D, kts[kvIndex(i)] as tf.Tensor2D), scale);
      if (mask) s = tf.add(s, mask);
      return tf.softmax(s);
    });
    const outs = probs.map((p, i) => tf.matMul(p as tf.Tensor2D, vs[kvIndex(i)] as tf.Tensor2D));
    const P = tf.stack(probs);
    save([qi, ki, vi, P]);
    return {
      value: fromHeads(tf.stack(outs), H, Tq).reshape([B, Tq, H * hd]),
      gradFunc: (dy: Tensor, [qs0, ks0, vs0, P0]: Tensor[]) => {
        const dO = pieces(toHeads(dy.reshape([B, Tq, H, hd]), H, Tq));
        const Ps = pieces(P0);
        const qh = pieces(toHeads(qs0, H, Tq));
        const kh = pieces(toHeads(ks0, KVH, Tk));
        const vh = pieces(toHeads(vs0, KVH, Tk));
        const dq: Tensor[] = [];
        const dk: (Tensor | undefined)[] = new Array(B * KVH);
        const dv: (Tensor | undefined)[] = new Array(B * KVH);
        const acc = (arr: (Tensor | undefined)[], j: number, t: Tensor) => (arr[j] = arr[j] ? tf.add(arr[j]!, t) : t);
        for (let i = 0; i < B * H; i++) {
          const g = kvIndex(i);
          const Pt = tf.transpose(Ps[i]) as tf.Tensor2D;
          acc(dv, g, tf.matMul(Pt, dO[i] as tf.Tensor2D));
          const dP = tf.matMul(dO[i] as tf.Tensor2D, tf.transpose(vh[g]) as tf.Tensor2D);
          const dS = tf.mul(tf.mul(Ps[i], tf.sub(dP, tf.sum(tf.mul(dP, Ps[i]), -1, true))), scale);
          dq.push(tf.matMul(dS as tf.Tensor2D, kh[g] as tf.Tensor2D));
          acc(dk, g, tf.matMul(tf.transpose(dS) as tf.Tensor2D, qh[i] as tf.Tensor2D));
        }
        return [fromHeads(tf.stack(dq), H, Tq), fromHeads(tf.stack(dk as Tensor[]), KVH, Tk), fromHeads(tf.stack(dv as Tensor[]), KVH, Tk)];
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
