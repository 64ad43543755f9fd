// The Llama family (Llama 2/3, TinyLlama, SmolLM, Mistral, Qwen2): RMSNorm, rotary
// positions (Hugging Face's rotate-half layout; GGUF's interleaved q/k rows are permuted on
// load), SwiGLU MLP, grouped-query attention, optional q/k/v biases, tied or separate head.
import { tf, Tensor } from '../tf';
import { LlamaConfig, ModelConfig } from '../core/model-config';
import { attention, matmulConst, releaseTransposed, rmsNorm, silu } from './ops';
import { appendCache, CausalLM, Family, ForwardContext } from './model';
import { ParamSpec } from '../core/params';

export function paramSpecs(config: ModelConfig): ParamSpec[] {
  const c = config as LlamaConfig;
  const d = c.hidden;
  const qOut = c.heads * c.headDim;
  const kvOut = c.kvHeads * c.headDim;
  const specs: ParamSpec[] = [{ name: 'model.embed_tokens.weight', shape: [c.vocabSize, d], layout: 'embedding' }];
  for (let i = 0; i < c.layers; i++) {
    const p = `model.layers.${i}`;
    const lin = (name: string, out: number, inp: number, bias = false) => {
      specs.push({ name: `${p}.${name}.weight`, shape: [out, inp], layout: 'linear' });
      if (bias) specs.push({ name: `${p}.${name}.bias`, shape: [out], layout: 'vector' });
    };
    specs.push({ name: `${p}.input_layernorm.weight`, shape: [d], layout: 'vector' });
    lin('self_attn.q_proj', qOut, d, c.attentionBias);
    lin('self_attn.k_proj', kvOut, d, c.attentionBias);
    lin('self_attn.v_proj', kvOut, d, c.attentionBias);
    lin('self_attn.o_proj', d, qOut);
    specs.push({ name: `${p}.post_attention_layernorm.weight`, shape: [d], layout: 'vector' });
    lin('mlp.gate_proj', c.intermediate, d);
    lin('mlp.up_proj', c.intermediate, d);
    lin('mlp.down_proj', d, c.intermediate);
  }
  specs.push({ name: 'model.norm.weight', shape: [d], layout: 'vector' });
  if (!c.tiedHead) specs.push({ name: 'lm_head.weight', shape: [c.vocabSize, d], layout: 'linear' });
  return specs;
}

/** Rotary tables per model: cos/sin [positions, hd] and the rotate-half matrix R (x·R = rotate_half(x)). */
interface Rope {
  cos: Tensor;
  sin: Tensor;
  rot: Tensor;
  positions: number;
}
const ropes = new WeakMap<CausalLM, Rope>();

export function disposeRope(model: CausalLM): void {
  const r = ropes.get(model);
  if (r) releaseTransposed([r.rot]);
  if (r) [r.cos, r.sin, r.rot].forEach((t) => t.dispose());
  ropes.delete(model);
}

function ropeFor(model: CausalLM, needed: number): Rope {
  const c = model.config as LlamaConfig;
  const have = ropes.get(model);
  if (have && have.positions >= needed) return have;
  if (have) releaseTransposed([have.rot]);
  if (have) [have.cos, have.sin, have.rot].forEach((t) => t.dispose());
  const hd = c.headDim;
  const half = hd / 2;
  const positions = Math.min(c.maxPositions, Math.max(needed, 256) * 2);
  const cos = new Float32Array(positions * hd);
  const sin = new Float32Array(positions * hd);
  for (let p = 0; p < positions; p++) {
    for (let i = 0; i < half; i++) {
      const f = p / Math.pow(c.ropeTheta, (2 * i) / hd);
      cos[p * hd + i] = cos[p * hd + i + half] = Math.cos(f);
      sin[p * hd + i] = sin[p * hd + i + half] = Math.sin(f);
    }
  }
  const rot = new Float32Array(hd * hd);
  for (let j = 0; j < half; j++) {
    rot[(j + half) * hd + j] = -1;
    rot[j * hd + j + half] = 1;
  }
  const rope: Rope = {
    cos: tf.keep(tf.tensor2d(cos, [positions, hd])),
    sin: tf.keep(tf.tensor2d(sin, [positions, hd])),
    rot: tf.keep(tf.tensor2d(rot, [hd, hd])),
    positions,
  };
  ropes.set(model, rope);
  return rope;
}

/** x [B,T,H,hd] at positions past..past+T-1. */
function applyRope(x: Tensor, rope: Rope, past: number): Tensor {
  const [B, T, H, hd] = x.shape;
  const cos = tf.slice(rope.cos, [past, 0], [T, hd]).reshape([1, T, 1, hd]);
  const sin = tf.slice(rope.sin, [past, 0], [T, hd]).reshape([1, T, 1, hd]);
  const rotated = matmulConst(x.reshape([B * T * H, hd]), rope.rot).reshape([B, T, H, hd]);
  return tf.add(tf.mul(x, cos), tf.mul(rotated, sin));
}

function block(model: CausalLM, i: number, h: Tensor, ctx: ForwardContext): Tensor {
  const c = model.config as LlamaConfig;
  const p = `model.layers.${i}`;
  return tf.tidy(() => {
    const [B, T] = h.shape;
    const rope = ropeFor(model, ctx.past + T);
    const x = rmsNorm(h, model.param(`${p}.input_layernorm.weight`), c.normEps);
    const q = applyRope(model.linear(`${p}.self_attn.q_proj`, x, ctx).reshape([B, T, c.heads, c.headDim]), rope, ctx.past);
    const k0 = applyRope(model.linear(`${p}.self_attn.k_proj`, x, ctx).reshape([B, T, c.kvHeads, c.headDim]), rope, ctx.past);
    const v0 = model.linear(`${p}.self_attn.v_proj`, x, ctx).reshape([B, T, c.kvHeads, c.headDim]);
    const { k, v } = appendCache(ctx, i, k0, v0);
    const a = attention(q, k, v, ctx.past);
    const h1 = tf.add(h, model.dropout(model.linear(`${p}.self_attn.o_proj`, a, ctx), ctx));
    const y = rmsNorm(h1, model.param(`${p}.post_attention_layernorm.weight`), c.normEps);
    const gate = silu(model.linear(`${p}.mlp.gate_proj`, y, ctx));
    const up = model.linear(`${p}.mlp.up_proj`, y, ctx);
    const m = model.linear(`${p}.mlp.down_proj`, tf.mul(gate, up), ctx);
    return tf.add(h1, model.dropout(m, ctx));
  });
}

export const family: Family = {
  paramSpecs,
  dispose: disposeRope,
  embed: (model, ids, ctx) => {
    const [B, T] = ids.shape;
    const e = model.embedLookup(ids.reshape([-1]));
    void ctx;
    return e.reshape([B, T, model.config.hidden]);
  },
  block,
  finalNorm: (model, h) => rmsNorm(h, model.param('model.norm.weight'), model.config.normEps),
  embeddingName: 'model.embed_tokens.weight',
  headName: 'lm_head',
  blockPrefix: (i) => `model.layers.${i}`,
};
