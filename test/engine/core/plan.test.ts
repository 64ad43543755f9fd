// planAdapt: which parameters an adapt section trains, on a described model (no TensorFlow.js).
// The trainer (applyAdapt) and the extension (from inspect --json) both call it; test/e2e/params.test.ts
// checks the two descriptions of real models give the trainer's counts.
import { strict as assert } from 'node:assert';
import { ModelDescription, planAdapt } from '../../../src/engine/core/plan';
import { ParamSpec } from '../../../src/engine/core/params';

// A two-block Llama-shaped model: d=8, MLP 16, vocab 32.
function llama(): ModelDescription {
  const specs: ParamSpec[] = [{ name: 'model.embed_tokens.weight', shape: [32, 8], layout: 'embedding' }];
  for (let i = 0; i < 2; i++) {
    const p = `model.layers.${i}`;
    specs.push(
      { name: `${p}.input_layernorm.weight`, shape: [8], layout: 'vector' },
      { name: `${p}.self_attn.q_proj.weight`, shape: [8, 8], layout: 'linear' },
      { name: `${p}.self_attn.v_proj.weight`, shape: [4, 8], layout: 'linear' },
      { name: `${p}.mlp.up_proj.weight`, shape: [16, 8], layout: 'linear' },
    );
  }
  specs.push({ name: 'model.norm.weight', shape: [8], layout: 'vector' }, { name: 'lm_head.weight', shape: [32, 8], layout: 'linear' });
  return { specs, layers: 2, embeddingName: 'model.embed_tokens.weight', headName: 'lm_head' };
}

const TOTAL = 256 + 2 * (8 + 64 + 32 + 128) + 8 + 256;

describe('core/plan planAdapt', () => {
  it('LoRA on suffixes in some blocks: targets in model order, rank × (in + out) each, never the head', () => {
    const plan = planAdapt(llama(), { lora: { rank: 2, alpha: 4, dropout: 0, targetModules: ['q_proj', 'v_proj'], layers: [1] } });
    assert.deepEqual(plan.lora, [
      { path: 'model.layers.1.self_attn.q_proj', params: 2 * (8 + 8) },
      { path: 'model.layers.1.self_attn.v_proj', params: 2 * (4 + 8) },
    ]);
    assert.deepEqual(plan.unfrozen, []);
    assert.equal(plan.trainable, 32 + 24);
    assert.equal(plan.total, TOTAL);
    assert.equal(plan.firstTrainableLayer, 1);
    assert.equal(plan.method, 'LoRA r2 q_proj,v_proj (blocks 1)');
    assert.ok(!planAdapt(llama(), { lora: { rank: 1, alpha: 2, dropout: 0, targetModules: 'all-linear' } }).lora.some((e) => e.path === 'lm_head'));
  });

  it('unfreeze globs and biases: whole tensors, once each, in model order; the embedding makes block 0 trainable', () => {
    const plan = planAdapt(llama(), { unfreeze: ['model.layers.1.mlp', 'model.embed_tokens'], biases: true });
    assert.deepEqual(plan.unfrozen, [
      'model.embed_tokens.weight', 'model.layers.0.input_layernorm.weight', 'model.layers.1.input_layernorm.weight',
      'model.layers.1.mlp.up_proj.weight', 'model.norm.weight',
    ]);
    assert.equal(plan.trainable, 256 + 8 + 8 + 128 + 8);
    assert.equal(plan.firstTrainableLayer, 0);
    assert.equal(plan.method, 'unfreeze model.layers.1.mlp,model.embed_tokens + biases+norms');
    assert.equal(plan.percent, (100 * plan.trainable) / TOTAL);
    // Only the final norm: no block trains, the frozen prefix is every block.
    assert.equal(planAdapt(llama(), { unfreeze: ['model.norm'] }).firstTrainableLayer, 2);
  });

  it('refuses, saying what to change: a glob that matches nothing, an unknown target, a rank too large, nothing selected', () => {
    assert.throws(() => planAdapt(llama(), { unfreeze: ['model.layers.7'] }), /unfreeze pattern "model.layers.7" matches no parameter/);
    assert.throws(() => planAdapt(llama(), { lora: { rank: 2, alpha: 4, dropout: 0, targetModules: ['c_attn'] } }), /LoRA target "c_attn" matches no linear module \(this model has: q_proj, v_proj, up_proj\)/);
    assert.throws(() => planAdapt(llama(), { lora: { rank: 5, alpha: 10, dropout: 0, targetModules: ['v_proj'] } }), /rank is 5.*"model.layers.0.self_attn.v_proj" is \[4, 8\], so the rank can be at most 4/);
    assert.throws(() => planAdapt(llama(), {}), /nothing to train/);
  });
});
