// Products against a frozen weight kept outside the tensor backend in its file's encoding
// (src/engine/native/external.ts through model/external-weights.ts): F32, BF16, F16 and Q8_0
// weights give tf.matMul's product and input gradient on the decoded weight, on BLAS and
// without it, and the weight never becomes a tensor.
import { strict as assert } from 'node:assert';
import { selectBackend } from '../../../src/engine/backend';
import { tf } from '../../../src/engine/tf';
import { disableBlas, enableBlas } from '../../../src/engine/native';
import { dequantizeRows, quantizeMatrix, storedF32, type StoredMatrix } from '../../../src/engine/core/formats/quant';
import { externalEmbed, externalLinear } from '../../../src/engine/model/external-weights';
import { kernelCounts } from '../../../src/engine/native/kernels';

describe('matmul against a weight outside the backend', function () {
  this.timeout(60_000);
  before(async () => {
    await selectBackend({ backend: 'wasm' });
  });
  after(() => enableBlas('wasm'));

  // W is [N, K] as nn.Linear stores it: 3000 × 704, several scratch blocks of rows (about 1M floats each).
  const N = 3000, K = 704, M = 5;
  const w = new Float32Array(N * K);
  for (let i = 0; i < w.length; i++) w[i] = Math.sin(i * 0.37) * 0.1;
  const stored: StoredMatrix[] = [
    storedF32(w, N, K),
    quantizeMatrix('BF16', w, N, K),
    quantizeMatrix('F16', w, N, K),
    quantizeMatrix('Q8_0', w, N, K),
  ];
  // An F32 matrix at an odd byte offset: read through the scratch path instead of in place.
  const odd = new Uint8Array(w.byteLength + 1);
  odd.set(new Uint8Array(w.buffer), 1);
  stored.push({ type: 'F32', rows: N, cols: K, bytes: odd.subarray(1) });

  for (const blas of [true, false]) {
    for (const [i, m] of stored.entries()) {
      const name = `${m.type}${i === 4 ? ' (unaligned)' : ''}`;
      it(`${name}, ${blas ? 'on BLAS' : 'backend kernels'}: y = x·Wᵀ and dx = dy·W equal tf.matMul's on the decoded W`, function () {
        if (blas) {
          if (!enableBlas('wasm').on) this.skip(); // no BLAS here: blas.test.ts says why (and fails on CI)
        } else disableBlas('wasm');
        try {
          tf.tidy(() => {
            const x = tf.randomNormal([M, K], 0, 1, 'float32', 3);
            const dy = tf.randomNormal([M, N], 0, 1, 'float32', 4);
            const W = tf.tensor2d(dequantizeRows(m), [N, K]);
            const bytesBefore = tf.memory().numBytes;
            const c0 = kernelCounts.blas;
            const y = externalLinear(x, m);
            const g = tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(externalLinear(xi, m), dy)))(x);
            if (blas) assert.equal(kernelCounts.blas, c0, 'the external product is its own kernel, not BatchMatMul');
            // Only outputs were allocated: never a [N,K] copy of the weight (8.4 MB).
            if (blas) assert.ok(tf.memory().numBytes - bytesBefore < N * K * 4, `${tf.memory().numBytes - bytesBefore} bytes allocated`);
            const want = tf.matMul(x, W, false, true).dataSync();
            const wantG = tf.matMul(dy, W).dataSync();
            const got = y.dataSync();
            const gotG = g.dataSync();
            assert.deepEqual(y.shape, [M, N]);
            assert.deepEqual(g.shape, [M, K]);
            for (let j = 0; j < want.length; j++) assert.ok(Math.abs(got[j] - want[j]) < 1e-4 * (1 + Math.abs(want[j])), `y[${j}] ${got[j]} vs ${want[j]}`);
            for (let j = 0; j < wantG.length; j++) assert.ok(Math.abs(gotG[j] - wantG[j]) < 1e-4 * (1 + Math.abs(wantG[j])), `dx[${j}] ${gotG[j]} vs ${wantG[j]}`);
          });
        } finally {
          enableBlas('wasm');
        }
      });
    }
  }

  it('embedding rows are decoded from the stored table, only those asked for', () => {
    for (const m of stored) {
      tf.tidy(() => {
        const ids = tf.tensor1d([0, 2999, 17, 17], 'int32');
        const got = externalEmbed(m, ids).dataSync();
        const all = dequantizeRows(m);
        [0, 2999, 17, 17].forEach((r, i) => {
          for (let c = 0; c < K; c++) assert.equal(got[i * K + c], all[r * K + c]);
        });
      });
    }
  });

  it('refuses an x that does not fit the weight, naming both shapes', function () {
    if (!enableBlas('wasm').on) this.skip();
    tf.tidy(() => assert.throws(() => externalLinear(tf.ones([2, 4]), storedF32(new Float32Array(6), 3, 2)), /x is \[2,4\], the weight \[3, 2\]/));
  });
});
