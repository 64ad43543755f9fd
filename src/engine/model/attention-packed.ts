// Causal self-attention on a packed q|k|v tensor (GPT-2's c_attn output), for backends whose
// products run on BLAS: the heads are read in place (native/attention.ts), so the split of q, k
// and v, the head transposes and, in the backward pass, their concatenation and transposes back
// are gone. Only for a whole sequence from position 0 (training, a prompt's first pass): with a
// cache the general attention (ops.ts) runs.
import { tf, Tensor, customGrad } from '../tf';
import { packedAttentionGrad, packedContext, packedScores } from '../native/attention';

/** qkv [B, T, 3·H·hd] (q, then k, then v; head h at columns h·hd..) → [B, T, H·hd]. */
export function packedCausalAttention(qkv: Tensor, heads: number): Tensor {
  const hd = qkv.shape[2]! / (3 * heads);
  const scale = 1 / Math.sqrt(hd);
  const f = customGrad((x: Tensor, save: tf.GradSaveFunc) => {
    const p = tf.tidy(() => tf.softmax(packedScores(x, heads, scale)));
    save([x, p]);
    return {
      value: packedContext(p, x, heads),
      gradFunc: (dy: Tensor, [xs, ps]: Tensor[]) => [packedAttentionGrad(dy, ps, xs, heads, scale)],
    };
  });
  return f(qkv);
}
