// A training run from a resolved config to its end event: load, adapt, train with periodic
// evaluation and checkpoints, stop / pause / resume, and faults recorded rather than lost.
import os from 'node:os';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { tf } from '../tf';
import { selectBackend } from '../backend';
import { blasThreadsPerWorker } from '../native';
import { loadModel } from '../model/loader';
import { Rng } from '../random';
import { RunConfig } from '../../protocol/config';
import { EndEvent, MemoryInfo, TrainerEvent } from '../../protocol/events';
import { applyAdapt, loadTrainable, trainableTensors } from './methods';
import { AdamW } from './optimizer';
import { learningRate } from './schedule';
import { chatFormatFor } from '../chat/encode';
import { loadDataset, makeBatches, packBatch, splitValidation, Example, PackedBatch } from './data';
import { accumulateGrads, evaluateLoss } from './step';
import { mixReplay } from './replay';
import { DEFAULT_DATA } from '../core/run-config';
import { GradientPool, startGradientPool } from './parallel';
import { TrainerControl } from './control';
import { estimateTrainingMemory, formatBytes, WASM_HEAP_LIMIT } from '../core/memory';
import { createRun, openRun, RunHandle } from '../core/runs/store';
import { modelOrigin } from '../core/catalogue';
import { saveCheckpoint, cleanCheckpoints, LoadedCheckpoint } from '../core/runs/checkpoint';
import { acquireRunLock, RunLock } from '../core/runs/lock';
import { newTrainerIdentity, releaseIdentity } from '../core/runs/process';
import { openResume, checkpointDue, threadsFor } from './reliability';
import { evaluateRunEnd } from '../eval/report';

export interface TrainOptions {
  /** Resume this run folder from its latest checkpoint (the config comes from its run.json). */
  resumeDir?: string;
  control?: TrainerControl;
  emit?: (e: TrainerEvent) => void;
  who?: string;
  /** The gradient pool's worker script (dist/grad-worker.js); without it training.threads is 1. */
  gradWorker?: string;
}

const now = () => new Date().toISOString();

export function memoryInfo(): MemoryInfo {
  const mu = process.memoryUsage();
  const tm = tf.memory();
  return { rssMiB: mu.rss / 2 ** 20, heapMiB: mu.heapUsed / 2 ** 20, numTensors: tm.numTensors, tensorMiB: tm.numBytes / 2 ** 20 };
}

function isOutOfMemory(e: unknown): boolean {
  const m = e instanceof Error ? `${e.name} ${e.message}` : String(e);
  return /out of memory|\bOOM\b|allocation failed|Cannot allocate|Array buffer allocation|memory access out of bounds/i.test(m);
}

function padId(tok: { pad?: number; eos?: number }): number {
  return tok.pad ?? tok.eos ?? 0;
}

export async function train(configIn: RunConfig, opts: TrainOptions = {}): Promise<EndEvent> {
  const control = opts.control ?? new TrainerControl();
  let run: RunHandle | undefined;
  let step = 0;
  let lastCheckpoint: string | undefined;
  let pool: GradientPool | undefined;
  const pending: TrainerEvent[] = [];
  const emit = (e: TrainerEvent) => {
    if (run) run.appendEvent(e);
    else pending.push(e);
    opts.emit?.(e);
  };
  const log = (message: string, level: 'info' | 'warn' | 'error' = 'info') => emit({ type: 'log', time: now(), level, message });

  let config = configIn;
  // One trainer per run: the lock is taken before anything in the run is touched.
  const identity = newTrainerIdentity();
  let lock: RunLock | undefined;
  let resumeFrom: LoadedCheckpoint | undefined;
  const resumeNotes: string[] = [];
  if (opts.resumeDir) {
    const r = openResume(opts.resumeDir, identity);
    ({ run, lock } = r);
    resumeFrom = r.checkpoint;
    resumeNotes.push(...r.notes);
    if (opts.who) run.who = opts.who;
    config = run.record.config;
    lastCheckpoint = resumeFrom.dir;
  }
  const t = config.training;
  const release = () => {
    lock?.release();
    releaseIdentity(identity);
  };

  try {
    let backend = await selectBackend({ backend: config.backend, blas: config.blas !== false });
    const lm = await loadModel(config.model);
    const model = lm.model;
    const tokenizer = lm.tokenizer;
    if (!tokenizer) throw new Error(`${config.model}: the model has no tokenizer`);
    const chat = chatFormatFor(lm.chatTemplate, tokenizer);
    const trainSet = loadDataset(config.data.train, tokenizer, { maxLength: t.maxLength, chat });
    let trainExamples: Example[] = trainSet.examples;
    let valExamples: Example[] = [];
    let valStats = undefined;
    if (config.data.validation) {
      const v = loadDataset(config.data.validation, tokenizer, { maxLength: t.maxLength, chat });
      valExamples = v.examples;
      valStats = v.stats;
    } else if (config.data.validationSplit > 0 && trainExamples.length > 1) {
      const s = splitValidation(trainExamples, config.data.validationSplit, new Rng(config.seed + 17));
      trainExamples = s.train;
      valExamples = s.validation;
    }
    // Replay text joins the training mix only: validation stays the task's own data.
    if (config.data.replay) {
      const replay = loadDataset(config.data.replay, tokenizer, { maxLength: t.maxLength });
      trainExamples = mixReplay(trainExamples, replay.examples, config.data.replayFraction ?? DEFAULT_DATA.replayFraction, new Rng(config.seed + 29));
    }

    const adapted = applyAdapt(model, config.adapt, { rng: new Rng(config.seed), layerLrDecay: t.layerLrDecay, l2sp: t.l2sp > 0 });
    const native = backend.name === 'tensorflow' || backend.name === 'tensorflow-gpu';
    const threads = threadsFor(t.threads, { native, gradWorker: !!opts.gradWorker, log });
    const mem = estimateTrainingMemory(model.config, { batchSize: t.batchSize, maxLength: Math.min(t.maxLength, Math.max(...trainExamples.map((e) => e.ids.length))), totalParams: adapted.total, trainableParams: adapted.trainable, firstTrainableLayer: adapted.firstTrainableLayer, threads, weightBytes: model.weightBytes() });
    if (backend.name === 'wasm' && mem.heapBytes > 0.9 * WASM_HEAP_LIMIT) {
      throw new Error(`out of memory: this run needs about ${formatBytes(mem.heapBytes)} in one thread (activations ${formatBytes(mem.activations)}), more than the wasm backend's 4 GiB heap; lower training.batchSize (raise gradAccumulation to keep the effective batch) or training.maxLength, or raise training.threads`);
    }
    const optimizer = new AdamW(adapted.params);
    const pad = padId(tokenizer);
    // The cores are shared between the training threads and, inside each, BLAS's own threads.
    const blasThreads = blasThreadsPerWorker();
    if (backend.blas.on) backend = await selectBackend({ backend: config.backend, blas: true, blasThreads });
    log(`backend ${backend.label}${backend.blas.on || native ? '' : ` (matrix products on the backend's own kernels: ${backend.blas.reason})`}`);
    if (threads > 1) pool = await startGradientPool({ threads, script: opts.gradWorker!, backend: backend.name, blas: backend.blas.on, blasThreads, model, params: adapted.params, adapt: config.adapt, seed: config.seed, layerLrDecay: t.layerLrDecay });
    else if (t.threads > 1 && native) log(`training.threads ${t.threads} is ignored: the ${backend.name} backend uses every core itself`);
    else if (t.threads > 1) log(`training.threads ${t.threads}: this build has no gradient worker script; training on one thread`, 'warn');

    const microPerEpoch = Math.ceil(trainExamples.length / t.batchSize);
    const stepsPerEpoch = Math.max(1, Math.ceil(microPerEpoch / t.gradAccumulation));
    // maxSteps, when set, overrides epochs (as in Hugging Face's Trainer): the data cycles.
    const totalSteps = t.maxSteps ?? t.epochs * stepsPerEpoch;
    const epochBatches = new Map<number, Example[][]>();
    const batchesOf = (epoch: number) => {
      let b = epochBatches.get(epoch);
      if (!b) {
        epochBatches.clear();
        b = makeBatches(trainExamples, t.batchSize, new Rng(config.seed * 7919 + epoch), { shuffle: true });
        epochBatches.set(epoch, b);
      }
      return b;
    };
    const valBatches: PackedBatch[] = makeBatches(valExamples, t.batchSize, new Rng(0), { shuffle: false }).map((b) => packBatch(b, pad));

    let best = Infinity;
    let badEvals = 0;
    let lastCheckpointAt = performance.now();
    let resumedFrom: number | undefined;
    if (!run) {
      run = createRun(config.runsDir, { name: config.name, config, method: adapted.method, who: opts.who, trainer: identity, base: { ...(await modelOrigin(config.model)), path: config.model }, files: [...lm.files, config.data.train, ...(config.data.validation ? [config.data.validation] : []), ...(config.data.replay ? [config.data.replay] : [])] });
      lock = acquireRunLock(run.dir, identity, `"${run.record.name}" (${run.dir})`);
      for (const e of pending.splice(0)) run.appendEvent(e);
    } else {
      const ck = resumeFrom!;
      for (const n of resumeNotes) log(n, 'warn');
      loadTrainable(adapted.params, ck.tensors);
      optimizer.load(ck.optimizer, Number(ck.meta.optimizerT ?? ck.step));
      step = ck.step;
      best = typeof ck.meta.bestValLoss === 'number' ? ck.meta.bestValLoss : Infinity;
      badEvals = Number(ck.meta.badEvals ?? 0);
      resumedFrom = step;
      run.audit('resumed', `from step ${step}`, opts.who);
    }
    run.update({ status: 'running', pid: identity.pid, trainer: identity, startedAt: now(), backend, ...(trainSet.chat ? { chatTemplate: trainSet.chat } : {}), params: { total: adapted.total, trainable: adapted.trainable, percent: (100 * adapted.trainable) / adapted.total }, versions: { ...run.record.versions, ...backend.versions, os: `${os.platform()} ${os.release()}` } });

    emit({
      type: 'started', time: now(), runId: run.record.id, runDir: run.dir, config, backend,
      params: { total: adapted.total, trainable: adapted.trainable, percent: (100 * adapted.trainable) / adapted.total },
      train: trainSet.stats, validation: valStats, totalSteps, stepsPerEpoch, resumedFrom,
    });
    log(`estimated peak memory ${formatBytes(mem.bytes)}${mem.threads > 1 ? ` over ${mem.threads} threads (${formatBytes(mem.heapBytes)} in the largest)` : ''} (activations ${formatBytes(mem.activations)}${mem.threads > 1 ? ' a thread' : ''}, weights ${formatBytes(mem.weights)}, optimizer ${formatBytes(mem.optimizer)})`);
    if (pool) log(`training on ${pool.threads} threads: the rows of each step are split across them, one ${backend.name} backend each`);
    log(`trainable ${adapted.trainable.toLocaleString('en-US')} of ${adapted.total.toLocaleString('en-US')} parameters (${((100 * adapted.trainable) / adapted.total).toFixed(2)}%): ${adapted.method}`);
    for (const w of trainSet.warnings ?? []) log(w, 'warn');
    if (trainSet.chat) log(trainSet.chat.source === 'model' ? "conversations are rendered with the model's chat template" : 'conversations are rendered with the default chat template (<|user|>/<|assistant|> markers): the model has none');
    if (valExamples.length === 0) log('no validation data: early stopping and best checkpoints are off', 'warn');

    const checkpoint = (bestFlag: boolean) => {
      const dir = saveCheckpoint(run!.dir, step, {
        tensors: trainableTensors(adapted.params),
        optimizer: optimizer.state(),
        meta: { step, optimizerT: optimizer.t, bestValLoss: Number.isFinite(best) ? best : null, badEvals, seed: config.seed },
      }, { best: bestFlag });
      // A best checkpoint is also this step's periodic one (saveCheckpoint writes step-N for both).
      lastCheckpoint = dir;
      lastCheckpointAt = performance.now();
      emit({ type: 'checkpoint', time: now(), step, path: dir, best: bestFlag });
    };
    const evaluate = (): boolean => {
      if (valBatches.length === 0) return false;
      const m = evaluateLoss(model, valBatches);
      // "Best" is always of a trained model: the untrained model at step 0 is the curve's
      // starting point, never the best loss, the best checkpoint or early stopping's reference.
      const improved = step > 0 && m.valLoss < best - (t.earlyStopping?.minDelta ?? 0);
      if (improved) {
        best = m.valLoss;
        badEvals = 0;
      } else if (step > 0) badEvals++;
      emit({ type: 'eval', time: now(), step, valLoss: m.valLoss, perplexity: m.perplexity, tokenAccuracy: m.tokenAccuracy, best: improved });
      if (improved) checkpoint(true);
      return !!t.earlyStopping && badEvals >= t.earlyStopping.patience;
    };

    // evalEvery 0 with validation data: one evaluation, of the trained model, at the end.
    if (step === 0 && t.evalEvery > 0) evaluate(); // the starting point of the validation curve
    while (step < totalSteps) {
      // Let the event loop run between steps: IPC commands and signals arrive through it.
      await new Promise((resolve) => setImmediate(resolve));
      if (control.paused) {
        const pausedAt = performance.now();
        emit({ type: 'paused', time: now(), step });
        await control.waitWhilePaused();
        lastCheckpointAt += performance.now() - pausedAt; // the time bound counts training time only
        if (!control.stopRequested) emit({ type: 'resumed', time: now(), step });
      }
      if (control.stopRequested) break;
      const epoch = Math.floor(step / stepsPerEpoch);
      const within = step % stepsPerEpoch;
      const batches = batchesOf(epoch);
      const micro = batches.slice(within * t.gradAccumulation, (within + 1) * t.gradAccumulation).map((b) => packBatch(b, pad));
      const labelTotal = micro.reduce((n, b) => n + b.weights.reduce((a, w) => a + w, 0), 0);
      const t0 = performance.now();
      const stepOptions = {
        firstTrainableLayer: adapted.firstTrainableLayer, dropout: t.dropout, embeddingNoise: t.embeddingNoise,
        seedOf: (i: number) => config.seed * 100003 + (step + 1) * 101 + i,
      };
      const { loss, grads } = pool
        ? await pool.grads(micro, Math.max(1, labelTotal), stepOptions)
        : accumulateGrads(model, adapted.params, micro, Math.max(1, labelTotal), stepOptions);
      if (!Number.isFinite(loss)) {
        tf.dispose([...grads.values()]);
        throw Object.assign(new Error(`loss became ${loss} at step ${step + 1}`), { nonFinite: true });
      }
      const lr = learningRate(step + 1, totalSteps, t.learningRate, t.warmupSteps, t.schedule);
      const gradNorm = optimizer.step(grads, lr, { weightDecay: t.weightDecay, l2sp: t.l2sp, gradClip: t.gradClip });
      tf.dispose([...grads.values()]);
      step++;
      const tokens = micro.reduce((n, b) => n + b.tokens, 0);
      const seconds = (performance.now() - t0) / 1000;
      emit({ type: 'step', time: now(), step, epoch: step / stepsPerEpoch, loss, lr, gradNorm, tokensPerSecond: tokens / seconds, memory: memoryInfo() });
      let stopEarly = false;
      if (t.evalEvery > 0 ? step % t.evalEvery === 0 || step === totalSteps : step === totalSteps) stopEarly = evaluate();
      if (checkpointDue(step, t, (performance.now() - lastCheckpointAt) / 1000) && !lastCheckpoint?.endsWith(`step-${step}`)) checkpoint(false);
      if (stopEarly) {
        if (lastCheckpoint === undefined || !lastCheckpoint.endsWith(`step-${step}`)) checkpoint(false);
        return finish({ type: 'finished', time: now(), step, reason: 'early-stopping', bestValLoss: Number.isFinite(best) ? best : undefined });
      }
    }
    if (!lastCheckpoint?.endsWith(`step-${step}`)) checkpoint(false);
    if (control.stopRequested) return finish({ type: 'stopped', time: now(), step });
    return finish({ type: 'finished', time: now(), step, reason: t.maxSteps ? 'max-steps' : 'epochs', bestValLoss: Number.isFinite(best) ? best : undefined });

    async function finish(e: EndEvent): Promise<EndEvent> {
      await pool?.dispose();
      optimizer.dispose();
      model.dispose();
      // The end-of-run report comes before the end event, so a reader of the stream that
      // stops at the end event has it.
      if (e.type === 'finished' && config.data.prompts) {
        try {
          log('evaluating base vs adapted on the prompt cases');
          const { event } = await evaluateRunEnd({ runDir: run!.dir, prompts: config.data.prompts, probe: config.data.probe, backend: config.backend });
          emit(event);
          log(`evaluation: ${event.verdict}`);
        } catch (err) {
          log(`end-of-run evaluation failed: ${err instanceof Error ? err.message : String(err)}`, 'warn');
        }
      }
      // The end's audit line carries the SHA-256 of what the run wrote last (the checkpoint,
      // the report); written before the end event so that event's own audit is not repeated.
      const written = [lastCheckpoint, join(run!.dir, 'eval.json')].filter((p): p is string => !!p && existsSync(p));
      run!.audit(e.type === 'stopped' ? 'stopped' : 'finished', e.type === 'finished' ? e.reason : `step ${e.step}`, opts.who, written);
      emit(e);
      release();
      return e;
    }
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    const reason = isOutOfMemory(e)
      ? `out of memory at step ${step + 1} (${msg.split('\n')[0]}): lower training.batchSize or training.maxLength and raise gradAccumulation`
      : msg.split('\n')[0];
    await pool?.dispose().catch(() => undefined);
    const ev: EndEvent = { type: 'failed', time: now(), step, reason, lastCheckpoint };
    if (!run) {
      release();
      throw e; // nothing was started: a plain error (bad config, data, model)
    }
    // A failed save (a full disk) must not leave temp folders that make every later resume fail.
    try {
      cleanCheckpoints(run.dir);
    } catch {
      /* best effort: the next save cleans again */
    }
    try {
      emit(ev);
      run.audit('failed', reason, opts.who);
    } finally {
      release(); // even when the disk is too full to record the failure (the next reader does)
    }
    return ev;
  }
}
