// Training on the fast path (plain 2D matMuls, hand-written gradients, fused norms and
// activations) follows the generic path (tfjs's own ops and autodiff) step by step: the same
// losses over 20 AdamW steps, for a Llama with LoRA and a GPT-2 with every parameter trained.
import { strict as assert } from 'node:assert';
import { sharedPath } from '../../helpers/shared';
import { selectBackend } from '../../../src/engine/backend';
import { tf } from '../../../src/engine/tf';
import { loadModel } from '../../../src/engine/model/loader';
import { initModel } from '../../../src/engine/model/init';
import { CausalLM } from '../../../src/engine/model/model';
import { setFastPath } from '../../../src/engine/model/ops';
import { applyAdapt } from '../../../src/engine/adapt/methods';
import { AdamW } from '../../../src/engine/train/optimizer';
import { accumulateGrads } from '../../../src/engine/train/step';
import { sliceRows } from '../../../src/engine/train/parallel';
import { PackedBatch } from '../../../src/engine/data/dataset';
import { Rng } from '../../../src/engine/random';
import { AdaptConfig } from '../../../src/protocol/config';

function batches(n: number, rows: number, T: number, vocab: number): PackedBatch[] {
  const rng = new Rng(21);
  return Array.from({ length: n }, () => {
    // Learnable sequences: each token follows from the one before it (t → 5t + 3 mod vocab).
    const seq = Array.from({ length: rows }, () => {
      const r = [rng.int(vocab)];
      while (r.length < T + 1) r.push((r[r.length - 1] * 5 + 3) % vocab);
      return r;
    });
    return {
      ids: Int32Array.from(seq.flatMap((r) => r.slice(0, T))),
      labels: Int32Array.from(seq.flatMap((r) => r.slice(1))),
      weights: new Float32Array(rows * T).fill(1),
      batch: rows, length: T, tokens: rows * T,
    };
  });
}

async function losses(make: () => Promise<CausalLM>, adapt: AdaptConfig, fast: boolean, data: PackedBatch[]): Promise<number[]> {
  setFastPath(fast);
  const model = await make();
  const adapted = applyAdapt(model, adapt, { rng: new Rng(4), layerLrDecay: 1, l2sp: false });
  const opt = new AdamW(adapted.params);
  const out: number[] = [];
  try {
    for (const [i, b] of data.entries()) {
      // Two micro-batches per step, as gradient accumulation runs them.
      const half = b.batch / 2;
      const { loss, grads } = accumulateGrads(model, adapted.params, [sliceRows(b, 0, half), sliceRows(b, half, b.batch)], b.tokens, {
        firstTrainableLayer: adapted.firstTrainableLayer, dropout: 0, embeddingNoise: 0, seedOf: (j) => i * 10 + j,
      });
      opt.step(grads, 0.003, { weightDecay: 0.01, l2sp: 0, gradClip: 1 });
      tf.dispose([...grads.values()]);
      out.push(loss);
    }
  } finally {
    opt.dispose();
    model.dispose();
    setFastPath(true);
  }
  return out;
}

describe('training losses: fast path against the generic path', function () {
  this.timeout(180_000);
  before(async () => {
    await selectBackend({ backend: 'wasm' });
  });
  after(() => setFastPath(true));

  const cases: { name: string; make: () => Promise<CausalLM>; adapt: AdaptConfig; vocab: number }[] = [
    { name: 'stories260K (Llama, GQA), LoRA on every linear layer', make: async () => (await loadModel(sharedPath('models/stories260K/stories260K.gguf'))).model, adapt: { lora: { rank: 4, alpha: 8, dropout: 0, targetModules: 'all-linear' } }, vocab: 512 },
    { name: 'GPT-2 shape, every parameter', make: async () => initModel({ family: 'gpt2', vocabSize: 64, hidden: 48, layers: 2, heads: 3, headDim: 16, maxPositions: 64, normEps: 1e-5, tiedHead: true }, 8), adapt: { unfreeze: ['*'] }, vocab: 64 },
  ];
  for (const c of cases) it(`20 AdamW steps give the same losses: ${c.name}`, async () => {
    const data = batches(20, 4, 32, c.vocab);
    const generic = await losses(c.make, c.adapt, false, data);
    const fast = await losses(c.make, c.adapt, true, data);
    assert.ok(generic[19] < 0.8 * generic[0], `the run learns (${generic[0]} → ${generic[19]})`);
    let worst = 0;
    for (let i = 0; i < 20; i++) {
      const rel = Math.abs(fast[i] - generic[i]) / Math.abs(generic[i]);
      worst = Math.max(worst, rel);
      assert.ok(rel < 1e-5, `step ${i + 1}: fast ${fast[i]} vs generic ${generic[i]} (relative ${rel.toExponential(2)})`);
    }
    console.log(`      losses ${generic[0].toFixed(3)} → ${generic[19].toFixed(3)}; largest relative difference ${worst.toExponential(1)}`);
  });
});
