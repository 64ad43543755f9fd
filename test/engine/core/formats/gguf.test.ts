import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FormatError } from '../../../../src/engine/core/formats/binary';
import { f16ToF32, f32ToBf16 } from '../../../../src/engine/core/formats/float16';
import {
  GgufType, GgufTypedValue, GgufValue, GgufWriteTensor, parseGguf, readGguf, writeGguf,
} from '../../../../src/engine/core/formats/gguf';
import { sharedPath } from '../../../helpers/shared';
import { q8_0Blocks } from './fixtures';

const STORIES = () => sharedPath('models', 'stories260K', 'stories260K.gguf');

describe('formats/gguf', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'adapt-gguf-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads stories260K: metadata, tensor infos and every tensor', () => {
    const f = readGguf(STORIES());
    assert.equal(f.version, 3);
    assert.equal(f.alignment, 32);
    assert.equal(f.dataOffset, 14176);
    const m = f.metadata;
    assert.equal(m.get('general.architecture'), 'llama');
    assert.equal(m.get('llama.embedding_length'), 64);
    assert.equal(m.get('llama.block_count'), 5);
    assert.equal(m.get('llama.attention.head_count_kv'), 4);
    assert.equal(m.get('llama.attention.layer_norm_rms_epsilon'), Math.fround(1e-5));
    assert.equal(m.get('tokenizer.ggml.seperator_token_id'), 4294967295);
    const tokens = m.get('tokenizer.ggml.tokens') as string[];
    assert.equal(tokens.length, 512);
    assert.deepEqual(tokens.slice(0, 3), ['<unk>', '<s>', '</s>']);
    assert.equal((m.get('tokenizer.ggml.scores') as number[]).length, 512);
    assert.deepEqual((m.get('tokenizer.ggml.token_type') as number[]).slice(0, 3), [2, 3, 3]);
    assert.deepEqual(f.typedMetadata.get('tokenizer.ggml.token_type')!.type, GgufType.ARRAY);
    assert.equal((f.typedMetadata.get('tokenizer.ggml.token_type') as { itemType: number }).itemType, GgufType.INT32);
    assert.equal(f.typedMetadata.get('llama.block_count')!.type, GgufType.UINT32);

    assert.equal(f.tensors.length, 48);
    const emb = f.tensor('token_embd.weight')!;
    assert.deepEqual(emb.ne, [64, 512]);
    assert.deepEqual(emb.shape, [512, 64]);
    assert.equal(emb.typeName, 'F32');
    assert.equal(emb.byteSize, 512 * 64 * 4);
    assert.deepEqual(f.tensor('blk.0.attn_k.weight')!.shape, [32, 64]);
    assert.deepEqual(f.tensor('blk.0.ffn_down.weight')!.shape, [64, 172]);
    assert.deepEqual(f.tensor('output_norm.weight')!.shape, [64]);
    for (const t of f.tensors) {
      const data = f.loadTensor(t.name);
      assert.equal(data.length, t.shape.reduce((a, b) => a * b, 1));
      assert.ok(data.every(Number.isFinite), t.name);
    }
    const e = f.loadTensor('token_embd.weight');
    assert.equal(e[0], Math.fround(-0.29474878311157227));
    assert.equal(e[64], Math.fround(-0.12708568572998047)); // row 1, column 0
    const down = f.loadTensor('blk.0.ffn_down.weight');
    assert.equal(down[172], Math.fround(0.03677805885672569)); // row 1 of [64, 172]
    assert.deepEqual([...f.loadTensor('output_norm.weight').slice(0, 2)], [Math.fround(2.4583089351654053), Math.fround(1.3673226833343506)]);
    assert.throws(() => f.loadTensor('nope'), /stories260K\.gguf: has no tensor "nope"/);
  });

  it('writes stories260K back byte for byte from what it read', () => {
    const f = readGguf(STORIES());
    const out = join(dir, 'copy.gguf');
    writeGguf(out, f.typedMetadata, f.tensors.map((t) => ({ name: t.name, shape: t.shape, type: t.type, raw: f.tensorBytes(t.name) })));
    assert.deepEqual(readdirSync(dir).filter((n) => n.includes('.tmp')), [], 'no temp file left');
    assert.ok(readFileSync(out).equals(readFileSync(STORIES())));
  });

  it('reads the vocab-only files (no tensors, no data section) quickly', () => {
    const t0 = Date.now();
    const spm = readGguf(sharedPath('fixtures', 'tokenizers', 'ggml-vocab-llama-spm.gguf'));
    const gpt2 = readGguf(sharedPath('fixtures', 'tokenizers', 'ggml-vocab-gpt-2.gguf'));
    assert.ok(Date.now() - t0 < 2000);
    assert.equal(spm.tensors.length, 0);
    assert.equal(spm.metadata.get('tokenizer.ggml.model'), 'llama');
    assert.equal((spm.metadata.get('tokenizer.ggml.tokens') as string[]).length, 32000);
    assert.equal((spm.metadata.get('tokenizer.ggml.tokens') as string[])[1], '<s>');
    assert.equal(spm.metadata.get('tokenizer.ggml.add_bos_token'), true);
    assert.equal(spm.metadata.get('tokenizer.ggml.add_eos_token'), false);
    assert.equal(gpt2.metadata.get('general.architecture'), 'gpt2');
    assert.equal((gpt2.metadata.get('tokenizer.ggml.tokens') as string[]).length, 50257);
    const merges = gpt2.metadata.get('tokenizer.ggml.merges') as string[];
    assert.equal(merges.length, 50000);
    assert.equal(merges[0], 'Ġ t');
    assert.equal(gpt2.metadata.get('tokenizer.ggml.eos_token_id'), 50256);
  });

  it('round-trips F32, F16, BF16 and metadata of every type', () => {
    const p = join(dir, 'rt.gguf');
    const typed: ({ key: string } & GgufTypedValue)[] = [
      { key: 'u8', type: GgufType.UINT8, value: 255 },
      { key: 'i8', type: GgufType.INT8, value: -128 },
      { key: 'u16', type: GgufType.UINT16, value: 65535 },
      { key: 'i16', type: GgufType.INT16, value: -32768 },
      { key: 'u32', type: GgufType.UINT32, value: 4294967295 },
      { key: 'i32', type: GgufType.INT32, value: -2147483648 },
      { key: 'f32', type: GgufType.FLOAT32, value: Math.fround(0.1) },
      { key: 'bool', type: GgufType.BOOL, value: true },
      { key: 'str', type: GgufType.STRING, value: 'héllo ✓' },
      { key: 'u64', type: GgufType.UINT64, value: 2 ** 53 - 1 },
      { key: 'i64', type: GgufType.INT64, value: -(2 ** 53 - 1) },
      { key: 'f64', type: GgufType.FLOAT64, value: Math.PI },
      { key: 'strs', type: GgufType.ARRAY, itemType: GgufType.STRING, value: ['a', '', 'ccc'] },
      { key: 'f32s', type: GgufType.ARRAY, itemType: GgufType.FLOAT32, value: [1.5, -2] },
      { key: 'empty', type: GgufType.ARRAY, itemType: GgufType.UINT8, value: [] },
      {
        key: 'nested', type: GgufType.ARRAY, itemType: GgufType.ARRAY, value: [
          { type: GgufType.ARRAY, itemType: GgufType.INT16, value: [1, -2] },
          { type: GgufType.ARRAY, itemType: GgufType.ARRAY, value: [{ type: GgufType.ARRAY, itemType: GgufType.BOOL, value: [false] }] },
        ],
      },
    ];
    const a = new Float32Array([1, 2, 3, 4, 5, 6]);
    const h = new Float32Array([0.5, -1.25, 65504, 1e-7]);
    const b = new Float32Array([1, -3, 1.00390625, 3.1415]);
    const tensors: GgufWriteTensor[] = [
      { name: 'a', shape: [2, 3], data: a },
      { name: 'h', shape: [4], data: h, type: 'F16' },
      { name: 'b', shape: [2, 1, 2], data: b, type: 'BF16' },
    ];
    writeGguf(p, typed, tensors);
    const f = readGguf(p);
    assert.deepEqual([...f.typedMetadata].map(([key, v]) => ({ key, ...v })), typed);
    assert.deepEqual(f.metadata.get('nested'), [[1, -2], [[false]]]);
    assert.deepEqual(f.tensor('a')!.ne, [3, 2]);
    assert.deepEqual(f.tensor('a')!.shape, [2, 3]);
    assert.deepEqual(f.tensor('b')!.shape, [2, 1, 2]);
    for (const t of f.tensors) assert.equal((f.dataOffset + t.offset) % 32, 0);
    assert.deepEqual(f.loadTensor('a'), a);
    assert.deepEqual([...f.loadTensor('h')], [0.5, -1.25, 65504, f16ToF32(0x0001) * 2]); // 1e-7 → nearest subnormal (2 × 2^-24)
    assert.deepEqual([...f.loadTensor('b')], [...b].map((x) => { const u = new Uint32Array([f32ToBf16(x) << 16]); return new Float32Array(u.buffer)[0]; }));

    // read → write → read again gives the same metadata
    const p2 = join(dir, 'rt2.gguf');
    writeGguf(p2, f.typedMetadata, []);
    assert.deepEqual(readGguf(p2).typedMetadata, f.typedMetadata);
  });

  it('infers types for plain metadata values', () => {
    const p = join(dir, 'plain.gguf');
    const plain = new Map<string, GgufValue | GgufTypedValue>([
      ['n', 7], ['neg', -7], ['big', 2 ** 40], ['x', 0.5], ['s', 'str'], ['b', false], ['ids', [1, -1]], ['toks', ['a', 'b']],
      ['nested', [[1], [2, 3]]], ['typed', { type: GgufType.UINT8, value: 3 }],
    ]);
    writeGguf(p, plain, []);
    const f = readGguf(p);
    const types = Object.fromEntries([...f.typedMetadata].map(([k, v]) => [k, v.type === GgufType.ARRAY ? `A${v.itemType}` : v.type]));
    assert.deepEqual(types, { n: 4, neg: 5, big: 10, x: 6, s: 8, b: 7, ids: 'A5', toks: 'A8', nested: 'A9', typed: 0 });
    assert.deepEqual(f.metadata.get('nested'), [[1], [2, 3]]);
    assert.throws(() => writeGguf(p, new Map([['m', [1, 'a']]]), []), /mixes number and string/);
    assert.throws(() => writeGguf(p, [{ key: 'k', type: GgufType.UINT8, value: 256 }], []), /metadata "k": 256 is not a valid UINT8/);
  });

  it('dequantises Q8_0 blocks built by hand', () => {
    const p = join(dir, 'q8.gguf');
    const q = new Int8Array(64);
    for (let i = 0; i < 64; i++) q[i] = ((i * 37) % 255) - 127;
    const scales = [0.0625, -0.5];
    writeGguf(p, new Map(), [{ name: 'w', shape: [1, 64], type: 'Q8_0', raw: q8_0Blocks(q, scales) }]);
    const f = readGguf(p);
    assert.equal(f.tensor('w')!.typeName, 'Q8_0');
    assert.equal(f.tensor('w')!.byteSize, 68);
    const data = f.loadTensor('w');
    for (let i = 0; i < 64; i++) assert.equal(data[i], scales[i >> 5] * q[i]);
  });

  it('refuses unsupported tensor types by name, and honours general.alignment', () => {
    const p = join(dir, 'iq4.gguf');
    writeGguf(p, new Map([['general.alignment', { type: GgufType.UINT32, value: 64 }]]), [
      { name: 'x', shape: [1], data: new Float32Array([1]) },
      { name: 'blk.0.attn_q.weight', shape: [1, 256], type: 'IQ4_XS', raw: new Uint8Array(136) },
    ]);
    const f = readGguf(p);
    assert.equal(f.alignment, 64);
    assert.equal(f.dataOffset % 64, 0);
    assert.equal(f.tensor('blk.0.attn_q.weight')!.offset, 64);
    assert.throws(() => f.loadTensor('blk.0.attn_q.weight'), (e: unknown) => e instanceof FormatError && e.message
      === 'iq4.gguf: tensor "blk.0.attn_q.weight" has type IQ4_XS, which is not supported (supported: F32, F16, BF16, '
      + 'Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K)');
    assert.equal(f.tensorBytes('blk.0.attn_q.weight').length, 136);
  });

  it('reads version 2 and refuses versions 1 and 4', () => {
    const p = join(dir, 'v.gguf');
    writeGguf(p, new Map([['k', 'v']]), [{ name: 't', shape: [2], data: new Float32Array([1, 2]) }]);
    const buf = readFileSync(p);
    buf.writeUInt32LE(2, 4);
    const v2 = parseGguf(buf, 'v2.gguf');
    assert.equal(v2.version, 2);
    assert.deepEqual([...v2.loadTensor('t')], [1, 2]);
    buf.writeUInt32LE(1, 4);
    assert.throws(() => parseGguf(buf, 'v1.gguf'), /v1\.gguf: GGUF version 1 is not supported/);
    buf.writeUInt32LE(4, 4);
    assert.throws(() => parseGguf(buf, 'v4.gguf'), /v4\.gguf: GGUF version 4 is not supported \(supported: 2, 3\)/);
    buf.writeUInt32BE(3, 4);
    assert.throws(() => parseGguf(buf, 'be.gguf'), /big-endian/);
  });
});
