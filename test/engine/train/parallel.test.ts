// The gradient pool: a step's rows split across worker threads give the gradients of one
// thread (to float rounding), deterministically; a worker that fails is an error, not a hang.
import { strict as assert } from 'node:assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { sharedPath } from '../../helpers/shared';
import { selectBackend } from '../../../src/engine/backend';
import { tf, Tensor } from '../../../src/engine/tf';
import { loadModel } from '../../../src/engine/model/loader';
import { initModel } from '../../../src/engine/model/init';
import { CausalLM } from '../../../src/engine/model/model';
import { applyAdapt } from '../../../src/engine/adapt/methods';
import { accumulateGrads } from '../../../src/engine/train/step';
import { shareOf, startGradientPool } from '../../../src/engine/train/parallel';
import { PackedBatch } from '../../../src/engine/data/dataset';
import { Rng } from '../../../src/engine/random';
import { AdaptConfig } from '../../../src/protocol/config';

// Built by `npm test` (scripts/build.mjs) before mocha runs.
const WORKER = resolve('dist/grad-worker.js');

function batch(rows: number, T: number, vocab: number, rng: Rng): PackedBatch {
  const ids = new Int32Array(rows * T).map(() => rng.int(vocab));
  const labels = new Int32Array(rows * T).map(() => rng.int(vocab));
  const weights = new Float32Array(rows * T).map((_, i) => (i % 7 === 0 ? 0 : 1));
  return { ids, labels, weights, batch: rows, length: T, tokens: rows * T };
}

function maxRelDiff(a: Map<string, Tensor>, b: Map<string, Tensor>): number {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  let worst = 0;
  for (const [k, g] of a) {
    const [d, m] = tf.tidy(() => [tf.max(tf.abs(tf.sub(g, b.get(k)!))).dataSync()[0], tf.max(tf.abs(g)).dataSync()[0]]);
    worst = Math.max(worst, d / Math.max(m, 1e-12));
  }
  return worst;
}

describe('gradient pool (worker threads)', function () {
  this.timeout(120_000);
  before(async () => {
    await selectBackend({ backend: 'wasm' });
  });

  it('splits every micro-batch into contiguous row ranges, one per thread, thread 0 keeping the seed', () => {
    const rng = new Rng(1);
    const micro = [batch(5, 3, 10, rng), batch(1, 3, 10, rng)];
    const seedOf = (i: number) => 100 + i;
    const shares = [0, 1, 2].map((j) => shareOf(micro, 3, j, seedOf));
    assert.deepEqual(shares.map((s) => s.micro.map((b) => b.batch)), [[1], [2], [2, 1]]);
    assert.deepEqual(shares[0].seeds, [100]);
    assert.notEqual(shares[1].seeds[0], 100);
    // Every row lands in exactly one share, in order.
    const rows = shares.flatMap((s) => s.micro.filter((b) => b.length === 3 && b !== micro[1]).flatMap((b) => [...b.ids]));
    assert.deepEqual(rows.slice(0, 15), [...micro[0].ids]);
    assert.deepEqual(shareOf(micro, 1, 0, seedOf).micro, micro);
  });

  const cases: { name: string; model: () => Promise<CausalLM>; adapt: AdaptConfig }[] = [
    { name: 'stories260K (Llama), LoRA on every linear layer', model: async () => (await loadModel(sharedPath('models/stories260K/stories260K.gguf'))).model, adapt: { lora: { rank: 4, alpha: 8, dropout: 0, targetModules: 'all-linear' } } },
    { name: 'GPT-2 shape, last block and norms unfrozen', model: async () => initModel({ family: 'gpt2', vocabSize: 96, hidden: 64, layers: 3, heads: 4, headDim: 16, maxPositions: 64, normEps: 1e-5, tiedHead: true }, 5), adapt: { unfreeze: ['transformer.h.2.*'], biases: true } },
  ];
  for (const c of cases) it(`gives one thread's gradients and loss over 2 and 3 threads: ${c.name}`, async () => {
    const model = await c.model();
    const adapted = applyAdapt(model, c.adapt, { rng: new Rng(3), layerLrDecay: 1, l2sp: false });
    const rng = new Rng(9);
    const micro = [batch(5, 24, model.config.vocabSize, rng), batch(3, 24, model.config.vocabSize, rng)];
    const total = micro.reduce((n, b) => n + b.weights.reduce((a, w) => a + w, 0), 0);
    const o = { firstTrainableLayer: adapted.firstTrainableLayer, dropout: 0, embeddingNoise: 0, seedOf: (i: number) => 11 + i };
    const want = accumulateGrads(model, adapted.params, micro, total, o);
    for (const threads of [2, 3]) {
      const pool = await startGradientPool({ threads, script: WORKER, backend: 'wasm', model, params: adapted.params, adapt: c.adapt, seed: 3, layerLrDecay: 1 });
      try {
        // Change the trainable values after the pool started: the replicas must follow.
        tf.tidy(() => adapted.params.forEach((p) => p.variable.assign(tf.add(p.variable, 0.01))));
        const want2 = accumulateGrads(model, adapted.params, micro, total, o);
        const got = await pool.grads(micro, total, o);
        assert.ok(Math.abs(got.loss - want2.loss) <= 1e-5 * Math.abs(want2.loss), `${threads} threads: loss ${got.loss} vs ${want2.loss}`);
        const d = maxRelDiff(got.grads, want2.grads);
        assert.ok(d < 1e-5, `${threads} threads: gradients differ by ${d} (relative to each tensor's largest)`);
        // Deterministic: the same step again gives the same bits, and leaves no tensor behind
        // on the calling thread (the first step may fill shape caches).
        const before = tf.memory().numTensors;
        const again = await pool.grads(micro, total, o);
        assert.equal(again.loss, got.loss);
        assert.equal(maxRelDiff(again.grads, got.grads), 0);
        tf.dispose([...again.grads.values()]);
        assert.equal(tf.memory().numTensors, before, 'no tensors left behind on the calling thread');
        tf.dispose([...got.grads.values()]);
        tf.dispose([...want2.grads.values()]);
        tf.tidy(() => adapted.params.forEach((p) => p.variable.assign(tf.sub(p.variable, 0.01))));
      } finally {
        await pool.dispose();
      }
    }
    tf.dispose([...want.grads.values()]);
    model.dispose();
  });

  it('a worker that cannot start, or dies mid-step, is an error naming it (no hang)', async () => {
    const model = initModel({ family: 'gpt2', vocabSize: 32, hidden: 16, layers: 1, heads: 2, headDim: 8, maxPositions: 16, normEps: 1e-5, tiedHead: true }, 1);
    const adapt: AdaptConfig = { unfreeze: ['*'] };
    const adapted = applyAdapt(model, adapt, { rng: new Rng(0), layerLrDecay: 1, l2sp: false });
    const opts = { threads: 2, backend: 'wasm', model, params: adapted.params, adapt, seed: 0, layerLrDecay: 1 };
    const dir = mkdtempSync(join(tmpdir(), 'adapt-lab-pool-'));
    const broken = join(dir, 'broken.js');
    writeFileSync(broken, "throw new Error('no backend here');\n");
    await assert.rejects(startGradientPool({ ...opts, script: broken }), /gradient worker 1 did not start: .*no backend here/);
    const dies = join(dir, 'dies.js');
    writeFileSync(dies, "const { parentPort } = require('node:worker_threads');\nparentPort.postMessage({ type: 'ready', backend: 'wasm' });\nparentPort.on('message', () => process.exit(3));\n");
    const pool = await startGradientPool({ ...opts, script: dies });
    const b = batch(4, 8, 32, new Rng(1));
    await assert.rejects(pool.grads([b], 28, { firstTrainableLayer: 0, dropout: 0, embeddingNoise: 0, seedOf: (i) => i }), /gradient worker 1 exited \(code 3\)/);
    await pool.dispose();
    model.dispose();
  });
});
