// The `adapt-lab` CLI as a user runs it: the built dist/cli.js in a child process.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { sharedPath } from '../helpers/shared';
import { selectBackend } from '../../src/engine/backend';
import { tf } from '../../src/engine/tf';
import { loadModel } from '../../src/engine/model/loader';

const CLI = resolve('dist/cli.js');
const STORIES = sharedPath('models/stories260K/stories260K.gguf');

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('adapt-lab CLI', () => {
  it('generate reproduces llama2.c run.c on stories260K at temperature 0', () => {
    const r = cli('generate', '--model', STORIES, '--prompt', 'Once upon a time', '--max-tokens', '60', '--temperature', '0');
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.\nLily\n');
  });

  it('--logits-out writes float32 rows for every position fed to the model: the model\'s own logits', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'adapt-lab-'));
    const out = join(dir, 'logits.bin');
    const r = cli('generate', '--model', STORIES, '--prompt', 'Once upon a time', '--max-tokens', '5', '--temperature', '0', '--logits-out', out);
    assert.equal(r.code, 0, r.err);
    // 5 prompt tokens (with BOS) and 4 generated tokens fed back; 512 logits each.
    const V = 512;
    assert.equal(statSync(out).size, (5 + 4) * V * 4);
    const rows = new Float32Array(readFileSync(out).buffer.slice(0));
    const argmax = (t: number) => {
      let best = 0;
      for (let k = 1; k < V; k++) if (rows[t * V + k] > rows[t * V + best]) best = k;
      return best;
    };
    // The sequence that was fed: the prompt, then each greedy token (the argmax of the row before it).
    await selectBackend({ backend: 'wasm' });
    const lm = await loadModel(STORIES);
    const ids = lm.tokenizer!.encode('Once upon a time');
    assert.equal(ids.length, 5);
    for (let t = 4; t < 8; t++) ids.push(argmax(t));
    assert.equal(r.out, lm.tokenizer!.decode([...ids.slice(1), argmax(8)]) + '\n', 'the printed text is the greedy tokens of the rows');
    // A single forward pass over that sequence gives the same rows.
    const want = tf.tidy(() => lm.model.forward(tf.tensor2d([ids], [1, ids.length], 'int32')).dataSync() as Float32Array);
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(want[i] - rows[i]));
    assert.ok(worst < 1e-4, `largest difference from the model's forward pass: ${worst}`);
    lm.model.dispose();
  });

  it('inspect lists every tensor of stories260K with shapes and totals', () => {
    const r = cli('inspect', STORIES, '--json');
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.equal(j.family, 'llama');
    assert.equal(j.tensors.length, 48);
    assert.equal(j.totalParams, 292800);
    const byName = new Map<string, { shape: number[]; dtype: string }>(j.tensors.map((t: { name: string }) => [t.name, t]));
    assert.deepEqual(byName.get('model.embed_tokens.weight')!.shape, [512, 64]);
    assert.deepEqual(byName.get('model.layers.4.self_attn.k_proj.weight')!.shape, [32, 64]);
    assert.deepEqual(byName.get('model.layers.0.mlp.gate_proj.weight')!.shape, [172, 64]);
    assert.deepEqual(byName.get('lm_head.weight')!.shape, [512, 64]);
    assert.equal(byName.get('model.norm.weight')!.dtype, 'F32');
    const text = cli('inspect', STORIES);
    assert.match(text.out, /total: 292,800 parameters in 48 tensors/);
    assert.match(text.out, /q_proj/);
  });

  it('inspect reads a Hugging Face GPT-2 safetensors file with its config', () => {
    const r = cli('inspect', sharedPath('fixtures/gpt2-random/fake_gpt2.model.safetensors'), '--config', sharedPath('fixtures/gpt2-random/fake_gpt2.config.json'), '--json');
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.equal(j.family, 'gpt2');
    assert.equal(j.tensors.length, 16);
    assert.equal(j.totalParams, 50257 * 2 + 1024 * 2 + (2 + 2 + 12 + 6 + 4 + 2 + 2 + 2 + 16 + 8 + 16 + 2) + 4);
    const c = j.tensors.find((t: { name: string }) => t.name === 'transformer.h.0.attn.c_attn.weight');
    assert.deepEqual(c.shape, [2, 6]);
  });

  it('suggest ranks every linear module by gradient norm on a dataset', () => {
    const dir = mkdtempSync(join(tmpdir(), 'adapt-lab-'));
    const data = join(dir, 'train.jsonl');
    writeFileSync(data, ['{"prompt":"Tom was","completion":" happy."}', '{"prompt":"Sue was","completion":" sad."}'].join('\n'));
    const r = cli('suggest', '--model', STORIES, '--data', data, '--batches', '2', '--json');
    assert.equal(r.code, 0, r.err);
    const { modules } = JSON.parse(r.out);
    assert.equal(modules.length, 5 * 7 + 1); // q,k,v,o,gate,up,down per block, and the untied head
    for (let i = 1; i < modules.length; i++) assert.ok(modules[i - 1].score >= modules[i].score);
    assert.ok(modules.every((m: { score: number }) => Number.isFinite(m.score) && m.score > 0));
  });

  it('errors are one line on stderr with a non-zero exit', () => {
    for (const args of [
      ['generate', '--model', '/nonexistent.gguf', '--prompt', 'x'],
      ['generate', '--model', STORIES],
      ['inspect'],
      ['frobnicate'],
      ['generate', '--model', STORIES, '--prompt', 'x', '--max-tokens', 'many'],
      ['generate', '--bogus-flag'],
    ]) {
      const r = cli(...args);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.equal(r.err.trim().split('\n').length, 1, r.err);
      assert.match(r.err, /^adapt-lab: /);
    }
  });
});
