// Phi-3 (mini, medium; Phi-3.5-mini without its long-context scaling): a Llama-style decoder
// whose attention projections are one fused qkv_proj (rows q, then k, then v) and whose MLP
// gate and up projections are one fused gate_up_proj (rows gate, then up). LoRA targets and
// PEFT keys use these fused Hugging Face names, as PEFT does for Phi-3.
import { tf, Tensor } from '../tf';
import { LlamaConfig, ModelConfig, windowOf } from '../core/model-config';
import { attention, rmsNorm, silu } from './ops';
import { applyRope, disposeRopes, ropeSpec } from './rope';
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
    specs.push({ name: `${p}.input_layernorm.weight`, shape: [d], layout: 'vector' });
    specs.push({ name: `${p}.self_attn.qkv_proj.weight`, shape: [qOut + 2 * kvOut, d], layout: 'linear' });
    specs.push({ name: `${p}.self_attn.o_proj.weight`, shape: [d, qOut], layout: 'linear' });
    specs.push({ name: `${p}.post_attention_layernorm.weight`, shape: [d], layout: 'vector' });
    specs.push({ name: `${p}.mlp.gate_up_proj.weight`, shape: [2 * c.intermediate, d], layout: 'linear' });
    specs.push({ name: `${p}.mlp.down_proj.weight`, shape: [d, c.intermediate], layout: 'linear' });
  }
  specs.push({ name: 'model.norm.weight', shape: [d], layout: 'vector' });
  if (!c.tiedHead) specs.push({ name: 'lm_head.weight', shape: [c.vocabSize, d], layout: 'linear' });
  return specs;
}

function block(model: CausalLM, i: number, h: Tensor, ctx: ForwardContext): Tensor {
  const c = model.config as LlamaConfig;
  const p = `model.layers.${i}`;
  return tf.tidy(() => {
    const [B, T] = h.shape;
    const qOut = c.heads * c.headDim;
    const kvOut = c.kvHeads * c.headDim;
    const rope = ropeSpec(c);
    const x = rmsNorm(h, model.param(`${p}.input_layernorm.weight`), c.normEps);
    const [q1, k1, v1] = tf.split(model.linear(`${p}.self_attn.qkv_proj`, x, ctx), [qOut, kvOut, kvOut], -1);
    const q = applyRope(model, rope, q1.reshape([B, T, c.heads, c.headDim]), ctx.past);
    const k0 = applyRope(model, rope, k1.reshape([B, T, c.kvHeads, c.headDim]), ctx.past);
    const { k, v } = appendCache(ctx, i, k0, v1.reshape([B, T, c.kvHeads, c.headDim]));
    const a = attention(q, k, v, ctx.past, { window: windowOf(c, i) });
    const h1 = tf.add(h, model.dropout(model.linear(`${p}.self_attn.o_proj`, a, ctx), ctx));
    const y = rmsNorm(h1, model.param(`${p}.post_attention_layernorm.weight`), c.normEps);
    const [gate, up] = tf.split(model.linear(`${p}.mlp.gate_up_proj`, y, ctx), 2, -1);
    const m = model.linear(`${p}.mlp.down_proj`, tf.mul(silu(gate), up), ctx);
    return tf.add(h1, model.dropout(m, ctx));
  });
}

/** GGUF names (llama.cpp's phi3: the fused tensors keep their fusion) → Hugging Face names. */
export const GGUF_NAMES: [RegExp, string][] = [
  [/^token_embd\.weight$/, 'model.embed_tokens.weight'],
  [/^output_norm\.weight$/, 'model.norm.weight'],
  [/^output\.weight$/, 'lm_head.weight'],
  [/^blk\.(\d+)\.attn_norm\.weight$/, 'model.layers.$1.input_layernorm.weight'],
  [/^blk\.(\d+)\.attn_qkv\.weight$/, 'model.layers.$1.self_attn.qkv_proj.weight'],
  [/^blk\.(\d+)\.attn_output\.weight$/, 'model.layers.$1.self_attn.o_proj.weight'],
  [/^blk\.(\d+)\.ffn_norm\.weight$/, 'model.layers.$1.post_attention_layernorm.weight'],
  [/^blk\.(\d+)\.ffn_up\.weight$/, 'model.layers.$1.mlp.gate_up_proj.weight'],
  [/^blk\.(\d+)\.ffn_down\.weight$/, 'model.layers.$1.mlp.down_proj.weight'],
];

export const family: Family = {
  paramSpecs,
  dispose: disposeRopes,
  embed: (model, ids) => {
    const [B, T] = ids.shape;
    return model.embedLookup(ids.reshape([-1])).reshape([B, T, model.config.hidden]);
  },
  block,
  finalNorm: (model, h) => rmsNorm(h, model.param('model.norm.weight'), model.config.normEps),
  embeddingName: 'model.embed_tokens.weight',
  headName: 'lm_head',
  blockPrefix: (i) => `model.layers.${i}`,
};
