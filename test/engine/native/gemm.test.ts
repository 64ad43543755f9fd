// The batched product behind the BLAS kernels, driven by a plain JavaScript sgemm so it runs
// without any library: every layout (transposes, broadcast batches, the one-tall-product
// shortcut) against tfjs's matMul on the cpu backend.
import { strict as assert } from 'node:assert';
import { Sgemm } from '../../../src/engine/native/blas';
import { gemmInto, productShape } from '../../../src/engine/native/gemm';
import { tf } from '../../../src/engine/tf';
import { selectBackend } from '../../../src/engine/backend';

/** Row-major reference sgemm, one element at a time. */
const jsSgemm: Sgemm = (tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) => {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += (tA ? a[p * lda + i] : a[i * lda + p]) * (tB ? b[j * ldb + p] : b[p * ldb + j]);
      c[i * ldc + j] = alpha * s + (beta === 0 ? 0 : beta * c[i * ldc + j]);
    }
  }
};

function counting(): { sgemm: Sgemm; calls: number } {
  const o = { calls: 0, sgemm: ((...args: Parameters<Sgemm>) => { o.calls++; jsSgemm(...args); }) as Sgemm };
  return o;
}

describe('batched sgemm layout (gemm.ts)', () => {
  before(async () => {
    await selectBackend({ backend: 'wasm' });
  });

  const cases: [number[], number[], boolean, boolean][] = [
    [[4, 6], [6, 5], false, false],
    [[6, 4], [5, 6], true, true],
    [[3, 4, 6], [3, 5, 6], false, true],
    [[3, 6, 4], [6, 5], true, false],
    [[3, 4, 6], [6, 5], false, false], // shared right operand: one tall product
    [[1, 4, 6], [2, 3, 6, 5], false, false],
    [[2, 1, 4, 6], [3, 5, 6], false, true],
  ];
  for (const [as, bs, tA, tB] of cases) {
    it(`[${as}]${tA ? 'ᵀ' : ''} × [${bs}]${tB ? 'ᵀ' : ''} equals tf.matMul`, () => {
      tf.tidy(() => {
        const a = tf.randomNormal(as, 0, 1, 'float32', 1);
        const b = tf.randomNormal(bs, 0, 1, 'float32', 2);
        // tf.matMul broadcasts less than numpy: compare with both operands tiled to the output's batch.
        const shape = productShape(as, bs, tA, tB);
        const batch = shape.out.slice(0, -2);
        const want = tf.matMul(tf.broadcastTo(a, [...batch, ...as.slice(-2)]), tf.broadcastTo(b, [...batch, ...bs.slice(-2)]), tA, tB);
        assert.deepEqual(shape.out, want.shape);
        const c = new Float32Array(want.size).fill(NaN);
        const s = counting();
        gemmInto(s.sgemm, a.dataSync() as Float32Array, as, b.dataSync() as Float32Array, bs, tA, tB, c);
        const w = want.dataSync();
        for (let i = 0; i < w.length; i++) assert.ok(Math.abs(c[i] - w[i]) < 1e-4, `element ${i}: ${c[i]} vs ${w[i]}`);
        const batches = shape.out.slice(0, -2).reduce((p, d) => p * d, 1);
        const tall = bs.length === 2 && !tA && as.length > 2;
        assert.equal(s.calls, tall ? 1 : batches);
      });
    });
  }

  it('adds to what the output holds when beta is 1 (a bias written there first)', () => {
    const a = Float32Array.from([1, 2, 3, 4]);
    const c = Float32Array.from([10, 20, 10, 20]);
    gemmInto(jsSgemm, a, [2, 2], Float32Array.from([1, 0, 0, 1]), [2, 2], false, false, c, 1);
    assert.deepEqual([...c], [11, 22, 13, 24]);
  });

  it('an empty inner dimension gives zeros; mismatched shapes are refused in tfjs words', () => {
    const c = new Float32Array(6).fill(7);
    gemmInto(jsSgemm, new Float32Array(0), [2, 0], new Float32Array(0), [0, 3], false, false, c);
    assert.deepEqual([...c], [0, 0, 0, 0, 0, 0]);
    assert.throws(() => productShape([2, 3], [4, 5], false, false), /inner shapes \(3\) and \(4\)/);
    assert.throws(() => productShape([2, 2, 3], [3, 3, 5], false, false), /must match/);
  });
});
