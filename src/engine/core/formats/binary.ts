// Bounds-checked little-endian reading (and a small growable writer) for the model file formats.
// Every read past the end, and every value out of range, throws a FormatError that names the
// file and what was being read, so a damaged download reads as a clear message, never a crash.
import { basename, dirname } from 'node:path';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';

/** A model file is malformed. `message` starts with the file's name; `file` is the path given. */
export class FormatError extends Error {
  override readonly name = 'FormatError';
  constructor(readonly file: string, readonly detail: string) {
    super(`${basename(file)}: ${oneLine(detail)}`);
  }
}

/**
 * Names read from a hostile file (tensor names, keys) can hold newlines and megabytes: a message
 * stays one line of bounded length, control characters escaped.
 */
function oneLine(s: string): string {
  const flat = s.replace(/[\u0000-\u001f\u007f]/g, (c) => (c === '\n' ? '\\n' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
  return flat.length > 1000 ? `${flat.slice(0, 600)}…${flat.slice(-300)}` : flat;
}

/** What is being read, for error messages; a function is only called when an error is built. */
export type Label = string | (() => string);
const text = (what: Label | undefined, fallback: string): string =>
  what === undefined ? fallback : typeof what === 'string' ? what : what();

export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const TWO32 = 4294967296;

export class BinaryReader {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  private readonly buf: Buffer;
  offset = 0;

  /** `file` names the file in errors (its base name is shown). */
  constructor(buf: Uint8Array, readonly file: string, readonly maxStringLength = 64 * 1024 * 1024) {
    this.bytes = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.buf = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get length(): number { return this.bytes.length; }
  get remaining(): number { return this.bytes.length - this.offset; }

  /** An error about this file (to be thrown by the caller). */
  error(detail: string): FormatError { return new FormatError(this.file, detail); }

  /** Throws unless `n` more bytes are there. */
  need(n: number, what?: Label): void {
    if (n > this.remaining) {
      throw this.error(`truncated while reading ${text(what, `${n} bytes`)} (needs ${n} bytes at offset ${this.offset}, `
        + `${this.remaining} left)`);
    }
  }

  u8(what?: Label): number { this.need(1, what ?? 'u8'); return this.bytes[this.offset++]; }
  i8(what?: Label): number { this.need(1, what ?? 'i8'); return this.view.getInt8(this.offset++); }
  u16(what?: Label): number { this.need(2, what ?? 'u16'); const v = this.view.getUint16(this.offset, true); this.offset += 2; return v; }
  i16(what?: Label): number { this.need(2, what ?? 'i16'); const v = this.view.getInt16(this.offset, true); this.offset += 2; return v; }
  u32(what?: Label): number { this.need(4, what ?? 'u32'); const v = this.view.getUint32(this.offset, true); this.offset += 4; return v; }
  i32(what?: Label): number { this.need(4, what ?? 'i32'); const v = this.view.getInt32(this.offset, true); this.offset += 4; return v; }
  f32(what?: Label): number { this.need(4, what ?? 'f32'); const v = this.view.getFloat32(this.offset, true); this.offset += 4; return v; }
  f64(what?: Label): number { this.need(8, what ?? 'f64'); const v = this.view.getFloat64(this.offset, true); this.offset += 8; return v; }

  /** An unsigned 64-bit integer as a number; values above Number.MAX_SAFE_INTEGER are refused. */
  u64(what?: Label): number {
    this.need(8, what ?? 'u64');
    const lo = this.view.getUint32(this.offset, true);
    const hi = this.view.getUint32(this.offset + 4, true);
    if (hi > 0x1fffff) {
      const v = this.view.getBigUint64(this.offset, true);
      throw this.error(`${text(what, 'u64')} is ${v}, more than can be handled (${Number.MAX_SAFE_INTEGER})`);
    }
    this.offset += 8;
    return hi * TWO32 + lo;
  }

  /** A signed 64-bit integer as a number; values outside ±Number.MAX_SAFE_INTEGER are refused. */
  i64(what?: Label): number {
    this.need(8, what ?? 'i64');
    const v = this.view.getBigInt64(this.offset, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER)) {
      throw this.error(`${text(what, 'i64')} is ${v}, outside the range that can be handled (±${Number.MAX_SAFE_INTEGER})`);
    }
    this.offset += 8;
    return Number(v);
  }

  /** One byte that must be 0 or 1. */
  bool(what?: Label): boolean {
    const v = this.u8(what ?? 'bool');
    if (v > 1) { this.offset--; throw this.error(`${text(what, 'bool')} is ${v}, not 0 or 1`); }
    return v === 1;
  }

  /** A u64 byte length, then that many bytes of UTF-8 (invalid sequences become U+FFFD). */
  string(what?: Label): string {
    const start = this.offset;
    const n = this.u64(what === undefined ? 'string length' : () => `${text(what, '')} length`);
    if (n > this.maxStringLength) {
      this.offset = start;
      throw this.error(`${text(what, 'string')} has length ${n}, more than the limit of ${this.maxStringLength}`);
    }
    if (n > this.remaining) {
      this.offset = start;
      throw this.error(`truncated while reading ${text(what, 'string')} (length ${n} at offset ${start + 8}, `
        + `${this.remaining - 8} bytes left)`);
    }
    const s = this.buf.toString('utf8', this.offset, this.offset + n);
    this.offset += n;
    return s;
  }

  /** `n` bytes, as a view into the buffer (not a copy). */
  take(n: number, what?: Label): Uint8Array {
    this.need(n, what);
    const v = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }

  skip(n: number, what?: Label): void { this.need(n, what); this.offset += n; }
}

type TypedCtor<T> = { new(buffer: ArrayBuffer, byteOffset: number, length: number): T; readonly BYTES_PER_ELEMENT: number };

/**
 * `count` elements of a little-endian typed array starting at `bytes[offset]`: a view into the
 * buffer when it is suitably aligned (and the host little-endian), else an aligned copy.
 * The caller checks the range first.
 */
export function alignedView<T>(bytes: Uint8Array, offset: number, count: number, ctor: TypedCtor<T>): T {
  const size = ctor.BYTES_PER_ELEMENT;
  const abs = bytes.byteOffset + offset;
  if (LITTLE_ENDIAN && abs % size === 0) return new ctor(bytes.buffer as ArrayBuffer, abs, count);
  const copy = new Uint8Array(count * size); // (not bytes.slice: on a Buffer that is a view)
  copy.set(bytes.subarray(offset, offset + count * size));
  if (!LITTLE_ENDIAN && size > 1) {
    for (let i = 0; i < copy.length; i += size) copy.subarray(i, i + size).reverse();
  }
  return new ctor(copy.buffer as ArrayBuffer, 0, count);
}

/** Little-endian bytes of a typed array (a view when the host is little-endian). */
export function leBytes(a: ArrayBufferView): Uint8Array {
  const u8 = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const size = (a as unknown as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1;
  if (LITTLE_ENDIAN || size === 1) return u8;
  const copy = new Uint8Array(u8);
  for (let i = 0; i < copy.length; i += size) copy.subarray(i, i + size).reverse();
  return copy;
}

/** A growable little-endian byte buffer. */
export class BinaryWriter {
  private buf = Buffer.alloc(1024);
  private view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  length = 0;

  private reserve(n: number): number {
    if (this.length + n > this.buf.length) {
      let cap = this.buf.length * 2;
      while (cap < this.length + n) cap *= 2;
      const next = Buffer.alloc(cap);
      this.buf.copy(next, 0, 0, this.length);
      this.buf = next;
      this.view = new DataView(next.buffer, next.byteOffset, next.byteLength);
    }
    const at = this.length;
    this.length += n;
    return at;
  }

  u8(v: number): this { const at = this.reserve(1); this.view.setUint8(at, v); return this; }
  i8(v: number): this { const at = this.reserve(1); this.view.setInt8(at, v); return this; }
  u16(v: number): this { const at = this.reserve(2); this.view.setUint16(at, v, true); return this; }
  i16(v: number): this { const at = this.reserve(2); this.view.setInt16(at, v, true); return this; }
  u32(v: number): this { const at = this.reserve(4); this.view.setUint32(at, v, true); return this; }
  i32(v: number): this { const at = this.reserve(4); this.view.setInt32(at, v, true); return this; }
  f32(v: number): this { const at = this.reserve(4); this.view.setFloat32(at, v, true); return this; }
  f64(v: number): this { const at = this.reserve(8); this.view.setFloat64(at, v, true); return this; }
  u64(v: number): this { const at = this.reserve(8); this.view.setBigUint64(at, BigInt(v), true); return this; }
  i64(v: number): this { const at = this.reserve(8); this.view.setBigInt64(at, BigInt(v), true); return this; }
  bool(v: boolean): this { return this.u8(v ? 1 : 0); }
  string(s: string): this {
    const n = Buffer.byteLength(s, 'utf8');
    this.u64(n);
    const at = this.reserve(n);
    this.buf.write(s, at, n, 'utf8');
    return this;
  }
  bytes(b: Uint8Array): this { const at = this.reserve(b.length); this.buf.set(b, at); return this; }
  /** Zero bytes up to the next multiple of `alignment`. */
  pad(alignment: number): this { this.reserve((alignment - (this.length % alignment)) % alignment); return this; }
  /** The bytes written so far (a view). */
  finish(): Buffer { return this.buf.subarray(0, this.length); }
}

/** fsync of a folder: makes a rename in it durable on POSIX (Windows cannot open folders; best effort). */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    /* best effort */
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Writes `chunks` to a temp file beside `path` (`<path>.tmp-<pid>`), fsyncs it, renames it over
 * `path` and fsyncs the folder: readers see the old file or the new one, never half of one.
 */
export function writeFileAtomic(path: string, chunks: Iterable<Uint8Array>): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    try {
      for (const c of chunks) {
        let done = 0;
        while (done < c.length) done += writeSync(fd, c, done, c.length - done);
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    // Node's ENOSPC message names no file: say which write ran out of space.
    if ((e as NodeJS.ErrnoException).code === 'ENOSPC') throw Object.assign(new Error(`${path}: no space left on the device (writing ${tmp}); free some space and try again`), { code: 'ENOSPC' });
    throw e;
  }
  fsyncDir(dirname(path));
}
