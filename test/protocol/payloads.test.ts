// The validators of the --json payloads (inspect, suggest): what the CLI prints passes it (checked on a real
// model), and each kind of damage is refused naming the field.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { parseModelInfo, validateModelInfo } from '../../src/protocol/inspect';
import { parseSuggestResult, validateSuggestResult } from '../../src/protocol/suggest';
import { parseWorkerResponse } from '../../src/protocol/worker';
import { sharedPath } from '../helpers/shared';

describe('protocol/inspect', function () {
  this.timeout(60_000);
  let printed: Record<string, unknown>;
  before(() => {
    const r = spawnSync(process.execPath, [resolve('dist/cli.js'), 'inspect', sharedPath('models/stories260K/stories260K.gguf'), '--json'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    printed = JSON.parse(r.stdout);
  });
  const damaged = (change: (v: any) => void) => {
    const v = JSON.parse(JSON.stringify(printed));
    change(v);
    return validateModelInfo(v);
  };

  it('accepts what adapt-lab inspect --json prints, with layouts, embedding and head', () => {
    const info = parseModelInfo(printed);
    assert.equal(info.embeddingName, 'model.embed_tokens.weight');
    assert.equal(info.headName, 'lm_head');
    assert.equal(info.tensors.find((t) => t.name === 'model.norm.weight')!.layout, 'vector');
    assert.equal(info.config.family, 'llama');
    // stories260K is F32: on BLAS its linear weights and embedding stay outside the heap, the norms in it.
    const w = info.weightLayout!;
    assert.equal(w.heapBytes + w.externalBytes, 4 * info.totalParams);
    if (w.blas) assert.equal(w.heapBytes, 4 * info.tensors.filter((t) => t.layout === 'vector').reduce((n, t) => n + t.params, 0));
    else assert.equal(w.externalBytes, 0);
  });

  it('refuses damage, naming the field', () => {
    assert.deepEqual(damaged((v) => delete v.embeddingName), ['inspect.embeddingName: not a string']);
    assert.deepEqual(damaged((v) => (v.tensors[2].layout = 'dense')), ['inspect.tensors[2].layout: "dense" is not one of linear, conv1d, embedding, vector']);
    assert.deepEqual(damaged((v) => (v.tree.children[0].children = null)), ['inspect.tree.children[0].children: not a list']);
    assert.deepEqual(damaged((v) => (v.config.layers = '5')), ['inspect.config.layers: not a non-negative integer']);
    assert.deepEqual(damaged((v) => (v.config.family = 'mamba')), ['inspect.config.family: "mamba" is not llama or gpt2']);
    assert.deepEqual(damaged((v) => (v.weightLayout.blas = 'yes')), ['inspect.weightLayout.blas: not a boolean']);
    assert.deepEqual(damaged((v) => (v.weightLayout.externalBytes = -1)), ['inspect.weightLayout.externalBytes: not a non-negative integer']);
    assert.deepEqual(validateModelInfo([]), ['inspect: not an object']);
    assert.throws(() => parseModelInfo({ ...printed, totalParams: -1 }, 'inspect m.gguf'), /^Error: inspect m\.gguf: inspect\.totalParams: not a non-negative integer$/);
  });
});

describe('protocol/suggest', () => {
  it('accepts a ranking and refuses damage, naming the field', () => {
    const ok = { modules: [{ path: 'model.layers.0.mlp.up_proj', score: 0.5, params: 1024 }], ms: 12 };
    assert.deepEqual(validateSuggestResult(ok), []);
    assert.deepEqual(validateSuggestResult({ ...ok, modules: [{ path: 'x', score: NaN, params: 1 }] }), ['suggest.modules[0].score: not a finite number']);
    assert.deepEqual(validateSuggestResult({ ms: 1 }), ['suggest.modules: not a list']);
    assert.throws(() => parseSuggestResult({ ...ok, ms: -1 }, 'suggest m'), /^Error: suggest m: suggest\.ms: not a non-negative number$/);
  });
});

describe('protocol/worker responses', () => {
  it('accepts each reply kind (NaN probabilities arrive as null over IPC) and refuses damage, naming it', () => {
    const done = { type: 'done', id: 1, text: ' sad.', tokens: [{ text: ' sad', prob: null, top: [] }], stopReason: 'eos', loadMs: 3, firstTokenMs: 1, perTokenMs: 0.5, totalMs: 4, warm: true, runtime: 'engine' };
    for (const ok of [{ type: 'ready', backend: 'wasm', pid: 7 }, { type: 'token', id: 1, text: 'a' }, { type: 'error', id: 1, message: 'm.gguf: no such file' }, done]) assert.equal(parseWorkerResponse(ok), ok);
    assert.throws(() => parseWorkerResponse({ type: 'token', id: '1', text: 'a' }), /^Error: worker response "token" needs an id and the token text$/);
    assert.throws(() => parseWorkerResponse({ ...done, tokens: [{ text: 1 }] }), /"done" needs tokens as \{text, prob, top\}/);
    assert.throws(() => parseWorkerResponse({ ...done, runtime: 'vllm' }), /runtime engine or llamacpp/);
    assert.throws(() => parseWorkerResponse({ type: 'progress' }), /unknown worker response type "progress"/);
    assert.throws(() => parseWorkerResponse(null), /not an object/);
  });
});
