// Gemma 2 and Gemma 3: a Llama-style decoder with RMSNorm as x̂·(1 + w) (the weights are
// offsets from 1), the embedding scaled by √hidden, GeGLU (tanh-approximated GELU) MLP, norms
// after attention and after the MLP as well as before, queries scaled by
// query_pre_attn_scalar^-1/2, and sliding-window layers alternating with global ones.
// Gemma 2 soft-caps attention scores and final logits with tanh; Gemma 3 instead normalises each
// head of q and k, and rotates its sliding layers with their own base (rope_local_base_freq)
// while rope scaling applies to the global layers only.
import { tf, Tensor } from '../tf';
import { LlamaConfig, ModelConfig, windowOf } from '../core/model-config';
import { attention, geluTanh, rmsNorm } from './ops';
import { applyRope, disposeRopes, RopeSpec } from './rope';
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
    const lin = (name: string, out: number, inp: number) => specs.push({ name: `${p}.${name}.weight`, shape: [out, inp], layout: 'linear' });
    const norm = (name: string, n = d) => specs.push({ name: `${p}.${name}.weight`, shape: [n], layout: 'vector' });
    norm('input_layernorm');
    lin('self_attn.q_proj', qOut, d);
    lin('self_attn.k_proj', kvOut, d);
    lin('self_attn.v_proj', kvOut, d);
    lin('self_attn.o_proj', d, qOut);
    if (c.qkNorm) {
      norm('self_attn.q_norm', c.headDim);
      norm('self_attn.k_norm', c.headDim);
    }
    norm('post_attention_layernorm');
    norm('pre_feedforward_layernorm');
    lin('mlp.gate_proj', c.intermediate, d);
    lin('mlp.up_proj', c.intermediate, d);
    lin('mlp.down_proj', d, c.intermediate);
    norm('post_feedforward_layernorm');
  }
  specs.push({ name: 'model.norm.weight', shape: [d], layout: 'vector' });
  if (!c.tiedHead) specs.push({ name: 'lm_head.weight', shape: [c.vocabSize, d], layout: 'linear' });
  return specs;
}

/** Gemma's RMSNorm: x̂·(1 + w). */
function norm(model: CausalLM, name: string, x: Tensor): Tensor {
  return rmsNorm(x, tf.add(model.param(`${name}.weight`), 1), model.config.normEps);
}

/** Layer i's rotation: Gemma 3's sliding layers use the local base and no scaling. */
function ropeOf(c: LlamaConfig, layer: number): RopeSpec {
  const local = c.gemma?.ropeLocalTheta !== undefined && windowOf(c, layer) !== undefined;
  return local
    ? { theta: c.gemma!.ropeLocalTheta!, dim: c.headDim, maxPositions: c.maxPositions }
    : { theta: c.ropeTheta, dim: c.headDim, scaling: c.ropeScaling, maxPositions: c.maxPositions };
}

function block(model: CausalLM, i: number, h: Tensor, ctx: ForwardContext): Tensor {
  const c = model.config as LlamaConfig;
  const g = c.gemma!;
  const p = `model.layers.${i}`;
  return tf.tidy(() => {
    const [B, T] = h.shape;
    const x = norm(model, `${p}.input_layernorm`, h);
    let q = model.linear(`${p}.self_attn.q_proj`, x, ctx).reshape([B, T, c.heads, c.headDim]);
    let k0 = model.linear(`${p}.self_attn.k_proj`, x, ctx).reshape([B, T, c.kvHeads, c.headDim]);
    if (c.qkNorm) {
      q = norm(model, `${p}.self_attn.q_norm`, q);
      k0 = norm(model, `${p}.self_attn.k_norm`, k0);
    }
    const rope = ropeOf(c, i);
    q = applyRope(model, rope, q, ctx.past);
    k0 = applyRope(model, rope, k0, ctx.past);
    const v0 = model.linear(`${p}.self_attn.v_proj`, x, ctx).reshape([B, T, c.kvHeads, c.headDim]);
    const { k, v } = appendCache(ctx, i, k0, v0);
    const a = attention(q, k, v, ctx.past, { scale: 1 / Math.sqrt(g.queryPreAttnScalar), window: windowOf(c, i), softcap: g.attnSoftcap });
    const o = norm(model, `${p}.post_attention_layernorm`, model.linear(`${p}.self_attn.o_proj`, a, ctx));
    const h1 = tf.add(h, model.dropout(o, ctx));
    const y = norm(model, `${p}.pre_feedforward_layernorm`, h1);
    const gate = geluTanh(model.linear(`${p}.mlp.gate_proj`, y, ctx));
    const up = model.linear(`${p}.mlp.up_proj`, y, ctx);
    const m = norm(model, `${p}.post_feedforward_layernorm`, model.linear(`${p}.mlp.down_proj`, tf.mul(gate, up), ctx));
    return tf.add(h1, model.dropout(m, ctx));
  });
}

/**
 * GGUF names (llama.cpp's gemma2 and gemma3) → Hugging Face names. llama.cpp's ffn_norm is
 * Gemma's pre-feedforward norm; its norm weights are stored as 1 + w (see NORM_SHIFT).
 */
export const GGUF_NAMES: [RegExp, string][] = [
  [/^token_embd\.weight$/, 'model.embed_tokens.weight'],
  [/^output_norm\.weight$/, 'model.norm.weight'],
  [/^output\.weight$/, 'lm_head.weight'],
  [/^blk\.(\d+)\.attn_norm\.weight$/, 'model.layers.$1.input_layernorm.weight'],
  [/^blk\.(\d+)\.attn_q\.weight$/, 'model.layers.$1.self_attn.q_proj.weight'],
  [/^blk\.(\d+)\.attn_k\.weight$/, 'model.layers.$1.self_attn.k_proj.weight'],
  [/^blk\.(\d+)\.attn_v\.weight$/, 'model.layers.$1.self_attn.v_proj.weight'],
  [/^blk\.(\d+)\.attn_q_norm\.weight$/, 'model.layers.$1.self_attn.q_norm.weight'],
  [/^blk\.(\d+)\.attn_k_norm\.weight$/, 'model.layers.$1.self_attn.k_norm.weight'],
  [/^blk\.(\d+)\.attn_output\.weight$/, 'model.layers.$1.self_attn.o_proj.weight'],
  [/^blk\.(\d+)\.post_attention_norm\.weight$/, 'model.layers.$1.post_attention_layernorm.weight'],
  [/^blk\.(\d+)\.ffn_norm\.weight$/, 'model.layers.$1.pre_feedforward_layernorm.weight'],
  [/^blk\.(\d+)\.ffn_gate\.weight$/, 'model.layers.$1.mlp.gate_proj.weight'],
  [/^blk\.(\d+)\.ffn_up\.weight$/, 'model.layers.$1.mlp.up_proj.weight'],
  [/^blk\.(\d+)\.ffn_down\.weight$/, 'model.layers.$1.mlp.down_proj.weight'],
  [/^blk\.(\d+)\.post_ffw_norm\.weight$/, 'model.layers.$1.post_feedforward_layernorm.weight'],
];

/**
 * llama.cpp's converter stores Gemma's norm weights as 1 + w (its RMSNorm is plain x̂·w):
 * subtract this on load, add it on export.
 */
export const NORM_SHIFT = 1;
export function isShiftedNorm(hfName: string): boolean {
  return /norm\.weight$/.test(hfName);
}

export const family: Family = {
  paramSpecs,
  dispose: disposeRopes,
  embed: (model, ids) => {
    const [B, T] = ids.shape;
    const d = model.config.hidden;
    return tf.tidy(() => tf.mul(model.embedLookup(ids.reshape([-1])), Math.fround(Math.sqrt(d))).reshape([B, T, d]));
  },
  block,
  finalNorm: (model, h) => norm(model, 'model.norm', h),
  finalLogits: (model, logits) => {
    const cap = (model.config as LlamaConfig).gemma?.finalSoftcap;
    return cap ? tf.mul(tf.tanh(tf.div(logits, cap)), cap) : logits;
  },
  embeddingName: 'model.embed_tokens.weight',
  headName: 'lm_head',
  blockPrefix: (i) => `model.layers.${i}`,
};
