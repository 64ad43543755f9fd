// Exports of real (3-step) training runs on stories260K: PEFT, merged Hugging Face folder and
// merged GGUF, checked against the base model with the run's adapter applied.
import { strict as assert } from 'node:assert';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync, rmSync, symlinkSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { selectBackend } from '../../../src/engine/backend';
import { loadModel, LoadedModel, transpose2d } from '../../../src/engine/model/loader';
import { applyRunAdapter } from '../../../src/engine/runs/adapter';
import { readAudit, sha256File } from '../../../src/engine/core/runs/store';
import { readSafetensors } from '../../../src/engine/core/formats/safetensors';
import { readGguf } from '../../../src/engine/core/formats/gguf';
import { exportModel, exportRun, sourceFromLoaded } from '../../../src/engine/export';
import { internalShape } from '../../../src/engine/core/params';
import { makeRun, logitsOf, maxAbsDiff, maxAbs, STORIES, tempDir } from './fixture';

async function adapted(runDir: string): Promise<LoadedModel> {
  const lm = await loadModel(STORIES);
  applyRunAdapter(lm, runDir, 'latest');
  return lm;
}

/** A base parameter in Hugging Face layout. */
function hfParam(lm: LoadedModel, name: string): { data: Float32Array; shape: number[] } {
  const spec = lm.model.specs.find((s) => s.name === name)!;
  const data = lm.model.values(name);
  if (spec.layout !== 'linear') return { data: Float32Array.from(data), shape: spec.shape };
  const [r, c] = internalShape(spec);
  return { data: transpose2d(Float32Array.from(data), r, c), shape: spec.shape };
}

describe('export of a stories260K run', function () {
  this.timeout(300000);
  let dir: string;
  let runsDir: string;
  let loraRun: string;
  let mixedRun: string;
  let fullRun: string;
  let reference: Float32Array;

  before(async () => {
    await selectBackend({ backend: 'cpu' });
    dir = tempDir();
    loraRun = await makeRun(dir, { lora: { rank: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'v_proj'] } }, 'lora');
    mixedRun = await makeRun(dir, { lora: { rank: 2, alpha: 4, dropout: 0.1, targetModules: ['o_proj'], layers: [1, 3] }, unfreeze: ['model.norm'] }, 'mixed');
    fullRun = await makeRun(dir, { unfreeze: ['model.norm', 'model.layers.2.mlp.down_proj'] }, 'full');
    runsDir = join(dir, 'runs');
    const lm = await adapted(loraRun);
    reference = logitsOf(lm.model);
    lm.model.dispose();
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  describe('peft', () => {
    let out: string;
    before(async () => {
      out = join(dir, 'peft');
      await exportRun(loraRun, { format: 'peft', out, which: 'latest' });
    });

    it('writes adapter_config.json with the PEFT LoRA fields', () => {
      assert.deepEqual(readdirSync(out).sort(), ['.adapt-lab-export', 'README.md', 'adapter_config.json', 'adapter_model.safetensors']);
      const c = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8'));
      assert.equal(c.peft_type, 'LORA');
      assert.equal(c.task_type, 'CAUSAL_LM');
      assert.equal(c.r, 4);
      assert.equal(c.lora_alpha, 8);
      assert.equal(c.lora_dropout, 0);
      assert.deepEqual(c.target_modules, ['q_proj', 'v_proj']);
      assert.equal(c.layers_to_transform, null);
      assert.equal(c.base_model_name_or_path, 'stories260K.gguf', 'the model name, not a local absolute path');
      assert.equal(c.bias, 'none');
      assert.equal(c.fan_in_fan_out, false);
      assert.equal(c.inference_mode, true);
      assert.equal(c.modules_to_save, null);
      assert.match(readFileSync(join(out, 'README.md'), 'utf8'), /PeftModel\.from_pretrained\(base, /);
    });

    it('writes lora_A [r, in] and lora_B [out, r] for every target', () => {
      const st = readSafetensors(join(out, 'adapter_model.safetensors')).tensors;
      assert.equal(st.size, 5 * 2 * 2);
      for (let l = 0; l < 5; l++) {
        const p = `base_model.model.model.layers.${l}.self_attn`;
        assert.deepEqual(st.get(`${p}.q_proj.lora_A.weight`)!.shape, [4, 64]);
        assert.deepEqual(st.get(`${p}.q_proj.lora_B.weight`)!.shape, [64, 4]);
        assert.deepEqual(st.get(`${p}.v_proj.lora_A.weight`)!.shape, [4, 64]);
        assert.deepEqual(st.get(`${p}.v_proj.lora_B.weight`)!.shape, [32, 4]);
        assert.ok(maxAbs(st.get(`${p}.q_proj.lora_B.weight`)!.data) > 1e-4, 'training moved lora_B');
      }
    });

    it('base + lora_B·lora_A·alpha/r by hand equals the merged-hf weights', async () => {
      const merged = join(dir, 'peft-check-hf');
      await exportRun(loraRun, { format: 'merged-hf', out: merged, which: 'latest' });
      const m = readSafetensors(join(merged, 'model.safetensors')).tensors;
      const st = readSafetensors(join(out, 'adapter_model.safetensors')).tensors;
      const base = await loadModel(STORIES);
      let adaptedCount = 0;
      for (const s of base.model.specs) {
        const w = hfParam(base, s.name);
        const got = m.get(s.name)!;
        assert.deepEqual(got.shape, s.shape, s.name);
        const a = st.get(`base_model.model.${s.name.replace(/\.weight$/, '')}.lora_A.weight`);
        const b = st.get(`base_model.model.${s.name.replace(/\.weight$/, '')}.lora_B.weight`);
        if (!a || !b) {
          assert.deepEqual(got.data, w.data, `${s.name} is unchanged`);
          continue;
        }
        adaptedCount++;
        const [out_, inF] = s.shape;
        const r = a.shape[0];
        const want = new Float64Array(out_ * inF);
        for (let o = 0; o < out_; o++) {
          for (let i = 0; i < inF; i++) {
            let d = 0;
            for (let k = 0; k < r; k++) d += b.data[o * r + k] * a.data[k * inF + i];
            want[o * inF + i] = w.data[o * inF + i] + d * (8 / 4);
          }
        }
        assert.ok(maxAbsDiff(got.data, want) < 1e-6, `${s.name}: ${maxAbsDiff(got.data, want)}`);
        assert.ok(maxAbsDiff(got.data, w.data) > 1e-5, `${s.name} changed`);
      }
      assert.equal(adaptedCount, 10);
      base.model.dispose();
    });
  });

  describe('merged-hf', () => {
    let out: string;
    before(async () => {
      out = join(dir, 'merged-hf');
      await exportRun(loraRun, { format: 'merged-hf', out, which: 'latest' });
    });

    it('writes config.json, model.safetensors, generation_config.json and the tokenizer', () => {
      assert.deepEqual(readdirSync(out).sort(),
        ['.adapt-lab-export', 'config.json', 'generation_config.json', 'model.safetensors', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json']);
      const c = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
      assert.equal(c.model_type, 'llama');
      assert.deepEqual(c.architectures, ['LlamaForCausalLM']);
      assert.equal(c.hidden_size, 64);
      assert.equal(c.intermediate_size, 172);
      assert.equal(c.num_hidden_layers, 5);
      assert.equal(c.num_attention_heads, 8);
      assert.equal(c.num_key_value_heads, 4);
      assert.equal(c.head_dim, 8);
      assert.equal(c.rms_norm_eps, 1e-5);
      assert.equal(c.rope_theta, 10000);
      assert.equal(c.max_position_embeddings, 2048);
      assert.equal(c.vocab_size, 512);
      assert.equal(c.tie_word_embeddings, false);
      assert.equal(c.attention_bias, false);
      assert.equal(c.hidden_act, 'silu');
      assert.equal(c.bos_token_id, 1);
      assert.equal(c.eos_token_id, 2);
      const tc = JSON.parse(readFileSync(join(out, 'tokenizer_config.json'), 'utf8'));
      assert.equal(tc.bos_token, '<s>');
      assert.equal(tc.eos_token, '</s>');
      const g = JSON.parse(readFileSync(join(out, 'generation_config.json'), 'utf8'));
      assert.equal(g.eos_token_id, 2);
      assert.ok(readSafetensors(join(out, 'model.safetensors')).tensors.has('lm_head.weight'));
    });

    it('loads with loadModel and gives the logits of base + adapter', async () => {
      const lm = await loadModel(out);
      assert.equal(lm.format, 'hf');
      const d = maxAbsDiff(logitsOf(lm.model), reference);
      assert.ok(d < 1e-4, `max diff ${d}`);
      const base = await loadModel(STORIES);
      assert.ok(maxAbsDiff(logitsOf(base.model), reference) > 1e-3, 'the adapter changes the logits');
      const text = 'Once upon a time, there was a little girl named Lily.';
      assert.deepEqual(lm.tokenizer!.encode(text), base.tokenizer!.encode(text));
      assert.equal(lm.tokenizer!.decode(lm.tokenizer!.encode(text)), text);
      lm.model.dispose();
      base.model.dispose();
    });

    it('an HF base exports to GGUF with its tokenizer: same logits, same tokens', async () => {
      const hf = await loadModel(out);
      const res = exportModel(sourceFromLoaded(hf), { format: 'merged-gguf', out: join(dir, 'hf-to-gguf') });
      const g = await loadModel(res.files[0].path);
      assert.ok(maxAbsDiff(logitsOf(g.model), logitsOf(hf.model)) < 1e-4);
      const f = readGguf(res.files[0].path);
      assert.equal(f.metadata.get('general.architecture'), 'llama');
      assert.equal(f.metadata.get('llama.attention.head_count_kv'), 4);
      assert.equal(f.metadata.get('llama.rope.dimension_count'), 8);
      assert.equal(f.metadata.get('tokenizer.ggml.model'), 'llama');
      const base = await loadModel(STORIES);
      for (const text of ['Once upon a time, there was a little girl named Lily.', ' two  spaces', 'héllo 😀\n\tend']) {
        assert.deepEqual(g.tokenizer!.encode(text), base.tokenizer!.encode(text), text);
      }
      // and back to an HF folder: the HF base's config and tokenizer files are carried over
      const again = exportModel(sourceFromLoaded(hf), { format: 'merged-hf', out: join(dir, 'hf-to-hf') });
      const names = again.files.map((x) => x.path.slice(again.out.length + 1)).sort();
      assert.deepEqual(names, ['config.json', 'generation_config.json', 'model.safetensors', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json']);
      assert.equal(readFileSync(join(again.out, 'tokenizer.json'), 'utf8'), readFileSync(join(out, 'tokenizer.json'), 'utf8'));
      for (const m of [hf, g, base]) m.model.dispose();
    });
  });

  describe('merged-gguf', () => {
    it('f32: carries the GGUF metadata and reads back to the same logits', async () => {
      const out = join(dir, 'gguf32');
      const res = await exportRun(loraRun, { format: 'merged-gguf', out, which: 'latest' });
      assert.deepEqual(readdirSync(out).sort(), ['.adapt-lab-export', 'model.gguf']);
      const f = readGguf(join(out, 'model.gguf'));
      const base = readGguf(STORIES);
      assert.equal(f.version, 3);
      assert.deepEqual(f.tensors.map((t) => t.name), base.tensors.map((t) => t.name));
      assert.ok(f.tensors.every((t) => t.typeName === 'F32'));
      for (const [k, v] of base.metadata) if (k !== 'general.file_type') assert.deepEqual(f.metadata.get(k), v, k);
      assert.equal(f.metadata.get('general.file_type'), 0);
      const lm = await loadModel(res.files[0].path);
      const d = maxAbsDiff(logitsOf(lm.model), reference);
      assert.ok(d < 1e-4, `max diff ${d}`);
      lm.model.dispose();
    });

    it('f16: 2-D weights F16, norms F32, logits close', async () => {
      const out = join(dir, 'gguf16');
      await exportRun(loraRun, { format: 'merged-gguf', out, which: 'latest', dtype: 'f16' });
      const f = readGguf(join(out, 'model.gguf'));
      for (const t of f.tensors) assert.equal(t.typeName, t.shape.length === 1 ? 'F32' : 'F16', t.name);
      assert.equal(f.metadata.get('general.file_type'), 1);
      const lm = await loadModel(join(out, 'model.gguf'));
      const d = maxAbsDiff(logitsOf(lm.model), reference);
      assert.ok(d < 2e-2, `max diff ${d} (max |logit| ${maxAbs(reference)})`);
      lm.model.dispose();
    });
  });

  describe('runs with trained base parameters', () => {
    it('LoRA on chosen blocks + unfrozen norm: PEFT layers_to_transform and modules_to_save', async () => {
      const out = join(dir, 'mixed-peft');
      const res = await exportRun(mixedRun, { format: 'peft', out });
      const c = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8'));
      assert.deepEqual(c.target_modules, ['o_proj']);
      assert.deepEqual(c.layers_to_transform, [1, 3]);
      assert.deepEqual(c.modules_to_save, ['model.norm']);
      assert.equal(c.r, 2);
      assert.equal(c.lora_dropout, 0.1);
      const st = readSafetensors(join(out, 'adapter_model.safetensors')).tensors;
      assert.deepEqual([...st.keys()].sort(), [
        'base_model.model.model.layers.1.self_attn.o_proj.lora_A.weight', 'base_model.model.model.layers.1.self_attn.o_proj.lora_B.weight',
        'base_model.model.model.layers.3.self_attn.o_proj.lora_A.weight', 'base_model.model.model.layers.3.self_attn.o_proj.lora_B.weight',
        'base_model.model.model.norm.weight',
      ]);
      const lm = await loadModel(STORIES);
      applyRunAdapter(lm, mixedRun, 'latest');
      assert.deepEqual(st.get('base_model.model.model.norm.weight')!.data, lm.model.param('model.norm.weight').dataSync());
      const base = await loadModel(STORIES);
      assert.ok(maxAbsDiff(st.get('base_model.model.model.norm.weight')!.data, base.model.param('model.norm.weight').dataSync()) > 1e-4);
      assert.ok(res.notes.some((n) => /modules_to_save/.test(n)), res.notes.join('; '));
      lm.model.dispose();
      base.model.dispose();
    });

    it('merges LoRA and unfrozen parameters into merged-hf and merged-gguf', async () => {
      const lm = await adapted(mixedRun);
      const want = logitsOf(lm.model);
      lm.model.dispose();
      for (const format of ['merged-hf', 'merged-gguf'] as const) {
        const res = await exportRun(mixedRun, { format, out: join(dir, `mixed-${format}`) });
        const m = await loadModel(format === 'merged-hf' ? res.out : res.files[0].path);
        const d = maxAbsDiff(logitsOf(m.model), want);
        assert.ok(d < 1e-4, `${format}: max diff ${d}`);
        m.model.dispose();
      }
    });

    it('a run without LoRA: peft still works (modules_to_save) and says merged formats suit it better', async () => {
      const res = await exportRun(fullRun, { format: 'peft', out: join(dir, 'full-peft') });
      const c = JSON.parse(readFileSync(join(res.out, 'adapter_config.json'), 'utf8'));
      assert.deepEqual(c.modules_to_save, ['model.layers.2.mlp.down_proj', 'model.norm']);
      assert.equal(c.target_modules, 'dummy-target-modules');
      const st = readSafetensors(join(res.out, 'adapter_model.safetensors')).tensors;
      assert.deepEqual(st.get('base_model.model.model.layers.2.mlp.down_proj.weight')!.shape, [64, 172]);
      assert.ok(res.notes.some((n) => /merged-hf or merged-gguf suit it better/.test(n)), res.notes.join('; '));
      const lm = await adapted(fullRun);
      const want = logitsOf(lm.model);
      const w = hfParam(lm, 'model.layers.2.mlp.down_proj.weight');
      assert.deepEqual(st.get('base_model.model.model.layers.2.mlp.down_proj.weight')!.data, w.data);
      lm.model.dispose();
      const g = await exportRun(fullRun, { format: 'merged-gguf', out: join(dir, 'full-gguf') });
      const m = await loadModel(g.files[0].path);
      assert.ok(maxAbsDiff(logitsOf(m.model), want) < 1e-4);
      m.model.dispose();
    });
  });

  describe('safety', () => {
    it('refuses a non-empty --out unless force, and replaces it with force', async () => {
      const out = join(dir, 'busy');
      await exportRun(loraRun, { format: 'peft', out }); // an earlier export, with something added
      writeFileSync(join(out, 'keep.txt'), 'x');
      await assert.rejects(exportRun(loraRun, { format: 'peft', out }), /already exists and is not empty.*--force/);
      assert.ok(existsSync(join(out, 'keep.txt')));
      await exportRun(loraRun, { format: 'peft', out, force: true });
      assert.deepEqual(readdirSync(out).sort(), ['.adapt-lab-export', 'README.md', 'adapter_config.json', 'adapter_model.safetensors']);
      // an existing empty folder is fine
      const empty = join(dir, 'empty');
      mkdirSync(empty);
      await exportRun(loraRun, { format: 'peft', out: empty });
      assert.equal(readdirSync(empty).length, 4);
    });

    it('a failed export leaves no folder behind', async () => {
      const lm = await loadModel(STORIES);
      const out = join(dir, 'failed');
      // The tokenizer step reads the base GGUF again, after the weights are written: make it fail there.
      const src = sourceFromLoaded(lm, { base: { format: 'gguf', path: join(dir, 'missing.gguf') } });
      assert.throws(() => exportModel(src, { format: 'merged-hf', out }), /missing\.gguf/);
      assert.ok(!existsSync(out));
      assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('failed')), []);
      lm.model.dispose();
    });

    it('rejects an unknown format and a --dtype for peft', async () => {
      await assert.rejects(exportRun(loraRun, { format: 'onnx' as never, out: join(dir, 'x1') }), /unknown export format "onnx"/);
      await assert.rejects(exportRun(loraRun, { format: 'peft', out: join(dir, 'x2'), dtype: 'f16' }), /--dtype applies to the merged and GGUF formats/);
      assert.ok(!existsSync(join(dir, 'x1')) && !existsSync(join(dir, 'x2')));
    });

    it('audits every export in the run store', () => {
      const entries = readAudit(runsDir).filter((e) => e.action === 'exported');
      assert.ok(entries.length >= 8, `${entries.length} exported entries`);
      assert.ok(entries.some((e) => /^merged-gguf of step 3 to .*gguf32/.test(e.detail ?? '')));
    });
  });
});

describe('export --force (nothing but an earlier export is ever replaced)', function () {
  this.timeout(300000);
  let dir: string;
  let runsDir: string;
  let run: string;

  before(async () => {
    await selectBackend({ backend: 'cpu' });
    dir = tempDir();
    run = await makeRun(dir, { lora: { rank: 2, alpha: 4, dropout: 0, targetModules: ['q_proj'] } }, 'guarded');
    runsDir = join(dir, 'runs');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const intact = () => {
    assert.ok(existsSync(join(run, 'run.json')), 'run.json survives');
    assert.ok(existsSync(join(run, 'checkpoints')), 'checkpoints survive');
    assert.ok(existsSync(join(runsDir, 'audit.jsonl')), 'the audit log survives');
  };

  it('refuses the runs folder, the run folder, an ancestor of them and a link to them, and deletes nothing', async () => {
    symlinkSync(runsDir, join(dir, 'link-to-runs'));
    for (const out of [runsDir, run, dir, join(dir, 'link-to-runs')]) {
      await assert.rejects(exportRun(run, { format: 'peft', out, force: true }), /must never replace|never replaces a run/, out);
      intact();
    }
    assert.deepEqual(readdirSync(dir).filter((n) => /\.(tmp|old)-/.test(n)), []);
  });

  it('refuses a folder that an export did not make (no marker), keeping its files', async () => {
    const mine = join(dir, 'my-notes');
    mkdirSync(mine);
    writeFileSync(join(mine, 'thesis.txt'), 'years of work');
    await assert.rejects(exportRun(run, { format: 'peft', out: mine, force: true }), /not made by an Adapt Lab export/);
    assert.equal(readFileSync(join(mine, 'thesis.txt'), 'utf8'), 'years of work');
  });

  it('refuses the folder of the base model', async () => {
    const models = join(dir, 'models');
    mkdirSync(models);
    copyFileSync(STORIES, join(models, 'copy.gguf'));
    const lm = await loadModel(join(models, 'copy.gguf'));
    try {
      assert.throws(() => exportModel(sourceFromLoaded(lm), { format: 'merged-gguf', out: models, force: true }), /must never replace/);
      assert.ok(existsSync(join(models, 'copy.gguf')));
    } finally {
      lm.model.dispose();
    }
  });

  it('replaces an earlier export atomically, writes no local absolute path, and audits the SHA-256 of each file', async () => {
    const out = join(dir, 'exports', 'peft');
    await exportRun(run, { format: 'peft', out });
    writeFileSync(join(out, 'stale.txt'), 'from before');
    const res = await exportRun(run, { format: 'peft', out, force: true });
    assert.ok(!existsSync(join(out, 'stale.txt')), 'the earlier export was replaced as a whole');
    assert.ok(existsSync(join(out, '.adapt-lab-export')));
    assert.deepEqual(readdirSync(join(dir, 'exports')), ['peft'], 'no temp or old folder left beside it');
    for (const f of ['adapter_config.json', 'README.md']) {
      const text = readFileSync(join(out, f), 'utf8');
      for (const local of [dir, homedir(), STORIES]) assert.ok(!text.includes(local), `${f} names ${local}`);
    }
    const line = readAudit(runsDir).filter((e) => e.action === 'exported').at(-1)!;
    const adapter = res.files.find((f) => f.path.endsWith('adapter_model.safetensors'))!;
    const key = Object.keys(line.files ?? {}).find((k) => k.endsWith('adapter_model.safetensors'))!;
    assert.equal(line.files![key], sha256File(adapter.path));
  });
});
