// Adapt Lab benchmark: generation speed, training-step throughput per shape × mode (each case
// in a fresh child process), the PyTorch reference side by side, and an op breakdown.
//   npm run bench                 everything (~10 min on an idle 2-core machine; 35 min at load 5–16)
//   node dist/bench.js --quick    fewer steps, repeats and tokens; small only in lora (~3 min idle)
//   node dist/bench.js --json     one JSON object per line, each with a "name"
//   --only generation|train|torch|profile, --shape tiny|small, --steps, --rounds, --backend: see --help
// Every figure is a median over repeats (steps, runs or rounds). The machine's load is recorded
// with each case: on a busy machine every figure is low, torch's most of all.
import { cpus, loadavg } from 'node:os';
import { tf } from '../src/engine/tf';
import { selectBackend } from '../src/engine/backend';
import type { CausalLM } from '../src/engine/model/model';
import { parseArgs, USAGE, BenchArgs } from './args';
import { Reporter } from './report';
import { GPT2_124M, MODES, MODE_NOTES, Mode, parseCase, SHAPES, Shape } from './shapes';
import { ChildResult, runTrainCase, spawnTrainCase, TrainRecord, wasmHeapBytes } from './training';
import { buildGpt2Small, GenerateRecord, generateApiOnce, loadStories, LoadRecord, measureGeneration, randomPrompt, STORIES, storiesPrompt } from './generation';
import { checkTorch, runTorch, runTorchBest, torchInferArgs, torchTrainArgs, TORCH_SCRIPT } from './torch';
import { ProfileRecord } from './profile';
import { benchEval } from './eval';
import { benchExtension } from './extension';
import { benchMonitor } from './monitor';
import { benchPrompts } from './prompts';
import { benchCatalogue } from './catalogue';
import { fmt, max, median, mib, round, table, nowMs } from './stats';
import { quantSection, runQuantCase } from './quant';
import { runScaleCase, scaleSection, TORCH_SCALE_SCRIPT } from './scale';
import { torchrunSection } from './torchrun';
import { setBlasThreads, blasThreadsPerWorker } from '../src/engine/native';

const PROFILE_MODES: Mode[] = ['lora', 'full'];
/** Our threads per training step by default: torch's recommended --threads here. */
const DEFAULT_THREADS = 2;

interface Plan {
  generation: boolean;
  train: boolean;
  torch: boolean;
  profile: boolean;
}

async function childMain(a: BenchArgs, rep: Reporter, backend: string): Promise<void> {
  const { shape, mode } = parseCase(a.case!);
  const r = await runTrainCase(shape, mode, {
    steps: a.steps ?? (a.quick ? shape.quick.steps : shape.steps),
    warmup: a.warmup ?? (a.quick ? shape.quick.warmup : shape.warmup),
    microBatch: Math.min(shape.batch, a.microBatch ?? shape.microBatch),
    threads: a.threads ?? DEFAULT_THREADS,
    profile: a.profileStep,
    backend,
  });
  if (r.train) {
    rep.emit(r.train);
    if (r.train.leakedTensors !== 0) rep.warn('train', `${shape.name}:${mode}: ${r.train.leakedTensors} tensors leaked over ${r.train.steps} steps`);
  }
  if (r.profile) rep.emit(r.profile);
  if (!a.json) for (const rec of [r.train, r.profile]) if (rec) console.log(JSON.stringify(rec, null, 1));
}

// ------------------------------------------------------------------------------- generation

async function generationSection(a: BenchArgs, rep: Reporter, backend: string, torchOk: boolean, rounds: number): Promise<void> {
  const newTokens = a.quick ? 16 : 64;
  const runs = a.quick ? 1 : 3;
  const promptLen = 32;
  const loads: LoadRecord[] = [];
  const gens: GenerateRecord[] = [];
  const torchGen: Record<string, unknown>[] = [];
  const before = tf.memory().numTensors;

  rep.progress('generation: stories260K');
  const stories = await loadStories(backend, 3);
  if (!stories) rep.note('generation', `stories260K skipped: ${STORIES} not found`);
  else {
    loads.push(stories.rec);
    rep.emit(stories.rec);
    const prompt = storiesPrompt(stories.tokenizer, stories.model.config.vocabSize, promptLen);
    const g = measureGeneration(stories.model, 'stories260K', backend, prompt, newTokens, runs);
    if (stories.tokenizer) g.generateApi = generateApiOnce(stories.model, stories.tokenizer, newTokens);
    gens.push(g);
    rep.emit(g);
    stories.model.dispose();
  }

  rep.progress('generation: gpt2-124M (random weights, built in memory)');
  let big: CausalLM | undefined;
  try {
    const built = buildGpt2Small(backend);
    big = built.model;
    loads.push(built.rec);
    rep.emit(built.rec);
    const prompt = randomPrompt(GPT2_124M.vocab, promptLen);
    // Ours and torch alternate: one of our runs, then one torch run, per round.
    const torchRuns: Record<string, unknown>[] = [];
    let torchCmd = '';
    const nRuns = torchOk ? Math.max(runs, rounds) : runs;
    const g = measureGeneration(big, 'gpt2-124M (random)', backend, prompt, newTokens, nRuns, (r) => {
      if (!torchOk || r >= rounds) return;
      rep.progress(`generation: torch --infer gpt2-124M round ${r + 1}/${rounds}`);
      // Without a KV cache this takes minutes on a busy machine: pick one thread count up front.
      const busy = loadavg()[0] > cpus().length;
      const threads = a.torchThreads ?? (busy ? 1 : 2);
      if (busy && !a.torchThreads) rep.note('torch', `load ${fmt(loadavg()[0])} on ${cpus().length} CPUs: torch --infer runs with --threads 1 (2 OpenMP threads collapse on a busy machine)`);
      const t = runTorch(torchInferArgs(GPT2_124M, promptLen, newTokens), 600_000, threads);
      torchCmd = t.command;
      if (t.result) torchRuns.push(t.result);
      else rep.warn('torch', `torch --infer failed: ${t.error}`);
    });
    gens.push(g);
    rep.emit(g);
    if (torchRuns.length) {
      const tps = median(torchRuns.map((t) => t.tokens_per_s as number));
      const rec = {
        name: 'torch', kind: 'infer', model: 'gpt2-124M (random)', rounds: torchRuns.length, promptTokens: promptLen, newTokens,
        tokensPerSecond: round(tps), msPerTokenMedian: round(median(torchRuns.map((t) => t.ms_per_token_median as number))),
        peakRssMiB: round(median(torchRuns.map((t) => t.peak_rss_mib as number))), torch: torchRuns[0].torch, blas: torchRuns[0].blas, threads: torchRuns[0].threads,
        otherCores: round(median(torchRuns.map((t) => t.other_cores as number)), 3), kvCache: false, command: torchCmd,
        note: 'torch_gpt_bench.py --infer recomputes the whole sequence for every token (no KV cache); ours uses a KV cache',
      };
      torchGen.push(rec);
      rep.emit(rec);
      rep.emit({ name: 'ratio', kind: 'generate', model: 'gpt2-124M (random)', oursTokensPerSecond: g.generatedTokensPerSecond, torchTokensPerSecond: rec.tokensPerSecond, ratio: round(g.generatedTokensPerSecond / rec.tokensPerSecond, 3) });
    }
  } finally {
    big?.dispose();
  }
  const after = tf.memory().numTensors;
  if (after !== before) rep.warn('generation', `tf.memory().numTensors went from ${before} to ${after} over the section`);

  rep.print('\n== Generation (greedy, KV cache, last logits row read back; medians) ==');
  rep.print(table(
    ['model', 'params', 'load/build ms', 'prompt tok', 'prompt tok/s', 'new tok', 'runs', 'gen tok/s', 'ms/token', 'tensors before→after'],
    gens.map((g) => {
      const l = loads.find((x) => x.model === g.model);
      return [g.model, `${(g.params / 1e6).toFixed(2)}M`, l ? `${fmt(l.msMedian)} (${l.what}${l.repeats > 1 ? `, median of ${l.repeats}` : ''})` : '–', g.promptTokens, g.promptTokensPerSecond, g.newTokens, g.runs, g.generatedTokensPerSecond, g.decodeMsPerTokenMedian, `${g.numTensorsBefore}→${g.numTensorsAfter}`];
    }),
  ));
  const api = gens.find((g) => g.generateApi)?.generateApi;
  if (api) rep.print(`generate() on stories260K with a text prompt (${api.promptTokens} prompt tokens): ${api.tokens} tokens, first token ${fmt(api.firstTokenMs)} ms, total ${fmt(api.totalMs)} ms, ~${fmt(api.tokensPerSecond)} tok/s after the first`);
  rep.print(`tf.memory().numTensors over the whole section: ${before} → ${after}${after === before ? ' (no leak)' : ' (LEAK)'}`);
  for (const t of torchGen) {
    const ours = gens.find((g) => g.model === t.model)!;
    rep.print(`torch --infer ${t.model}: ${fmt(t.tokensPerSecond as number)} tok/s (median of ${t.rounds}; no KV cache, recomputes the sequence per token) vs ours ${fmt(ours.generatedTokensPerSecond)} tok/s with a KV cache → ours/torch ${fmt(ours.generatedTokensPerSecond / (t.tokensPerSecond as number))}`);
  }
}

// ------------------------------------------------------------------------- training (+ torch)

interface CaseResult {
  shape: Shape;
  mode: Mode;
  ours: TrainRecord[];
  torch: Record<string, unknown>[];
  torchCommand?: string;
  profile?: ProfileRecord;
  error?: string;
}

/** Runs one case in a child, halving the micro-batch when the wasm heap runs out. */
function runChild(rep: Reporter, section: string, shape: Shape, mode: Mode, opts: { steps: number; warmup: number; microBatch: number; threads: number; profile: boolean; backend: string }, micro: Map<string, number>): ChildResult & { microBatch: number } {
  let mb = micro.get(shape.name) ?? opts.microBatch;
  for (;;) {
    const r = spawnTrainCase(shape, mode, { ...opts, microBatch: mb }, 20 * 60_000);
    if (r.outOfMemory && mb > 1) {
      rep.warn(section, `${shape.name}:${mode} ran out of wasm memory with micro-batch ${mb}; retrying with ${mb >> 1}`);
      mb >>= 1;
      micro.set(shape.name, mb);
      continue;
    }
    return { ...r, microBatch: mb };
  }
}

function trainSection(a: BenchArgs, rep: Reporter, backend: string, plan: Plan, torchOk: boolean): CaseResult[] {
  const results: CaseResult[] = [];
  const micro = new Map<string, number>();
  const shapes = [SHAPES.tiny, SHAPES.small].filter((x) => !a.shapes || a.shapes.has(x.name));
  for (const shape of shapes) {
    const steps = a.steps ?? (a.quick ? shape.quick.steps : shape.steps);
    const warmup = a.warmup ?? (a.quick ? shape.quick.warmup : shape.warmup);
    const rounds = a.rounds ?? (a.quick || !torchOk ? 1 : shape.rounds);
    const microBatch = Math.min(shape.batch, a.microBatch ?? shape.microBatch);
    const torchSteps = a.quick ? shape.torch.quickSteps : shape.torch.steps;
    const torchWarmup = a.quick ? shape.torch.quickWarmup : shape.torch.warmup;
    const modes = a.quick ? shape.quick.modes : MODES;
    if (modes.length < MODES.length) rep.note('train', `--quick: ${shape.name} runs only ${modes.join(', ')}`);
    for (const mode of modes) {
      const c: CaseResult = { shape, mode, ours: [], torch: [] };
      results.push(c);
      for (let r = 0; r < rounds; r++) {
        const profile = plan.profile && r === 0 && PROFILE_MODES.includes(mode) && !(a.quick && shape.name === 'small' && mode === 'full');
        rep.progress(`train ${shape.name}:${mode} round ${r + 1}/${rounds}: ours (${warmup} warmup + ${steps} steps${profile ? ' + 1 profiled' : ''})`);
        const child = runChild(rep, 'train', shape, mode, { steps, warmup, microBatch, threads: a.threads ?? DEFAULT_THREADS, profile, backend }, micro);
        if (child.train) c.ours.push(child.train);
        if (child.profile) c.profile = child.profile;
        if (child.error) {
          c.error = child.error;
          rep.warn('train', `${shape.name}:${mode}: ${child.error}`);
        }
        if (torchOk) {
          rep.progress(`train ${shape.name}:${mode} round ${r + 1}/${rounds}: torch (${torchWarmup} warmup + ${torchSteps} steps)`);
          const t = runTorchBest(torchTrainArgs(shape, mode, torchSteps, torchWarmup), 600_000, a.torchThreads);
          c.torchCommand = t.command;
          if (t.result) c.torch.push({ ...t.result, tried: t.tried });
          else rep.warn('torch', `${shape.name}:${mode}: ${t.error}`);
        }
      }
      emitCase(rep, c, plan);
    }
  }
  printTrainTables(rep, results, plan, torchOk);
  return results;
}

function emitCase(rep: Reporter, c: CaseResult, plan: Plan): void {
  if (c.ours.length) {
    const first = c.ours[0];
    const allSteps = c.ours.flatMap((o) => o.stepMsAll);
    const stepMs = median(allSteps);
    const rec: TrainRecord = {
      ...first,
      steps: allSteps.length,
      stepMsAll: allSteps,
      stepMsMedian: round(stepMs),
      stepMsMin: round(Math.min(...allSteps)),
      stepMsMax: round(Math.max(...allSteps)),
      tokensPerSecond: round(first.tokensPerStep / (stepMs / 1000)),
      fwdBwdMsMedian: round(median(c.ours.map((o) => o.fwdBwdMsMedian))),
      optMsMedian: round(median(c.ours.map((o) => o.optMsMedian))),
      peakRssMiB: round(median(c.ours.map((o) => o.peakRssMiB))),
      wasmHeapMiB: round(median(c.ours.map((o) => o.wasmHeapMiB ?? NaN))),
      leakedTensors: max(c.ours.map((o) => o.leakedTensors)),
      loadavg: round(median(c.ours.map((o) => o.loadavg)), 3),
      rounds: c.ours.length,
      roundTokensPerSecond: c.ours.map((o) => o.tokensPerSecond),
    };
    c.ours = [rec, ...c.ours.slice(1)];
    if (plan.train || plan.torch) rep.emit(rec);
    if (rec.leakedTensors !== 0) rep.warn('train', `${c.shape.name}:${c.mode}: tf.memory().numTensors changed by ${rec.leakedTensors} over the timed steps (${rec.numTensorsBefore} → ${rec.numTensorsAfter})`);
  }
  if (c.torch.length) {
    const t = c.torch;
    const tps = median(t.map((x) => x.tokens_per_s as number));
    const rec = {
      name: 'torch', kind: 'train', shape: c.shape.name, mode: c.mode, rounds: t.length, steps: t[0].steps, warmup: t[0].warmup,
      tokensPerSecond: round(tps), stepMsMedian: round(median(t.map((x) => x.step_ms_median as number))),
      roundTokensPerSecond: t.map((x) => round(x.tokens_per_s as number)),
      fwdMsMedian: round(median(t.map((x) => x.fwd_ms_median as number))), bwdMsMedian: round(median(t.map((x) => x.bwd_ms_median as number))), optMsMedian: round(median(t.map((x) => x.opt_ms_median as number))),
      achievedGflops: round(median(t.map((x) => x.achieved_gflops as number))), peakRssMiB: round(median(t.map((x) => x.peak_rss_mib as number))),
      trainableParams: t[0].trainable_params, totalParams: t[0].total_params, lossFirst: t[0].loss_first, lossLast: t[0].loss_last,
      otherCores: round(median(t.map((x) => x.other_cores as number)), 3), loadavg: round(median(t.map((x) => x.loadavg_start as number)), 3), cpuUtil: round(median(t.map((x) => x.cpu_util as number)), 3),
      torch: t[0].torch, blas: t[0].blas, threads: t.map((x) => x.threads), tried: t.map((x) => x.tried), command: c.torchCommand,
    };
    rep.emit(rec);
    if (c.ours.length) {
      const ours = c.ours[0].tokensPerSecond;
      rep.emit({
        name: 'ratio', kind: 'train', shape: c.shape.name, mode: c.mode, oursTokensPerSecond: ours, torchTokensPerSecond: rec.tokensPerSecond,
        ratio: round(ours / tps, 3), rounds: Math.min(c.ours[0].rounds ?? 1, t.length), note: c.mode === 'lora' ? MODE_NOTES.lora : undefined,
      });
    }
  }
}

function printTrainTables(rep: Reporter, results: CaseResult[], plan: Plan, torchOk: boolean): void {
  rep.print('\n== Training step (AdamW lr 3e-4; random tokens; each case in a fresh process; medians over all timed steps of all rounds) ==');
  rep.print(table(
    ['shape', 'mode', 'trainable/total', 'micro', 'threads', 'steps', 'step ms', 'tok/s', 'fwd+bwd ms', 'opt ms', 'loss first→last', 'peak RSS MiB', 'wasm heap MiB', 'tensors', 'load'],
    results.filter((c) => c.ours.length).map((c) => {
      const o = c.ours[0];
      return [o.shape, o.mode, `${fmt(o.trainableParams)}/${fmt(o.totalParams)}`, `${o.microBatch}×${Math.ceil(o.batch / (o.microBatch * (o.threads ?? 1)))}`, o.threads ?? 1, `${o.steps}${(o.rounds ?? 1) > 1 ? ` (${o.rounds} rounds)` : ''}`, o.stepMsMedian, o.tokensPerSecond, o.fwdBwdMsMedian, o.optMsMedian, `${o.lossFirst.toFixed(3)}→${o.lossLast.toFixed(3)}`, o.peakRssMiB, o.wasmHeapMiB ?? '–', `${o.numTensorsBefore}→${o.numTensorsAfter}${o.leakedTensors ? ' LEAK' : ''}`, o.loadavg];
    }),
  ));
  for (const c of results) if (c.error && !c.ours.length) rep.print(`  ${c.shape.name}:${c.mode} failed: ${c.error}`);
  rep.print('modes: ' + MODES.map((m) => `${m}: ${MODE_NOTES[m]}`).join('; '));
  const smallMicro = results.find((c) => c.shape.name === 'small')?.ours[0]?.microBatch;
  if (smallMicro && smallMicro < SHAPES.small.batch) rep.print(`micro: rows per pass × passes per thread. small runs at most ${smallMicro} rows in one pass, gradients summed: 8 rows in one pass exceed a wasm backend's 4 GiB heap (the process aborts); with threads, each thread has its own heap.`);
  if (!torchOk) return;
  rep.print('\n== Side by side with PyTorch (torch_gpt_bench.py, OpenBLAS-OpenMP, tuned glibc; ours and torch alternate per round; medians) ==');
  rep.print(table(
    ['shape', 'mode', 'rounds', 'ours tok/s', 'torch tok/s', 'ours/torch', 'torch threads', 'torch 2 thr tok/s', 'ours step ms', 'torch step ms', 'ours peak MiB', 'torch peak MiB', 'torch GFLOP/s', 'torch other cores', 'load ours/torch'],
    results.filter((c) => c.torch.length && c.ours.length).map((c) => {
      const o = c.ours[0];
      const t = c.torch;
      const tps = median(t.map((x) => x.tokens_per_s as number));
      const two = t.map((x) => (x.tried as { threads: number; tokensPerSecond: number }[] | undefined)?.find((y) => y.threads === 2)?.tokensPerSecond ?? NaN);
      return [c.shape.name, c.mode, `${o.rounds}/${t.length}`, o.tokensPerSecond, tps, `${(o.tokensPerSecond / tps * 100).toFixed(2)} %`, t.map((x) => x.threads).join(','), median(two), o.stepMsMedian, median(t.map((x) => x.step_ms_median as number)), o.peakRssMiB, median(t.map((x) => x.peak_rss_mib as number)), median(t.map((x) => x.achieved_gflops as number)), median(t.map((x) => x.other_cores as number)), `${fmt(o.loadavg)}/${fmt(median(t.map((x) => x.loadavg_start as number)))}`];
    }),
  ));
  rep.print(`lora: ${MODE_NOTES.lora}; torch's trainable counts differ accordingly.`);
  const busy = results.flatMap((c) => c.torch.map((x) => x.other_cores as number)).filter((x) => x > 0.5);
  if (busy.length) rep.warn('torch', `other processes used up to ${fmt(Math.max(...busy))} of the 2 cores during ${busy.length} torch run(s): the machine was busy, so every figure above is low and the ratios are unreliable (unless --torch-threads pins it, torch also ran with --threads 1 and the faster run was kept); rerun on an idle machine`);
  const cmd = results.find((c) => c.torchCommand)?.torchCommand;
  if (cmd) rep.print(`torch command (per case): ${cmd}`);
}

// ----------------------------------------------------------------------------------- profile

function profileSection(a: BenchArgs, rep: Reporter, backend: string, fromTrain: CaseResult[] | undefined): void {
  const profiles: ProfileRecord[] = [];
  const micro = new Map<string, number>();
  for (const shape of [SHAPES.tiny, SHAPES.small].filter((x) => !a.shapes || a.shapes.has(x.name))) {
    for (const mode of PROFILE_MODES) {
      let p = fromTrain?.find((c) => c.shape === shape && c.mode === mode)?.profile;
      if (!p && !(a.quick && shape.name === 'small' && mode === 'full')) {
        rep.progress(`profile ${shape.name}:${mode} (1 warmup + 1 profiled step)`);
        const r = runChild(rep, 'profile', shape, mode, { steps: 0, warmup: 1, microBatch: Math.min(shape.batch, a.microBatch ?? shape.microBatch), threads: 1, profile: true, backend }, micro);
        if (r.error) rep.warn('profile', `${shape.name}:${mode}: ${r.error}`);
        p = r.profile;
      }
      if (p) {
        profiles.push(p);
        rep.emit(p);
      }
    }
  }
  if (a.quick) rep.note('profile', 'small:full is not profiled with --quick');
  const products = profiles[0]?.blas ? `products on ${profiles[0].blas}` : 'products on the backend\'s own kernels';
  rep.print(`\n== Op breakdown of one training step (kernel wall time from timers wrapped around every kernel; ${products}; "alone": the step's products timed by themselves) ==`);
  rep.print(table(
    ['shape', 'mode', 'step ms', 'in kernels', 'outside', 'matmul ms (%)', 'elementwise ms (%)', 'rest ms (%)', 'kernel calls', 'matmul GFLOP/s: in step, alone', 'matmul fast: calls, GFLOP/s', 'matmul slow (transpose/batched)'],
    profiles.map((p) => [
      p.shape, p.mode, p.stepWallMs, p.kernelMs, p.outsideKernelsMs,
      `${fmt(p.groups.matmul.ms)} (${p.groups.matmul.pct.toFixed(1)} %)`, `${fmt(p.groups.elementwise.ms)} (${p.groups.elementwise.pct.toFixed(1)} %)`, `${fmt(p.groups.rest.ms)} (${p.groups.rest.pct.toFixed(1)} %)`,
      p.kernelCalls, `${fmt(p.matmul.gflops)}, ${fmt(p.matmul.aloneGflops)}`, `${p.matmul.fastCalls}, ${fmt(p.matmul.fastGflops)}`,
      `${p.matmul.slowCalls} (tA ${p.matmul.transposeA}, tB ${p.matmul.transposeB}, batch>1 ${p.matmul.batched})${p.matmul.slowCalls ? `, ${fmt(p.matmul.slowMs)} ms at ${fmt(p.matmul.slowGflops)} GFLOP/s` : ''}`,
    ]),
  ));
  for (const p of profiles) {
    rep.print(`top kernels ${p.shape}:${p.mode}: ` + p.top.map((k) => `${k.kernel} ${fmt(k.ms)} ms ${k.pct.toFixed(1)} % (${k.calls}×)`).join(', '));
  }
  rep.print('tf.profile() on the same step: ' + profiles.map((p) => `${p.shape}:${p.mode} ${p.tfProfileKernels} kernels, kernelTimeMs sum ${fmt(p.tfProfileKernelMs ?? NaN)} ms, peak ${fmt(p.tfProfilePeakMiB)} MiB`).join('; '));
  rep.print('(on wasm tf.profile has no backend timer: its kernelTimeMs is wall time plus a dataSync() of every output, hence larger than the wrapped-kernel time.)');
}

// --------------------------------------------------------------------------------------- main

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  if (a.help) {
    console.log(USAGE);
    return;
  }
  const rep = new Reporter(a.json, a.case ? undefined : a.jsonOut);
  // The children (one per case) and their gradient workers inherit it.
  if (!a.blas) process.env.ADAPT_LAB_BLAS = 'off';
  const choice = await selectBackend({ backend: a.backend });
  if (a.case?.startsWith('quant:')) {
    const [, shape, ...path] = a.case.split(':');
    rep.emit(await runQuantCase(shape, path.join(':'), a.quick));
    return;
  }
  if (a.case?.startsWith('scale:')) {
    const [, shape, steps, warmup, recompute, ...path] = a.case.split(':');
    // BLAS threads as the trainer sets them: 1, or ADAPT_LAB_BLAS_THREADS.
    setBlasThreads(blasThreadsPerWorker());
    rep.emit(await runScaleCase(shape, path.join(':'), Number(steps), Number(warmup), recompute as 'on' | 'off' | 'auto'));
    return;
  }
  if (a.case) return childMain(a, rep, choice.name);

  const t0 = nowMs();
  const plan: Plan = { generation: a.only.has('generation'), train: a.only.has('train'), torch: a.only.has('torch'), profile: a.only.has('profile') };
  const env = {
    name: 'env', backend: choice.name, label: choice.label, blas: choice.blas, tfBackend: tf.getBackend(), skipped: choice.skipped, versions: choice.versions, cpus: cpus().length, cpuModel: cpus()[0]?.model,
    loadavg: loadavg().map((x) => round(x, 3)), quick: a.quick, sections: [...a.only], argv: process.argv.slice(2).join(' '),
  };
  rep.emit(env);
  rep.print(`Adapt Lab bench — backend ${choice.label} (tfjs ${choice.versions['tfjs-core']}, node ${process.version}), ${env.cpus} CPUs (${env.cpuModel}), load ${env.loadavg.join(' ')}${a.quick ? ', --quick' : ''}`);
  for (const s of choice.skipped) rep.print(`  backend ${s.name} skipped: ${s.reason}`);
  if (!choice.blas.on && (choice.name === 'wasm' || choice.name === 'cpu')) rep.print(`  matrix products on the backend's own kernels: ${choice.blas.reason}`);

  let torchOk = false;
  if (plan.torch) {
    const t = checkTorch();
    torchOk = t.ok;
    if (t.ok) rep.print(`PyTorch ${t.version} found; reference script ${TORCH_SCRIPT}`);
    else rep.note('torch', `side-by-side skipped: ${t.reason}`);
  }

  if (plan.generation || (plan.torch && torchOk)) {
    // One torch --infer run by default: without a KV cache it costs ~10 s on an idle machine here
    // and minutes on a busy one; its figure is already a median over the generated tokens.
    await generationSection(a, rep, choice.name, plan.torch && torchOk, a.rounds ?? 1);
  }
  let trained: CaseResult[] | undefined;
  if (plan.train || (plan.torch && torchOk)) trained = trainSection(a, rep, choice.name, plan, torchOk);
  if (plan.profile) profileSection(a, rep, choice.name, trained);
  // The other parts of the product: evaluation throughput, activation, the Monitor under a
  // 20-events/s stream, first-answer latency of the inference worker (cold and warm).
  if (a.only.has('eval')) await benchEval({ json: a.json, quick: a.quick });
  if (a.only.has('extension')) await benchExtension({ json: a.json });
  if (a.only.has('monitor')) await benchMonitor({ json: a.json });
  if (a.only.has('prompts')) await benchPrompts({ json: a.json });
  if (a.only.has('quant')) quantSection(rep, { quick: a.quick, backend: choice.name, timeoutMs: 30 * 60_000 });
  if (a.only.has('catalogue')) await benchCatalogue({ json: a.json });
  if (a.only.has('scale')) {
    const t = a.torch ? checkTorch(TORCH_SCALE_SCRIPT) : { ok: false, reason: '--no-torch' };
    if (!t.ok) rep.note('scale', `torch side skipped: ${t.reason}`);
    scaleSection(rep, { quick: a.quick, backend: choice.name, timeoutMs: 40 * 60_000, torch: t.ok, shapes: a.shapes, steps: a.steps, recompute: a.recompute });
  }

  if (a.only.has('torchrun')) await torchrunSection(rep, { quick: a.quick, backend: a.backend, steps: a.steps, warmup: a.warmup, rounds: a.rounds });

  const heap = wasmHeapBytes();
  rep.emit({ name: 'done', seconds: round((nowMs() - t0) / 1000), parentPeakRssMiB: round(process.resourceUsage().maxRSS / 1024), parentWasmHeapMiB: heap !== undefined ? round(mib(heap)) : null });
  rep.print(`\ndone in ${fmt((nowMs() - t0) / 1000)} s`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
