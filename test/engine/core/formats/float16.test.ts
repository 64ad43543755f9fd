import { strict as assert } from 'node:assert';
import {
  bf16ArrayToF32, bf16ToF32, f16ArrayToF32, f16ToF32, f32ArrayToBf16, f32ArrayToF16, f32ToBf16, f32ToF16,
} from '../../../../src/engine/core/formats/float16';

describe('formats/float16', () => {
  it('decodes f16 normals, subnormals, zeros, infinities and NaN', () => {
    assert.equal(f16ToF32(0x3c00), 1);
    assert.equal(f16ToF32(0xc000), -2);
    assert.equal(f16ToF32(0x7bff), 65504);
    assert.equal(f16ToF32(0x0400), 2 ** -14);
    assert.equal(f16ToF32(0x0001), 2 ** -24);
    assert.equal(f16ToF32(0x03ff), 1023 * 2 ** -24);
    assert.equal(f16ToF32(0x8001), -(2 ** -24));
    assert.ok(Object.is(f16ToF32(0x8000), -0));
    assert.equal(f16ToF32(0x7c00), Infinity);
    assert.equal(f16ToF32(0xfc00), -Infinity);
    assert.ok(Number.isNaN(f16ToF32(0x7e00)) && Number.isNaN(f16ToF32(0x7c01)) && Number.isNaN(f16ToF32(0xfe00)));
    assert.equal(f16ToF32(0x3555), 0.333251953125);
  });

  it('encodes f32 → f16 rounding to nearest even, with overflow and underflow', () => {
    assert.equal(f32ToF16(1), 0x3c00);
    assert.equal(f32ToF16(65504), 0x7bff);
    assert.equal(f32ToF16(65519), 0x7bff);
    assert.equal(f32ToF16(65520), 0x7c00);
    assert.equal(f32ToF16(1e10), 0x7c00);
    assert.equal(f32ToF16(-1e10), 0xfc00);
    assert.equal(f32ToF16(1 + 2 ** -11), 0x3c00); // tie → even
    assert.equal(f32ToF16(1 + 3 * 2 ** -11), 0x3c02); // tie → even (up)
    assert.equal(f32ToF16(2 ** -25), 0x0000); // tie between 0 and the smallest subnormal → 0
    assert.equal(f32ToF16(2 ** -25 * 1.0001), 0x0001);
    assert.equal(f32ToF16(3 * 2 ** -25), 0x0002);
    assert.equal(f32ToF16(2 ** -14 - 2 ** -26), 0x0400); // rounds up into the normals
    assert.equal(f32ToF16(1e-30), 0);
    assert.equal(f32ToF16(-1e-30), 0x8000);
    assert.equal(f32ToF16(Infinity), 0x7c00);
    assert.ok(Number.isNaN(f16ToF32(f32ToF16(NaN))));
  });

  it('round-trips every f16 exactly', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const f = f16ArrayToF32(all);
    const back = f32ArrayToF16(f);
    for (let h = 0; h < 65536; h++) {
      if (Number.isNaN(f[h])) assert.ok(Number.isNaN(f16ToF32(back[h])), `NaN ${h}`);
      else assert.equal(back[h], h, `half 0x${h.toString(16)}`);
      assert.ok(Object.is(f16ToF32(h), f[h]) || Number.isNaN(f[h]));
    }
  });

  it('picks the nearest f16 for random values', () => {
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (let i = 0; i < 20000; i++) {
      const x = Math.fround((rand() - 0.5) * 2 ** (Math.floor(rand() * 44) - 28));
      const h = f32ToF16(x);
      const err = Math.abs(f16ToF32(h) - x);
      for (const n of [h - 1, h + 1]) {
        if ((n & 0x7fff) >= 0x7c00 || n < 0 || ((n ^ h) & 0x8000)) continue;
        assert.ok(err <= Math.abs(f16ToF32(n) - x), `x=${x} h=${h}`);
      }
    }
  });

  it('converts bf16 both ways', () => {
    assert.equal(bf16ToF32(0x3f80), 1);
    assert.equal(bf16ToF32(0xc040), -3);
    assert.equal(bf16ToF32(0x0001), 2 ** -133); // subnormal
    assert.equal(bf16ToF32(0x7f80), Infinity);
    assert.ok(Number.isNaN(bf16ToF32(0x7fc0)));
    assert.equal(f32ToBf16(1 + 2 ** -8), 0x3f80); // tie → even
    assert.equal(f32ToBf16(1 + 3 * 2 ** -8), 0x3f82);
    assert.equal(f32ToBf16(3.4e38), 0x7f80);
    assert.ok(Number.isNaN(bf16ToF32(f32ToBf16(NaN))));
    const all = new Uint16Array(65536).map((_, i) => i);
    const back = f32ArrayToBf16(bf16ArrayToF32(all));
    for (let h = 0; h < 65536; h++) if ((h & 0x7fff) <= 0x7f80) assert.equal(back[h], h);
  });
});
