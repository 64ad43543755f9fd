// A training run from a resolved config to its end event: setup (setup.ts), a short loop of
// steps with periodic evaluation and checkpoints, stop / pause / resume, and an end — finished,
// stopped, or failed with the fault recorded and everything the run held released.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { tf } from '../tf';
import { RunConfig } from '../../protocol/config';
import { EndEvent, MemoryInfo, TrainerEvent } from '../../protocol/events';
import { trainableTensors } from '../adapt/methods';
import { learningRate } from './schedule';
import { labelCount, packBatch } from '../data/dataset';
import { accumulateGrads } from './step';
import { evaluateLoss } from '../eval/loss';
import { TrainerControl } from './control';
import { saveCheckpoint, cleanCheckpoints } from '../core/runs/checkpoint';
import { newTrainerIdentity, releaseIdentity } from '../core/runs/process';
import { checkpointDue } from './reliability';
import { evaluateRunEnd } from '../eval/report';
import { Held, newHeld, Session, setup } from './setup';
import { CheckpointJudge, CheckpointScore } from './select';
import { now, RunEvents } from './run-events';

export interface TrainOptions {
  /** Resume this run folder from its latest checkpoint (the config comes from its run.json). */
  resumeDir?: string;
  control?: TrainerControl;
  emit?: (e: TrainerEvent) => void;
  who?: string;
  /** The gradient pool's worker script (dist/grad-worker.js); without it training.threads is 1. */
  gradWorker?: string;
}

function memoryInfo(): MemoryInfo {
  const mu = process.memoryUsage();
  const tm = tf.memory();
  return { rssMiB: mu.rss / 2 ** 20, heapMiB: mu.heapUsed / 2 ** 20, numTensors: tm.numTensors, tensorMiB: tm.numBytes / 2 ** 20 };
}

export async function train(config: RunConfig, opts: TrainOptions = {}): Promise<EndEvent> {
  const control = opts.control ?? new TrainerControl();
  const events = new RunEvents(opts.emit);
  const held = newHeld(newTrainerIdentity());
  try {
    const s = await setup(config, opts, events, held);
    // evalEvery 0 with validation data: one evaluation, of the trained model, at the end.
    if (s.step === 0 && s.t.evalEvery > 0) evaluate(s); // the starting point of the validation curve
    while (s.step < s.totalSteps) {
      // Let the event loop run between steps: IPC commands and signals arrive through it.
      await new Promise((resolve) => setImmediate(resolve));
      if (control.paused) await pause(s, control);
      if (control.stopRequested) break;
      await trainStep(s);
      const stopEarly = evaluationDue(s) && evaluate(s);
      if (checkpointDue(s.step, s.t, (performance.now() - s.lastCheckpointAt) / 1000) && !checkpointedNow(s)) checkpoint(s, false);
      if (stopEarly) {
        if (!checkpointedNow(s)) checkpoint(s, false);
        return await finish(s, { type: 'finished', time: now(), step: s.step, reason: 'early-stopping', bestValLoss: bestLoss(s) });
      }
    }
    if (!checkpointedNow(s)) checkpoint(s, false);
    if (control.stopRequested) return await finish(s, { type: 'stopped', time: now(), step: s.step });
    return await finish(s, { type: 'finished', time: now(), step: s.step, reason: s.t.maxSteps ? 'max-steps' : 'epochs', bestValLoss: bestLoss(s) });
  } catch (e) {
    return fail(held, events, e, opts.who);
  }
}

/** One optimizer step over gradAccumulation micro-batches, on this thread or the gradient pool. */
async function trainStep(s: Session): Promise<void> {
  const { t, config } = s;
  const step = s.step;
  const micro = s.batches.micro(step).map((rows) => packBatch(rows.map((i) => s.trainExamples[i]), s.pad));
  const labelTotal = Math.max(1, labelCount(micro));
  const t0 = performance.now();
  const stepOptions = {
    firstTrainableLayer: s.adapted.firstTrainableLayer, dropout: t.dropout, embeddingNoise: t.embeddingNoise, recompute: s.recompute,
    seedOf: (i: number) => config.seed * 100003 + (step + 1) * 101 + i,
  };
  const { loss, grads } = s.pool
    ? await s.pool.grads(micro, labelTotal, stepOptions)
    : accumulateGrads(s.model, s.adapted.params, micro, labelTotal, stepOptions);
  if (!Number.isFinite(loss)) {
    tf.dispose([...grads.values()]);
    throw Object.assign(new Error(`loss became ${loss} at step ${step + 1}`), { nonFinite: true });
  }
  const lr = learningRate(step + 1, s.totalSteps, t.learningRate, t.warmupSteps, t.schedule);
  const gradNorm = s.optimizer.step(grads, lr, { weightDecay: t.weightDecay, l2sp: t.l2sp, gradClip: t.gradClip });
  tf.dispose([...grads.values()]);
  s.step = step + 1;
  const tokens = micro.reduce((n, b) => n + b.tokens, 0);
  const seconds = (performance.now() - t0) / 1000;
  const measured = s.meter.step(tokens, seconds);
  s.events.emit({ type: 'step', time: now(), step: s.step, epoch: s.step / s.stepsPerEpoch, loss, lr, gradNorm, tokensPerSecond: tokens / seconds, memory: memoryInfo(), ...measured });
}

/** Every evalEvery steps and at the last step; with evalEvery 0, at the last step only. */
function evaluationDue(s: Session): boolean {
  return (s.t.evalEvery > 0 && s.step % s.t.evalEvery === 0) || s.step === s.totalSteps;
}

/** Validation loss now, a best checkpoint when it improved; true when early stopping says stop. */
function evaluate(s: Session): boolean {
  if (s.valBatches.length === 0) return false;
  const m = evaluateLoss(s.model, s.valBatches);
  // "Best" is always of a trained model: the untrained model at step 0 is the curve's
  // starting point, never the best loss, the best checkpoint or early stopping's reference.
  const improved = s.step > 0 && m.valLoss < s.best - (s.t.earlyStopping?.minDelta ?? 0);
  if (improved) {
    s.best = m.valLoss;
    s.badEvals = 0;
  } else if (s.step > 0) s.badEvals++;
  s.events.emit({ type: 'eval', time: now(), step: s.step, valLoss: m.valLoss, perplexity: m.perplexity, tokenAccuracy: m.tokenAccuracy, best: improved });
  // Checkpoints chosen by evaluation are judged at the kept checkpoints, not at each better loss.
  if (improved && !s.judge) checkpoint(s, true);
  return !!s.t.earlyStopping && s.badEvals >= s.t.earlyStopping.patience;
}

/** Saves this step's checkpoint; `bestByLoss` makes it best/ unless evaluation chooses (judged first). */
function checkpoint(s: Session, bestByLoss: boolean): void {
  const best = s.judge ? judgeCheckpoint(s, s.judge) : bestByLoss;
  const selection = s.judge ? { baseProbePerplexity: s.judge.basePerplexity ?? null, chosen: s.judge.chosen ?? null } : {};
  const dir = saveCheckpoint(s.run.dir, s.step, {
    tensors: trainableTensors(s.adapted.params),
    optimizer: s.optimizer.state(),
    meta: { step: s.step, optimizerT: s.optimizer.t, bestValLoss: bestLoss(s) ?? null, badEvals: s.badEvals, seed: s.config.seed, ...s.meter.state(), ...selection },
  }, { best });
  // A best checkpoint is also this step's periodic one (saveCheckpoint writes step-N for both).
  s.lastCheckpoint = dir;
  s.lastCheckpointAt = performance.now();
  s.events.emit({ type: 'checkpoint', time: now(), step: s.step, path: dir, best });
}

/** The prompt cases and the probe on the model as it is now; true when this checkpoint is the new choice. */
function judgeCheckpoint(s: Session, judge: CheckpointJudge): boolean {
  const { score, chosen } = judge.judge(s.step);
  s.events.emit({
    type: 'checkpointEval', time: now(), step: s.step, accuracy: score.accuracy, weightedError: score.weightedError,
    ...(score.forgettingPercent !== undefined ? { forgettingPercent: score.forgettingPercent } : {}), overCeiling: score.overCeiling, chosen,
  });
  return chosen;
}

function describeScore(c: CheckpointScore): string {
  const f = c.forgettingPercent;
  return `accuracy ${(100 * c.accuracy).toFixed(1)}%, weighted error ${(100 * c.weightedError).toFixed(1)}%${f !== undefined ? `, forgetting ${f >= 0 ? '+' : ''}${f.toFixed(1)}% probe perplexity${c.overCeiling ? ' (over the ceiling)' : ''}` : ''}`;
}

function checkpointedNow(s: Session): boolean {
  return !!s.lastCheckpoint?.endsWith(`step-${s.step}`);
}

function bestLoss(s: Session): number | undefined {
  return Number.isFinite(s.best) ? s.best : undefined;
}

async function pause(s: Session, control: TrainerControl): Promise<void> {
  const pausedAt = performance.now();
  s.events.emit({ type: 'paused', time: now(), step: s.step });
  await control.waitWhilePaused();
  s.lastCheckpointAt += performance.now() - pausedAt; // the time bound counts training time only
  s.meter.paused(performance.now() - pausedAt);
  if (!control.stopRequested) s.events.emit({ type: 'resumed', time: now(), step: s.step });
}

/** Disposes the gradient pool, the optimizer and the model, whichever exist (once). */
async function releaseCompute(h: Held): Promise<void> {
  const { pool, optimizer, model } = h;
  h.pool = undefined;
  h.optimizer = undefined;
  h.model = undefined;
  try {
    await pool?.dispose();
  } finally {
    optimizer?.dispose();
    model?.dispose();
  }
}

function releaseRun(h: Held): void {
  h.lock?.release();
  h.lock = undefined;
  releaseIdentity(h.identity);
}

async function finish(s: Session, e: EndEvent): Promise<EndEvent> {
  await releaseCompute(s);
  const c = s.judge?.chosen;
  if (c) s.events.log(`the run's result (best/) is the checkpoint at step ${c.step}, chosen by evaluation: ${describeScore(c)}`);
  // The end-of-run report comes before the end event, so a reader of the stream that
  // stops at the end event has it.
  if (e.type === 'finished' && s.config.data.prompts) {
    try {
      s.events.log('evaluating base vs adapted on the prompt cases');
      const { event } = await evaluateRunEnd({ runDir: s.run.dir, prompts: s.config.data.prompts, probe: s.config.data.probe, backend: s.config.backend });
      s.events.emit(event);
      s.events.log(`evaluation: ${event.verdict}`);
    } catch (err) {
      s.events.log(`end-of-run evaluation failed: ${err instanceof Error ? err.message : String(err)}`, 'warn');
    }
  }
  // The end's audit line carries the SHA-256 of what the run wrote last (the checkpoint,
  // the report); written before the end event so that event's own audit is not repeated.
  const written = [s.lastCheckpoint, join(s.run.dir, 'eval.json')].filter((p): p is string => !!p && existsSync(p));
  s.run.audit(e.type === 'stopped' ? 'stopped' : 'finished', e.type === 'finished' ? e.reason : `step ${e.step}`, s.who, written);
  s.events.emit(e);
  releaseRun(s);
  return e;
}

function isOutOfMemory(e: unknown): boolean {
  const m = e instanceof Error ? `${e.name} ${e.message}` : String(e);
  return /out of memory|\bOOM\b|allocation failed|Cannot allocate|Array buffer allocation|memory access out of bounds/i.test(m);
}

/**
 * The failure path: whatever the run holds is released; a run that never started throws the
 * plain error (bad config, data, model), a started one ends with a recorded 'failed' event.
 */
async function fail(h: Held, events: RunEvents, e: unknown, who: string | undefined): Promise<EndEvent> {
  const msg = e instanceof Error ? e.message : String(e);
  const reason = isOutOfMemory(e)
    ? `out of memory at step ${h.step + 1} (${msg.split('\n')[0]}): lower training.batchSize or training.maxLength and raise gradAccumulation`
    : msg.split('\n')[0];
  await releaseCompute(h).catch(() => undefined);
  const run = h.run;
  if (!run) {
    releaseRun(h);
    throw e;
  }
  // A failed save (a full disk) must not leave temp folders that make every later resume fail.
  try {
    cleanCheckpoints(run.dir);
  } catch {
    /* best effort: the next save cleans again */
  }
  const ev: EndEvent = { type: 'failed', time: now(), step: h.step, reason, lastCheckpoint: h.lastCheckpoint };
  try {
    events.emit(ev);
    run.audit('failed', reason, who);
  } finally {
    releaseRun(h); // even when the disk is too full to record the failure (the next reader does)
  }
  return ev;
}
