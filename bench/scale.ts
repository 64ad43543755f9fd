// Past the wasm heap: LoRA on Llama-shaped models with random BF16 weights, up to Llama-3.2-1B's
// shape (hidden 2048, 16 layers, 32 heads, 8 kv heads, intermediate 8192, vocab 128256, tied
// embeddings: 1.24 B parameters, 4.9 GB in float32 — more than the 4 GiB heap). Each shape is
// written as a Hugging Face folder (config.json + model.safetensors, BF16) into a temporary folder
// (deleted after), trained in a child process of its own (batch 1 × 256 tokens, LoRA r8 α16 on
// q_proj and v_proj, AdamW), and its peak RSS and wasm heap printed beside the memory estimate
// (core/memory.ts) and beside PyTorch on the same folder (bench/torch_llama_lora.py, f32 compute,
// the same steps). The weights repeat a pool of random rows: speed and memory do not depend on the
// values, and writing 1.2 B random values one by one would take minutes.
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { tf } from '../src/engine/tf';
import { f32ArrayToBf16 } from '../src/engine/core/formats/float16';
import { estimateTrainingMemory, planMemory } from '../src/engine/core/memory';
import { loadModel } from '../src/engine/model/loader';
import { applyAdapt } from '../src/engine/adapt/methods';
import { accumulateGrads } from '../src/engine/train/step';
import { AdamW } from '../src/engine/train/optimizer';
import { productsOnBlas, blasStatus } from '../src/engine/native';
import { scratchBytes } from '../src/engine/native/external';
import { Rng } from '../src/engine/random';
import { wasmHeapBytes } from './training';
import { PYTHON, torchEnv } from './torch';
import type { Reporter } from './report';
import { fmt, median, mib, round, table, nowMs } from './stats';

export interface ScaleShape {
  name: string;
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  kvHeads: number;
  vocab: number;
}

/** Three sizes for the memory calibration; the last is Llama-3.2-1B's shape. */
export const SCALE_SHAPES: ScaleShape[] = [
  { name: 'llama-20m', hidden: 512, intermediate: 1536, layers: 4, heads: 8, kvHeads: 2, vocab: 16384 },
  { name: 'llama-200m', hidden: 1024, intermediate: 4096, layers: 8, heads: 16, kvHeads: 4, vocab: 32000 },
  { name: 'llama-3.2-1b', hidden: 2048, intermediate: 8192, layers: 16, heads: 32, kvHeads: 8, vocab: 128256 },
];

export const SCALE_TOKENS = 256;
const LORA = { rank: 8, alpha: 16, targets: ['q_proj', 'v_proj'] };
const POOL_ROWS = 64;

/** The tensors of the shape, HF names and [out, in] shapes, and each one's init std. */
function tensorsOf(s: ScaleShape): { name: string; shape: number[]; std: number; fill?: number }[] {
  const hd = s.hidden / s.heads;
  const out: { name: string; shape: number[]; std: number; fill?: number }[] = [{ name: 'model.embed_tokens.weight', shape: [s.vocab, s.hidden], std: 3 / Math.sqrt(s.hidden) }];
  const lin = 1 / Math.sqrt(s.hidden);
  for (let i = 0; i < s.layers; i++) {
    const p = `model.layers.${i}`;
    out.push({ name: `${p}.input_layernorm.weight`, shape: [s.hidden], std: 0, fill: 1 });
    out.push({ name: `${p}.self_attn.q_proj.weight`, shape: [s.heads * hd, s.hidden], std: lin });
    out.push({ name: `${p}.self_attn.k_proj.weight`, shape: [s.kvHeads * hd, s.hidden], std: lin });
    out.push({ name: `${p}.self_attn.v_proj.weight`, shape: [s.kvHeads * hd, s.hidden], std: lin });
    out.push({ name: `${p}.self_attn.o_proj.weight`, shape: [s.hidden, s.heads * hd], std: lin });
    out.push({ name: `${p}.post_attention_layernorm.weight`, shape: [s.hidden], std: 0, fill: 1 });
    out.push({ name: `${p}.mlp.gate_proj.weight`, shape: [s.intermediate, s.hidden], std: lin });
    out.push({ name: `${p}.mlp.up_proj.weight`, shape: [s.intermediate, s.hidden], std: lin });
    out.push({ name: `${p}.mlp.down_proj.weight`, shape: [s.hidden, s.intermediate], std: 1 / Math.sqrt(s.intermediate) });
  }
  out.push({ name: 'model.norm.weight', shape: [s.hidden], std: 0, fill: 1 });
  return out;
}

/** Writes `<dir>/<name>/` (config.json, model.safetensors in BF16, streamed); returns the folder and its bytes. */
export function writeScaleModel(s: ScaleShape, dir: string): { folder: string; bytes: number } {
  const folder = join(dir, s.name);
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'config.json'), JSON.stringify({
    architectures: ['LlamaForCausalLM'], model_type: 'llama', hidden_size: s.hidden, intermediate_size: s.intermediate,
    num_hidden_layers: s.layers, num_attention_heads: s.heads, num_key_value_heads: s.kvHeads, vocab_size: s.vocab,
    max_position_embeddings: 4096, rms_norm_eps: 1e-5, rope_theta: 500000, hidden_act: 'silu', tie_word_embeddings: true, torch_dtype: 'bfloat16',
  }, null, 1));
  const tensors = tensorsOf(s);
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const t of tensors) {
    const n = 2 * t.shape.reduce((a, b) => a * b, 1);
    header[t.name] = { dtype: 'BF16', shape: t.shape, data_offsets: [offset, offset + n] };
    offset += n;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  const fd = openSync(join(folder, 'model.safetensors'), 'w');
  const rng = new Rng(11);
  try {
    writeSync(fd, len);
    writeSync(fd, Buffer.from(json));
    for (const t of tensors) {
      const cols = t.shape[t.shape.length - 1];
      const rows = t.shape.length === 2 ? t.shape[0] : 1;
      const pool = Math.min(rows, POOL_ROWS);
      const x = Float32Array.from({ length: pool * cols }, () => (t.fill ?? 0) + (rng.next() * 2 - 1) * t.std * Math.sqrt(3));
      const bits = f32ArrayToBf16(x);
      const poolBytes = new Uint8Array(bits.buffer, bits.byteOffset, bits.byteLength);
      // Whole pools at a time (one write per 64 rows), then the remainder.
      for (let r = 0; r < rows; r += pool) writeSync(fd, poolBytes, 0, Math.min(pool, rows - r) * cols * 2);
    }
  } finally {
    closeSync(fd);
  }
  return { folder, bytes: 8 + Buffer.byteLength(json) + offset };
}

export interface ScaleRecord {
  name: 'scale';
  shape: string;
  params: number;
  trainable: number;
  fileMiB: number;
  /** Base weights outside the heap, and in it. */
  externalMiB: number;
  heapWeightMiB: number;
  loadMs: number;
  tokens: number;
  steps: number;
  stepMs: number[];
  stepMsMedian: number;
  tokensPerSecond: number;
  lossFirst: number;
  peakRssMiB: number;
  wasmHeapMiB?: number;
  estimateMiB: number;
  estimateHeapMiB: number;
  scratchMiB: number;
  leakedTensors: number;
  /** Blocks whose activations were recomputed in the backward pass (of `layers`). */
  recompute: number;
  layers: number;
  blas: string;
  loadavg: number;
}

/** The child side: load the folder (weights outside the heap on BLAS), LoRA steps, memory figures. */
export async function runScaleCase(shapeName: string, folder: string, steps: number, warmup: number, recomputeMode: 'on' | 'off' | 'auto'): Promise<ScaleRecord> {
  const s = SCALE_SHAPES.find((x) => x.name === shapeName);
  if (!s) throw new Error(`unknown scale shape ${shapeName}`);
  const load = loadavg()[0];
  const t0 = nowMs();
  // Outside the heap whatever the size (the default keeps small BF16 models in it).
  const lm = await loadModel(folder, { external: productsOnBlas() });
  const loadMs = nowMs() - t0;
  const m = lm.model;
  const adapt = applyAdapt(m, { lora: { rank: LORA.rank, alpha: LORA.alpha, dropout: 0, targetModules: LORA.targets } }, { rng: new Rng(0), layerLrDecay: 1, l2sp: false });
  const opt = new AdamW(adapt.params);
  const rng = new Rng(3);
  const T = SCALE_TOKENS;
  const seq = Int32Array.from({ length: T + 1 }, () => rng.int(s.vocab));
  const batch = { ids: seq.subarray(0, T), labels: seq.subarray(1), weights: new Float32Array(T).fill(1), batch: 1, length: T, tokens: T };
  const inputs = {
    batchSize: 1, maxLength: T, totalParams: adapt.total, trainableParams: adapt.trainable, firstTrainableLayer: adapt.firstTrainableLayer,
    heapWeightBytes: m.heapWeightBytes(), externalBytes: m.externalBytes(), blas: productsOnBlas(),
  };
  // As the trainer decides (train/setup.ts): recompute block activations when they would not fit the heap.
  const recompute = recomputeMode === 'auto' ? planMemory(m.config, inputs, true).recompute : recomputeMode === 'on' ? s.layers : 0;
  const est = estimateTrainingMemory(m.config, { ...inputs, recompute });
  const step = () => {
    const { loss, grads } = accumulateGrads(m, adapt.params, [batch], T, { firstTrainableLayer: adapt.firstTrainableLayer, dropout: 0, embeddingNoise: 0, seedOf: () => 1, recompute });
    opt.step(grads, 1e-4, { weightDecay: 0, l2sp: 0, gradClip: 1 });
    tf.dispose([...grads.values()]);
    return loss;
  };
  const losses: number[] = [];
  for (let i = 0; i < warmup; i++) losses.push(step());
  const before = tf.memory().numTensors;
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const ts = nowMs();
    losses.push(step());
    times.push(nowMs() - ts);
  }
  const leaked = tf.memory().numTensors - before;
  const med = median(times);
  const heap = wasmHeapBytes();
  const rec: ScaleRecord = {
    name: 'scale', shape: s.name, params: m.numParams, trainable: adapt.trainable, fileMiB: 0,
    externalMiB: round(mib(m.externalBytes())), heapWeightMiB: round(mib(m.heapWeightBytes())), loadMs: round(loadMs),
    tokens: T, steps, stepMs: times.map((x) => round(x)), stepMsMedian: round(med), tokensPerSecond: round(T / (med / 1000)), lossFirst: round(losses[0], 4),
    peakRssMiB: round(process.resourceUsage().maxRSS / 1024), wasmHeapMiB: heap !== undefined ? round(mib(heap)) : undefined,
    estimateMiB: round(mib(est.bytes)), estimateHeapMiB: round(mib(est.heapBytes)), scratchMiB: round(mib(scratchBytes())),
    leakedTensors: leaked, recompute, layers: s.layers, blas: blasStatus().label ?? `off (${blasStatus().reason})`, loadavg: round(load, 3),
  };
  opt.dispose();
  m.dispose();
  return rec;
}

export const TORCH_SCALE_SCRIPT = resolve(__dirname, '..', 'bench', 'torch_llama_lora.py');

/** The parent side: each shape written, run by us in a child, then by torch, then deleted. */
export function scaleSection(rep: Reporter, o: { quick: boolean; backend: string; timeoutMs: number; torch: boolean; shapes?: Set<string>; steps?: number; recompute: 'on' | 'off' | 'auto' }): void {
  const dir = mkdtempSync(join(tmpdir(), 'adapt-lab-bench-scale-'));
  const steps = o.steps ?? (o.quick ? 1 : 2);
  const warmup = 1;
  const rows: { ours?: ScaleRecord; torch?: Record<string, unknown>; shape: ScaleShape; fileMiB: number }[] = [];
  try {
    const picked = o.shapes && SCALE_SHAPES.some((x) => o.shapes!.has(x.name)) ? SCALE_SHAPES.filter((x) => o.shapes!.has(x.name)) : SCALE_SHAPES;
    for (const s of picked) {
      rep.progress(`scale: writing ${s.name} (BF16) into ${dir}`);
      const file = writeScaleModel(s, dir);
      const row: (typeof rows)[number] = { shape: s, fileMiB: round(mib(file.bytes)) };
      rows.push(row);
      rep.progress(`scale: ${s.name} (${fmt(mib(file.bytes))} MiB) in a child process`);
      const args = [...process.execArgv, process.argv[1], '--only', 'scale', '--case', `scale:${s.name}:${steps}:${warmup}:${o.recompute}:${file.folder}`, '--backend', o.backend, '--json'];
      // BLAS threads as the trainer sets them (1, or ADAPT_LAB_BLAS_THREADS): on the 1B shape at
      // batch 1 here, 2 BLAS threads gave 30.7 s a step and 1 gave 22.1 s (2 cores shared with other work).
      const r = spawnSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: o.timeoutMs, maxBuffer: 16 * 1024 * 1024 });
      const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith('{"name":"scale"'));
      if (!line) {
        const why = r.error ? r.error.message : `exit ${r.status}${r.signal ? ` (${r.signal})` : ''}`;
        rep.warn('scale', `${s.name}: ${why}: ${(r.stderr ?? '').split('\n').filter(Boolean).slice(-3).join(' | ')}`);
      } else {
        row.ours = { ...(JSON.parse(line) as ScaleRecord), fileMiB: row.fileMiB };
        rep.emit(row.ours);
      }
      if (o.torch) {
        rep.progress(`scale: ${s.name} in PyTorch`);
        const t = spawnSync(PYTHON, [TORCH_SCALE_SCRIPT, file.folder, '--tokens', String(SCALE_TOKENS), '--steps', String(steps), '--warmup', String(warmup), '--rank', String(LORA.rank), '--alpha', String(LORA.alpha), '--targets', LORA.targets.join(','), '--threads', '2'],
          { encoding: 'utf8', env: torchEnv(), timeout: o.timeoutMs, maxBuffer: 16 * 1024 * 1024 });
        const tl = (t.stdout ?? '').split('\n').find((l) => l.startsWith('{'));
        if (tl) {
          row.torch = JSON.parse(tl) as Record<string, unknown>;
          rep.emit({ name: 'torch-scale', ...row.torch, shape: s.name });
        } else rep.warn('scale', `torch ${s.name}: ${t.error?.message ?? `exit ${t.status}`}: ${(t.stderr ?? '').split('\n').filter(Boolean).slice(-2).join(' | ')}`);
      }
      rmSync(file.folder, { recursive: true, force: true });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  rep.print(`\n== Past the wasm heap: LoRA r${LORA.rank} on ${LORA.targets.join(', ')}, batch 1 × ${SCALE_TOKENS} tokens, random BF16 weights (HF safetensors), ${steps} timed step(s) after ${warmup} ==`);
  rep.print(table(
    ['shape', 'params', 'file MiB', 'outside heap MiB', 'in heap MiB', 'blocks recomputed', 'load s', 'step s', 'tok/s', 'torch tok/s', 'ours/torch', 'peak RSS MiB', 'estimate MiB', 'torch RSS MiB', 'wasm heap MiB', 'estimate heap MiB', 'load'],
    rows.map(({ ours: r, torch: t, shape, fileMiB }) => [shape.name, r ? `${(r.params / 1e6).toFixed(0)} M` : '–', fileMiB, r?.externalMiB ?? '–', r?.heapWeightMiB ?? '–', r ? `${r.recompute}/${r.layers}` : '–', r ? fmt(r.loadMs / 1000) : '–',
      r ? fmt(r.stepMsMedian / 1000) : '–', r?.tokensPerSecond ?? '–', (t?.tokens_per_second as number) ?? '–',
      r && t ? `${((r.tokensPerSecond / (t.tokens_per_second as number)) * 100).toFixed(0)} %` : '–',
      r?.peakRssMiB ?? '–', r?.estimateMiB ?? '–', (t?.peak_rss_mib as number) ?? '–', r?.wasmHeapMiB ?? '–', r?.estimateHeapMiB ?? '–', r ? fmt(r.loadavg) : '–']),
  ));
  rep.print(`Ours: ${rows.find((r) => r.ours)?.ours?.blas ?? 'BLAS off'}, frozen weights outside the heap in BF16 (decoded a block of rows at a time per product), blocks recomputed as the trainer plans them; torch: f32 weights, 2 threads (bench/torch_llama_lora.py).`);
}
