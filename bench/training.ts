// Training-step throughput: one shape × mode per fresh child process (so the peak RSS belongs
// to that case alone), a few warmup steps, then N timed steps; tokens/s = B·T / median step.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { blasStatus, blasThreadsPerWorker, setBlasThreads } from '../src/engine/native';
import { tf } from '../src/engine/tf';
import { initModel } from '../src/engine/model/init';
import { CausalLM } from '../src/engine/model/model';
import { applyAdapt } from '../src/engine/adapt/methods';
import { AdamW } from '../src/engine/train/optimizer';
import { TrainParam } from '../src/engine/adapt/methods';
import { accumulateGrads } from '../src/engine/train/step';
import { GradientPool, sliceRows, startGradientPool } from '../src/engine/train/parallel';
import { PackedBatch } from '../src/engine/data/dataset';
import { Rng } from '../src/engine/random';
import { adaptFor, gpt2Config, Mode, Shape } from './shapes';
import { median, min, max, round, mib, nowMs } from './stats';
import { profileStep, ProfileRecord } from './profile';

export const LR = 3e-4;

/** The trainer's packed batch layout. */
export type BenchBatch = PackedBatch;

/** Random token sequences of ctx+1 tokens per row, as the torch script draws them. */
export function randomBatch(shape: Shape, rng: Rng): BenchBatch {
  const B = shape.batch;
  const T = shape.ctx;
  const ids = new Int32Array(B * T);
  const labels = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    const row = Array.from({ length: T + 1 }, () => rng.int(shape.vocab));
    for (let t = 0; t < T; t++) {
      ids[b * T + t] = row[t];
      labels[b * T + t] = row[t + 1];
    }
  }
  return { ids, labels, weights: new Float32Array(B * T).fill(1), batch: B, length: T, tokens: B * T };
}

export interface TrainSetup {
  model: CausalLM;
  params: TrainParam[];
  opt: AdamW;
  firstTrainableLayer: number;
  trainable: number;
  total: number;
  method: string;
  /** Threads the step's rows are spread over (the trainer's gradient pool). */
  threads: number;
  /**
   * One full optimisation step (forward, backward, AdamW); returns the loss and phase times.
   * `single` runs it on this thread alone (for the op breakdown).
   */
  step(batch: BenchBatch, seed: number, single?: boolean): Promise<{ loss: number; fwdBwdMs: number; optMs: number }>;
  dispose(): Promise<void>;
}

/**
 * One optimiser step over `batch`, in micro-batches of `microBatch` rows with the gradients
 * summed (as the trainer's gradient accumulation does), so the large shapes fit the 4 GiB heap.
 */
export async function setupTraining(shape: Shape, mode: Mode, o: { microBatch?: number; seed?: number; threads?: number; backend?: string; gradWorker?: string } = {}): Promise<TrainSetup> {
  const microBatch = o.microBatch ?? shape.batch;
  const threads = o.threads ?? 1;
  const model = initModel(gpt2Config(shape), o.seed ?? 1234);
  const adaptConfig = adaptFor(mode, shape.layers);
  const adapt = applyAdapt(model, adaptConfig, { rng: new Rng(0), layerLrDecay: 1, l2sp: false });
  // torch's bench uses betas (0.9, 0.95) and weight decay 0.01.
  const opt = new AdamW(adapt.params, { beta1: 0.9, beta2: 0.95 });
  let pool: GradientPool | undefined;
  // As the trainer does: the cores divided between the threads and their BLAS threads.
  const blasThreads = blasThreadsPerWorker();
  setBlasThreads(blasThreads);
  if (threads > 1) {
    if (!o.gradWorker) throw new Error('--threads above 1 needs the gradient worker bundle (dist/grad-worker.js)');
    pool = await startGradientPool({ threads, script: o.gradWorker, backend: o.backend ?? 'auto', blasThreads, model, params: adapt.params, adapt: adaptConfig, seed: 0, layerLrDecay: 1 });
  }
  return {
    model,
    params: adapt.params,
    opt,
    firstTrainableLayer: adapt.firstTrainableLayer,
    trainable: adapt.trainable,
    total: adapt.total,
    method: adapt.method,
    threads,
    async step(batch, stepSeed, single = false) {
      const t0 = nowMs();
      const micro: BenchBatch[] = [];
      // With a pool, every thread takes microBatch rows at a time.
      const rowsPer = single ? microBatch : microBatch * threads;
      for (let from = 0; from < batch.batch; from += rowsPer) micro.push(sliceRows(batch, from, Math.min(batch.batch, from + rowsPer)));
      const o = { firstTrainableLayer: adapt.firstTrainableLayer, dropout: 0, embeddingNoise: 0, seedOf: (i: number) => stepSeed * 101 + i * microBatch };
      const { loss, grads } = pool && !single ? await pool.grads(micro, batch.tokens, o) : accumulateGrads(model, adapt.params, micro, batch.tokens, o);
      const t1 = nowMs();
      opt.step(grads, LR, { weightDecay: 0.01, l2sp: 0, gradClip: 1 });
      tf.dispose([...grads.values()]);
      const t2 = nowMs();
      return { loss, fwdBwdMs: t1 - t0, optMs: t2 - t1 };
    },
    async dispose() {
      await pool?.dispose();
      opt.dispose();
      model.dispose();
    },
  };
}

/** Bytes of the wasm backend's heap (it only grows), if the backend exposes it. */
export function wasmHeapBytes(): number | undefined {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const b = tf.backend() as any;
  const n = b?.wasm?.HEAPU8?.buffer?.byteLength;
  return typeof n === 'number' ? n : undefined;
}

export interface TrainRecord {
  name: 'train';
  shape: string;
  mode: Mode;
  backend: string;
  d: number;
  layers: number;
  heads: number;
  ctx: number;
  vocab: number;
  batch: number;
  tokensPerStep: number;
  warmup: number;
  steps: number;
  tokensPerSecond: number;
  stepMsMedian: number;
  stepMsMin: number;
  stepMsMax: number;
  stepMsAll: number[];
  fwdBwdMsMedian: number;
  optMsMedian: number;
  setupMs: number;
  trainableParams: number;
  totalParams: number;
  method: string;
  lossFirst: number;
  lossLast: number;
  numTensorsBefore: number;
  numTensorsAfter: number;
  leakedTensors: number;
  peakRssMiB: number;
  wasmHeapMiB?: number;
  microBatch: number;
  /** Threads the rows of a step were spread over (the gradient pool). */
  threads: number;
  /** 1-minute load average when the case started (2 CPUs here: above ~2 the figures are unreliable). */
  loadavg: number;
  rounds?: number;
  roundTokensPerSecond?: number[];
  /** "OpenBLAS 0.3.21 (1 thread)" (per thread) when the products ran on BLAS. */
  blas?: string;
}

export interface CaseOptions {
  steps: number;
  warmup: number;
  microBatch: number;
  threads: number;
  /** After the timed steps, profile one more step. */
  profile: boolean;
  backend: string;
}

/** Runs one case in this process (the child side): warmup, timed steps, then an optional profiled step. */
export async function runTrainCase(shape: Shape, mode: Mode, o: CaseOptions): Promise<{ train?: TrainRecord; profile?: ProfileRecord }> {
  const load = loadavg()[0];
  const t0 = nowMs();
  const s = await setupTraining(shape, mode, { microBatch: o.microBatch, threads: o.threads, backend: o.backend, gradWorker: join(__dirname, 'grad-worker.js') });
  const rng = new Rng(4321);
  const batches = Array.from({ length: o.warmup + o.steps + (o.profile ? 1 : 0) }, () => randomBatch(shape, rng));
  const setupMs = nowMs() - t0;
  const losses: number[] = [];
  for (let i = 0; i < o.warmup; i++) losses.push((await s.step(batches[i], i)).loss);
  const before = tf.memory().numTensors;
  const times: number[] = [];
  const fb: number[] = [];
  const op: number[] = [];
  for (let i = o.warmup; i < o.warmup + o.steps; i++) {
    const a = nowMs();
    const r = await s.step(batches[i], i);
    times.push(nowMs() - a);
    fb.push(r.fwdBwdMs);
    op.push(r.optMs);
    losses.push(r.loss);
  }
  const after = tf.memory().numTensors;
  const heap = wasmHeapBytes();
  const peakRss = process.resourceUsage().maxRSS / 1024;
  let train: TrainRecord | undefined;
  if (o.steps > 0) {
    const med = median(times);
    train = {
      name: 'train',
      shape: shape.name,
      mode,
      backend: o.backend,
      d: shape.d,
      layers: shape.layers,
      heads: shape.heads,
      ctx: shape.ctx,
      vocab: shape.vocab,
      batch: shape.batch,
      microBatch: o.microBatch,
      threads: s.threads,
      loadavg: round(load, 3),
      tokensPerStep: shape.batch * shape.ctx,
      warmup: o.warmup,
      steps: o.steps,
      tokensPerSecond: round((shape.batch * shape.ctx) / (med / 1000)),
      stepMsMedian: round(med),
      stepMsMin: round(min(times)),
      stepMsMax: round(max(times)),
      stepMsAll: times.map((t) => round(t)),
      fwdBwdMsMedian: round(median(fb)),
      optMsMedian: round(median(op)),
      setupMs: round(setupMs),
      trainableParams: s.trainable,
      totalParams: s.total,
      method: s.method,
      lossFirst: round(losses[0], 5),
      lossLast: round(losses[losses.length - 1], 5),
      numTensorsBefore: before,
      numTensorsAfter: after,
      leakedTensors: after - before,
      peakRssMiB: round(peakRss),
      wasmHeapMiB: heap !== undefined ? round(mib(heap)) : undefined,
      ...(blasStatus().on ? { blas: blasStatus().label } : {}),
    };
  }
  let profile: ProfileRecord | undefined;
  if (o.profile) {
    const b = batches[batches.length - 1];
    setBlasThreads(blasThreadsPerWorker());
    const blas = blasStatus();
    profile = await profileStep(() => void s.step(b, 999, true), { shape: shape.name, mode, backend: o.backend, microBatch: o.microBatch, ...(blas.on ? { blas: blas.label } : {}) });
  }
  await s.dispose();
  return { train, profile };
}

/** What a child process reported, or why it failed. */
export interface ChildResult {
  train?: TrainRecord;
  profile?: ProfileRecord;
  error?: string;
  /** The wasm heap ran out (the process aborts): retry with a smaller micro-batch. */
  outOfMemory?: boolean;
  wallMs: number;
}

/** Runs one case in a fresh child process (`--only train --case shape:mode --json`). */
export function spawnTrainCase(shape: Shape, mode: Mode, o: CaseOptions, timeoutMs: number): ChildResult {
  const args = [
    ...process.execArgv, process.argv[1], '--only', 'train', '--case', `${shape.name}:${mode}`,
    '--steps', String(o.steps), '--warmup', String(o.warmup), '--micro-batch', String(o.microBatch), '--threads', String(o.threads),
    '--backend', o.backend, '--json', ...(o.profile ? ['--profile-step'] : []),
  ];
  const t0 = nowMs();
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  const out: ChildResult = { wallMs: nowMs() - t0 };
  for (const l of (r.stdout ?? '').split('\n')) {
    if (!l.startsWith('{')) continue;
    try {
      const rec = JSON.parse(l);
      if (rec.name === 'train') out.train = rec;
      if (rec.name === 'profile') out.profile = rec;
    } catch {
      /* not a record */
    }
  }
  if (r.status !== 0 || r.error) {
    const stderr = r.stderr ?? '';
    out.outOfMemory = /Aborted\(|memory access out of bounds|Cannot enlarge memory|out of memory/i.test(stderr);
    const why = r.error ? r.error.message : `exit ${r.status}${r.signal ? ` (${r.signal})` : ''}`;
    const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l && l.length < 400 && !l.startsWith('at '));
    out.error = `${why}: ${lines.slice(-3).join(' | ')}`;
  }
  return out;
}
