// Every quantized GGUF type on one family (Llama), through llama.cpp and our engine: a random
// model written by the project's writer, its 2D weights quantized by the project's quantizer
// (ggml's reference encoders), run by both on the same file. llama.cpp loading the file and
// agreeing proves the block layouts; our engine keeps the weights as blocks (never a float32
// copy of the model) and gives the logits of the dequantized float32 model.
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareLogProbs, compareWithLlamaCpp, describeAgreement, engineLogProbs, openLlamaCpp } from '../helpers/llamacpp';
import { RANDOM_PROMPT, tinyLlamaConfig, writeRandomModel } from '../helpers/random-model';
import { dequantizeGguf, quantizeGguf } from '../helpers/quantize-gguf';
import { FAMILY_CASES } from '../helpers/family-cases';
import { selectBackend } from '../../src/engine/backend';
import { loadModel } from '../../src/engine/model/loader';
import { bitsPerWeight } from '../../src/engine/core/formats/quant';
import { readGguf } from '../../src/engine/core/formats/gguf';
import { writeMergedGguf } from '../../src/engine/export/merged';
import { writeGgufLora } from '../../src/engine/export/gguf-lora';
import { applyAdapt } from '../../src/engine/adapt/methods';
import { Rng } from '../../src/engine/random';
import { tf } from '../../src/engine/tf';

// Rows must be whole 256-value super-blocks for the K types: hidden and intermediate are multiples of 256.
const CONFIG = tinyLlamaConfig({ hidden_size: 256, intermediate_size: 512, num_attention_heads: 4, num_key_value_heads: 2 });

// Our engine computes exactly the model the file stands for (its blocks decoded, ~2e-5 from
// llama.cpp on those F32 values: summation order). llama.cpp on the quantized file itself also
// rounds activations to 8 bits inside its quantized dot products, which moved its own
// log-probabilities by 0.24–0.47 on this model (measured; improbable tokens move most): our
// difference from that run must be no larger than llama.cpp's own (+1e-3), and below 0.75.
// A misread block layout gives differences of several units.
const TYPES = ['Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q8_0', 'Q2_K', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K'];
const QUANT_TOL = 0.75;

const N = 40;

describe('llama.cpp reference: quantized GGUF types (Llama)', function () {
  this.timeout(300_000); // llama.cpp and wasm start-up on a loaded 2-core machine
  let dir: string;
  let f32: string;
  before(async () => {
    await selectBackend({ backend: 'wasm' });
    dir = mkdtempSync(join(tmpdir(), 'adapt-lab-quants-'));
    f32 = (await writeRandomModel(join(dir, 'f32'), CONFIG, { seed: 5 })).gguf;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const type of TYPES) {
    it(`${type}: llama.cpp loads our file; greedy ids and log-probabilities agree; weights stay quantized`, async () => {
      const path = join(dir, `${type}.gguf`);
      const names = quantizeGguf(f32, path, type);
      assert.equal(names.length, 2 * 7 + 2, 'every 2D weight quantized');
      const lm = await loadModel(path);
      try {
        const m = lm.model;
        assert.equal(m.external.size, names.length, 'kept as blocks');
        assert.ok(m.specs.filter((s) => s.shape.length === 2).every((s) => !m.params.has(s.name)), 'no float32 copy of a 2D weight');
        // Against llama.cpp on the same weights decoded to F32: only summation order differs.
        const deq = join(dir, `${type}.f32.gguf`);
        dequantizeGguf(path, deq);
        const exact = await compareWithLlamaCpp(deq, m, RANDOM_PROMPT, N);
        // Against llama.cpp on the quantized file: it also rounds activations to 8 bits inside
        // its quantized dot products (Q8_0/Q8_1/Q8_K blocks), which moves its own log-probabilities.
        const cpp = await openLlamaCpp(path, { contextSize: 64 });
        let quant: Float64Array[];
        try { quant = await cpp.logProbs(exact.run.ids); } finally { await cpp.dispose(); }
        const vsQuant = compareLogProbs(engineLogProbs(m, exact.run.ids), quant);
        const cppOwn = compareLogProbs(exact.run.logProbs, quant);
        const probable = compareLogProbs(engineLogProbs(m, exact.run.ids), quant, 1e-3).maxAbsLogProb;
        console.log(`      ${type} (${bitsPerWeight(type)} bits/weight): vs llama.cpp on its F32 decoding: ${describeAgreement(exact)}; `
          + `vs llama.cpp on the ${type} file: ${describeAgreement(vsQuant)} (${probable.toExponential(2)} over tokens with p ≥ 1e-3); `
          + `llama.cpp F32 decoding vs ${type}: ${describeAgreement(cppOwn)}`);
        assert.deepEqual(exact.argmaxMisses, [], describeAgreement(exact));
        assert.deepEqual(exact.ourGreedy, exact.run.generated);
        assert.ok(exact.maxAbsLogProb < 1e-3, describeAgreement(exact));
        assert.ok(vsQuant.maxAbsLogProb < QUANT_TOL, describeAgreement(vsQuant));
        assert.ok(vsQuant.maxAbsLogProb <= cppOwn.maxAbsLogProb + 1e-3, `ours vs llama.cpp ${type}: ${describeAgreement(vsQuant)}; `
          + `llama.cpp's own F32 vs ${type}: ${describeAgreement(cppOwn)}`);
        // The same file with every weight expanded to float32 up front: the compact path computes the same model.
        const ours = engineLogProbs(m, exact.run.ids);
        for (const s of m.specs) if (m.external.has(s.name)) m.dense(s.name);
        assert.equal(m.external.size, 0);
        const dense = engineLogProbs(m, exact.run.ids);
        let worst = 0;
        ours.forEach((row, p) => row.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - dense[p][j])))));
        assert.ok(worst < 1e-4, `compact vs expanded: max |Δ log p| ${worst}`);
      } finally {
        lm.model.dispose();
      }
    });
  }

  // One K-quant per family: every family of the reference tests (test/helpers/family-cases.ts)
  // widened so its rows are whole 256-value super-blocks (rows that are not stay F32, as
  // llama.cpp's quantize leaves them), plus GPT-2 (Conv1D weights and the position table quantized).
  const FAMILIES: { name: string; config: Record<string, unknown>; normOffset?: boolean }[] = [
    ...FAMILY_CASES.map((c) => ({ name: c.name, normOffset: c.normOffset, config: { ...c.config, hidden_size: 256, intermediate_size: 512 } })),
    { name: 'GPT-2', config: { architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', n_embd: 256, n_layer: 2, n_head: 4, n_positions: 256, n_inner: null, activation_function: 'gelu_new', layer_norm_epsilon: 1e-5, tie_word_embeddings: true } },
  ];
  for (const fam of FAMILIES) {
    it(`${fam.name} at Q4_K: as llama.cpp on the F32 decoding, and within llama.cpp's own spread on the Q4_K file`, async () => {
      const src = (await writeRandomModel(join(dir, fam.name.replace(/\W+/g, '_')), fam.config, { seed: 9, normOffset: fam.normOffset })).gguf;
      const path = join(dir, `${fam.name.replace(/\W+/g, '_')}.q4k.gguf`);
      const names = quantizeGguf(src, path, 'Q4_K');
      const deq = join(dir, `${fam.name.replace(/\W+/g, '_')}.q4k.f32.gguf`);
      dequantizeGguf(path, deq);
      const lm = await loadModel(path);
      try {
        const m = lm.model;
        // (F32 weights may be kept outside the heap too, on BLAS: only the Q4_K ones are counted.)
        const blocks = [...m.external.values()].filter((q) => q.type === 'Q4_K').length;
        assert.ok(blocks >= 2 * 3 + 1 && blocks <= names.length, `${blocks} of ${names.length} kept as blocks`);
        const exact = await compareWithLlamaCpp(deq, m, RANDOM_PROMPT, N);
        // The family's own float32 agreement with llama.cpp (GPT-2's is ~4e-3: ggml's GELU reads a
        // float16 table): the quantized model must match its decoding as closely.
        const f32 = await loadModel(src);
        let baseline: number;
        try { baseline = (await compareWithLlamaCpp(src, f32.model, RANDOM_PROMPT, N)).maxAbsLogProb; } finally { f32.model.dispose(); }
        const cpp = await openLlamaCpp(path, { contextSize: 64 });
        let quant: Float64Array[];
        try { quant = await cpp.logProbs(exact.run.ids); } finally { await cpp.dispose(); }
        const vsQuant = compareLogProbs(engineLogProbs(m, exact.run.ids), quant);
        const cppOwn = compareLogProbs(exact.run.logProbs, quant);
        console.log(`      ${fam.name} Q4_K: vs llama.cpp on its F32 decoding: ${describeAgreement(exact)} (the F32 model: ${baseline.toExponential(2)}); `
          + `vs llama.cpp on the Q4_K file: ${describeAgreement(vsQuant)}; llama.cpp F32 decoding vs Q4_K: ${describeAgreement(cppOwn)}`);
        assert.deepEqual(exact.argmaxMisses, [], describeAgreement(exact));
        assert.deepEqual(exact.ourGreedy, exact.run.generated);
        assert.ok(exact.maxAbsLogProb < Math.max(1e-3, 2 * baseline), describeAgreement(exact));
        assert.ok(vsQuant.maxAbsLogProb < QUANT_TOL, describeAgreement(vsQuant));
        assert.ok(vsQuant.maxAbsLogProb <= cppOwn.maxAbsLogProb + 1e-3, `ours ${describeAgreement(vsQuant)}; llama.cpp's own ${describeAgreement(cppOwn)}`);
      } finally {
        lm.model.dispose();
      }
    });
  }

  it('LoRA on a Q4_K base: the merged GGUF export is F32 and llama.cpp runs it as ours runs base + adapter', async () => {
    const path = join(dir, 'lora-base.q4k.gguf');
    quantizeGguf(f32, path, 'Q4_K');
    const lm = await loadModel(path);
    try {
      const m = lm.model;
      applyAdapt(m, { lora: { rank: 4, alpha: 8, dropout: 0, targetModules: 'all-linear' } }, { rng: new Rng(1), layerLrDecay: 1, l2sp: false });
      const rng = new Rng(2);
      for (const ad of m.lora.values()) ad.B.assign(tf.tensor(Float32Array.from({ length: ad.B.size }, () => (rng.next() - 0.5) * 0.2), ad.B.shape));
      const out = join(dir, 'merged');
      mkdirSync(out);
      writeMergedGguf({ model: m, base: { format: 'gguf', path }, tokenizer: lm.tokenizer, chatTemplate: lm.chatTemplate }, out, 'f32');
      const merged = join(out, 'model.gguf');
      assert.deepEqual([...new Set(readGguf(merged).tensors.map((t) => t.typeName))], ['F32']);
      assert.equal(m.external.size, 2 * 7 + 2, 'exporting expanded no weight of the model in memory');
      const a = await compareWithLlamaCpp(merged, m, RANDOM_PROMPT, N);
      console.log(`      Q4_K + LoRA (unmerged, ours) vs merged F32 export (llama.cpp): ${describeAgreement(a)}`);
      assert.deepEqual(a.argmaxMisses, [], describeAgreement(a));
      assert.deepEqual(a.ourGreedy, a.run.generated);
      assert.ok(a.maxAbsLogProb < 1e-3, describeAgreement(a));
    } finally {
      lm.model.dispose();
    }
  });

  it('LoRA on a Q4_K base: llama.cpp runs the Q4_K file with our GGUF LoRA adapter as ours runs it', async () => {
    const path = join(dir, 'lora-cpp.q4k.gguf');
    quantizeGguf(f32, path, 'Q4_K');
    const deq = join(dir, 'lora-cpp.q4k.f32.gguf');
    dequantizeGguf(path, deq);
    const lm = await loadModel(path);
    try {
      const m = lm.model;
      applyAdapt(m, { lora: { rank: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] } }, { rng: new Rng(1), layerLrDecay: 1, l2sp: false });
      const rng = new Rng(3);
      for (const ad of m.lora.values()) ad.B.assign(tf.tensor(Float32Array.from({ length: ad.B.size }, () => (rng.next() - 0.5) * 0.2), ad.B.shape));
      const out = join(dir, 'adapter');
      mkdirSync(out);
      writeGgufLora({ model: m, base: { format: 'gguf', path } }, out, 'f32');
      const adapter = join(out, 'adapter.gguf');
      // The adapter on the F32 decoding: only summation order differs.
      const exact = await compareWithLlamaCpp(deq, m, RANDOM_PROMPT, N, { lora: adapter });
      const cpp = await openLlamaCpp(path, { contextSize: 64, lora: adapter });
      let quant: Float64Array[];
      try { quant = await cpp.logProbs(exact.run.ids); } finally { await cpp.dispose(); }
      const vsQuant = compareLogProbs(engineLogProbs(m, exact.run.ids), quant);
      const cppOwn = compareLogProbs(exact.run.logProbs, quant);
      console.log(`      Q4_K + GGUF LoRA: vs llama.cpp on the F32 decoding + adapter: ${describeAgreement(exact)}; vs llama.cpp on the Q4_K file + adapter: `
        + `${describeAgreement(vsQuant)}; llama.cpp's own F32 vs Q4_K: ${describeAgreement(cppOwn)}`);
      assert.deepEqual(exact.argmaxMisses, [], describeAgreement(exact));
      assert.deepEqual(exact.ourGreedy, exact.run.generated);
      assert.ok(exact.maxAbsLogProb < 1e-3, describeAgreement(exact));
      assert.ok(vsQuant.maxAbsLogProb < QUANT_TOL, describeAgreement(vsQuant));
      assert.ok(vsQuant.maxAbsLogProb <= cppOwn.maxAbsLogProb + 1e-3, `ours ${describeAgreement(vsQuant)}; llama.cpp's own ${describeAgreement(cppOwn)}`);
    } finally {
      lm.model.dispose();
    }
  });
});
