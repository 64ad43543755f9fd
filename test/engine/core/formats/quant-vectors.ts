// The input of the quantization known-answer test (quant.test.ts): 8 rows × 512 columns from a
// seeded PRNG, with an outlier every 97 values and a shifted block every fifth 32-block, so
// every encoder meets signed maxima, non-zero minima and uneven sub-blocks. The expected digests
// in quant.test.ts came from ggml's C reference encoders (ggml-quants.c quantize_row_*_ref, from
// the llama.cpp source bundled with node-llama-cpp 3.21.1, built with gcc -O2) on this input, and
// from gguf-py's numpy dequantizers on those bytes.
import { prng } from './fixtures';

export const VECTOR_ROWS = 8;
export const VECTOR_COLS = 512;

export function vectorInput(): Float32Array {
  const r = prng(20261202);
  const x = new Float32Array(VECTOR_ROWS * VECTOR_COLS);
  for (let i = 0; i < x.length; i++) x[i] = (r() - 0.5) * (i % 97 === 0 ? 8 : 1) + (Math.floor(i / 32) % 5 === 0 ? 0.3 : 0);
  return x;
}
