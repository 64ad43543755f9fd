// Synthetic trainer events for the webview tests and the Monitor benchmark: a loss that
// decays with noise, warmup + cosine learning rate, an eval every `evalEvery` steps.
import type { StartedEvent, StepEvent, EvalEvent, TrainerEvent, FinishedEvent } from '../../src/protocol/events';
import type { RunConfig } from '../../src/protocol/config';

export const T0 = Date.parse('2025-01-01T12:00:00Z');

export function config(over: { lr?: number; rank?: number; name?: string } = {}): RunConfig {
  return {
    model: '/models/stories260K.gguf',
    data: { train: '/data/train.jsonl', validationSplit: 0.1 },
    adapt: { lora: { rank: over.rank ?? 8, alpha: 16, dropout: 0.05, targetModules: ['q_proj', 'v_proj'] } },
    training: {
      epochs: 3, batchSize: 8, gradAccumulation: 1, learningRate: over.lr ?? 2e-4, schedule: 'cosine', warmupSteps: 20,
      weightDecay: 0.01, gradClip: 1, l2sp: 0, embeddingNoise: 0, dropout: 0, layerLrDecay: 1, maxLength: 256, evalEvery: 10,
      checkpointEvery: 100, threads: 1,
    },
    seed: 1, backend: 'auto', runsDir: '.adapt-lab/runs', name: over.name ?? 'demo',
  };
}

export function started(totalSteps: number, runDir = '/runs/demo'): StartedEvent {
  return {
    type: 'started', time: new Date(T0).toISOString(), runId: 'demo', runDir, config: config(),
    backend: { name: 'wasm', skipped: [{ name: 'tensorflow', reason: 'not installed' }], versions: {} },
    params: { total: 4_200_000, trainable: 36_864, percent: 0.878 },
    train: { examples: 200, tokens: 20000, labelTokens: 8000, minLength: 20, maxLength: 200, meanLength: 100, p50Length: 96, p95Length: 180, truncated: 0 },
    totalSteps, stepsPerEpoch: Math.ceil(totalSteps / 3),
  };
}

/** A deterministic pseudo-random stream (so screenshots and numbers repeat). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export interface RunEvents {
  steps: StepEvent[];
  evals: EvalEvent[];
  /** Steps and evals interleaved in order. */
  all: TrainerEvent[];
}

/** Tokens a fixture step trains on. */
export const TOKENS_PER_STEP = 512;

/**
 * `legacy`: step events as runs recorded them before tokensSeen, elapsedSeconds, stepSeconds
 * and cpuPercent existed.
 */
export function runEvents(n: number, o: { totalSteps?: number; evalEvery?: number; seed?: number; start?: number; scale?: number; legacy?: boolean } = {}): RunEvents {
  const total = o.totalSteps ?? n;
  const evalEvery = o.evalEvery ?? 10;
  const rand = rng(o.seed ?? 7);
  const scale = o.scale ?? 1;
  const steps: StepEvent[] = [];
  const evals: EvalEvent[] = [];
  const all: TrainerEvent[] = [];
  let best = Infinity;
  for (let step = (o.start ?? 0) + 1; step <= (o.start ?? 0) + n; step++) {
    const time = new Date(T0 + step * 450).toISOString();
    const base = scale * (2.6 * Math.exp(-step / 120) + 0.9);
    const warm = Math.min(1, step / 20);
    const lr = 2e-4 * warm * 0.5 * (1 + Math.cos((Math.PI * step) / total));
    const s: StepEvent = {
      type: 'step', time, step, epoch: Math.floor((step - 1) / Math.ceil(total / 3)) + 1,
      loss: base + (rand() - 0.5) * 0.5 * scale, lr, gradNorm: 0.4 + 2 * Math.exp(-step / 60) + rand() * 0.3,
      tokensPerSecond: 1800 + rand() * 300, memory: { rssMiB: 610 + step * 0.05 + rand() * 8, heapMiB: 120, numTensors: 300, tensorMiB: 40 },
    };
    if (!o.legacy) Object.assign(s, { tokensSeen: step * TOKENS_PER_STEP, elapsedSeconds: step * 0.45, stepSeconds: 0.25 + rand() * 0.1, cpuPercent: 95 + rand() * 10 });
    steps.push(s);
    all.push(s);
    if (step % evalEvery === 0) {
      const valLoss = scale * (2.6 * Math.exp(-step / 150) + 1.05 + Math.max(0, step - 300) * 0.0008);
      const e: EvalEvent = { type: 'eval', time, step, valLoss, perplexity: Math.exp(valLoss), tokenAccuracy: 0.5, best: valLoss < best };
      best = Math.min(best, valLoss);
      evals.push(e);
      all.push(e);
    }
  }
  return { steps, evals, all };
}

export function finished(step: number): FinishedEvent {
  return { type: 'finished', time: new Date(T0 + step * 450 + 100).toISOString(), step, reason: 'max-steps' };
}
