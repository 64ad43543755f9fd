// IEEE half (f16) and bfloat16 (bf16) ⇄ f32. Decoding goes through a 65536-entry table of f32
// bit patterns (f16) or a shift (bf16), so it is exact for zeros, subnormals, infinities and
// NaN payloads. Encoding to f16/bf16 rounds to nearest, ties to even; overflow gives ±Inf.
import { alignedView } from './binary';

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

let f16Table: Uint32Array | undefined;

/** f32 bit patterns of all 65536 halves. */
function table(): Uint32Array {
  if (f16Table) return f16Table;
  const t = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) {
      // zero or subnormal: mant × 2^-24, exact in f32
      scratchF32[0] = mant * 2 ** -24;
      t[h] = (sign | scratchU32[0]) >>> 0;
    } else if (exp === 0x1f) {
      t[h] = (sign | 0x7f800000 | (mant << 13)) >>> 0; // ±Inf, or NaN keeping its payload
    } else {
      t[h] = (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
    }
  }
  return (f16Table = t);
}

export function f16ToF32(h: number): number {
  scratchU32[0] = table()[h & 0xffff];
  return scratchF32[0];
}

export function bf16ToF32(b: number): number {
  scratchU32[0] = (b & 0xffff) << 16;
  return scratchF32[0];
}

/** Bits of the f16 nearest to `f` (ties to even). */
export function f32ToF16(f: number): number {
  scratchF32[0] = f;
  return f32BitsToF16(scratchU32[0]);
}

function f32BitsToF16(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return mant ? sign | 0x7e00 | (mant >>> 13) : sign | 0x7c00; // NaN (kept quiet) / Inf
  const e = exp - 112; // rebias 127 → 15
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    const shift = 14 - e; // how many low bits of the 24-bit significand fall off
    if (shift > 24) return sign;
    const full = mant | 0x800000;
    let m = full >>> shift;
    const rem = full & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (m & 1))) m++;
    return sign | m; // m may carry into the smallest normal, which is the right encoding
  }
  let h = sign | (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++; // a carry may reach Inf, correctly
  return h;
}

/** Bits of the bf16 nearest to `f` (ties to even). */
export function f32ToBf16(f: number): number {
  scratchF32[0] = f;
  return f32BitsToBf16(scratchU32[0]);
}

function f32BitsToBf16(x: number): number {
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff)) return ((x >>> 16) | 0x40) & 0xffff; // quiet NaN
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Halves (as bits) → f32. */
export function f16ArrayToF32(src: Uint16Array, out = new Float32Array(src.length)): Float32Array {
  const t = table();
  const o = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < src.length; i++) o[i] = t[src[i]];
  return out;
}

/** bfloat16s (as bits) → f32. */
export function bf16ArrayToF32(src: Uint16Array, out = new Float32Array(src.length)): Float32Array {
  const o = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < src.length; i++) o[i] = src[i] << 16;
  return out;
}

export function f32ArrayToF16(src: Float32Array): Uint16Array {
  const s = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < s.length; i++) out[i] = f32BitsToF16(s[i]);
  return out;
}

export function f32ArrayToBf16(src: Float32Array): Uint16Array {
  const s = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < s.length; i++) out[i] = f32BitsToBf16(s[i]);
  return out;
}

/** `count` little-endian halves at `bytes[offset]` → f32 (range checked by the caller). */
export function f16BytesToF32(bytes: Uint8Array, offset: number, count: number): Float32Array {
  return f16ArrayToF32(alignedView(bytes, offset, count, Uint16Array));
}

/** `count` little-endian bfloat16s at `bytes[offset]` → f32 (range checked by the caller). */
export function bf16BytesToF32(bytes: Uint8Array, offset: number, count: number): Float32Array {
  return bf16ArrayToF32(alignedView(bytes, offset, count, Uint16Array));
}
