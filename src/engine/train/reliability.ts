// What keeps a run from being lost or corrupted, decided here so the trainer's loop stays short:
// opening a run for resume (one trainer per run, never a finished run, the newest checkpoint
// that reads back intact), when a periodic checkpoint is due (steps or time), and how many
// gradient threads the machine can really run.
import os from 'node:os';
import { TrainingConfig } from '../../protocol/config';
import { openRun, RunHandle } from '../core/runs/store';
import { cleanCheckpoints, loadGoodCheckpoint, LoadedCheckpoint } from '../core/runs/checkpoint';
import { acquireRunLock, RunLock } from '../core/runs/lock';
import { TrainerIdentity } from '../core/runs/process';
import { usesEveryCore } from '../core/run-config';

/** Default bound on training time a kill can lose: a checkpoint at least this often (seconds). */
export const DEFAULT_CHECKPOINT_SECONDS = 60;

export interface OpenedResume {
  run: RunHandle;
  lock: RunLock;
  checkpoint: LoadedCheckpoint;
  /** Checkpoints passed over (damaged), for the run's log. */
  notes: string[];
}

/**
 * Opens `runDir` for `train --resume`: a dead "running" run is marked failed first (openRun),
 * a finished run is refused, the trainer lock is taken (a live trainer refuses us), leftovers
 * of an interrupted save are cleaned, and the newest good checkpoint is loaded. Nothing in the
 * run's record changes when this throws: a failed attempt never downgrades a run's status.
 */
export function openResume(runDir: string, identity: TrainerIdentity): OpenedResume {
  const run = openRun(runDir);
  const label = `"${run.record.name}" (${run.dir})`;
  if (run.record.status === 'finished') {
    throw new Error(`run ${label} is finished; a finished run is not resumed (its record and audit log stay as they are): start a new run from its config to train further`);
  }
  const lock = acquireRunLock(run.dir, identity, label);
  try {
    cleanCheckpoints(run.dir);
    const { checkpoint, skipped } = loadGoodCheckpoint(run.dir);
    if (!checkpoint) {
      const why = skipped.length ? `: ${skipped.map((s) => s.reason).join('; ')}` : ' (none was written before it stopped)';
      throw new Error(`run ${label} has no intact checkpoint to resume from${why}`);
    }
    const notes = skipped.map((s) => `skipped a damaged checkpoint: ${s.reason}`);
    if (skipped.length) notes.push(`resuming from ${checkpoint.dir} (step ${checkpoint.step}), the newest intact checkpoint`);
    return { run, lock, checkpoint, notes };
  } catch (e) {
    lock.release();
    throw e;
  }
}

/**
 * A periodic checkpoint is due after every `checkpointEvery` steps and, whatever that is, once
 * `checkpointSeconds` (default 60) of training passed since the last one: a kill loses at most
 * about that much work plus the step in progress. 0 turns either trigger off.
 */
export function checkpointDue(step: number, t: Pick<TrainingConfig, 'checkpointEvery' | 'checkpointSeconds'>, secondsSinceLast: number): boolean {
  if (t.checkpointEvery > 0 && step % t.checkpointEvery === 0) return true;
  const bound = t.checkpointSeconds ?? DEFAULT_CHECKPOINT_SECONDS;
  return bound > 0 && secondsSinceLast >= bound;
}

/** The cores this process may use. */
export function availableCores(): number {
  return Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
}

/**
 * The gradient threads a run uses: training.threads, but 1 on native backends (they use every
 * core themselves) or without the worker script, and never more than the cores here (each
 * thread holds a model replica: 64 on 2 cores took 2.1 GB and ran no faster) — each said in
 * the run's log when training.threads is not what runs.
 */
export function threadsFor(requested: number, opts: { backend: string; gradWorker: boolean; log?: (m: string, level?: 'info' | 'warn') => void; cores?: number }): number {
  if (requested <= 1) return 1;
  if (usesEveryCore(opts.backend)) {
    opts.log?.(`training.threads ${requested} is ignored: the ${opts.backend} backend uses every core itself`);
    return 1;
  }
  if (!opts.gradWorker) {
    opts.log?.(`training.threads ${requested}: this build has no gradient worker script; training on one thread`, 'warn');
    return 1;
  }
  const cores = opts.cores ?? availableCores();
  if (requested > cores) {
    opts.log?.(`training.threads ${requested} is more than the ${cores} core${cores > 1 ? 's' : ''} here: training on ${cores} thread${cores > 1 ? 's' : ''}`, 'warn');
    return cores;
  }
  return requested;
}
