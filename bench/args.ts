// Command-line options of the benchmark.

export const SECTIONS = ['generation', 'train', 'torch', 'profile', 'eval', 'extension', 'monitor', 'prompts', 'catalogue', 'quant', 'scale', 'torchrun'] as const;
export type Section = (typeof SECTIONS)[number];

/** Training shapes (train, torch, profile) and the scale section's. */
const SHAPE_NAMES = ['tiny', 'small', 'llama-20m', 'llama-200m', 'llama-3.2-1b'];

export interface BenchArgs {
  only: Set<Section>;
  json: boolean;
  quick: boolean;
  backend: string;
  /** Timed training steps (overrides the per-shape default). */
  steps?: number;
  warmup?: number;
  /** Rounds of ours-then-torch per training case. */
  rounds?: number;
  /** Child mode: run one training case in this process. */
  case?: string;
  /** Child mode: rows per micro-batch (gradients accumulated over the batch). */
  microBatch?: number;
  /** Our threads per training step (the trainer's gradient pool; default 2, as torch's). */
  threads?: number;
  /** Child mode: profile one more step after the timed ones. */
  profileStep: boolean;
  help: boolean;
  /** Pin torch's --threads (default: 2, plus 1 when the machine is busy, the faster kept). */
  torchThreads?: number;
  /** Only these training/profile shapes. */
  shapes?: Set<string>;
  /** Also write the JSON lines to this file while printing tables. */
  jsonOut?: string;
  /** false: matrix products on the backend's own kernels (children get ADAPT_LAB_BLAS=off). */
  blas: boolean;
  /** scale: recompute block activations in the backward pass (auto: when the estimate says the heap needs it). */
  recompute: 'on' | 'off' | 'auto';
  /** false (--no-torch): the scale section runs ours only. */
  torch: boolean;
}

export const USAGE = `usage: node dist/bench.js [options]
  --only SECTION      generation | train | torch | profile | eval | extension | monitor | prompts | catalogue | quant | scale | torchrun
                      (torchrun: the small shape as a Llama, LoRA, trained by our engine and by adapt-lab launch
                       --torchrun on 1 and 2 processes; tokens/s side by side)
                      (quant: Qwen2.5-0.5B- and Llama-3.2-1B-shaped random models at Q4_K;
                       scale: LoRA on BF16 Llama shapes up to Llama-3.2-1B, weights outside the wasm heap, beside torch;
                       --shape llama-20m,llama-200m,llama-3.2-1b picks some)
                      (repeatable or a comma list; default all)
  --steps N           timed training steps per case and round (default tiny 5, small 2; --quick 3 and 1)
  --warmup N          warmup steps per case (default tiny 3, small 2, as torch; --quick 1)
  --rounds R          rounds of ours-then-torch per training case and of the 124M generation
                      (default tiny 3, small 1, torch --infer 1; --quick 1; 1 when torch is absent)
  --micro-batch N     rows per micro-batch (default tiny 8, small 4: 8 rows exceed the 4 GiB wasm heap)
  --threads N         our threads per training step: rows spread over worker threads, one wasm
                      backend each (default 2, torch's default here; the op breakdown uses 1)
  --quick             fewer steps, tokens and repeats; small runs only lora (about 3 minutes)
  --shape NAME        only these shapes: tiny, small (train/torch/profile), llama-20m, llama-200m, llama-3.2-1b (scale)
  --torch-threads N   pin torch's --threads (default 2, plus 1 when other processes are busy; faster kept)
  --backend NAME      auto | wasm | cpu | tensorflow | tensorflow-gpu (default auto)
  --blas on|off       matrix products on the platform's BLAS (default on; off: the backend's own kernels)
  --recompute on|off|auto  scale: recompute block activations in backward (default auto: when the heap needs it)
  --no-torch          scale: ours only
  --json              one JSON object per line, each with a "name" field
  --json-out FILE     print the tables and also write the JSON lines to FILE
  --case SHAPE:MODE   run one training case in this process, e.g. tiny:lora (what the parent spawns)
  --profile-step      with --case: profile one more step after the timed ones`;

export function parseArgs(argv: string[]): BenchArgs {
  const a: BenchArgs = { only: new Set(), json: false, quick: false, backend: 'auto', help: false, profileStep: false, blas: true, recompute: 'auto', torch: true };
  const value = (i: number, flag: string): string => {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`${flag} needs a value`);
    return v;
  };
  const int = (s: string, flag: string): number => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${flag} must be a non-negative integer, got "${s}"`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    switch (f) {
      case '--only':
        for (const s of value(i++, f).split(',').map((x) => x.trim()).filter(Boolean)) {
          if (!SECTIONS.includes(s as Section)) throw new Error(`--only ${s}: use one of ${SECTIONS.join(', ')}`);
          a.only.add(s as Section);
        }
        break;
      case '--json':
        a.json = true;
        break;
      case '--torch-threads':
        a.torchThreads = int(value(i++, f), f);
        if (a.torchThreads < 1) throw new Error('--torch-threads must be at least 1');
        break;
      case '--shape':
        a.shapes ??= new Set();
        for (const x of value(i++, f).split(',').map((y) => y.trim()).filter(Boolean)) {
          if (!SHAPE_NAMES.includes(x)) throw new Error(`--shape ${x}: use ${SHAPE_NAMES.join(', ')}`);
          a.shapes.add(x);
        }
        break;
      case '--recompute': {
        const v = value(i++, f);
        if (v !== 'on' && v !== 'off' && v !== 'auto') throw new Error(`--recompute ${v}: use on, off or auto`);
        a.recompute = v;
        break;
      }
      case '--no-torch':
        a.torch = false;
        break;
      case '--json-out':
        a.jsonOut = value(i++, f);
        break;
      case '--quick':
        a.quick = true;
        break;
      case '--backend':
        a.backend = value(i++, f);
        break;
      case '--blas': {
        const v = value(i++, f);
        if (v !== 'on' && v !== 'off') throw new Error(`--blas ${v}: use on or off`);
        a.blas = v === 'on';
        break;
      }
      case '--steps':
        a.steps = int(value(i++, f), f);
        break;
      case '--warmup':
        a.warmup = int(value(i++, f), f);
        break;
      case '--rounds':
        a.rounds = int(value(i++, f), f);
        if (a.rounds < 1) throw new Error('--rounds must be at least 1');
        break;
      case '--case':
        a.case = value(i++, f);
        break;
      case '--micro-batch':
        a.microBatch = int(value(i++, f), f);
        if (a.microBatch < 1) throw new Error('--micro-batch must be at least 1');
        break;
      case '--threads':
        a.threads = int(value(i++, f), f);
        if (a.threads < 1) throw new Error('--threads must be at least 1');
        break;
      case '--profile-step':
        a.profileStep = true;
        break;
      case '-h':
      case '--help':
        a.help = true;
        break;
      default:
        throw new Error(`unknown option "${f}"\n${USAGE}`);
    }
  }
  if (a.steps === 0 && !(a.case && a.profileStep)) throw new Error('--steps must be at least 1');
  if (a.only.size === 0) SECTIONS.forEach((s) => a.only.add(s));
  return a;
}
