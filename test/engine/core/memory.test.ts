// The memory estimate shown before a run and used to refuse runs that cannot fit one wasm heap.
import { strict as assert } from 'node:assert';
import { estimateTrainingMemory } from '../../../src/engine/core/memory';
import { ModelConfig } from '../../../src/engine/core/model-config';

const gpt2Small: ModelConfig = { family: 'gpt2', vocabSize: 256, hidden: 384, layers: 6, heads: 6, headDim: 64, maxPositions: 256, normEps: 1e-5, tiedHead: true };
const run = { batchSize: 8, maxLength: 256, totalParams: 10_844_160, trainableParams: 10_844_160, firstTrainableLayer: 0 };

describe('training memory estimate', () => {
  it('grows with the batch and the trained blocks', () => {
    const a = estimateTrainingMemory(gpt2Small, run);
    assert.ok(estimateTrainingMemory(gpt2Small, { ...run, batchSize: 16 }).activations > 1.9 * a.activations);
    assert.ok(estimateTrainingMemory(gpt2Small, { ...run, firstTrainableLayer: 4 }).activations < a.activations / 2);
    assert.equal(a.bytes, a.heapBytes);
    assert.equal(a.threads, 1);
  });

  it('with threads: each heap holds its share of the rows, the whole run a replica per thread', () => {
    const one = estimateTrainingMemory(gpt2Small, run);
    const two = estimateTrainingMemory(gpt2Small, { ...run, threads: 2 });
    assert.equal(two.threads, 2);
    assert.ok(Math.abs(two.activations - one.activations / 2) < 1, 'half the rows per thread');
    assert.ok(two.heapBytes < one.heapBytes);
    assert.ok(two.bytes > one.bytes, 'a second copy of the weights');
    assert.equal(estimateTrainingMemory(gpt2Small, { ...run, batchSize: 1, threads: 4 }).threads, 1, 'no more threads than rows');
  });
});
