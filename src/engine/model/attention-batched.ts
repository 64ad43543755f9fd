// Causal attention as batched products, for backends whose matMul takes transpose flags and
// batches at full speed (matrix products on BLAS): no per-head pieces, no explicit transposes
// of the products' operands. Grouped kv heads need no copies either: the query heads that
// share a kv head are stacked along the rows, so each kv head is one product's operand.
import { tf, Tensor, customGrad } from '../tf';

const tiled = new Map<string, Tensor>();
/** The causal mask repeated for `group` stacked query heads: [group·Tq, Tk]. */
function groupMask(mask: Tensor, group: number): Tensor {
  if (group === 1) return mask;
  const key = `${mask.id}x${group}`;
  let t = tiled.get(key);
  if (!t || t.isDisposed) {
    if (tiled.size > 32) clearGroupMasks();
    t = tf.keep(tf.tile(mask, [group, 1]));
    tiled.set(key, t);
  }
  return t;
}

export function clearGroupMasks(): void {
  for (const t of tiled.values()) t.dispose();
  tiled.clear();
}

/**
 * q [B,Tq,H,hd]; k, v [B,Tk,KVH,hd]; mask [Tq,Tk] (added) or none → [B,Tq,H·hd], with a
 * hand-written backward pass (softmax's Jacobian applied directly).
 */
export function batchedAttention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | undefined, scale: number): Tensor {
  const [B, Tq, H, hd] = q.shape as number[];
  const [, Tk, KVH] = k.shape as number[];
  const G = H / KVH;
  const m = mask && groupMask(mask, G);
  // [B,Tq,H,hd] → [B,KVH,G·Tq,hd]: head h = kv·G + g, so the heads of one kv group are adjacent.
  const toGroups = (t: Tensor) => tf.transpose(t.reshape([B, Tq, H, hd]), [0, 2, 1, 3]).reshape([B, KVH, G * Tq, hd]);
  const fromGroups = (t: Tensor) => tf.transpose(t.reshape([B, H, Tq, hd]), [0, 2, 1, 3]).reshape([B, Tq, H * hd]);
  const swap12 = (t: Tensor) => tf.transpose(t, [0, 2, 1, 3]);
  const f = customGrad((qi: Tensor, ki: Tensor, vi: Tensor, save: tf.GradSaveFunc) => {
    const qg = toGroups(tf.mul(qi, scale));
    const kh = swap12(ki); // [B,KVH,Tk,hd]
    const vh = swap12(vi);
    const s = tf.matMul(qg, kh, false, true); // [B,KVH,G·Tq,Tk]
    const p = tf.softmax(m ? tf.add(s, m) : s);
    save([qg, kh, vh, p]);
    return {
      value: fromGroups(tf.matMul(p, vh)),
      gradFunc: (dy: Tensor, [qs, ks, vs, ps]: Tensor[]) => {
        const dO = toGroups(dy);
        const dV = tf.matMul(ps, dO, true, false); // sums over the group's query heads
        const dP = tf.matMul(dO, vs, false, true);
        const dS = tf.mul(ps, tf.sub(dP, tf.sum(tf.mul(dP, ps), -1, true)));
        const dQ = tf.mul(fromGroups(tf.matMul(dS, ks)), scale).reshape([B, Tq, H, hd]);
        const dK = tf.matMul(dS, qs, true, false);
        return [dQ, swap12(dK), swap12(dV)];
      },
    };
  });
  return f(q, k, v);
}
