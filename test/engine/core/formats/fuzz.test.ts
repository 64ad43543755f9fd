// Hostile and damaged files: every case must either parse or throw a FormatError naming the
// file — never another exception, a hang or a huge allocation.
import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BinaryWriter, FormatError } from '../../../../src/engine/core/formats/binary';
import { GgufType, parseGguf, readGguf, writeGguf } from '../../../../src/engine/core/formats/gguf';
import { parseSafetensors, readSafetensors, writeSafetensors } from '../../../../src/engine/core/formats/safetensors';
import { sharedPath } from '../../../helpers/shared';
import { bigU64, ggufHead, makeSafetensors, prng, q8_0Blocks } from './fixtures';

type Outcome = 'ok' | 'error';

/** Runs `fn`; a FormatError naming `file` is fine, anything else fails the test with `what`. */
function clean(what: string, file: string, fn: () => void): Outcome {
  const t0 = performance.now();
  try {
    fn();
    return 'ok';
  } catch (e) {
    if (e instanceof FormatError && e.message.includes(file)) return 'error';
    const desc = e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e);
    throw new assert.AssertionError({ message: `${what}: expected a FormatError naming ${file}, got ${desc}` });
  } finally {
    const ms = performance.now() - t0;
    assert.ok(ms < 1000, `${what}: took ${ms.toFixed(0)} ms`);
  }
}

function loadGguf(bytes: Uint8Array, file: string): void {
  const f = parseGguf(bytes, file);
  for (const t of f.tensors) {
    try {
      const data = f.loadTensor(t.name);
      assert.equal(data.length, t.ne.reduce((a, b) => a * b, 1));
    } catch (e) {
      if (!(e instanceof FormatError)) throw e;
      assert.match(e.message, /has type \w+, which is not supported/);
    }
  }
}

function loadSafetensors(bytes: Uint8Array, file: string): void {
  for (const t of parseSafetensors(bytes, file).tensors.values()) {
    assert.equal(t.data.length, t.shape.reduce((a, b) => a * b, 1));
  }
}

/** Truncations at `positions` and `variants` copies with 1–4 random bytes changed in [from, to). */
function damage(name: string, file: string, bytes: Buffer, load: (b: Uint8Array, f: string) => void,
  positions: number[], variants: number, from = 0, to = bytes.length): Record<Outcome, number> {
  const tally: Record<Outcome, number> = { ok: 0, error: 0 };
  for (const n of positions) tally[clean(`${name} truncated to ${n} bytes`, file, () => load(bytes.subarray(0, n), file))]++;
  const rand = prng(0x5eed ^ bytes.length);
  for (let v = 0; v < variants; v++) {
    const changes: [number, number][] = [];
    const k = 1 + Math.floor(rand() * 4);
    for (let j = 0; j < k; j++) {
      const at = from + Math.floor(rand() * (to - from));
      const r = rand();
      const value = r < 0.25 ? 0xff : r < 0.4 ? 0 : r < 0.7 ? bytes[at] ^ (1 << Math.floor(rand() * 8)) : Math.floor(rand() * 256);
      changes.push([at, bytes[at]]);
      bytes[at] = value;
    }
    try {
      tally[clean(`${name} variant ${v} (${changes.map(([at]) => `@${at}=${bytes[at]}`).join(' ')})`, file, () => load(bytes, file))]++;
    } finally {
      for (let j = changes.length - 1; j >= 0; j--) bytes[changes[j][0]] = changes[j][1];
    }
  }
  return tally;
}

const every = (n: number) => Array.from({ length: n }, (_, i) => i);
const spread = (n: number, count: number) => Array.from({ length: count }, (_, i) => Math.floor((i * n) / count));

describe('formats fuzz', function () {
  this.timeout(30000);
  let dir: string;
  let smallGguf: Buffer;
  let smallSt: Buffer;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'adapt-fuzz-'));
    const q = new Int8Array(32).map((_, i) => i * 3 - 50);
    writeGguf(join(dir, 'small.gguf'), [
      { key: 'general.architecture', type: GgufType.STRING, value: 'llama' },
      { key: 'general.alignment', type: GgufType.UINT32, value: 32 },
      { key: 'n', type: GgufType.UINT64, value: 12345 },
      { key: 'i', type: GgufType.INT64, value: -5 },
      { key: 'f', type: GgufType.FLOAT64, value: 0.25 },
      { key: 'b', type: GgufType.BOOL, value: true },
      { key: 'tokens', type: GgufType.ARRAY, itemType: GgufType.STRING, value: ['<unk>', '<s>', 'a', 'bb'] },
      { key: 'scores', type: GgufType.ARRAY, itemType: GgufType.FLOAT32, value: [0, -1, -2, -3] },
      { key: 'nested', type: GgufType.ARRAY, itemType: GgufType.ARRAY, value: [{ type: GgufType.ARRAY, itemType: GgufType.UINT16, value: [7] }] },
    ], [
      { name: 'w', shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
      { name: 'h', shape: [4], data: new Float32Array([1, 2, 3, 4]), type: 'F16' },
      { name: 'bf', shape: [2], data: new Float32Array([1, 2]), type: 'BF16' },
      { name: 'q', shape: [1, 32], type: 'Q8_0', raw: q8_0Blocks(q, [0.5]) },
      { name: 'k', shape: [256], type: 'Q4_K', raw: new Uint8Array(144) },
    ]);
    smallGguf = readFileSync(join(dir, 'small.gguf'));
    writeSafetensors(join(dir, 'small.safetensors'), [
      { name: 'w', shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
      { name: 'h', shape: [3], data: new Float32Array([1, 2, 3]), dtype: 'F16' },
      { name: 'e', shape: [0], data: new Float32Array(0) },
    ], { note: 'x' });
    smallSt = readFileSync(join(dir, 'small.safetensors'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('GGUF: a small file truncated at every byte and with 400 damaged variants', () => {
    assert.doesNotThrow(() => loadGguf(smallGguf, 'small.gguf'));
    const t = damage('small.gguf', 'small.gguf', smallGguf, loadGguf, every(smallGguf.length), 400);
    assert.ok(t.error > smallGguf.length, JSON.stringify(t));
  });

  it('GGUF: stories260K truncated at 200 positions and with 300 damaged headers', () => {
    const bytes = readFileSync(sharedPath('models', 'stories260K', 'stories260K.gguf'));
    const header = parseGguf(bytes, 'stories260K.gguf').dataOffset;
    const positions = [...spread(header, 180), ...spread(bytes.length - header, 20).map((p) => header + p + 1)];
    const t = damage('stories260K', 'stories260K.gguf', bytes, loadGguf, positions, 300, 0, header);
    assert.equal(t.error >= 200, true, JSON.stringify(t));
  });

  it('GGUF: vocab file damaged (large string arrays)', () => {
    const bytes = readFileSync(sharedPath('fixtures', 'tokenizers', 'ggml-vocab-llama-spm.gguf'));
    damage('vocab', 'ggml-vocab-llama-spm.gguf', bytes, loadGguf, spread(bytes.length, 40), 40, 0, 2000);
  });

  it('safetensors: a small file truncated at every byte and with 400 damaged variants', () => {
    assert.doesNotThrow(() => loadSafetensors(smallSt, 'small.safetensors'));
    const t = damage('small.safetensors', 'small.safetensors', smallSt, loadSafetensors, every(smallSt.length), 400);
    assert.ok(t.error > smallSt.length, JSON.stringify(t));
  });

  it('safetensors: tiny_gpt2 truncated at every byte and with 300 damaged headers', () => {
    const bytes = readFileSync(sharedPath('fixtures', 'gpt2-random', 'tiny_gpt2.model.safetensors'));
    const header = 8 + Number(bytes.readBigUInt64LE(0));
    damage('tiny_gpt2', 'tiny_gpt2.model.safetensors', bytes, loadSafetensors, every(bytes.length), 300, 0, header);
  });

  it('through the file readers too', () => {
    writeFileSync(join(dir, 'cut.gguf'), smallGguf.subarray(0, 100));
    writeFileSync(join(dir, 'cut.safetensors'), smallSt.subarray(0, smallSt.length - 1));
    assert.throws(() => readGguf(join(dir, 'cut.gguf')), (e: unknown) => e instanceof FormatError && e.message.startsWith('cut.gguf: '));
    assert.throws(() => readSafetensors(join(dir, 'cut.safetensors')),
      (e: unknown) => e instanceof FormatError && /^cut\.safetensors: tensor "h": data_offsets \[24, 30\] go past the end/.test(e.message));
  });

  describe('GGUF: absurd values', () => {
    const gguf = (b: BinaryWriter | Uint8Array) => (b instanceof BinaryWriter ? b.finish() : b);
    const refuse = (what: string, bytes: BinaryWriter | Uint8Array, re: RegExp) => {
      assert.throws(() => loadGguf(gguf(bytes), 'evil.gguf'), (e: unknown) => {
        if (!(e instanceof FormatError)) throw new assert.AssertionError({ message: `${what}: ${String(e)}` });
        assert.match(e.message, /^evil\.gguf: /, what);
        assert.match(e.message, re, what);
        return true;
      });
    };
    /** One key/value, then the file ends. */
    const kv = (key: string, type: number, body: (w: BinaryWriter) => void) => {
      const w = ggufHead(0, 1).string(key).u32(type);
      body(w);
      return w;
    };
    /** A file with tensor infos and `dataBytes` zero bytes of data. */
    const tensorFile = (infos: { name: string; ne: (number | bigint)[]; type: number; offset: number | bigint; nDims?: number }[], dataBytes = 0) => {
      const w = ggufHead(infos.length, 0);
      for (const t of infos) {
        w.string(t.name).u32(t.nDims ?? t.ne.length);
        for (const d of t.ne) bigU64(w, BigInt(d));
        w.u32(t.type);
        bigU64(w, BigInt(t.offset));
      }
      w.pad(32);
      w.bytes(new Uint8Array(dataBytes));
      return w;
    };

    it('bad magic, empty file, counts', () => {
      refuse('magic', Buffer.from('GGUXxxxxxxxxxxxxxxxxxxxxxx'), /not a GGUF file/);
      refuse('empty', new Uint8Array(0), /truncated while reading magic/);
      refuse('tensor count 2^64-1', ggufHead(2n ** 64n - 1n, 0), /tensor count is 18446744073709551615/);
      refuse('tensor count 2^50', ggufHead(2 ** 50, 0), /claims 0 metadata entries and 1125899906842624 tensors/);
      refuse('kv count 2^40', ggufHead(0, 2 ** 40), /claims 1099511627776 metadata entries/);
      refuse('kv count 1000', ggufHead(0, 1000).u64(3).bytes(Buffer.from('abc')), /claims 1000 metadata entries/);
    });

    it('keys and values', () => {
      refuse('key length 2^40', ggufHead(0, 1).u64(2 ** 40).u64(0), /metadata key #0 has length 1099511627776, more than the limit/);
      refuse('key length 1000', ggufHead(0, 1).u64(1000).bytes(new Uint8Array(20)), /truncated while reading metadata key #0/);
      refuse('value type 13', kv('k', 13, (w) => w.u64(0)), /metadata key #0 \("k"\) value has unknown type 13/);
      refuse('value type 2^32-1', kv('k', 0xffffffff, (w) => w.u64(0)), /unknown type 4294967295/);
      refuse('bool 7', kv('k', GgufType.BOOL, (w) => w.u8(7).pad(16)), /metadata key #0 \("k"\) value is 7, not 0 or 1/);
      refuse('u64 2^63', kv('k', GgufType.UINT64, (w) => bigU64(w, 2n ** 63n)), /metadata key #0 \("k"\) value is 9223372036854775808/);
      refuse('string length 2^50', kv('k', GgufType.STRING, (w) => w.u64(2 ** 50)), /metadata key #0 \("k"\) value has length/);
      refuse('string cut', kv('k', GgufType.STRING, (w) => w.u64(50).u32(0)), /truncated while reading metadata key #0 \("k"\) value/);
      refuse('item type 99', kv('k', GgufType.ARRAY, (w) => w.u32(99).u64(1)), /metadata key #0 \("k"\) value item has unknown type 99/);
      refuse('array 2^40', kv('k', GgufType.ARRAY, (w) => w.u32(GgufType.UINT8).u64(2 ** 40)), /value is an array of 1099511627776 UINT8, more than/);
      refuse('array 2^53-1', kv('k', GgufType.ARRAY, (w) => w.u32(GgufType.STRING).u64(2 ** 53 - 1)), /is an array of 9007199254740991 STRING/);
      refuse('array length 2^64-1', kv('k', GgufType.ARRAY, (w) => bigU64(w.u32(GgufType.STRING), 2n ** 64n - 1n)), /length is 18446744073709551615/);
      refuse('string in array', kv('k', GgufType.ARRAY, (w) => w.u32(GgufType.STRING).u64(2).string('ok').u64(2 ** 45)),
        /metadata key #0 \("k"\) value item 1 has length 35184372088832/);
      const deep = kv('k', GgufType.ARRAY, (w) => { for (let i = 0; i < 5000; i++) w.u32(GgufType.ARRAY).u64(1); w.u32(0).u64(0); });
      refuse('arrays nested 5000 deep', deep, /nests arrays more than 16 deep/);
      refuse('duplicate key', ggufHead(0, 2).string('a').u32(GgufType.UINT8).u8(1).string('a').u32(GgufType.UINT8).u8(2).pad(32),
        /metadata key #1 \("a"\) appears twice/);
      for (const [v, type] of [[0, GgufType.UINT32], [3, GgufType.UINT32], [2 ** 31, GgufType.UINT32], [-32, GgufType.INT32]] as const) {
        refuse(`alignment ${v}`, kv('general.alignment', type, (w) => (type === GgufType.INT32 ? w.i32(v) : w.u32(v)).pad(16)), /general\.alignment is .*power of two/);
      }
      refuse('alignment string', kv('general.alignment', GgufType.STRING, (w) => w.string('32').pad(16)), /general\.alignment is "32"/);
    });

    it('tensor infos', () => {
      const f32 = 0;
      refuse('n_dims 0', tensorFile([{ name: 't', ne: [], type: f32, offset: 0, nDims: 0 }]), /tensor "t" has 0 dimensions \(1 to 8 supported\)/);
      refuse('n_dims 9', tensorFile([{ name: 't', ne: [1, 1, 1, 1, 1, 1, 1, 1, 1], type: f32, offset: 0 }]), /has 9 dimensions/);
      refuse('n_dims 2^32-1', tensorFile([{ name: 't', ne: [1], type: f32, offset: 0, nDims: 0xffffffff }]), /has 4294967295 dimensions/);
      refuse('dims 2^40 x 2^40', tensorFile([{ name: 't', ne: [2 ** 40, 2 ** 40], type: f32, offset: 0 }]), /dimensions \[1099511627776, 1099511627776\] are absurdly large/);
      refuse('dim 2^64-1', tensorFile([{ name: 't', ne: [2n ** 64n - 1n], type: f32, offset: 0 }]), /tensor "t" dimension 0 is 18446744073709551615/);
      refuse('dim 2^52', tensorFile([{ name: 't', ne: [2 ** 52], type: f32, offset: 0 }], 64), /tensor "t" data .* goes past the end of the file/);
      refuse('type 99', tensorFile([{ name: 't', ne: [4], type: 99, offset: 0 }], 16), /tensor "t" has unknown type 99/);
      refuse('type 4 (removed)', tensorFile([{ name: 't', ne: [4], type: 4, offset: 0 }], 16), /tensor "t" has unknown type 4/);
      refuse('offset 2^50', tensorFile([{ name: 't', ne: [4], type: f32, offset: 2 ** 50 }], 16), /goes past the end/);
      refuse('offset 2^64-32', tensorFile([{ name: 't', ne: [4], type: f32, offset: 2n ** 64n - 32n }], 16), /data offset is 18446744073709551584/);
      refuse('offset unaligned', tensorFile([{ name: 't', ne: [4], type: f32, offset: 7 }], 64), /data offset 7 is not a multiple of the alignment 32/);
      refuse('data cut', tensorFile([{ name: 't', ne: [4], type: f32, offset: 0 }], 15), /tensor "t" data \(16 bytes at \d+\) goes past the end/);
      refuse('duplicate tensor', tensorFile([{ name: 't', ne: [4], type: f32, offset: 0 }, { name: 't', ne: [4], type: f32, offset: 32 }], 64),
        /tensor name "t" appears twice/);
      refuse('Q8_0 with 31 columns', tensorFile([{ name: 'q', ne: [31, 2], type: 8, offset: 0 }], 128), /tensor "q" has 31 columns, not a multiple of the Q8_0 block size 32/);
      refuse('tensor name length', ggufHead(1, 0).u64(2 ** 33).pad(64), /tensor #0 name/);
      // and the same builder gives a valid file when nothing is absurd
      const ok = parseGguf(gguf(tensorFile([{ name: 't', ne: [4, 2], type: f32, offset: 0 }], 32)), 'evil.gguf');
      assert.deepEqual(ok.tensors[0].shape, [2, 4]);
    });
  });

  describe('safetensors: absurd values', () => {
    const refuse = (what: string, bytes: Uint8Array, re: RegExp) => {
      assert.throws(() => loadSafetensors(bytes, 'evil.safetensors'), (e: unknown) => {
        if (!(e instanceof FormatError)) throw new assert.AssertionError({ message: `${what}: ${String(e)}` });
        assert.match(e.message, /^evil\.safetensors: /, what);
        assert.match(e.message, re, what);
        return true;
      });
    };
    const lenThen = (len: bigint, rest: Uint8Array = new Uint8Array(0)) => {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(len);
      return Buffer.concat([b, rest]);
    };
    const one = (entry: unknown, data = 16) => makeSafetensors({ x: entry }, new Uint8Array(data));

    it('header length and JSON', () => {
      refuse('short', Buffer.from([1, 2, 3]), /truncated while reading header length/);
      refuse('len 2^64-1', lenThen(2n ** 64n - 1n), /header length is 18446744073709551615/);
      refuse('len 2^53-1', lenThen(2n ** 53n - 1n, Buffer.from('{}')), /header length 9007199254740991 is more than the 2 bytes after it/);
      refuse('len 1000', lenThen(1000n, Buffer.from('{"a":1}')), /header length 1000 is more than the 7 bytes after it/);
      refuse('not JSON', makeSafetensors('{"x": {'), /header is not valid JSON/);
      refuse('deep JSON', makeSafetensors('['.repeat(200000)), /header is not valid JSON/);
      for (const h of ['[]', 'null', '42', '"s"']) refuse(`header ${h}`, makeSafetensors(h), /header is not a JSON object/);
      refuse('bad UTF-8', Buffer.concat([lenThen(4n), Buffer.from([0x7b, 0xff, 0xfe, 0x7d])]), /header is not valid JSON/);
      refuse('metadata array', makeSafetensors({ __metadata__: [] }), /__metadata__ is not a JSON object/);
      refuse('metadata number', makeSafetensors({ __metadata__: { a: 1 } }), /__metadata__ value of "a" is not a string/);
      assert.deepEqual(Object.getOwnPropertyDescriptor(parseSafetensors(makeSafetensors('{"__metadata__": {"__proto__": "x"}}'), 'ok.safetensors').metadata, '__proto__')?.value, 'x');
    });

    it('entries', () => {
      refuse('null entry', one(null), /tensor "x": entry is not a JSON object/);
      refuse('no dtype', one({ shape: [4], data_offsets: [0, 16] }), /tensor "x": dtype is missing/);
      refuse('dtype number', one({ dtype: 4, shape: [4], data_offsets: [0, 16] }), /tensor "x": dtype is missing or not a string/);
      for (const d of ['F8_E5M2', 'toString', '__proto__', 'BOOL', 'U64']) {
        refuse(`dtype ${d}`, one({ dtype: d, shape: [4], data_offsets: [0, 16] }), new RegExp(`tensor "x": dtype "${d}" is not supported`));
      }
      for (const s of ['4', [-1], [1.5], [1e300], null, [4, '1']]) {
        refuse(`shape ${JSON.stringify(s)}`, one({ dtype: 'F32', shape: s, data_offsets: [0, 16] }), /tensor "x": shape is not a list of non-negative integers/);
      }
      refuse('shape 1e15 x 1e15', one({ dtype: 'F32', shape: [1e15, 1e15], data_offsets: [0, 16] }), /tensor "x": shape \[1000000000000000, 1000000000000000\] of F32 needs/);
      refuse('shape 2^53-1', one({ dtype: 'F64', shape: [2 ** 53 - 1], data_offsets: [0, 16] }), /needs .* bytes but data_offsets \[0, 16\] hold 16/);
      for (const o of [[0], [0, 4, 8], [-1, 15], ['0', '16'], [0, 2 ** 60], [0.5, 16], null]) {
        refuse(`offsets ${JSON.stringify(o)}`, one({ dtype: 'F32', shape: [4], data_offsets: o }), /tensor "x": data_offsets/);
      }
      refuse('offsets reversed', one({ dtype: 'F32', shape: [0], data_offsets: [16, 0] }), /data_offsets \[16, 0\] are reversed/);
      refuse('offsets past end', one({ dtype: 'F32', shape: [4], data_offsets: [8, 24] }), /data_offsets \[8, 24\] go past the end of the data \(16 bytes/);
      refuse('length mismatch', one({ dtype: 'F16', shape: [4], data_offsets: [0, 16] }), /shape \[4\] of F16 needs 8 bytes but data_offsets \[0, 16\] hold 16/);
      refuse('later tensor', makeSafetensors({ a: { dtype: 'U8', shape: [1], data_offsets: [0, 1] }, 'b.weight': { dtype: 'I64', shape: [1], data_offsets: [1, 8] } }, new Uint8Array(9)),
        /tensor "b\.weight": shape \[1\] of I64 needs 8 bytes/);
      const pair = (a: [number, number], b: [number, number], data = 32) =>
        makeSafetensors({ a: { dtype: 'F32', shape: [(a[1] - a[0]) / 4], data_offsets: a }, b: { dtype: 'F32', shape: [(b[1] - b[0]) / 4], data_offsets: b } }, new Uint8Array(data));
      refuse('same offsets', pair([0, 16], [0, 16]), /tensor "b": data_offsets \[0, 16\] overlap those of tensor "a" \[0, 16\]/);
      refuse('partly overlapping', pair([0, 16], [8, 24]), /tensor "b": data_offsets \[8, 24\] overlap those of tensor "a" \[0, 16\]/);
      refuse('out of order, overlapping', pair([16, 32], [4, 20]), /tensor "a": data_offsets \[16, 32\] overlap those of tensor "b" \[4, 20\]/);
      refuse('one inside another', pair([0, 32], [8, 16]), /overlap those of tensor "a" \[0, 32\]/);
      // end to end in either order, gaps and empty tensors are fine
      assert.equal(parseSafetensors(pair([16, 32], [0, 16]), 'ok.safetensors').tensors.size, 2);
      assert.equal(parseSafetensors(pair([0, 8], [16, 32]), 'ok.safetensors').tensors.size, 2);
      assert.equal(parseSafetensors(pair([8, 8], [0, 16]), 'ok.safetensors').tensors.size, 2);
      const odd = parseSafetensors(makeSafetensors('{"__proto__": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}}', Buffer.from([3, 4])), 'ok.safetensors');
      assert.deepEqual([...odd.tensors.get('__proto__')!.data], [3, 4]);
    });
  });
});
