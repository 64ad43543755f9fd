// Causal attention read in place from a packed q|k|v (src/engine/native/attention.ts through
// model/attention-packed.ts) gives the general attention's output and q|k|v gradient (ops.ts on
// the split heads, tfjs autodiff of the generic ops), on wasm and cpu with products on BLAS.
import { strict as assert } from 'node:assert';
import { selectBackend } from '../../../src/engine/backend';
import { tf, Tensor } from '../../../src/engine/tf';
import { enableBlas } from '../../../src/engine/native';
import { attention, packedAttentionOn, setFastPath } from '../../../src/engine/model/ops';
import { packedCausalAttention } from '../../../src/engine/model/attention-packed';

function general(qkv: Tensor, heads: number): Tensor {
  const [B, T, row] = qkv.shape as number[];
  const [q, k, v] = tf.split(qkv, 3, -1).map((t) => t.reshape([B, T, heads, row / 3 / heads]));
  return attention(q, k, v, 0);
}

function close(got: Float32Array, want: Float32Array, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  let num = 0, den = 0;
  for (let i = 0; i < want.length; i++) {
    assert.ok(Number.isFinite(got[i]), `${what}[${i}] is ${got[i]}`);
    num += (got[i] - want[i]) ** 2;
    den += want[i] ** 2;
  }
  assert.ok(den > 0, `${what}: all zero`);
  assert.ok(Math.sqrt(num / den) < 1e-5, `${what}: relative difference ${Math.sqrt(num / den)}`);
}

describe('packed q|k|v attention on BLAS', function () {
  this.timeout(60_000);
  after(async () => {
    setFastPath(true);
    await selectBackend({ backend: 'wasm' });
  });

  for (const backend of ['wasm', 'cpu'] as const) {
    for (const [B, T, H, hd] of [[2, 5, 3, 4], [1, 17, 2, 8], [3, 1, 1, 4]]) {
      it(`${backend}, B ${B} T ${T} heads ${H} × ${hd}: output and q|k|v gradient equal the general attention's`, async function () {
        await selectBackend({ backend });
        if (!enableBlas(backend).on) this.skip(); // no BLAS here: blas.test.ts says why (and fails on CI)
        assert.ok(packedAttentionOn());
        tf.tidy(() => {
          const qkv = tf.randomNormal([B, T, 3 * H * hd], 0, 1, 'float32', 11);
          const dy = tf.randomNormal([B, T, H * hd], 0, 1, 'float32', 12);
          const loss = (f: (x: Tensor) => Tensor) => (x: Tensor) => tf.sum(tf.mul(f(x), dy));
          const got = packedCausalAttention(qkv, H);
          const gotGrad = tf.grad(loss((x) => packedCausalAttention(x, H)))(qkv);
          setFastPath(false); // tfjs's autodiff of the generic ops
          const want = general(qkv, H);
          const wantGrad = tf.grad(loss((x) => general(x, H)))(qkv);
          setFastPath(true);
          assert.deepEqual(got.shape, [B, T, H * hd]);
          assert.deepEqual(gotGrad.shape, [B, T, 3 * H * hd]);
          close(got.dataSync() as Float32Array, want.dataSync() as Float32Array, 'output');
          close(gotGrad.dataSync() as Float32Array, wantGrad.dataSync() as Float32Array, 'gradient');
        });
      });
    }
  }

  it('is not used without BLAS products (the general attention runs)', async () => {
    await selectBackend({ backend: 'wasm', blas: false });
    try {
      assert.equal(packedAttentionOn(), false);
    } finally {
      await selectBackend({ backend: 'wasm', blas: true });
    }
  });
});
