// One trainer per run: `<runDir>/trainer.lock` is created exclusively (O_EXCL) by the trainer
// that trains the run and holds its identity (pid, process start time, token). A second
// trainer finds it and is refused while that trainer is alive (process.ts decides "alive": the
// same pid AND start time AND a trainer's command line). A lock left by a killed trainer is
// stale and is taken over: moved aside under a unique name first, so two trainers racing for
// it cannot both win.
import { closeSync, openSync, readFileSync, renameSync, rmSync, writeSync, fsyncSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { isTrainerAlive, TrainerIdentity } from './process';

export const LOCK_FILE = 'trainer.lock';

export interface RunLock {
  readonly path: string;
  readonly identity: TrainerIdentity;
  /** Removes the lock if it is still ours. */
  release(): void;
}

function readLock(path: string): TrainerIdentity | undefined {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as TrainerIdentity;
    return v && typeof v === 'object' && typeof v.pid === 'number' ? v : undefined;
  } catch {
    return undefined; // unreadable or half written: treated as stale
  }
}

function tryCreate(path: string, identity: TrainerIdentity): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new Error(`${path}: cannot create the trainer lock (${(e as Error).message})`);
  }
  try {
    writeSync(fd, JSON.stringify(identity));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return true;
}

function describe(owner: TrainerIdentity): string {
  return `pid ${owner.pid}${owner.host ? ` on ${owner.host}` : ''}`;
}

/**
 * Takes the run's trainer lock for `identity`, or throws naming the live trainer that holds it.
 * `runLabel` names the run in the message.
 */
export function acquireRunLock(runDir: string, identity: TrainerIdentity, runLabel = runDir): RunLock {
  const path = join(runDir, LOCK_FILE);
  for (let attempt = 0; attempt < 5; attempt++) {
    if (tryCreate(path, identity)) {
      return {
        path, identity,
        release() {
          if (readLock(path)?.token === identity.token) rmSync(path, { force: true });
        },
      };
    }
    const owner = readLock(path);
    if (owner && isTrainerAlive(owner)) {
      throw new Error(`run ${runLabel} is already being trained by another trainer (${describe(owner)}); stop it first, or wait for it to finish (one trainer per run)`);
    }
    // Stale: move it aside, then check that what we moved is the stale lock we read and not a
    // fresh one that another trainer created in between (then that one wins: put it back).
    const aside = `${path}.stale-${randomBytes(4).toString('hex')}`;
    try {
      renameSync(path, aside);
    } catch {
      continue; // someone else moved it first
    }
    const moved = readLock(aside);
    if (moved && owner && moved.token !== owner.token && isTrainerAlive(moved)) {
      try {
        renameSync(aside, path);
      } catch {
        /* fall through: the next attempt sees whoever holds it now */
      }
      continue;
    }
    rmSync(aside, { force: true });
  }
  throw new Error(`${path}: could not take the trainer lock (other trainers keep taking it); try again`);
}

