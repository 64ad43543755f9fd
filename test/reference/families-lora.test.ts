// Per family: a LoRA run on every linear layer trains (two AdamW steps), its PEFT export carries
// the Hugging Face module paths (Phi-3's fused qkv_proj and gate_up_proj included), and its
// merged GGUF export runs in llama.cpp as our engine runs the base with the adapter.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareWithLlamaCpp, describeAgreement, engineLogProbs } from '../helpers/llamacpp';
import { RANDOM_PROMPT, writeRandomModel } from '../helpers/random-model';
import { FAMILY_CASES } from '../helpers/family-cases';
import { selectBackend } from '../../src/engine/backend';
import { loadModel } from '../../src/engine/model/loader';
import { linearModules } from '../../src/engine/core/modules';
import { applyRunAdapter } from '../../src/engine/runs/adapter';
import { readSafetensors } from '../../src/engine/core/formats/safetensors';
import { exportRun } from '../../src/engine/export';
import { train } from '../../src/engine/train/trainer';
import { validateRunConfig } from '../../src/engine/core/run-config';

const LINES = [['Tom was', ' happy.'], ['Lily saw a', ' big dog.'], ['The sun was', ' hot.'], ['Ben had a', ' red ball.']];

async function loraRun(dir: string, model: string): Promise<string> {
  writeFileSync(join(dir, 'train.jsonl'), LINES.map(([prompt, completion]) => JSON.stringify({ prompt, completion })).join('\n') + '\n');
  const config = validateRunConfig({
    name: 'family-lora', model, data: { train: 'train.jsonl', validationSplit: 0 },
    adapt: { lora: { rank: 4, alpha: 8, targetModules: 'all-linear' } },
    training: { maxSteps: 2, evalEvery: 0, checkpointEvery: 2, batchSize: 2, learningRate: 0.05, warmupSteps: 0, schedule: 'constant', maxLength: 16 },
    backend: 'wasm', runsDir: 'runs', seed: 3,
  }, dir, 'family.json');
  let runDir: string | undefined;
  const losses: number[] = [];
  const end = await train(config, { emit: (e) => {
    if (e.type === 'started') runDir = e.runDir;
    if (e.type === 'step') losses.push(e.loss);
  } });
  assert.equal(end.type, 'finished', JSON.stringify(end));
  assert.equal(losses.length, 2);
  assert.ok(losses.every(Number.isFinite), `losses ${losses}`);
  return runDir!;
}

describe('llama.cpp reference: LoRA per family (train, PEFT keys, merged GGUF)', function () {
  this.timeout(300_000); // llama.cpp and wasm start-up on a loaded 2-core machine
  let dir: string;
  before(async () => {
    await selectBackend({ backend: 'wasm' });
    dir = mkdtempSync(join(tmpdir(), 'adapt-lab-family-lora-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const c of FAMILY_CASES) {
    it(`${c.name}: two LoRA steps, PEFT keys by HF module path, merged GGUF as llama.cpp runs it`, async () => {
      const d = join(dir, c.name.replace(/\W+/g, '-'));
      const files = await writeRandomModel(d, c.config, { normOffset: c.normOffset });
      const runDir = await loraRun(d, files.hfDir);

      await exportRun(runDir, { format: 'peft', out: join(d, 'peft') });
      const keys = [...readSafetensors(join(d, 'peft', 'adapter_model.safetensors')).tensors.keys()].sort();
      const lm = await loadModel(files.hfDir);
      try {
        const targets = linearModules(lm.model.specs).filter((p) => p !== 'lm_head');
        const want = targets.flatMap((p) => [`base_model.model.${p}.lora_A.weight`, `base_model.model.${p}.lora_B.weight`]).sort();
        assert.deepEqual(keys, want);
        if (c.name === 'Phi-3') assert.ok(keys.includes('base_model.model.model.layers.0.self_attn.qkv_proj.lora_A.weight') && keys.includes('base_model.model.model.layers.1.mlp.gate_up_proj.lora_B.weight'));

        await exportRun(runDir, { format: 'merged-gguf', out: join(d, 'merged') });
        const base = engineLogProbs(lm.model, RANDOM_PROMPT);
        applyRunAdapter(lm, runDir, 'latest');
        const a = await compareWithLlamaCpp(join(d, 'merged', 'model.gguf'), lm.model, RANDOM_PROMPT, 20);
        console.log(`      ${c.name} + LoRA, merged GGUF: ${describeAgreement(a)}`);
        assert.ok(a.maxAbsLogProb < c.tol, describeAgreement(a));
        assert.deepEqual(a.ourGreedy, a.run.generated);
        // The adapter moved the model (else this comparison would not see a wrong merge).
        const adapted = engineLogProbs(lm.model, RANDOM_PROMPT);
        let moved = 0;
        adapted.forEach((row, p) => row.forEach((v, j) => (moved = Math.max(moved, Math.abs(v - base[p][j])))));
        assert.ok(moved > 1e-2, `LoRA changed log-probabilities by only ${moved}`);
      } finally {
        lm.model.dispose();
      }
    });
  }
});
