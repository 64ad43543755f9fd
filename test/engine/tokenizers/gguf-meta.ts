// Minimal GGUF metadata reader for the tokenizer tests (reads only the key/value header).
import { readFileSync } from 'node:fs';

export function readGgufMetadata(path: string): Map<string, unknown> {
  const buf = readFileSync(path);
  let off = 0;
  const magic = buf.toString('latin1', 0, 4);
  if (magic !== 'GGUF') throw new Error(`${path}: not a GGUF file`);
  off = 4;
  const version = buf.readUInt32LE(off); off += 4;
  const u64 = (): number => { const v = Number(buf.readBigUInt64LE(off)); off += 8; return v; };
  const count = (): number => { if (version === 1) { const v = buf.readUInt32LE(off); off += 4; return v; } return u64(); };
  count(); // tensor count
  const nKv = count();
  const str = (): string => { const n = count(); const s = buf.toString('utf8', off, off + n); off += n; return s; };
  const value = (type: number): unknown => {
    let v: unknown;
    switch (type) {
      case 0: v = buf.readUInt8(off); off += 1; break;
      case 1: v = buf.readInt8(off); off += 1; break;
      case 2: v = buf.readUInt16LE(off); off += 2; break;
      case 3: v = buf.readInt16LE(off); off += 2; break;
      case 4: v = buf.readUInt32LE(off); off += 4; break;
      case 5: v = buf.readInt32LE(off); off += 4; break;
      case 6: v = buf.readFloatLE(off); off += 4; break;
      case 7: v = buf.readUInt8(off) !== 0; off += 1; break;
      case 8: v = str(); break;
      case 9: {
        const t = buf.readUInt32LE(off); off += 4;
        const n = count();
        const arr: unknown[] = new Array(n);
        for (let i = 0; i < n; i++) arr[i] = value(t);
        v = arr; break;
      }
      case 10: v = u64(); break;
      case 11: v = Number(buf.readBigInt64LE(off)); off += 8; break;
      case 12: v = buf.readDoubleLE(off); off += 8; break;
      default: throw new Error(`${path}: unknown GGUF value type ${type}`);
    }
    return v;
  };
  const meta = new Map<string, unknown>();
  for (let i = 0; i < nKv; i++) {
    const key = str();
    const type = buf.readUInt32LE(off); off += 4;
    meta.set(key, value(type));
  }
  return meta;
}
