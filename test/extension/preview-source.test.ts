// Preview Training Data's choice of file and its CLI call (src/extension/preview/source.ts).
import { strict as assert } from 'node:assert';
import { isDataFile, previewArgs, targetOf } from '../../src/extension/preview/source';

describe('extension/preview: what is previewed', () => {
  it('takes data files, not prompts files or other files', () => {
    assert.equal(isDataFile('/w/data/train.jsonl'), true);
    assert.equal(isDataFile('/w/notes.TXT'), true);
    assert.equal(isDataFile('/w/demo.prompts.jsonl'), false);
    assert.equal(isDataFile('/w/model.gguf'), false);
  });

  it('reads a file URI from a menu, {model, data} from code, and nothing else', () => {
    assert.deepEqual(targetOf({ scheme: 'file', fsPath: '/w/a.jsonl', path: '/w/a.jsonl' }), { data: '/w/a.jsonl' });
    assert.deepEqual(targetOf({ scheme: 'untitled', fsPath: 'Untitled-1' }), {});
    assert.deepEqual(targetOf({ model: '/m.gguf', data: '/w/a.jsonl' }), { model: '/m.gguf', data: '/w/a.jsonl' });
    assert.deepEqual(targetOf({ model: 3, data: '' }), {});
    assert.deepEqual(targetOf({ model: '/m.gguf', data: '/w/a.jsonl', preserveFocus: true }), { model: '/m.gguf', data: '/w/a.jsonl', preserveFocus: true });
    assert.deepEqual(targetOf(undefined), {});
  });

  it('asks the CLI for JSON, the number of examples and the maximum length', () => {
    assert.deepEqual(previewArgs('/m.gguf', '/w/a.jsonl', 5, 256), ['preview-data', '--model', '/m.gguf', '--data', '/w/a.jsonl', '--examples', '5', '--max-length', '256', '--json']);
  });
});
