// Merging LoRA adapters into their base weights (for inference) keeps the model's outputs.
import { strict as assert } from 'node:assert';
import { sharedPath } from '../../helpers/shared';
import { selectBackend } from '../../../src/engine/backend';
import { tf } from '../../../src/engine/tf';
import { loadModel } from '../../../src/engine/model/loader';
import { initModel } from '../../../src/engine/model/init';
import { CausalLM } from '../../../src/engine/model/model';
import { addLora, mergeLora } from '../../../src/engine/model/lora';
import { Rng } from '../../../src/engine/random';

function withAdapters(model: CausalLM, paths: string[]): void {
  const rng = new Rng(2);
  for (const p of paths) {
    addLora(model, p, { rank: 4, alpha: 8, dropout: 0 }, rng);
    const ad = model.lora.get(p)!;
    ad.B.assign(tf.randomNormal(ad.B.shape, 0, 0.2, 'float32', 7)); // B = 0 would change nothing
  }
}

describe('mergeLora', () => {
  before(async () => {
    await selectBackend({ backend: 'wasm' });
  });
  const cases: [string, () => Promise<CausalLM>, string[]][] = [
    // Weights as heap tensors: mergeLora leaves adapters on weights kept outside the backend (external-weights.test.ts).
    ['stories260K (Llama)', async () => (await loadModel(sharedPath('models/stories260K/stories260K.gguf'), { external: false })).model, ['model.layers.0.self_attn.q_proj', 'model.layers.2.mlp.down_proj', 'model.layers.4.self_attn.o_proj']],
    ['GPT-2 (Conv1D layout)', async () => initModel({ family: 'gpt2', vocabSize: 50, hidden: 32, layers: 2, heads: 2, headDim: 16, maxPositions: 32, normEps: 1e-5, tiedHead: true }, 3), ['transformer.h.0.attn.c_attn', 'transformer.h.1.mlp.c_proj']],
  ];
  for (const [name, make, paths] of cases) it(`gives the adapted logits without the adapters: ${name}`, async () => {
    const model = await make();
    const ids = tf.tensor2d([[1, 5, 9, 13, 2, 7, 11, 3]], [1, 8], 'int32');
    const base = model.forward(ids);
    withAdapters(model, paths);
    const adapted = model.forward(ids);
    const before = tf.memory().numTensors;
    assert.equal(mergeLora(model), paths.length);
    assert.equal(model.lora.size, 0);
    assert.equal(tf.memory().numTensors, before - 2 * paths.length, 'A and B freed, each base weight replaced');
    const merged = model.forward(ids);
    const diff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
    assert.ok(diff(adapted, base) > 1e-2, 'the adapters change the logits');
    assert.ok(diff(merged, adapted) < 1e-4, `merged vs adapted: ${diff(merged, adapted)}`);
    tf.dispose([ids, base, adapted, merged]);
    model.dispose();
  });
});

describe('LoRA rank against the module', () => {
  before(async () => {
    await selectBackend({ backend: 'wasm' });
  });

  it('a rank beyond the smaller dimension of a target is refused naming the field and the module', async () => {
    const { applyAdapt } = await import('../../../src/engine/adapt/methods');
    const model = (await loadModel(sharedPath('models/stories260K/stories260K.gguf'))).model;
    try {
      const adapt = (rank: number) => ({ lora: { rank, alpha: 16, dropout: 0, targetModules: ['q_proj', 'v_proj'] } });
      for (const rank of [1e9, 33]) {
        assert.throws(() => applyAdapt(model, adapt(rank), { rng: new Rng(0), layerLrDecay: 1, l2sp: false }),
          new RegExp(`^Error: adapt\\.lora\\.rank is ${rank}, more than the target modules allow: "model\\.layers\\.0\\.self_attn\\.v_proj" is \\[32, 64\\], so the rank can be at most 32$`));
      }
      assert.equal(model.lora.size, 0, 'nothing was added before the refusal');
      assert.throws(() => addLora(model, 'model.layers.0.self_attn.q_proj', { rank: 65, alpha: 1, dropout: 0 }, new Rng(0)),
        /LoRA rank 65 does not fit "model\.layers\.0\.self_attn\.q_proj" \(64 in, 64 out\): use a rank from 1 to 64/);
      const ok = applyAdapt(model, adapt(32), { rng: new Rng(0), layerLrDecay: 1, l2sp: false });
      assert.equal(ok.params.length, 20);
    } finally {
      model.dispose();
    }
  });
});
