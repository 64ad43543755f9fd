// The fast path (plain 2D matMuls with custom gradients) must give the same gradients as
// tfjs's own autodiff of the generic ops, for every layer kind, with and without LoRA.
import { strict as assert } from 'node:assert';
import { selectBackend } from '../../../src/engine/backend';
import { tf, Tensor } from '../../../src/engine/tf';
import { initModel } from '../../../src/engine/model/init';
import { ModelConfig } from '../../../src/engine/core/model-config';
import { crossEntropy, setFastPath } from '../../../src/engine/model/ops';
import { CausalLM } from '../../../src/engine/model/model';
import { internalShape } from '../../../src/engine/core/params';
import { addLora } from '../../../src/engine/model/lora';
import { Rng } from '../../../src/engine/random';

const llama: ModelConfig = { family: 'llama', vocabSize: 13, hidden: 16, intermediate: 24, layers: 2, heads: 4, kvHeads: 2, headDim: 4, maxPositions: 32, normEps: 1e-5, ropeTheta: 10000, attentionBias: true, tiedHead: true };
const llamaUntied: ModelConfig = { ...llama, attentionBias: false, tiedHead: false, kvHeads: 4 };
const gpt2: ModelConfig = { family: 'gpt2', vocabSize: 13, hidden: 16, layers: 2, heads: 2, headDim: 8, maxPositions: 32, normEps: 1e-5, tiedHead: true };

function lossOf(model: CausalLM, ids: number[][], labels: number[]): Tensor {
  const logits = model.forward(tf.tensor2d(ids, [ids.length, ids[0].length], 'int32'));
  const w = tf.fill([labels.length], 1 / labels.length);
  return crossEntropy(logits.reshape([-1, model.config.vocabSize]), tf.tensor1d(labels, 'int32'), w);
}

function gradsOf(config: ModelConfig, lora: boolean, fast: boolean): Map<string, Float32Array> {
  setFastPath(fast);
  const model = initModel(config, 5);
  const vars: tf.Variable[] = [];
  if (lora) {
    const rng = new Rng(1);
    for (const s of model.specs) if (s.layout === 'linear' || s.layout === 'conv1d') {
      const path = s.name.replace(/\.weight$/, '');
      addLora(model, path, { rank: 2, alpha: 4, dropout: 0 }, rng);
      const ad = model.lora.get(path)!;
      ad.B.assign(tf.randomNormal(ad.B.shape, 0, 0.1, 'float32', 9)); // non-zero so A gets a gradient
      vars.push(ad.A, ad.B);
    }
  } else {
    for (const s of model.specs) {
      const v = tf.variable(model.param(s.name), true);
      (v as unknown as { hfName: string }).hfName = s.name;
      model.setParam(s.name, v);
      vars.push(v);
    }
  }
  const ids = [[1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12]];
  const labels = [2, 3, 4, 5, 6, 0, 8, 9, 10, 11, 12, 1];
  const { grads } = tf.variableGrads(() => lossOf(model, ids, labels) as tf.Scalar, vars);
  const out = new Map<string, Float32Array>();
  vars.forEach((v, i) => out.set(`${i}`, grads[v.name].dataSync() as Float32Array));
  tf.dispose(Object.values(grads));
  model.dispose();
  vars.forEach((v) => v.dispose());
  void internalShape;
  return out;
}

function assertClose(a: Map<string, Float32Array>, b: Map<string, Float32Array>) {
  assert.equal(a.size, b.size);
  for (const [k, ga] of a) {
    const gb = b.get(k)!;
    let num = 0, den = 0;
    for (let i = 0; i < ga.length; i++) {
      num += (ga[i] - gb[i]) ** 2;
      den += gb[i] ** 2;
    }
    const rel = Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-12);
    assert.ok(rel < 1e-5, `${k}: relative difference ${rel}`);
    assert.ok(den > 0, `${k}: zero gradient`);
  }
}

describe('fast-path gradients equal tfjs autodiff', () => {
  after(async () => {
    setFastPath(true);
    await selectBackend({ backend: 'wasm' });
  });
  for (const [name, config] of [['llama (GQA, q/k/v bias, tied)', llama], ['llama (untied head)', llamaUntied], ['gpt2', gpt2]] as const) {
    for (const lora of [false, true]) {
      it(`${name}, ${lora ? 'LoRA on every linear' : 'every parameter'}`, async () => {
        await selectBackend({ backend: 'cpu' });
        const reference = gradsOf(config, lora, false); // tfjs autodiff, generic ops
        const fastCpu = gradsOf(config, lora, true);
        await selectBackend({ backend: 'wasm' });
        const fastWasm = gradsOf(config, lora, true);
        assertClose(fastCpu, reference);
        assertClose(fastWasm, reference);
      });
    }
  }
});
