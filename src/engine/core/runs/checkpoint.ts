// Checkpoints of a run, under `<runDir>/checkpoints/`:
//
//   step-<N>/trainable.safetensors   the trainable parameters (F32, exact)
//   step-<N>/optimizer.safetensors   optimizer moments (F32, exact)
//   step-<N>/state.json              { format, step, time, trainable: names, optimizer: names, meta,
//                                      sha256: { file: hex } of the two tensor files }
//   best/                            a copy of the checkpoint with the best validation loss
//   latest.json                      { step, dir, time } → the newest complete checkpoint
//
// A checkpoint is written into a `.tmp-…` folder and renamed into place, so a crash mid-write
// never leaves a half checkpoint; leftovers (`.tmp-…`, `.old-…`) are ignored by readers and
// cleaned up by the next save. The last `keep` (2) periodic checkpoints are kept, plus best.
// Each tensor file's SHA-256 is in state.json and checked on load, so a damaged checkpoint is
// detected and a resume falls back to the newest good one (loadGoodCheckpoint).
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { readSafetensors, TensorEntry, writeSafetensors } from '../formats/safetensors';
import { CHECKPOINTS_DIR, sha256File, writeJsonAtomic } from './store';

export interface CheckpointTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface CheckpointState {
  /** Trainable parameters, e.g. "lora:model.layers.0.self_attn.q_proj.A" or "param:model.norm.weight". */
  tensors: CheckpointTensor[];
  /** Optimizer moments (m and v). */
  optimizer: CheckpointTensor[];
  /** Step, epoch, position in the epoch, rng states, best val loss, patience, schedule… (JSON). */
  meta: Record<string, unknown>;
}

export interface LoadedCheckpoint extends CheckpointState {
  step: number;
  dir: string;
}

export const TRAINABLE_FILE = 'trainable.safetensors';
export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const STATE_FILE = 'state.json';
export const LATEST_FILE = 'latest.json';
export const BEST_DIR = 'best';
const FILES = [TRAINABLE_FILE, OPTIMIZER_FILE, STATE_FILE];
const STEP_DIR = /^step-(\d+)$/;
const FORMAT = 1;

interface StateFile {
  format: number;
  step: number;
  time: string;
  trainable: string[];
  optimizer: string[];
  meta: Record<string, unknown>;
  /** SHA-256 (hex) of trainable.safetensors and optimizer.safetensors; absent in older checkpoints. */
  sha256?: Record<string, string>;
}

export function checkpointsDir(runDir: string): string {
  return join(runDir, CHECKPOINTS_DIR);
}

const stepDirName = (step: number) => `step-${step}`;
const uniq = () => `${process.pid}-${randomBytes(4).toString('hex')}`;

/** Complete periodic checkpoints (all three files present), by step ascending. */
export function listCheckpoints(runDir: string): { step: number; dir: string }[] {
  const root = checkpointsDir(runDir);
  if (!existsSync(root)) return [];
  const out: { step: number; dir: string }[] = [];
  for (const name of readdirSync(root)) {
    const m = STEP_DIR.exec(name);
    if (!m) continue;
    const dir = join(root, name);
    if (isComplete(dir)) out.push({ step: Number(m[1]), dir });
  }
  return out.sort((a, b) => a.step - b.step);
}

function isComplete(dir: string): boolean {
  try {
    return statSync(dir).isDirectory() && FILES.every((f) => existsSync(join(dir, f)));
  } catch {
    return false;
  }
}

/**
 * Removes what an interrupted save leaves behind: `.tmp-*` folders and files, and `.old-*`
 * folders (an `.old-<name>-…` whose `<name>` is missing is renamed back first: the crash came
 * between moving the old one aside and moving the new one in).
 */
export function cleanCheckpoints(runDir: string): void {
  const root = checkpointsDir(runDir);
  if (!existsSync(root)) return;
  const names = readdirSync(root);
  for (const name of names.filter((n) => n.startsWith('.old-')).sort().reverse()) {
    const m = /^\.old-(best|step-\d+)-/.exec(name);
    if (m && !existsSync(join(root, m[1])) && isComplete(join(root, name))) renameSync(join(root, name), join(root, m[1]));
    else rmSync(join(root, name), { recursive: true, force: true });
  }
  for (const name of names) {
    if (name.startsWith('.tmp-') || name.startsWith(`${LATEST_FILE}.tmp`)) rmSync(join(root, name), { recursive: true, force: true });
  }
}

/** Puts folder `from` at `to`, moving an existing `to` aside first and deleting it after. */
function swapInto(root: string, from: string, toName: string): void {
  const to = join(root, toName);
  let old: string | undefined;
  if (existsSync(to)) {
    old = join(root, `.old-${toName}-${uniq()}`);
    renameSync(to, old);
  }
  renameSync(from, to);
  if (old) rmSync(old, { recursive: true, force: true });
}

function checkTensors(kind: string, list: CheckpointTensor[]): void {
  const seen = new Set<string>();
  for (const t of list) {
    if (seen.has(t.name)) throw new Error(`saveCheckpoint: ${kind} tensor "${t.name}" appears twice`);
    seen.add(t.name);
  }
}

/**
 * Writes checkpoint `step` atomically and returns its folder. With `best`, it is also copied to
 * `best/`. Periodic checkpoints beyond the newest `keep` (default 2) are deleted, and so are any
 * with a step above this one (left from before a resume to an earlier checkpoint).
 */
export function saveCheckpoint(runDir: string, step: number, state: CheckpointState, opts: { best?: boolean; keep?: number } = {}): string {
  if (!Number.isSafeInteger(step) || step < 0) throw new Error(`saveCheckpoint: step must be a non-negative integer, got ${step}`);
  const keep = Math.max(1, opts.keep ?? 2);
  checkTensors('trainable', state.tensors);
  checkTensors('optimizer', state.optimizer);
  const root = checkpointsDir(runDir);
  mkdirSync(root, { recursive: true });
  cleanCheckpoints(runDir);

  const time = new Date().toISOString();
  const writeTmp = (): string => {
    const tmp = join(root, `.tmp-${stepDirName(step)}-${uniq()}`);
    mkdirSync(tmp);
    try {
      const md = { step: String(step) };
      writeSafetensors(join(tmp, TRAINABLE_FILE), state.tensors.map((t) => ({ name: t.name, shape: t.shape, data: t.data })), md);
      writeSafetensors(join(tmp, OPTIMIZER_FILE), state.optimizer.map((t) => ({ name: t.name, shape: t.shape, data: t.data })), md);
      // Hashed from disk, after the write: what a later load reads is what is checked.
      const sha256 = Object.fromEntries([TRAINABLE_FILE, OPTIMIZER_FILE].map((f) => [f, sha256File(join(tmp, f))]));
      const sf: StateFile = {
        format: FORMAT, step, time, trainable: state.tensors.map((t) => t.name), optimizer: state.optimizer.map((t) => t.name), meta: state.meta, sha256,
      };
      writeJsonAtomic(join(tmp, STATE_FILE), sf);
      return tmp;
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
  };
  let tmp: string;
  try {
    tmp = writeTmp();
  } catch (e) {
    // A full disk: make room by dropping the older periodic checkpoints (the newest one stays,
    // so there is always one to resume from) and try once more.
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
    const older = listAllStepDirs(root).filter((c) => c.step < step).slice(0, -1);
    if (!older.length) throw e;
    for (const c of older) rmSync(c.dir, { recursive: true, force: true });
    tmp = writeTmp();
  }

  // Checkpoints past this step belong to a timeline abandoned by a resume: remove them first so
  // they can never be mistaken for the latest.
  for (const c of listAllStepDirs(root)) if (c.step > step) rmSync(c.dir, { recursive: true, force: true });
  const name = stepDirName(step);
  swapInto(root, tmp, name);
  const dir = join(root, name);

  // Older periodic checkpoints go first (the new one is complete): on a nearly full disk this
  // frees space before anything else is written, and never leaves an extra checkpoint behind.
  const periodic = listAllStepDirs(root).filter((c) => c.step !== step);
  for (const c of periodic.slice(0, Math.max(0, periodic.length - (keep - 1)))) rmSync(c.dir, { recursive: true, force: true });

  writeJsonAtomic(join(root, LATEST_FILE), { step, dir: name, time });

  if (opts.best) {
    const copyBest = () => {
      const tmpBest = join(root, `.tmp-${BEST_DIR}-${uniq()}`);
      try {
        mkdirSync(tmpBest);
        for (const f of FILES) {
          try {
            copyFileSync(join(dir, f), join(tmpBest, f));
          } catch (e) {
            const full = (e as NodeJS.ErrnoException).code === 'ENOSPC';
            throw Object.assign(new Error(`${join(tmpBest, f)}: ${full ? 'no space left on the device' : (e as Error).message} (copying the best checkpoint)`), { code: (e as NodeJS.ErrnoException).code });
          }
        }
        swapInto(root, tmpBest, BEST_DIR);
      } catch (e) {
        rmSync(tmpBest, { recursive: true, force: true });
        throw e;
      }
    };
    try {
      copyBest();
    } catch (e) {
      // A full disk: the previous best is superseded (the new one is this step's folder), so it
      // can go to make room; then one more try.
      if ((e as NodeJS.ErrnoException).code !== 'ENOSPC' || !existsSync(join(root, BEST_DIR))) throw e;
      rmSync(join(root, BEST_DIR), { recursive: true, force: true });
      copyBest();
    }
  }
  return dir;
}

function listAllStepDirs(root: string): { step: number; dir: string }[] {
  return readdirSync(root)
    .map((n) => ({ m: STEP_DIR.exec(n), n }))
    .filter((x) => x.m)
    .map((x) => ({ step: Number(x.m![1]), dir: join(root, x.n) }))
    .sort((a, b) => a.step - b.step);
}

/**
 * The folder of the newest complete checkpoint: the one latest.json names, or a complete
 * `step-N` with a higher step (a crash between renaming it in and updating latest.json);
 * undefined when there is none.
 */
export function latestCheckpoint(runDir: string): string | undefined {
  const root = checkpointsDir(runDir);
  const all = listCheckpoints(runDir);
  let fromPointer: { step: number; dir: string } | undefined;
  try {
    const p = JSON.parse(readFileSync(join(root, LATEST_FILE), 'utf8')) as { step?: unknown; dir?: unknown };
    if (typeof p.dir === 'string' && STEP_DIR.test(p.dir) && isComplete(join(root, p.dir))) {
      fromPointer = { step: Number(STEP_DIR.exec(p.dir)![1]), dir: join(root, p.dir) };
    }
  } catch {
    /* missing or unreadable pointer: fall back to scanning */
  }
  const newest = all[all.length - 1];
  if (fromPointer && (!newest || newest.step <= fromPointer.step)) return fromPointer.dir;
  return newest?.dir;
}

/**
 * The newest checkpoint that reads back intact (every file present, parseable, SHA-256 as
 * recorded): the latest, else older periodic ones newest first, else best/. `skipped` says
 * which were passed over and why; `checkpoint` is undefined when none is good.
 */
export function loadGoodCheckpoint(runDir: string): { checkpoint?: LoadedCheckpoint; skipped: { dir: string; reason: string }[] } {
  const root = checkpointsDir(runDir);
  const candidates: string[] = [];
  const add = (d: string | undefined) => d && !candidates.includes(d) && candidates.push(d);
  add(latestCheckpoint(runDir));
  if (existsSync(root)) for (const c of listAllStepDirs(root).reverse()) add(c.dir);
  add(existsSync(join(root, BEST_DIR)) ? join(root, BEST_DIR) : undefined);
  const skipped: { dir: string; reason: string }[] = [];
  for (const dir of candidates) {
    try {
      return { checkpoint: readCheckpointDir(dir), skipped };
    } catch (e) {
      skipped.push({ dir, reason: (e as Error).message });
    }
  }
  return { skipped };
}

/** The `best/` folder when it holds a complete checkpoint. */
export function bestCheckpoint(runDir: string): string | undefined {
  const dir = join(checkpointsDir(runDir), BEST_DIR);
  return isComplete(dir) ? dir : undefined;
}

/** Loads `latest`, `best` or step N; errors name the missing or corrupt file. */
export function loadCheckpoint(runDir: string, which: 'latest' | 'best' | number): LoadedCheckpoint {
  const root = checkpointsDir(runDir);
  let dir: string;
  if (which === 'latest') {
    const d = latestCheckpoint(runDir);
    if (!d) throw new Error(`no checkpoint in ${root}`);
    dir = d;
  } else if (which === 'best') {
    dir = join(root, BEST_DIR);
    if (!existsSync(dir)) throw new Error(`no best checkpoint in ${root} (${BEST_DIR}/ is missing)`);
  } else {
    if (!Number.isSafeInteger(which) || which < 0) throw new Error(`checkpoint step must be a non-negative integer, got ${which}`);
    dir = join(root, stepDirName(which));
    if (!existsSync(dir)) {
      const have = listCheckpoints(runDir).map((c) => c.step);
      throw new Error(`no checkpoint for step ${which} in ${root} (${have.length ? `have steps ${have.join(', ')}` : 'there are none'})`);
    }
  }
  return readCheckpointDir(dir);
}

/** Reads one checkpoint folder, checking that it is complete and consistent. */
export function readCheckpointDir(dir: string): LoadedCheckpoint {
  for (const f of FILES) {
    if (!existsSync(join(dir, f))) throw new Error(`checkpoint ${dir} is incomplete: ${f} is missing`);
  }
  const statePath = join(dir, STATE_FILE);
  let sf: StateFile;
  try {
    sf = JSON.parse(readFileSync(statePath, 'utf8')) as StateFile;
  } catch (e) {
    throw new Error(`corrupt checkpoint: ${statePath} is not valid JSON (${(e as Error).message})`);
  }
  if (!sf || typeof sf !== 'object' || !Number.isSafeInteger(sf.step) || !Array.isArray(sf.trainable) || !Array.isArray(sf.optimizer)
    || typeof sf.meta !== 'object' || sf.meta === null) {
    throw new Error(`corrupt checkpoint: ${statePath} lacks step, trainable, optimizer or meta`);
  }
  if (sf.format !== FORMAT) throw new Error(`${statePath}: checkpoint format ${sf.format} is not supported (expected ${FORMAT})`);
  if (sf.sha256 && typeof sf.sha256 === 'object') {
    for (const [file, want] of Object.entries(sf.sha256)) {
      if (!FILES.includes(file)) continue;
      const got = sha256File(join(dir, file));
      if (got !== want) throw new Error(`corrupt checkpoint: ${join(dir, file)}: its SHA-256 is not the one ${STATE_FILE} records (the file was damaged or changed after it was written)`);
    }
  }
  const load = (file: string, names: string[]): CheckpointTensor[] => {
    const path = join(dir, file);
    let tensors: Map<string, TensorEntry>;
    try {
      tensors = readSafetensors(path).tensors;
    } catch (e) {
      throw new Error(`corrupt checkpoint: ${path}: ${(e as Error).message}`);
    }
    return names.map((name) => {
      const t = tensors.get(name);
      if (!t) throw new Error(`corrupt checkpoint: ${path} has no tensor "${name}", which ${STATE_FILE} lists`);
      return { name, shape: t.shape, data: t.data };
    });
  };
  return {
    step: sf.step,
    dir,
    tensors: load(TRAINABLE_FILE, sf.trainable),
    optimizer: load(OPTIMIZER_FILE, sf.optimizer),
    meta: sf.meta,
  };
}
