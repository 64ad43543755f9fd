// `adapt-lab inspect` on a Gemma 2 and a Phi-3 model: the family, each tensor's dtype, the LoRA
// memory estimate; an unsupported architecture refused by name with the supported ones.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { selectBackend } from '../../src/engine/backend';
import { FAMILY_CASES } from '../helpers/family-cases';
import { writeRandomModel } from '../helpers/random-model';

const CLI = resolve('dist/cli.js');
const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

describe('adapt-lab inspect: families', function () {
  this.timeout(300_000); // llama.cpp and wasm start-up on a loaded 2-core machine
  let dir: string;
  before(async () => {
    await selectBackend({ backend: 'wasm' });
    dir = mkdtempSync(join(tmpdir(), 'adapt-lab-inspect-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('shows the family, each tensor\'s dtype and the LoRA memory estimate (Gemma 2 GGUF, Phi-3 HF)', async () => {
    const g = FAMILY_CASES.find((c) => c.name === 'Gemma 2')!;
    const gemma = await writeRandomModel(join(dir, 'gemma'), g.config, { normOffset: true });
    const r = cli('inspect', gemma.gguf, '--json');
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.arch, 'gemma2');
    assert.ok(j.tensors.every((t: { dtype: string }) => t.dtype === 'F32'));
    assert.ok(j.tensors.some((t: { name: string }) => t.name === 'model.layers.1.post_feedforward_layernorm.weight'));
    // rank 8 on q, k, v, o, gate, up, down of 2 layers: 8·((64+128)+(64+64)·2+(128+64)+(64+128)·2+(128+64)) per layer
    const perLayer = 8 * ((64 + 128) + (64 + 64) * 2 + (128 + 64) + (64 + 128) * 2 + (128 + 64));
    assert.equal(j.loraMemory.trainableParams, 2 * perLayer);
    assert.ok(j.loraMemory.bytes > 4 * j.totalParams, `estimate ${j.loraMemory.bytes} bytes`);
    const text = cli('inspect', gemma.gguf).stdout;
    assert.match(text, /: gemma2, GGUF, 2 layers/);
    assert.match(text, /tensor types: F32 ×\d+/);
    assert.match(text, /LoRA training estimate \(rank 8 on every linear layer but the head, [\d,]+ trainable; batch 8 × 256 tokens, 1 thread\): \d+ MiB/);

    const p = FAMILY_CASES.find((c) => c.name === 'Phi-3')!;
    const phi = await writeRandomModel(join(dir, 'phi'), p.config, { gguf: false });
    const t = cli('inspect', phi.hfDir).stdout;
    assert.match(t, /: phi3, HF, 2 layers/);
    assert.match(t, /qkv_proj\s+12,288\n\s+weight\s+\[192, 64\] F32/);
    assert.match(t, /gate_up_proj\s+16,384\n\s+weight\s+\[256, 64\] F32/);
  });

  it('refuses an unsupported architecture by name, listing the supported ones', () => {
    const folder = join(dir, 'falcon');
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'config.json'), JSON.stringify({ model_type: 'falcon', hidden_size: 64 }));
    const r = cli('inspect', folder);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /model_type "falcon" is not supported \(supported: llama, mistral, qwen2, qwen3, gemma2, gemma3_text, phi3, gpt2\)/);
  });
});
