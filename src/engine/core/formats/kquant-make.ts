// Encoders of the K super-blocks: ggml-quants.c's quantize_row_{q2,q3,q4,q5,q6}_K_ref (the
// reference, imatrix-free path llama.cpp's quantize tool takes without an importance matrix),
// with their helpers make_qkx2_quants, make_q3_quants and make_qx_quants. float32 arithmetic is
// kept in C's order with Math.fround, so a block comes out as ggml's scalar code writes it (up to
// a C compiler's fused multiply-adds). Used by tests and the bench to write quantized GGUFs.
import { putHalf, half } from './quant-legacy';
import { scaleMinK4, scaleQ3K } from './kquant';

const f = Math.fround;
const GROUP_MAX_EPS = 1e-15;

/** ggml's nearest_int: round to nearest, ties to even (the 1.5·2^23 trick in float32). */
function nearestInt(v: number): number {
  return f(f(v) + 12582912) - 12582912;
}

const clamp = (v: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, v));

/** make_qkx2_quants: levels 0..nmax with a scale and a min fitted by weighted least squares. Returns [scale, min ≥ 0]. */
function makeQkx2(n: number, nmax: number, x: Float32Array, xo: number, w: Float32Array, L: Uint8Array, lo: number,
  rmin: number, rdelta: number, nstep: number, useMad: boolean): [number, number] {
  const Laux = new Uint8Array(n);
  let min = x[xo], max = x[xo];
  let sumW = w[0];
  let sumX = f(sumW * x[xo]);
  for (let i = 1; i < n; i++) {
    const v = x[xo + i];
    if (v < min) min = v;
    if (v > max) max = v;
    sumW = f(sumW + w[i]);
    sumX = f(sumX + f(w[i] * v));
  }
  if (min > 0) min = 0;
  if (max === min) {
    L.fill(0, lo, lo + n);
    return [0, -min];
  }
  let iscale = f(nmax / f(max - min));
  let scale = f(1 / iscale);
  let bestError = 0;
  for (let i = 0; i < n; i++) {
    const l = clamp(nearestInt(f(iscale * f(x[xo + i] - min))), 0, nmax);
    L[lo + i] = l;
    let diff = f(f(f(scale * l) + min) - x[xo + i]);
    diff = useMad ? Math.abs(diff) : f(diff * diff);
    bestError = f(bestError + f(w[i] * diff));
  }
  if (nstep < 1) return [scale, -min];
  for (let is = 0; is <= nstep; is++) {
    iscale = f(f(f(rmin + f(rdelta * is)) + nmax) / f(max - min));
    let sumL = 0, sumL2 = 0, sumXL = 0;
    for (let i = 0; i < n; i++) {
      const l = clamp(nearestInt(f(iscale * f(x[xo + i] - min))), 0, nmax);
      Laux[i] = l;
      sumL = f(sumL + f(w[i] * l));
      sumL2 = f(sumL2 + f(f(w[i] * l) * l));
      sumXL = f(sumXL + f(f(w[i] * l) * x[xo + i]));
    }
    const D = f(f(sumW * sumL2) - f(sumL * sumL));
    if (D > 0) {
      let thisScale = f(f(f(sumW * sumXL) - f(sumX * sumL)) / D);
      let thisMin = f(f(f(sumL2 * sumX) - f(sumL * sumXL)) / D);
      if (thisMin > 0) {
        thisMin = 0;
        thisScale = f(sumXL / sumL2);
      }
      let curError = 0;
      for (let i = 0; i < n; i++) {
        let diff = f(f(f(thisScale * Laux[i]) + thisMin) - x[xo + i]);
        diff = useMad ? Math.abs(diff) : f(diff * diff);
        curError = f(curError + f(w[i] * diff));
      }
      if (curError < bestError) {
        L.set(Laux, lo);
        bestError = curError;
        scale = thisScale;
        min = thisMin;
      }
    }
  }
  return [scale, -min];
}

/** make_q3_quants with do_rmse: signed levels −nmax..nmax−1 (stored +nmax) and a scale. */
function makeQ3(n: number, nmax: number, x: Float32Array, xo: number, L: Int8Array, lo: number): number {
  let max = 0, amax = 0;
  for (let i = 0; i < n; i++) {
    const ax = Math.abs(x[xo + i]);
    if (ax > amax) { amax = ax; max = x[xo + i]; }
  }
  if (amax < GROUP_MAX_EPS) {
    L.fill(0, lo, lo + n);
    return 0;
  }
  const iscale = f(-nmax / max);
  let sumlx = 0, suml2 = 0;
  for (let i = 0; i < n; i++) {
    const v = x[xo + i];
    const l = clamp(nearestInt(f(iscale * v)), -nmax, nmax - 1);
    L[lo + i] = l;
    const w = f(v * v);
    sumlx = f(sumlx + f(f(w * v) * l));
    suml2 = f(suml2 + f(f(w * l) * l));
  }
  for (let itry = 0; itry < 5; itry++) {
    let changed = 0;
    for (let i = 0; i < n; i++) {
      const v = x[xo + i];
      const w = f(v * v);
      let slx = f(sumlx - f(f(w * v) * L[lo + i]));
      if (slx > 0) {
        let sl2 = f(suml2 - f(f(w * L[lo + i]) * L[lo + i]));
        const newL = clamp(nearestInt(f(f(v * sl2) / slx)), -nmax, nmax - 1);
        if (newL !== L[lo + i]) {
          slx = f(slx + f(f(w * v) * newL));
          sl2 = f(sl2 + f(f(w * newL) * newL));
          if (sl2 > 0 && f(f(slx * slx) * suml2) > f(f(sumlx * sumlx) * sl2)) {
            L[lo + i] = newL;
            sumlx = slx;
            suml2 = sl2;
            changed++;
          }
        }
      }
    }
    if (!changed) break;
  }
  for (let i = 0; i < n; i++) L[lo + i] += nmax;
  return suml2 > 0 ? f(sumlx / suml2) : 0;
}

/** make_qx_quants with rmse_type 1 and no importance weights (Q6_K's sub-blocks). */
function makeQx(n: number, nmax: number, x: Float32Array, xo: number, L: Int8Array, lo: number): number {
  let max = 0, amax = 0;
  for (let i = 0; i < n; i++) {
    const ax = Math.abs(x[xo + i]);
    if (ax > amax) { amax = ax; max = x[xo + i]; }
  }
  if (amax < GROUP_MAX_EPS) {
    L.fill(0, lo, lo + n);
    return 0;
  }
  const fit = (iscale: number) => {
    let sumlx = 0, suml2 = 0;
    for (let i = 0; i < n; i++) {
      const v = x[xo + i];
      const l = clamp(nearestInt(f(iscale * v)), -nmax, nmax - 1);
      const w = f(v * v);
      sumlx = f(sumlx + f(f(w * v) * l));
      suml2 = f(suml2 + f(f(w * l) * l));
    }
    return [sumlx, suml2];
  };
  const assign = (iscale: number) => {
    for (let i = 0; i < n; i++) L[lo + i] = nmax + clamp(nearestInt(f(iscale * x[xo + i])), -nmax, nmax - 1);
  };
  let iscale = f(-nmax / max);
  assign(iscale);
  let [sumlx, suml2] = fit(iscale);
  let scale = suml2 ? f(sumlx / suml2) : 0;
  let best = f(scale * sumlx);
  for (let is = -9; is <= 9; is++) {
    if (is === 0) continue;
    iscale = f(-f(nmax + f(0.1 * is)) / max);
    [sumlx, suml2] = fit(iscale);
    if (suml2 > 0 && f(sumlx * sumlx) > f(best * suml2)) {
      assign(iscale);
      scale = f(sumlx / suml2);
      best = f(scale * sumlx);
    }
  }
  return scale;
}

/** Packs 2-bit levels L[0..256) into qs[64] at q, as Q2_K and Q3_K lay them out. */
function pack2(L: ArrayLike<number>, bytes: Uint8Array, q: number): void {
  for (let j = 0; j < 256; j += 128) {
    for (let l = 0; l < 32; l++) {
      bytes[q + j / 4 + l] = L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6);
    }
  }
}

export function quantQ2K(x: Float32Array, xo: number, blocks: number, bytes: Uint8Array, at: number): void {
  const L = new Uint8Array(256);
  const w = new Float32Array(16);
  const scales = new Float32Array(16), mins = new Float32Array(16);
  for (let b = 0; b < blocks; b++, xo += 256, at += 84) {
    bytes.fill(0, at, at + 84);
    let maxScale = 0, maxMin = 0;
    for (let j = 0; j < 16; j++) {
      for (let l = 0; l < 16; l++) w[l] = Math.abs(x[xo + 16 * j + l]);
      [scales[j], mins[j]] = makeQkx2(16, 3, x, xo + 16 * j, w, L, 16 * j, -0.5, 0.1, 15, true);
      if (scales[j] > maxScale) maxScale = scales[j];
      if (mins[j] > maxMin) maxMin = mins[j];
    }
    if (maxScale > 0) {
      const iscale = f(15 / maxScale);
      for (let j = 0; j < 16; j++) bytes[at + j] = nearestInt(f(iscale * scales[j])) & 0xff;
      putHalf(bytes, at + 80, f(maxScale / 15));
    } else putHalf(bytes, at + 80, 0);
    if (maxMin > 0) {
      const iscale = f(15 / maxMin);
      for (let j = 0; j < 16; j++) bytes[at + j] |= (nearestInt(f(iscale * mins[j])) << 4) & 0xff;
      putHalf(bytes, at + 82, f(maxMin / 15));
    } else putHalf(bytes, at + 82, 0);
    const dAll = half(bytes, at + 80), mAll = half(bytes, at + 82);
    for (let j = 0; j < 16; j++) {
      const d = f(dAll * (bytes[at + j] & 0xf));
      if (!d) continue;
      const dm = f(mAll * (bytes[at + j] >> 4));
      for (let ii = 0; ii < 16; ii++) L[16 * j + ii] = clamp(nearestInt(f(f(x[xo + 16 * j + ii] + dm) / d)), 0, 3);
    }
    pack2(L, bytes, at + 16);
  }
}

export function quantQ3K(x: Float32Array, xo: number, blocks: number, bytes: Uint8Array, at: number): void {
  const L = new Int8Array(256);
  const scales = new Float32Array(16);
  for (let b = 0; b < blocks; b++, xo += 256, at += 110) {
    bytes.fill(0, at, at + 110);
    let maxScale = 0, amax = 0;
    for (let j = 0; j < 16; j++) {
      scales[j] = makeQ3(16, 4, x, xo + 16 * j, L, 16 * j);
      if (Math.abs(scales[j]) > amax) { amax = Math.abs(scales[j]); maxScale = scales[j]; }
    }
    const s = at + 96;
    if (maxScale) {
      const iscale = f(-32 / maxScale);
      for (let j = 0; j < 16; j++) {
        let l = clamp((nearestInt(f(iscale * scales[j])) << 24) >> 24, -32, 31) + 32;
        if (j < 8) bytes[s + j] = l & 0xf;
        else bytes[s + j - 8] |= (l & 0xf) << 4;
        l >>= 4;
        bytes[s + 8 + (j % 4)] |= l << (2 * (j >> 2));
      }
      putHalf(bytes, at + 108, f(1 / iscale));
    } else putHalf(bytes, at + 108, 0);
    const dAll = half(bytes, at + 108);
    for (let j = 0; j < 16; j++) {
      const d = f(dAll * scaleQ3K(bytes, s, j));
      if (!d) continue;
      for (let ii = 0; ii < 16; ii++) L[16 * j + ii] = clamp(nearestInt(f(x[xo + 16 * j + ii] / d)), -4, 3) + 4;
    }
    // The high bit of the first 32 values goes to bit 0 of hmask[0..32), the next 32 to bit 1, …
    for (let j = 0; j < 256; j++) {
      if (L[j] > 3) {
        bytes[at + (j % 32)] |= 1 << (j >> 5);
        L[j] -= 4;
      }
    }
    pack2(L, bytes, at + 32);
  }
}

/** Q4_K and Q5_K: 8 sub-blocks of 32 with 6-bit scales and mins; levels 0..nmax in L. */
function quantScaleMin(x: Float32Array, xo: number, bytes: Uint8Array, at: number, nmax: number, rmin: number, nstep: number, L: Uint8Array): void {
  const w = new Float32Array(32);
  const scales = new Float32Array(8), mins = new Float32Array(8);
  let maxScale = 0, maxMin = 0;
  for (let j = 0; j < 8; j++) {
    let sumX2 = 0;
    for (let l = 0; l < 32; l++) sumX2 = f(sumX2 + f(x[xo + 32 * j + l] * x[xo + 32 * j + l]));
    const avX = f(Math.sqrt(f(sumX2 / 32)));
    for (let l = 0; l < 32; l++) w[l] = f(avX + Math.abs(x[xo + 32 * j + l]));
    [scales[j], mins[j]] = makeQkx2(32, nmax, x, xo + 32 * j, w, L, 32 * j, rmin, 0.1, nstep, false);
    if (scales[j] > maxScale) maxScale = scales[j];
    if (mins[j] > maxMin) maxMin = mins[j];
  }
  const invScale = maxScale > 0 ? f(63 / maxScale) : 0;
  const invMin = maxMin > 0 ? f(63 / maxMin) : 0;
  const s = at + 4;
  for (let j = 0; j < 8; j++) {
    const ls = Math.min(63, nearestInt(f(invScale * scales[j])) & 0xff);
    const lm = Math.min(63, nearestInt(f(invMin * mins[j])) & 0xff);
    if (j < 4) {
      bytes[s + j] = ls;
      bytes[s + j + 4] = lm;
    } else {
      bytes[s + j + 4] = (ls & 0xf) | ((lm & 0xf) << 4);
      bytes[s + j - 4] |= (ls >> 4) << 6;
      bytes[s + j] |= (lm >> 4) << 6;
    }
  }
  putHalf(bytes, at, f(maxScale / 63));
  putHalf(bytes, at + 2, f(maxMin / 63));
  const dAll = half(bytes, at), mAll = half(bytes, at + 2);
  for (let j = 0; j < 8; j++) {
    const [sc, m] = scaleMinK4(bytes, s, j);
    const d = f(dAll * sc);
    if (!d) continue;
    const dm = f(mAll * m);
    for (let ii = 0; ii < 32; ii++) L[32 * j + ii] = clamp(nearestInt(f(f(x[xo + 32 * j + ii] + dm) / d)), 0, nmax);
  }
}

export function quantQ4K(x: Float32Array, xo: number, blocks: number, bytes: Uint8Array, at: number): void {
  const L = new Uint8Array(256);
  for (let b = 0; b < blocks; b++, xo += 256, at += 144) {
    bytes.fill(0, at, at + 144);
    quantScaleMin(x, xo, bytes, at, 15, -1, 20, L);
    for (let j = 0, q = at + 16; j < 256; j += 64, q += 32) {
      for (let l = 0; l < 32; l++) bytes[q + l] = L[j + l] | (L[j + l + 32] << 4);
    }
  }
}

export function quantQ5K(x: Float32Array, xo: number, blocks: number, bytes: Uint8Array, at: number): void {
  const L = new Uint8Array(256);
  for (let b = 0; b < blocks; b++, xo += 256, at += 176) {
    bytes.fill(0, at, at + 176);
    quantScaleMin(x, xo, bytes, at, 31, -0.5, 15, L);
    const qh = at + 16;
    let m1 = 1, m2 = 2;
    for (let n = 0, ql = at + 48; n < 256; n += 64, ql += 32, m1 <<= 2, m2 <<= 2) {
      for (let j = 0; j < 32; j++) {
        let l1 = L[n + j];
        if (l1 > 15) { l1 -= 16; bytes[qh + j] |= m1; }
        let l2 = L[n + j + 32];
        if (l2 > 15) { l2 -= 16; bytes[qh + j] |= m2; }
        bytes[ql + j] = l1 | (l2 << 4);
      }
    }
  }
}

export function quantQ6K(x: Float32Array, xo: number, blocks: number, bytes: Uint8Array, at: number): void {
  const L = new Int8Array(256);
  const scales = new Float32Array(16);
  for (let b = 0; b < blocks; b++, xo += 256, at += 210) {
    bytes.fill(0, at, at + 210);
    let maxScale = 0, maxAbs = 0;
    for (let ib = 0; ib < 16; ib++) {
      scales[ib] = makeQx(16, 32, x, xo + 16 * ib, L, 16 * ib);
      if (Math.abs(scales[ib]) > maxAbs) { maxAbs = Math.abs(scales[ib]); maxScale = scales[ib]; }
    }
    if (maxAbs < GROUP_MAX_EPS) continue; // an all-zero block: d = 0
    const iscale = f(-128 / maxScale);
    putHalf(bytes, at + 208, f(1 / iscale));
    for (let ib = 0; ib < 16; ib++) bytes[at + 192 + ib] = Math.min(127, nearestInt(f(iscale * scales[ib]))) & 0xff;
    const dAll = half(bytes, at + 208);
    for (let j = 0; j < 16; j++) {
      const d = f(dAll * ((bytes[at + 192 + j] << 24) >> 24));
      if (!d) continue;
      for (let ii = 0; ii < 16; ii++) L[16 * j + ii] = clamp(nearestInt(f(x[xo + 16 * j + ii] / d)), -32, 31) + 32;
    }
    for (let j = 0, ql = at, qh = at + 128; j < 256; j += 128, ql += 64, qh += 32) {
      for (let l = 0; l < 32; l++) {
        const q1 = L[j + l] & 0xf, q2 = L[j + l + 32] & 0xf, q3 = L[j + l + 64] & 0xf, q4 = L[j + l + 96] & 0xf;
        bytes[ql + l] = q1 | (q3 << 4);
        bytes[ql + l + 32] = q2 | (q4 << 4);
        bytes[qh + l] = (L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6);
      }
    }
  }
}
