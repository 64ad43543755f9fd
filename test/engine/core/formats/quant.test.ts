import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FormatError } from '../../../../src/engine/core/formats/binary';
import { readGguf, writeGguf } from '../../../../src/engine/core/formats/gguf';
import {
  bitsPerWeight, dequantizeRowList, dequantizeRows, permuteQuantRows, QUANT_TYPES, quantizeMatrix,
} from '../../../../src/engine/core/formats/quant';
import { prng } from './fixtures';
import { VECTOR_COLS, VECTOR_ROWS, vectorInput } from './quant-vectors';

const sha = (b: ArrayBufferView) => createHash('sha256').update(Buffer.from(b.buffer, b.byteOffset, b.byteLength)).digest('hex').slice(0, 16);

// [digest of the encoded bytes, digest of their float32 decoding] for vectorInput(). The bytes
// are those of ggml's C reference encoders (K types) and of gguf-py's numpy encoders (the 32-value
// types; equal to ggml's); the decodings are gguf-py's dequantize() of those bytes.
const KNOWN: Record<string, [string, string]> = {
  Q4_0: ['3eaccf31c7502ad2', '7739e63d8d1c8346'],
  Q4_1: ['47ba0c84bbc557f7', 'f0cd3df7be047d7f'],
  Q5_0: ['ec3fbf7b6dbf0114', '09ad1843f7af17d1'],
  Q5_1: ['f96f7609824793b3', '6956928cd2bf6ed6'],
  Q8_0: ['e573cf98ea1617c6', 'cffef555a38d96f7'],
  Q2_K: ['f0601f329ac12f5f', '224c938b6b88e48f'],
  Q3_K: ['eca07b34465efa60', 'f626430c7a6c135c'],
  Q4_K: ['1d703d738a106544', 'badeb43d48592de1'],
  Q5_K: ['d2ae5bd008c0bc4e', 'd84e2688ff5563cf'],
  Q6_K: ['d555973db570c176', '9f75ad3e08853939'],
};

// Relative RMS error of dequantize(quantize(x)) on Gaussian-like weights: what each format can
// reach (ggml's own figures order them the same way), with headroom; a wrong bit layout is far off.
const MAX_REL_RMSE: Record<string, number> = {
  Q4_0: 0.12, Q4_1: 0.1, Q5_0: 0.06, Q5_1: 0.05, Q8_0: 0.006,
  Q2_K: 0.35, Q3_K: 0.2, Q4_K: 0.1, Q5_K: 0.05, Q6_K: 0.025,
};

function gaussian(n: number, seed: number): Float32Array {
  const r = prng(seed);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r()) * 0.02;
  return x;
}

describe('formats/quant', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'adapt-quant-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('supports exactly the ten types the product claims', () => {
    assert.deepEqual([...QUANT_TYPES].sort(), Object.keys(KNOWN).sort());
  });

  for (const type of Object.keys(KNOWN)) {
    it(`${type}: encodes as ggml's reference encoder and decodes as ggml does (known digests)`, () => {
      const q = quantizeMatrix(type, vectorInput(), VECTOR_ROWS, VECTOR_COLS);
      assert.equal(sha(q.bytes), KNOWN[type][0], 'encoded bytes');
      assert.equal(sha(dequantizeRows(q)), KNOWN[type][1], 'decoded values');
    });

    it(`${type}: dequantize(quantize(x)) is within the format's error`, () => {
      const rows = 6, cols = 512;
      const x = gaussian(rows * cols, 7);
      const y = dequantizeRows(quantizeMatrix(type, x, rows, cols));
      let err = 0, ss = 0;
      for (let i = 0; i < x.length; i++) { err += (x[i] - y[i]) ** 2; ss += x[i] ** 2; }
      const rel = Math.sqrt(err / ss);
      assert.ok(rel < MAX_REL_RMSE[type], `relative RMSE ${rel.toFixed(4)} ≥ ${MAX_REL_RMSE[type]}`);
      assert.ok(rel > 0, 'lossless is impossible for these types on random data');
    });
  }

  it('decodes row ranges and row lists equal to the whole decoding', () => {
    for (const type of ['Q4_K', 'Q5_0']) {
      const q = quantizeMatrix(type, gaussian(5 * 256, 3), 5, 256);
      const all = dequantizeRows(q);
      assert.deepEqual(dequantizeRows(q, 2, 4), all.subarray(2 * 256, 4 * 256));
      const list = dequantizeRowList(q, [4, 0, 4]);
      assert.deepEqual(list.subarray(0, 256), all.subarray(4 * 256, 5 * 256));
      assert.deepEqual(list.subarray(256, 512), all.subarray(0, 256));
      assert.throws(() => dequantizeRowList(q, [5]), /row 5 of a 5-row matrix/);
      const p = dequantizeRows(permuteQuantRows(q, [3, 1, 4, 0, 2]));
      assert.deepEqual(p.subarray(0, 256), all.subarray(3 * 256, 4 * 256));
      assert.deepEqual(p.subarray(4 * 256), all.subarray(2 * 256, 3 * 256));
    }
  });

  it('zero blocks decode to zeros', () => {
    for (const type of QUANT_TYPES) {
      const y = dequantizeRows(quantizeMatrix(type, new Float32Array(512), 2, 256));
      assert.ok(y.every((v) => v === 0), type);
    }
  });

  it('writes quantized tensors into GGUF and reads them back through loadTensor', () => {
    const p = join(dir, 'q.gguf');
    const x = gaussian(4 * 256, 11);
    const tensors = QUANT_TYPES.map((type) => {
      const q = quantizeMatrix(type, x, 4, 256);
      return { name: `w.${type}`, shape: [4, 256], type, raw: q.bytes };
    });
    writeGguf(p, new Map([['general.architecture', 'llama']]), tensors);
    const f = readGguf(p);
    for (const t of tensors) {
      const info = f.tensor(t.name)!;
      assert.equal(info.typeName, t.type);
      assert.equal(info.byteSize, (4 * 256 * bitsPerWeight(t.type)) / 8);
      assert.deepEqual(f.loadTensor(t.name), dequantizeRows({ type: t.type, rows: 4, cols: 256, bytes: t.raw }));
    }
  });

  it('refuses IQ and other types by tensor name, type and the supported list', () => {
    const p = join(dir, 'iq.gguf');
    writeGguf(p, new Map(), [{ name: 'blk.0.ffn_up.weight', shape: [1, 256], type: 'IQ2_XXS', raw: new Uint8Array(66) }]);
    const f = readGguf(p);
    assert.throws(() => f.loadTensor('blk.0.ffn_up.weight'), (e: unknown) => e instanceof FormatError && e.message
      === 'iq.gguf: tensor "blk.0.ffn_up.weight" has type IQ2_XXS, which is not supported '
      + '(supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K)');
  });
});
