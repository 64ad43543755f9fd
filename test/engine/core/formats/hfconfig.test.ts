import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FormatError } from '../../../../src/engine/core/formats/binary';
import { readHfConfig } from '../../../../src/engine/core/formats/hfconfig';
import { sharedPath } from '../../../helpers/shared';

describe('formats/hfconfig', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'adapt-cfg-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const write = (obj: unknown, name = 'config.json') => {
    const p = join(dir, name);
    writeFileSync(p, typeof obj === 'string' ? obj : JSON.stringify(obj));
    return p;
  };
  const llama = {
    model_type: 'llama', hidden_size: 64, intermediate_size: 172, num_hidden_layers: 5, num_attention_heads: 8,
    num_key_value_heads: 4, rms_norm_eps: 1e-5, max_position_embeddings: 2048, vocab_size: 512, bos_token_id: 1, eos_token_id: [2, 3],
  };

  it('reads the fake GPT-2 config', () => {
    const c = readHfConfig(sharedPath('fixtures', 'gpt2-random', 'fake_gpt2.config.json'));
    assert.equal(c.family, 'gpt2');
    if (c.family !== 'gpt2') return;
    assert.equal(c.nEmbd, 2);
    assert.equal(c.nLayer, 1);
    assert.equal(c.nHead, 1);
    assert.equal(c.nPositions, 1024);
    assert.equal(c.nInner, 8);
    assert.equal(c.vocabSize, 50257);
    assert.equal(c.layerNormEpsilon, 1e-5);
    assert.equal(c.activationFunction, 'gelu_new');
    assert.equal(c.tieWordEmbeddings, true);
    assert.deepEqual(c.eosTokenIds, [50256]);
  });

  it('reads llama configs with defaults', () => {
    const c = readHfConfig(write(llama));
    assert.equal(c.family, 'llama');
    if (c.family !== 'llama') return;
    assert.equal(c.modelType, 'llama');
    assert.equal(c.headDim, 8);
    assert.equal(c.numKeyValueHeads, 4);
    assert.equal(c.ropeTheta, 10000);
    assert.equal(c.tieWordEmbeddings, false);
    assert.equal(c.attentionBias, false);
    assert.equal(c.hiddenAct, 'silu');
    assert.deepEqual(c.bosTokenIds, [1]);
    assert.deepEqual(c.eosTokenIds, [2, 3]);
    const noKv = readHfConfig(write({ ...llama, num_key_value_heads: undefined, head_dim: 16, rope_theta: 1e6 }));
    assert.ok(noKv.family === 'llama' && noKv.numKeyValueHeads === 8 && noKv.headDim === 16 && noKv.ropeTheta === 1e6);
  });

  it('reads qwen2 (q/k/v bias) and mistral', () => {
    const q = readHfConfig(write({ ...llama, model_type: 'qwen2', tie_word_embeddings: true }));
    assert.ok(q.family === 'llama' && q.modelType === 'qwen2' && q.attentionBias && !q.attentionOutputBias && q.tieWordEmbeddings);
    const m = readHfConfig(write({ ...llama, model_type: 'mistral' }));
    assert.ok(m.family === 'llama' && m.modelType === 'mistral' && !m.attentionBias);
  });

  it('names the file and field on errors', () => {
    const bad = (obj: unknown, re: RegExp) =>
      assert.throws(() => readHfConfig(write(obj, 'cfg.json')), (e: unknown) => e instanceof FormatError && re.test(e.message));
    bad({ ...llama, hidden_size: undefined }, /^cfg\.json: field "hidden_size" is missing; expected a positive integer/);
    bad({ ...llama, hidden_size: '64' }, /^cfg\.json: field "hidden_size" is "64"; expected a positive integer/);
    bad({ ...llama, rms_norm_eps: -1 }, /field "rms_norm_eps" is -1/);
    bad({ ...llama, num_key_value_heads: 3 }, /field "num_key_value_heads" is 3; expected a divisor/);
    bad({ ...llama, eos_token_id: 'x' }, /field "eos_token_id"/);
    bad({ ...llama, tie_word_embeddings: 1 }, /field "tie_word_embeddings" is 1; expected true or false/);
    bad({ ...llama, model_type: 'bert' }, /model_type "bert" is not supported \(supported: llama, mistral, qwen2, qwen3, gemma2, gemma3_text, phi3, gpt2\)/);
    bad({ hidden_size: 3 }, /field "model_type" is missing \(supported: llama, mistral, qwen2, qwen3, gemma2, gemma3_text, phi3, gpt2\)/);
    bad({ model_type: 'gpt2', n_embd: 4, n_layer: 1, n_head: 2, vocab_size: 10 }, /field "n_ctx" is missing/);
    bad('{ nope', /^cfg\.json: is not valid JSON/);
    bad('[1]', /^cfg\.json: is not a JSON object/);
  });
});
