// llama.cpp (through node-llama-cpp, prebuilt, CPU) as the reference implementation the tests
// compare our engine with. One llama.cpp instance per process; each GGUF is opened with an F32
// KV cache and flash attention off, because both change llama.cpp's own log-probabilities
// (flash attention by ~1.7e-2 here). llama.cpp gives probabilities (softmax at temperature 0),
// so comparisons are of log-probabilities, i.e. of logits up to a per-row constant.
import type { Llama, LlamaContext, LlamaModel } from 'node-llama-cpp';
import { readGguf } from '../../src/engine/core/formats/gguf';
import { tf } from '../../src/engine/tf';
import { CausalLM, disposeCache } from '../../src/engine/model/model';

// node-llama-cpp is an ES module: loaded with import(), kept out of the CommonJS test bundle.
type NodeLlamaCpp = typeof import('node-llama-cpp');
const importEsm = new Function('m', 'return import(m)') as (m: string) => Promise<NodeLlamaCpp>;

let llama: Promise<Llama> | undefined;

/** The process's llama.cpp: prebuilt CPU binary, nothing compiled or downloaded. */
export function getLlamaCpp(): Promise<Llama> {
  llama ??= importEsm('node-llama-cpp').then(({ getLlama, LlamaLogLevel }) =>
    getLlama({ gpu: false, build: 'never', skipDownload: true, logLevel: LlamaLogLevel.error, progressLogs: false }));
  return llama;
}

export interface ReferenceRun {
  /** The tokens fed, in order: the prompt, then each greedy token fed back. */
  ids: number[];
  /** Greedy continuation (the tokens after the prompt). */
  generated: number[];
  /** Per fed position, log p(next = j) for every vocabulary id j (-Infinity where p underflowed to 0). */
  logProbs: Float64Array[];
}

export interface LlamaCppModel {
  model: LlamaModel;
  context: LlamaContext;
  vocabSize: number;
  /** llama.cpp's tokenizer (no BOS added; special tokens parsed when `special`). */
  tokenize(text: string, special?: boolean): number[];
  /**
   * Feeds `prompt`, then greedily `n` more tokens (each fed back), reading the full next-token
   * distribution at every position. A fresh sequence each call.
   */
  greedy(prompt: number[], n: number): Promise<ReferenceRun>;
  /** log-probabilities at every position of `ids` (teacher forcing: nothing generated). */
  logProbs(ids: number[]): Promise<Float64Array[]>;
  dispose(): Promise<void>;
}

export interface OpenOptions {
  /** A GGUF LoRA adapter (llama.cpp's --lora) and its scale (default 1). */
  lora?: string;
  loraScale?: number;
  /** Context positions (default 256). */
  contextSize?: number;
}

function logRow(p: Map<number, number>, vocab: number): Float64Array {
  const row = new Float64Array(vocab).fill(-Infinity);
  for (const [id, prob] of p) row[id] = Math.log(prob);
  return row;
}

export async function openLlamaCpp(path: string, opts: OpenOptions = {}): Promise<LlamaCppModel> {
  const cpp = await getLlamaCpp();
  const model = await cpp.loadModel({ modelPath: path, gpuLayers: 0 });
  const contextSize = opts.contextSize ?? 256;
  const context = await model.createContext({
    contextSize, batchSize: contextSize, threads: 1, flashAttention: false, sequences: 1,
    experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32', swaFullCache: true,
    ...(opts.lora ? { lora: { adapters: [{ filePath: opts.lora, scale: opts.loraScale ?? 1 }] } } : {}),
  });
  const embd = readGguf(path).tensor('token_embd.weight');
  if (!embd) throw new Error(`${path}: no token_embd.weight`);
  const vocabSize = embd.shape[0];
  const withProbs = (t: number) => [t, { generateNext: { probabilities: true, token: true, options: { temperature: 0 } } }] as [number, object];

  return {
    model, context, vocabSize,
    tokenize: (text, special = false) => model.tokenize(text, special) as number[],
    async greedy(prompt, n) {
      if (prompt.length + n > contextSize) throw new Error(`prompt ${prompt.length} + ${n} tokens exceed the context of ${contextSize}`);
      const seq = context.getSequence();
      try {
        const ids = prompt.slice();
        const logProbs: Float64Array[] = [];
        const generated: number[] = [];
        let batch = prompt;
        for (;;) {
          const out = await seq.controlledEvaluate(batch.map(withProbs) as Parameters<typeof seq.controlledEvaluate>[0]);
          for (let i = 0; i < batch.length; i++) {
            const o = out[i];
            if (!o?.next.probabilities) throw new Error(`llama.cpp returned no probabilities for ${path}`);
            logProbs.push(logRow(o.next.probabilities, vocabSize));
          }
          if (generated.length === n) break;
          const tok = out[batch.length - 1]!.next.token;
          if (tok === undefined || tok === null) throw new Error(`llama.cpp sampled no token for ${path}`);
          generated.push(tok);
          ids.push(tok);
          batch = [tok];
        }
        // The distribution after the last generated token was read too: one row per fed token.
        return { ids, generated, logProbs };
      } finally {
        seq.dispose();
      }
    },
    async logProbs(ids) {
      const seq = context.getSequence();
      try {
        const out = await seq.controlledEvaluate(ids.map(withProbs) as Parameters<typeof seq.controlledEvaluate>[0]);
        return ids.map((_, i) => {
          const p = out[i]?.next.probabilities;
          if (!p) throw new Error(`llama.cpp returned no probabilities at position ${i} for ${path}`);
          return logRow(p, vocabSize);
        });
      } finally {
        seq.dispose();
      }
    },
    async dispose() {
      await context.dispose();
      await model.dispose();
    },
  };
}

/** log-softmax of logits rows [T, V] (float64 arithmetic). */
export function logSoftmaxRows(logits: Float32Array, vocab: number): Float64Array[] {
  const rows: Float64Array[] = [];
  for (let t = 0; t * vocab < logits.length; t++) {
    const l = logits.subarray(t * vocab, (t + 1) * vocab);
    let max = -Infinity;
    for (const v of l) if (v > max) max = v;
    let s = 0;
    for (const v of l) s += Math.exp(v - max);
    const lse = max + Math.log(s);
    rows.push(Float64Array.from(l, (v) => v - lse));
  }
  return rows;
}

export interface Agreement {
  positions: number;
  /** Largest |Δ log p| over tokens whose llama.cpp probability is at least `floor`. */
  maxAbsLogProb: number;
  /** Where it was (position, token id). */
  worst: { position: number; token: number };
  /** Positions whose argmax differs, with the reference's top-2 gap there (a near-tie explains a miss). */
  argmaxMisses: { position: number; ours: number; theirs: number; gap: number }[];
}

/**
 * Compares our log-probability rows with llama.cpp's, position by position. Tokens llama.cpp gives
 * less than `floor` probability are skipped: their log-probabilities come from float32 exp() of
 * large negative numbers, where absolute errors grow (and 0 has no logarithm).
 */
export function compareLogProbs(ours: Float64Array[], theirs: Float64Array[], floor = 1e-12): Agreement {
  if (ours.length !== theirs.length) throw new Error(`${ours.length} rows of ours vs ${theirs.length} of llama.cpp`);
  const lf = Math.log(floor);
  const res: Agreement = { positions: ours.length, maxAbsLogProb: 0, worst: { position: -1, token: -1 }, argmaxMisses: [] };
  for (let p = 0; p < ours.length; p++) {
    const a = ours[p], b = theirs[p];
    if (a.length !== b.length) throw new Error(`position ${p}: vocabulary ${a.length} (ours) vs ${b.length} (llama.cpp)`);
    let am = 0, bm = 0, b2 = -Infinity;
    for (let j = 0; j < a.length; j++) {
      if (a[j] > a[am]) am = j;
      if (b[j] > b[bm]) { b2 = b[bm]; bm = j; } else if (j !== bm && b[j] > b2) b2 = b[j];
      if (b[j] < lf) continue;
      const d = Math.abs(a[j] - b[j]);
      if (d > res.maxAbsLogProb) { res.maxAbsLogProb = d; res.worst = { position: p, token: j }; }
    }
    if (am !== bm) res.argmaxMisses.push({ position: p, ours: am, theirs: bm, gap: b[bm] - b2 });
  }
  return res;
}

/** Our engine's log-probability rows over `ids` (one forward pass, no cache). */
export function engineLogProbs(model: CausalLM, ids: number[]): Float64Array[] {
  const logits = tf.tidy(() => model.forward(tf.tensor2d([ids], [1, ids.length], 'int32')));
  const data = logits.dataSync() as Float32Array;
  logits.dispose();
  return logSoftmaxRows(data, model.config.vocabSize);
}

/** Our engine's greedy continuation of `prompt` by `n` tokens, decoding with its KV cache (EOS does not stop it). */
export function engineGreedy(model: CausalLM, prompt: number[], n: number): number[] {
  const cache = model.newCache(prompt.length + n);
  const out: number[] = [];
  try {
    let feed = prompt;
    while (out.length < n) {
      const ctx = model.newContext({ cache });
      const logits = tf.tidy(() => model.forward(tf.tensor2d([feed], [1, feed.length], 'int32'), ctx, { lastOnly: true }));
      const row = logits.dataSync() as Float32Array;
      logits.dispose();
      let best = 0;
      for (let j = 1; j < row.length; j++) if (row[j] > row[best]) best = j;
      out.push(best);
      feed = [best];
    }
    return out;
  } finally {
    disposeCache(cache);
  }
}

/**
 * Runs llama.cpp greedily from `prompt` for `n` tokens; our engine over the same tokens (one
 * forward pass: log-probabilities at every position) and greedily on its own (KV cache).
 */
export async function compareWithLlamaCpp(ggufPath: string, model: CausalLM, prompt: number[], n: number, opts: OpenOptions = {}): Promise<Agreement & { run: ReferenceRun; ourGreedy: number[] }> {
  const cpp = await openLlamaCpp(ggufPath, { contextSize: Math.max(64, prompt.length + n + 1), ...opts });
  try {
    const run = await cpp.greedy(prompt, n);
    const ours = engineLogProbs(model, run.ids);
    return { ...compareLogProbs(ours, run.logProbs), run, ourGreedy: engineGreedy(model, prompt, n) };
  } finally {
    await cpp.dispose();
  }
}

/** One line for a failing assertion or a log: the largest difference and the argmax misses. */
export function describeAgreement(a: Agreement): string {
  const misses = a.argmaxMisses.map((m) => `pos ${m.position}: ours ${m.ours} vs ${m.theirs} (gap ${m.gap.toExponential(2)})`);
  return `max |Δ log p| ${a.maxAbsLogProb.toExponential(2)} at position ${a.worst.position} token ${a.worst.token}; `
    + `${a.positions - a.argmaxMisses.length}/${a.positions} argmax agree${misses.length ? ` (${misses.join('; ')})` : ''}`;
}
