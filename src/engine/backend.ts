// Chooses the fastest TensorFlow.js backend that loads here:
// tfjs-node-gpu → tfjs-node → wasm → cpu. Each is tried only if installed and loadable, and
// the reason each earlier one was skipped is kept, so the run record and `--verbose` show it.
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';
import { tf } from './tf';
import { BlasStatus, enableBlas } from './native';

export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_ORDER: BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

export interface BackendChoice {
  name: BackendName;
  /** tfjs's own backend name, as `tf.getBackend()` reports it. */
  tfName: string;
  skipped: { name: BackendName; reason: string }[];
  versions: Record<string, string>;
  /** Whether matrix products run on the platform's BLAS (wasm and cpu), or why not. */
  blas: BlasStatus;
  /** What runs, in words: "wasm + OpenBLAS 0.3.21 (1 thread)", "wasm", "tensorflow". */
  label: string;
}

let chosen: BackendChoice | undefined;

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0].slice(0, 300);
}

/** Where the wasm binaries are: next to the bundle (packaged extension) or in node_modules. */
function wasmDir(): string {
  const here = join(__dirname, 'wasm');
  if (existsSync(join(here, 'tfjs-backend-wasm-simd.wasm'))) return here + '/';
  return dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')) + '/dist/';
}

/** A node_modules folder with tfjs-node installed apart from the program ("Install Native Backend"). */
export const NATIVE_MODULES_ENV = 'ADAPT_LAB_NATIVE_MODULES';

/** Where `pkg` resolves: the folder ADAPT_LAB_NATIVE_MODULES names first, then the usual places. */
function resolveNative(pkg: string): string {
  const dir = process.env[NATIVE_MODULES_ENV];
  if (dir) {
    try {
      return require.resolve(pkg, { paths: [dir] });
    } catch {
      // not there: try the program's own node_modules
    }
  }
  return require.resolve(pkg);
}

async function tryNative(gpu: boolean): Promise<void> {
  const pkg = gpu ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
  let path: string;
  try {
    path = resolveNative(pkg);
  } catch {
    throw new Error(`${pkg} is not installed (it is optional; its install needs to download libtensorflow)`);
  }
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  require(path);
  if (!(await tf.setBackend('tensorflow'))) throw new Error(`${pkg} loaded but its backend did not initialise`);
  if (gpu) {
    // tfjs-node-gpu silently runs on the CPU when CUDA is missing: check it really sees a GPU.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const binding = (tf.backend() as any).binding;
    const devices: string = binding?.TF_Version ? String(binding.getGPUDeviceCount?.() ?? '') : '';
    if (devices === '0') throw new Error('tfjs-node-gpu loaded but found no CUDA GPU');
  }
}

async function tryWasm(): Promise<void> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  wasm.setWasmPaths(wasmDir());
  if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend did not initialise');
  shareDataOnWasm();
}

type KernelArgs = { inputs: Record<string, tf.TensorInfo>; attrs?: Record<string, unknown>; backend: { incRef(id: object): void } };

/**
 * wasm's Identity, and its Cast to the same dtype, copy the whole tensor; tfjs runs them for
 * every tensor a gradient saves and in the backward pass of every product. Tensor data is
 * never written in place (a Variable's assign takes a new buffer), so, as the cpu backend
 * does, these share the input's buffer under a reference count instead.
 */
function shareDataOnWasm(): void {
  const share = (x: tf.TensorInfo, backend: KernelArgs['backend']) => {
    backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
  const cast = tf.getKernel('Cast', 'wasm');
  if (!cast || tf.getKernel('Identity', 'wasm')?.kernelFunc.name === 'shareIdentity') return;
  const castCopy = cast.kernelFunc;
  tf.unregisterKernel('Identity', 'wasm');
  tf.registerKernel({ kernelName: 'Identity', backendName: 'wasm', kernelFunc: function shareIdentity(a) { const args = a as unknown as KernelArgs; return share(args.inputs.x, args.backend); } });
  tf.unregisterKernel('Cast', 'wasm');
  tf.registerKernel({
    kernelName: 'Cast', backendName: 'wasm',
    kernelFunc: (a) => {
      const args = a as unknown as KernelArgs;
      const x = args.inputs.x;
      return args.attrs?.dtype === x.dtype ? share(x, args.backend) : castCopy(a);
    },
  });
}

async function tryCpu(): Promise<void> {
  await import('@tensorflow/tfjs-backend-cpu');
  if (!(await tf.setBackend('cpu'))) throw new Error('the cpu backend did not initialise');
}

/** A one-step forward/backward check catches a backend that loads but lacks a kernel. */
function smokeTest(): void {
  tf.tidy(() => {
    const w = tf.variable(tf.tensor2d([[1, 2], [3, 4]]), true, 'smoke');
    const g = tf.grads((a: tf.Tensor) => tf.sum(tf.matMul(a, a)))([w]);
    const v = g[0].dataSync();
    w.dispose();
    if (!Number.isFinite(v[0])) throw new Error('smoke test produced a non-finite gradient');
  });
}

export interface SelectOptions {
  backend?: string; // 'auto' or a BackendName
  log?: (line: string) => void;
  /** false: keep the backend's own matrix products (config "blas": false). Default on. */
  blas?: boolean;
  /** BLAS threads for products on this thread (default 1). */
  blasThreads?: number;
}

/** Applies the BLAS choice to a chosen backend and describes the result. */
function withBlas(choice: Omit<BackendChoice, 'blas' | 'label'>, opts: SelectOptions): BackendChoice {
  const blas = enableBlas(choice.name, { enabled: opts.blas, threads: opts.blasThreads });
  const { blas: _old, ...versions } = choice.versions;
  if (blas.on) versions.blas = blas.label!.replace(/ \(.*\)$/, '');
  return { ...choice, versions, blas, label: blas.on ? `${choice.name} + ${blas.label}` : choice.name };
}

function logBlas(c: BackendChoice, log?: (line: string) => void): void {
  if (!log || (c.name !== 'wasm' && c.name !== 'cpu')) return;
  log(c.blas.on ? `matrix products: ${c.blas.label} (${c.blas.library})` : `matrix products: the ${c.name} backend's own (BLAS off: ${c.blas.reason})`);
}

export async function selectBackend(opts: SelectOptions = {}): Promise<BackendChoice> {
  const want = opts.backend && opts.backend !== 'auto' ? opts.backend : undefined;
  if (want && !BACKEND_ORDER.includes(want as BackendName)) {
    throw new Error(`unknown backend "${want}": use one of auto, ${BACKEND_ORDER.join(', ')}`);
  }
  if (chosen && (!want || want === chosen.name)) {
    // A later caller may ask for BLAS differently (a run config with "blas": false).
    if (opts.blas !== undefined || opts.blasThreads !== undefined) {
      chosen = withBlas(chosen, opts);
      logBlas(chosen, opts.log);
    }
    return chosen;
  }
  const order = want ? [want as BackendName] : BACKEND_ORDER;
  const skipped: BackendChoice['skipped'] = [];
  for (const name of order) {
    try {
      if (name === 'tensorflow-gpu') await tryNative(true);
      else if (name === 'tensorflow') await tryNative(false);
      else if (name === 'wasm') await tryWasm();
      else await tryCpu();
      smokeTest();
      chosen = withBlas({ name, tfName: tf.getBackend(), skipped, versions: { 'tfjs-core': tf.version_core, node: process.version } }, opts);
      opts.log?.(`backend: ${name}${skipped.length ? '' : ' (first choice)'}`);
      for (const s of skipped) opts.log?.(`  skipped ${s.name}: ${s.reason}`);
      logBlas(chosen, opts.log);
      return chosen;
    } catch (e) {
      skipped.push({ name, reason: firstLine(e) });
    }
  }
  throw new Error(`no TensorFlow.js backend could start: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`);
}
