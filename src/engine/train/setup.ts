// Everything a training run needs before its first step: the run opened for resume (or made),
// the model, the data, the adapted parameters, the optimizer and the gradient threads. What is
// made is recorded in `Held` as soon as it exists, so a failure part-way releases exactly that.
import os from 'node:os';
import { CausalLM } from '../model/model';
import { loadModel } from '../model/loader';
import type { Tokenizer } from '../tokenizers';
import { selectBackend, BackendChoice } from '../backend';
import { blasThreadsPerWorker, productsOnBlas } from '../native';
import { Rng } from '../random';
import { RunConfig, TrainingConfig } from '../../protocol/config';
import { AdaptResult, applyAdapt, loadTrainable } from '../adapt/methods';
import { AdamW } from './optimizer';
import { chatFormatFor } from '../chat/encode';
import type { ChatFormat } from '../chat/template';
import { makeBatches, packBatch, Example, PackedBatch } from '../data/dataset';
import { BatchPlan, loadRunData, RunData } from './run-data';
import { usesEveryCore } from '../core/run-config';
import { GradientPool, startGradientPool } from './parallel';
import { formatBytes, MemoryEstimate, planMemory, WASM_HEAP_LIMIT } from '../core/memory';
import { createRun, RunHandle } from '../core/runs/store';
import { modelOrigin } from '../core/catalogue';
import { LoadedCheckpoint } from '../core/runs/checkpoint';
import { acquireRunLock, RunLock } from '../core/runs/lock';
import { TrainerIdentity } from '../core/runs/process';
import { openResume, threadsFor } from './reliability';
import { now, RunEvents } from './run-events';
import { RunMeter } from './meter';
import { CheckpointJudge, scoreFromMeta } from './select';

/** What a run holds and how far it got: filled in as setup goes, read by the failure path. */
export interface Held {
  identity: TrainerIdentity;
  lock?: RunLock;
  run?: RunHandle;
  model?: CausalLM;
  optimizer?: AdamW;
  pool?: GradientPool;
  step: number;
  /** Best validation loss of a trained model so far (Infinity before the first). */
  best: number;
  /** Evaluations since the best one, for early stopping. */
  badEvals: number;
  lastCheckpoint?: string;
  /** performance.now() of the last checkpoint, or of the start: the time bound counts from it. */
  lastCheckpointAt: number;
}

/** A run ready for its first step. */
export interface Session extends Held {
  config: RunConfig;
  t: TrainingConfig;
  events: RunEvents;
  who?: string;
  run: RunHandle;
  model: CausalLM;
  optimizer: AdamW;
  adapted: AdaptResult;
  pad: number;
  /** Trained blocks whose activations are recomputed in the backward pass (the heap would not hold them all). */
  recompute: number;
  /** Which training examples each step's micro-batches hold (the same plan a torchrun launch writes). */
  batches: BatchPlan;
  trainExamples: Example[];
  valBatches: PackedBatch[];
  totalSteps: number;
  stepsPerEpoch: number;
  /** Tokens seen, training time and CPU for the step events. */
  meter: RunMeter;
  /** With training.selectCheckpoint "eval": judges each kept checkpoint. */
  judge?: CheckpointJudge;
}

export interface SetupOptions {
  resumeDir?: string;
  who?: string;
  gradWorker?: string;
}

export function newHeld(identity: TrainerIdentity): Held {
  return { identity, step: 0, best: Infinity, badEvals: 0, lastCheckpointAt: 0 };
}

/**
 * The memory estimate, refusing a wasm run that cannot fit its 4 GiB heap before anything trains.
 * A run whose activations would not fit recomputes those of as few blocks as make it fit, in the backward pass.
 */
function checkMemory(model: CausalLM, t: TrainingConfig, adapted: AdaptResult, train: Example[], threads: number, backend: BackendChoice, events: RunEvents): { mem: MemoryEstimate; recompute: number } {
  const longest = Math.max(...train.map((e) => e.ids.length));
  const inputs = { batchSize: t.batchSize, maxLength: Math.min(t.maxLength, longest), totalParams: adapted.total, trainableParams: adapted.trainable, firstTrainableLayer: adapted.firstTrainableLayer, threads, heapWeightBytes: model.heapWeightBytes(), externalBytes: model.externalBytes(), blas: productsOnBlas() };
  const { mem, recompute, fits, kept } = planMemory(model.config, inputs, backend.name === 'wasm');
  if (recompute && fits) events.log(`recomputing the activations of ${recompute} of the ${model.config.layers - adapted.firstTrainableLayer} trained blocks in the backward pass: one thread needs about ${formatBytes(mem.heapBytes)} of the wasm heap instead of ${formatBytes(kept.heapBytes)} (a step costs one more forward pass of those blocks)`);
  if (fits) return { mem, recompute };
  // Without BLAS the frozen weights are heap tensors too: a BLAS library moves them out.
  const weightsHint = !productsOnBlas() && mem.weights > WASM_HEAP_LIMIT / 4 ? `; the base weights take ${formatBytes(mem.weights)} of it because matrix products are not on BLAS (${backend.blas.reason ?? 'off'}): with a BLAS library (Debian/Ubuntu: apt-get install libopenblas0-openmp) frozen weights stay outside the heap` : '';
  throw new Error(`out of memory: this run needs about ${formatBytes(mem.heapBytes)} in one thread (activations ${formatBytes(mem.activations)} with every block's recomputed), more than the wasm backend's 4 GiB heap; lower training.batchSize (raise gradAccumulation to keep the effective batch) or training.maxLength, or raise training.threads${weightsHint}`);
}

/** A new run folder (locked at once), or the resumed run's trainable state, optimizer and progress from its checkpoint. */
async function openRecord(h: Held, config: RunConfig, lm: { files: string[] }, adapted: AdaptResult, optimizer: AdamW, resume: { checkpoint: LoadedCheckpoint; notes: string[] } | undefined, events: RunEvents, who: string | undefined): Promise<RunHandle> {
  if (!h.run || !resume) {
    const files = [...lm.files, config.data.train, ...(config.data.validation ? [config.data.validation] : []), ...(config.data.replay ? [config.data.replay] : [])];
    const run = createRun(config.runsDir, { name: config.name, config, method: adapted.method, who, trainer: h.identity, base: { ...(await modelOrigin(config.model)), path: config.model }, files });
    h.run = run;
    h.lock = acquireRunLock(run.dir, h.identity, `"${run.record.name}" (${run.dir})`);
    events.attach(run);
    return run;
  }
  const ck = resume.checkpoint;
  for (const n of resume.notes) events.log(n, 'warn');
  loadTrainable(adapted.params, ck.tensors);
  optimizer.load(ck.optimizer, Number(ck.meta.optimizerT ?? ck.step));
  h.step = ck.step;
  h.best = typeof ck.meta.bestValLoss === 'number' ? ck.meta.bestValLoss : Infinity;
  h.badEvals = Number(ck.meta.badEvals ?? 0);
  h.run.audit('resumed', `from step ${h.step}`, who);
  return h.run;
}

/** The started event and what the run's log says before the first step. */
function announce(s: Session, backend: BackendChoice, mem: MemoryEstimate, data: RunData, resumedFrom: number | undefined): void {
  const { adapted, events } = s;
  const params = { total: adapted.total, trainable: adapted.trainable, percent: (100 * adapted.trainable) / adapted.total };
  events.emit({
    type: 'started', time: now(), runId: s.run.record.id, runDir: s.run.dir, config: s.config, backend, params,
    train: data.trainSet.stats, validation: data.validationStats, totalSteps: s.totalSteps, stepsPerEpoch: s.stepsPerEpoch, resumedFrom,
  });
  events.log(`estimated peak memory ${formatBytes(mem.bytes)}${mem.threads > 1 ? ` over ${mem.threads} threads (${formatBytes(mem.heapBytes)} in the largest)` : ''} (activations ${formatBytes(mem.activations)}${mem.threads > 1 ? ' a thread' : ''}, weights ${formatBytes(mem.weights)}, optimizer ${formatBytes(mem.optimizer)})`);
  if (s.pool) events.log(`training on ${s.pool.threads} threads: the rows of each step are split across them, one ${backend.name} backend each`);
  events.log(`trainable ${adapted.trainable.toLocaleString('en-US')} of ${adapted.total.toLocaleString('en-US')} parameters (${params.percent.toFixed(2)}%): ${adapted.method}`);
  for (const w of data.trainSet.warnings ?? []) events.log(w, 'warn');
  const chat = data.trainSet.chat;
  if (chat) events.log(chat.source === 'model' ? "conversations are rendered with the model's chat template" : 'conversations are rendered with the default chat template (<|user|>/<|assistant|> markers): the model has none');
  if (data.validation.length === 0) events.log('no validation data: early stopping and best checkpoints are off', 'warn');
}

/** From a config (or a run folder to resume) to a run ready for its first step. */
export async function setup(configIn: RunConfig, opts: SetupOptions, events: RunEvents, h: Held): Promise<Session> {
  let config = configIn;
  let resume: { checkpoint: LoadedCheckpoint; notes: string[] } | undefined;
  // One trainer per run: the lock is taken before anything in the run is touched.
  if (opts.resumeDir) {
    const r = openResume(opts.resumeDir, h.identity);
    h.run = r.run;
    h.lock = r.lock;
    events.attach(r.run);
    if (opts.who) r.run.who = opts.who;
    config = r.run.record.config;
    h.lastCheckpoint = r.checkpoint.dir;
    resume = r;
  }
  const t = config.training;
  let backend = await selectBackend({ backend: config.backend, blas: config.blas !== false });
  const lm = await loadModel(config.model);
  const model = (h.model = lm.model);
  const tokenizer = lm.tokenizer;
  if (!tokenizer) throw new Error(`${config.model}: the model has no tokenizer`);
  const chat = chatFormatFor(lm.chatTemplate, tokenizer);
  const data = loadRunData(config, tokenizer, chat);

  const adapted = applyAdapt(model, config.adapt, { rng: new Rng(config.seed), layerLrDecay: t.layerLrDecay, l2sp: t.l2sp > 0 });
  const judge = t.selectCheckpoint === 'eval' ? openJudge(config, model, tokenizer, chat, resume?.checkpoint, events) : undefined;
  const threads = threadsFor(t.threads, { backend: backend.name, gradWorker: !!opts.gradWorker, log: (m, level) => events.log(m, level) });
  const { mem, recompute } = checkMemory(model, t, adapted, data.train, threads, backend, events);
  const optimizer = (h.optimizer = new AdamW(adapted.params));
  // The cores are shared between the training threads and, inside each, BLAS's own threads.
  const blasThreads = blasThreadsPerWorker();
  if (backend.blas.on) backend = await selectBackend({ backend: config.backend, blas: true, blasThreads });
  events.log(`backend ${backend.label}${backend.blas.on || usesEveryCore(backend.name) ? '' : ` (matrix products on the backend's own kernels: ${backend.blas.reason})`}`);
  if (threads > 1) h.pool = await startGradientPool({ threads, script: opts.gradWorker!, backend: backend.name, blas: backend.blas.on, blasThreads, model, params: adapted.params, adapt: config.adapt, seed: config.seed, layerLrDecay: t.layerLrDecay });

  const batches = new BatchPlan(data.train.length, t, config.seed);
  const { stepsPerEpoch, totalSteps } = batches;
  const pad = tokenizer.pad ?? tokenizer.eos ?? 0;
  const valBatches = makeBatches(data.validation, t.batchSize, new Rng(0), { shuffle: false }).map((b) => packBatch(b, pad));
  h.lastCheckpointAt = performance.now();

  const run = await openRecord(h, config, lm, adapted, optimizer, resume, events, opts.who);
  const resumedFrom = resume ? h.step : undefined;
  run.update({ status: 'running', pid: h.identity.pid, trainer: h.identity, startedAt: now(), backend, ...(data.trainSet.chat ? { chatTemplate: data.trainSet.chat } : {}), params: { total: adapted.total, trainable: adapted.trainable, percent: (100 * adapted.trainable) / adapted.total }, versions: { ...run.record.versions, ...backend.versions, os: `${os.platform()} ${os.release()}` } });
  const s: Session = Object.assign(h, {
    config, t, events, who: opts.who, run, model, optimizer, adapted, pad, recompute,
    batches, trainExamples: data.train, valBatches, totalSteps, stepsPerEpoch,
    meter: new RunMeter(resume?.checkpoint.meta), judge,
  });
  s.meter.start();
  announce(s, backend, mem, data, resumedFrom);
  return s;
}

/**
 * The judge of checkpoints for selectCheckpoint "eval". A new run measures the base model's
 * probe perplexity now, before any training (the adapted model still equals the base); a
 * resumed run reads it, and the choice so far, from its checkpoint.
 */
function openJudge(config: RunConfig, model: CausalLM, tokenizer: Tokenizer, chat: ChatFormat, resumeFrom: LoadedCheckpoint | undefined, events: RunEvents): CheckpointJudge {
  const o = { prompts: config.data.prompts!, probe: config.data.probe, forgettingCeiling: config.training.forgettingCeiling, chat };
  if (!resumeFrom) return new CheckpointJudge(model, tokenizer, o, CheckpointJudge.baseProbe(model, tokenizer, o.probe));
  const base = resumeFrom.meta.baseProbePerplexity;
  if (o.probe && typeof base !== 'number') events.log(`checkpoint ${resumeFrom.dir} has no base probe perplexity: forgetting is not measured for the rest of this run`, 'warn');
  return new CheckpointJudge(model, tokenizer, o, typeof base === 'number' ? base : undefined, scoreFromMeta(resumeFrom.meta.chosen));
}
