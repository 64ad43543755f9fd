// First-answer latency of the inference worker the extension uses for prompts (`adapt-lab
// worker`, forked with IPC exactly as the extension forks it), on stories260K:
//   cold: fork a fresh worker and ask one prompt; from the fork to the answer (process start,
//         backend, model load, generation)
//   warm: the same prompt again to a worker that already has the model loaded
// Medians of 3 each. Needs a built dist/cli.js (npm run build).
//   npx tsx bench/prompts.ts [--json] [--backend wasm|cpu|…]
// or from code: `await benchPrompts({ json: true })`.
import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { WorkerClient } from '../src/extension/prompts/workerClient';
import { median, round, nowMs, fmt } from './stats';

const CLI = resolve(process.cwd(), 'dist/cli.js');
const MODEL = resolve(process.cwd(), '../shared/models/stories260K/stories260K.gguf');
const PROMPT = 'Tom sang a song. Tom was';
const REPEATS = 3;

function newWorker(backend: string): WorkerClient {
  return new WorkerClient(() => fork(CLI, ['worker', '--backend', backend], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] }));
}

const ask = (w: WorkerClient) => w.generate({ model: MODEL, prompt: PROMPT, maxTokens: 16, stop: ['\n'], top: 4 });

export async function benchPrompts(opts: { json: boolean; backend?: string }): Promise<void> {
  const backend = opts.backend ?? 'auto';
  if (!existsSync(CLI)) throw new Error(`${CLI} not found: run npm run build first`);
  if (!existsSync(MODEL)) throw new Error(`${MODEL} not found`);
  const cold: number[] = [];
  const coldLoad: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const w = newWorker(backend);
    try {
      const t0 = nowMs();
      const d = await ask(w);
      cold.push(nowMs() - t0);
      coldLoad.push(d.loadMs);
    } finally {
      w.dispose();
    }
  }
  const warm: number[] = [];
  const w = newWorker(backend);
  let chosen = '';
  try {
    await ask(w); // loads the model
    chosen = w.backend ?? '';
    for (let i = 0; i < REPEATS; i++) {
      const t0 = nowMs();
      const d = await ask(w);
      if (!d.warm) throw new Error('the worker reloaded the model between requests');
      warm.push(nowMs() - t0);
    }
  } finally {
    w.dispose();
  }
  const rec = { name: 'first-answer', cold: round(median(cold)), warm: round(median(warm)) };
  if (opts.json) {
    console.log(JSON.stringify(rec));
    return;
  }
  console.log(`first answer of the inference worker (stories260K, backend ${chosen}, ${JSON.stringify(PROMPT)}, ≤16 tokens; median of ${REPEATS}):`);
  console.log(`  cold (fork → answer): ${fmt(rec.cold)} ms   [${cold.map((x) => fmt(round(x))).join(', ')}; model load ${fmt(round(median(coldLoad)))} ms of it]`);
  console.log(`  warm (request → answer, model loaded): ${fmt(rec.warm)} ms   [${warm.map((x) => fmt(round(x))).join(', ')}]`);
}

if (/prompts\.ts$/.test(process.argv[1] ?? "")) {
  const args = process.argv.slice(2);
  const b = args.indexOf('--backend');
  benchPrompts({ json: args.includes('--json'), backend: b >= 0 ? args[b + 1] : undefined }).catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
