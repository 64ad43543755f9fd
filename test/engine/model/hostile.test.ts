// Model files whose metadata lies: every claimed count, dimension and float is checked against
// the file before anything is sized by it, and the error names the file and the field.
import { strict as assert } from 'node:assert';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selectBackend } from '../../../src/engine/backend';
import { GgufType } from '../../../src/engine/core/formats/gguf';
import { maxFileBytes, readModelFile } from '../../../src/engine/core/formats/limits';
import { loadModel } from '../../../src/engine/model/loader';
import { storiesWith, tinyLlamaFolder } from './hostile';

const u32 = (v: number) => ({ type: GgufType.UINT32, value: v } as const);
const f32 = (v: number) => ({ type: GgufType.FLOAT32, value: v } as const);

async function refused(path: string, re: RegExp): Promise<void> {
  await assert.rejects(loadModel(path), (e: unknown) => {
    const msg = e instanceof Error ? e.message : String(e);
    assert.match(msg, re, `${path}: ${msg}`);
    return true;
  });
}

describe('loader: hostile metadata', function () {
  this.timeout(60000);
  let dir: string;
  before(async () => {
    await selectBackend({ backend: 'wasm' });
    dir = mkdtempSync(join(tmpdir(), 'adapt-hostile-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('GGUF: a block count other than the blocks the tensors hold is refused naming the field', async () => {
    await refused(storiesWith(join(dir, 'blocks.gguf'), (m) => m.set('llama.block_count', u32(4e9))),
      /^blocks\.gguf: llama\.block_count is 4000000000, but the file's tensors hold 5 blocks/);
    await refused(storiesWith(join(dir, 'six.gguf'), (m) => m.set('llama.block_count', u32(6))),
      /^six\.gguf: llama\.block_count is 6, but the file's tensors hold 5 blocks/);
    // a block's tensors removed: the count still says 5
    await refused(storiesWith(join(dir, 'cut.gguf'), () => {}, (n) => !n.startsWith('blk.4.')),
      /^cut\.gguf: llama\.block_count is 5, but the file's tensors hold 4 blocks/);
  });

  it('GGUF: head counts are checked against the tensor shapes before any tensor is permuted by them', async () => {
    const p = storiesWith(join(dir, 'heads.gguf'), (m) => {
      m.set('llama.attention.head_count', u32(1e9));
      m.set('llama.attention.head_count_kv', u32(1e9));
      m.set('llama.attention.key_length', u32(2));
    });
    await refused(p, /^heads\.gguf: tensor "model\.layers\.0\.self_attn\.q_proj\.weight" has shape \[64,64\], expected \[2000000000,64\]/);
  });

  it('GGUF: NaN or infinite norm epsilon and rope base are refused naming the field', async () => {
    for (const [key, v] of [['llama.attention.layer_norm_rms_epsilon', NaN], ['llama.attention.layer_norm_rms_epsilon', Infinity],
      ['llama.attention.layer_norm_rms_epsilon', -1], ['llama.rope.freq_base', NaN]] as const) {
      const p = storiesWith(join(dir, 'eps.gguf'), (m) => m.set(key, f32(v)));
      await refused(p, new RegExp(`^eps\\.gguf: ${key.replace(/\./g, '\\.')} is ${String(v).replace('-', '\\-')}.*expected a finite number above 0`));
    }
  });

  it('GGUF: a folder named x.gguf is a clear error', async () => {
    mkdirSync(join(dir, 'x.gguf'));
    await refused(join(dir, 'x.gguf'), /^x\.gguf: is a folder, not a GGUF file$/);
  });

  it('HF: num_hidden_layers and vocab_size are checked against the weights', async () => {
    await refused(join(tinyLlamaFolder(join(dir, 'layers'), { config: (c) => { c.num_hidden_layers = 1e9; } })),
      /^config\.json: num_hidden_layers is 1000000000, but the file's tensors hold 2 blocks/);
    await refused(tinyLlamaFolder(join(dir, 'vocab'), { config: (c) => { c.vocab_size = 1e9; } }),
      /tensor "model\.embed_tokens\.weight" has shape \[512,16\], expected \[1000000000,16\]/);
  });

  it('HF: rms_norm_eps 1e999 (Infinity after JSON.parse) says it is not a finite number', async () => {
    const p = tinyLlamaFolder(join(dir, 'inf'));
    const cfg = readFileSync(join(p, 'config.json'), 'utf8').replace(/"rms_norm_eps":[^,]+/, '"rms_norm_eps":1e999');
    writeFileSync(join(p, 'config.json'), cfg);
    await refused(p, /^config\.json: field "rms_norm_eps" is Infinity \(not a finite number\); expected a positive number$/);
  });

  it('HF: tokenizer.json ids beyond the vocabulary are refused before tables are sized by them', async () => {
    await refused(tinyLlamaFolder(join(dir, 'tok'), { tokenizer: (t) => { (t.model as { vocab: Record<string, number> }).vocab['\u2581the'] = 5e8; } }),
      /^tokenizer\.json: model\.vocab id of token "▁the" is 500000000, outside the vocabulary \(ids 0 to 514\)/);
    await refused(tinyLlamaFolder(join(dir, 'added'), { tokenizer: (t) => { (t.added_tokens as { id: number }[])[1].id = 5e8; } }),
      /^tokenizer\.json: added_tokens\[1\]\.id is 500000000, outside the vocabulary/);
    await refused(tinyLlamaFolder(join(dir, 'added2'), { tokenizer: (t) => { (t.added_tokens as { id: number }[])[0].id = -1.5; } }),
      /^tokenizer\.json: added_tokens\[0\]\.id is -1\.5, outside the vocabulary/);
  });

  it('HF: garbage tokenizer.json or tokenizer_config.json names the file', async () => {
    await refused(tinyLlamaFolder(join(dir, 'gt'), { tokenizerText: '{"model": {"type": "BPE", "vocab": {' }), /^tokenizer\.json: is not valid JSON/);
    await refused(tinyLlamaFolder(join(dir, 'gc'), { tokenizerConfigText: 'not json' }), /^tokenizer_config\.json: is not valid JSON/);
    await refused(tinyLlamaFolder(join(dir, 'nc'), { tokenizerConfigText: 'null' }), /^tokenizer_config\.json: is not a JSON object/);
    await refused(tinyLlamaFolder(join(dir, 'tc'), { tokenizerConfigText: '{"chat_template": 42}' }),
      /^tokenizer_config\.json: field "chat_template" is not a string/);
  });

  it('the unedited builders load (so each refusal above is the edit\'s doing)', async () => {
    const hf = await loadModel(tinyLlamaFolder(join(dir, 'ok')));
    assert.equal(hf.model.config.layers, 2);
    assert.equal(hf.tokenizer!.vocabSize, 512);
    hf.model.dispose();
    const g = await loadModel(storiesWith(join(dir, 'ok.gguf'), () => {}));
    assert.equal(g.model.config.layers, 5);
    g.model.dispose();
  });
});

describe('loader: files over 2 GiB', function () {
  this.timeout(120000);
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'adapt-big-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a (sparse) file of 2 GiB + 4 KiB is read whole (readFileSync refuses it): its last bytes are there', () => {
    const p = join(dir, 'big.bin');
    const size = 2 ** 31 + 4096;
    writeFileSync(p, 'head');
    truncateSync(p, size);
    const fd = openSync(p, 'r+');
    writeSync(fd, Buffer.from('tail'), 0, 4, size - 4);
    closeSync(fd);
    let b: Buffer | undefined = readModelFile(p, 'GGUF');
    assert.equal(b.length, size);
    assert.equal(b.toString('latin1', 0, 4), 'head');
    assert.equal(b.toString('latin1', size - 4), 'tail');
    b = undefined;
  });

  it('a file larger than one Buffer can hold is refused naming it', async function () {
    const limit = maxFileBytes();
    if (limit > 2 ** 40) this.skip(); // Node versions with no practical Buffer limit
    const p = join(dir, 'huge.gguf');
    writeFileSync(p, '');
    truncateSync(p, limit + 1);
    await refused(p, new RegExp(`^huge\\.gguf: is ${limit + 1} bytes, more than this Node\\.js can hold in memory at once`));
  });
});
