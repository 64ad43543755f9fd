// Decoding of ggml's 256-value "K" super-blocks Q2_K, Q3_K, Q4_K, Q5_K and Q6_K, byte for byte
// as ggml-common.h lays them out and ggml-quants.c's dequantize_row_* reads them. Products are
// rounded to float32 in C's order (Math.fround), so the values equal ggml's scalar decoder.
// The encoders (quantize_row_*_ref) are in kquant-make.ts.
import { half } from './quant-legacy';

const f = Math.fround;

/** Scale and min j (0..7) of a Q4_K/Q5_K block's 12 packed 6-bit scale bytes at s (get_scale_min_k4). */
export function scaleMinK4(bytes: Uint8Array, s: number, j: number): [number, number] {
  if (j < 4) return [bytes[s + j] & 63, bytes[s + j + 4] & 63];
  return [(bytes[s + j + 4] & 0xf) | ((bytes[s + j - 4] >> 6) << 4), (bytes[s + j + 4] >> 4) | ((bytes[s + j] >> 6) << 4)];
}

/** Scale j (0..15) of a Q3_K block's 12 packed 6-bit scale bytes at s, minus its offset 32. */
export function scaleQ3K(bytes: Uint8Array, s: number, j: number): number {
  const low = j < 8 ? bytes[s + j] & 0xf : bytes[s + j - 8] >> 4;
  const high = (bytes[s + 8 + (j % 4)] >> (2 * (j >> 2))) & 3;
  return (low | (high << 4)) - 32;
}

// block_q2_K: u8 scales[16] (4-bit scale | 4-bit min << 4), u8 qs[64] (2 bits), f16 d, f16 dmin.
export function dequantQ2K(bytes: Uint8Array, at: number, blocks: number, out: Float32Array, o: number): void {
  for (let b = 0; b < blocks; b++, at += 84) {
    const d = half(bytes, at + 80);
    const min = half(bytes, at + 82);
    let q = at + 16;
    let is = 0;
    for (let n = 0; n < 256; n += 128, q += 32) {
      for (let shift = 0; shift < 8; shift += 2) {
        for (let part = 0; part < 32; part += 16) {
          const sc = bytes[at + is++];
          const dl = f(d * (sc & 0xf));
          const ml = f(min * (sc >> 4));
          for (let l = 0; l < 16; l++) out[o++] = f(dl * ((bytes[q + part + l] >> shift) & 3)) - ml;
        }
      }
    }
  }
}

// Per-block scratch for decoded sub-block scales (the decoders are synchronous, so one set suffices).
const SC = new Float32Array(16);
const MN = new Float32Array(16);

/** The 8 scales (×d) and mins (×dmin) of a Q4_K/Q5_K block into SC/MN. */
function scalesK4(bytes: Uint8Array, at: number, d: number, min: number): void {
  const s = at + 4;
  for (let j = 0; j < 4; j++) {
    SC[j] = f(d * (bytes[s + j] & 63));
    MN[j] = f(min * (bytes[s + j + 4] & 63));
  }
  for (let j = 4; j < 8; j++) {
    SC[j] = f(d * ((bytes[s + j + 4] & 0xf) | ((bytes[s + j - 4] >> 6) << 4)));
    MN[j] = f(min * ((bytes[s + j + 4] >> 4) | ((bytes[s + j] >> 6) << 4)));
  }
}

// block_q3_K: u8 hmask[32] (high bits), u8 qs[64] (low 2 bits), u8 scales[12] (6-bit), f16 d.
export function dequantQ3K(bytes: Uint8Array, at: number, blocks: number, out: Float32Array, o: number): void {
  for (let b = 0; b < blocks; b++, at += 110) {
    const dAll = half(bytes, at + 108);
    for (let j = 0; j < 16; j++) SC[j] = f(dAll * scaleQ3K(bytes, at + 96, j));
    const hm = at;
    let q = at + 32;
    let is = 0;
    let bit = 0; // hmask bit of this group: a set bit means the level is not lowered by 4
    for (let n = 0; n < 256; n += 128, q += 32) {
      for (let shift = 0; shift < 8; shift += 2, bit++) {
        for (let part = 0; part < 32; part += 16) {
          const dl = SC[is++];
          for (let l = 0; l < 16; l++) {
            const low = (bytes[q + part + l] >> shift) & 3;
            out[o++] = dl * (low - 4 + (((bytes[hm + part + l] >> bit) & 1) << 2));
          }
        }
      }
    }
  }
}

// block_q4_K: f16 d, f16 dmin, u8 scales[12] (6-bit scales and mins), u8 qs[128] (4 bits).
export function dequantQ4K(bytes: Uint8Array, at: number, blocks: number, out: Float32Array, o: number): void {
  for (let b = 0; b < blocks; b++, at += 144) {
    scalesK4(bytes, at, half(bytes, at), half(bytes, at + 2));
    let q = at + 16;
    for (let is = 0; is < 8; is += 2, q += 32) {
      const d1 = SC[is], mn1 = MN[is], d2 = SC[is + 1], mn2 = MN[is + 1];
      for (let l = 0; l < 32; l++) out[o + l] = f(d1 * (bytes[q + l] & 0xf)) - mn1;
      for (let l = 0; l < 32; l++) out[o + 32 + l] = f(d2 * (bytes[q + l] >> 4)) - mn2;
      o += 64;
    }
  }
}

// block_q5_K: f16 d, f16 dmin, u8 scales[12], u8 qh[32] (fifth bits), u8 qs[128] (low 4 bits).
export function dequantQ5K(bytes: Uint8Array, at: number, blocks: number, out: Float32Array, o: number): void {
  for (let b = 0; b < blocks; b++, at += 176) {
    scalesK4(bytes, at, half(bytes, at), half(bytes, at + 2));
    const qh = at + 16;
    let ql = at + 48;
    for (let is = 0; is < 8; is += 2, ql += 32) {
      const d1 = SC[is], mn1 = MN[is], d2 = SC[is + 1], mn2 = MN[is + 1];
      // qh bit `is` holds the fifth bit of the low nibbles, bit `is + 1` of the high ones.
      for (let l = 0; l < 32; l++) out[o + l] = f(d1 * ((bytes[ql + l] & 0xf) | (((bytes[qh + l] >> is) & 1) << 4))) - mn1;
      for (let l = 0; l < 32; l++) out[o + 32 + l] = f(d2 * ((bytes[ql + l] >> 4) | (((bytes[qh + l] >> (is + 1)) & 1) << 4))) - mn2;
      o += 64;
    }
  }
}

// block_q6_K: u8 ql[128] (low 4 bits), u8 qh[64] (high 2 bits), i8 scales[16], f16 d.
export function dequantQ6K(bytes: Uint8Array, at: number, blocks: number, out: Float32Array, o: number): void {
  for (let b = 0; b < blocks; b++, at += 210) {
    const d = half(bytes, at + 208);
    for (let j = 0; j < 16; j++) SC[j] = f(d * ((bytes[at + 192 + j] << 24) >> 24));
    let ql = at, qh = at + 128, sc = 0;
    for (let n = 0; n < 256; n += 128, o += 128, ql += 64, qh += 32, sc += 8) {
      for (let l = 0; l < 32; l++) {
        const is = sc + (l >> 4);
        const h = bytes[qh + l];
        const lo = bytes[ql + l], hi = bytes[ql + l + 32];
        out[o + l] = SC[is] * (((lo & 0xf) | ((h & 3) << 4)) - 32);
        out[o + l + 32] = SC[is + 2] * (((hi & 0xf) | (((h >> 2) & 3) << 4)) - 32);
        out[o + l + 64] = SC[is + 4] * (((lo >> 4) | (((h >> 4) & 3) << 4)) - 32);
        out[o + l + 96] = SC[is + 6] * (((hi >> 4) | (((h >> 6) & 3) << 4)) - 32);
      }
    }
  }
}
