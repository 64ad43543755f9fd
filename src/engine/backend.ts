// Chooses the fastest TensorFlow.js backend that loads here:
// tfjs-node-gpu → tfjs-node → wasm → cpu. Each is tried only if installed and loadable, and
// the reason each earlier one was skipped is kept, so the run record and `--verbose` show it.
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';
import { tf } from './tf';

export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_ORDER: BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

export interface BackendChoice {
  name: BackendName;
  /** tfjs's own backend name, as `tf.getBackend()` reports it. */
  tfName: string;
  skipped: { name: BackendName; reason: string }[];
  versions: Record<string, string>;
}

let chosen: BackendChoice | undefined;

export function currentBackend(): BackendChoice | undefined {
  return chosen;
}

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

async function tryNative(gpu: boolean): Promise<void> {
  const pkg = gpu ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
  try {
    require.resolve(pkg);
  } catch {
    throw new Error(`${pkg} is not installed (it is optional; its install needs to download libtensorflow)`);
  }
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  require(pkg);
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
}

export async function selectBackend(opts: SelectOptions = {}): Promise<BackendChoice> {
  const want = opts.backend && opts.backend !== 'auto' ? opts.backend : undefined;
  if (want && !BACKEND_ORDER.includes(want as BackendName)) {
    throw new Error(`unknown backend "${want}": use one of auto, ${BACKEND_ORDER.join(', ')}`);
  }
  if (chosen && (!want || want === chosen.name)) return chosen;
  const order = want ? [want as BackendName] : BACKEND_ORDER;
  const skipped: BackendChoice['skipped'] = [];
  for (const name of order) {
    try {
      if (name === 'tensorflow-gpu') await tryNative(true);
      else if (name === 'tensorflow') await tryNative(false);
      else if (name === 'wasm') await tryWasm();
      else await tryCpu();
      smokeTest();
      chosen = { name, tfName: tf.getBackend(), skipped, versions: { 'tfjs-core': tf.version_core, node: process.version } };
      opts.log?.(`backend: ${name}${skipped.length ? '' : ' (first choice)'}`);
      for (const s of skipped) opts.log?.(`  skipped ${s.name}: ${s.reason}`);
      return chosen;
    } catch (e) {
      skipped.push({ name, reason: firstLine(e) });
    }
  }
  throw new Error(`no TensorFlow.js backend could start: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`);
}
