// adapt-lab preview-data: a data file as training tokenizes it, with the trained tokens marked.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { sharedPath } from '../helpers/shared';
import type { PreviewPayload } from '../../src/trainer/commands/preview';

const CLI = resolve('dist/cli.js');
const MODEL = sharedPath('models/stories260K/stories260K.gguf');

describe('adapt-lab preview-data', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'adapt-preview-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('marks the reply and its end of turn as trained, the rest as context, with counts', () => {
    const data = join(dir, 'chat.jsonl');
    writeFileSync(data, JSON.stringify({ messages: [{ role: 'user', content: 'Tom was sad. Tom felt' }, { role: 'assistant', content: 'sad.' }] }) + '\n');
    const r = spawnSync(process.execPath, [CLI, 'preview-data', '--model', MODEL, '--data', data, '--json'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const p = JSON.parse(r.stdout) as PreviewPayload;
    assert.equal(p.format, 'messages');
    assert.equal(p.chatTemplate, 'default');
    const e = p.examples[0];
    assert.equal(e.tokens.filter((t) => t.loss).map((t) => t.text).join(''), 'sad.</s>');
    assert.equal(e.lossTokens, e.tokens.filter((t) => t.loss).length);
    assert.equal(e.count, e.tokens.length);
    // SentencePiece puts its space prefix after a special token, as llama.cpp does: shown as it is
    assert.equal(e.tokens.map((t) => t.text).join(''), '<s> <|user|>\nTom was sad. Tom felt\n<|assistant|>\nsad.</s> \n');
    const text = spawnSync(process.execPath, [CLI, 'preview-data', '--model', MODEL, '--data', data], { encoding: 'utf8' });
    assert.match(text.stdout, /\[\[sad\.<\/s>\]\]/);
    assert.match(text.stdout, /rendered with the default chat template/);
  });
});
