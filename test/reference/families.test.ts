// Random small models of every family through our engine and through llama.cpp (the reference
// implementation): the same weights as a Hugging Face folder and as the GGUF our exporter writes.
// Per family: greedy ids over 40 tokens identical, next-token log-probabilities within the
// tolerance below, and the HF folder and the GGUF give the same logits.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareWithLlamaCpp, describeAgreement, engineLogProbs } from '../helpers/llamacpp';
import { RANDOM_PROMPT, writeRandomModel } from '../helpers/random-model';
import { FAMILY_CASES } from '../helpers/family-cases';
import { selectBackend } from '../../src/engine/backend';
import { loadModel } from '../../src/engine/model/loader';

const N = 40;

describe('llama.cpp reference: random models per family', function () {
  this.timeout(300_000); // llama.cpp and wasm start-up on a loaded 2-core machine
  let dir: string;
  before(async () => {
    await selectBackend({ backend: 'wasm' });
    dir = mkdtempSync(join(tmpdir(), 'adapt-lab-families-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const c of FAMILY_CASES) {
    it(`${c.name}: greedy ids and log-probabilities as llama.cpp's; HF folder and GGUF agree`, async () => {
      const files = await writeRandomModel(join(dir, c.name), c.config, { normOffset: c.normOffset });
      const fromGguf = await loadModel(files.gguf);
      const fromHf = await loadModel(files.hfDir);
      try {
        const a = await compareWithLlamaCpp(files.gguf, fromGguf.model, RANDOM_PROMPT, N);
        console.log(`      ${c.name} f32: ${describeAgreement(a)}`);
        assert.deepEqual(a.argmaxMisses, [], describeAgreement(a));
        assert.deepEqual(a.ourGreedy, a.run.generated);
        assert.ok(a.maxAbsLogProb < c.tol, describeAgreement(a));
        const g = engineLogProbs(fromGguf.model, a.run.ids);
        const h = engineLogProbs(fromHf.model, a.run.ids);
        let worst = 0;
        g.forEach((row, p) => row.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - h[p][j])))));
        // 1e-4: a GGUF carries llama3 scaling as float32 rope_freqs factors, the HF path computes
        // them in float64 (measured 1.0e-5 there, ≤ 1e-6 elsewhere).
        assert.ok(worst < 1e-4, `HF folder vs GGUF: max |Δ log p| ${worst}`);
      } finally {
        fromGguf.model.dispose();
        fromHf.model.dispose();
      }
    });
  }
});
