// Byte helpers: GPT-2 bytes<->unicode mapping, UTF-8 encoding, byte-token names.

const encoder = new TextEncoder();

export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

/** GPT-2's `bytes_to_unicode`: printable bytes map to themselves, the rest to U+0100.. in order. */
export const BYTE_TO_UNICODE: readonly string[] = (() => {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) { bs.push(b); cs.push(256 + n); n++; }
  }
  const out = new Array<string>(256);
  for (let i = 0; i < 256; i++) out[bs[i]] = String.fromCharCode(cs[i]);
  return out;
})();

/** Inverse of BYTE_TO_UNICODE, keyed by char code. */
export const UNICODE_TO_BYTE: ReadonlyMap<number, number> = new Map(BYTE_TO_UNICODE.map((c, b) => [c.charCodeAt(0), b]));

/** Maps a string's UTF-8 bytes to the GPT-2 byte-level alphabet. */
export function toByteLevel(s: string): string {
  const bytes = utf8(s);
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += BYTE_TO_UNICODE[bytes[i]];
  return out;
}

/** Maps a byte-level string back to raw bytes; chars outside the alphabet are kept as their UTF-8. */
export function fromByteLevel(s: string): Uint8Array {
  const out: number[] = [];
  for (const ch of s) {
    const b = UNICODE_TO_BYTE.get(ch.codePointAt(0)!);
    if (b !== undefined) out.push(b);
    else for (const x of utf8(ch)) out.push(x);
  }
  return Uint8Array.from(out);
}

const HEX = '0123456789ABCDEF';

/** "<0xAB>" for a byte. */
export function byteTokenName(b: number): string {
  return `<0x${HEX[b >> 4]}${HEX[b & 15]}>`;
}

/** The byte of a "<0xAB>" token name, or -1. */
export function parseByteToken(piece: string): number {
  const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(piece);
  return m ? parseInt(m[1], 16) : -1;
}

export function concatBytes(parts: readonly Uint8Array[], total?: number): Uint8Array {
  const n = total ?? parts.reduce((s, p) => s + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}
