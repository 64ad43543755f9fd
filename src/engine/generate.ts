// Text generation with a KV cache: the prompt is fed once, then one token at a time; only the
// sampled position's logits are read back. Text streams out as tokens complete UTF-8.
// `generateSteps` yields after every token so a long-lived worker can interleave requests
// and cancel; `generate` runs it to the end.
import { tf } from './tf';
import { CausalLM, disposeCache } from './model/model';
import { Tokenizer, StreamDecoder } from './tokenizers';
import { Rng } from './random';
import { sample, softmax } from './sampling';
import { TokenAlternative } from '../protocol/worker';

export interface GenerateOptions {
  maxTokens: number;
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
  stop?: string[];
  /** Called with each piece of text as it becomes printable. */
  onText?: (text: string) => void;
  /** Called with every row of logits the model produced (prompt positions, then each fed-back token). */
  onLogits?: (row: Float32Array) => void;
  /** Keep each chosen token's probability (for evaluation hovers). */
  withProbs?: boolean;
  /** Keep this many most likely alternatives per generated token. */
  withTop?: number;
  /** The prompt's token ids, when the caller encoded it (a rendered chat prompt, chat/encode.ts); else `prompt` is encoded as text. */
  promptTokens?: number[];
}

export interface GenerateResult {
  promptTokens: number[];
  tokens: number[];
  text: string;
  stopReason: 'max-tokens' | 'eos' | 'stop-sequence' | 'context-full' | 'cancelled';
  /** Probability of each generated token under the (tempered) distribution, if asked. */
  probs?: number[];
  /** The most likely tokens at each generated position, if asked. */
  top?: TokenAlternative[][];
  firstTokenMs: number;
  totalMs: number;
}

export function* generateSteps(model: CausalLM, tokenizer: Tokenizer, prompt: string, opts: GenerateOptions): Generator<string, GenerateResult, void> {
  const t0 = performance.now();
  const promptTokens = opts.promptTokens ?? tokenizer.encode(prompt);
  if (promptTokens.length === 0) throw new Error('the prompt is empty and the model adds no BOS token: nothing to condition on');
  const ctxLen = model.config.maxPositions;
  if (promptTokens.length >= ctxLen) throw new Error(`the prompt has ${promptTokens.length} tokens; the model's context is ${ctxLen}`);
  const rng = new Rng(opts.seed ?? 0);
  const temperature = opts.temperature ?? 0;
  // Room for the prompt and every token fed back: the cache never grows while decoding.
  const cache = model.newCache(Math.min(ctxLen, promptTokens.length + opts.maxTokens));
  const decoder = new StreamDecoder(tokenizer);
  const tokens: number[] = [];
  const probs: number[] = [];
  const top: TokenAlternative[][] = [];
  let text = '';
  let stopReason: GenerateResult['stopReason'] = 'max-tokens';
  let firstTokenMs = 0;
  const stops = (opts.stop ?? []).filter((s) => s.length > 0);
  const endIds = new Set([...tokenizer.eosIds, tokenizer.kind === 'spm' ? tokenizer.bos : undefined].filter((x): x is number => x !== undefined));
  const V = model.config.vocabSize;
  try {
    let feed = promptTokens;
    for (let step = 0; step < opts.maxTokens; step++) {
      if (cache.length + feed.length > ctxLen) {
        stopReason = 'context-full';
        break;
      }
      const all = !!opts.onLogits;
      const row = tf.tidy(() => {
        const ctx = model.newContext({ cache });
        return model.forward(tf.tensor2d([feed], [1, feed.length], 'int32'), ctx, { lastOnly: !all }).reshape([-1, V]);
      });
      const data = row.dataSync() as Float32Array;
      row.dispose();
      if (opts.onLogits) for (let i = 0; i < data.length / V; i++) opts.onLogits(data.slice(i * V, (i + 1) * V));
      const last = data.subarray(data.length - V);
      const next = sample(last, { temperature, topK: opts.topK, topP: opts.topP }, rng);
      if (step === 0) firstTokenMs = performance.now() - t0;
      if (opts.withProbs || opts.withTop) {
        const p = softmax(last, temperature > 0 ? temperature : 1);
        if (opts.withProbs) probs.push(p[next]);
        if (opts.withTop) {
          const best = Array.from(p.keys()).sort((a, b) => p[b] - p[a]).slice(0, opts.withTop);
          top.push(best.map((id) => ({ id, text: tokenizer.decode([id]), prob: p[id] })));
        }
      }
      if (endIds.has(next)) {
        stopReason = 'eos';
        break;
      }
      tokens.push(next);
      const piece = decoder.push(next);
      text += piece;
      const hit = stops.find((s) => text.includes(s));
      if (hit) {
        const cut = text.indexOf(hit);
        const visible = piece.slice(0, Math.max(0, piece.length - (text.length - cut)));
        if (visible) opts.onText?.(visible);
        text = text.slice(0, cut);
        stopReason = 'stop-sequence';
        break;
      }
      if (piece) opts.onText?.(piece);
      feed = [next];
      yield piece;
    }
    if (stopReason !== 'stop-sequence') {
      const rest = decoder.flush();
      if (rest) {
        text += rest;
        opts.onText?.(rest);
      }
    }
  } finally {
    disposeCache(cache);
  }
  return {
    promptTokens, tokens, text, stopReason, firstTokenMs, totalMs: performance.now() - t0,
    probs: opts.withProbs ? probs : undefined, top: opts.withTop ? top : undefined,
  };
}

export function generate(model: CausalLM, tokenizer: Tokenizer, prompt: string, opts: GenerateOptions): GenerateResult {
  const it = generateSteps(model, tokenizer, prompt, opts);
  for (;;) {
    const r = it.next();
    if (r.done) return r.value;
  }
}

/** Like generate, but yields to the event loop between tokens; `cancelled()` stops it early. */
export async function generateAsync(model: CausalLM, tokenizer: Tokenizer, prompt: string, opts: GenerateOptions & { cancelled?: () => boolean }): Promise<GenerateResult> {
  const t0 = performance.now();
  const it = generateSteps(model, tokenizer, prompt, opts);
  let partial = '';
  for (;;) {
    if (opts.cancelled?.()) {
      it.return(undefined as never); // runs the generator's finally: the cache is freed
      return { promptTokens: [], tokens: [], text: partial, stopReason: 'cancelled', firstTokenMs: 0, totalMs: performance.now() - t0, probs: undefined };
    }
    const r = it.next();
    if (r.done) return r.value;
    partial += r.value;
    await new Promise((resolve) => setImmediate(resolve));
  }
}
