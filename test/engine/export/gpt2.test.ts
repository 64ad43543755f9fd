// The GPT-2 path of the exports, through exportModel on an in-memory model: a random GPT-2 saved
// as a Hugging Face folder (with a byte-level tokenizer.json), LoRA on Conv1D modules added by
// hand, one norm "trained"; PEFT (fan_in_fan_out), merged HF and merged GGUF round trips.
import { strict as assert } from 'node:assert';
import { mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tf } from '../../../src/engine/tf';
import { selectBackend } from '../../../src/engine/backend';
import { Gpt2Config } from '../../../src/engine/core/model-config';
import { initModel } from '../../../src/engine/model/init';
import { addLora } from '../../../src/engine/model/lora';
import { loadModel, LoadedModel } from '../../../src/engine/model/loader';
import { Rng } from '../../../src/engine/random';
import { writeSafetensors, readSafetensors } from '../../../src/engine/core/formats/safetensors';
import { readGguf } from '../../../src/engine/core/formats/gguf';
import { exportModel, peftTargetModules, sourceFromLoaded, ExportSource } from '../../../src/engine/export';
import { hfTokenizerFromGguf } from '../../../src/engine/export/hf-tokenizer';
import { tokenizerFromGgufMetadata } from '../../../src/engine/tokenizers';
import { loadMeta, loadVectors } from '../tokenizers/vectors';
import { logitsOf, maxAbsDiff, tempDir } from './fixture';

const CONFIG: Gpt2Config = { family: 'gpt2', vocabSize: 50257, hidden: 16, layers: 2, heads: 2, headDim: 8, maxPositions: 32, normEps: 1e-5, tiedHead: true };
const IDS = [464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13];

/** A random GPT-2 as a Hugging Face folder: config.json, model.safetensors (Conv1D [in, out]), tokenizer. */
function writeGpt2Folder(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const m = initModel(CONFIG, 3);
  // Conv1D weights are [in, out] both in memory and in HF files; nothing to transpose.
  writeSafetensors(join(dir, 'model.safetensors'), m.specs.map((s) => ({ name: s.name, shape: s.shape, data: m.param(s.name).dataSync() as Float32Array })));
  m.dispose();
  writeFileSync(join(dir, 'config.json'), JSON.stringify({
    model_type: 'gpt2', n_embd: 16, n_layer: 2, n_head: 2, n_positions: 32, vocab_size: 50257, bos_token_id: 50256, eos_token_id: 50256,
  }));
  const tok = hfTokenizerFromGguf(loadMeta('ggml-vocab-gpt-2.gguf'));
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tok.tokenizer));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(tok.tokenizerConfig));
}

function randomize(v: tf.Variable, rng: Rng, scale: number): void {
  const d = new Float32Array(v.size);
  for (let i = 0; i < d.length; i++) d[i] = (rng.next() * 2 - 1) * scale;
  v.assign(tf.tensor(d, v.shape));
}

describe('GPT-2 exports (exportModel on an in-memory model)', function () {
  this.timeout(300000);
  let dir: string;
  let lm: LoadedModel;
  let src: ExportSource;
  let want: Float32Array;

  before(async () => {
    await selectBackend({ backend: 'cpu' });
    dir = tempDir();
    writeGpt2Folder(join(dir, 'base'));
    lm = await loadModel(join(dir, 'base'));
    const rng = new Rng(5);
    addLora(lm.model, 'transformer.h.0.attn.c_attn', { rank: 4, alpha: 8, dropout: 0 }, rng);
    addLora(lm.model, 'transformer.h.1.mlp.c_proj', { rank: 4, alpha: 8, dropout: 0 }, rng);
    for (const ad of lm.model.lora.values()) randomize(ad.B, rng, 0.2);
    const ln = tf.variable(lm.model.param('transformer.ln_f.weight'), true);
    randomize(ln, rng, 1.5);
    lm.model.setParam('transformer.ln_f.weight', ln);
    src = sourceFromLoaded(lm);
    want = logitsOf(lm.model, IDS);
  });

  after(() => {
    lm.model.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('picks PEFT target_modules: suffixes when they select exactly the targets, else full paths', () => {
    const m = lm.model;
    assert.deepEqual(peftTargetModules(m, ['transformer.h.0.attn.c_attn', 'transformer.h.1.attn.c_attn']), { targetModules: ['c_attn'] });
    assert.deepEqual(peftTargetModules(m, ['transformer.h.1.attn.c_attn']), { targetModules: ['c_attn'], layersToTransform: [1] });
    // c_proj names both attn.c_proj and mlp.c_proj
    assert.deepEqual(peftTargetModules(m, ['transformer.h.0.attn.c_proj', 'transformer.h.1.attn.c_proj']),
      { targetModules: ['transformer.h.0.attn.c_proj', 'transformer.h.1.attn.c_proj'] });
  });

  it('peft: fan_in_fan_out, lora_A [r, in] / lora_B [out, r], ln_f as modules_to_save; merges by hand to merged-hf', () => {
    const res = exportModel(src, { format: 'peft', out: join(dir, 'peft') });
    const c = JSON.parse(readFileSync(join(res.out, 'adapter_config.json'), 'utf8'));
    assert.equal(c.fan_in_fan_out, true);
    assert.deepEqual(c.target_modules, ['transformer.h.0.attn.c_attn', 'transformer.h.1.mlp.c_proj']);
    assert.equal(c.layers_to_transform, null);
    assert.deepEqual(c.modules_to_save, ['transformer.ln_f']);
    assert.equal(c.base_model_name_or_path, 'base');
    const st = readSafetensors(join(res.out, 'adapter_model.safetensors')).tensors;
    assert.deepEqual(st.get('base_model.model.transformer.h.0.attn.c_attn.lora_A.weight')!.shape, [4, 16]);
    assert.deepEqual(st.get('base_model.model.transformer.h.0.attn.c_attn.lora_B.weight')!.shape, [48, 4]);
    assert.deepEqual(st.get('base_model.model.transformer.h.1.mlp.c_proj.lora_A.weight')!.shape, [4, 64]);
    assert.deepEqual(st.get('base_model.model.transformer.h.1.mlp.c_proj.lora_B.weight')!.shape, [16, 4]);
    assert.deepEqual(st.get('base_model.model.transformer.ln_f.weight')!.data, lm.model.param('transformer.ln_f.weight').dataSync());
    assert.ok(st.has('base_model.model.transformer.ln_f.bias'), 'the whole module is saved');

    const merged = exportModel(src, { format: 'merged-hf', out: join(dir, 'merged-check') });
    const mt = readSafetensors(join(merged.out, 'model.safetensors')).tensors;
    const base = readSafetensors(join(dir, 'base', 'model.safetensors')).tensors;
    for (const path of ['transformer.h.0.attn.c_attn', 'transformer.h.1.mlp.c_proj']) {
      const a = st.get(`base_model.model.${path}.lora_A.weight`)!;
      const b = st.get(`base_model.model.${path}.lora_B.weight`)!;
      const w = base.get(`${path}.weight`)!; // Conv1D [in, out]
      const [inF, outF] = w.shape;
      const exp = new Float64Array(inF * outF);
      // fan_in_fan_out: W + (B·A)ᵀ·alpha/r
      for (let i = 0; i < inF; i++) {
        for (let o = 0; o < outF; o++) {
          let d = 0;
          for (let k = 0; k < 4; k++) d += b.data[o * 4 + k] * a.data[k * inF + i];
          exp[i * outF + o] = w.data[i * outF + o] + d * 2;
        }
      }
      assert.ok(maxAbsDiff(mt.get(`${path}.weight`)!.data, exp) < 1e-6, path);
    }
  });

  it('merged-hf: a GPT2LMHeadModel folder that loads back to the same logits', async () => {
    const res = exportModel(src, { format: 'merged-hf', out: join(dir, 'merged-hf') });
    const c = JSON.parse(readFileSync(join(res.out, 'config.json'), 'utf8'));
    assert.equal(c.model_type, 'gpt2');
    assert.equal(c.n_embd, 16);
    assert.equal(c.n_inner, null);
    assert.equal(c.activation_function, 'gelu_new');
    assert.equal(c.tie_word_embeddings, true);
    const st = readSafetensors(join(res.out, 'model.safetensors')).tensors;
    assert.ok(!st.has('lm_head.weight'), 'tied head: no lm_head.weight');
    const back = await loadModel(res.out);
    assert.ok(maxAbsDiff(logitsOf(back.model, IDS), want) < 1e-4);
    assert.equal(readFileSync(join(res.out, 'tokenizer.json'), 'utf8'), readFileSync(join(dir, 'base', 'tokenizer.json'), 'utf8'));
    back.model.dispose();
  });

  it('a GPT-2 GGUF base exports again, to GGUF and to an HF folder, with the same logits', async () => {
    const first = exportModel(src, { format: 'merged-gguf', out: join(dir, 'gguf-base') });
    const g = await loadModel(first.files[0].path);
    assert.equal(g.model.lora.size, 0);
    const again = exportModel(sourceFromLoaded(g), { format: 'merged-gguf', out: join(dir, 'gguf-again') });
    assert.deepEqual(readFileSync(again.files[0].path), readFileSync(first.files[0].path), 'byte-identical');
    const hf = exportModel(sourceFromLoaded(g), { format: 'merged-hf', out: join(dir, 'gguf-to-hf') });
    const back = await loadModel(hf.out);
    assert.ok(maxAbsDiff(logitsOf(back.model, IDS), want) < 1e-4);
    const text = "Hello world, it's 2024!";
    assert.deepEqual(back.tokenizer!.encode(text), g.tokenizer!.encode(text));
    back.model.dispose();
    g.model.dispose();
  });

  for (const dtype of ['f32', 'f16'] as const) {
    it(`merged-gguf ${dtype}: Conv1D weights as [out, in], built metadata, same logits and tokenizer`, async () => {
      const res = exportModel(src, { format: 'merged-gguf', out: join(dir, `gguf-${dtype}`), dtype });
      const f = readGguf(res.files[0].path);
      assert.equal(f.metadata.get('general.architecture'), 'gpt2');
      assert.equal(f.metadata.get('gpt2.embedding_length'), 16);
      assert.equal(f.metadata.get('gpt2.block_count'), 2);
      assert.equal(f.metadata.get('gpt2.feed_forward_length'), 64);
      assert.equal(f.metadata.get('gpt2.attention.head_count'), 2);
      assert.equal(f.metadata.get('gpt2.context_length'), 32);
      assert.equal(f.metadata.get('tokenizer.ggml.model'), 'gpt2');
      assert.equal(f.metadata.get('tokenizer.ggml.pre'), 'gpt-2');
      assert.equal(f.metadata.get('tokenizer.ggml.eos_token_id'), 50256);
      assert.deepEqual(f.tensor('blk.0.attn_qkv.weight')!.shape, [48, 16]);
      assert.deepEqual(f.tensor('blk.1.ffn_down.weight')!.shape, [16, 64]);
      assert.equal(f.tensor('blk.1.ffn_down.weight')!.typeName, dtype.toUpperCase());
      assert.equal(f.tensor('blk.1.ffn_down.bias')!.typeName, 'F32');
      assert.equal(f.tensor('output.weight'), undefined);
      const back = await loadModel(res.files[0].path);
      const d = maxAbsDiff(logitsOf(back.model, IDS), want);
      assert.ok(d < (dtype === 'f32' ? 1e-4 : 1e-2), `max diff ${d}`);
      const ref = tokenizerFromGgufMetadata(loadMeta('ggml-vocab-gpt-2.gguf'));
      for (const { text, ids } of loadVectors('ggml-vocab-gpt-2.gguf')) {
        assert.deepEqual(back.tokenizer!.encode(text), ids, JSON.stringify(text));
        assert.deepEqual(back.tokenizer!.encode(text), ref.encode(text));
      }
      back.model.dispose();
    });
  }
});
