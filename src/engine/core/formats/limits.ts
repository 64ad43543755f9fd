// Counts in a model's metadata are claims; the file's bytes and tensors are facts. Before anything
// is sized by a claimed count (a list of per-layer tensors, a vocabulary table, a whole file in
// memory), it is checked against what the file holds, so a hostile or damaged file is a one-line
// FormatError naming the file and the field instead of gigabytes allocated and a crash.
import { closeSync, constants as fsConstants, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { constants as bufferConstants } from 'node:buffer';
import { FormatError } from './binary';

/** How a value is shown in a message: non-finite numbers said as such (JSON.stringify writes them as null). */
export function showValue(v: unknown): string {
  if (typeof v === 'number' && !Number.isFinite(v)) return `${v} (not a finite number)`;
  const s = JSON.stringify(v);
  if (s === undefined) return String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/**
 * Reads a whole model file into memory. A folder, or a file larger than this Node can hold in one
 * buffer, is a FormatError naming it; files over 2 GiB (which `readFileSync` refuses with a raw
 * RangeError) are read in chunks.
 */
export function readModelFile(path: string, what: string): Buffer {
  let size: number;
  try {
    const st = statSync(path);
    if (st.isDirectory()) throw new FormatError(path, `is a folder, not a ${what} file`);
    size = st.size;
  } catch (e) {
    if (e instanceof FormatError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new FormatError(path, 'no such file');
    throw e;
  }
  if (size > maxFileBytes()) {
    throw new FormatError(path, `is ${size} bytes, more than this Node.js can hold in memory at once (${maxFileBytes()} bytes); `
      + `use a smaller (quantized or sharded) copy of the model`);
  }
  const fd = openSync(path, fsConstants.O_RDONLY);
  try {
    const real = fstatSync(fd).size; // the file may have changed since the stat above
    if (real !== size) throw new FormatError(path, `changed size while being read (${size} → ${real} bytes)`);
    // Shared memory: a model keeps its frozen weights as views of this buffer, and the gradient
    // worker threads it starts then read the same bytes instead of each receiving a copy.
    const buf = Buffer.from(new SharedArrayBuffer(size), 0, size);
    const CHUNK = 1 << 30;
    let done = 0;
    while (done < size) {
      const n = readSync(fd, buf, done, Math.min(CHUNK, size - done), done);
      if (n === 0) throw new FormatError(path, `ended after ${done} of ${size} bytes while being read`);
      done += n;
    }
    return buf;
  } finally {
    closeSync(fd);
  }
}

/** A JSON file (config.json, tokenizer.json, ...); unreadable or invalid JSON is a FormatError naming it. */
export function readJsonFile(path: string): unknown {
  let text: string;
  try {
    if (statSync(path).isDirectory()) throw new FormatError(path, 'is a folder, not a JSON file');
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof FormatError) throw e;
    throw new FormatError(path, `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new FormatError(path, `is not valid JSON (${(e as Error).message})`);
  }
}

/** The largest file `readModelFile` reads (one Buffer's limit on this Node). */
export function maxFileBytes(): number {
  return bufferConstants.MAX_LENGTH;
}

/** Block (layer) indices that tensor names hold: `blk.N.`, `layers.N.`, `h.N.`. */
const BLOCK_INDEX = /(?:^|\.)(?:blk|layers|h|blocks)\.(\d+)\./;

/** How many blocks the tensors hold: one more than the highest block index in their names. */
export function blocksPresent(names: Iterable<string>): number {
  let n = 0;
  for (const name of names) {
    const m = BLOCK_INDEX.exec(name);
    if (m) n = Math.max(n, Number(m[1]) + 1);
  }
  return n;
}

/**
 * A layer count from the metadata must equal the blocks the tensors hold: every per-layer table
 * the model builds is sized by it, so a claimed 4e9 would allocate before any tensor is missed.
 */
export function checkLayerCount(file: string, field: string, claimed: number, tensorNames: Iterable<string>): void {
  const present = blocksPresent(tensorNames);
  if (claimed !== present) {
    throw new FormatError(file, `${field} is ${showValue(claimed)}, but the file's tensors hold ${present} block${present === 1 ? '' : 's'}; `
      + `the metadata and the weights disagree (damaged or hand-edited file?)`);
  }
}

/** A float hyperparameter that changes the math must be a finite number above zero. */
export function checkPositiveFinite(file: string, field: string, v: number): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new FormatError(file, `${field} is ${showValue(v)}; expected a finite number above 0`);
  }
}

/**
 * Token ids of a vocabulary must lie below the number of tokens it defines (ids are dense in
 * every real tokenizer; a larger claimed model vocabulary, padded for speed, is also allowed),
 * since tables of every id are allocated from the largest one.
 */
export function checkTokenId(file: string, field: string, id: number, limit: number): void {
  if (!Number.isSafeInteger(id) || id < 0 || id >= limit) {
    throw new FormatError(file, `${field} is ${showValue(id)}, outside the vocabulary (ids 0 to ${limit - 1}); `
      + 'the tokenizer file is damaged or does not belong to this model');
  }
}
