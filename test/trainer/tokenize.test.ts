// `adapt-lab tokenize` as a user runs it: the built dist/cli.js in a child process.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { sharedPath } from '../helpers/shared';
import { validateTokenizePayload } from '../../src/protocol/tokenize';
import { readGguf } from '../../src/engine/core/formats/gguf';
import { tokenizerFromGgufMetadata } from '../../src/engine/tokenizers';
import { tinyLlamaFolder } from '../engine/model/hostile';

const CLI = resolve('dist/cli.js');
const STORIES = sharedPath('models/stories260K/stories260K.gguf');

function cli(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [CLI, 'tokenize', ...args], { encoding: 'utf8', input });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('adapt-lab tokenize', function () {
  this.timeout(60000);
  const tok = tokenizerFromGgufMetadata(readGguf(STORIES).metadata as Map<string, unknown>);
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'adapt-tokenize-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('prints the ids and pieces the engine encodes, BOS included, one per line', () => {
    const r = cli(['--model', STORIES, 'Once upon a time']);
    assert.equal(r.code, 0, r.err);
    const ids = tok.encode('Once upon a time');
    assert.equal(ids[0], 1);
    const lines = r.out.trimEnd().split('\n');
    assert.equal(lines.length, ids.length + 1);
    ids.forEach((id, i) => assert.match(lines[i], new RegExp(`^ *${id}  ${JSON.stringify(tok.tokenToPiece(id)).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`)));
    assert.match(lines[0], /\(special\)$/);
    assert.equal(lines[ids.length], `${ids.length} tokens (with BOS)`);
  });

  it('--json is a valid payload; --no-bos and --special change what they say', () => {
    const plain = validateTokenizePayload(JSON.parse(cli(['--model', STORIES, 'Hi <s>', '--json']).out));
    assert.deepEqual(plain.tokens.map((t) => t.id), tok.encode('Hi <s>'));
    assert.equal(plain.addBos, true);
    assert.equal(plain.parseSpecial, false);
    assert.ok(!plain.tokens.slice(1).some((t) => t.special), '"<s>" typed in the text stays text');
    assert.equal(plain.decoded, 'Hi <s>');
    const special = validateTokenizePayload(JSON.parse(cli(['--model', STORIES, 'Hi <s>', '--json', '--special', '--no-bos']).out));
    assert.equal(special.addBos, false);
    assert.equal(special.parseSpecial, true);
    assert.deepEqual(special.tokens.map((t) => t.id), tok.encode('Hi <s>', { addBos: false, parseSpecial: true }));
    assert.deepEqual(special.tokens[special.count - 1], { id: 1, piece: '<s>', text: '', special: true });
    assert.equal(special.tokens.map((t) => t.text).join(''), ' Hi ');
  });

  it('reads the text from stdin with "-", and reads a Hugging Face folder\'s tokenizer.json', () => {
    const r = cli(['--model', tinyLlamaFolder(join(dir, 'hf')), '-', '--json'], 'line one\nline two');
    assert.equal(r.code, 0, r.err);
    const p = validateTokenizePayload(JSON.parse(r.out));
    assert.equal(p.text, 'line one\nline two');
    assert.equal(p.decoded, 'line one\nline two');
    assert.equal(p.tokens[0].id, 1);
  });

  it('errors are one line naming what is wrong', () => {
    const none = cli(['Once']);
    assert.equal(none.code, 1);
    assert.equal(none.err, 'adapt-lab: tokenize needs --model MODEL\n');
    const two = cli(['--model', STORIES, 'a', 'b']);
    assert.match(two.err, /^adapt-lab: tokenize needs one TEXT argument/);
    const bad = cli(['--model', tinyLlamaFolder(join(dir, 'bad'), { tokenizerText: '{' }), 'x']);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /^adapt-lab: tokenizer\.json: is not valid JSON/);
  });
});
