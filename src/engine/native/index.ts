// Matrix products on the platform's BLAS for the wasm and cpu backends: load the library,
// install the kernels, check a few small products against the backend's own kernels, and say
// what runs ("OpenBLAS 0.3.21 (1 thread)") or why not. Any failure leaves the backend's own
// kernels in place.
import { tf } from '../tf';
import { Blas, candidateLibraries, loadBlas } from './blas';
import { BlasBackend, blasKernelsInstalled, installBlasKernels, originalKernel, uninstallBlasKernels } from './kernels';

export interface BlasStatus {
  on: boolean;
  /** What runs, e.g. "OpenBLAS 0.3.21 (1 thread)"; absent when off. */
  label?: string;
  /** The library file, when one was loaded. */
  library?: string;
  threads?: number;
  /** Why it is off. */
  reason?: string;
}

/** ADAPT_LAB_BLAS=off (or 0, false, no) turns the BLAS path off for every process that sees it. */
export const OFF_ENV = 'ADAPT_LAB_BLAS';

export function blasOffByEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return /^(off|0|false|no)$/i.test(env[OFF_ENV]?.trim() ?? '');
}

let library: Blas | undefined;
/** What loading gave, per list of candidates (ADAPT_LAB_BLAS_LIBRARY changes the list). */
const loaded = new Map<string, Blas | string>();
let status: BlasStatus = { on: false, reason: 'not started' };

export function blasStatus(): BlasStatus {
  return status;
}

/** The loaded library, when the BLAS path is on (for callers that run sgemm themselves). */
export function activeBlas(): Blas | undefined {
  return status.on ? library : undefined;
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0];

function labelOf(blas: Blas, threads: number | undefined): string {
  return threads === undefined ? blas.name : `${blas.name} (${threads} thread${threads === 1 ? '' : 's'})`;
}

export interface EnableOptions {
  /** false: keep the backend's own kernels (config "blas": false). */
  enabled?: boolean;
  /** BLAS threads for products on this thread (default 1; see the README on threads). */
  threads?: number;
}

/** Turns the BLAS path on for `backend` (the current tfjs backend), or says why it stays off. */
export function enableBlas(backend: string, opts: EnableOptions = {}): BlasStatus {
  if (backend !== 'wasm' && backend !== 'cpu') {
    return (status = { on: false, reason: `not used with the ${backend} backend (it runs its own products)` });
  }
  if (opts.enabled === false) return disableBlas(backend, 'turned off (config "blas": false or the adaptLab.blas setting)');
  if (blasOffByEnv()) return disableBlas(backend, `turned off (${OFF_ENV}=${process.env[OFF_ENV]})`);
  const candidates = candidateLibraries();
  const key = candidates.join('|');
  if (!loaded.has(key)) {
    try {
      loaded.set(key, loadBlas(candidates));
    } catch (e) {
      loaded.set(key, message(e));
    }
  }
  const got = loaded.get(key)!;
  if (typeof got === 'string') return disableBlas(backend, got);
  library = got;
  const threads = setBlasThreads(opts.threads ?? 1);
  try {
    installBlasKernels(library, backend);
    selfCheck(backend);
  } catch (e) {
    return disableBlas(backend, `${library.name} failed its self-check: ${message(e)}`);
  }
  return (status = { on: true, label: labelOf(library, threads), library: library.library, threads });
}

/** Puts the backend's own kernels back (tests compare the two paths in one process). */
export function disableBlas(backend: BlasBackend, reason = 'turned off'): BlasStatus {
  if (blasKernelsInstalled(backend)) uninstallBlasKernels(backend);
  return (status = { on: false, reason });
}

/** BLAS threads for products started on the calling thread; returns what the library reports. */
export function setBlasThreads(n: number): number | undefined {
  if (!library) return undefined;
  library.setThreads(Math.max(1, Math.floor(n)));
  const now = library.threads();
  if (status.on && library) status = { ...status, threads: now, label: labelOf(library, now) };
  return now;
}

/** Deterministic values in [-0.5, 0.5) (no RNG state touched). */
function values(n: number, salt: number): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = ((i * 0.6180339887 + salt * 0.3819660113) % 1) - 0.5;
  return v;
}

/**
 * Every layout the kernels take — rank 2 and 3, each transpose, a broadcast batch, a bias —
 * against the backend's own kernel on the same tensors.
 */
function selfCheck(backend: BlasBackend): void {
  const cases: [number[], number[], boolean, boolean][] = [
    [[5, 7], [7, 3], false, false],
    [[7, 5], [7, 3], true, false],
    [[5, 7], [3, 7], false, true],
    [[7, 5], [3, 7], true, true],
    [[2, 5, 7], [2, 7, 3], false, false],
    [[2, 7, 5], [2, 3, 7], true, true],
    [[3, 5, 7], [1, 7, 3], false, false],
    [[1, 5, 7], [3, 3, 7], false, true],
  ];
  const b = tf.backend() as unknown as { readSync(id: object): Float32Array; disposeData(id: object): void };
  const compare = (what: string, ours: tf.Tensor, ref: tf.TensorInfo) => {
    const want = b.readSync(ref.dataId);
    b.disposeData(ref.dataId);
    const got = ours.dataSync();
    if (ours.shape.join() !== ref.shape.join()) throw new Error(`${what}: shape [${ours.shape}] instead of [${ref.shape}]`);
    for (let i = 0; i < want.length; i++) {
      if (!(Math.abs(got[i] - want[i]) <= 1e-4 * (1 + Math.abs(want[i])))) throw new Error(`${what}: element ${i} is ${got[i]} instead of ${want[i]}`);
    }
  };
  const run = (name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, unknown>) =>
    originalKernel(name, backend)!.kernelFunc({ inputs, attrs, backend: tf.backend() } as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  tf.tidy(() => {
    cases.forEach(([as, bs, tA, tB], i) => {
      const x = tf.tensor(values(as.reduce((p, d) => p * d, 1), i), as);
      const y = tf.tensor(values(bs.reduce((p, d) => p * d, 1), i + 11), bs);
      const what = `[${as}]${tA ? 'ᵀ' : ''} × [${bs}]${tB ? 'ᵀ' : ''}`;
      compare(what, tf.matMul(x, y, tA, tB), run('BatchMatMul', { a: x, b: y }, { transposeA: tA, transposeB: tB }));
    });
    // One batch: wasm's own _FusedMatMul adds the bias wrongly past the first (tfjs 4.22).
    const x = tf.tensor(values(5 * 7, 3), [1, 5, 7]);
    const y = tf.tensor(values(7 * 3, 4), [1, 7, 3]);
    const bias = tf.tensor(values(3, 5), [3]);
    const fused = tf.fused.matMul({ a: x, b: y, bias });
    compare('fused [1,5,7] × [1,7,3] + bias', fused, run('_FusedMatMul', { a: x, b: y, bias }, { transposeA: false, transposeB: false, activation: 'linear' }));
  });
}

export const THREADS_ENV = 'ADAPT_LAB_BLAS_THREADS';

/**
 * BLAS threads for each training thread: 1, or ADAPT_LAB_BLAS_THREADS. Measured here (2 cores
 * shared with other work, load 25-30): a tiny LoRA step's 97 products took 0.71 s on 1 BLAS
 * thread and 1.3-4.2 s on 2 (an OpenMP team waits for its slowest thread to be scheduled), so
 * a run uses more cores through training.threads (worker threads, which parallelise the whole
 * step) rather than through BLAS threads.
 */
export function blasThreadsPerWorker(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env[THREADS_ENV]);
  return Number.isInteger(n) && n >= 1 ? n : 1;
}

/** Whether the current backend's matrix products run on BLAS (transpose flags and batches are then free). */
export function productsOnBlas(): boolean {
  const b = tf.getBackend();
  return (b === 'wasm' || b === 'cpu') && blasKernelsInstalled(b);
}
