// Quantized bases at real sizes: Qwen2.5-0.5B- and Llama-3.2-1B-shaped random models at Q4_K,
// written by the bench into a temporary folder (never kept), then loaded by the engine as a user's
// GGUF would be: generation tokens/s (KV cache, greedy) and one LoRA step (r8 on q_proj and v_proj),
// with the child process's peak RSS and wasm heap. Each shape runs in its own child process so its
// peak RSS is its own. Rows that are not whole 256-value super-blocks (Qwen2.5-0.5B's hidden size
// 896) fall back to Q5_0, as llama.cpp's quantize does for Q4_K. The weights repeat a pool of
// random rows (speed does not depend on the values; quantizing 1.2 B values here would take minutes).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../src/engine/tf';
import { writeGguf, type GgufWriteTensor } from '../src/engine/core/formats/gguf';
import { codecOf, dequantizeRows, quantizeMatrix, type StoredMatrix } from '../src/engine/core/formats/quant';
import { loadModel } from '../src/engine/model/loader';
import { applyAdapt } from '../src/engine/adapt/methods';
import { accumulateGrads } from '../src/engine/train/step';
import { AdamW } from '../src/engine/train/optimizer';
import { Rng } from '../src/engine/random';
import { timedGeneration } from './generation';
import { wasmHeapBytes } from './training';
import type { Reporter } from './report';
import { fmt, median, mib, round, table, nowMs } from './stats';

export interface QuantShape {
  name: string;
  arch: 'llama' | 'qwen2';
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  kvHeads: number;
  vocab: number;
  ropeTheta: number;
  qkvBias: boolean;
}

export const QUANT_SHAPES: QuantShape[] = [
  { name: 'qwen2.5-0.5b', arch: 'qwen2', hidden: 896, intermediate: 4864, layers: 24, heads: 14, kvHeads: 2, vocab: 151936, ropeTheta: 1e6, qkvBias: true },
  { name: 'llama-3.2-1b', arch: 'llama', hidden: 2048, intermediate: 8192, layers: 16, heads: 32, kvHeads: 8, vocab: 128256, ropeTheta: 5e5, qkvBias: false },
];

const TYPE = 'Q4_K';
const FALLBACK = 'Q5_0';
const POOL_ROWS = 64;
const LORA_TOKENS = 64;

/** A [rows, cols] matrix of `type` blocks whose rows repeat POOL_ROWS quantized random rows. */
function tiledMatrix(type: string, rows: number, cols: number, std: number, rng: Rng): StoredMatrix {
  const pool = Math.min(rows, POOL_ROWS);
  const x = Float32Array.from({ length: pool * cols }, () => (rng.next() * 2 - 1) * std * Math.sqrt(3));
  const q = quantizeMatrix(type, x, pool, cols);
  const rb = q.bytes.length / pool;
  const bytes = new Uint8Array(rows * rb);
  for (let r = 0; r < rows; r++) {
    const src = (r * 7919 + (r >> 6)) % pool;
    bytes.set(q.bytes.subarray(src * rb, (src + 1) * rb), r * rb);
  }
  return { type, rows, cols, bytes };
}

function typeFor(cols: number): string {
  return cols % codecOf(TYPE).blockSize === 0 ? TYPE : FALLBACK;
}

/** Writes the shape as a GGUF (tied embedding, norms F32); returns its path and size. */
export function writeQuantModel(s: QuantShape, dir: string): { path: string; bytes: number; types: Record<string, number> } {
  const rng = new Rng(7);
  const hd = s.hidden / s.heads;
  const types: Record<string, number> = {};
  const mat = (name: string, rows: number, cols: number, std: number): GgufWriteTensor => {
    const q = tiledMatrix(typeFor(cols), rows, cols, std, rng);
    types[q.type] = (types[q.type] ?? 0) + 1;
    return { name, shape: [rows, cols], type: q.type, raw: q.bytes };
  };
  const vec = (name: string, n: number, v: number): GgufWriteTensor => ({ name, shape: [n], data: new Float32Array(n).fill(v) });
  const tensors: GgufWriteTensor[] = [mat('token_embd.weight', s.vocab, s.hidden, 3 / Math.sqrt(s.hidden))];
  for (let i = 0; i < s.layers; i++) {
    const b = `blk.${i}`;
    tensors.push(vec(`${b}.attn_norm.weight`, s.hidden, 1));
    tensors.push(mat(`${b}.attn_q.weight`, s.heads * hd, s.hidden, 1 / Math.sqrt(s.hidden)));
    tensors.push(mat(`${b}.attn_k.weight`, s.kvHeads * hd, s.hidden, 1 / Math.sqrt(s.hidden)));
    tensors.push(mat(`${b}.attn_v.weight`, s.kvHeads * hd, s.hidden, 1 / Math.sqrt(s.hidden)));
    if (s.qkvBias) for (const [n, k] of [['q', s.heads], ['k', s.kvHeads], ['v', s.kvHeads]] as const) tensors.push(vec(`${b}.attn_${n}.bias`, k * hd, 0));
    tensors.push(mat(`${b}.attn_output.weight`, s.hidden, s.heads * hd, 1 / Math.sqrt(s.hidden)));
    tensors.push(vec(`${b}.ffn_norm.weight`, s.hidden, 1));
    tensors.push(mat(`${b}.ffn_gate.weight`, s.intermediate, s.hidden, 1 / Math.sqrt(s.hidden)));
    tensors.push(mat(`${b}.ffn_up.weight`, s.intermediate, s.hidden, 1 / Math.sqrt(s.hidden)));
    tensors.push(mat(`${b}.ffn_down.weight`, s.hidden, s.intermediate, 1 / Math.sqrt(s.intermediate)));
  }
  tensors.push(vec('output_norm.weight', s.hidden, 1));
  const a = s.arch;
  const path = join(dir, `${s.name}.gguf`);
  writeGguf(path, new Map<string, string | number>([
    ['general.architecture', a], ['general.name', `${s.name} (random, ${TYPE})`],
    [`${a}.embedding_length`, s.hidden], [`${a}.feed_forward_length`, s.intermediate], [`${a}.block_count`, s.layers],
    [`${a}.attention.head_count`, s.heads], [`${a}.attention.head_count_kv`, s.kvHeads], [`${a}.context_length`, 4096],
    [`${a}.attention.layer_norm_rms_epsilon`, 1e-6], [`${a}.rope.freq_base`, s.ropeTheta],
  ]), tensors);
  return { path, bytes: statSync(path).size, types };
}

export interface QuantRecord {
  name: 'quant';
  shape: string;
  params: number;
  fileMiB: number;
  types: Record<string, number>;
  weightMiBInMemory: number;
  float32MiB: number;
  loadMs: number;
  promptTokens: number;
  newTokens: number;
  prefillMs: number;
  decodeMsPerToken: number;
  tokensPerSecond: number;
  loraTokens: number;
  loraStepMs: number;
  loraTokensPerSecond: number;
  trainable: number;
  loss: number;
  peakRssMiB: number;
  wasmHeapMiB?: number;
  leakedTensors: number;
  dequantMValuesPerSecond: number;
  /** 1-minute load average at the start: on a busy machine every figure is low. */
  loadavg: number;
}

/** The child side: load the GGUF, generate, one LoRA step (after one warmup step unless quick). */
export async function runQuantCase(shapeName: string, path: string, quick: boolean): Promise<QuantRecord> {
  const s = QUANT_SHAPES.find((x) => x.name === shapeName);
  if (!s) throw new Error(`unknown quant shape ${shapeName}`);
  const load = loadavg()[0];
  const t0 = nowMs();
  const lm = await loadModel(path);
  const loadMs = nowMs() - t0;
  const m = lm.model;
  // Decoding speed of the most used type, on one large matrix.
  const big = m.external.get('model.layers.0.mlp.down_proj.weight')!;
  const td = nowMs();
  dequantizeRows(big);
  const dequantMValuesPerSecond = (big.rows * big.cols) / ((nowMs() - td) / 1000) / 1e6;

  const rng = new Rng(3);
  const prompt = Array.from({ length: 8 }, () => rng.int(s.vocab));
  const newTokens = quick ? 2 : 4;
  timedGeneration(m, prompt.slice(0, 2), 1); // warm the kernels
  const gen = timedGeneration(m, prompt, newTokens);
  const decode = median(gen.decodeMs);

  const adapt = applyAdapt(m, { lora: { rank: 8, alpha: 16, dropout: 0, targetModules: ['q_proj', 'v_proj'] } }, { rng: new Rng(0), layerLrDecay: 1, l2sp: false });
  const opt = new AdamW(adapt.params, { beta1: 0.9, beta2: 0.95 });
  const batch = {
    ids: Int32Array.from({ length: LORA_TOKENS }, () => rng.int(s.vocab)), labels: Int32Array.from({ length: LORA_TOKENS }, () => rng.int(s.vocab)),
    weights: new Float32Array(LORA_TOKENS).fill(1), batch: 1, length: LORA_TOKENS, tokens: LORA_TOKENS,
  };
  const step = () => {
    const { loss, grads } = accumulateGrads(m, adapt.params, [batch], LORA_TOKENS, { firstTrainableLayer: adapt.firstTrainableLayer, dropout: 0, embeddingNoise: 0, seedOf: () => 1 });
    opt.step(grads, 1e-4, { weightDecay: 0, l2sp: 0, gradClip: 1 });
    tf.dispose([...grads.values()]);
    return loss;
  };
  if (!quick) step();
  const before = tf.memory().numTensors;
  const ts = nowMs();
  const loss = step();
  const loraStepMs = nowMs() - ts;
  const leaked = tf.memory().numTensors - before;
  const rec: QuantRecord = {
    name: 'quant', shape: s.name, params: m.numParams, fileMiB: round(mib(statSync(path).size)), types: {},
    weightMiBInMemory: round(mib(m.weightBytes())), float32MiB: round(mib(4 * m.numParams)), loadMs: round(loadMs),
    promptTokens: prompt.length, newTokens, prefillMs: round(gen.prefillMs), decodeMsPerToken: round(decode), tokensPerSecond: round(1000 / decode),
    loraTokens: LORA_TOKENS, loraStepMs: round(loraStepMs), loraTokensPerSecond: round(LORA_TOKENS / (loraStepMs / 1000)),
    trainable: adapt.trainable, loss: round(loss, 5), peakRssMiB: round(process.resourceUsage().maxRSS / 1024),
    wasmHeapMiB: wasmHeapBytes() !== undefined ? round(mib(wasmHeapBytes()!)) : undefined, leakedTensors: leaked,
    dequantMValuesPerSecond: round(dequantMValuesPerSecond), loadavg: round(load, 3),
  };
  opt.dispose();
  m.dispose();
  return rec;
}

/** The parent side: write each shape's GGUF into a temporary folder, run it in a child, delete it. */
export function quantSection(rep: Reporter, o: { quick: boolean; backend: string; timeoutMs: number }): void {
  const dir = mkdtempSync(join(tmpdir(), 'adapt-lab-bench-quant-'));
  const recs: QuantRecord[] = [];
  try {
    for (const s of QUANT_SHAPES) {
      rep.progress(`quant: writing ${s.name} at ${TYPE} into ${dir}`);
      const tw = nowMs();
      const file = writeQuantModel(s, dir);
      const writeMs = nowMs() - tw;
      rep.progress(`quant: ${s.name} (${fmt(mib(file.bytes))} MiB) in a child process`);
      const args = [...process.execArgv, process.argv[1], '--only', 'quant', '--case', `quant:${s.name}:${file.path}`, '--backend', o.backend, '--json', ...(o.quick ? ['--quick'] : [])];
      const r = spawnSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: o.timeoutMs, maxBuffer: 16 * 1024 * 1024 });
      const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith('{"name":"quant"'));
      rmSync(file.path, { force: true });
      if (!line) {
        const why = r.error ? r.error.message : `exit ${r.status}${r.signal ? ` (${r.signal})` : ''}`;
        rep.warn('quant', `${s.name}: ${why}: ${(r.stderr ?? '').split('\n').filter(Boolean).slice(-3).join(' | ')}`);
        continue;
      }
      const rec = { ...(JSON.parse(line) as QuantRecord), types: file.types, writeMs: round(writeMs) };
      recs.push(rec);
      rep.emit(rec);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  rep.print(`\n== Quantized bases (${TYPE}; ${FALLBACK} where rows are not whole 256-blocks), random weights, wasm, 1 thread ==`);
  rep.print(table(
    ['shape', 'params', 'file MiB', 'in memory MiB (f32 would be)', 'load s', 'decode tok/s', 'ms/token', `LoRA step (${LORA_TOKENS} tok) s`, 'LoRA tok/s', 'peak RSS MiB', 'wasm heap MiB', 'dequant M values/s', 'load'],
    recs.map((r) => [r.shape, `${(r.params / 1e6).toFixed(0)} M`, r.fileMiB, `${r.weightMiBInMemory} (${r.float32MiB})`, fmt(r.loadMs / 1000), r.tokensPerSecond, r.decodeMsPerToken,
      fmt(r.loraStepMs / 1000), r.loraTokensPerSecond, r.peakRssMiB, r.wasmHeapMiB, r.dequantMValuesPerSecond, fmt(r.loadavg)]),
  ));
  rep.print('Every product dequantizes its weight into a temporary float32 tensor (nothing of the model is kept in float32), so decoding pays a full-model dequantization per token.');
}
