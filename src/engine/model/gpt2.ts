// The GPT-2 family: LayerNorm, learned positions, tanh GELU, fused c_attn in Conv1D layout
// ([in, out], as Hugging Face stores it), tied head.
import { tf, Tensor } from '../tf';
import { Gpt2Config, ModelConfig } from '../core/model-config';
import { attention, geluTanh, layerNorm, packedAttentionOn } from './ops';
import { packedCausalAttention } from './attention-packed';
import { appendCache, CausalLM, Family, ForwardContext } from './model';
import { ParamSpec } from '../core/params';

export function paramSpecs(config: ModelConfig): ParamSpec[] {
  const c = config as Gpt2Config;
  const d = c.hidden;
  const specs: ParamSpec[] = [
    { name: 'transformer.wte.weight', shape: [c.vocabSize, d], layout: 'embedding' },
    { name: 'transformer.wpe.weight', shape: [c.maxPositions, d], layout: 'embedding' },
  ];
  const norm = (name: string) => {
    specs.push({ name: `${name}.weight`, shape: [d], layout: 'vector' });
    specs.push({ name: `${name}.bias`, shape: [d], layout: 'vector' });
  };
  const conv = (name: string, inp: number, out: number) => {
    specs.push({ name: `${name}.weight`, shape: [inp, out], layout: 'conv1d' });
    specs.push({ name: `${name}.bias`, shape: [out], layout: 'vector' });
  };
  for (let i = 0; i < c.layers; i++) {
    const p = `transformer.h.${i}`;
    norm(`${p}.ln_1`);
    conv(`${p}.attn.c_attn`, d, 3 * d);
    conv(`${p}.attn.c_proj`, d, d);
    norm(`${p}.ln_2`);
    conv(`${p}.mlp.c_fc`, d, 4 * d);
    conv(`${p}.mlp.c_proj`, 4 * d, d);
  }
  norm('transformer.ln_f');
  if (!c.tiedHead) specs.push({ name: 'lm_head.weight', shape: [c.vocabSize, d], layout: 'linear' });
  return specs;
}

function ln(model: CausalLM, name: string, x: Tensor): Tensor {
  return layerNorm(x, model.param(`${name}.weight`), model.param(`${name}.bias`), model.config.normEps);
}

/** q, k and v as separate heads [B, T, H, hd], through the KV cache when there is one. */
function splitAttention(ctx: ForwardContext, i: number, qkv: Tensor, c: Gpt2Config): Tensor {
  const [B, T] = qkv.shape;
  const [q, k0, v0] = tf.split(qkv, 3, -1).map((t) => t.reshape([B, T, c.heads, c.headDim]));
  const { k, v } = appendCache(ctx, i, k0, v0);
  return attention(q, k, v, ctx.past);
}

function block(model: CausalLM, i: number, h: Tensor, ctx: ForwardContext): Tensor {
  const c = model.config as Gpt2Config;
  const p = `transformer.h.${i}`;
  return tf.tidy(() => {
    const T = h.shape[1]!;
    const qkv = model.linear(`${p}.attn.c_attn`, ln(model, `${p}.ln_1`, h), ctx);
    const a = !ctx.cache && ctx.past === 0 && T > 1 && packedAttentionOn() ? packedCausalAttention(qkv, c.heads) : splitAttention(ctx, i, qkv, c);
    const h1 = tf.add(h, model.dropout(model.linear(`${p}.attn.c_proj`, a, ctx), ctx));
    const m = model.linear(`${p}.mlp.c_proj`, geluTanh(model.linear(`${p}.mlp.c_fc`, ln(model, `${p}.ln_2`, h1), ctx)), ctx);
    return tf.add(h1, model.dropout(m, ctx));
  });
}

export const family: Family = {
  paramSpecs,
  dispose: () => undefined,
  embed: (model, ids, ctx) => {
    const [B, T] = ids.shape;
    if (ctx.past + T! > model.config.maxPositions) {
      throw new Error(`sequence of ${ctx.past + T!} tokens exceeds the model's ${model.config.maxPositions} positions`);
    }
    return tf.tidy(() => {
      const tok = model.embedLookup(ids.reshape([-1])).reshape([B, T, model.config.hidden]);
      const pos = tf.slice(model.param('transformer.wpe.weight'), [ctx.past, 0], [T, model.config.hidden]);
      return tf.add(tok, pos);
    });
  },
  block,
  finalNorm: (model, h) => ln(model, 'transformer.ln_f', h),
  embeddingName: 'transformer.wte.weight',
  headName: 'lm_head',
  blockPrefix: (i) => `transformer.h.${i}`,
};
