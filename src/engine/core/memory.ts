// A rough peak-memory estimate for a training run, shown before it starts (Adapt Model's
// summary, the trainer's first log line) and used to refuse runs that cannot fit the wasm
// backend's 4 GiB heap — an out-of-memory abort there kills the process without a word.
import { ModelConfig } from './model-config';

export const WASM_HEAP_LIMIT = 4 * 2 ** 30;

export interface MemoryEstimate {
  /** The whole run: the main thread and every gradient worker. */
  bytes: number;
  /** The largest single heap (the main thread's): what must fit one wasm backend's 4 GiB. */
  heapBytes: number;
  /** Activations of one thread's share of the batch. */
  activations: number;
  weights: number;
  optimizer: number;
  threads: number;
}

/**
 * `threads` (training.threads on the wasm and cpu backends): each thread holds the weights and
 * the activations of its share of the rows; the optimizer state lives on the main thread.
 * `weightBytes`: the base weights' bytes in memory (a quantized GGUF's blocks); default float32.
 */
export function estimateTrainingMemory(c: ModelConfig, o: { batchSize: number; maxLength: number; totalParams: number; trainableParams: number; firstTrainableLayer: number; threads?: number; weightBytes?: number }): MemoryEstimate {
  const threads = Math.max(1, Math.min(o.threads ?? 1, o.batchSize));
  const T = o.maxLength;
  const tokens = Math.ceil(o.batchSize / threads) * T;
  const I = c.family === 'llama' ? c.intermediate : 4 * c.hidden;
  const perLayerToken = 16 * c.hidden + 5 * I + 3 * c.heads * T;
  const trainedLayers = c.layers - o.firstTrainableLayer;
  // Kept for backward: the trained blocks and the head; one more block's worth in flight.
  const activations = 4 * tokens * ((trainedLayers + 1) * perLayerToken + 3 * c.vocabSize);
  // A quantized base (weightBytes below float32's) holds its blocks, plus one product's temporary
  // float32 weight and its transpose (model/quantized.ts decodes at most 64 MiB at a time).
  const quantized = o.weightBytes !== undefined && o.weightBytes < 4 * o.totalParams;
  const weights = (o.weightBytes ?? 4 * o.totalParams) + (quantized ? 2 * 64 * 2 ** 20 : 0);
  const optimizer = 4 * 3 * o.trainableParams; // m, v and the gradient
  const heapBytes = activations + weights + optimizer;
  // A worker: its replica, its activations and its gradients.
  const worker = activations + weights + 4 * o.trainableParams;
  return { bytes: heapBytes + (threads - 1) * worker, heapBytes, activations, weights, optimizer, threads };
}

export function formatBytes(n: number): string {
  return n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : `${(n / 2 ** 20).toFixed(0)} MiB`;
}
