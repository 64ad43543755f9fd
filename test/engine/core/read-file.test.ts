// Reading a file the user named: one error naming the file and why, and no byte-order mark.
import { strict as assert } from 'node:assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileBytes, readTextFile } from '../../../src/engine/core/read-file';
import { loadRunConfig } from '../../../src/engine/core/run-config';
import { readPromptFile } from '../../../src/engine/core/prompts';

describe('reading a file the user named', () => {
  const dir = mkdtempSync(join(tmpdir(), 'adapt-lab-read-'));

  it('drops a UTF-8 byte-order mark, and only that', () => {
    const f = join(dir, 'bom.json');
    writeFileSync(f, '\uFEFF{"a": "\uFEFF"}');
    assert.equal(readTextFile(f, 'bom.json'), '{"a": "\uFEFF"}');
  });

  it('a missing file: "<source>: cannot read <what> <path> (no such file)"', () => {
    const f = join(dir, 'missing.jsonl');
    assert.throws(() => readTextFile(f, 'adapt-lab.json', 'the data'), { message: `adapt-lab.json: cannot read the data ${f} (no such file)` });
  });

  it('a folder where a file is expected says the system\'s reason', () => {
    assert.throws(() => readFileBytes(dir, 'x.json'), (e: Error) => e.message.startsWith(`x.json: cannot read ${dir} (`) && /EISDIR|directory/.test(e.message));
  });

  it('the run config and prompts readers go through it', () => {
    assert.throws(() => loadRunConfig(join(dir, 'none.json')), /^Error: none\.json: cannot read the run config .*none\.json \(no such file\)$/);
    assert.throws(() => readPromptFile(join(dir, 'none.prompts.jsonl')), /none\.prompts\.jsonl: cannot read .* \(no such file\)/);
    const f = join(dir, 'bom.prompts.jsonl');
    writeFileSync(f, '\uFEFF{"prompt": "Hi", "expected": "there"}\n');
    assert.equal(readPromptFile(f).cases[0].prompt, 'Hi');
  });
});
