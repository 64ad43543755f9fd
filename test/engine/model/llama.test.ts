// stories260K through our Llama against llama2.c's run.c forward pass, re-written here as
// plain loops over the raw GGUF tensors (Meta's interleaved rotary layout, no permutation):
// an independent check of the loader's name mapping and q/k permutation and of the model.
import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { sharedPath } from '../../helpers/shared';
import { selectBackend } from '../../../src/engine/backend';
import { tf } from '../../../src/engine/tf';
import { readGguf } from '../../../src/engine/core/formats/gguf';
import { loadModel } from '../../../src/engine/model/loader';
import { setFastPath } from '../../../src/engine/model/ops';

const MODEL = sharedPath('models/stories260K/stories260K.gguf');

function runcLogits(tokens: number[]): Float32Array[] {
  const f = readGguf(MODEL);
  const meta = (k: string) => Number(f.metadata.get(k));
  const dim = meta('llama.embedding_length');
  const L = meta('llama.block_count');
  const nh = meta('llama.attention.head_count');
  const nkv = meta('llama.attention.head_count_kv');
  const hidden = meta('llama.feed_forward_length');
  const hs = dim / nh;
  const kvDim = nkv * hs;
  const W = (n: string) => f.loadTensor(n);
  const emb = W('token_embd.weight');
  const vocab = emb.length / dim;
  const matvec = (w: Float32Array, x: Float32Array, out: number) => {
    const n = x.length;
    const y = new Float32Array(out);
    for (let i = 0; i < out; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += w[i * n + j] * x[j];
      y[i] = s;
    }
    return y;
  };
  const rms = (x: Float32Array, w: Float32Array) => {
    let ss = 0;
    for (const v of x) ss += v * v;
    ss = 1 / Math.sqrt(ss / x.length + 1e-5);
    return x.map((v, i) => v * ss * w[i]);
  };
  const kc: Float32Array[][] = Array.from({ length: L }, () => []);
  const vc: Float32Array[][] = Array.from({ length: L }, () => []);
  const outs: Float32Array[] = [];
  tokens.forEach((tok, pos) => {
    let x = emb.slice(tok * dim, (tok + 1) * dim);
    for (let l = 0; l < L; l++) {
      const xb = rms(x, W(`blk.${l}.attn_norm.weight`));
      const q = matvec(W(`blk.${l}.attn_q.weight`), xb, dim);
      const k = matvec(W(`blk.${l}.attn_k.weight`), xb, kvDim);
      const v = matvec(W(`blk.${l}.attn_v.weight`), xb, kvDim);
      for (let i = 0; i < dim; i += 2) {
        const freq = 1 / Math.pow(10000, (i % hs) / hs);
        const c = Math.cos(pos * freq), s = Math.sin(pos * freq);
        for (const vec of i < kvDim ? [q, k] : [q]) {
          const v0 = vec[i], v1 = vec[i + 1];
          vec[i] = v0 * c - v1 * s;
          vec[i + 1] = v0 * s + v1 * c;
        }
      }
      kc[l].push(k);
      vc[l].push(v);
      const att = new Float32Array(dim);
      for (let h = 0; h < nh; h++) {
        const g = Math.floor(h / (nh / nkv));
        const sc = kc[l].map((kk) => {
          let d = 0;
          for (let j = 0; j < hs; j++) d += q[h * hs + j] * kk[g * hs + j];
          return d / Math.sqrt(hs);
        });
        const mx = Math.max(...sc);
        const e = sc.map((z) => Math.exp(z - mx));
        const sum = e.reduce((a, b) => a + b, 0);
        e.forEach((w, t) => {
          for (let j = 0; j < hs; j++) att[h * hs + j] += (w / sum) * vc[l][t][g * hs + j];
        });
      }
      const o = matvec(W(`blk.${l}.attn_output.weight`), att, dim);
      x = x.map((z, i) => z + o[i]);
      const xb2 = rms(x, W(`blk.${l}.ffn_norm.weight`));
      const h1 = matvec(W(`blk.${l}.ffn_gate.weight`), xb2, hidden);
      const h3 = matvec(W(`blk.${l}.ffn_up.weight`), xb2, hidden);
      const hh = h1.map((z, i) => (z / (1 + Math.exp(-z))) * h3[i]);
      const d = matvec(W(`blk.${l}.ffn_down.weight`), hh, dim);
      x = x.map((z, i) => z + d[i]);
    }
    outs.push(matvec(W('output.weight'), rms(x, W('output_norm.weight')), vocab));
  });
  return outs;
}

describe('Llama on stories260K', function () {
  before(() => {
    // A missing model is a broken checkout, not a reason to pass: fail naming the file.
    assert.ok(existsSync(MODEL), `${MODEL} is missing (shared/models/stories260K)`);
  });
  after(() => setFastPath(true));

  for (const [backend, fast] of [['wasm', true], ['wasm', false], ['cpu', true]] as const) {
    it(`logits match llama2.c's forward pass to 1e-4 (${backend}, ${fast ? 'fast' : 'generic'} path)`, async () => {
      await selectBackend({ backend });
      setFastPath(fast);
      const lm = await loadModel(MODEL);
      const tokens = lm.tokenizer!.encode('Once upon a time, there was a little girl named Lily.');
      const want = runcLogits(tokens);
      const got = lm.model.forward(tf.tensor2d([tokens], [1, tokens.length], 'int32'));
      const data = got.dataSync();
      got.dispose();
      const V = lm.model.config.vocabSize;
      let worst = 0;
      want.forEach((row, t) => row.forEach((w, k) => (worst = Math.max(worst, Math.abs(w - data[t * V + k])))));
      assert.ok(worst < 1e-4, `max abs difference ${worst}`);
      lm.model.dispose();
      await selectBackend({ backend: 'wasm' });
    });
  }
});
