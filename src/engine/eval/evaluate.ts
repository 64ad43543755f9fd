// Evaluating one loaded model: a greedy answer per case (judged and timed), k sampled answers
// per case for stability, perplexity on a probe text, loss on a data file, peak memory.
import { basename, resolve } from 'node:path';
import { CausalLM } from '../model/model';
import type { Tokenizer } from '../tokenizers';
import { generate } from '../generate';
import { loadDataset, makeBatches, packBatch, Example } from '../data/dataset';
import { evaluateLoss } from './loss';
import { Rng } from '../random';
import { CaseModelResult, EvalSection } from '../../protocol/eval';
import { PromptCase } from '../core/prompts';
import type { ChatFormat } from '../chat/template';
import { encodeChatPrompt } from '../chat/encode';
import { matches, mean, percentile } from '../core/match';
import { readTextFile } from '../core/read-file';

export interface EvalSettings {
  /** Most tokens generated per answer (default 16). */
  maxTokens: number;
  /** Sampled answers per case for stability (default 3; 0 turns stability off). */
  samples: number;
  /** Temperature of the stability samples (default 0.8); the answers themselves are greedy. */
  temperature: number;
  /** Sample i (1..samples) uses seed + i (default 0). */
  seed: number;
  /** Stop sequences for every case (default ["\n"]); a case's own `stop` adds to them. */
  stop: string[];
}

export const DEFAULT_EVAL_SETTINGS: Readonly<EvalSettings> = { maxTokens: 16, samples: 3, temperature: 0.8, seed: 0, stop: ['\n'] };

export function resolveSettings(s: Partial<EvalSettings> = {}): EvalSettings {
  const out: EvalSettings = { ...DEFAULT_EVAL_SETTINGS, stop: [...DEFAULT_EVAL_SETTINGS.stop] };
  for (const [k, v] of Object.entries(s)) if (v !== undefined) (out as unknown as Record<string, unknown>)[k] = v;
  if (!Number.isInteger(out.maxTokens) || out.maxTokens < 1) throw new Error(`maxTokens must be a positive integer, got ${out.maxTokens}`);
  if (!Number.isInteger(out.samples) || out.samples < 0) throw new Error(`samples must be a non-negative integer, got ${out.samples}`);
  if (!(out.temperature >= 0) || !Number.isFinite(out.temperature)) throw new Error(`temperature must be a number ≥ 0, got ${out.temperature}`);
  if (!Number.isInteger(out.seed)) throw new Error(`seed must be an integer, got ${out.seed}`);
  if (!Array.isArray(out.stop) || out.stop.some((x) => typeof x !== 'string')) throw new Error('stop must be an array of strings');
  return out;
}

/** Highest process RSS seen: sampled on a timer (while the event loop runs) and on each `sample()` call. */
export class MemorySampler {
  peakBytes = 0;
  private timer?: NodeJS.Timeout;
  constructor(intervalMs = 25) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }
  sample(): void {
    const rss = process.memoryUsage().rss;
    if (rss > this.peakBytes) this.peakBytes = rss;
  }
  stop(): number {
    this.sample();
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    return this.peakBytes / 2 ** 20;
  }
}

export interface CaseHooks {
  /** Called after each case (1-based index). */
  onCase?: (done: number, total: number) => void;
  /** Called after every generation (memory sampling). */
  afterGenerate?: () => void;
}

/**
 * What the model is given for a case: its prompt encoded as text, or its messages rendered with
 * `chat` (the run's or the model's template, add_generation_prompt) and encoded as training
 * encodes conversations.
 */
export function casePrompt(c: PromptCase, tokenizer: Tokenizer, chat?: ChatFormat): { text: string; ids: number[] } {
  if (!c.messages) return { text: c.prompt, ids: tokenizer.encode(c.prompt) };
  if (!chat) throw new Error(`case ${c.id} (line ${c.line}) is written as messages, but no chat template was given to render it`);
  return { text: chat.prompt(c.messages), ids: encodeChatPrompt(c.messages, tokenizer, chat) };
}

/** Refuses prompts the model cannot take (too long for its context), naming file and line. */
export function checkPromptsFit(model: CausalLM, tokenizer: Tokenizer, cases: readonly PromptCase[], file: string, chat?: ChatFormat): void {
  const ctx = model.config.maxPositions;
  const problems: string[] = [];
  for (const c of cases) {
    const n = casePrompt(c, tokenizer, chat).ids.length;
    if (n >= ctx) problems.push(`${file}:${c.line}: the prompt has ${n} tokens; the model's context is ${ctx}`);
    else if (n === 0) problems.push(`${file}:${c.line}: the prompt encodes to no tokens`);
  }
  if (problems.length) throw new Error(problems.join('\n'));
}

/** Greedy answers, timings and stability samples for every case. */
export function evaluateCases(model: CausalLM, tokenizer: Tokenizer, cases: readonly PromptCase[], settings: EvalSettings, hooks: CaseHooks = {}, chat?: ChatFormat): { results: CaseModelResult[]; greedyMs: number } {
  const out: CaseModelResult[] = [];
  let greedyMs = 0;
  cases.forEach((c, i) => {
    const stop = [...settings.stop, ...c.stop];
    const p = casePrompt(c, tokenizer, chat);
    const g = generate(model, tokenizer, p.text, { maxTokens: settings.maxTokens, temperature: 0, stop, promptTokens: p.ids });
    greedyMs += g.totalMs;
    hooks.afterGenerate?.();
    // Forward passes after the first: one per generated token, plus the one that sampled EOS.
    const passes = g.tokens.length + (g.stopReason === 'eos' ? 1 : 0);
    const perTokenMs = passes > 1 ? (g.totalMs - g.firstTokenMs) / (passes - 1) : null;
    let agreement: number | null = null;
    if (settings.samples > 0) {
      let same = 0;
      const want = g.text.trim();
      for (let k = 1; k <= settings.samples; k++) {
        const s = generate(model, tokenizer, p.text, { maxTokens: settings.maxTokens, temperature: settings.temperature, seed: settings.seed + k, stop, promptTokens: p.ids });
        hooks.afterGenerate?.();
        if (s.text.trim() === want) same++;
      }
      agreement = same / settings.samples;
    }
    out.push({
      output: g.text,
      ...(c.expected !== undefined ? { correct: matches(g.text, c.expected, c.match) } : {}),
      firstTokenMs: g.firstTokenMs, perTokenMs, tokens: g.tokens.length, agreement,
    });
    hooks.onCase?.(i + 1, cases.length);
  });
  return { results: out, greedyMs };
}

/** The scored part of a section from per-case results (timings, accuracy, stability). */
export function summarize(cases: readonly PromptCase[], results: readonly CaseModelResult[], totalGenerateMs: number): Omit<EvalSection, 'loadMs' | 'peakMemoryMiB'> {
  let right = 0, scored = 0, wrongWeight = 0, weight = 0;
  cases.forEach((c, i) => {
    if (c.expected === undefined) return;
    scored++;
    weight += c.weight;
    if (results[i].correct) right++;
    else wrongWeight += c.weight;
  });
  const first = results.map((r) => r.firstTokenMs);
  const per = results.map((r) => r.perTokenMs).filter((x): x is number => x !== null);
  const pct = (xs: number[]) => ({ p50: finiteOr0(percentile(xs, 0.5)), p95: finiteOr0(percentile(xs, 0.95)) });
  const tokens = results.reduce((n, r) => n + r.tokens, 0);
  const agreements = results.map((r, i) => ({ id: cases[i].id, agreement: r.agreement })).filter((a): a is { id: string; agreement: number } => a.agreement !== null);
  const leastStable = [...agreements].sort((a, b) => a.agreement - b.agreement).slice(0, 3);
  return {
    accuracy: scored ? right / scored : null,
    weightedError: scored ? wrongWeight / weight : null,
    latency: { firstTokenMs: pct(first), perTokenMs: pct(per) },
    tokensPerSecond: totalGenerateMs > 0 ? (tokens * 1000) / totalGenerateMs : 0,
    stability: { mean: agreements.length ? mean(agreements.map((a) => a.agreement)) : null, leastStable },
  };
}

const finiteOr0 = (x: number) => (Number.isFinite(x) ? x : 0);

function padId(tok: Tokenizer): number {
  return tok.pad ?? tok.eos ?? 0;
}

const BATCH = 8;

/** Probe windows: the whole text as one token stream cut into windows of `window` tokens (BOS first if the model uses one). */
export function probeExamples(text: string, tokenizer: Tokenizer, window: number): Example[] {
  const body = tokenizer.encode(text, { addBos: false, addEos: false });
  const bos = tokenizer.addBos && tokenizer.bos !== undefined ? [tokenizer.bos] : [];
  const per = window - bos.length;
  const out: Example[] = [];
  for (let i = 0; i < body.length; i += per) {
    const ids = [...bos, ...body.slice(i, i + per)];
    if (ids.length < 2) continue;
    const mask = new Uint8Array(ids.length).fill(1);
    mask[0] = 0;
    out.push({ ids, mask });
  }
  return out;
}

/** exp(mean NLL) over every token of a plain-text file, in windows of min(context, 256) tokens. */
export function probePerplexity(model: CausalLM, tokenizer: Tokenizer, path: string): { perplexity: number; tokens: number } {
  const file = resolve(path);
  const text = readTextFile(file, basename(file), 'the probe');
  const examples = probeExamples(text, tokenizer, Math.min(model.config.maxPositions, 256));
  if (!examples.length) throw new Error(`${basename(file)}: the probe text is empty (no tokens to score)`);
  const batches = makeBatches(examples, BATCH, new Rng(0), { shuffle: false }).map((b) => packBatch(b, padId(tokenizer)));
  const m = evaluateLoss(model, batches);
  return { perplexity: m.perplexity, tokens: m.labelTokens };
}

/** Validation loss, perplexity and next-token accuracy on a data file (any training format). */
export function dataMetrics(model: CausalLM, tokenizer: Tokenizer, path: string, chat?: ChatFormat): { valLoss: number; valPerplexity: number; tokenAccuracy: number; tokens: number } {
  const ds = loadDataset(path, tokenizer, { maxLength: Math.min(model.config.maxPositions, 1024), chat });
  const batches = makeBatches(ds.examples, BATCH, new Rng(0), { shuffle: false }).map((b) => packBatch(b, padId(tokenizer)));
  const m = evaluateLoss(model, batches);
  return { valLoss: m.valLoss, valPerplexity: m.perplexity, tokenAccuracy: m.tokenAccuracy, tokens: m.labelTokens };
}
