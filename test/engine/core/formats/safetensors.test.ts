import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FormatError } from '../../../../src/engine/core/formats/binary';
import { f32ToF16 } from '../../../../src/engine/core/formats/float16';
import {
  parseSafetensors, readSafetensors, readSafetensorsModel, writeSafetensors,
} from '../../../../src/engine/core/formats/safetensors';
import { sharedPath } from '../../../helpers/shared';
import { makeSafetensors } from './fixtures';

describe('formats/safetensors', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'adapt-st-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the fake GPT-2 checkpoint', () => {
    const f = readSafetensors(sharedPath('fixtures', 'gpt2-random', 'fake_gpt2.model.safetensors'));
    assert.deepEqual(f.metadata, { format: 'pt' });
    assert.equal(f.tensors.size, 16);
    const wte = f.tensors.get('transformer.wte.weight')!;
    assert.equal(wte.dtype, 'F32');
    assert.deepEqual(wte.shape, [50257, 2]);
    assert.equal(wte.data.length, 50257 * 2);
    assert.equal(wte.data[0], Math.fround(0.027433224022388458));
    assert.equal(wte.data[3], Math.fround(-0.019514096900820732));
    assert.equal(wte.data[50256 * 2 + 1], Math.fround(-0.007940802723169327));
    assert.deepEqual(f.tensors.get('transformer.h.0.attn.c_attn.weight')!.shape, [2, 6]);
    assert.deepEqual(f.tensors.get('transformer.wpe.weight')!.shape, [1024, 2]);
  });

  it('reads the tiny GPT-2 checkpoint', () => {
    const f = readSafetensors(sharedPath('fixtures', 'gpt2-random', 'tiny_gpt2.model.safetensors'));
    assert.equal(f.tensors.size, 16);
    assert.deepEqual(f.tensors.get('wte.weight')!.shape, [21, 2]);
    assert.deepEqual(f.tensors.get('h.0.mlp.c_proj.weight')!.shape, [8, 2]);
  });

  it('round-trips F32, F16 and BF16, with metadata, header padded to 8', () => {
    const p = join(dir, 'rt.safetensors');
    const a = new Float32Array([1, -2.5, 3.25, 1e-3, 65504, -0]);
    const b = new Float32Array([0.1, 0.2, 0.3]);
    writeSafetensors(p, [
      { name: 'a', shape: [2, 3], data: a },
      { name: 'b.f16', shape: [3], data: b, dtype: 'F16' },
      { name: 'empty', shape: [0, 4], data: new Float32Array(0) },
      { name: 'c.bf16', shape: [3], data: b, dtype: 'BF16' },
    ], { note: 'hello' });
    assert.deepEqual(readdirSync(dir).filter((n) => n.includes('.tmp')), [], 'no temp file left');
    const raw = readFileSync(p);
    const headerLen = Number(raw.readBigUInt64LE(0));
    assert.equal(headerLen % 8, 0);
    const f = readSafetensors(p);
    assert.deepEqual(f.metadata, { format: 'pt', note: 'hello' });
    assert.deepEqual([...f.tensors.keys()], ['a', 'b.f16', 'empty', 'c.bf16']);
    const at = f.tensors.get('a')!;
    assert.deepEqual({ name: at.name, dtype: at.dtype, shape: at.shape, data: at.data }, { name: 'a', dtype: 'F32', shape: [2, 3], data: a });
    assert.deepEqual(Uint8Array.from(at.bytes), new Uint8Array(a.buffer), 'the stored bytes, undecoded');
    const cc = f.tensors.get('c.bf16')!;
    assert.equal(cc.dtype, 'BF16');
    assert.equal(cc.bytes.length, 6);
    // bfloat16 keeps 8 bits of mantissa: within 2^-8 relative, rounded to nearest.
    assert.ok(cc.data.every((v, i) => Math.abs(v - b[i]) <= Math.abs(b[i]) * 2 ** -8), `${cc.data}`);
    const bb = f.tensors.get('b.f16')!;
    assert.equal(bb.dtype, 'F16');
    assert.ok(bb.data.every((v, i) => Math.abs(v - b[i]) < 1e-3));
    assert.deepEqual(f.tensors.get('empty')!.shape, [0, 4]);
  });

  it('reads BF16, F64, I32, I64, I8, U8 as Float32, misaligned offsets included', () => {
    const parts: [string, string, number[], Buffer][] = [
      ['i8', 'I8', [3], Buffer.from(new Int8Array([-128, 0, 127]).buffer)],
      ['bf16', 'BF16', [2], Buffer.from(new Uint16Array([0x3f80, 0xc040]).buffer)],
      ['f64', 'F64', [2], Buffer.from(new Float64Array([0.5, -1e300]).buffer)],
      ['u8', 'U8', [2], Buffer.from([0, 255])],
      ['i32', 'I32', [2], Buffer.from(new Int32Array([-7, 2 ** 30]).buffer)],
      ['i64', 'I64', [2], Buffer.from(new BigInt64Array([-3n, 1n << 40n]).buffer)],
      ['f16', 'F16', [1], Buffer.from(new Uint16Array([f32ToF16(0.5)]).buffer)],
    ];
    const header: Record<string, unknown> = {};
    let off = 0;
    for (const [name, dtype, shape, b] of parts) {
      header[name] = { dtype, shape, data_offsets: [off, off + b.length] };
      off += b.length;
    }
    const f = parseSafetensors(makeSafetensors(header, Buffer.concat(parts.map((p) => p[3]))), 'mixed.safetensors');
    const get = (n: string) => [...f.tensors.get(n)!.data];
    assert.deepEqual(get('i8'), [-128, 0, 127]);
    assert.deepEqual(get('bf16'), [1, -3]);
    assert.deepEqual(get('f64'), [0.5, -Infinity]);
    assert.deepEqual(get('u8'), [0, 255]);
    assert.deepEqual(get('i32'), [-7, 2 ** 30]);
    assert.deepEqual(get('i64'), [-3, 2 ** 40]);
    assert.deepEqual(get('f16'), [0.5]);
    assert.deepEqual(f.metadata, {});
  });

  it('refuses other dtypes naming the tensor', () => {
    const buf = makeSafetensors({ 'x.weight': { dtype: 'F8_E4M3', shape: [2], data_offsets: [0, 2] } }, Buffer.alloc(2));
    assert.throws(() => parseSafetensors(buf, '/m/q.safetensors'),
      (e: unknown) => e instanceof FormatError && /^q\.safetensors: tensor "x\.weight": dtype "F8_E4M3" is not supported/.test(e.message));
  });

  it('reads a sharded checkpoint through its index', () => {
    const d = mkdtempSync(join(dir, 'sharded-'));
    writeSafetensors(join(d, 'model-00001-of-00002.safetensors'), [
      { name: 'a', shape: [2], data: new Float32Array([1, 2]) },
      { name: 'b', shape: [1], data: new Float32Array([3]) },
    ]);
    writeSafetensors(join(d, 'model-00002-of-00002.safetensors'), [{ name: 'c', shape: [1, 1], data: new Float32Array([4]) }]);
    const index = { metadata: { total_size: 16 }, weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00001-of-00002.safetensors', c: 'model-00002-of-00002.safetensors' } };
    writeFileSync(join(d, 'model.safetensors.index.json'), JSON.stringify(index));
    const m = readSafetensorsModel(d);
    assert.deepEqual([...m.keys()].sort(), ['a', 'b', 'c']);
    assert.deepEqual([...m.get('c')!.data], [4]);
    assert.deepEqual(m.get('c')!.shape, [1, 1]);

    // a tensor the index puts in a shard that lacks it
    writeFileSync(join(d, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { ...index.weight_map, d: 'model-00002-of-00002.safetensors' } }));
    assert.throws(() => readSafetensorsModel(d), /model-00002-of-00002\.safetensors: has no tensor "d"/);
    // a missing shard
    writeFileSync(join(d, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { ...index.weight_map, e: 'model-00003-of-00003.safetensors' } }));
    assert.throws(() => readSafetensorsModel(d), /model\.safetensors\.index\.json: shard "model-00003-of-00003\.safetensors" .*is missing/);
    // a shard outside the folder
    writeFileSync(join(d, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { a: '../x.safetensors' } }));
    assert.throws(() => readSafetensorsModel(d), /is outside the folder/);
    // broken JSON, no weight_map
    writeFileSync(join(d, 'model.safetensors.index.json'), '{"weight_map": ');
    assert.throws(() => readSafetensorsModel(d), (e: unknown) => e instanceof FormatError && /index\.json: is not valid JSON/.test(e.message));
    writeFileSync(join(d, 'model.safetensors.index.json'), '{}');
    assert.throws(() => readSafetensorsModel(d), /has no "weight_map" object/);
    // model.safetensors wins when present
    writeSafetensors(join(d, 'model.safetensors'), [{ name: 'z', shape: [1], data: new Float32Array([9]) }]);
    assert.deepEqual([...readSafetensorsModel(d).keys()], ['z']);
    const empty = mkdtempSync(join(dir, 'empty-'));
    assert.throws(() => readSafetensorsModel(empty), /has neither model\.safetensors nor model\.safetensors\.index\.json/);
  });

  it('writes atomically and refuses bad input', () => {
    const p = join(dir, 'bad.safetensors');
    assert.throws(() => writeSafetensors(p, [{ name: 'a', shape: [3], data: new Float32Array(2) }]), /has 2 values but shape \[3\] needs 3/);
    assert.throws(() => writeSafetensors(p, [{ name: 'a', shape: [1], data: new Float32Array(1) }, { name: 'a', shape: [1], data: new Float32Array(1) }]), /repeated/);
    assert.ok(!existsSync(p));
    assert.deepEqual(readdirSync(dir).filter((n) => n.includes('.tmp')), []);
    writeSafetensors(p, [{ name: 'constructor', shape: [1], data: new Float32Array([5]) }]);
    assert.deepEqual([...readSafetensors(p).tensors.get('constructor')!.data], [5]);
  });
});
