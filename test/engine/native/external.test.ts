// Products against a frozen weight outside the tensor backend (src/engine/native/external.ts):
// f32 and bf16 weights give tf.matMul's product and gradient, on BLAS and without it, and the
// weight never becomes a tensor.
import { strict as assert } from 'node:assert';
import { selectBackend } from '../../../src/engine/backend';
import { tf } from '../../../src/engine/tf';
import { disableBlas, enableBlas } from '../../../src/engine/native';
import { bf16Weight, ExternalWeight, f32Weight, matmulExternal } from '../../../src/engine/native/external';
import { kernelCounts } from '../../../src/engine/native/kernels';

/** bf16 bits of each value (truncated), and the float32 values they stand for. */
function toBf16(v: Float32Array): { bits: Uint16Array; values: Float32Array } {
  const u = new Uint32Array(v.buffer.slice(0));
  const bits = Uint16Array.from(u, (x) => x >>> 16);
  return { bits, values: new Float32Array(Uint32Array.from(bits, (b) => b << 16).buffer) };
}

describe('matmul against a weight outside the backend', function () {
  this.timeout(60_000);
  before(async () => {
    await selectBackend({ backend: 'wasm' });
  });
  after(() => enableBlas('wasm'));

  // 700 × 3000: several scratch blocks of rows (about 1M floats each).
  const K = 700, N = 3000, M = 5;
  const w = new Float32Array(K * N);
  for (let i = 0; i < w.length; i++) w[i] = Math.sin(i * 0.37) * 0.1;
  const bf = toBf16(w);
  const weights: [string, ExternalWeight, Float32Array][] = [
    ['f32', f32Weight(w, K, N), w],
    ['bf16', bf16Weight(bf.bits, K, N), bf.values],
  ];
  for (const blas of [true, false]) {
    for (const [name, ext, dense] of weights) {
      it(`${name}, ${blas ? 'on BLAS' : 'backend kernels'}: product and input gradient equal tf.matMul's`, () => {
        if (blas) {
          if (!enableBlas('wasm').on) return; // no BLAS here: the blas.test.ts says why
        } else disableBlas('wasm');
        try {
          tf.tidy(() => {
            const x = tf.randomNormal([M, K], 0, 1, 'float32', 3);
            const dy = tf.randomNormal([M, N], 0, 1, 'float32', 4);
            const W = tf.tensor2d(dense, [K, N]);
            const bytesBefore = tf.memory().numBytes;
            const c0 = kernelCounts.blas;
            const [y, g] = [matmulExternal(x, ext), tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(matmulExternal(xi, ext), dy)))(x)];
            if (blas) assert.equal(kernelCounts.blas, c0, 'the external product is its own kernel, not BatchMatMul');
            // Only the outputs were allocated: never a [K,N] copy of the weight (8.4 MB).
            assert.ok(tf.memory().numBytes - bytesBefore < K * N * 4, `${tf.memory().numBytes - bytesBefore} bytes allocated`);
            const want = tf.matMul(x, W).dataSync();
            const wantG = tf.matMul(dy, W, false, true).dataSync();
            const got = y.dataSync();
            const gotG = g.dataSync();
            assert.deepEqual(y.shape, [M, N]);
            for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) < 1e-3 * (1 + Math.abs(want[i])), `y[${i}] ${got[i]} vs ${want[i]}`);
            for (let i = 0; i < wantG.length; i++) assert.ok(Math.abs(gotG[i] - wantG[i]) < 1e-3 * (1 + Math.abs(wantG[i])), `dx[${i}] ${gotG[i]} vs ${wantG[i]}`);
          });
        } finally {
          enableBlas('wasm');
        }
      });
    }
  }

  it('refuses a weight whose size does not match its shape, and an x that does not fit', () => {
    assert.throws(() => f32Weight(new Float32Array(5), 2, 3), /5 values for \[2, 3\]/);
    tf.tidy(() => assert.throws(() => matmulExternal(tf.ones([2, 4]), f32Weight(new Float32Array(6), 3, 2)), /x is \[2,4\]|inner shapes/));
  });
});
