// A peak-memory estimate for a training run, shown before it starts (Adapt Model's summary, the
// trainer's first log line, inspect) and used to refuse runs that cannot fit the wasm backend's
// 4 GiB heap — an out-of-memory abort there kills the process without a word. Frozen base weights
// kept outside the backend (model/external-weights.ts: every linear weight and the embedding when
// products run on BLAS, and any quantized base) count in the process, not in the heap.
// Calibrated against measured peaks (`npm run bench -- --only scale` prints both side by side).
import { ModelConfig } from './model-config';

export const WASM_HEAP_LIMIT = 4 * 2 ** 30;

/**
 * Resident memory besides the heap and the external weights (Node, TensorFlow.js, koffi, the wasm
 * module): 69-101 MiB in the measurements below.
 */
export const RUNTIME_BYTES = 120 * 2 ** 20;

/** A heap's size before anything is allocated (the wasm module's initial memory). */
const HEAP_START = 16 * 2 ** 20;

/*
 * Calibration: `npm run bench -- --only scale` (Llama shapes, LoRA r8 on q/v, batch 1 × 256 tokens,
 * BF16 weights outside the heap) and the train bench (GPT-2 shapes), wasm heap sizes measured after
 * the steps (the heap only grows, so its size is the peak):
 *   llama-20m    (d 512, 4 layers, vocab 16384):   kept 357.5 MiB (estimate 418), recomputed 212.8 (270)
 *   llama-200m   (d 1024, 8 layers, vocab 32000):  kept 1306 MiB (1468), recomputed 434.1 (564)
 *   llama-3.2-1b (d 2048, 16 layers, vocab 128256): all recomputed 1418 MiB (1442); 9 of 16 3124 MiB (3454)
 *   GPT-2 tiny (d 128, 4 layers, 512 tokens a thread): 172 MiB; small (d 384, 6 layers, 512 tokens): 1402 MiB
 * No pair of factors fits every shape (the larger the tensors, the more the heap fragments), so
 * they are set to cover the largest: a kept block about 3 times the float32 values of
 * perLayerToken per token, one recomputed block with its gradients 8 times, the head and the loss
 * 5 vocabulary rows; the smaller Llama shapes are then overestimated by 12-30 %. GPT-2's blocks
 * keep more: 5.4 times on the small shape (5.5 below; the tiny shape is then overestimated ~1.8×).
 */
const KEPT_PER_BLOCK = { llama: 3, gpt2: 5.5 };
const RECOMPUTED_BLOCK = { llama: 8, gpt2: 14 };
const HEAD_ROWS = 5;

export interface MemoryEstimate {
  /** The whole run, resident: the runtime, every thread's heap and the weights outside them. */
  bytes: number;
  /** The largest single heap (the main thread's): what must fit one wasm backend's 4 GiB. */
  heapBytes: number;
  /** Activations of one thread's share of the batch. */
  activations: number;
  /** Base weights held as tensors (in each thread's heap). */
  weights: number;
  /** Base weights outside the heaps (one copy, shared by the threads), with their scratch. */
  external: number;
  optimizer: number;
  threads: number;
}

export interface MemoryInputs {
  batchSize: number;
  maxLength: number;
  totalParams: number;
  trainableParams: number;
  firstTrainableLayer: number;
  /** Training threads (training.threads on the wasm and cpu backends); each holds its share of the rows. */
  threads?: number;
  /** Bytes of the base weights held as tensors; default every parameter as float32. */
  heapWeightBytes?: number;
  /** Bytes of the base weights kept outside the backend in their file's encoding; default 0. */
  externalBytes?: number;
  /** Whether products read the external weights on BLAS (a 4 MiB scratch) or through 64 MiB float32 temporaries in the heap. */
  blas?: boolean;
  /**
   * Trained blocks (from the first) whose activations are recomputed in the backward pass
   * (train/recompute.ts: only their inputs are kept); the others keep theirs. Default 0.
   */
  recompute?: number;
}

/**
 * Each thread holds its heap weights and the activations of its share of the rows; the optimizer
 * state lives on the main thread; external weights are one copy for all threads (shared memory).
 */
export function estimateTrainingMemory(c: ModelConfig, o: MemoryInputs): MemoryEstimate {
  const threads = Math.max(1, Math.min(o.threads ?? 1, o.batchSize));
  const T = o.maxLength;
  const tokens = Math.ceil(o.batchSize / threads) * T;
  const I = c.family === 'llama' ? c.intermediate : 4 * c.hidden;
  const perLayerToken = 16 * c.hidden + 5 * I + 3 * c.heads * T;
  const trainedLayers = c.layers - o.firstTrainableLayer;
  // Kept for backward: the trained blocks and the head; one more block's worth in flight. A
  // recomputed block keeps only its input, and one block is recomputed (with its gradients) at a
  // time. Factors measured (above).
  const r = Math.min(trainedLayers, Math.max(0, Math.floor(o.recompute ?? 0)));
  const kept = KEPT_PER_BLOCK[c.family] * perLayerToken;
  const blocks = r * c.hidden + (trainedLayers - r) * kept + (r > 0 ? RECOMPUTED_BLOCK[c.family] * perLayerToken : kept);
  const activations = 4 * tokens * (blocks + HEAD_ROWS * c.vocabSize);
  const externalBytes = o.externalBytes ?? 0;
  // External weights read without BLAS go through a float32 temporary and its transpose in the
  // heap (64 MiB at most each); on BLAS through one 4 MiB scratch outside it.
  const temporaries = externalBytes > 0 && !o.blas ? 2 * 64 * 2 ** 20 : 0;
  const weights = (o.heapWeightBytes ?? 4 * o.totalParams) + temporaries;
  const external = externalBytes > 0 ? externalBytes + (o.blas ? 4 * 2 ** 20 : 0) : 0;
  const optimizer = 4 * 3 * o.trainableParams; // m, v and the gradient
  const heapBytes = HEAP_START + activations + weights + optimizer;
  // A worker: its replica of the heap weights, its activations and its gradients.
  const worker = HEAP_START + activations + weights + 4 * o.trainableParams;
  return { bytes: RUNTIME_BYTES + heapBytes + (threads - 1) * worker + external, heapBytes, activations, weights, external, optimizer, threads };
}

export interface MemoryPlan {
  mem: MemoryEstimate;
  /** Trained blocks whose activations are recomputed in the backward pass: the fewest with which the run fits (0: none needed). */
  recompute: number;
  /** Whether the run fits one wasm heap (with a 10 % margin); always true off wasm. */
  fits: boolean;
  /** The estimate with every block's activations kept (what recomputation saves against). */
  kept: MemoryEstimate;
}

/**
 * How a run is laid out in memory: activations kept when the heap holds them, else recomputed in
 * the backward pass for as few blocks as make it fit (each costs one more forward pass of its
 * block), or not fitting at all. Only the wasm backend has the 4 GiB limit.
 */
export function planMemory(c: ModelConfig, o: MemoryInputs, wasm: boolean): MemoryPlan {
  const fits = (m: MemoryEstimate) => !wasm || m.heapBytes <= 0.9 * WASM_HEAP_LIMIT;
  const kept = estimateTrainingMemory(c, { ...o, recompute: 0 });
  if (fits(kept)) return { mem: kept, recompute: 0, fits: true, kept };
  const trained = c.layers - o.firstTrainableLayer;
  for (let r = 1; r <= trained; r++) {
    const mem = estimateTrainingMemory(c, { ...o, recompute: r });
    if (fits(mem)) return { mem, recompute: r, fits: true, kept };
  }
  return { mem: estimateTrainingMemory(c, { ...o, recompute: trained }), recompute: trained, fits: false, kept };
}

/** A size for people: "512 B", "37 KiB", "210 MiB", "1.53 GiB" (whole units below a GiB). */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 2 ** 20) return `${Math.round(n / 1024)} KiB`;
  if (n < 2 ** 30) return `${Math.round(n / 2 ** 20)} MiB`;
  return `${(n / 2 ** 30).toFixed(2)} GiB`;
}
