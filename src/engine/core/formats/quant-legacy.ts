// The 32-value block types Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0, as ggml lays them out
// (ggml-common.h) and as ggml-quants.c decodes them (dequantize_row_*) and writes them
// (quantize_row_*_ref). Arithmetic is float32 as in C: every product is rounded to f32
// before the next operation (Math.fround), so values equal ggml's scalar code.
import { f16ToF32, f32ToF16 } from './float16';

const f = Math.fround;

/** Blocks of one type: decode `blocks` blocks at bytes[at] into out[o], or encode x[xo] into bytes[at]. */
export interface BlockCodec {
  name: string;
  blockSize: number;
  typeSize: number;
  dequant(bytes: Uint8Array, at: number, blocks: number, out: Float32Array, o: number): void;
  quant(x: Float32Array, xo: number, blocks: number, bytes: Uint8Array, at: number): void;
}

let halves: Float32Array | undefined;
/** Every f16 as float32 (a table: decoding runs once per block on the hot path). */
function halfTable(): Float32Array {
  if (!halves) {
    halves = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halves[h] = f16ToF32(h);
  }
  return halves;
}

export function half(bytes: Uint8Array, at: number): number {
  return (halves ?? halfTable())[bytes[at] | (bytes[at + 1] << 8)];
}

export function putHalf(bytes: Uint8Array, at: number, v: number): void {
  const h = f32ToF16(v);
  bytes[at] = h & 0xff;
  bytes[at + 1] = h >> 8;
}

function u32(bytes: Uint8Array, at: number): number {
  return (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0;
}

function putU32(bytes: Uint8Array, at: number, v: number): void {
  bytes[at] = v & 0xff;
  bytes[at + 1] = (v >>> 8) & 0xff;
  bytes[at + 2] = (v >>> 16) & 0xff;
  bytes[at + 3] = (v >>> 24) & 0xff;
}

/** C's roundf: half away from zero. */
function roundf(v: number): number {
  return v < 0 ? -Math.round(-v) : Math.round(v);
}

/** The value of largest magnitude in x[o..o+n) (the first one on ties), as the *_0 quantizers pick it. */
function signedAbsMax(x: Float32Array, o: number, n: number): number {
  let amax = 0;
  let max = 0;
  for (let j = 0; j < n; j++) {
    const v = x[o + j];
    if (amax < Math.abs(v)) {
      amax = Math.abs(v);
      max = v;
    }
  }
  return max;
}

function minMax(x: Float32Array, o: number, n: number): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (let j = 0; j < n; j++) {
    const v = x[o + j];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return [min, max];
}

// block_q4_0: f16 d, u8 qs[16] (value j in the low nibble of qs[j], j+16 in the high one); x = d·(q − 8).
export const Q4_0: BlockCodec = {
  name: 'Q4_0', blockSize: 32, typeSize: 18,
  dequant(bytes, at, blocks, out, o) {
    for (let b = 0; b < blocks; b++, at += 18, o += 32) {
      const d = half(bytes, at);
      for (let j = 0; j < 16; j++) {
        const q = bytes[at + 2 + j];
        out[o + j] = ((q & 0x0f) - 8) * d;
        out[o + j + 16] = ((q >> 4) - 8) * d;
      }
    }
  },
  quant(x, xo, blocks, bytes, at) {
    for (let b = 0; b < blocks; b++, xo += 32, at += 18) {
      const d = f(signedAbsMax(x, xo, 32) / -8);
      const id = d ? f(1 / d) : 0;
      putHalf(bytes, at, d);
      for (let j = 0; j < 16; j++) {
        const x0 = Math.min(15, Math.trunc(f(f(x[xo + j] * id) + 8.5)));
        const x1 = Math.min(15, Math.trunc(f(f(x[xo + 16 + j] * id) + 8.5)));
        bytes[at + 2 + j] = x0 | (x1 << 4);
      }
    }
  },
};

// block_q4_1: f16 d, f16 m, u8 qs[16]; x = d·q + m.
export const Q4_1: BlockCodec = {
  name: 'Q4_1', blockSize: 32, typeSize: 20,
  dequant(bytes, at, blocks, out, o) {
    for (let b = 0; b < blocks; b++, at += 20, o += 32) {
      const d = half(bytes, at);
      const m = half(bytes, at + 2);
      for (let j = 0; j < 16; j++) {
        const q = bytes[at + 4 + j];
        out[o + j] = f((q & 0x0f) * d) + m;
        out[o + j + 16] = f((q >> 4) * d) + m;
      }
    }
  },
  quant(x, xo, blocks, bytes, at) {
    for (let b = 0; b < blocks; b++, xo += 32, at += 20) {
      const [min, max] = minMax(x, xo, 32);
      const d = f(f(max - min) / 15);
      const id = d ? f(1 / d) : 0;
      putHalf(bytes, at, d);
      putHalf(bytes, at + 2, min);
      for (let j = 0; j < 16; j++) {
        const x0 = Math.min(15, Math.trunc(f(f(f(x[xo + j] - min) * id) + 0.5)));
        const x1 = Math.min(15, Math.trunc(f(f(f(x[xo + 16 + j] - min) * id) + 0.5)));
        bytes[at + 4 + j] = x0 | (x1 << 4);
      }
    }
  },
};

// block_q5_0: f16 d, u32 qh (bit j = fifth bit of value j), u8 qs[16]; x = d·(q − 16).
export const Q5_0: BlockCodec = {
  name: 'Q5_0', blockSize: 32, typeSize: 22,
  dequant(bytes, at, blocks, out, o) {
    for (let b = 0; b < blocks; b++, at += 22, o += 32) {
      const d = half(bytes, at);
      const qh = u32(bytes, at + 2);
      for (let j = 0; j < 16; j++) {
        const q = bytes[at + 6 + j];
        const h0 = ((qh >>> j) << 4) & 0x10;
        const h1 = (qh >>> (j + 12)) & 0x10;
        out[o + j] = (((q & 0x0f) | h0) - 16) * d;
        out[o + j + 16] = (((q >> 4) | h1) - 16) * d;
      }
    }
  },
  quant(x, xo, blocks, bytes, at) {
    for (let b = 0; b < blocks; b++, xo += 32, at += 22) {
      const d = f(signedAbsMax(x, xo, 32) / -16);
      const id = d ? f(1 / d) : 0;
      putHalf(bytes, at, d);
      let qh = 0;
      for (let j = 0; j < 16; j++) {
        const x0 = Math.min(31, Math.trunc(f(f(x[xo + j] * id) + 16.5)));
        const x1 = Math.min(31, Math.trunc(f(f(x[xo + 16 + j] * id) + 16.5)));
        bytes[at + 6 + j] = (x0 & 0x0f) | ((x1 & 0x0f) << 4);
        qh |= ((x0 & 0x10) >> 4) << j;
        qh |= ((x1 & 0x10) >> 4) << (j + 16);
      }
      putU32(bytes, at + 2, qh >>> 0);
    }
  },
};

// block_q5_1: f16 d, f16 m, u32 qh, u8 qs[16]; x = d·q + m.
export const Q5_1: BlockCodec = {
  name: 'Q5_1', blockSize: 32, typeSize: 24,
  dequant(bytes, at, blocks, out, o) {
    for (let b = 0; b < blocks; b++, at += 24, o += 32) {
      const d = half(bytes, at);
      const m = half(bytes, at + 2);
      const qh = u32(bytes, at + 4);
      for (let j = 0; j < 16; j++) {
        const q = bytes[at + 8 + j];
        const h0 = ((qh >>> j) << 4) & 0x10;
        const h1 = (qh >>> (j + 12)) & 0x10;
        out[o + j] = f(((q & 0x0f) | h0) * d) + m;
        out[o + j + 16] = f(((q >> 4) | h1) * d) + m;
      }
    }
  },
  quant(x, xo, blocks, bytes, at) {
    for (let b = 0; b < blocks; b++, xo += 32, at += 24) {
      const [min, max] = minMax(x, xo, 32);
      const d = f(f(max - min) / 31);
      const id = d ? f(1 / d) : 0;
      putHalf(bytes, at, d);
      putHalf(bytes, at + 2, min);
      let qh = 0;
      for (let j = 0; j < 16; j++) {
        const x0 = Math.min(31, Math.trunc(f(f(f(x[xo + j] - min) * id) + 0.5)));
        const x1 = Math.min(31, Math.trunc(f(f(f(x[xo + 16 + j] - min) * id) + 0.5)));
        bytes[at + 8 + j] = (x0 & 0x0f) | ((x1 & 0x0f) << 4);
        qh |= ((x0 & 0x10) >> 4) << j;
        qh |= ((x1 & 0x10) >> 4) << (j + 16);
      }
      putU32(bytes, at + 4, qh >>> 0);
    }
  },
};

// block_q8_0: f16 d, i8 qs[32]; x = d·q.
export const Q8_0: BlockCodec = {
  name: 'Q8_0', blockSize: 32, typeSize: 34,
  dequant(bytes, at, blocks, out, o) {
    for (let b = 0; b < blocks; b++, at += 34, o += 32) {
      const d = half(bytes, at);
      for (let j = 0; j < 32; j++) out[o + j] = ((bytes[at + 2 + j] << 24) >> 24) * d;
    }
  },
  quant(x, xo, blocks, bytes, at) {
    for (let b = 0; b < blocks; b++, xo += 32, at += 34) {
      let amax = 0;
      for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[xo + j]));
      const d = f(amax / 127);
      const id = d ? f(1 / d) : 0;
      putHalf(bytes, at, d);
      for (let j = 0; j < 32; j++) bytes[at + 2 + j] = roundf(f(x[xo + j] * id)) & 0xff;
    }
  },
};
