// Generation speed: prompt (prefill) tokens/s and generated (decode) tokens/s, measured as
// generate() does it — one forward over the prompt with a KV cache, then one token at a time,
// reading back only the last row of logits — with greedy choice and no stop on EOS, so every
// run decodes exactly the same number of tokens.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { tf } from '../src/engine/tf';
import { CausalLM, disposeCache } from '../src/engine/model/model';
import { loadModel } from '../src/engine/model/loader';
import { initModel } from '../src/engine/model/init';
import { generate } from '../src/engine/generate';
import type { Tokenizer } from '../src/engine/tokenizers';
import { Rng } from '../src/engine/random';
import { GPT2_124M, gpt2Config } from './shapes';
import { median, round, nowMs } from './stats';

export const STORIES = resolve(process.cwd(), '../shared/models/stories260K/stories260K.gguf');

export const PROMPT_TEXT =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends. ' +
  'One day, she saw a big red ball under a tree and she wanted to play with it. ';

function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

export interface GenRun {
  prefillMs: number;
  decodeMs: number[];
}

/** One greedy generation: prefill `prompt`, then `newTokens` single-token steps. */
export function timedGeneration(model: CausalLM, prompt: number[], newTokens: number): GenRun {
  const cache = model.newCache(prompt.length + newTokens + 1); // fixed size, as generate() makes it
  const V = model.config.vocabSize;
  const step = (feed: number[]): number => {
    const row = tf.tidy(() => model.forward(tf.tensor2d([feed], [1, feed.length], 'int32'), model.newContext({ cache }), { lastOnly: true }).reshape([V]));
    const data = row.dataSync() as Float32Array;
    row.dispose();
    return argmax(data);
  };
  try {
    const t0 = nowMs();
    let next = step(prompt);
    const prefillMs = nowMs() - t0;
    const decodeMs: number[] = [];
    for (let i = 0; i < newTokens; i++) {
      const t = nowMs();
      next = step([next]);
      decodeMs.push(nowMs() - t);
    }
    return { prefillMs, decodeMs };
  } finally {
    disposeCache(cache);
  }
}

export interface GenerateRecord {
  name: 'generate';
  model: string;
  backend: string;
  params: number;
  promptTokens: number;
  newTokens: number;
  runs: number;
  promptTokensPerSecond: number;
  prefillMsMedian: number;
  generatedTokensPerSecond: number;
  decodeMsPerTokenMedian: number;
  runGeneratedTokensPerSecond: number[];
  numTensorsBefore: number;
  numTensorsAfter: number;
  leakedTensors: number;
  /** generate() itself, once, on the text prompt (may stop at EOS). */
  generateApi?: { promptTokens: number; tokens: number; firstTokenMs: number; totalMs: number; tokensPerSecond: number };
}

/** Runs `runs` timed generations (after one warmup) and summarises them with medians. */
export function measureGeneration(model: CausalLM, label: string, backend: string, prompt: number[], newTokens: number, runs: number, between?: (round: number) => void): GenerateRecord {
  // Warmup: XNNPACK packs each weight on first use, and V8 has to compile the hot JS paths.
  timedGeneration(model, prompt, Math.min(16, newTokens));
  const before = tf.memory().numTensors;
  const all: GenRun[] = [];
  for (let r = 0; r < runs; r++) {
    all.push(timedGeneration(model, prompt, newTokens));
    between?.(r);
  }
  const after = tf.memory().numTensors;
  const perRun = all.map((g) => (newTokens * 1000) / g.decodeMs.reduce((a, b) => a + b, 0));
  const prefill = median(all.map((g) => g.prefillMs));
  return {
    name: 'generate',
    model: label,
    backend,
    params: model.numParams,
    promptTokens: prompt.length,
    newTokens,
    runs,
    promptTokensPerSecond: round((prompt.length * 1000) / prefill),
    prefillMsMedian: round(prefill),
    generatedTokensPerSecond: round(median(perRun)),
    decodeMsPerTokenMedian: round(median(all.flatMap((g) => g.decodeMs))),
    runGeneratedTokensPerSecond: perRun.map((x) => round(x)),
    numTensorsBefore: before,
    numTensorsAfter: after,
    leakedTensors: after - before,
  };
}

export interface LoadRecord {
  name: 'load';
  model: string;
  backend: string;
  what: 'load' | 'build';
  repeats: number;
  msMedian: number;
  msAll: number[];
  params: number;
  path?: string;
}

/** stories260K: load 3 times (median), keep the last model. */
export async function loadStories(backend: string, repeats: number): Promise<{ rec: LoadRecord; model: CausalLM; tokenizer?: Tokenizer } | undefined> {
  if (!existsSync(STORIES)) return undefined;
  const times: number[] = [];
  let last: Awaited<ReturnType<typeof loadModel>> | undefined;
  for (let i = 0; i < repeats; i++) {
    last?.model.dispose();
    const t0 = nowMs();
    last = await loadModel(STORIES);
    times.push(nowMs() - t0);
  }
  const rec: LoadRecord = { name: 'load', model: 'stories260K', backend, what: 'load', repeats, msMedian: round(median(times)), msAll: times.map((t) => round(t)), params: last!.model.numParams, path: STORIES };
  return { rec, model: last!.model, tokenizer: last!.tokenizer };
}

/** A prompt of exactly n tokens from the tokenizer (the text repeated if too short). */
export function storiesPrompt(tokenizer: Tokenizer | undefined, vocab: number, n: number): number[] {
  if (tokenizer) {
    let ids = tokenizer.encode(PROMPT_TEXT);
    while (ids.length < n) ids = ids.concat(tokenizer.encode(PROMPT_TEXT));
    return ids.slice(0, n);
  }
  return randomPrompt(vocab, n);
}

export function randomPrompt(vocab: number, n: number, seed = 7): number[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => rng.int(vocab));
}

export function generateApiOnce(model: CausalLM, tokenizer: Tokenizer, maxTokens: number): GenerateRecord['generateApi'] {
  const r = generate(model, tokenizer, PROMPT_TEXT, { maxTokens, temperature: 0 });
  const decodeMs = r.totalMs - r.firstTokenMs;
  return {
    promptTokens: r.promptTokens.length,
    tokens: r.tokens.length,
    firstTokenMs: round(r.firstTokenMs),
    totalMs: round(r.totalMs),
    tokensPerSecond: r.tokens.length > 1 ? round(((r.tokens.length - 1) * 1000) / decodeMs) : NaN,
  };
}

/** GPT-2 small (124M) with random weights, built in memory; returns the build time. */
export function buildGpt2Small(backend: string): { rec: LoadRecord; model: CausalLM } {
  const t0 = nowMs();
  const model = initModel(gpt2Config(GPT2_124M), 0);
  const ms = nowMs() - t0;
  return { rec: { name: 'load', model: 'gpt2-124M (random)', backend, what: 'build', repeats: 1, msMedian: round(ms), msAll: [round(ms)], params: model.numParams }, model };
}
