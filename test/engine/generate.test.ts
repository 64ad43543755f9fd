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
    run({ maxTokens: 20 }); // fills the causal-mask cache for this prompt and cache size
    const before = tf.memory().numTensors;
    run({ maxTokens: 20 });
    run({ maxTokens: 20, temperature: 0.8, seed: 4 });
    assert.equal(tf.memory().numTensors, before);
  });

  it('decodes with a fixed-size KV cache: the same bytes in use after every token, and the same text as a growing cache', () => {
    const bytes: number[] = [];
    const r = run({ maxTokens: 40, onText: () => bytes.push(tf.memory().numBytes) });
    assert.ok(bytes.length >= 30, `${bytes.length} tokens streamed`);
    assert.equal(new Set(bytes.slice(1)).size, 1, `bytes in use per token: ${[...new Set(bytes)].join(', ')}`);
    // The same greedy text as a cache that grows by concatenation (no capacity).
    const model = lm.model;
    const ids = lm.tokenizer!.encode('Once upon a time');
    const grow = model.newCache();
    const fixed = model.newCache(ids.length + 8);
    let a = ids, b = ids;
    const out: number[][] = [[], []];
    for (let i = 0; i < 8; i++) {
      const next = (cache: typeof grow, feed: number[]) => tf.tidy(() => {
        const logits = model.forward(tf.tensor2d([feed], [1, feed.length], 'int32'), model.newContext({ cache }), { lastOnly: true });
        return tf.argMax(logits.reshape([-1])).dataSync()[0];
      });
      const x = next(grow, a), y = next(fixed, b);
      out[0].push(x);
      out[1].push(y);
      a = [x];
      b = [y];
      assert.equal(fixed.layers[0].k.shape[1], ids.length + 8, 'the fixed cache keeps its size');
    }
    assert.deepEqual(out[1], out[0]);
    assert.equal(r.text.startsWith(', there was a little girl named Lily'), true);
    assert.throws(() => model.forward(tf.tensor2d([[1, 2]], [1, 2], 'int32'), model.newContext({ cache: fixed })), /KV cache holds \d+ positions/);
    for (const c of [grow, fixed]) for (const l of c.layers) tf.dispose([l.k, l.v]);
  });

  it('refuses a prompt longer than the context', () => {
    assert.throws(() => generate(lm.model, lm.tokenizer!, 'a '.repeat(3000), { maxTokens: 1 }), /context/);
  });
});
