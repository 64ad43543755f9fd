// BatchMatMul and _FusedMatMul kernels for the wasm and cpu backends that run the product on
// the platform's BLAS (gemm.ts), zero-copy: on wasm the operands are views of the backend's
// heap (WebAssembly memory) at each tensor's offset, the output a tensor the backend allocated.
// The original kernels are kept: _FusedMatMul with an activation or an odd bias shape still
// goes to them, and uninstalling puts them back.
import { tf } from '../tf';
import { Blas } from './blas';
import { gemmInto, productShape } from './gemm';

export const MATMUL_KERNELS = ['BatchMatMul', '_FusedMatMul'] as const;
export type BlasBackend = 'wasm' | 'cpu';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Info = tf.TensorInfo;
interface KernelArgs {
  inputs: Record<string, Info | undefined>;
  attrs?: Record<string, unknown>;
  backend: any;
}

/** Where a backend keeps float32 data, and how a kernel gets an output. */
interface Storage {
  /** A fresh output tensor (allocate before taking views: wasm's heap may grow). */
  alloc(backend: any, shape: number[]): Info;
  view(backend: any, t: Info): Float32Array;
}

const wasmStorage: Storage = {
  alloc: (backend, shape) => backend.makeOutput(shape, 'float32'),
  view: (backend, t) => {
    const n = t.shape.reduce((p, d) => p * d, 1);
    const offset = backend.dataIdMap.get(t.dataId).memoryOffset as number;
    // HEAPF32 is re-read every time: memory growth detaches the old buffer.
    return new Float32Array(backend.wasm.HEAPF32.buffer, offset, n);
  },
};

const cpuStorage: Storage = {
  alloc: (backend, shape) => backend.makeTensorInfo(shape, 'float32', new Float32Array(shape.reduce((p, d) => p * d, 1))),
  view: (backend, t) => backend.data.get(t.dataId).values as Float32Array,
};

const storageOf = (b: BlasBackend) => (b === 'wasm' ? wasmStorage : cpuStorage);

/** What each kernel did, for tests and the op breakdown: products on BLAS (sgemm calls in attention.ts) and fallbacks. */
export const kernelCounts = { blas: 0, fallback: 0 };

function batchMatMul(blas: Blas, storage: Storage, original: tf.KernelFunc) {
  return (args: KernelArgs): Info => {
    const { a, b } = args.inputs as { a: Info; b: Info };
    if (a.dtype !== 'float32' || b.dtype !== 'float32') {
      kernelCounts.fallback++;
      return original(args as any) as Info;
    }
    const tA = !!args.attrs?.transposeA;
    const tB = !!args.attrs?.transposeB;
    const shape = productShape(a.shape, b.shape, tA, tB);
    const out = storage.alloc(args.backend, shape.out);
    gemmInto(blas.sgemm, storage.view(args.backend, a), a.shape, storage.view(args.backend, b), b.shape, tA, tB, storage.view(args.backend, out));
    kernelCounts.blas++;
    return out;
  };
}

/** A bias this kernel can write into the output rows first (then sgemm adds with beta = 1). */
function rowBias(bias: Info | undefined, n: number, outSize: number): 'none' | 'row' | 'full' | 'other' {
  if (!bias) return 'none';
  const size = bias.shape.reduce((p, d) => p * d, 1);
  if (size === n && bias.shape.every((d, i) => i === bias.shape.length - 1 || d === 1)) return 'row';
  if (size === outSize) return 'full';
  return 'other';
}

function fusedMatMul(blas: Blas, storage: Storage, original: tf.KernelFunc) {
  return (args: KernelArgs): Info => {
    const { a, b, bias } = args.inputs as { a: Info; b: Info; bias?: Info };
    const tA = !!args.attrs?.transposeA;
    const tB = !!args.attrs?.transposeB;
    const activation = (args.attrs?.activation as string | undefined) ?? 'linear';
    const shape = productShape(a.shape, b.shape, tA, tB);
    const outSize = shape.out.reduce((p, d) => p * d, 1);
    const kind = rowBias(bias, shape.n, outSize);
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || activation !== 'linear' || kind === 'other' || (kind === 'full' && bias!.shape.join() !== shape.out.join())) {
      kernelCounts.fallback++;
      return original(args as any) as Info;
    }
    const out = storage.alloc(args.backend, shape.out);
    const c = storage.view(args.backend, out);
    if (kind === 'row') {
      const row = storage.view(args.backend, bias!);
      for (let r = 0; r < outSize; r += shape.n) c.set(row, r);
    } else if (kind === 'full') c.set(storage.view(args.backend, bias!));
    gemmInto(blas.sgemm, storage.view(args.backend, a), a.shape, storage.view(args.backend, b), b.shape, tA, tB, c, kind === 'none' ? 0 : 1);
    kernelCounts.blas++;
    return out;
  };
}
/* eslint-enable @typescript-eslint/no-explicit-any */

const originals = new Map<string, tf.KernelConfig>();

export function originalKernel(name: string, backend: BlasBackend): tf.KernelConfig | undefined {
  return originals.get(`${name}/${backend}`) ?? tf.getKernel(name, backend);
}

/** Replaces the backend's matmul kernels by BLAS ones (idempotent per backend). */
export function installBlasKernels(blas: Blas, backend: BlasBackend): void {
  const storage = storageOf(backend);
  for (const name of MATMUL_KERNELS) {
    const key = `${name}/${backend}`;
    const current = tf.getKernel(name, backend);
    if (!current) throw new Error(`the ${backend} backend has no ${name} kernel to replace`);
    if (!originals.has(key)) originals.set(key, current);
    const original = originals.get(key)!;
    const kernelFunc = name === 'BatchMatMul' ? batchMatMul(blas, storage, original.kernelFunc) : fusedMatMul(blas, storage, original.kernelFunc);
    tf.unregisterKernel(name, backend);
    tf.registerKernel({ kernelName: name, backendName: backend, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  }
}

/** Puts the backend's own matmul kernels back. */
export function uninstallBlasKernels(backend: BlasBackend): void {
  for (const name of MATMUL_KERNELS) {
    const original = originals.get(`${name}/${backend}`);
    if (!original) continue;
    tf.unregisterKernel(name, backend);
    // The setup already ran when the backend started; registering it again would repeat nothing.
    tf.registerKernel({ kernelName: name, backendName: backend, kernelFunc: original.kernelFunc });
    originals.delete(`${name}/${backend}`);
  }
}

export function blasKernelsInstalled(backend: BlasBackend): boolean {
  return originals.has(`BatchMatMul/${backend}`);
}
