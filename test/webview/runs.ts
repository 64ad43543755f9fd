// Run folders on disk for the webview tests: run.json and metrics.jsonl written through the
// real run store, and an eval.json in the shape of src/protocol/eval.ts.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRun } from '../../src/engine/core/runs/store';
import type { EvalReport, EvalSection } from '../../src/protocol/eval';
import { config, finished, runEvents, started } from './fixtures';

export function tempRunsDir(): string {
  return mkdtempSync(join(tmpdir(), 'adapt-lab-webview-'));
}

export function makeRun(runsDir: string, o: { name: string; lr: number; rank: number; steps: number; seed: number; scale?: number; end?: boolean; legacy?: boolean }): string {
  const h = createRun(runsDir, { name: o.name, config: config({ lr: o.lr, rank: o.rank, name: o.name }), method: `LoRA r${o.rank} q_proj,v_proj`, files: [] });
  h.appendEvent({ ...started(o.steps, h.dir), config: config({ lr: o.lr, rank: o.rank, name: o.name }) });
  for (const e of runEvents(o.steps, { seed: o.seed, scale: o.scale, legacy: o.legacy }).all) h.appendEvent(e);
  if (o.end !== false) h.appendEvent(finished(o.steps));
  return h.dir;
}

function section(accuracy: number, p95: number, ppl: number): EvalSection {
  return {
    accuracy, weightedError: 1 - accuracy,
    latency: { firstTokenMs: { p50: 30, p95: 41 }, perTokenMs: { p50: p95 * 0.8, p95 } },
    tokensPerSecond: 1000 / p95, loadMs: 800, peakMemoryMiB: 700,
    stability: { mean: 0.9, leastStable: [] }, perplexity: ppl,
  };
}

export function writeEval(runDir: string, adaptedAccuracy: number, changePercent: number): void {
  const report: EvalReport = {
    version: 1, createdAt: '2025-01-01T13:00:00Z', model: { path: '/models/m.gguf', name: 'stories260K' },
    adapter: { kind: 'run', path: runDir }, prompts: { file: 'prompts.jsonl', cases: 1 },
    settings: { maxTokens: 32, samples: 4, temperature: 0.7, seed: 1, backend: 'wasm', stop: [] },
    base: section(0.12, 9.1, 20.4), adapted: section(adaptedAccuracy, 9.4, 20.4 * (1 + changePercent / 100)),
    regressions: [], improvements: [],
    forgetting: { basePerplexity: 20.4, adaptedPerplexity: 20.4 * (1 + changePercent / 100), changePercent },
    verdict: `accuracy 12% → ${Math.round(adaptedAccuracy * 100)}% · 0 regressions · forgetting ${changePercent > 0 ? '+' : ''}${changePercent}% ppl · p95 9.4 ms/token`,
    cases: [{
      id: 'case-1', line: 1, prompt: 'Q: 2+2?', expected: '4', match: 'contains', weight: 1,
      base: { output: ' 5', correct: false, firstTokenMs: 30, perTokenMs: null, tokens: 1, agreement: 1 },
      adapted: { output: ' 4', correct: true, firstTokenMs: 31, perTokenMs: null, tokens: 1, agreement: 1 },
    }],
  };
  writeFileSync(join(runDir, 'eval.json'), JSON.stringify(report, null, 2));
}
