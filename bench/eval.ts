// Evaluation throughput: `adapt-lab eval`'s per-case work (a greedy answer plus stability
// samples) on stories260K with 20 mood prompts, base model only, model load excluded. Median of
// 3 timed passes after one warmup. Prints one {"name":"eval",...} line with --json.
import { existsSync } from 'node:fs';
import { tf } from '../src/engine/tf';
import { selectBackend } from '../src/engine/backend';
import { loadModel } from '../src/engine/model/loader';
import { evaluateCases, resolveSettings, summarize } from '../src/engine/eval/evaluate';
import type { PromptCase } from '../src/engine/core/prompts';
import { STORIES } from './generation';
import { median, round, nowMs } from './stats';

const NAMES = ['Tom', 'Lily', 'Sam', 'Mia', 'Ben'];
const HAPPY = ['smiled at the sun', 'got a new toy'];
const SAD = ['lost the red ball', 'missed the bus'];

/** 20 one-line mood stories ("Tom lost the red ball. Tom was" → "sad"), cut at the full stop. */
export function moodPrompts(n = 20): PromptCase[] {
  return Array.from({ length: n }, (_, i) => {
    const name = NAMES[i % NAMES.length];
    const happy = i % 2 === 0;
    const what = (happy ? HAPPY : SAD)[Math.floor(i / 2) % 2];
    return { id: `mood-${i}`, line: i + 1, prompt: `${name} ${what}. ${name} was`, expected: happy ? 'happy' : 'sad', match: 'exact', weight: 1, stop: ['.'] };
  });
}

export interface EvalBenchRecord {
  name: 'eval';
  model: string;
  backend: string;
  cases: number;
  samples: number;
  maxTokens: number;
  runs: number;
  /** Cases per second of wall time (greedy answer + samples each). */
  casesPerSecond: number;
  /** Generated tokens per second of the greedy answers. */
  tokensPerSecond: number;
  perTokenMsP50: number;
  firstTokenMsP50: number;
  runCasesPerSecond: number[];
  leakedTensors: number;
}

/** Call as `await benchEval({ json: a.json, quick: a.quick })` after the backend is selected. */
export async function benchEval(opts: { json: boolean; quick: boolean }): Promise<void> {
  if (!existsSync(STORIES)) {
    if (opts.json) console.log(JSON.stringify({ name: 'eval', skipped: `${STORIES} not found` }));
    else console.log(`eval: skipped (${STORIES} not found)`);
    return;
  }
  const backend = await selectBackend();
  const settings = resolveSettings(opts.quick ? { samples: 1, maxTokens: 8 } : { samples: 3, maxTokens: 16 });
  const cases = moodPrompts(20);
  const lm = await loadModel(STORIES);
  try {
    // Warmup: every prompt once (compiles the hot paths, fills the causal-mask cache per prompt length).
    evaluateCases(lm.model, lm.tokenizer!, cases, { ...settings, samples: 0 });
    const before = tf.memory().numTensors;
    const runs: { casesPerSecond: number; tokensPerSecond: number; perToken: number; first: number }[] = [];
    for (let r = 0; r < 3; r++) {
      const t0 = nowMs();
      const { results, greedyMs } = evaluateCases(lm.model, lm.tokenizer!, cases, settings);
      const wall = nowMs() - t0;
      const s = summarize(cases, results, greedyMs);
      runs.push({ casesPerSecond: (cases.length * 1000) / wall, tokensPerSecond: s.tokensPerSecond, perToken: s.latency.perTokenMs.p50, first: s.latency.firstTokenMs.p50 });
    }
    const rec: EvalBenchRecord = {
      name: 'eval', model: 'stories260K', backend: backend.name, cases: cases.length, samples: settings.samples, maxTokens: settings.maxTokens, runs: runs.length,
      casesPerSecond: round(median(runs.map((r) => r.casesPerSecond))),
      tokensPerSecond: round(median(runs.map((r) => r.tokensPerSecond))),
      perTokenMsP50: round(median(runs.map((r) => r.perToken))),
      firstTokenMsP50: round(median(runs.map((r) => r.first))),
      runCasesPerSecond: runs.map((r) => round(r.casesPerSecond)),
      leakedTensors: tf.memory().numTensors - before,
    };
    if (opts.json) console.log(JSON.stringify(rec));
    else {
      console.log(`eval (stories260K, ${rec.cases} mood prompts, ${rec.samples} samples, max ${rec.maxTokens} tokens, ${rec.backend}, median of ${rec.runs}): `
        + `${rec.casesPerSecond} cases/s, ${rec.tokensPerSecond} tokens/s (greedy), per token p50 ${rec.perTokenMsP50} ms, first token p50 ${rec.firstTokenMsP50} ms`);
    }
  } finally {
    lm.model.dispose();
  }
}
