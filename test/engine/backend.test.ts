import { strict as assert } from 'node:assert';
import { selectBackend } from '../../src/engine/backend';
import { tf } from '../../src/engine/tf';

describe('backend selection', () => {
  it('falls back past the native backends that are not installed and lands on wasm', async () => {
    const choice = await selectBackend({ backend: 'auto' });
    assert.equal(choice.name, 'wasm');
    assert.equal(tf.getBackend(), 'wasm');
    const names = choice.skipped.map((s) => s.name);
    assert.deepEqual(names, ['tensorflow-gpu', 'tensorflow']);
    for (const s of choice.skipped) assert.match(s.reason, /not installed|loaded|GPU|Cannot/);
  });
  it('rejects an unknown backend name', async () => {
    await assert.rejects(selectBackend({ backend: 'tpu' }), /unknown backend "tpu"/);
  });
  it('can force cpu and go back to wasm', async () => {
    assert.equal((await selectBackend({ backend: 'cpu' })).name, 'cpu');
    assert.equal((await selectBackend({ backend: 'wasm' })).name, 'wasm');
  });
});
