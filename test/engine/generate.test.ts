import { strict as assert } from 'node:assert';
import { sharedPath } from '../helpers/shared';
import { selectBackend } from '../../src/engine/backend';
import { tf } from '../../src/engine/tf';
import { loadModel, LoadedModel } from '../../src/engine/model/loader';
import { generate } from '../../src/engine/generate';

describe('generation', () => {
  let lm: LoadedModel;
  before(async () => {
    await selectBackend({ backend: 'wasm' });
    lm = await loadModel(sharedPath('models/stories260K/stories260K.gguf'));
  });
  after(() => lm.model.dispose());
  const run = (o: Partial<Parameters<typeof generate>[3]> = {}) => generate(lm.model, lm.tokenizer!, 'Once upon a time', { maxTokens: 30, temperature: 0, ...o });

  it('is greedy and deterministic at temperature 0, and adds BOS as the metadata says', () => {
    const a = run();
    assert.equal(a.promptTokens[0], lm.tokenizer!.bos);
    assert.equal(a.text, run().text);
    assert.match(a.text, /^, there was a little girl named Lily/);
  });

  it('samples reproducibly from a seed, and differently from another seed', () => {
    const a = run({ temperature: 1, seed: 1 });
    const b = run({ temperature: 1, seed: 1 });
    const c = run({ temperature: 1, seed: 2 });
    assert.equal(a.text, b.text);
    assert.notEqual(a.text, c.text);
  });

  it('top-k 1 equals greedy; top-p keeps sampling within the nucleus', () => {
    assert.equal(run({ temperature: 1.5, topK: 1, seed: 3 }).text, run().text);
    const p = run({ temperature: 1, topP: 0.0001, seed: 3 });
    assert.equal(p.text, run().text);
  });

  it('stops at a stop sequence and at max tokens, streaming the same text', () => {
    let streamed = '';
    const r = run({ stop: ['Lily'], onText: (t) => (streamed += t) });
    assert.equal(r.stopReason, 'stop-sequence');
    assert.equal(r.text, ', there was a little girl named ');
    assert.equal(streamed, r.text);
    const m = run({ maxTokens: 3 });
    assert.equal(m.tokens.length, 3);
    assert.equal(m.stopReason, 'max-tokens');
  });

  it('leaves no tensors behind', () => {
    run();
    const before = tf.memory().numTensors;
    run({ maxTokens: 20 });
    run({ maxTokens: 20, temperature: 0.8, seed: 4 });
    assert.equal(tf.memory().numTensors, before);
  });

  it('refuses a prompt longer than the context', () => {
    assert.throws(() => generate(lm.model, lm.tokenizer!, 'a '.repeat(3000), { maxTokens: 1 }), /context/);
  });
});
