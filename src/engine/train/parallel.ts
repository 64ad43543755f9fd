// Data-parallel gradients over worker threads. The wasm backend runs one thread per instance
// (its own threads are off under Node), so a step's rows are split across N threads, each
// with its own backend and a replica of the model: the calling thread takes the first share,
// workers the others, and the gradients are summed in a fixed order (deterministic for a given
// thread count). The replicas get the trainable values before every step; the optimiser stays
// on the calling thread.
import { Worker } from 'node:worker_threads';
import { tf, Tensor } from '../tf';
import { AdaptConfig } from '../../protocol/config';
import { ModelConfig } from '../core/model-config';
import { CausalLM } from '../model/model';
import type { StoredMatrix } from '../core/formats/quant';
import { PackedBatch } from '../data/dataset';
import { TrainParam } from '../adapt/methods';
import { accumulateGrads, StepOptions } from './step';
import { blasStatus } from '../native';

export interface TensorData {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** What a worker is started with (its workerData). */
export interface GradWorkerInit {
  adaptLabGradWorker: 1;
  backend: string;
  /** Matrix products on BLAS, as on the calling thread, with this many BLAS threads. */
  blas: boolean;
  blasThreads: number;
  config: ModelConfig;
  /** Every float32 base parameter, in the in-memory layout. */
  tensors: TensorData[];
  /** The base parameters kept outside the backend in their file's encoding, by HF name. */
  external: [string, StoredMatrix][];
  adapt: AdaptConfig;
  seed: number;
  layerLrDecay: number;
}

export interface GradRequest {
  type: 'grads';
  id: number;
  trainable: TensorData[];
  micro: PackedBatch[];
  seeds: number[];
  labelTotal: number;
  options: Omit<StepOptions, 'seed'>;
}

export type GradReply =
  | { type: 'ready'; backend: string; blas?: string }
  | { type: 'grads'; id: number; loss: number; grads: TensorData[] }
  | { type: 'error'; id?: number; message: string };

export type AccumulateOptions = Omit<StepOptions, 'seed'> & { seedOf: (i: number) => number };

/** Rows [from, to) of a packed batch (views, no copy). */
export function sliceRows(b: PackedBatch, from: number, to: number): PackedBatch {
  const T = b.length;
  return {
    ids: b.ids.subarray(from * T, to * T),
    labels: b.labels.subarray(from * T, to * T),
    weights: b.weights.subarray(from * T, to * T),
    batch: to - from,
    length: T,
    tokens: (to - from) * T,
  };
}

/**
 * Thread j's share of a step: the j-th of `n` contiguous row ranges of every micro-batch (sizes
 * differ by at most one row), with each piece's dropout seed. Thread 0 keeps the micro-batch's
 * own seed, so one thread trains exactly as without a pool.
 */
export function shareOf(micro: PackedBatch[], n: number, j: number, seedOf: (i: number) => number): { micro: PackedBatch[]; seeds: number[] } {
  const out: PackedBatch[] = [];
  const seeds: number[] = [];
  micro.forEach((b, i) => {
    const from = Math.floor((b.batch * j) / n);
    const to = Math.floor((b.batch * (j + 1)) / n);
    if (to > from) {
      out.push(n === 1 ? b : sliceRows(b, from, to));
      seeds.push(seedOf(i) + 7919 * j);
    }
  });
  return { micro: out, seeds };
}

export interface GradientPool {
  readonly threads: number;
  /** One step's summed loss and gradients, its rows spread over the threads. */
  grads(micro: PackedBatch[], labelTotal: number, o: AccumulateOptions): Promise<{ loss: number; grads: Map<string, Tensor> }>;
  dispose(): Promise<void>;
}

export interface PoolOptions {
  threads: number;
  /** The worker script: a bundle whose entry calls serveGradients (dist/grad-worker.js). */
  script: string;
  backend: string;
  /** BLAS in the workers (default: as on this thread), with this many threads each (default 1). */
  blas?: boolean;
  blasThreads?: number;
  model: CausalLM;
  params: TrainParam[];
  adapt: AdaptConfig;
  seed: number;
  layerLrDecay: number;
}

function values(params: TrainParam[]): TensorData[] {
  return params.map((p) => ({ name: p.name, shape: p.variable.shape, data: p.variable.dataSync() as Float32Array }));
}

class WorkerHandle {
  private next = 0;
  private waiting = new Map<number, { resolve: (r: GradReply & { type: 'grads' }) => void; reject: (e: Error) => void }>();
  private dead?: Error;

  constructor(readonly worker: Worker, readonly index: number) {
    worker.on('message', (m: GradReply) => {
      if (m.type === 'grads') this.settle(m.id, (w) => w.resolve(m));
      else if (m.type === 'error' && m.id !== undefined) this.settle(m.id, (w) => w.reject(new Error(`gradient worker ${index}: ${m.message}`)));
    });
    const die = (e: Error) => {
      this.dead = e;
      for (const w of this.waiting.values()) w.reject(e);
      this.waiting.clear();
    };
    worker.on('error', (e) => die(new Error(`gradient worker ${index} failed: ${e.message}`)));
    worker.on('exit', (code) => die(new Error(`gradient worker ${index} exited (code ${code})`)));
  }

  private settle(id: number, f: (w: { resolve: (r: GradReply & { type: 'grads' }) => void; reject: (e: Error) => void }) => void): void {
    const w = this.waiting.get(id);
    this.waiting.delete(id);
    if (this.waiting.size === 0) this.worker.unref();
    if (w) f(w);
  }

  request(r: Omit<GradRequest, 'type' | 'id'>): Promise<GradReply & { type: 'grads' }> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.ref(); // an idle worker never keeps the process alive; a busy one does
      this.worker.postMessage({ type: 'grads', id, ...r } satisfies GradRequest);
    });
  }
}

function startWorker(script: string, init: GradWorkerInit, index: number): Promise<WorkerHandle> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(script, { workerData: init });
    const off = () => {
      worker.off('error', onError);
      worker.off('exit', onExit);
      worker.off('message', onMessage);
    };
    const fail = (e: Error) => {
      off();
      reject(new Error(`gradient worker ${index} did not start: ${e.message}`));
    };
    const onError = (e: Error) => fail(e);
    const onExit = (code: number) => fail(new Error(`exited (code ${code})`));
    const onMessage = (m: GradReply) => {
      off();
      if (m.type === 'ready') {
        worker.unref();
        resolve(new WorkerHandle(worker, index));
      } else {
        void worker.terminate();
        fail(new Error(m.type === 'error' ? m.message : `unexpected message "${m.type}"`));
      }
    };
    worker.on('error', onError);
    worker.on('exit', onExit);
    worker.on('message', onMessage);
  });
}

/** Starts threads − 1 workers, each with a replica of the model and the same adapt config. */
export async function startGradientPool(o: PoolOptions): Promise<GradientPool> {
  if (o.threads < 2) throw new Error('a gradient pool needs at least 2 threads');
  const init: GradWorkerInit = {
    adaptLabGradWorker: 1,
    backend: o.backend,
    blas: o.blas ?? blasStatus().on,
    blasThreads: o.blasThreads ?? 1,
    config: o.model.config,
    tensors: o.model.specs.filter((s) => !o.model.external.has(s.name))
      .map((s) => ({ name: s.name, shape: o.model.param(s.name).shape, data: o.model.param(s.name).dataSync() as Float32Array })),
    external: [...o.model.external],
    adapt: o.adapt,
    seed: o.seed,
    layerLrDecay: o.layerLrDecay,
  };
  const started = await Promise.allSettled(Array.from({ length: o.threads - 1 }, (_, i) => startWorker(o.script, init, i + 1)));
  const workers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await Promise.all(workers.map((w) => w.worker.terminate()));
    throw failed.reason;
  }
  const { model, params } = o;
  return {
    threads: o.threads,
    async grads(micro, labelTotal, opts) {
      const n = o.threads;
      const trainable = values(params);
      const { seedOf, ...options } = opts;
      const pending = workers.map((w, k) => {
        const s = shareOf(micro, n, k + 1, seedOf);
        return s.micro.length === 0 ? undefined : w.request({ trainable, micro: s.micro, seeds: s.seeds, labelTotal, options });
      });
      // Rejections are handled below, after this thread's share.
      pending.forEach((p) => p?.catch(() => undefined));
      const mine = shareOf(micro, n, 0, seedOf);
      const own = accumulateGrads(model, params, mine.micro, labelTotal, { ...options, seedOf: (i) => mine.seeds[i] });
      let replies: (GradReply & { type: 'grads' } | undefined)[];
      try {
        replies = await Promise.all(pending);
      } catch (e) {
        tf.dispose([...own.grads.values()]);
        throw e;
      }
      let loss = own.loss;
      const grads = own.grads;
      for (const r of replies) {
        if (!r) continue;
        loss += r.loss;
        for (const g of r.grads) {
          const prev = grads.get(g.name);
          const t = tf.tensor(g.data, g.shape);
          if (prev) {
            grads.set(g.name, tf.add(prev, t));
            prev.dispose();
            t.dispose();
          } else grads.set(g.name, t);
        }
      }
      return { loss, grads };
    },
    async dispose() {
      await Promise.all(workers.map((w) => w.worker.terminate()));
    },
  };
}
