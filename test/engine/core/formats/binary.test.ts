import { strict as assert } from 'node:assert';
import { alignedView, BinaryReader, BinaryWriter, FormatError } from '../../../../src/engine/core/formats/binary';

describe('formats/binary', () => {
  const w = new BinaryWriter().u8(7).i8(-2).u16(65535).i16(-300).u32(4000000000).i32(-5).f32(1.5).f64(Math.PI)
    .u64(2 ** 53 - 1).i64(-(2 ** 40)).bool(true).string('héllo');
  const bytes = Buffer.from(w.finish());

  it('reads back what the writer wrote, little-endian', () => {
    const r = new BinaryReader(bytes, '/x/y/data.bin');
    assert.equal(r.u8(), 7);
    assert.equal(r.i8(), -2);
    assert.equal(r.u16(), 65535);
    assert.equal(r.i16(), -300);
    assert.equal(r.u32(), 4000000000);
    assert.equal(r.i32(), -5);
    assert.equal(r.f32(), 1.5);
    assert.equal(r.f64(), Math.PI);
    assert.equal(r.u64(), 2 ** 53 - 1);
    assert.equal(r.i64(), -(2 ** 40));
    assert.equal(r.bool(), true);
    assert.equal(r.string(), 'héllo');
    assert.equal(r.remaining, 0);
  });

  it('names the file and the thing being read when truncated', () => {
    const r = new BinaryReader(bytes.subarray(0, 3), '/x/y/stories.gguf');
    r.u8();
    assert.throws(() => r.u32(() => 'metadata key #3 ("general.name") value'), (e: unknown) =>
      e instanceof FormatError && e.message.startsWith('stories.gguf: truncated while reading metadata key #3 ("general.name") value')
      && e.file === '/x/y/stories.gguf');
    assert.equal(r.offset, 1, 'a failed read does not move');
  });

  it('refuses u64/i64 beyond 2^53, bad bools, absurd string lengths', () => {
    const big = Buffer.alloc(8, 0xff);
    assert.throws(() => new BinaryReader(big, 'a.bin').u64('count'), /a\.bin: count is 18446744073709551615/);
    assert.equal(new BinaryReader(big, 'a.bin').i64(), -1);
    const maxI64 = Buffer.alloc(8, 0xff);
    maxI64[7] = 0x7f;
    assert.throws(() => new BinaryReader(maxI64, 'a.bin').i64('offset'), /a\.bin: offset is 9223372036854775807, outside/);
    assert.throws(() => new BinaryReader(Buffer.from([2]), 'a.bin').bool('flag'), /a\.bin: flag is 2, not 0 or 1/);
    const s = new BinaryWriter().u64(2 ** 40).finish();
    assert.throws(() => new BinaryReader(s, 'a.bin').string('name'), /a\.bin: name has length 1099511627776, more than the limit/);
    const s2 = new BinaryWriter().u64(100).u8(1).finish();
    assert.throws(() => new BinaryReader(s2, 'a.bin').string('name'), /a\.bin: truncated while reading name/);
  });

  it('gives aligned views, copying only when misaligned', () => {
    const buf = new Uint8Array(new Float32Array([1, 2, 3]).buffer);
    const padded = new Uint8Array(13);
    padded.set(buf, 1);
    assert.deepEqual([...alignedView(buf, 4, 2, Float32Array)], [2, 3]);
    assert.equal(alignedView(buf, 4, 2, Float32Array).buffer, buf.buffer);
    assert.deepEqual([...alignedView(padded, 1, 3, Float32Array)], [1, 2, 3]);
  });
});
