// Frozen base weights outside the wasm heap (model/external-weights.ts, native/external.ts):
// a small Llama with LoRA trains over 20 AdamW steps with the same losses as with its weights
// as tensors in the heap, for F32 and BF16 safetensors and a Q8_0 GGUF; the LoRA gradients are
// equal; the heap holds no base linear weight; nothing grows over many steps.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { tinyLlamaConfig, writeRandomModel } from '../../helpers/random-model';
import { quantizeGguf } from '../../helpers/quantize-gguf';
import { selectBackend } from '../../../src/engine/backend';
import { tf } from '../../../src/engine/tf';
import { enableBlas } from '../../../src/engine/native';
import { readSafetensors, writeSafetensors } from '../../../src/engine/core/formats/safetensors';
import { EXTERNAL_HALF_ABOVE, externalPolicy, loadModel } from '../../../src/engine/model/loader';
import { CausalLM } from '../../../src/engine/model/model';
import { applyAdapt } from '../../../src/engine/adapt/methods';
import { AdamW } from '../../../src/engine/train/optimizer';
import { accumulateGrads } from '../../../src/engine/train/step';
import { PackedBatch } from '../../../src/engine/data/dataset';
import { Rng } from '../../../src/engine/random';
import { AdaptConfig } from '../../../src/protocol/config';
import { cpSync } from 'node:fs';

const LORA: AdaptConfig = { lora: { rank: 4, alpha: 8, dropout: 0, targetModules: 'all-linear' } };

/** Skips (or, on CI, fails) when no BLAS library loads here: external float weights need it. */
function needBlas(ctx: Mocha.Context): void {
  const s = enableBlas('wasm');
  if (s.on) return;
  if (process.env.ADAPT_LAB_REQUIRE_BLAS === '1') assert.fail(`no BLAS here: ${s.reason}`);
  console.log(`      (skipped: ${s.reason})`);
  ctx.skip();
}

/** Batches that a model can learn: each row follows x → 5x + 3 (mod vocab). */
function batches(n: number, rows: number, T: number, vocab: number): PackedBatch[] {
  const rng = new Rng(21);
  return Array.from({ length: n }, () => {
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

/** Every external weight made a heap tensor (its decoded values): the in-heap reference. */
function allInHeap(model: CausalLM): void {
  for (const s of model.specs) if (model.external.has(s.name)) model.dense(s.name);
}

interface Run { losses: number[]; grads: Map<string, Float32Array> }

/** 20 AdamW steps of LoRA; the LoRA gradients of the first step. */
function run(model: CausalLM, data: PackedBatch[]): Run {
  const adapted = applyAdapt(model, LORA, { rng: new Rng(4), layerLrDecay: 1, l2sp: false });
  const opt = new AdamW(adapted.params);
  const losses: number[] = [];
  const first = new Map<string, Float32Array>();
  try {
    for (const [i, b] of data.entries()) {
      const { loss, grads } = accumulateGrads(model, adapted.params, [b], b.tokens, {
        firstTrainableLayer: adapted.firstTrainableLayer, dropout: 0, embeddingNoise: 0, seedOf: (j) => i * 10 + j,
      });
      if (i === 1) for (const [k, g] of grads) first.set(k, g.dataSync() as Float32Array);
      opt.step(grads, 0.01, { weightDecay: 0.01, l2sp: 0, gradClip: 1 });
      tf.dispose([...grads.values()]);
      losses.push(loss);
    }
  } finally {
    opt.dispose();
  }
  return { losses, grads: first };
}

function compare(ext: Run, heap: Run, what: string): void {
  assert.ok(heap.losses[19] < 0.8 * heap.losses[0], `${what}: the run learns (${heap.losses[0]} → ${heap.losses[19]})`);
  let worst = 0;
  for (let i = 0; i < 20; i++) {
    const rel = Math.abs(ext.losses[i] - heap.losses[i]) / Math.abs(heap.losses[i]);
    worst = Math.max(worst, rel);
    assert.ok(rel < 1e-5, `${what} step ${i + 1}: external ${ext.losses[i]} vs in-heap ${heap.losses[i]} (relative ${rel.toExponential(2)})`);
  }
  // Step 2's gradients (step 1's LoRA B is zero, so A's gradients would be too).
  let gWorst = 0;
  assert.deepEqual([...ext.grads.keys()].sort(), [...heap.grads.keys()].sort());
  for (const [k, g] of heap.grads) {
    const e = ext.grads.get(k)!;
    let d = 0, m = 0;
    for (let i = 0; i < g.length; i++) {
      d = Math.max(d, Math.abs(e[i] - g[i]));
      m = Math.max(m, Math.abs(g[i]));
    }
    assert.ok(m > 0, `${k}: gradient is zero`);
    gWorst = Math.max(gWorst, d / m);
  }
  assert.ok(gWorst < 1e-4, `${what}: LoRA gradients differ by ${gWorst} (relative to each tensor's largest)`);
  console.log(`      ${what}: losses ${heap.losses[0].toFixed(3)} → ${heap.losses[19].toFixed(3)}; largest relative difference ${worst.toExponential(1)}; gradients ${gWorst.toExponential(1)}`);
}

describe('frozen weights outside the wasm heap', function () {
  this.timeout(300_000);
  let dir: string;
  const files: Record<string, string> = {};
  before(async () => {
    await selectBackend({ backend: 'wasm' });
    dir = mkdtempSync(join(tmpdir(), 'adapt-lab-external-'));
    // Tied embeddings, as Llama 3.2 1B: the head reads the external embedding table too.
    const m = await writeRandomModel(join(dir, 'f32'), tinyLlamaConfig({ hidden_size: 128, intermediate_size: 256, tie_word_embeddings: true }), { seed: 5 });
    files.F32 = m.hfDir;
    const bf = join(dir, 'bf16');
    cpSync(m.hfDir, bf, { recursive: true });
    const st = readSafetensors(join(m.hfDir, 'model.safetensors'));
    writeSafetensors(join(bf, 'model.safetensors'), [...st.tensors.values()].map((t) => ({ name: t.name, shape: t.shape, data: t.data, dtype: 'BF16' as const })));
    files.BF16 = bf;
    files.Q8_0 = join(dir, 'q8.gguf');
    quantizeGguf(m.gguf, files.Q8_0, 'Q8_0');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const type of ['F32', 'BF16', 'Q8_0']) {
    it(`${type}: 20 LoRA AdamW steps give the in-heap losses to 1e-5 and its LoRA gradients`, async function () {
      needBlas(this);
      const data = batches(20, 4, 32, 512);
      const ext = await loadModel(files[type], { external: true });
      const heap = await loadModel(files[type], { external: false });
      try {
        const e = ext.model;
        const linears = e.specs.filter((s) => s.layout === 'linear');
        assert.ok(linears.length > 0 && linears.every((s) => e.external.get(s.name)?.type === type && !e.params.has(s.name)), 'every linear weight outside the heap, in the file\'s type');
        assert.equal(e.external.get('model.embed_tokens.weight')?.type, type, 'the embedding table too');
        assert.equal(e.heapWeightBytes(), 4 * e.specs.filter((s) => s.layout === 'vector').reduce((n, s) => n + s.shape[0], 0), 'only norms in the heap');
        allInHeap(heap.model);
        assert.equal(heap.model.external.size, 0);
        compare(run(e, data), run(heap.model, data), type);
      } finally {
        ext.model.dispose();
        heap.model.dispose();
      }
    });
  }

  it('by default on BLAS: F32 outside the heap (read in place), BF16 too only past a quarter of the heap', async function () {
    needBlas(this);
    assert.equal(externalPolicy(undefined, EXTERNAL_HALF_ABOVE, true), 'f32');
    assert.equal(externalPolicy(undefined, EXTERNAL_HALF_ABOVE + 1, true), 'all');
    assert.equal(externalPolicy(undefined, 10 * EXTERNAL_HALF_ABOVE, false), 'none');
    assert.equal(externalPolicy(true, 0, false), 'all');
    assert.equal(externalPolicy(false, 10 * EXTERNAL_HALF_ABOVE, true), 'none');
    const f = await loadModel(files.F32);
    const b = await loadModel(files.BF16);
    try {
      assert.equal(f.model.external.get('model.layers.0.mlp.up_proj.weight')?.type, 'F32');
      assert.equal(b.model.external.size, 0, 'a small BF16 model is decoded once, into the heap');
    } finally {
      f.model.dispose();
      b.model.dispose();
    }
  });

  it('without BLAS, float weights load into the heap as before (quantized ones stay blocks)', async () => {
    const { disableBlas } = await import('../../../src/engine/native');
    disableBlas('wasm');
    try {
      const f = await loadModel(files.F32);
      const q = await loadModel(files.Q8_0);
      assert.equal(f.model.external.size, 0);
      assert.ok(f.model.params.has('model.layers.0.mlp.up_proj.weight'));
      assert.ok(q.model.external.has('model.layers.0.mlp.up_proj.weight'));
      f.model.dispose();
      q.model.dispose();
    } finally {
      enableBlas('wasm');
    }
  });

  it('no tensor, wasm heap or native memory growth over many steps', async function () {
    needBlas(this);
    const lm = await loadModel(files.BF16, { external: true });
    const model = lm.model;
    const adapted = applyAdapt(model, LORA, { rng: new Rng(4), layerLrDecay: 1, l2sp: false });
    const opt = new AdamW(adapted.params);
    const b = batches(1, 4, 32, 512)[0];
    const stepOnce = () => {
      const { grads } = accumulateGrads(model, adapted.params, [b], b.tokens, { firstTrainableLayer: adapted.firstTrainableLayer, dropout: 0, embeddingNoise: 0, seedOf: () => 1 });
      opt.step(grads, 0.001, { weightDecay: 0.01, l2sp: 0, gradClip: 1 });
      tf.dispose([...grads.values()]);
    };
    v8.setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const rss = () => {
      gc();
      return process.memoryUsage().rss / 2 ** 20;
    };
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const heapSize = () => ((tf.backend() as any).wasm.HEAPU8.buffer as ArrayBuffer).byteLength;
    try {
      for (let i = 0; i < 20; i++) stepOnce();
      const m0 = tf.memory();
      const rss0 = rss();
      const heap0 = heapSize();
      for (let i = 0; i < 60; i++) stepOnce();
      const rss1 = rss();
      for (let i = 0; i < 60; i++) stepOnce();
      const rss2 = rss();
      const m1 = tf.memory();
      assert.equal(m1.numTensors, m0.numTensors, 'tensor count');
      assert.equal(m1.numBytes, m0.numBytes, 'tensor bytes');
      assert.equal(heapSize(), heap0, 'wasm heap size');
      console.log(`      RSS ${rss0.toFixed(0)} → ${rss1.toFixed(0)} → ${rss2.toFixed(0)} MiB; wasm heap ${(heap0 / 2 ** 20).toFixed(0)} MiB`);
      assert.ok(rss2 - rss1 < 8, `RSS grew ${(rss2 - rss1).toFixed(1)} MiB over the last 60 steps`);
    } finally {
      opt.dispose();
      model.dispose();
    }
  });
});
