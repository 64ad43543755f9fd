// F32, F16 and BF16 as one-value "blocks", so a frozen float matrix kept in its file's dtype goes
// through the same row-decoding functions as the ggml block types (quant.ts): rows to float32 on
// demand, the rest of the model never expanded. Bytes are little-endian, as both formats store them.
import type { BlockCodec } from './quant-legacy';
import { f32ToBf16, f32ToF16, f16ToF32 } from './float16';

let halfBits: Uint32Array | undefined;
/** f32 bit patterns of every half (decoding is one table read per value). */
function halfTable(): Uint32Array {
  if (!halfBits) {
    halfBits = new Uint32Array(65536);
    const f = new Float32Array(1);
    const u = new Uint32Array(f.buffer);
    for (let h = 0; h < 65536; h++) {
      f[0] = f16ToF32(h);
      halfBits[h] = u[0];
    }
  }
  return halfBits;
}

/** `n` little-endian 16-bit values at bytes[at], as a view when aligned (a copy otherwise). */
function u16(bytes: Uint8Array, at: number, n: number): Uint16Array {
  const abs = bytes.byteOffset + at;
  if (abs % 2 === 0) return new Uint16Array(bytes.buffer, abs, n);
  const copy = new Uint8Array(2 * n); // (not bytes.slice: on a Buffer that is a view)
  copy.set(bytes.subarray(at, at + 2 * n));
  return new Uint16Array(copy.buffer);
}

function bitsOf(out: Float32Array, o: number, n: number): Uint32Array {
  return new Uint32Array(out.buffer, out.byteOffset + 4 * o, n);
}

export const F32: BlockCodec = {
  name: 'F32', blockSize: 1, typeSize: 4,
  dequant(bytes, at, n, out, o) {
    new Uint8Array(out.buffer, out.byteOffset + 4 * o, 4 * n).set(bytes.subarray(at, at + 4 * n));
  },
  quant(x, xo, n, bytes, at) {
    bytes.set(new Uint8Array(x.buffer, x.byteOffset + 4 * xo, 4 * n), at);
  },
};

export const BF16: BlockCodec = {
  name: 'BF16', blockSize: 1, typeSize: 2,
  dequant(bytes, at, n, out, o) {
    const src = u16(bytes, at, n);
    const dst = bitsOf(out, o, n);
    for (let i = 0; i < n; i++) dst[i] = src[i] << 16;
  },
  quant(x, xo, n, bytes, at) {
    for (let i = 0; i < n; i++) {
      const h = f32ToBf16(x[xo + i]);
      bytes[at + 2 * i] = h & 0xff;
      bytes[at + 2 * i + 1] = h >> 8;
    }
  },
};

export const F16: BlockCodec = {
  name: 'F16', blockSize: 1, typeSize: 2,
  dequant(bytes, at, n, out, o) {
    const t = halfTable();
    const src = u16(bytes, at, n);
    const dst = bitsOf(out, o, n);
    for (let i = 0; i < n; i++) dst[i] = t[src[i]];
  },
  quant(x, xo, n, bytes, at) {
    for (let i = 0; i < n; i++) {
      const h = f32ToF16(x[xo + i]);
      bytes[at + 2 * i] = h & 0xff;
      bytes[at + 2 * i + 1] = h >> 8;
    }
  },
};
