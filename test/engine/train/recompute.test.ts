// Recomputing each block's activations in the backward pass (train/recompute.ts): the same losses
// and gradients as keeping them (LoRA with dropout, unfrozen blocks after a frozen prefix), with
// a smaller tensor peak.
import { strict as assert } from 'node:assert';
import { selectBackend } from '../../../src/engine/backend';
import { tf, Tensor } from '../../../src/engine/tf';
import { initModel } from '../../../src/engine/model/init';
import { ModelConfig } from '../../../src/engine/core/model-config';
import { applyAdapt } from '../../../src/engine/adapt/methods';
import { AdamW } from '../../../src/engine/train/optimizer';
import { accumulateGrads } from '../../../src/engine/train/step';
import { PackedBatch } from '../../../src/engine/data/dataset';
import { Rng } from '../../../src/engine/random';
import { AdaptConfig } from '../../../src/protocol/config';

const LLAMA: ModelConfig = { family: 'llama', arch: 'llama', vocabSize: 96, hidden: 64, intermediate: 160, layers: 4, heads: 4, kvHeads: 2, headDim: 16, maxPositions: 64, normEps: 1e-5, ropeTheta: 10000, attentionBias: false, tiedHead: true };

function batch(seed: number): PackedBatch {
  const rng = new Rng(seed);
  const rows = 2, T = 24;
  const ids = Int32Array.from({ length: rows * T }, () => rng.int(96));
  return { ids, labels: ids.map((x) => (x * 5 + 3) % 96), weights: new Float32Array(rows * T).fill(1), batch: rows, length: T, tokens: rows * T };
}

/** Losses of 6 AdamW steps, the first step's gradients, and the first step's tensor peak. */
async function run(adapt: AdaptConfig, recompute: number, dropout: number): Promise<{ losses: number[]; grads: Map<string, Float32Array>; peak: number }> {
  const model = initModel(LLAMA, 5);
  const a = applyAdapt(model, adapt, { rng: new Rng(2), layerLrDecay: 1, l2sp: false });
  const opt = new AdamW(a.params);
  const losses: number[] = [];
  const grads = new Map<string, Float32Array>();
  let peak = 0;
  try {
    for (let i = 0; i < 6; i++) {
      const b = batch(i);
      const o = { firstTrainableLayer: a.firstTrainableLayer, dropout, embeddingNoise: 0, seedOf: () => 100 + i, recompute };
      let r!: { loss: number; grads: Map<string, Tensor> };
      const info = await tf.profile(() => {
        r = accumulateGrads(model, a.params, [b], b.tokens, o);
        return [...r.grads.values()];
      });
      if (i === 0) {
        peak = info.peakBytes;
        for (const [k, g] of r.grads) grads.set(k, g.dataSync() as Float32Array);
      }
      opt.step(r.grads, 0.01, { weightDecay: 0.01, l2sp: 0, gradClip: 1 });
      tf.dispose([...r.grads.values()]);
      losses.push(r.loss);
    }
  } finally {
    opt.dispose();
    model.dispose();
  }
  return { losses, grads, peak };
}

describe('recomputed block activations', function () {
  this.timeout(120_000);
  before(async () => {
    await selectBackend({ backend: 'wasm' });
  });
  const cases: [string, AdaptConfig, number, number][] = [
    ['LoRA on every linear, dropout 0.1, every block recomputed', { lora: { rank: 4, alpha: 8, dropout: 0.1, targetModules: 'all-linear' } }, 0.1, 4],
    ['LoRA on every linear, dropout 0.1, the first 2 blocks recomputed', { lora: { rank: 4, alpha: 8, dropout: 0.1, targetModules: 'all-linear' } }, 0.1, 2],
    ['the last 2 blocks unfrozen, dropout 0, both recomputed', { unfreeze: ['model.layers.2.*', 'model.layers.3.*', 'model.norm'] }, 0, 2],
  ];
  for (const [name, adapt, dropout, recompute] of cases) {
    it(`${name}: the same losses and gradients, a smaller tensor peak`, async () => {
      const before = tf.memory().numTensors;
      const kept = await run(adapt, 0, dropout);
      const again = await run(adapt, recompute, dropout);
      assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
      for (let i = 0; i < 6; i++) {
        const rel = Math.abs(again.losses[i] - kept.losses[i]) / kept.losses[i];
        assert.ok(rel < 1e-6, `step ${i + 1}: recomputed ${again.losses[i]} vs kept ${kept.losses[i]}`);
      }
      assert.deepEqual([...again.grads.keys()].sort(), [...kept.grads.keys()].sort());
      let worst = 0;
      for (const [k, g] of kept.grads) {
        const h = again.grads.get(k)!;
        let d = 0, m = 0;
        for (let i = 0; i < g.length; i++) { d = Math.max(d, Math.abs(h[i] - g[i])); m = Math.max(m, Math.abs(g[i])); }
        if (m > 0) worst = Math.max(worst, d / m);
      }
      assert.ok(worst < 1e-5, `gradients differ by ${worst}`);
      assert.ok(again.peak < kept.peak, `tensor peak ${again.peak} recomputed vs ${kept.peak} kept`);
      console.log(`      losses ${kept.losses[0].toFixed(4)} → ${kept.losses[5].toFixed(4)}; gradients within ${worst.toExponential(1)}; tensor peak ${(kept.peak / 2 ** 20).toFixed(1)} → ${(again.peak / 2 ** 20).toFixed(1)} MiB`);
    });
  }
});
