// package.json is edited by hand and merged by git: two branches that each add the same menu
// list (contributes.menus["explorer/context"]) merge cleanly into an object with that key twice,
// JSON.parse keeps the last one, and VS Code silently loses the first list's entries (it happened
// once). This reads the manifest with a parser that refuses a key given twice in one object.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';

/** Paths of the keys that appear twice in the same object, e.g. `contributes.menus.editor/title`. */
export function duplicateKeys(text: string): string[] {
  const found: string[] = [];
  let i = 0;
  const ws = () => { while (/\s/.test(text[i] ?? '')) i++; };
  const str = (): string => {
    const start = i;
    i++; // opening quote
    while (text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (path: string): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const seen = new Set<string>();
      for (ws(); text[i] !== '}'; ws()) {
        const key = str();
        const at = path ? `${path}.${key}` : key;
        if (seen.has(key)) found.push(at);
        seen.add(key);
        ws();
        i++; // colon
        value(at);
        ws();
        if (text[i] === ',') i++;
      }
      i++;
    } else if (c === '[') {
      i++;
      for (let n = 0; (ws(), text[i] !== ']'); n++) {
        value(`${path}[${n}]`);
        ws();
        if (text[i] === ',') i++;
      }
      i++;
    } else if (c === '"') {
      str();
    } else {
      while (i < text.length && !/[,}\]\s]/.test(text[i])) i++;
    }
  };
  JSON.parse(text); // a syntax error is reported by the real parser
  value('');
  return found;
}

describe('package.json', () => {
  it('gives no key twice in one object (a git merge of two menu lists would drop one silently)', () => {
    assert.deepEqual(duplicateKeys(readFileSync('package.json', 'utf8')), []);
  });

  it('the check finds a key given twice, at any depth, and not keys repeated in different objects', () => {
    const text = '{"a": 1, "menus": {"editor/title": [], "x": {"q": "\\"}"}, "editor/title": [{"when": "b"}, {"when": "c"}]}, "b": {"a": 2}}';
    assert.deepEqual(duplicateKeys(text), ['menus.editor/title']);
    assert.deepEqual(duplicateKeys('[{"k": 1}, {"k": 2}]'), []);
  });
});
