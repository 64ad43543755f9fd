// The Llama family (Llama 2/3.x, TinyLlama, SmolLM2, Mistral, Qwen2/2.5, Qwen3): RMSNorm,
// rotary positions (Hugging Face's rotate-half layout; GGUF's interleaved q/k rows are permuted
// on load) with Llama 3's frequency scaling, SwiGLU MLP, grouped-query attention, optional
// q/k/v biases (Qwen2), q/k norms per head (Qwen3), sliding-window attention (Mistral, Qwen2
// with use_sliding_window), tied or separate head.
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
    const lin = (name: string, out: number, inp: number, bias = false) => {
      specs.push({ name: `${p}.${name}.weight`, shape: [out, inp], layout: 'linear' });
      if (bias) specs.push({ name: `${p}.${name}.bias`, shape: [out], layout: 'vector' });
    };
    specs.push({ name: `${p}.input_layernorm.weight`, shape: [d], layout: 'vector' });
    lin('self_attn.q_proj', qOut, d, c.attentionBias);
    lin('self_attn.k_proj', kvOut, d, c.attentionBias);
    lin('self_attn.v_proj', kvOut, d, c.attentionBias);
    lin('self_attn.o_proj', d, qOut);
    if (c.qkNorm) {
      specs.push({ name: `${p}.self_attn.q_norm.weight`, shape: [c.headDim], layout: 'vector' });
      specs.push({ name: `${p}.self_attn.k_norm.weight`, shape: [c.headDim], layout: 'vector' });
    }
    specs.push({ name: `${p}.post_attention_layernorm.weight`, shape: [d], layout: 'vector' });
    lin('mlp.gate_proj', c.intermediate, d);
    lin('mlp.up_proj', c.intermediate, d);
    lin('mlp.down_proj', d, c.intermediate);
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
    const rope = ropeSpec(c);
    const x = rmsNorm(h, model.param(`${p}.input_layernorm.weight`), c.normEps);
    let q = model.linear(`${p}.self_attn.q_proj`, x, ctx).reshape([B, T, c.heads, c.headDim]);
    let k0 = model.linear(`${p}.self_attn.k_proj`, x, ctx).reshape([B, T, c.kvHeads, c.headDim]);
    if (c.qkNorm) {
      // Qwen3: each head of q and k RMS-normalised before the rotation.
      q = rmsNorm(q, model.param(`${p}.self_attn.q_norm.weight`), c.normEps);
      k0 = rmsNorm(k0, model.param(`${p}.self_attn.k_norm.weight`), c.normEps);
    }
    q = applyRope(model, rope, q, ctx.past);
    k0 = applyRope(model, rope, k0, ctx.past);
    const v0 = model.linear(`${p}.self_attn.v_proj`, x, ctx).reshape([B, T, c.kvHeads, c.headDim]);
    const { k, v } = appendCache(ctx, i, k0, v0);
    const a = attention(q, k, v, ctx.past, { window: windowOf(c, i) });
    const h1 = tf.add(h, model.dropout(model.linear(`${p}.self_attn.o_proj`, a, ctx), ctx));
    const y = rmsNorm(h1, model.param(`${p}.post_attention_layernorm.weight`), c.normEps);
    const gate = silu(model.linear(`${p}.mlp.gate_proj`, y, ctx));
    const up = model.linear(`${p}.mlp.up_proj`, y, ctx);
    const m = model.linear(`${p}.mlp.down_proj`, tf.mul(gate, up), ctx);
    return tf.add(h1, model.dropout(m, ctx));
  });
}

/** GGUF tensor names (llama.cpp's llama, mistral, qwen2 and qwen3 architectures) → Hugging Face names. */
export const GGUF_NAMES: [RegExp, string][] = [
  [/^token_embd\.weight$/, 'model.embed_tokens.weight'],
  [/^output_norm\.weight$/, 'model.norm.weight'],
  [/^output\.weight$/, 'lm_head.weight'],
  [/^blk\.(\d+)\.attn_norm\.weight$/, 'model.layers.$1.input_layernorm.weight'],
  [/^blk\.(\d+)\.attn_q\.(weight|bias)$/, 'model.layers.$1.self_attn.q_proj.$2'],
  [/^blk\.(\d+)\.attn_k\.(weight|bias)$/, 'model.layers.$1.self_attn.k_proj.$2'],
  [/^blk\.(\d+)\.attn_v\.(weight|bias)$/, 'model.layers.$1.self_attn.v_proj.$2'],
  [/^blk\.(\d+)\.attn_q_norm\.weight$/, 'model.layers.$1.self_attn.q_norm.weight'],
  [/^blk\.(\d+)\.attn_k_norm\.weight$/, 'model.layers.$1.self_attn.k_norm.weight'],
  [/^blk\.(\d+)\.attn_output\.weight$/, 'model.layers.$1.self_attn.o_proj.weight'],
  [/^blk\.(\d+)\.ffn_norm\.weight$/, 'model.layers.$1.post_attention_layernorm.weight'],
  [/^blk\.(\d+)\.ffn_gate\.weight$/, 'model.layers.$1.mlp.gate_proj.weight'],
  [/^blk\.(\d+)\.ffn_up\.weight$/, 'model.layers.$1.mlp.up_proj.weight'],
  [/^blk\.(\d+)\.ffn_down\.weight$/, 'model.layers.$1.mlp.down_proj.weight'],
];

export const family: Family = {
  paramSpecs,
  dispose: disposeRopes,
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
