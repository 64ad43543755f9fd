// The run store: one folder per training run under the runs folder.
//
//   <runsDir>/audit.jsonl           who started / stopped / resumed / exported / deleted what, when
//   <runsDir>/<id>/run.json          the RunRecord (rewritten atomically: tmp + fsync + rename)
//   <runsDir>/<id>/metrics.jsonl     every TrainerEvent, one JSON line each (append + fsync)
//   <runsDir>/<id>/checkpoints/      see checkpoint.ts
//
// Run ids that come from outside (a webview message, a command argument) go through
// `runDirOf`, which refuses anything that is not a plain folder name, so nothing is read,
// written or deleted outside a run folder and the audit log.
import {
  closeSync, existsSync, fstatSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, readSync,
  rmSync, statSync, writeSync, ftruncateSync,
} from 'node:fs';
import { createHash } from 'node:crypto';
import { arch, cpus, platform, totalmem, userInfo } from 'node:os';
import { basename, dirname, join, relative, resolve, isAbsolute } from 'node:path';
import { RunConfig } from '../../../protocol/config';
import { BackendInfo, parseTrainerEvent, RunStatus, TrainerEvent } from '../../../protocol/events';
import { writeFileAtomic } from '../formats/binary';
import type { ChatTemplateInfo } from '../chat-info';
import { TOOL_VERSION } from '../version';
import { isTrainerAlive, newTrainerIdentity, TrainerIdentity } from './process';
export { isProcessAlive } from './process';

export const RUN_FILE = 'run.json';
export const METRICS_FILE = 'metrics.jsonl';
export const CHECKPOINTS_DIR = 'checkpoints';
export const AUDIT_FILE = 'audit.jsonl';
export const DEAD_PROCESS_FAILURE = 'trainer process exited unexpectedly';

export interface RunRecord {
  id: string;
  name: string;
  status: RunStatus;
  config: RunConfig;
  backend?: BackendInfo;
  versions: Record<string, string>;
  machine: { platform: string; arch: string; cpus: number; totalMemMiB: number; node: string };
  /** Absolute file path → SHA-256 (hex) of the model and data files at creation. */
  hashes: Record<string, string>;
  createdAt: string;
  startedAt?: string;
  endedAt?: string;
  step?: number;
  bestValLoss?: number;
  failure?: string;
  /** Short human summary, e.g. "LoRA r8 q_proj,v_proj". */
  method: string;
  params?: { total: number; trainable: number; percent: number };
  /** The process doing the training while status is running/paused. */
  pid?: number;
  /** Who that process is (pid + start time + token): a pid alone is never trusted. */
  trainer?: TrainerIdentity;
  /** Path of the newest checkpoint reported by a checkpoint event. */
  lastCheckpoint?: string;
  /** Where the base model came from (absent in runs made before this was recorded). */
  base?: RunBase;
  /**
   * The chat template conversations ({"messages"} data) were rendered with: the model's own, or
   * the default for a model without one. Exports write this one.
   */
  chatTemplate?: ChatTemplateInfo;
  /**
   * The checkpoint kept as the run's result (best/): by the lowest validation loss, or chosen
   * by evaluation (training.selectCheckpoint "eval") with its scores. Absent in older runs.
   */
  chosenCheckpoint?: ChosenCheckpoint;
}

export interface ChosenCheckpoint {
  step: number;
  by: 'loss' | 'eval';
  valLoss?: number;
  accuracy?: number;
  weightedError?: number;
  forgettingPercent?: number;
  overCeiling?: boolean;
}

/**
 * The base model as the user knows it: its store (ollama, huggingface, …, or "file") and name
 * (`llama3.2:1b`), so an export can say `FROM llama3.2:1b`; `sha256` is its file's hash (a GGUF).
 */
export interface RunBase {
  source: string;
  name: string;
  path: string;
  sha256?: string;
}

export type AuditAction = 'started' | 'stopped' | 'resumed' | 'exported' | 'deleted' | 'failed' | 'finished' | 'evaluated';

export interface AuditEntry {
  action: AuditAction;
  runId: string;
  who?: string;
  detail?: string;
  /** Files this action wrote: path (relative to the runs folder when inside it) → SHA-256. */
  files?: Record<string, string>;
}

export interface RunHandle {
  readonly dir: string;
  readonly record: RunRecord;
  /** Who audit entries written through this handle name by default (else the OS user). */
  who?: string;
  /** Appends the event to metrics.jsonl (fsynced) and folds it into the record. */
  appendEvent(e: TrainerEvent): void;
  /**
   * Folds an event that another process already appended to metrics.jsonl into the record
   * (status, step, best loss, last checkpoint): the launcher of a torchrun run follows the
   * events its Python trainer writes.
   */
  recordEvent(e: TrainerEvent): void;
  /** Merges `patch` into the record and rewrites run.json (a status change goes through setStatus). `id` cannot change. */
  update(patch: Partial<RunRecord>): void;
  /**
   * Changes status and rewrites run.json. Ending (finished/stopped/failed) and resuming (running
   * after an end) are audited; end events passed to appendEvent come through here.
   */
  setStatus(status: RunStatus, extra?: Partial<RunRecord> & { who?: string; detail?: string }): void;
  /**
   * Appends an audit entry for this run. A status action (started/stopped/resumed/failed/
   * finished) equal to the last one audited through this handle is skipped, so an explicit
   * call next to an event that already audited it does not write it twice.
   */
  audit(action: AuditAction, detail?: string, who?: string, files?: string[]): void;
}

export interface CreateRunOptions {
  name?: string;
  config: RunConfig;
  method: string;
  /** Model and data files (or folders, hashed file by file) to fingerprint. */
  files: string[];
  backend?: BackendInfo;
  versions?: Record<string, string>;
  params?: { total: number; trainable: number; percent: number };
  /** The training process (legacy: a bare pid); default this process, with `trainer`. */
  pid?: number;
  /** The training process's identity; default a new one for this process. */
  trainer?: TrainerIdentity;
  who?: string;
  now?: Date;
  /** Where the base model came from; its sha256 is taken from the hashes when it is one file. */
  base?: Omit<RunBase, 'sha256'>;
}

// ---------------------------------------------------------------------------------------------
// Ids and paths

const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

/** True when `id` is a plain folder name: letters, digits, `.`, `_`, `-`, no `..`, no separators. */
export function isSafeRunId(id: unknown): id is string {
  return typeof id === 'string' && SAFE_ID.test(id) && !id.includes('..');
}

/** The folder of run `id` under `runsDir`; throws for an id that could lead anywhere else. */
export function runDirOf(runsDir: string, id: string): string {
  if (!isSafeRunId(id)) throw new Error(`invalid run id ${JSON.stringify(id)}: only letters, digits, ".", "_" and "-" are allowed`);
  const root = resolve(runsDir);
  const dir = resolve(root, id);
  const rel = relative(root, dir);
  if (rel !== id || rel.startsWith('..') || isAbsolute(rel)) throw new Error(`invalid run id ${JSON.stringify(id)}: outside the runs folder`);
  return dir;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** Lower-cased, anything outside [a-z0-9-] becomes "-", runs of "-" collapsed, at most 40 chars. */
export function slugify(name: string | undefined): string {
  const s = (name ?? '').toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/-+/g, '-').replace(/^-|-$/g, '')
    .slice(0, 40).replace(/-$/, '');
  return s || 'run';
}

/** `YYYYMMDD-HHMMSS-<slug>` in local time. `createRun` makes it unique. */
export function newRunId(name?: string, now = new Date()): string {
  const d = `${now.getFullYear()}${pad(now.getMonth() + 1)}${pad(now.getDate())}`;
  const t = `${pad(now.getHours())}${pad(now.getMinutes())}${pad(now.getSeconds())}`;
  return `${d}-${t}-${slugify(name)}`;
}

// ---------------------------------------------------------------------------------------------
// Small durable-file helpers (also used by checkpoint.ts)

/** Writes `text` to `path` via a temp file + fsync + rename: readers see the old or the new file, never half. */
export function writeTextAtomic(path: string, text: string): void {
  writeFileAtomic(path, [Buffer.from(text, 'utf8')]);
}

export function writeJsonAtomic(path: string, value: unknown): void {
  writeTextAtomic(path, JSON.stringify(value, null, 2) + '\n');
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
}

/** Appends one line and fsyncs, so the line survives a SIGKILL or power loss right after. */
function appendLineSync(path: string, line: string): void {
  try {
    const fd = openSync(path, 'a');
    try {
      writeAll(fd, Buffer.from(line + '\n', 'utf8'));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    // Node's ENOSPC message names no file.
    if ((e as NodeJS.ErrnoException).code === 'ENOSPC') throw Object.assign(new Error(`${path}: no space left on the device; free some space and try again`), { code: 'ENOSPC' });
    throw e;
  }
}

/** Cuts a torn (newline-less) last line off a JSONL file so the next append starts clean. */
function repairTornTail(path: string): void {
  if (!existsSync(path)) return;
  const fd = openSync(path, 'r+');
  try {
    const size = fstatSync(fd).size;
    if (size === 0) return;
    const last = Buffer.alloc(1);
    readSync(fd, last, 0, 1, size - 1);
    if (last[0] === 0x0a) return;
    // Scan back for the last newline, 64 KiB at a time.
    const chunk = Buffer.alloc(65536);
    let end = size;
    let keep = 0;
    while (end > 0) {
      const start = Math.max(0, end - chunk.length);
      const n = readSync(fd, chunk, 0, end - start, start);
      const i = chunk.subarray(0, n).lastIndexOf(0x0a);
      if (i >= 0) {
        keep = start + i + 1;
        break;
      }
      end = start;
    }
    ftruncateSync(fd, keep);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

// ---------------------------------------------------------------------------------------------
// Hashing

/** SHA-256 (hex) of a file, read 1 MiB at a time (fine for multi-GB model files). */
export function sha256File(path: string): string {
  const hash = createHash('sha256');
  const buf = Buffer.alloc(1 << 20);
  const fd = openSync(path, 'r');
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/** Hashes each file; a folder is hashed file by file (sorted, recursively). Keys are absolute paths. */
export function hashFiles(files: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (p: string) => {
    let st;
    try {
      st = statSync(p);
    } catch (e) {
      throw new Error(`cannot hash ${p}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
    if (st.isDirectory()) {
      for (const name of readdirSync(p).sort()) visit(join(p, name));
    } else if (st.isFile()) {
      out[p] = sha256File(p);
    }
  };
  for (const f of files) visit(resolve(f));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Audit

/** Appends `{time, who, action, runId, detail}` to `<runsDir>/audit.jsonl`. */
export function audit(runsDir: string, entry: AuditEntry): void {
  ensureRunsDir(runsDir);
  const line = {
    time: new Date().toISOString(),
    who: entry.who ?? currentUser(),
    action: entry.action,
    runId: entry.runId,
    ...(entry.detail !== undefined ? { detail: entry.detail } : {}),
    version: TOOL_VERSION,
    ...(entry.files && Object.keys(entry.files).length ? { files: entry.files } : {}),
  };
  appendLineSync(join(runsDir, AUDIT_FILE), JSON.stringify(line));
}

/**
 * SHA-256 of each written file (folders file by file) for an audit line, keyed by the path
 * relative to the runs folder when the file is inside it (else the absolute path).
 */
export function auditHashes(runsDir: string, paths: string[]): Record<string, string> {
  const root = resolve(runsDir);
  const out: Record<string, string> = {};
  for (const [abs, sha] of Object.entries(hashFiles(paths))) {
    const rel = relative(root, abs);
    out[rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel.split('\\').join('/') : abs] = sha;
  }
  return out;
}

/** Creates the runs folder, or says clearly that the path is something else (a file). */
export function ensureRunsDir(runsDir: string): void {
  try {
    mkdirSync(runsDir, { recursive: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') {
      throw new Error(`runsDir ${runsDir} is a file, not a folder: set runsDir to a folder (or move the file away)`);
    }
    if (code === 'ENOSPC') throw new Error(`${runsDir}: no space left on the device to create the runs folder`);
    throw new Error(`cannot create the runs folder ${runsDir}: ${(e as Error).message}`);
  }
  if (!statSync(runsDir).isDirectory()) throw new Error(`runsDir ${runsDir} is a file, not a folder: set runsDir to a folder (or move the file away)`);
}

export function readAudit(runsDir: string): (AuditEntry & { time: string; who: string })[] {
  const path = join(runsDir, AUDIT_FILE);
  if (!existsSync(path)) return [];
  return readJsonLines(path).values as (AuditEntry & { time: string; who: string })[];
}

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? process.env.USERNAME ?? 'unknown';
  }
}

// ---------------------------------------------------------------------------------------------
// Records and handles

function machineInfo(): RunRecord['machine'] {
  return { platform: platform(), arch: arch(), cpus: cpus().length, totalMemMiB: Math.round(totalmem() / 2 ** 20), node: process.version };
}

export function readRunRecord(runDir: string): RunRecord {
  const path = join(runDir, RUN_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing (not a run folder?)' : (e as Error).message}`);
  }
  let rec: unknown;
  try {
    rec = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
  if (!rec || typeof rec !== 'object' || typeof (rec as RunRecord).id !== 'string' || typeof (rec as RunRecord).status !== 'string') {
    throw new Error(`${path}: not a run record (no id or status)`);
  }
  return rec as RunRecord;
}

const TERMINAL: ReadonlySet<RunStatus> = new Set(['finished', 'stopped', 'failed']);

const STATUS_ACTIONS: ReadonlySet<AuditAction> = new Set(['started', 'stopped', 'resumed', 'failed', 'finished']);

class Handle implements RunHandle {
  private tailChecked = false;
  private lastStatusAudit: AuditAction | undefined;
  constructor(readonly dir: string, readonly record: RunRecord, public who?: string) {}

  audit(action: AuditAction, detail?: string, who?: string, files?: string[]): void {
    if (STATUS_ACTIONS.has(action)) {
      if (this.lastStatusAudit === action) return;
      this.lastStatusAudit = action;
    }
    const hashes = files?.length ? auditHashes(this.runsDir, files) : undefined;
    audit(this.runsDir, { action, runId: this.record.id, who: who ?? this.who, detail, files: hashes });
  }

  private get runsDir(): string {
    return dirname(this.dir);
  }

  private save(): void {
    writeJsonAtomic(join(this.dir, RUN_FILE), this.record);
  }

  appendEvent(e: TrainerEvent): void {
    const path = join(this.dir, METRICS_FILE);
    if (!this.tailChecked) {
      repairTornTail(path);
      this.tailChecked = true;
    }
    appendLineSync(path, JSON.stringify(e));
    this.recordEvent(e);
  }

  recordEvent(e: TrainerEvent): void {
    const r = this.record;
    switch (e.type) {
      case 'step':
        r.step = e.step;
        return; // not saved on every step
      case 'started':
        r.backend = e.backend;
        r.versions = { ...r.versions, ...e.backend.versions };
        r.params = e.params;
        r.startedAt ??= e.time;
        if (r.status !== 'running') this.setStatus('running');
        else this.save();
        return;
      case 'eval':
        r.step = e.step;
        if (e.best) r.bestValLoss = e.valLoss; // step 0's untrained loss is never "best"
        this.save();
        return;
      case 'checkpoint':
        r.step = e.step;
        r.lastCheckpoint = e.path;
        // A best checkpoint is the chosen one by validation loss, unless evaluation chooses.
        if (e.best && r.chosenCheckpoint?.by !== 'eval') r.chosenCheckpoint = { step: e.step, by: 'loss', ...(r.bestValLoss !== undefined ? { valLoss: r.bestValLoss } : {}) };
        this.save();
        return;
      case 'checkpointEval':
        if (e.chosen) {
          r.chosenCheckpoint = {
            step: e.step, by: 'eval', accuracy: e.accuracy, weightedError: e.weightedError, overCeiling: e.overCeiling,
            ...(e.forgettingPercent !== undefined ? { forgettingPercent: e.forgettingPercent } : {}),
          };
          this.save();
        }
        return;
      case 'paused':
        r.step = e.step;
        this.setStatus('paused');
        return;
      case 'resumed':
        r.step = e.step;
        this.setStatus('running');
        return;
      case 'finished':
        r.step = e.step;
        if (e.bestValLoss !== undefined) r.bestValLoss = e.bestValLoss;
        this.setStatus('finished', { endedAt: e.time, detail: e.reason });
        return;
      case 'stopped':
        r.step = e.step;
        this.setStatus('stopped', { endedAt: e.time });
        return;
      case 'failed':
        r.step = e.step;
        this.setStatus('failed', { endedAt: e.time, failure: e.reason });
        return;
      case 'log':
        return;
    }
  }

  update(patch: Partial<RunRecord>): void {
    const { id: _id, status, ...rest } = patch;
    if (status !== undefined && status !== this.record.status) return this.setStatus(status, rest);
    Object.assign(this.record, rest);
    this.save();
  }

  setStatus(status: RunStatus, extra: Partial<RunRecord> & { who?: string; detail?: string } = {}): void {
    const { who, detail, id: _id, ...patch } = extra;
    const r = this.record;
    const before = r.status;
    Object.assign(r, patch);
    r.status = status;
    if (TERMINAL.has(status)) {
      if (patch.endedAt === undefined && (!TERMINAL.has(before) || r.endedAt === undefined)) r.endedAt = new Date().toISOString();
      delete r.pid;
      delete r.trainer;
      if (status !== 'failed' && patch.failure === undefined) delete r.failure;
    } else {
      if (TERMINAL.has(before)) {
        delete r.endedAt;
        delete r.failure;
      }
      r.pid = patch.pid ?? (TERMINAL.has(before) ? process.pid : r.pid ?? process.pid);
    }
    this.save();
    if (status === before) return;
    if (TERMINAL.has(status)) {
      this.audit(status as AuditAction, detail ?? (status === 'failed' ? r.failure : undefined), who);
    } else if (status === 'running' && TERMINAL.has(before)) {
      this.audit('resumed', detail, who);
    }
  }
}

/**
 * Creates `<runsDir>/<id>/` (id from `newRunId`, made unique with -2, -3, …), hashes `files`,
 * writes run.json (status running, pid) and audits "started".
 */
export function createRun(runsDir: string, opts: CreateRunOptions): RunHandle {
  const now = opts.now ?? new Date();
  const hashes = hashFiles(opts.files); // before creating anything: a missing file leaves no empty run
  ensureRunsDir(runsDir);
  const base = newRunId(opts.name ?? opts.config.name, now);
  let id = base;
  let dir = runDirOf(runsDir, id);
  for (let n = 2; ; n++) {
    try {
      mkdirSync(dir);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || n > 10000) throw e;
      id = `${base}-${n}`;
      dir = runDirOf(runsDir, id);
    }
  }
  mkdirSync(join(dir, CHECKPOINTS_DIR));
  const record: RunRecord = {
    id,
    name: opts.name ?? opts.config.name ?? id,
    status: 'running',
    config: opts.config,
    ...(opts.backend ? { backend: opts.backend } : {}),
    versions: { node: process.versions.node, ...opts.backend?.versions, ...opts.versions },
    machine: machineInfo(),
    hashes,
    createdAt: now.toISOString(),
    startedAt: now.toISOString(),
    method: opts.method,
    ...(opts.params ? { params: opts.params } : {}),
    ...trainerFields(opts),
    ...(opts.base ? { base: { ...opts.base, ...(hashes[resolve(opts.base.path)] ? { sha256: hashes[resolve(opts.base.path)] } : {}) } } : {}),
  };
  writeJsonAtomic(join(dir, RUN_FILE), record);
  const handle = new Handle(dir, record, opts.who);
  handle.audit('started', opts.method);
  return handle;
}

function trainerFields(opts: CreateRunOptions): Pick<RunRecord, 'pid' | 'trainer'> {
  if (opts.pid !== undefined && opts.trainer === undefined) return { pid: opts.pid };
  const trainer = opts.trainer ?? newTrainerIdentity();
  return { pid: trainer.pid, trainer };
}

/**
 * Opens an existing run: `openRun(runDir)`, or `openRun(runsDir, id)` for an id from outside
 * (validated). A run marked running whose trainer is gone is marked failed first (reconcileRun).
 */
export function openRun(runDirOrRunsDir: string, id?: string): RunHandle {
  const dir = id === undefined ? resolve(runDirOrRunsDir) : runDirOf(runDirOrRunsDir, id);
  if (!isSafeRunId(basename(dir))) throw new Error(`${dir}: not a run folder (bad folder name)`);
  const record = reconcileRun(dir);
  return new Handle(dir, record);
}

// ---------------------------------------------------------------------------------------------
// Metrics

export interface MetricsProblem {
  line: number;
  message: string;
}

function readJsonLines(path: string): { values: unknown[]; lineNumbers: number[]; problems: MetricsProblem[]; tornTail: boolean } {
  const text = readFileSync(path, 'utf8');
  const lines = text.split('\n');
  const values: unknown[] = [];
  const lineNumbers: number[] = [];
  const problems: MetricsProblem[] = [];
  let tornTail = false;
  // After split, the last element is '' when the file ends with a newline; otherwise it is an
  // unterminated final line, which a crash mid-append can leave half written.
  const lastIndex = lines.length - 1;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/\r$/, '');
    if (line.trim() === '') continue;
    try {
      values.push(JSON.parse(line));
      lineNumbers.push(i + 1);
    } catch (e) {
      if (i === lastIndex) {
        tornTail = true;
        continue;
      }
      problems.push({ line: i + 1, message: `not valid JSON (${(e as Error).message})` });
    }
  }
  return { values, lineNumbers, problems, tornTail };
}

/**
 * Every event in metrics.jsonl, tolerating what a crash can leave: an unterminated, partly
 * written last line is ignored (`tornTail`). Bad lines elsewhere are listed with their number.
 */
export function readMetricsDetailed(runDir: string): { events: TrainerEvent[]; problems: MetricsProblem[]; tornTail: boolean } {
  const path = join(runDir, METRICS_FILE);
  if (!existsSync(path)) return { events: [], problems: [], tornTail: false };
  const { values, lineNumbers, problems, tornTail } = readJsonLines(path);
  const events: TrainerEvent[] = [];
  values.forEach((v, k) => {
    try {
      events.push(parseTrainerEvent(v));
    } catch (e) {
      problems.push({ line: lineNumbers[k], message: (e as Error).message });
    }
  });
  problems.sort((a, b) => a.line - b.line);
  return { events, problems, tornTail };
}

/** Like readMetricsDetailed, but a bad line (other than a torn last one) throws, naming file and line. */
export function readMetrics(runDir: string): TrainerEvent[] {
  const { events, problems } = readMetricsDetailed(runDir);
  if (problems.length) {
    const p = problems[0];
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more bad line${problems.length > 2 ? 's' : ''})` : '';
    throw new Error(`${join(runDir, METRICS_FILE)} line ${p.line}: ${p.message}${more}`);
  }
  return events;
}

// ---------------------------------------------------------------------------------------------
// Listing, reconciling, deleting

/** Whether the run's recorded trainer is a live trainer process (never a bare pid: see process.ts). */
export function isRunTrainerAlive(record: Pick<RunRecord, 'pid' | 'trainer'>): boolean {
  const id = record.trainer ?? (record.pid !== undefined ? { pid: record.pid } : undefined);
  return isTrainerAlive(id);
}

/**
 * Reads run.json; a run marked running/paused whose trainer is gone (its pid is dead, or is
 * now another process: see process.ts) is rewritten as failed ("trainer process exited
 * unexpectedly") and audited, once. Returns the (possibly fixed) record.
 */
export function reconcileRun(runDir: string): RunRecord {
  const record = readRunRecord(runDir);
  if ((record.status === 'running' || record.status === 'paused') && !isRunTrainerAlive(record)) {
    const pid = record.trainer?.pid ?? record.pid;
    const h = new Handle(resolve(runDir), record);
    h.setStatus('failed', { failure: DEAD_PROCESS_FAILURE, detail: `${DEAD_PROCESS_FAILURE}${pid !== undefined ? ` (pid ${pid} is gone or is not its trainer)` : ''}` });
  }
  return record;
}

/** All runs, newest first; folders without a readable run.json are skipped. Dead "running" runs are reconciled. */
export function listRuns(runsDir: string): RunRecord[] {
  if (!existsSync(runsDir)) return [];
  const out: RunRecord[] = [];
  for (const ent of readdirSync(runsDir, { withFileTypes: true })) {
    if (!ent.isDirectory() || !isSafeRunId(ent.name)) continue;
    const dir = join(runsDir, ent.name);
    if (!existsSync(join(dir, RUN_FILE))) continue;
    try {
      out.push(reconcileRun(dir));
    } catch {
      continue; // unreadable run.json: not listed
    }
  }
  return out.sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
}

/**
 * Deletes run `id` (only a folder directly inside runsDir) and audits it. A run whose
 * trainer is still alive is refused unless `force`.
 */
export function deleteRun(runsDir: string, id: string, who?: string, opts: { force?: boolean } = {}): void {
  const dir = runDirOf(runsDir, id);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`run "${id}" not found in ${runsDir}`);
  if (!existsSync(join(dir, RUN_FILE))) throw new Error(`${dir} is not a run folder (no ${RUN_FILE}); not deleting`);
  let record: RunRecord | undefined;
  try {
    record = reconcileRun(dir);
  } catch {
    record = undefined;
  }
  if (!opts.force && record && (record.status === 'running' || record.status === 'paused') && isRunTrainerAlive(record)) {
    throw new Error(`run "${id}" is still ${record.status} (pid ${record.pid}); stop it first`);
  }
  rmSync(dir, { recursive: true, force: true });
  audit(runsDir, { action: 'deleted', runId: id, who, detail: record?.name });
}
