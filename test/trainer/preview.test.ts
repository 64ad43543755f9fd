// adapt-lab preview-data: a data file as training tokenizes it, with the trained tokens marked.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { sharedPath } from '../helpers/shared';
import { CHATML, tinyLlamaConfig, writeRandomModel } from '../helpers/random-model';
import { parsePreviewPayload, PreviewPayload, validatePreviewPayload } from '../../src/protocol/preview';

const CLI = resolve('dist/cli.js');
const MODEL = sharedPath('models/stories260K/stories260K.gguf');

function previewJson(model: string, data: string, ...more: string[]): PreviewPayload {
  const r = spawnSync(process.execPath, [CLI, 'preview-data', '--model', model, '--data', data, '--json', ...more], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return parsePreviewPayload(JSON.parse(r.stdout));
}

describe('adapt-lab preview-data', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'adapt-preview-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('marks the reply and its end of turn as trained, the rest as context, with counts', () => {
    const data = join(dir, 'chat.jsonl');
    writeFileSync(data, JSON.stringify({ messages: [{ role: 'user', content: 'Tom was sad. Tom felt' }, { role: 'assistant', content: 'sad.' }] }) + '\n');
    const p = previewJson(MODEL, data);
    assert.equal(p.format, 'messages');
    assert.deepEqual(p.template, { source: 'default', name: 'Adapt Lab default' });
    const e = p.examples[0];
    assert.equal(e.line, 1);
    assert.equal(e.tokens.filter((t) => t.loss).map((t) => t.text).join(''), 'sad.</s>');
    assert.equal(e.lossTokens, e.tokens.filter((t) => t.loss).length);
    assert.equal(e.count, e.tokens.length);
    assert.deepEqual(p.totals, { examples: 1, tokens: e.count, lossTokens: e.lossTokens });
    // SentencePiece puts its space prefix after a special token, as llama.cpp does: shown as it is
    assert.equal(e.tokens.map((t) => t.text).join(''), '<s> <|user|>\nTom was sad. Tom felt\n<|assistant|>\nsad.</s> \n');
    const text = spawnSync(process.execPath, [CLI, 'preview-data', '--model', MODEL, '--data', data], { encoding: 'utf8' });
    assert.match(text.stdout, /\[\[sad\.<\/s>\]\]/);
    assert.match(text.stdout, /rendered with the default chat template \(Adapt Lab default\)/);
  });

  it("renders conversations with the model's own ChatML template: the turn tokens are single special tokens, totals cover the whole file", async () => {
    const m = await writeRandomModel(join(dir, 'chatml'), tinyLlamaConfig(), { chat: CHATML, gguf: false });
    const data = join(dir, 'two.jsonl');
    const conv = (q: string, a: string) => JSON.stringify({ messages: [{ role: 'user', content: q }, { role: 'assistant', content: a }] });
    writeFileSync(data, [conv('Is the sky blue?', 'Yes.'), '', conv('Tom was sad. Tom felt', 'sad.'), conv('Two and two?', 'Four.')].join('\n') + '\n');
    const p = previewJson(m.hfDir, data, '--examples', '2');
    assert.deepEqual(p.template, { source: 'model', name: 'ChatML' });
    assert.equal(p.examples.length, 2);
    assert.deepEqual(p.examples.map((e) => e.line), [1, 3], 'file lines, the blank one skipped');
    const e = p.examples[0];
    const start = e.tokens.filter((t) => t.text === '<|im_start|>');
    assert.equal(start.length, 2, 'one token per <|im_start|>');
    assert.ok(start.every((t) => t.special && t.id === 512 && !t.loss));
    assert.equal(e.tokens.filter((t) => t.loss).map((t) => t.text).join(''), 'Yes.<|im_end|>', 'the reply and its end of turn');
    assert.equal(p.totals.examples, 3);
    const all = previewJson(m.hfDir, data, '--examples', '3');
    assert.equal(p.totals.tokens, all.examples.reduce((a, x) => a + x.count, 0));
    assert.equal(p.totals.lossTokens, all.examples.reduce((a, x) => a + x.lossTokens, 0));
  });

  it('prompt/completion data has no template; the validator refuses a payload that does not add up', () => {
    const data = join(dir, 'pc.jsonl');
    writeFileSync(data, JSON.stringify({ prompt: 'Tom was sad. Tom felt', completion: ' sad.' }) + '\n');
    const p = previewJson(MODEL, data);
    assert.equal(p.format, 'prompt-completion');
    assert.equal(p.template, undefined);
    const bad = JSON.parse(JSON.stringify(p));
    bad.examples[0].lossTokens += 1;
    bad.examples[0].tokens[1].id = -1;
    bad.format = 'chat';
    assert.deepEqual(validatePreviewPayload(bad), [
      'preview.format: "chat" is not one of prompt-completion, messages, text',
      'preview.examples[0].tokens[1]: not {id, text, loss, special}',
      `preview.examples[0].lossTokens: ${p.examples[0].lossTokens + 1} but ${p.examples[0].lossTokens} tokens carry loss`,
    ]);
    assert.deepEqual(validatePreviewPayload({ ...p, format: 'messages' }), ['preview.template: missing for messages data']);
    assert.throws(() => parsePreviewPayload({ ...p, totals: { examples: 0, tokens: 1, lossTokens: 0 } }, 'x'), /^Error: x: preview\.totals\.examples: 0 but 1 are shown$/);
  });
});
