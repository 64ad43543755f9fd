// The GPT shapes and adaptation modes, identical to ../shared/bench/torch_gpt_bench.py's.
import type { Gpt2Config } from '../src/engine/core/model-config';
import type { AdaptConfig } from '../src/protocol/config';

export type Mode = 'full' | 'last2' | 'lora';
export const MODES: Mode[] = ['full', 'last2', 'lora'];

export interface Shape {
  name: 'tiny' | 'small';
  d: number;
  layers: number;
  heads: number;
  ctx: number;
  vocab: number;
  batch: number;
  /** Timed steps, warmup steps and rounds by default (and with --quick). */
  steps: number;
  warmup: number;
  rounds: number;
  /** With --quick: fewer steps, and only some modes for the slow shape. */
  quick: { steps: number; warmup: number; modes: Mode[] };
  /** Timed steps and warmup of the torch reference (default, --quick). */
  torch: { steps: number; warmup: number; quickSteps: number; quickWarmup: number };
  /**
   * Rows per micro-batch (gradients summed over the batch). small at 8 rows in one pass
   * exceeds the wasm backend's 4 GiB heap (measured: the process aborts), so it runs 2 × 4.
   */
  microBatch: number;
}

// Warmup as torch's (3 and 2 steps): a worker thread's first steps are slow (its caches fill).
export const SHAPES: Record<Shape['name'], Shape> = {
  tiny: { name: 'tiny', d: 128, layers: 4, heads: 4, ctx: 128, vocab: 256, batch: 8, steps: 5, warmup: 3, rounds: 3, quick: { steps: 3, warmup: 1, modes: ['full', 'last2', 'lora'] }, torch: { steps: 10, warmup: 3, quickSteps: 5, quickWarmup: 2 }, microBatch: 8 },
  // ~4–7 s a step here on 2 threads: 2 timed steps and 1 round by default; --quick runs only its lora mode.
  small: { name: 'small', d: 384, layers: 6, heads: 6, ctx: 256, vocab: 256, batch: 8, steps: 2, warmup: 2, rounds: 1, quick: { steps: 1, warmup: 1, modes: ['lora'] }, torch: { steps: 5, warmup: 2, quickSteps: 2, quickWarmup: 1 }, microBatch: 4 },
};


export const LORA_RANK = 8;
export const LORA_ALPHA = 16;

export function gpt2Config(s: Pick<Shape, 'd' | 'layers' | 'heads' | 'ctx' | 'vocab'>): Gpt2Config {
  return { family: 'gpt2', vocabSize: s.vocab, hidden: s.d, layers: s.layers, heads: s.heads, headDim: s.d / s.heads, maxPositions: s.ctx, normEps: 1e-5, tiedHead: true };
}

/** GPT-2 small (124M): built in memory with random weights. */
export const GPT2_124M = { d: 768, layers: 12, heads: 12, ctx: 1024, vocab: 50257 };

export function adaptFor(mode: Mode, layers: number): AdaptConfig {
  if (mode === 'full') return { unfreeze: ['*'] };
  if (mode === 'last2') return { unfreeze: [`transformer.h.${layers - 2}.*`, `transformer.h.${layers - 1}.*`, 'transformer.ln_f'] };
  return { lora: { rank: LORA_RANK, alpha: LORA_ALPHA, dropout: 0, targetModules: ['c_attn'] } };
}

/** How our mode differs from the torch script's. */
export const MODE_NOTES: Record<Mode, string> = {
  full: 'AdamW on all parameters (ours also clips the gradient norm at 1; torch does not clip)',
  last2: 'last 2 blocks + ln_f trainable',
  lora: `LoRA r${LORA_RANK} alpha ${LORA_ALPHA} on the whole fused c_attn (q,k,v: 3d outputs) here; torch puts LoRA on the q and v parts only (2 adapters of d outputs)`,
};

export function parseCase(s: string): { shape: Shape; mode: Mode } {
  const [sh, mo] = s.split(':');
  const shape = SHAPES[sh as Shape['name']];
  if (!shape || !MODES.includes(mo as Mode)) throw new Error(`bad --case "${s}": use <tiny|small>:<full|last2|lora>`);
  return { shape, mode: mo as Mode };
}
