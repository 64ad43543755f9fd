// The families' formulas checked against independent statements of them: llama.cpp's converter
// for Llama 3 rope factors, transformers' dynamic NTK base, a sliding window against a shorter
// sequence, and the refusals (an unknown rope type, an unsupported architecture) by name.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selectBackend } from '../../../src/engine/backend';
import { tf } from '../../../src/engine/tf';
import { inverseFrequencies } from '../../../src/engine/model/rope';
import { loadModel } from '../../../src/engine/model/loader';
import { readHfConfig } from '../../../src/engine/core/formats/hfconfig';
import { writeGguf, GgufType } from '../../../src/engine/core/formats/gguf';
import { tinyLlamaConfig, writeRandomModel } from '../../helpers/random-model';
import type { CausalLM } from '../../../src/engine/model/model';

function logits(model: CausalLM, ids: number[]): Float32Array {
  const y = tf.tidy(() => model.forward(tf.tensor2d([ids], [1, ids.length], 'int32')));
  const out = y.dataSync() as Float32Array;
  y.dispose();
  return out;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const IDS = [1, 403, 407, 261, 378, 66, 291, 301, 13, 290, 341, 402, 265, 333, 289, 404, 387, 263, 401, 324, 411, 279, 300, 258];

describe('families: rope scaling, sliding windows, refusals', function () {
  this.timeout(300_000); // llama.cpp and wasm start-up on a loaded 2-core machine
  let dir: string;
  before(async () => {
    await selectBackend({ backend: 'wasm' });
    dir = mkdtempSync(join(tmpdir(), 'adapt-lab-fam-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('llama3 rope frequencies equal llama.cpp converter\'s rope_freqs factors (Llama 3.2 1B settings)', () => {
    const base = 500000, dim = 64, factor = 32, low = 1, high = 4, old = 8192;
    // convert_hf_to_gguf.py (LlamaModel.generate_extra_tensors), transcribed.
    const lowWavelen = old / low, highWavelen = old / high;
    const factors: number[] = [];
    for (let i = 0; i < dim; i += 2) {
      const freq = 1 / Math.pow(base, i / dim);
      const wavelen = 2 * Math.PI / freq;
      if (wavelen < highWavelen) factors.push(1);
      else if (wavelen > lowWavelen) factors.push(factor);
      else {
        const smooth = (old / wavelen - low) / (high - low);
        factors.push(1 / ((1 - smooth) / factor + smooth));
      }
    }
    const spec = { theta: base, dim, maxPositions: 131072 };
    const plain = inverseFrequencies(spec, 0);
    const scaled = inverseFrequencies({ ...spec, scaling: { type: 'llama3', factor, lowFreqFactor: low, highFreqFactor: high, originalMax: old } }, 0);
    scaled.forEach((f, i) => assert.ok(Math.abs(plain[i] / f - factors[i]) < 1e-9 * factors[i], `frequency ${i}: ${plain[i] / f} vs ${factors[i]}`));
    assert.ok(factors.some((f) => f === 1) && factors.some((f) => f === factor) && factors.some((f) => f > 1 && f < factor));
    const viaFactors = inverseFrequencies({ ...spec, scaling: { type: 'factors', factors } }, 0);
    assert.ok(maxDiff(viaFactors, scaled) < 1e-12);
  });

  it('dynamic NTK: unchanged up to the original context; past it, the rope base transformers computes for that length', async () => {
    const cfg = { max_position_embeddings: 16, rope_theta: 10000 };
    const dyn = await writeRandomModel(join(dir, 'dyn'), tinyLlamaConfig({ ...cfg, rope_scaling: { rope_type: 'dynamic', factor: 2 } }), { gguf: false });
    const plain = await writeRandomModel(join(dir, 'plain'), tinyLlamaConfig({ ...cfg, max_position_embeddings: 32 }), { gguf: false });
    // _compute_dynamic_ntk_parameters: base · (factor·L/max − (factor − 1))^(d/(d−2)), L = 24, d = 16.
    const d = 16, L = IDS.length;
    const theta = 10000 * Math.pow((2 * L) / 16 - 1, d / (d - 2));
    const shifted = await writeRandomModel(join(dir, 'shifted'), tinyLlamaConfig({ max_position_embeddings: 32, rope_theta: theta }), { gguf: false });
    const [a, b, c] = [await loadModel(dyn.hfDir), await loadModel(plain.hfDir), await loadModel(shifted.hfDir)];
    try {
      assert.equal(a.model.config.maxPositions, 32, 'dynamic ×2 extends 16 positions to 32');
      assert.ok(maxDiff(logits(a.model, IDS.slice(0, 16)), logits(b.model, IDS.slice(0, 16))) < 1e-5);
      const long = logits(a.model, IDS);
      assert.ok(maxDiff(long, logits(c.model, IDS)) < 1e-4, 'dynamic at 24 positions = base scaled for 24');
      assert.ok(maxDiff(long, logits(b.model, IDS)) > 1e-2, 'and not the unscaled model');
    } finally {
      [a, b, c].forEach((m) => m.model.dispose());
    }
  });

  it('sliding window (Mistral, one layer): position p sees exactly its last W tokens', async () => {
    const W = 5;
    const one = { architectures: ['MistralForCausalLM'], model_type: 'mistral', num_hidden_layers: 1 };
    const win = await writeRandomModel(join(dir, 'win'), tinyLlamaConfig({ ...one, sliding_window: W }), { gguf: false });
    const nowin = await writeRandomModel(join(dir, 'nowin'), tinyLlamaConfig(one), { gguf: false }); // same seed: same weights
    const lm = await loadModel(win.hfDir);
    const full = await loadModel(nowin.hfDir);
    try {
      const V = lm.model.config.vocabSize;
      const all = logits(lm.model, IDS);
      for (const p of [W - 1, W, 11, IDS.length - 1]) {
        // Rotary scores depend only on relative positions: the last W tokens alone, from 0, give the same row.
        const tail = logits(full.model, IDS.slice(p - W + 1, p + 1));
        const d = maxDiff(all.subarray(p * V, (p + 1) * V), tail.subarray((W - 1) * V, W * V));
        assert.ok(d < 1e-4, `position ${p}: ${d}`);
      }
      const unwindowed = logits(full.model, IDS);
      assert.ok(maxDiff(all.subarray(11 * V, 12 * V), unwindowed.subarray(11 * V, 12 * V)) > 1e-3, 'the window changes later positions');
    } finally {
      lm.model.dispose();
      full.model.dispose();
    }
  });

  it('refuses by name: an unknown rope type, longrope, multimodal Gemma 3, an unsupported architecture', () => {
    const write = (name: string, obj: unknown) => {
      const p = join(dir, name);
      writeFileSync(p, JSON.stringify(obj));
      return p;
    };
    const base = { ...tinyLlamaConfig(), vocab_size: 512 };
    assert.throws(() => readHfConfig(write('yarn.json', { ...base, rope_scaling: { rope_type: 'yarn', factor: 4 } })),
      /yarn\.json: rope_scaling type "yarn" is not supported for llama \(supported: default, linear, dynamic, llama3\)/);
    assert.throws(() => readHfConfig(write('phi.json', { ...base, model_type: 'phi3', rope_scaling: { type: 'longrope', long_factor: [1], short_factor: [1] } })),
      /rope_scaling type "longrope" is not supported for phi3/);
    assert.throws(() => readHfConfig(write('g3.json', { model_type: 'gemma3', text_config: {} })), /only its text model/);
    assert.throws(() => readHfConfig(write('bert.json', { ...base, model_type: 'bert' })),
      /model_type "bert" is not supported \(supported: llama, mistral, qwen2, qwen3, gemma2, gemma3_text, phi3, gpt2\)/);
    assert.throws(() => readHfConfig(write('l3.json', { ...base, rope_scaling: { rope_type: 'llama3', factor: 8 } })), /rope_scaling\.low_freq_factor is missing/);
  });

  it('refuses a GGUF architecture it cannot build, listing the supported ones', async () => {
    const p = join(dir, 'falcon.gguf');
    writeGguf(p, new Map<string, unknown>([['general.architecture', 'falcon']]) as never, [{ name: 'token_embd.weight', shape: [4, 4], data: new Float32Array(16) }]);
    await assert.rejects(loadModel(p), /architecture "falcon" is not supported \(supported: llama, mistral, qwen2, qwen3, gemma2, gemma3, phi3, gpt2\)/);
    void GgufType;
  });
});
