// Matrix products on the platform's BLAS: the kernels equal the backends' own on every layout,
// training on them follows XNNPACK's losses step by step and autodiff's gradients, a library
// that cannot load leaves the backend's kernels in place with the reason, and nothing grows
// over a long run. Needs a BLAS on the machine (Debian: libopenblas0-openmp); without one the
// tests that need it are skipped with the reason, unless ADAPT_LAB_REQUIRE_BLAS=1 (CI) makes
// that a failure.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { sharedPath } from '../../helpers/shared';
import { moodTask } from '../../helpers/tasks';
import { validateRunConfig } from '../../../src/engine/core/run-config';
import { train } from '../../../src/engine/train/trainer';
import { BackendInfo, StartedEvent, TrainerEvent } from '../../../src/protocol/events';
import { selectBackend } from '../../../src/engine/backend';
import { tf, Tensor } from '../../../src/engine/tf';
import { blasStatus, disableBlas, enableBlas } from '../../../src/engine/native';
import { LIBRARY_ENV } from '../../../src/engine/native/blas';
import { kernelCounts } from '../../../src/engine/native/kernels';
import { loadModel } from '../../../src/engine/model/loader';
import { initModel } from '../../../src/engine/model/init';
import { CausalLM } from '../../../src/engine/model/model';
import { crossEntropy, setFastPath } from '../../../src/engine/model/ops';
import { applyAdapt } from '../../../src/engine/adapt/methods';
import { AdamW } from '../../../src/engine/train/optimizer';
import { accumulateGrads } from '../../../src/engine/train/step';
import { sliceRows } from '../../../src/engine/train/parallel';
import { PackedBatch } from '../../../src/engine/data/dataset';
import { Rng } from '../../../src/engine/random';
import { AdaptConfig } from '../../../src/protocol/config';

/** Skips (or, on CI, fails) a test that needs the BLAS library when it cannot be loaded here. */
function needBlas(ctx: Mocha.Context, backend: 'wasm' | 'cpu' = 'wasm'): void {
  const s = enableBlas(backend);
  if (s.on) return;
  if (process.env.ADAPT_LAB_REQUIRE_BLAS === '1') assert.fail(`no BLAS here: ${s.reason}`);
  console.log(`      (skipped: ${s.reason})`);
  ctx.skip();
}

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

/** Losses of 20 AdamW steps with the products on BLAS (on) or on the backend's own kernels. */
async function losses(make: () => Promise<CausalLM>, adapt: AdaptConfig, blas: boolean, data: PackedBatch[]): Promise<{ losses: number[]; blasCalls: number }> {
  if (blas) assert.ok(enableBlas('wasm').on);
  else disableBlas('wasm');
  const before = kernelCounts.blas;
  const model = await make();
  const adapted = applyAdapt(model, adapt, { rng: new Rng(4), layerLrDecay: 1, l2sp: false });
  const opt = new AdamW(adapted.params);
  const out: number[] = [];
  let blasCalls = 0;
  try {
    for (const [i, b] of data.entries()) {
      const half = b.batch / 2;
      const { loss, grads } = accumulateGrads(model, adapted.params, [sliceRows(b, 0, half), sliceRows(b, half, b.batch)], b.tokens, {
        firstTrainableLayer: adapted.firstTrainableLayer, dropout: 0, embeddingNoise: 0, seedOf: (j) => i * 10 + j,
      });
      opt.step(grads, 0.003, { weightDecay: 0.01, l2sp: 0, gradClip: 1 });
      tf.dispose([...grads.values()]);
      out.push(loss);
    }
    blasCalls = kernelCounts.blas - before;
  } finally {
    opt.dispose();
    model.dispose();
    enableBlas('wasm');
  }
  return { losses: out, blasCalls };
}

describe('matrix products on BLAS', function () {
  this.timeout(240_000);
  before(async () => {
    await selectBackend({ backend: 'wasm' });
  });
  after(async () => {
    await selectBackend({ backend: 'wasm' });
    enableBlas('wasm');
    setFastPath(true);
  });

  for (const backend of ['wasm', 'cpu'] as const) {
    it(`${backend}: every layout equals the backend's own kernel, and runs on BLAS`, async function () {
      await selectBackend({ backend });
      needBlas(this, backend);
      const layouts: [number[], number[], boolean, boolean][] = [
        [[64, 48], [48, 80], false, false],
        [[48, 64], [48, 80], true, false],
        [[64, 48], [80, 48], false, true],
        [[48, 64], [80, 48], true, true],
        [[6, 17, 9], [6, 9, 13], false, false],
        [[6, 9, 17], [6, 13, 9], true, true],
        [[6, 17, 9], [1, 9, 13], false, false],
        [[2, 3, 17, 9], [2, 3, 13, 9], false, true],
      ];
      const run = () => tf.tidy(() => layouts.map(([as, bs, tA, tB], i) => {
        const a = tf.randomNormal(as, 0, 1, 'float32', i + 1); // seed 0 would mean unseeded
        const b = tf.randomNormal(bs, 0, 1, 'float32', i + 50);
        const bias = tf.randomNormal([tB ? bs[bs.length - 2] : bs[bs.length - 1]], 0, 1, 'float32', i + 99);
        const plain = tf.matMul(a, b, tA, tB);
        // wasm's own _FusedMatMul adds the bias wrongly to some layouts (tfjs 4.22): its reference is product + bias.
        const fused = as.length === 2 ? (blasStatus().on ? tf.fused.matMul({ a, b, transposeA: tA, transposeB: tB, bias }) : tf.add(plain, bias)) : tf.zeros([0]);
        return [plain.dataSync(), fused.dataSync()];
      }));
      const c0 = kernelCounts.blas;
      const ours = run();
      assert.equal(kernelCounts.blas - c0, layouts.length + 4, 'every product went to BLAS');
      disableBlas(backend);
      const theirs = run();
      enableBlas(backend);
      ours.forEach(([p, f], i) => {
        const [wp, wf] = theirs[i];
        for (let j = 0; j < wp.length; j++) assert.ok(Math.abs(p[j] - wp[j]) <= 1e-4 * (1 + Math.abs(wp[j])), `layout ${i} element ${j}: ${p[j]} vs ${wp[j]}`);
        for (let j = 0; j < wf.length; j++) assert.ok(Math.abs(f[j] - wf[j]) <= 1e-4 * (1 + Math.abs(wf[j])), `fused layout ${i} element ${j}: ${f[j]} vs ${wf[j]}`);
      });
    });
  }

  it('a fused product with an activation goes to the backend\'s own kernel', async function () {
    await selectBackend({ backend: 'wasm' });
    needBlas(this);
    const fb = kernelCounts.fallback;
    const y = tf.tidy(() => tf.fused.matMul({ a: tf.ones([3, 4]), b: tf.ones([4, 2]), activation: 'relu' }).dataSync());
    assert.deepEqual([...y], [4, 4, 4, 4, 4, 4]);
    assert.equal(kernelCounts.fallback, fb + 1);
  });

  const cases: { name: string; make: () => Promise<CausalLM>; adapt: AdaptConfig; vocab: number }[] = [
    { name: 'stories260K (Llama, GQA), LoRA on every linear layer', make: async () => (await loadModel(sharedPath('models/stories260K/stories260K.gguf'))).model, adapt: { lora: { rank: 4, alpha: 8, dropout: 0, targetModules: 'all-linear' } }, vocab: 512 },
    { name: 'GPT-2 shape, every parameter', make: async () => initModel({ family: 'gpt2', vocabSize: 64, hidden: 48, layers: 2, heads: 3, headDim: 16, maxPositions: 64, normEps: 1e-5, tiedHead: true }, 8), adapt: { unfreeze: ['*'] }, vocab: 64 },
  ];
  for (const c of cases) {
    it(`20 AdamW steps on BLAS give XNNPACK's losses: ${c.name}`, async function () {
      await selectBackend({ backend: 'wasm' });
      needBlas(this);
      const data = batches(20, 4, 32, c.vocab);
      const xnn = await losses(c.make, c.adapt, false, data);
      const blas = await losses(c.make, c.adapt, true, data);
      assert.equal(xnn.blasCalls, 0, 'the reference ran on the backend\'s own kernels');
      assert.ok(blas.blasCalls > 20 * 10, `the BLAS run used BLAS (${blas.blasCalls} products)`);
      assert.ok(xnn.losses[19] < 0.8 * xnn.losses[0], `the run learns (${xnn.losses[0]} → ${xnn.losses[19]})`);
      let worst = 0;
      for (let i = 0; i < 20; i++) {
        const rel = Math.abs(blas.losses[i] - xnn.losses[i]) / Math.abs(xnn.losses[i]);
        worst = Math.max(worst, rel);
        assert.ok(rel < 1e-5, `step ${i + 1}: BLAS ${blas.losses[i]} vs XNNPACK ${xnn.losses[i]} (relative ${rel.toExponential(2)})`);
      }
      console.log(`      losses ${xnn.losses[0].toFixed(3)} → ${xnn.losses[19].toFixed(3)}; largest relative difference ${worst.toExponential(1)}; ${blas.blasCalls} products on BLAS`);
    });
  }

  it('gradients on BLAS equal autodiff of the generic ops on the backend\'s own kernels', async function () {
    await selectBackend({ backend: 'wasm' });
    needBlas(this);
    const grads = (blas: boolean, fast: boolean) => {
      if (blas) enableBlas('wasm');
      else disableBlas('wasm');
      setFastPath(fast);
      try {
        const model = initModel({ family: 'llama', vocabSize: 13, hidden: 16, intermediate: 24, layers: 2, heads: 4, kvHeads: 2, headDim: 4, maxPositions: 32, normEps: 1e-5, ropeTheta: 10000, attentionBias: true, tiedHead: true }, 5);
        const vars = model.specs.map((s) => {
          const v = tf.variable(model.param(s.name), true);
          model.setParam(s.name, v);
          return v;
        });
        const ids = tf.tensor2d([[1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12]], [2, 6], 'int32');
        const labels = tf.tensor1d([2, 3, 4, 5, 6, 0, 8, 9, 10, 11, 12, 1], 'int32');
        const { grads: g } = tf.variableGrads(() => crossEntropy((model.forward(ids) as Tensor).reshape([-1, 13]), labels, tf.fill([12], 1 / 12)) as tf.Scalar, vars);
        const out = vars.map((v) => g[v.name].dataSync() as Float32Array);
        tf.dispose([...Object.values(g), ids, labels]);
        model.dispose();
        vars.forEach((v) => v.dispose());
        return out;
      } finally {
        enableBlas('wasm');
        setFastPath(true);
      }
    };
    const reference = grads(false, false);
    for (const fast of [true, false]) {
      const got = grads(true, fast);
      got.forEach((g, i) => {
        let num = 0, den = 0;
        for (let j = 0; j < g.length; j++) {
          num += (g[j] - reference[i][j]) ** 2;
          den += reference[i][j] ** 2;
        }
        assert.ok(den > 0, `parameter ${i} has a gradient`);
        assert.ok(Math.sqrt(num / den) < 1e-4, `parameter ${i} (${fast ? 'fast' : 'generic'} path): relative error ${Math.sqrt(num / den)}`);
      });
    }
  });

  it('falls back to the backend\'s own kernels, with the reason, when the library cannot be loaded', async () => {
    await selectBackend({ backend: 'wasm' });
    const saved = process.env[LIBRARY_ENV];
    try {
      process.env[LIBRARY_ENV] = '/nonexistent/libopenblas-bogus.so.0';
      const s = enableBlas('wasm');
      assert.equal(s.on, false);
      assert.match(s.reason!, /no BLAS library found.*\/nonexistent\/libopenblas-bogus\.so\.0/);
      const c0 = kernelCounts.blas;
      const y = tf.tidy(() => tf.matMul(tf.ones([2, 3]), tf.ones([2, 3]), false, true).dataSync());
      assert.deepEqual([...y], [3, 3, 3, 3]);
      assert.equal(kernelCounts.blas, c0, 'no product ran on BLAS');
      // A library that loads but is no BLAS.
      process.env[LIBRARY_ENV] = process.platform === 'linux' ? 'libz.so.1' : process.execPath;
      assert.match(enableBlas('wasm').reason!, /no cblas_sgemm|no BLAS library found/);
    } finally {
      if (saved === undefined) delete process.env[LIBRARY_ENV];
      else process.env[LIBRARY_ENV] = saved;
      enableBlas('wasm');
    }
  });

  it('the CLI says which products ran, or why not (--verbose), and ADAPT_LAB_BLAS=off turns it off', function () {
    this.timeout(120_000);
    const cli = resolve('dist/cli.js');
    const args = [cli, 'generate', '--model', resolve('models/adapt-lab-tiny'), '--prompt', 'It was', '--max-tokens', '2', '--temperature', '0', '--verbose', '--backend', 'wasm'];
    const bogus = spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, [LIBRARY_ENV]: '/nonexistent/libblas-bogus.so' } });
    assert.equal(bogus.status, 0, bogus.stderr);
    assert.match(bogus.stderr, /matrix products: the wasm backend's own \(BLAS off: no BLAS library found \(.*libblas-bogus\.so/);
    const off = spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, ADAPT_LAB_BLAS: 'off' } });
    assert.match(off.stderr, /BLAS off: turned off \(ADAPT_LAB_BLAS=off\)/);
    assert.equal(off.stdout, bogus.stdout, 'the same text either way');
    if (blasStatus().on) {
      const on = spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, [LIBRARY_ENV]: '' } });
      assert.match(on.stderr, /matrix products: \S+ [\w.]* ?\(\d+ threads?\)/);
      assert.equal(on.stdout, bogus.stdout);
    }
  });

  it('no tensor, wasm heap or native memory growth over many products and training steps', async function () {
    await selectBackend({ backend: 'wasm' });
    needBlas(this);
    const model = initModel({ family: 'gpt2', vocabSize: 64, hidden: 48, layers: 2, heads: 3, headDim: 16, maxPositions: 64, normEps: 1e-5, tiedHead: true }, 8);
    const adapted = applyAdapt(model, { unfreeze: ['*'] }, { rng: new Rng(4), layerLrDecay: 1, l2sp: false });
    const opt = new AdamW(adapted.params);
    const data = batches(1, 4, 32, 64)[0];
    const a = tf.randomNormal([128, 128]);
    const stepOnce = () => {
      const { grads } = accumulateGrads(model, adapted.params, [data], data.tokens, { firstTrainableLayer: adapted.firstTrainableLayer, dropout: 0, embeddingNoise: 0, seedOf: () => 1 });
      opt.step(grads, 0.001, { weightDecay: 0.01, l2sp: 0, gradClip: 1 });
      tf.dispose([...grads.values()]);
      for (let i = 0; i < 30; i++) tf.matMul(a, a, i % 2 === 0, i % 3 === 0).dispose();
    };
    // A collected heap before each reading, so only memory still held counts.
    v8.setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const rss = () => {
      gc();
      return process.memoryUsage().rss / 2 ** 20;
    };
    try {
      for (let i = 0; i < 30; i++) stepOnce();
      const m0 = tf.memory();
      const rss0 = rss();
      const calls0 = kernelCounts.blas;
      for (let i = 0; i < 60; i++) stepOnce();
      const rss1 = rss();
      for (let i = 0; i < 60; i++) stepOnce();
      const rss2 = rss();
      const m1 = tf.memory();
      const calls = kernelCounts.blas - calls0;
      assert.equal(m1.numTensors, m0.numTensors, 'tensor count');
      assert.equal(m1.numBytes, m0.numBytes, 'tensor bytes');
      console.log(`      ${calls} products on BLAS; RSS ${rss0.toFixed(0)} → ${rss1.toFixed(0)} → ${rss2.toFixed(0)} MiB`);
      assert.ok(calls > 10_000, `${calls} products`);
      // Any per-call native allocation left behind would grow RSS by ~calls/2 × its size in the second half.
      assert.ok(rss2 - rss1 < 8, `RSS grew ${(rss2 - rss1).toFixed(1)} MiB over the last ${calls / 2} products`);
    } finally {
      a.dispose();
      opt.dispose();
      model.dispose();
    }
  });
});

describe('BLAS in a training run\'s record', function () {
  this.timeout(240_000);
  const run = async (blas: boolean | undefined) => {
    const task = moodTask(16);
    const config = validateRunConfig({
      model: sharedPath('models/stories260K/stories260K.gguf'),
      data: { train: task.train, validation: task.validation },
      adapt: { lora: { rank: 2 } },
      training: { maxSteps: 2, batchSize: 4, evalEvery: 0, checkpointEvery: 0, maxLength: 32 },
      seed: 0, backend: 'wasm', runsDir: join(task.dir, 'runs'), ...(blas === undefined ? {} : { blas }),
    }, task.dir, 'test.json');
    const events: TrainerEvent[] = [];
    const end = await train(config, { emit: (e) => events.push(e) });
    assert.equal(end.type, 'finished');
    const started = events.find((e): e is StartedEvent => e.type === 'started')!;
    const logs = events.flatMap((e) => (e.type === 'log' ? [e.message] : []));
    const record = JSON.parse(readFileSync(join(started.runDir, 'run.json'), 'utf8')) as { backend: BackendInfo; versions: Record<string, string> };
    return { started, logs, record };
  };
  after(() => enableBlas('wasm'));

  it('says what ran in the started event, the first log line and run.json; "blas": false turns it off', async function () {
    await selectBackend({ backend: 'wasm' });
    needBlas(this);
    const on = await run(undefined);
    assert.match(on.started.backend.label!, /^wasm \+ \S+.* \(\d+ threads?\)$/);
    assert.equal(on.started.backend.blas?.on, true);
    assert.equal(on.record.backend.label, on.started.backend.label);
    assert.match(on.record.versions.blas, /^(OpenBLAS|BLIS|MKL|Accelerate)/);
    assert.ok(on.logs[0].startsWith(`backend ${on.started.backend.label}`), on.logs[0]);
    const off = await run(false);
    assert.equal(off.started.backend.label, 'wasm');
    assert.equal(off.started.backend.blas?.on, false);
    assert.match(off.started.backend.blas!.reason!, /config "blas": false/);
    assert.match(off.logs[0], /^backend wasm \(matrix products on the backend's own kernels: turned off/);
    assert.equal(off.record.versions.blas, undefined);
    assert.equal(enableBlas('wasm').on, true, 'a later run may turn it back on');
  });
});
