// stories260K (real, trained weights) through our engine and through llama.cpp: the same greedy
// continuation over 60 tokens and the same next-token log-probabilities at every position.
import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { sharedPath } from '../helpers/shared';
import { compareWithLlamaCpp, describeAgreement } from '../helpers/llamacpp';
import { selectBackend } from '../../src/engine/backend';
import { loadModel } from '../../src/engine/model/loader';

const MODEL = sharedPath('models/stories260K/stories260K.gguf');

describe('llama.cpp reference: stories260K', function () {
  this.timeout(300_000); // llama.cpp and wasm start-up on a loaded 2-core machine
  before(() => {
    // A missing model is a broken checkout, not a reason to pass: fail naming the file.
    assert.ok(existsSync(MODEL), `${MODEL} is missing (shared/models/stories260K)`);
  });

  it('greedy ids are identical over 60 tokens and log-probabilities agree within 1e-4', async () => {
    await selectBackend({ backend: 'wasm' });
    const lm = await loadModel(MODEL);
    try {
      const prompt = [lm.tokenizer!.bos!, ...lm.tokenizer!.encode('Once upon a time')];
      const a = await compareWithLlamaCpp(MODEL, lm.model, prompt, 60);
      assert.equal(a.run.generated.length, 60);
      assert.deepEqual(a.argmaxMisses, [], describeAgreement(a));
      assert.deepEqual(a.ourGreedy, a.run.generated);
      assert.ok(a.maxAbsLogProb < 1e-4, describeAgreement(a));
      console.log(`      stories260K f32: ${describeAgreement(a)}`);
    } finally {
      lm.model.dispose();
    }
  });
});
