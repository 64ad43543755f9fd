// A rough peak-memory estimate for a training run, shown before it starts (Adapt Model's
// summary, the trainer's first log line) and used to refuse runs that cannot fit the wasm
// backend's 4 GiB heap — an out-of-memory abort there kills the process without a word.
import { ModelConfig } from '../model/config';

export const WASM_HEAP_LIMIT = 4 * 2 ** 30;

export interface MemoryEstimate {
  bytes: number;
  activations: number;
  weights: number;
  optimizer: number;
}

export function estimateTrainingMemory(c: ModelConfig, o: { batchSize: number; maxLength: number; totalParams: number; trainableParams: number; firstTrainableLayer: number }): MemoryEstimate {
  const T = o.maxLength;
  const tokens = o.batchSize * T;
  const I = c.family === 'llama' ? c.intermediate : 4 * c.hidden;
  const perLayerToken = 16 * c.hidden + 5 * I + 3 * c.heads * T;
  const trainedLayers = c.layers - o.firstTrainableLayer;
  // Kept for backward: the trained blocks and the head; one more block's worth in flight.
  const activations = 4 * tokens * ((trainedLayers + 1) * perLayerToken + 3 * c.vocabSize);
  const weights = 4 * o.totalParams;
  const optimizer = 4 * 3 * o.trainableParams; // m, v and the gradient
  return { bytes: activations + weights + optimizer, activations, weights, optimizer };
}

export function formatBytes(n: number): string {
  return n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : `${(n / 2 ** 20).toFixed(0)} MiB`;
}
