// Every quantized GGUF type on one family (Llama), through llama.cpp and our engine: a random
// model written by the project's writer, its 2D weights quantized by the project's quantizer
// (ggml's reference encoders), run by both on the same file. llama.cpp loading the file and
// agreeing proves the block layouts; our engine keeps the weights as blocks (never a float32
// copy of the model) and gives the logits of the dequantized float32 model.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareWithLlamaCpp, describeAgreement, engineLogProbs } from '../helpers/llamacpp';
import { RANDOM_PROMPT, tinyLlamaConfig, writeRandomModel } from '../helpers/random-model';
import { quantizeGguf } from '../helpers/quantize-gguf';
import { selectBackend } from '../../src/engine/backend';
import { loadModel } from '../../src/engine/model/loader';
import { bitsPerWeight } from '../../src/engine/formats/quant';

// Rows must be whole 256-value super-blocks for the K types: hidden and intermediate are multiples of 256.
const CONFIG = tinyLlamaConfig({ hidden_size: 256, intermediate_size: 512, num_attention_heads: 4, num_key_value_heads: 2 });

const TOL: Record<string, number> = {
  Q4_0: 1, Q4_1: 1, Q5_0: 1, Q5_1: 1, Q8_0: 1, Q2_K: 1, Q3_K: 1, Q4_K: 1, Q5_K: 1, Q6_K: 1,
};

const N = 40;

describe('llama.cpp reference: quantized GGUF types (Llama)', function () {
  let dir: string;
  let f32: string;
  before(async () => {
    await selectBackend({ backend: 'wasm' });
    dir = mkdtempSync(join(tmpdir(), 'adapt-lab-quants-'));
    f32 = (await writeRandomModel(join(dir, 'f32'), CONFIG, { seed: 5 })).gguf;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const type of Object.keys(TOL)) {
    it(`${type}: llama.cpp loads our file; greedy ids and log-probabilities agree; weights stay quantized`, async () => {
      const path = join(dir, `${type}.gguf`);
      const names = quantizeGguf(f32, path, type);
      assert.equal(names.length, 2 * 7 + 2, 'every 2D weight quantized');
      const lm = await loadModel(path);
      try {
        const m = lm.model;
        assert.equal(m.quantized.size, names.length, 'kept as blocks');
        assert.ok(m.specs.filter((s) => s.shape.length === 2).every((s) => !m.params.has(s.name)), 'no float32 copy of a 2D weight');
        const a = await compareWithLlamaCpp(path, m, RANDOM_PROMPT, N);
        const greedySame = a.ourGreedy.filter((t, i) => t === a.run.generated[i]).length;
        console.log(`      ${type} (${bitsPerWeight(type)} bits/weight): ${describeAgreement(a)}; greedy ${greedySame}/${N}`);
        assert.ok(a.maxAbsLogProb < TOL[type], describeAgreement(a));
        // The same file with every weight expanded to float32 up front: the compact path computes the same model.
        const ours = engineLogProbs(m, a.run.ids);
        for (const s of m.specs) if (m.quantized.has(s.name)) m.dense(s.name);
        assert.equal(m.quantized.size, 0);
        const dense = engineLogProbs(m, a.run.ids);
        let worst = 0;
        ours.forEach((row, p) => row.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - dense[p][j])))));
        assert.ok(worst < 1e-4, `compact vs expanded: max |Δ log p| ${worst}`);
      } finally {
        lm.model.dispose();
      }
    });
  }
});
