// Exports of random in-memory Llama-family models: Qwen2-style q/k/v biases with grouped-query
// attention and a tied head (written as model_type qwen2, GGUF arch qwen2: no rotary permutation).
import { strict as assert } from 'node:assert';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tf } from '../../../src/engine/tf';
import { selectBackend } from '../../../src/engine/backend';
import { LlamaConfig } from '../../../src/engine/core/model-config';
import { initModel } from '../../../src/engine/model/init';
import { addLora } from '../../../src/engine/model/lora';
import { loadModel } from '../../../src/engine/model/loader';
import { Rng } from '../../../src/engine/random';
import { readGguf } from '../../../src/engine/core/formats/gguf';
import { readSafetensors } from '../../../src/engine/core/formats/safetensors';
import { exportModel, sourceFromLoaded } from '../../../src/engine/export';
import { logitsOf, maxAbsDiff, tempDir } from './fixture';

const IDS = [3, 17, 42, 5, 99, 0, 64];

describe('exports of a random Qwen2-style model (q/k/v biases, GQA, tied head)', function () {
  this.timeout(120000);
  before(() => selectBackend({ backend: 'cpu' }));

  it('merged-hf is a qwen2 folder and merged-gguf a qwen2 GGUF, both loading to the same logits', async () => {
    const config: LlamaConfig = {
      family: 'llama', vocabSize: 100, hidden: 32, intermediate: 48, layers: 2, heads: 4, kvHeads: 2, headDim: 8,
      maxPositions: 64, normEps: 1e-6, ropeTheta: 1e6, attentionBias: true, tiedHead: true,
    };
    const model = initModel(config, 11);
    const rng = new Rng(2);
    for (const p of ['model.layers.0.self_attn.q_proj', 'model.layers.1.self_attn.k_proj', 'model.layers.1.mlp.down_proj']) {
      addLora(model, p, { rank: 2, alpha: 4, dropout: 0 }, rng);
      const B = model.lora.get(p)!.B;
      B.assign(tf.randomNormal(B.shape, 0, 0.3, 'float32', 9));
    }
    const want = logitsOf(model, IDS);
    const dir = tempDir();
    const hf = exportModel({ model, base: { format: 'hf', path: dir } }, { format: 'merged-hf', out: join(dir, 'hf') });
    assert.ok(hf.notes.some((n) => /no tokenizer files/.test(n)));
    const c = JSON.parse(readFileSync(join(hf.out, 'config.json'), 'utf8'));
    assert.equal(c.model_type, 'qwen2');
    assert.deepEqual(c.architectures, ['Qwen2ForCausalLM']);
    assert.equal(c.num_key_value_heads, 2);
    assert.equal(c.rope_theta, 1e6);
    assert.equal(c.rms_norm_eps, 1e-6);
    assert.equal(c.tie_word_embeddings, true);
    const st = readSafetensors(join(hf.out, 'model.safetensors')).tensors;
    assert.ok(st.has('model.layers.0.self_attn.q_proj.bias') && !st.has('lm_head.weight'));
    const back = await loadModel(hf.out);
    assert.ok(maxAbsDiff(logitsOf(back.model, IDS), want) < 1e-4);

    const g = exportModel(sourceFromLoaded(back), { format: 'merged-gguf', out: join(dir, 'gguf') });
    assert.ok(g.notes.some((n) => /no tokenizer/.test(n)));
    const f = readGguf(g.files[0].path);
    assert.equal(f.metadata.get('general.architecture'), 'qwen2');
    assert.equal(f.metadata.get('qwen2.attention.head_count_kv'), 2);
    assert.ok(f.tensor('blk.0.attn_q.bias') && !f.tensor('output.weight'));
    const gl = await loadModel(g.files[0].path);
    assert.ok(maxAbsDiff(logitsOf(gl.model, IDS), want) < 1e-4);
    for (const m of [model, back.model, gl.model]) m.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a Llama with head_dim ≠ hidden/heads round-trips through HF and GGUF', async () => {
    const config: LlamaConfig = {
      family: 'llama', vocabSize: 100, hidden: 24, intermediate: 40, layers: 2, heads: 4, kvHeads: 4, headDim: 8,
      maxPositions: 64, normEps: 1e-5, ropeTheta: 10000, attentionBias: false, tiedHead: false,
    };
    const model = initModel(config, 12);
    addLora(model, 'model.layers.1.self_attn.q_proj', { rank: 2, alpha: 2, dropout: 0 }, new Rng(3));
    const B = model.lora.get('model.layers.1.self_attn.q_proj')!.B;
    B.assign(tf.randomNormal(B.shape, 0, 0.3, 'float32', 4));
    const want = logitsOf(model, IDS);
    const dir = tempDir();
    const hf = exportModel({ model, base: { format: 'hf', path: dir } }, { format: 'merged-hf', out: join(dir, 'hf') });
    const back = await loadModel(hf.out);
    assert.equal(JSON.parse(readFileSync(join(hf.out, 'config.json'), 'utf8')).head_dim, 8);
    assert.ok(maxAbsDiff(logitsOf(back.model, IDS), want) < 1e-4);
    const g = exportModel(sourceFromLoaded(back), { format: 'merged-gguf', out: join(dir, 'gguf') });
    const f = readGguf(g.files[0].path);
    assert.equal(f.metadata.get('llama.attention.key_length'), 8);
    const gl = await loadModel(g.files[0].path);
    assert.ok(maxAbsDiff(logitsOf(gl.model, IDS), want) < 1e-4);
    for (const m of [model, back.model, gl.model]) m.dispose();
    rmSync(dir, { recursive: true, force: true });
  });
});
