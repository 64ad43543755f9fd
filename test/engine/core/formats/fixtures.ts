// Builders shared by the format tests (not a test file itself).
import { BinaryWriter } from '../../../../src/engine/core/formats/binary';
import { f32ToF16 } from '../../../../src/engine/core/formats/float16';

/** A safetensors file from a header (object or raw JSON text) and data bytes. */
export function makeSafetensors(header: unknown, data: Uint8Array = new Uint8Array(0)): Buffer {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, data]);
}

/** Seeded PRNG (mulberry32) in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Q8_0 blocks for `values` (length a multiple of 32) with the given per-block scales. */
export function q8_0Blocks(q: Int8Array, scales: number[]): Uint8Array {
  const out = new Uint8Array(scales.length * 34);
  scales.forEach((d, b) => {
    const h = f32ToF16(d);
    out[b * 34] = h & 0xff;
    out[b * 34 + 1] = h >> 8;
    out.set(new Uint8Array(q.buffer, q.byteOffset + b * 32, 32), b * 34 + 2);
  });
  return out;
}

/** The start of a hand-made GGUF: magic, version, counts. Continue with the writer. */
export function ggufHead(tensorCount: number | bigint, kvCount: number | bigint, version = 3): BinaryWriter {
  const w = new BinaryWriter().bytes(Buffer.from('GGUF', 'latin1')).u32(version);
  const u64 = (v: number | bigint) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    w.bytes(b);
  };
  u64(tensorCount);
  u64(kvCount);
  return w;
}

/** Writes a u64 that may exceed 2^53. */
export function bigU64(w: BinaryWriter, v: bigint): BinaryWriter {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return w.bytes(b);
}
