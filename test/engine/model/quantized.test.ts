// A quantized GGUF base (Q4_K) as a frozen base for LoRA: the weights stay as ggml blocks,
// gradients through them equal those of their float32 decoding, the gradient workers get the
// blocks, unfreezing a quantized tensor trains a float32 copy, inference with an adapter keeps
// the quantized weights unmerged, and train() runs end to end on it.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { tinyLlamaConfig, writeRandomModel } from '../../helpers/random-model';
import { quantizeGguf } from '../../helpers/quantize-gguf';
import { moodTask } from '../../helpers/tasks';
import { selectBackend } from '../../../src/engine/backend';
import { tf, Tensor } from '../../../src/engine/tf';
import { loadModel } from '../../../src/engine/model/loader';
import { CausalLM } from '../../../src/engine/model/model';
import { mergeLora } from '../../../src/engine/model/lora';
import { dequantizeParam } from '../../../src/engine/model/external-weights';
import { applyAdapt } from '../../../src/engine/adapt/methods';
import { accumulateGrads } from '../../../src/engine/train/step';
import { startGradientPool } from '../../../src/engine/train/parallel';
import { PackedBatch } from '../../../src/engine/data/dataset';
import { validateRunConfig } from '../../../src/engine/core/run-config';
import { train } from '../../../src/engine/train/trainer';
import { estimateTrainingMemory } from '../../../src/engine/core/memory';
import { Rng } from '../../../src/engine/random';
import { EvalEvent, TrainerEvent } from '../../../src/protocol/events';

const WORKER = resolve('dist/grad-worker.js');
const CONFIG = tinyLlamaConfig({ hidden_size: 256, intermediate_size: 512 });
const LORA = { lora: { rank: 4, alpha: 8, dropout: 0, targetModules: 'all-linear' as const } };

function batch(rows: number, T: number, vocab: number, rng: Rng): PackedBatch {
  const ids = new Int32Array(rows * T).map(() => rng.int(vocab));
  const labels = new Int32Array(rows * T).map(() => rng.int(vocab));
  const weights = new Float32Array(rows * T).fill(1);
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

/** Gives every LoRA B a small random value, so A's gradients are not zero. */
function perturbB(model: CausalLM, seed: number): void {
  const rng = new Rng(seed);
  for (const ad of model.lora.values()) ad.B.assign(tf.tensor(Float32Array.from({ length: ad.B.size }, () => (rng.next() - 0.5) * 0.1), ad.B.shape));
}

function denseAll(model: CausalLM): void {
  for (const s of model.specs) if (model.external.has(s.name)) model.dense(s.name);
}

describe('quantized base (Q4_K) for LoRA', function () {
  this.timeout(300_000);
  let dir: string;
  let q4k: string;
  before(async () => {
    await selectBackend({ backend: 'wasm' });
    dir = mkdtempSync(join(tmpdir(), 'adapt-lab-qbase-'));
    const f32 = (await writeRandomModel(join(dir, 'f32'), CONFIG, { seed: 3 })).gguf;
    q4k = join(dir, 'q4k.gguf');
    quantizeGguf(f32, q4k, 'Q4_K');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps every 2D weight as blocks: memory is the file\'s, not float32\'s', async () => {
    const lm = await loadModel(q4k);
    try {
      const m = lm.model;
      const twoD = m.specs.filter((s) => s.shape.length === 2);
      assert.ok(twoD.every((s) => m.external.get(s.name)?.type === 'Q4_K' && !m.params.has(s.name)));
      assert.ok(twoD.every((s) => lm.dtypes.get(s.name) === 'Q4_K'));
      const f32Bytes = 4 * m.numParams;
      assert.ok(m.weightBytes() < 0.16 * f32Bytes, `${m.weightBytes()} bytes of ${f32Bytes}`);
      assert.throws(() => m.param('model.layers.0.mlp.up_proj.weight'), /stored outside the backend \(Q4_K\); use dense\(\)/);
    } finally {
      lm.model.dispose();
    }
  });

  it('the training memory estimate counts the blocks outside the heap, not float32 in it', async () => {
    const lm = await loadModel(q4k);
    try {
      const m = lm.model;
      const o = { batchSize: 4, maxLength: 32, totalParams: m.numParams, trainableParams: 1000, firstTrainableLayer: 0 };
      const f32 = estimateTrainingMemory(m.config, o);
      const layout = { heapWeightBytes: m.heapWeightBytes(), externalBytes: m.externalBytes() };
      assert.equal(m.heapWeightBytes() + m.externalBytes(), m.weightBytes());
      const noBlas = estimateTrainingMemory(m.config, { ...o, ...layout, blas: false });
      const blas = estimateTrainingMemory(m.config, { ...o, ...layout, blas: true });
      assert.equal(f32.weights, 4 * m.numParams);
      assert.equal(f32.external, 0);
      // Without BLAS each product's float32 temporaries live in the heap; on BLAS a scratch outside it.
      assert.equal(noBlas.weights, m.heapWeightBytes() + 128 * 2 ** 20);
      assert.equal(noBlas.external, m.externalBytes());
      assert.equal(blas.weights, m.heapWeightBytes());
      assert.equal(blas.external, m.externalBytes() + 4 * 2 ** 20);
      assert.ok(blas.heapBytes < noBlas.heapBytes && blas.heapBytes < f32.heapBytes);
    } finally {
      lm.model.dispose();
    }
  });

  it('LoRA loss and gradients equal those on the float32 decoding, also over 2 worker threads', async () => {
    const [q, d] = [await loadModel(q4k), await loadModel(q4k)];
    denseAll(d.model);
    try {
      const aq = applyAdapt(q.model, LORA, { rng: new Rng(1), layerLrDecay: 1, l2sp: false });
      const ad = applyAdapt(d.model, LORA, { rng: new Rng(1), layerLrDecay: 1, l2sp: false });
      perturbB(q.model, 2);
      perturbB(d.model, 2);
      const micro = [batch(4, 16, q.model.config.vocabSize, new Rng(5))];
      const total = 4 * 16;
      const o = { firstTrainableLayer: aq.firstTrainableLayer, dropout: 0, embeddingNoise: 0, seedOf: () => 7 };
      const gq = accumulateGrads(q.model, aq.params, micro, total, o);
      // A second step keeps nothing: each product's float32 weight is freed after its matMul.
      const before = tf.memory().numTensors;
      tf.dispose([...accumulateGrads(q.model, aq.params, micro, total, o).grads.values()]);
      assert.equal(tf.memory().numTensors, before, 'no tensor kept by the quantized products');
      const gd = accumulateGrads(d.model, ad.params, micro, total, o);
      assert.ok(Math.abs(gq.loss - gd.loss) < 1e-5 * Math.abs(gd.loss), `loss ${gq.loss} vs ${gd.loss}`);
      assert.ok(maxRelDiff(gq.grads, gd.grads) < 1e-4, `gradients differ by ${maxRelDiff(gq.grads, gd.grads)}`);
      tf.dispose([...gd.grads.values()]);
      const pool = await startGradientPool({ threads: 2, script: WORKER, backend: 'wasm', model: q.model, params: aq.params, adapt: LORA, seed: 1, layerLrDecay: 1 });
      try {
        const gp = await pool.grads(micro, total, o);
        assert.ok(Math.abs(gp.loss - gq.loss) < 1e-5 * Math.abs(gq.loss));
        assert.ok(maxRelDiff(gp.grads, gq.grads) < 1e-4, `pool gradients differ by ${maxRelDiff(gp.grads, gq.grads)}`);
        tf.dispose([...gp.grads.values()]);
      } finally {
        await pool.dispose();
      }
      tf.dispose([...gq.grads.values()]);
    } finally {
      q.model.dispose();
      d.model.dispose();
    }
  });

  it('unfreezing a quantized weight trains a float32 copy of its decoded values', async () => {
    const lm = await loadModel(q4k);
    try {
      const m = lm.model;
      const name = 'model.layers.1.self_attn.o_proj.weight';
      const spec = m.specs.find((s) => s.name === name)!;
      const decoded = dequantizeParam(m.external.get(name)!, spec);
      const a = applyAdapt(m, { unfreeze: ['model.layers.1.self_attn.o_proj'] }, { rng: new Rng(1), layerLrDecay: 1, l2sp: true });
      assert.equal(a.trainable, 256 * 256);
      assert.ok(!m.external.has(name));
      const v = m.param(name);
      assert.ok(v instanceof tf.Variable && v.trainable);
      assert.deepEqual(v.dataSync(), decoded);
      assert.deepEqual(a.params[0].anchor!.dataSync(), decoded, 'L2-SP pulls toward the decoded base values');
      assert.equal(m.external.size, 2 * 7 + 1, 'the other weights stay quantized');
    } finally {
      lm.model.dispose();
    }
  });

  it('inference with an adapter keeps quantized weights unmerged, with the same logits', async () => {
    const lm = await loadModel(q4k);
    try {
      const m = lm.model;
      applyAdapt(m, LORA, { rng: new Rng(1), layerLrDecay: 1, l2sp: false });
      perturbB(m, 4);
      const ids = tf.tensor2d([[1, 403, 407, 261, 378]], [1, 5], 'int32');
      const before = m.forward(ids).dataSync().slice();
      assert.equal(mergeLora(m), 0);
      assert.equal(m.lora.size, 2 * 7);
      assert.equal(m.external.size, 2 * 7 + 2);
      const after = m.forward(ids).dataSync();
      assert.deepEqual(after, before);
      ids.dispose();
    } finally {
      lm.model.dispose();
    }
  });

  it('train(): LoRA on the Q4_K GGUF over 2 threads, validation loss falls', async () => {
    const task = moodTask(64);
    const events: TrainerEvent[] = [];
    const tensorsBefore = tf.memory().numTensors;
    const config = validateRunConfig({
      model: q4k,
      data: { train: task.train, validation: task.validation },
      adapt: { lora: { rank: 8, alpha: 16, dropout: 0, targetModules: 'all-linear' } },
      training: { maxSteps: 12, batchSize: 8, learningRate: 0.01, warmupSteps: 2, evalEvery: 6, checkpointEvery: 0, maxLength: 48, threads: 2 },
      seed: 0, backend: 'wasm', runsDir: join(task.dir, 'runs'), name: 'q4k',
    }, task.dir, 'q4k.json');
    const end = await train(config, { emit: (e) => events.push(e), gradWorker: WORKER });
    assert.equal(end.type, 'finished', JSON.stringify(end));
    assert.equal(tf.memory().numTensors, tensorsBefore, 'tensors leaked by the run');
    const evals = events.filter((e): e is EvalEvent => e.type === 'eval');
    const first = evals[0].valLoss, last = evals[evals.length - 1].valLoss;
    assert.ok(last < 0.8 * first, `val loss ${first} → ${last}`);
  });
});
