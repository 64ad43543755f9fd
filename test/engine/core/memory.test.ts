// The memory estimate shown before a run and used to refuse runs that cannot fit one wasm heap.
import { strict as assert } from 'node:assert';
import { estimateTrainingMemory, formatBytes, planMemory, RUNTIME_BYTES, WASM_HEAP_LIMIT } from '../../../src/engine/core/memory';
import { ModelConfig } from '../../../src/engine/core/model-config';

const gpt2Small: ModelConfig = { family: 'gpt2', vocabSize: 256, hidden: 384, layers: 6, heads: 6, headDim: 64, maxPositions: 256, normEps: 1e-5, tiedHead: true };
const run = { batchSize: 8, maxLength: 256, totalParams: 10_844_160, trainableParams: 10_844_160, firstTrainableLayer: 0 };

describe('training memory estimate', () => {
  it('grows with the batch and the trained blocks', () => {
    const a = estimateTrainingMemory(gpt2Small, run);
    assert.ok(estimateTrainingMemory(gpt2Small, { ...run, batchSize: 16 }).activations > 1.9 * a.activations);
    assert.ok(estimateTrainingMemory(gpt2Small, { ...run, firstTrainableLayer: 4 }).activations < a.activations / 2);
    assert.equal(a.bytes, RUNTIME_BYTES + a.heapBytes);
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

  it('frozen weights outside the heap count in the process once, not in each thread\'s heap', () => {
    // Llama-3.2-1B's shape in BF16, LoRA r8 on q_proj and v_proj, batch 1 × 256.
    const llama1b: ModelConfig = { family: 'llama', arch: 'llama', vocabSize: 128256, hidden: 2048, intermediate: 8192, layers: 16, heads: 32, kvHeads: 8, headDim: 64, maxPositions: 4096, normEps: 1e-5, ropeTheta: 500000, attentionBias: false, tiedHead: true };
    const params = 1_235_814_400;
    const lora = { batchSize: 1, maxLength: 256, totalParams: params + 1_703_936, trainableParams: 1_703_936, firstTrainableLayer: 0 };
    const inHeap = estimateTrainingMemory(llama1b, lora);
    const layout = { heapWeightBytes: 4 * 2048 * 33, externalBytes: 2 * params, blas: true };
    const outside = estimateTrainingMemory(llama1b, { ...lora, ...layout });
    assert.ok(inHeap.weights > WASM_HEAP_LIMIT, 'float32 weights alone do not fit the heap');
    assert.ok(outside.weights < 2 ** 20, 'outside: only the norms in the heap');
    // Every block's activations at 256 tokens do not fit either; one recomputed block at a time does.
    const plan = planMemory(llama1b, { ...lora, ...layout }, true);
    assert.ok(plan.recompute > 0 && plan.recompute < 16 && plan.fits, `${plan.recompute} of 16 blocks recomputed`);
    const all = estimateTrainingMemory(llama1b, { ...lora, ...layout, recompute: 16 });
    assert.ok(all.heapBytes < 0.5 * WASM_HEAP_LIMIT, `every block recomputed: ${all.heapBytes} bytes of heap`);
    assert.equal(outside.external, 2 * params + 4 * 2 ** 20, 'the weights and one scratch block');
    assert.ok(outside.bytes > outside.external + outside.heapBytes);
    const two = estimateTrainingMemory(llama1b, { ...lora, batchSize: 2, threads: 2, heapWeightBytes: 4 * 2048 * 33, externalBytes: 2 * params, blas: true });
    assert.equal(two.external, outside.external, 'one copy for both threads (shared memory)');
  });

  it('recomputes block activations only when keeping them would not fit one wasm heap', () => {
    const run1 = { ...run, batchSize: 1 };
    const small = planMemory(gpt2Small, run1, true);
    assert.deepEqual([small.recompute, small.fits], [0, true]);
    // 8 rows of 256 tokens: every block's activations do not fit, one block's at a time do.
    const big = { ...run, batchSize: 8 };
    const plan = planMemory(gpt2Small, big, true);
    assert.ok(plan.kept.heapBytes > 0.9 * WASM_HEAP_LIMIT, `kept: ${plan.kept.heapBytes}`);
    assert.ok(plan.recompute > 0 && plan.fits, `${plan.recompute} blocks recomputed`);
    assert.ok(plan.mem.heapBytes <= 0.9 * WASM_HEAP_LIMIT && plan.mem.activations < plan.kept.activations);
    // As few as make it fit: one block fewer does not.
    if (plan.recompute > 1) assert.ok(estimateTrainingMemory(gpt2Small, { ...big, recompute: plan.recompute - 1 }).heapBytes > 0.9 * WASM_HEAP_LIMIT);
    assert.deepEqual([planMemory(gpt2Small, big, false).recompute, planMemory(gpt2Small, big, false).fits], [0, true], 'no heap limit off wasm');
    const huge = planMemory(gpt2Small, { ...run, batchSize: 4096 }, true);
    assert.deepEqual([huge.recompute, huge.fits], [6, false]);
  });

  it('formats sizes one way for every program (estimates, exports, the catalogue)', () => {
    assert.deepEqual([512, 37 * 1024 + 300, 210 * 2 ** 20, 1.534 * 2 ** 30].map(formatBytes), ['512 B', '37 KiB', '210 MiB', '1.53 GiB']);
  });
});
