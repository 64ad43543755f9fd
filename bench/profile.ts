// Op breakdown of one training step. Two views of the same step:
//  - tf.profile(): kernel names, shapes, counts and its kernelTimeMs. On wasm the backend has
//    no timer, so tfjs times each kernel as wall time *plus a dataSync() of every output*,
//    which inflates it; its sum is reported as `tfProfileKernelMs` for reference only.
//  - every kernel of the backend wrapped with a timer (registered again for the duration of the
//    step): pure kernel wall time (wasm kernels are synchronous) and each matMul's attributes
//    (transposeA/transposeB) and batch size, to count the calls that took wasm's slow path.
import { tf } from '../src/engine/tf';
import { productsOnBlas } from '../src/engine/native';
import { round } from './stats';

export type Group = 'matmul' | 'elementwise' | 'rest';

// GPT-2's in-place attention kernels (native/attention.ts) are products too (their GFLOP/s are not
// counted: only kernels with a and b operands are).
const MATMUL = new Set(['BatchMatMul', '_FusedMatMul', 'MatMul', 'Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter', 'AdaptLabPackedScores', 'AdaptLabPackedContext', 'AdaptLabPackedAttentionGrad']);
const ELEMENTWISE = new Set([
  'Add', 'AddN', 'Sub', 'Mul', 'Multiply', 'Div', 'RealDiv', 'FloorDiv', 'Exp', 'Expm1', 'Log', 'Log1p', 'Tanh', 'Sigmoid', 'Sqrt', 'Rsqrt',
  'Square', 'SquaredDifference', 'Pow', 'Neg', 'Cast', 'Maximum', 'Minimum', 'Abs', 'Sign', 'Reciprocal', 'Relu', 'Relu6', 'Elu', 'Erf',
  'Step', 'Equal', 'NotEqual', 'Greater', 'GreaterEqual', 'Less', 'LessEqual', 'LogicalAnd', 'LogicalOr', 'LogicalNot', 'Select', 'SelectV2',
  'ClipByValue', 'ZerosLike', 'OnesLike', 'Fill', 'Round', 'Floor', 'Ceil', 'Sin', 'Cos', 'LeakyRelu', 'Prelu', 'Softplus', 'IsNan',
]);

export function groupOf(kernel: string): Group {
  if (MATMUL.has(kernel)) return 'matmul';
  if (ELEMENTWISE.has(kernel)) return 'elementwise';
  return 'rest';
}

interface Call {
  kernel: string;
  ms: number;
  nested: boolean;
  /** Matmuls only. */
  mm?: { transposeA: boolean; transposeB: boolean; batch: number; flops: number; slow: boolean; key: string };
}

type KernelArgs = { inputs: Record<string, tf.TensorInfo>; attrs?: Record<string, unknown> };

function matmulInfo(args: KernelArgs, onBlas: boolean): Call['mm'] | undefined {
  const a = args.inputs.a;
  const b = args.inputs.b;
  if (!a || !b) return undefined;
  const tA = !!args.attrs?.transposeA;
  const tB = !!args.attrs?.transposeB;
  const as = a.shape;
  const bs = b.shape;
  const batchA = as.slice(0, -2).reduce((x, y) => x * y, 1);
  const batchB = bs.slice(0, -2).reduce((x, y) => x * y, 1);
  const M = tA ? as[as.length - 1] : as[as.length - 2];
  const K = tA ? as[as.length - 2] : as[as.length - 1];
  const N = tB ? bs[bs.length - 2] : bs[bs.length - 1];
  const batch = Math.max(batchA, batchB);
  // wasm: XNNPACK only for no transpose flag and batch 1; everything else is a naive loop.
  // On BLAS every layout runs at full speed.
  return { transposeA: tA, transposeB: tB, batch, flops: 2 * batch * M * N * K, slow: !onBlas && (tA || tB || batch > 1), key: JSON.stringify([as, bs, tA, tB]) };
}

/** Wraps every registered kernel of `backend` with a timer until restore() is called. */
export function instrumentKernels(backend: string): { calls: Call[]; restore(): void } {
  const calls: Call[] = [];
  const originals = tf.getKernelsForBackend(backend);
  const onBlas = productsOnBlas();
  let depth = 0;
  for (const cfg of originals) {
    const orig = cfg.kernelFunc;
    tf.unregisterKernel(cfg.kernelName, backend);
    tf.registerKernel({
      ...cfg,
      kernelFunc: ((args: KernelArgs & { backend: unknown }) => {
        const nested = depth > 0;
        depth++;
        const t0 = performance.now();
        try {
          return (orig as (a: unknown) => unknown)(args);
        } finally {
          const ms = performance.now() - t0;
          depth--;
          calls.push({ kernel: cfg.kernelName, ms, nested, mm: MATMUL.has(cfg.kernelName) ? matmulInfo(args, onBlas) : undefined });
        }
      }) as tf.KernelFunc,
    });
  }
  return {
    calls,
    restore() {
      for (const cfg of originals) {
        tf.unregisterKernel(cfg.kernelName, backend);
        tf.registerKernel(cfg);
      }
    },
  };
}

export interface ProfileRecord {
  name: 'profile';
  shape: string;
  mode: string;
  backend: string;
  microBatch: number;
  stepWallMs: number;
  kernelMs: number;
  /** Wall time not spent inside kernels: tape bookkeeping, JS loops (embedding gradient), reads. */
  outsideKernelsMs: number;
  kernelCalls: number;
  tfProfileKernels: number;
  tfProfileKernelMs: number | null;
  tfProfileNewTensors: number;
  tfProfilePeakMiB: number;
  groups: Record<Group, { ms: number; pct: number; calls: number }>;
  top: { kernel: string; ms: number; pct: number; calls: number }[];
  matmul: {
    calls: number;
    fastCalls: number;
    fastMs: number;
    fastGflops: number;
    slowCalls: number;
    slowMs: number;
    slowGflops: number;
    transposeA: number;
    transposeB: number;
    batched: number;
    /** Every product of the step: GFLOP/s inside the step (kernel wall time). */
    gflops: number;
    /** The same products timed alone, each repeated (a microbenchmark of the step's own shapes). */
    aloneGflops: number;
  };
  /** "OpenBLAS 0.3.21 (1 thread)" when the products ran on BLAS. */
  blas?: string;
}

/** GFLOP/s of the step's products timed alone: each distinct layout repeated, weighted by its calls. */
function productsAlone(calls: Call[]): number {
  const byKey = new Map<string, { n: number; flops: number }>();
  for (const c of calls) {
    const e = byKey.get(c.mm!.key) ?? { n: 0, flops: c.mm!.flops };
    e.n++;
    byKey.set(c.mm!.key, e);
  }
  let flops = 0;
  let ms = 0;
  for (const [key, e] of byKey) {
    const [as, bs, tA, tB] = JSON.parse(key) as [number[], number[], boolean, boolean];
    tf.tidy(() => {
      const a = tf.randomNormal(as, 0, 1, 'float32', 1);
      const b = tf.randomNormal(bs, 0, 1, 'float32', 2);
      tf.matMul(a, b, tA, tB).dispose(); // warm
      let reps = 0;
      const t0 = performance.now();
      while (reps < 3 || (performance.now() - t0 < 30 && reps < 200)) {
        tf.matMul(a, b, tA, tB).dispose();
        reps++;
      }
      const per = (performance.now() - t0) / reps;
      ms += per * e.n;
      flops += e.flops * e.n;
    });
  }
  return ms > 0 ? flops / (ms / 1000) / 1e9 : NaN;
}

/** Profiles one call of `step` (which must run a whole training step synchronously). */
export async function profileStep(step: () => void, meta: { shape: string; mode: string; backend: string; microBatch: number; blas?: string }): Promise<ProfileRecord> {
  const backend = tf.getBackend();
  const inst = instrumentKernels(backend);
  let wall = 0;
  let info: Awaited<ReturnType<typeof tf.profile>>;
  try {
    info = await tf.profile(() => {
      const t0 = performance.now();
      step();
      wall = performance.now() - t0;
    });
  } finally {
    inst.restore();
  }
  const top = inst.calls.filter((c) => !c.nested);
  const kernelMs = top.reduce((s, c) => s + c.ms, 0);
  const groups: ProfileRecord['groups'] = { matmul: { ms: 0, pct: 0, calls: 0 }, elementwise: { ms: 0, pct: 0, calls: 0 }, rest: { ms: 0, pct: 0, calls: 0 } };
  const byKernel = new Map<string, { ms: number; calls: number }>();
  for (const c of top) {
    const g = groups[groupOf(c.kernel)];
    g.ms += c.ms;
    g.calls++;
    const k = byKernel.get(c.kernel) ?? { ms: 0, calls: 0 };
    k.ms += c.ms;
    k.calls++;
    byKernel.set(c.kernel, k);
  }
  for (const g of Object.values(groups)) {
    g.pct = round((100 * g.ms) / kernelMs, 3);
    g.ms = round(g.ms);
  }
  const mmCalls = top.filter((c) => c.mm);
  const fast = mmCalls.filter((c) => !c.mm!.slow);
  const slow = mmCalls.filter((c) => c.mm!.slow);
  const sum = (cs: Call[], f: (c: Call) => number) => cs.reduce((s, c) => s + f(c), 0);
  const gflops = (cs: Call[]) => (sum(cs, (c) => c.ms) > 0 ? sum(cs, (c) => c.mm!.flops) / (sum(cs, (c) => c.ms) / 1000) / 1e9 : NaN);
  // tf.profile also lists customGrad scopes ("unnamed scope", "forward"): keep real kernels only.
  const registered = new Set(tf.getKernelsForBackend(backend).map((k) => k.kernelName));
  const kernels = info.kernels.filter((k) => registered.has(k.name));
  const profMs = kernels.map((k) => k.kernelTimeMs as unknown);
  const profNumeric = profMs.every((x) => typeof x === 'number');
  return {
    name: 'profile',
    ...meta,
    stepWallMs: round(wall),
    kernelMs: round(kernelMs),
    outsideKernelsMs: round(wall - kernelMs),
    kernelCalls: top.length,
    tfProfileKernels: kernels.length,
    tfProfileKernelMs: profNumeric ? round((profMs as number[]).reduce((a, b) => a + b, 0)) : null,
    tfProfileNewTensors: info.newTensors,
    tfProfilePeakMiB: round(info.peakBytes / 1048576),
    groups,
    top: [...byKernel.entries()]
      .sort((a, b) => b[1].ms - a[1].ms)
      .slice(0, 8)
      .map(([kernel, v]) => ({ kernel, ms: round(v.ms), pct: round((100 * v.ms) / kernelMs, 3), calls: v.calls })),
    matmul: {
      calls: mmCalls.length,
      fastCalls: fast.length,
      fastMs: round(sum(fast, (c) => c.ms)),
      fastGflops: round(gflops(fast), 3),
      slowCalls: slow.length,
      slowMs: round(sum(slow, (c) => c.ms)),
      slowGflops: round(gflops(slow), 3),
      transposeA: mmCalls.filter((c) => c.mm!.transposeA).length,
      transposeB: mmCalls.filter((c) => c.mm!.transposeB).length,
      batched: mmCalls.filter((c) => c.mm!.batch > 1).length,
      gflops: round(gflops(mmCalls), 3),
      aloneGflops: round(productsAlone(mmCalls), 3),
    },
  };
}
