import { strict as assert } from 'node:assert';
import { selectBackend } from '../../../src/engine/backend';
import { tf } from '../../../src/engine/tf';
import { initModel } from '../../../src/engine/model/init';
import { Gpt2Config } from '../../../src/engine/core/model-config';
import { setFastPath } from '../../../src/engine/model/ops';
import { CausalLM } from '../../../src/engine/model/model';

/** GPT-2 written as plain loops over Hugging Face-layout arrays: an independent reference. */
function referenceLogits(model: CausalLM, ids: number[]): number[][] {
  const c = model.config as Gpt2Config;
  const P = (n: string) => Array.from(model.param(n).dataSync());
  const d = c.hidden, H = c.heads, hd = c.headDim, T = ids.length;
  const wte = P('transformer.wte.weight'), wpe = P('transformer.wpe.weight');
  let x = ids.map((id, t) => Array.from({ length: d }, (_, j) => wte[id * d + j] + wpe[t * d + j]));
  const ln = (v: number[], w: number[], b: number[]) => {
    const m = v.reduce((a, z) => a + z, 0) / v.length;
    const va = v.reduce((a, z) => a + (z - m) ** 2, 0) / v.length;
    return v.map((z, j) => ((z - m) / Math.sqrt(va + c.normEps)) * w[j] + b[j]);
  };
  const conv = (v: number[], w: number[], b: number[], out: number) =>
    Array.from({ length: out }, (_, o) => v.reduce((a, z, i) => a + z * w[i * out + o], b[o]));
  const gelu = (z: number) => 0.5 * z * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (z + 0.044715 * z ** 3)));
  for (let l = 0; l < c.layers; l++) {
    const p = `transformer.h.${l}`;
    const qkv = x.map((v) => conv(ln(v, P(`${p}.ln_1.weight`), P(`${p}.ln_1.bias`)), P(`${p}.attn.c_attn.weight`), P(`${p}.attn.c_attn.bias`), 3 * d));
    const att = x.map(() => new Array(d).fill(0));
    for (let h = 0; h < H; h++) {
      for (let t = 0; t < T; t++) {
        const scores: number[] = [];
        for (let s = 0; s <= t; s++) {
          let dot = 0;
          for (let j = 0; j < hd; j++) dot += qkv[t][h * hd + j] * qkv[s][d + h * hd + j];
          scores.push(dot / Math.sqrt(hd));
        }
        const mx = Math.max(...scores);
        const e = scores.map((z) => Math.exp(z - mx));
        const sum = e.reduce((a, z) => a + z, 0);
        for (let s = 0; s <= t; s++) for (let j = 0; j < hd; j++) att[t][h * hd + j] += (e[s] / sum) * qkv[s][2 * d + h * hd + j];
      }
    }
    x = x.map((v, t) => conv(att[t], P(`${p}.attn.c_proj.weight`), P(`${p}.attn.c_proj.bias`), d).map((z, j) => z + v[j]));
    x = x.map((v) => {
      const hdn = conv(ln(v, P(`${p}.ln_2.weight`), P(`${p}.ln_2.bias`)), P(`${p}.mlp.c_fc.weight`), P(`${p}.mlp.c_fc.bias`), 4 * d).map(gelu);
      return conv(hdn, P(`${p}.mlp.c_proj.weight`), P(`${p}.mlp.c_proj.bias`), d).map((z, j) => z + v[j]);
    });
  }
  return x.map((v) => {
    const n = ln(v, P('transformer.ln_f.weight'), P('transformer.ln_f.bias'));
    return Array.from({ length: c.vocabSize }, (_, k) => n.reduce((a, z, j) => a + z * wte[k * d + j], 0));
  });
}

const config: Gpt2Config = { family: 'gpt2', vocabSize: 11, hidden: 8, layers: 2, heads: 2, headDim: 4, maxPositions: 16, normEps: 1e-5, tiedHead: true };

describe('GPT-2 forward', () => {
  before(async () => {
    await selectBackend({ backend: 'wasm' });
  });
  after(() => setFastPath(true));

  for (const fast of [true, false]) {
    it(`matches a plain-loop reference implementation (${fast ? 'fast' : 'generic'} path)`, () => {
      setFastPath(fast);
      const model = initModel(config, 7);
      // Make biases and norms non-trivial so they are exercised.
      for (const s of model.specs) if (s.layout === 'vector') model.setParam(s.name, tf.randomNormal(s.shape, 0.5, 0.3, 'float32', 3));
      const ids = [3, 1, 4, 1, 5, 9, 2];
      const want = referenceLogits(model, ids);
      const got = model.forward(tf.tensor2d([ids], [1, ids.length], 'int32'));
      const data = got.arraySync() as number[][][];
      got.dispose();
      for (let t = 0; t < ids.length; t++) for (let k = 0; k < config.vocabSize; k++) {
        assert.ok(Math.abs(data[0][t][k] - want[t][k]) < 1e-4, `t=${t} k=${k}: ${data[0][t][k]} vs ${want[t][k]}`);
      }
      model.dispose();
    });
  }

  it('gives the same logits with a KV cache, token by token', () => {
    const model = initModel(config, 1);
    const ids = [1, 2, 3, 4, 5, 6];
    const full = model.forward(tf.tensor2d([ids], [1, 6], 'int32'));
    const fullData = full.arraySync() as number[][][];
    full.dispose();
    const cache = model.newCache();
    for (let t = 0; t < ids.length; t++) {
      const out = model.forward(tf.tensor2d([[ids[t]]], [1, 1], 'int32'), model.newContext({ cache }));
      const row = (out.arraySync() as number[][][])[0][0];
      out.dispose();
      for (let k = 0; k < row.length; k++) assert.ok(Math.abs(row[k] - fullData[0][t][k]) < 1e-4);
    }
    model.dispose();
  });
});
