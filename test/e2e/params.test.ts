// The extension's parameter math (src/extension/layers/params.ts, from `adapt-lab inspect --json`)
// against the engine's (applyAdapt on the loaded model): the counts Adapt Model and the Layers
// view show must be the ones the trainer reports. Plain mocha; no VS Code.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { AdaptConfig } from '../../src/protocol/config';
import { parseModelInfo } from '../../src/protocol/inspect';
import { selectBackend } from '../../src/engine/backend';
import { loadModel } from '../../src/engine/model/loader';
import { applyAdapt } from '../../src/engine/adapt/methods';
import { Rng } from '../../src/engine/random';
import {
  attentionLoraTargets, blockPaths, planFor, indexTree, ModelInfo, selectionToAdapt, tensorsUnder,
} from '../../src/extension/layers/params';
import { sharedPath } from '../helpers/shared';

const CLI = resolve('dist/cli.js');

function inspect(...args: string[]): ModelInfo {
  const r = spawnSync(process.execPath, [CLI, 'inspect', ...args, '--json'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return parseModelInfo(JSON.parse(r.stdout));
}

const MODELS: [string, string[], () => Promise<Awaited<ReturnType<typeof loadModel>>>][] = [
  ['stories260K (Llama, GGUF)', [sharedPath('models/stories260K/stories260K.gguf')], () => loadModel(sharedPath('models/stories260K/stories260K.gguf'))],
  ['GPT-2 (safetensors)', [sharedPath('fixtures/gpt2-random/fake_gpt2.model.safetensors'), '--config', sharedPath('fixtures/gpt2-random/fake_gpt2.config.json')],
    () => loadModel(sharedPath('fixtures/gpt2-random/fake_gpt2.model.safetensors'), { config: sharedPath('fixtures/gpt2-random/fake_gpt2.config.json') })],
];

describe('extension parameter math = engine parameter math', function () {
  this.timeout(120_000);
  before(async () => {
    await selectBackend({ backend: 'auto' }); // as the first test file would: later tests expect auto's choice
  });

  for (const [name, args, load] of MODELS) {
    it(`${name}: trainable counts, first trainable block and method summary agree for every preset`, async () => {
      const info = inspect(...args);
      const blocks = blockPaths(info);
      assert.equal(blocks.length, info.config.layers);
      // A LoRA rank is at most the smaller dimension of its module (the engine refuses more; fake_gpt2 has n_embd 2).
      const smallest = Math.min(...info.tensors.filter((t) => t.shape.length === 2).flatMap((t) => t.shape));
      const adapts: AdaptConfig[] = [
        { lora: { rank: Math.min(8, smallest), alpha: 16, dropout: 0, targetModules: attentionLoraTargets(info) } },
        { lora: { rank: Math.min(4, smallest), alpha: 8, dropout: 0, targetModules: 'all-linear', layers: [info.config.layers - 1] } },
        { unfreeze: blocks.slice(-2) },
        { unfreeze: [`${blocks[0]}.*`], biases: true },
        { biases: true },
        { unfreeze: ['*.weight'] },
      ];
      for (const adapt of adapts) {
        const mine = planFor(info, adapt);
        const lm = await load();
        const theirs = applyAdapt(lm.model, adapt, { rng: new Rng(0), layerLrDecay: 1, l2sp: false });
        lm.model.dispose();
        const what = JSON.stringify(adapt);
        assert.equal(mine.trainable, theirs.trainable, what);
        assert.equal(mine.total, theirs.total, what);
        assert.equal(mine.method, theirs.method, what);
        assert.equal(mine.firstTrainableLayer, theirs.firstTrainableLayer, what);
      }
    });
  }

  it('stories260K: totals the Layers view shows, and a ticked selection becomes the shortest adapt section', () => {
    const info = inspect(sharedPath('models/stories260K/stories260K.gguf'));
    const nodes = indexTree(info.tree);
    assert.equal(info.totalParams, 292_800);
    assert.equal(nodes.get('model.layers.0')!.params, 45_440);
    const ticked = new Set([...tensorsUnder(nodes.get('model.layers.4')!), ...tensorsUnder(nodes.get('model.layers.3.mlp')!)]);
    const adapt = selectionToAdapt(info, ticked, new Set(['model.layers.0.self_attn.q_proj']), 4);
    assert.deepEqual(adapt, {
      unfreeze: ['model.layers.3.mlp', 'model.layers.4'],
      lora: { rank: 4, alpha: 8, dropout: 0.05, targetModules: ['model.layers.0.self_attn.q_proj'] },
    });
    assert.equal(planFor(info, adapt).trainable, 45_440 + 3 * 11_008 + 4 * (64 + 64));
    // Every bias and norm ticked: `biases: true` rather than eleven paths.
    const vectors = new Set(info.tensors.filter((t) => t.shape.length === 1).map((t) => t.name));
    assert.deepEqual(selectionToAdapt(info, vectors, new Set(), 8), { biases: true });
    assert.throws(() => planFor(info, {}), /nothing to train/);
    assert.throws(() => planFor(info, { lora: { rank: 8, alpha: 16, dropout: 0, targetModules: ['c_attn'] } }), /matches no linear module/);
  });
});
