// --only torchrun: the torchrun path's training speed beside our engine's on the small shape,
// as a Llama (the PyTorch trainer's family): d 384, 6 layers, 6 heads, intermediate 1024, a
// 512-token vocabulary, batches of 8 rows of 256 tokens, LoRA r8 (alpha 16) on q_proj and
// v_proj. A random-weight model is written as a Hugging Face folder into a temp folder; the same
// run config trains with `adapt-lab train` (our engine, 2 threads) and with `adapt-lab launch
// --torchrun` on 1 process (all cores to PyTorch) and on 2 (DDP, gloo, a core each). Tokens/s
// is the median of the step events after the warmup steps, as each trainer reports it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Reporter } from './report';
import { torchEnv } from './torch';
import { fmt, median, round, table } from './stats';
import { writeRandomModel } from '../test/helpers/random-model';
import { moodCases } from '../test/helpers/tasks';

const CLI = resolve(__dirname, 'cli.js');
const SMALL_LLAMA = {
  architectures: ['LlamaForCausalLM'], model_type: 'llama',
  hidden_size: 384, intermediate_size: 1024, num_hidden_layers: 6, num_attention_heads: 6, num_key_value_heads: 6,
  max_position_embeddings: 512, rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: true,
};

interface RuntimeResult {
  runtime: string;
  tokensPerSecond?: number;
  steps?: number;
  backend?: string;
  error?: string;
}

function runOne(label: string, args: string[], warmup: number, timeoutMs: number): RuntimeResult {
  const r = spawnSync(process.execPath, [CLI, ...args, '--jsonl'], { encoding: 'utf8', env: torchEnv(), timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  const events = (r.stdout ?? '').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { type: string; step?: number; tokensPerSecond?: number; backend?: { label?: string; name: string } });
  const steps = events.filter((e) => e.type === 'step' && (e.step ?? 0) > warmup).map((e) => e.tokensPerSecond!);
  const started = events.find((e) => e.type === 'started');
  if (r.status !== 0 || !steps.length) {
    const tail = (r.stderr ?? '').trim().split('\n').slice(-2).join(' | ');
    return { runtime: label, error: `${r.error ? r.error.message : `exit ${r.status}`}: ${tail}` };
  }
  return { runtime: label, tokensPerSecond: median(steps), steps: steps.length, backend: started?.backend?.label ?? started?.backend?.name };
}

export async function torchrunSection(rep: Reporter, o: { quick: boolean; backend: string; steps?: number; warmup?: number; rounds?: number }): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'adapt-lab-bench-torchrun-'));
  try {
    rep.progress('torchrun: writing a small-shaped random Llama (HF folder)');
    const model = await writeRandomModel(dir, SMALL_LLAMA, { gguf: false });
    // Text: the mood stories, enough for every step's 8 rows of 256 tokens.
    writeFileSync(join(dir, 'train.txt'), moodCases(4000, 11).map((c) => `${c.prompt}${c.completion}`).join(' '));
    const warmup = o.warmup ?? (o.quick ? 1 : 2);
    const timed = o.steps ?? (o.quick ? 2 : 5);
    const cfg = join(dir, 'config.json');
    writeFileSync(cfg, JSON.stringify({
      model: model.hfDir, data: { train: 'train.txt', validationSplit: 0 },
      adapt: { lora: { rank: 8, alpha: 16, dropout: 0, targetModules: ['q_proj', 'v_proj'] } },
      training: { batchSize: 8, maxLength: 256, maxSteps: warmup + timed, learningRate: 3e-4, evalEvery: 0, checkpointEvery: 0, checkpointSeconds: 0, threads: 2, dropout: 0, embeddingNoise: 0 },
      seed: 1, backend: o.backend, runsDir: join(dir, 'runs'), name: 'bench',
    }));
    const runtimes: [string, string[]][] = [
      ['ours (train, 2 threads)', ['train', cfg]],
      ['torchrun, 1 process', ['launch', cfg, '--torchrun', '--nproc', '1']],
      ['torchrun, 2 processes (DDP, gloo)', ['launch', cfg, '--torchrun', '--nproc', '2']],
    ];
    // The three alternate, round after round (a busy machine slows whichever runs then); medians.
    const rounds = o.rounds ?? (o.quick ? 1 : 3);
    const byRuntime = new Map<string, RuntimeResult[]>(runtimes.map(([l]) => [l, []]));
    for (let k = 0; k < rounds; k++) {
      for (const [label, args] of runtimes) {
        rep.progress(`torchrun: ${label}, round ${k + 1}/${rounds} (${warmup} warmup + ${timed} steps)`);
        const r = runOne(label, args, warmup, 30 * 60_000);
        if (r.error) rep.warn('torchrun', `${label}: ${r.error}`);
        byRuntime.get(label)!.push(r);
      }
    }
    const results = runtimes.map(([label]) => {
      const ok = byRuntime.get(label)!.filter((r) => r.tokensPerSecond !== undefined);
      const r: RuntimeResult & { rounds: number; each?: number[] } = ok.length
        ? { ...ok[0], tokensPerSecond: median(ok.map((x) => x.tokensPerSecond!)), rounds: ok.length, each: ok.map((x) => round(x.tokensPerSecond!)) }
        : { ...byRuntime.get(label)![0], rounds: 0 };
      rep.emit({ name: 'torchrun', shape: 'small (Llama)', mode: 'lora', ...r, tokensPerSecond: r.tokensPerSecond !== undefined ? round(r.tokensPerSecond) : undefined });
      return r;
    });
    const ours = results[0].tokensPerSecond;
    rep.print(`\n== torchrun path vs our engine: small shape as a Llama (d 384, 6 layers, 8 × 256 tokens a step), LoRA r8 on q_proj, v_proj; tokens/s after warmup, median of ${rounds} alternating round${rounds > 1 ? 's' : ''} ==`);
    rep.print(table(['runtime', 'backend', 'tokens/s', 'each round', 'vs ours'], results.map((r) => [
      r.runtime, r.backend ?? '', r.tokensPerSecond !== undefined ? fmt(r.tokensPerSecond) : `failed: ${r.error}`, (r.each ?? []).map(fmt).join(', '),
      r.tokensPerSecond !== undefined && ours ? `${fmt(r.tokensPerSecond / ours)}×` : '',
    ])));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
