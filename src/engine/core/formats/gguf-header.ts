// Only the header of a GGUF file (metadata and tensor infos), never its tensor data: what the
// model catalogue needs to list a multi-gigabyte model. The file is read from its start in
// growing chunks until the header parses, up to `maxBytes`; long arrays (a vocabulary) are
// skipped and kept as their length only, so memory stays at the bytes read.
import { closeSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { BinaryReader, FormatError } from './binary';
import { checkType, GgufScalarType, GgufType, GgufValue, readScalar, readTensorInfo } from './gguf';

/** An array too long to keep: its item type name and length. */
export interface GgufArraySummary { arrayOf: string; length: number }

export interface GgufHeaderTensor {
  name: string;
  /** GGUF order: ne[0] varies fastest. */
  ne: number[];
  typeName: string;
  /** Number of elements. */
  count: number;
  byteSize: number;
}

export interface GgufHeader {
  path: string;
  version: number;
  fileSize: number;
  /** Bytes read to parse the header. */
  bytesRead: number;
  metadata: Map<string, GgufValue | GgufArraySummary>;
  tensors: GgufHeaderTensor[];
}

export interface GgufHeaderOptions {
  /** Give up (FormatError) on a header longer than this. Default 64 MiB. */
  maxBytes?: number;
  /** First read; doubled until the header fits. Default 256 KiB. */
  firstBytes?: number;
  /** Arrays longer than this are kept as a summary. Default 64. */
  keepArraysUpTo?: number;
}

const TYPE_NAMES = Object.keys(GgufType);
const SCALAR_SIZE = [1, 1, 2, 2, 4, 4, 4, 1, 8, 12, 8, 8, 8];
const MAX_NESTING = 16;

export function isArraySummary(v: unknown): v is GgufArraySummary {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && 'arrayOf' in v;
}

/** True when the file starts with GGUF's magic: Ollama's blobs (`sha256-…`) are GGUFs without the extension. */
export function hasGgufMagic(path: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const b = Buffer.alloc(4);
    return readSync(fd, b, 0, 4, 0) === 4 && b.toString('latin1') === 'GGUF';
  } catch {
    return false; // a folder, a missing file: not a GGUF
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export async function readGgufHeader(path: string, opts: GgufHeaderOptions = {}): Promise<GgufHeader> {
  const maxBytes = opts.maxBytes ?? 64 * 1024 * 1024;
  const fh = await open(path, 'r');
  try {
    const fileSize = (await fh.stat()).size;
    let want = Math.min(fileSize, opts.firstBytes ?? 256 * 1024, maxBytes);
    for (;;) {
      const buf = Buffer.alloc(want);
      const { bytesRead } = await fh.read(buf, 0, want, 0);
      try {
        return parseHeader(buf.subarray(0, bytesRead), path, fileSize, opts.keepArraysUpTo ?? 64);
      } catch (e) {
        const truncated = e instanceof FormatError && e.detail.startsWith('truncated');
        if (!truncated || bytesRead >= fileSize) throw e;
        if (want >= maxBytes) throw new FormatError(path, `header is longer than ${maxBytes} bytes (the limit for listing models)`);
        want = Math.min(fileSize, want * 4, maxBytes);
      }
    }
  } finally {
    await fh.close();
  }
}

function parseHeader(bytes: Uint8Array, path: string, fileSize: number, keep: number): GgufHeader {
  const r = new BinaryReader(bytes, path);
  const magic = r.take(4, 'magic');
  if (Buffer.from(magic).toString('latin1') !== 'GGUF') {
    throw r.error(`not a GGUF file (starts with ${JSON.stringify(Buffer.from(magic).toString('latin1'))}, not "GGUF")`);
  }
  const version = r.u32('version');
  if (version !== 2 && version !== 3) throw r.error(`GGUF version ${version} is not supported (supported: 2, 3)`);
  const tensorCount = r.u64('tensor count');
  const kvCount = r.u64('metadata count');
  // Counts against the whole file (not the bytes read so far): a hostile count fails here.
  if (kvCount * 13 + tensorCount * 32 > fileSize - r.offset) {
    throw r.error(`header claims ${kvCount} metadata entries and ${tensorCount} tensors, more than the file could hold`);
  }
  const metadata = new Map<string, GgufValue | GgufArraySummary>();
  for (let i = 0; i < kvCount; i++) {
    const key = r.string(() => `metadata key #${i}`);
    const type = r.u32(() => `metadata "${key}" type`);
    metadata.set(key, readValue(r, type, key, { keep, fileSize }, 0));
  }
  const tensors: GgufHeaderTensor[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const name = r.string(() => `tensor #${i} name`);
    const { ne, count, info } = readTensorInfo(r, name);
    tensors.push({ name, ne, typeName: info.name, count, byteSize: (count / info.blockSize) * info.typeSize });
  }
  return { path, version, fileSize, bytesRead: r.offset, metadata, tensors };
}

function readValue(r: BinaryReader, type: number, key: string, lim: { keep: number; fileSize: number }, depth: number): GgufValue | GgufArraySummary {
  const keep = lim.keep;
  const what = () => `metadata "${key}"`;
  if (type !== GgufType.ARRAY) return readScalar(r, checkType(r, type, what) as GgufScalarType, what);
  const itemType = r.u32(() => `${what()} item type`);
  if (itemType > 12) throw r.error(`${what()} items have unknown type ${itemType}`);
  const n = r.u64(() => `${what()} length`);
  if (n * SCALAR_SIZE[itemType] > lim.fileSize) {
    throw r.error(`${what()} is an array of ${n} ${TYPE_NAMES[itemType]}, more than the file could hold`);
  }
  const kept: GgufValue[] = [];
  for (let i = 0; i < n; i++) {
    let v: GgufValue | GgufArraySummary;
    if (itemType === GgufType.ARRAY) {
      if (depth >= MAX_NESTING) throw r.error(`${what()} nests arrays more than ${MAX_NESTING} deep`);
      v = readValue(r, GgufType.ARRAY, key, lim, depth + 1);
    } else if (itemType !== GgufType.STRING && n > keep) {
      // Fixed-size items that will not be kept: skip them all at once.
      r.skip(SCALAR_SIZE[itemType] * (n - i), () => `${what()} items`);
      break;
    } else {
      v = readScalar(r, itemType as GgufScalarType, what);
    }
    if (n <= keep && !isArraySummary(v)) kept.push(v);
  }
  return n <= keep ? kept : { arrayOf: TYPE_NAMES[itemType], length: n };
}
