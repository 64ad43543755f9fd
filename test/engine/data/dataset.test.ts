import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TokenType, type Tokenizer } from '../../../src/engine/tokenizers';
import { Rng } from '../../../src/engine/random';
import {
  ChatMessage, encodePrompt, Example, loadDataset,
  makeBatches, packBatch, splitValidation,
} from '../../../src/engine/data/dataset';
import { chatFormatFor, encodeChatPrompt } from '../../../src/engine/chat/encode';
import { DEFAULT_CHAT_TEMPLATE } from '../../../src/engine/chat/template';
import { sharedPath } from '../../helpers/shared';

const PAD = 0, BOS = 1, EOS = 2;
const SP = '\u2581';

/**
 * A character-level tokenizer: one token per code point (id = code point + 3). 'spm' mimics
 * SentencePiece's space handling: spaces become ▁ and every encode() adds a leading ▁.
 */
function charTokenizer(opts: { kind?: 'spm' | 'bpe'; addBos?: boolean; eos?: boolean } = {}): Tokenizer {
  const kind = opts.kind ?? 'bpe';
  const addBos = opts.addBos ?? true;
  const eos = opts.eos === false ? undefined : EOS;
  const piece = (id: number) => (id === BOS ? '<s>' : id === EOS ? '</s>' : id === PAD ? '<pad>' : String.fromCodePoint(id - 3));
  return {
    kind, vocabSize: 0x110003, bos: BOS, eos, pad: PAD, eosIds: eos === undefined ? [] : [EOS], addBos, addEos: false,
    encode(text, o = {}) {
      // parseSpecial: "<s>" / "</s>" in the text are BOS / EOS
      const ids: number[] = [];
      text.split(o.parseSpecial ? /(<s>|<\/s>)/ : /(?!)/).forEach((part, i) => {
        if (i % 2) return ids.push(part === '<s>' ? BOS : EOS);
        if (!part) return;
        const s = kind === 'spm' ? SP + part.replace(/ /g, SP) : part;
        ids.push(...[...s].map((c) => c.codePointAt(0)! + 3));
      });
      if (o.addBos ?? addBos) ids.unshift(BOS);
      if (o.addEos && eos !== undefined) ids.push(eos);
      return ids;
    },
    decode(ids, o = {}) {
      const s = ids.filter((i) => o.special || i > 2).map(piece).join('');
      return kind === 'spm' ? s.replace(new RegExp(SP, 'g'), ' ').replace(/^ /, '') : s;
    },
    tokenToPiece: piece,
    tokenBytes: (id) => new TextEncoder().encode(id > 2 ? piece(id) : ''),
    isSpecial: (id) => id <= 2,
    tokenType: (id) => (id <= 2 ? TokenType.Control : TokenType.Normal),
  };
}

const ids = (s: string) => [...s].map((c) => c.codePointAt(0)! + 3);
const text = (t: Tokenizer, e: Example, labelsOnly: boolean) =>
  e.ids.filter((_, i) => !labelsOnly || e.mask[i] === 1).map((i) => t.tokenToPiece(i)).join('');

describe('data/dataset', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'adapt-data-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, content: string | unknown[]) => {
    const p = join(dir, name);
    writeFileSync(p, typeof content === 'string' ? content : content.map((x) => JSON.stringify(x)).join('\n') + '\n');
    return p;
  };
  const errorOf = (fn: () => unknown): string => {
    try { fn(); } catch (e) { return (e as Error).message; }
    return assert.fail('expected an error');
  };

  describe('prompt/completion', () => {
    it('puts loss on the completion and EOS only (BOS once, blank lines skipped)', () => {
      const tok = charTokenizer();
      const p = write('pc.jsonl', '{"prompt": "Q?", "completion": " ab", "id": 7}\n\n   \n{"prompt":"", "completion":"x"}\n');
      const d = loadDataset(p, tok, { maxLength: 64 });
      assert.equal(d.format, 'prompt-completion');
      assert.equal(d.file, p);
      assert.deepEqual(d.warnings, []);
      assert.equal(d.examples.length, 2);
      assert.deepEqual(d.examples[0].ids, [BOS, ...ids('Q?'), ...ids(' ab'), EOS]);
      assert.deepEqual([...d.examples[0].mask], [0, 0, 0, 1, 1, 1, 1]);
      assert.deepEqual(d.examples[1].ids, [BOS, ...ids('x'), EOS]);
      assert.deepEqual([...d.examples[1].mask], [0, 1, 1]);
      assert.deepEqual(encodePrompt('Q?', tok), d.examples[0].ids.slice(0, 3));
      assert.deepEqual(d.stats, {
        examples: 2, tokens: 10, labelTokens: 6, minLength: 3, maxLength: 7, meanLength: 5, p50Length: 3, p95Length: 7, truncated: 0,
      });
    });

    it('without BOS or EOS: mask[0] is 0 even when the prompt is empty', () => {
      const tok = charTokenizer({ addBos: false, eos: false });
      const d = loadDataset(write('nobos.jsonl', [{ prompt: '', completion: 'xy' }, { prompt: 'a', completion: 'b' }]), tok, { maxLength: 8 });
      assert.deepEqual(d.examples[0].ids, ids('xy'));
      assert.deepEqual([...d.examples[0].mask], [0, 1]);
      assert.deepEqual([...d.examples[1].mask], [0, 1]);
    });

    it('SentencePiece: each piece gets the space prefix once (a leading space in the completion is not doubled)', () => {
      const tok = charTokenizer({ kind: 'spm' });
      const d = loadDataset(write('spm.jsonl', [{ prompt: 'Q: hi', completion: ' Paris' }, { prompt: 'Q', completion: 'Rome' }]), tok, { maxLength: 64 });
      assert.equal(text(tok, d.examples[0], false), `<s>${SP}Q:${SP}hi${SP}Paris</s>`);
      assert.equal(text(tok, d.examples[0], true), `${SP}Paris</s>`);
      assert.equal(text(tok, d.examples[1], true), `${SP}Rome</s>`);
      // the prompt at evaluation is tokenized exactly like the prompt part in training
      assert.deepEqual(encodePrompt('Q: hi', tok), d.examples[0].ids.slice(0, d.examples[0].mask.indexOf(1)));
    });

    it('truncates to maxLength and counts it', () => {
      const tok = charTokenizer();
      const d = loadDataset(write('trunc.jsonl', [{ prompt: 'ab', completion: 'cdefgh' }, { prompt: 'a', completion: 'b' }]), tok, { maxLength: 5 });
      assert.deepEqual(d.examples[0].ids, [BOS, ...ids('abcd')]);
      assert.deepEqual([...d.examples[0].mask], [0, 0, 0, 1, 1]);
      assert.equal(d.stats.truncated, 1);
      assert.equal(d.stats.maxLength, 5);
      assert.equal(d.stats.labelTokens, 2 + 2);
    });
  });

  describe('messages', () => {
    const conv: ChatMessage[] = [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello.' },
      { role: 'user', content: 'Bye' },
      { role: 'assistant', content: 'Ciao.' },
    ];

    it('renders the default template, with loss on assistant content and EOS only', () => {
      const tok = charTokenizer();
      const d = loadDataset(write('chat.jsonl', [{ messages: conv }]), tok, { maxLength: 256 });
      assert.equal(d.format, 'messages');
      const e = d.examples[0];
      assert.equal(text(tok, e, false), '<s><|system|>\nBe brief.\n<|user|>\nHi\n<|assistant|>\nHello.</s>\n<|user|>\nBye\n<|assistant|>\nCiao.</s>\n'); // the template's newline after the last turn is context
      assert.equal(text(tok, e, true), 'Hello.</s>Ciao.</s>');
      assert.equal(e.ids.filter((i) => i === EOS).length, 2, 'the EOS after each reply is the EOS token');
      assert.deepEqual(d.chat, { source: 'default', template: DEFAULT_CHAT_TEMPLATE });
      // evaluation prompts use the same tokens as training up to the assistant turn
      const fmt = chatFormatFor(undefined, tok);
      const prompt = encodeChatPrompt(conv.slice(0, 2), tok, fmt);
      assert.deepEqual(prompt, e.ids.slice(0, prompt.length));
      assert.equal(e.mask[prompt.length], 1);
      assert.equal(e.mask[prompt.length - 1], 0);
      const second = encodeChatPrompt(conv.slice(0, 4), tok, fmt);
      assert.deepEqual(second, e.ids.slice(0, second.length));
      assert.equal(fmt.prompt(conv.slice(0, 2)), '<|system|>\nBe brief.\n<|user|>\nHi\n<|assistant|>\n');
      assert.equal(fmt.prompt(conv.slice(0, 4)), '<|system|>\nBe brief.\n<|user|>\nHi\n<|assistant|>\nHello.</s>\n<|user|>\nBye\n<|assistant|>\n');
    });

    it("renders with the model's own template when given one, and names the line when it fails", () => {
      const tok = charTokenizer();
      const chatml = "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
      const fmt = chatFormatFor(chatml, tok);
      const d = loadDataset(write('chatml.jsonl', [{ messages: conv }]), tok, { maxLength: 256, chat: fmt });
      const e = d.examples[0];
      assert.equal(text(tok, e, true), 'Hello.<|im_end|>Ciao.<|im_end|>');
      assert.deepEqual(d.chat, { source: 'model', template: chatml });
      const strict = "{% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{{ m['content'] }}{% endfor %}";
      const msg = errorOf(() => loadDataset(write('sys.jsonl', [{ messages: conv.slice(1, 3) }, { messages: conv }]), tok, { maxLength: 256, chat: chatFormatFor(strict, tok) }));
      assert.match(msg, /^sys\.jsonl:2: the model's chat template fails on this conversation: .*System role not supported/);
    });
  });

  describe('plain text', () => {
    it('cuts the token stream into maxLength chunks with loss on every token', () => {
      const tok = charTokenizer();
      const body = 'The quick brown fox.\nJumps over the lazy dog.\n';
      const d = loadDataset(write('corpus.txt', body), tok, { maxLength: 8 });
      assert.equal(d.format, 'text');
      for (const e of d.examples) {
        assert.ok(e.ids.length <= 8);
        assert.equal(e.ids[0], BOS);
        assert.deepEqual([...e.mask], e.ids.map((_, i) => (i === 0 ? 0 : 1)));
      }
      assert.equal(d.examples.map((e) => text(tok, { ids: e.ids.slice(1), mask: e.mask }, false)).join(''), body);
      assert.equal(d.examples.length, Math.ceil(body.length / 7));
      assert.equal(d.stats.labelTokens, body.length);
      assert.equal(d.stats.truncated, 0);
    });

    it('without BOS, chunks are exactly maxLength tokens', () => {
      const tok = charTokenizer({ addBos: false });
      const d = loadDataset(write('nobos.txt', 'abcdefghij'), tok, { maxLength: 4 });
      assert.deepEqual(d.examples.map((e) => e.ids.length), [4, 4, 2]);
      assert.equal(d.stats.labelTokens, 3 + 3 + 1);
    });
  });

  describe('errors name file and line', () => {
    it('reports every malformed line', () => {
      const lines = [
        '{"prompt": "a", "completion": "b"}', // 1 ok
        '{"prompt": "a", "completion": "b",}', // 2
        '{"prompt": "a"}', // 3
        '{"prompt": 5, "completion": "b"}', // 4
        '[1, 2]', // 5
        '{"text": "hello"}', // 6
        '{"prompt": "a", "completion": "b", "messages": []}', // 7
        '{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]}', // 8: mixes kinds
        '', // 9 blank
        '{"completion": "b"', // 10
      ];
      const msg = errorOf(() => loadDataset(write('train.jsonl', lines.join('\n')), charTokenizer(), { maxLength: 32 }));
      const expected = [
        /^train\.jsonl:2: not valid JSON \(trailing comma before "}" at column 35\)$/,
        /^train\.jsonl:3: "completion" is missing$/,
        /^train\.jsonl:4: "prompt" must be a string, got 5$/,
        /^train\.jsonl:5: expected a JSON object, got an array$/,
        /^train\.jsonl:6: expected \{"prompt", "completion"\} or \{"messages": \[\.\.\.\]\}, got keys "text"$/,
        /^train\.jsonl:7: has both "messages" and "prompt"\/"completion"/,
        /^train\.jsonl:8: a \{"messages"\} example, but line 1 is \{"prompt", "completion"\}; one file must hold one kind$/,
        /^train\.jsonl:10: not valid JSON \(/,
      ];
      const got = msg.split('\n');
      assert.equal(got.length, expected.length, msg);
      expected.forEach((re, i) => assert.match(got[i], re));
    });

    it('checks messages field by field', () => {
      const lines = [
        { messages: [{ role: 'user', content: 'x' }, { role: 'bot', content: 'y' }] },
        { messages: [{ role: 'user' }, { role: 'assistant', content: 3 }] },
        { messages: [{ role: 'user', content: 'x' }] },
        { messages: [] },
        { messages: ['hi'] },
      ];
      const msg = errorOf(() => loadDataset(write('chat-bad.jsonl', lines), charTokenizer(), { maxLength: 32 }));
      assert.deepEqual(msg.split('\n'), [
        'chat-bad.jsonl:1: "messages[1].role" must be one of system, user, assistant, got "bot"',
        'chat-bad.jsonl:2: "messages[0].content" must be a string (it is missing)',
        'chat-bad.jsonl:2: "messages[1].content" must be a string, got 3',
        'chat-bad.jsonl:3: "messages" has no assistant message, so there is nothing to learn from it',
        'chat-bad.jsonl:4: "messages" must be a non-empty array, got an array',
        'chat-bad.jsonl:5: "messages[0]" must be an object with "role" and "content", got "hi"',
      ]);
    });

    it('refuses empty, missing and unsupported files', () => {
      const tok = charTokenizer();
      assert.equal(errorOf(() => loadDataset(write('empty.jsonl', ''), tok, { maxLength: 8 })), 'empty.jsonl: is empty (no examples)');
      assert.equal(errorOf(() => loadDataset(write('blank.jsonl', '\n  \n'), tok, { maxLength: 8 })), 'blank.jsonl: is empty (no examples)');
      assert.equal(errorOf(() => loadDataset(write('empty.txt', ' \n'), tok, { maxLength: 8 })), 'empty.txt: is empty (no text)');
      assert.match(errorOf(() => loadDataset(write('arr.json', '[{"prompt":"a","completion":"b"}]'), tok, { maxLength: 8 })), /^arr\.json:1: a JSON array; training data must be JSON Lines/);
      assert.match(errorOf(() => loadDataset(write('data.csv', 'a,b'), tok, { maxLength: 8 })), /^data\.csv: unsupported data file type "\.csv"/);
      assert.match(errorOf(() => loadDataset(join(dir, 'missing.jsonl'), tok, { maxLength: 8 })), /^missing\.jsonl: cannot read .*\(no such file\)/);
      assert.match(errorOf(() => loadDataset(write('ok.jsonl', [{ prompt: 'a', completion: 'b' }]), tok, { maxLength: 1 })), /maxLength must be an integer of at least 2/);
    });

    it('.json files are read as JSON Lines too', () => {
      const d = loadDataset(write('lines.json', [{ prompt: 'a', completion: 'b' }]), charTokenizer(), { maxLength: 8 });
      assert.equal(d.examples.length, 1);
    });
  });

  describe('examples left without loss tokens', () => {
    it('refuses when truncation removes every label, with counts', () => {
      const rows = [{ prompt: 'x'.repeat(17), completion: 'y' }, { prompt: 'x'.repeat(39), completion: 'y' }, { prompt: 'x'.repeat(20), completion: 'y' }];
      const msg = errorOf(() => loadDataset(write('long.jsonl', rows), charTokenizer(), { maxLength: 16 }));
      assert.equal(msg, 'long.jsonl: all 3 examples have no loss tokens after truncation to 16 tokens (prompts are 18–40 tokens long); raise training.maxLength');
    });

    it('refuses when no example has anything to learn', () => {
      const tok = charTokenizer({ eos: false });
      const msg = errorOf(() => loadDataset(write('nolabels.jsonl', [{ prompt: 'a', completion: '' }, { prompt: 'b', completion: '' }]), tok, { maxLength: 16 }));
      assert.match(msg, /^nolabels\.jsonl: all 2 examples have nothing to learn \(empty completions and no EOS token; lines 1, 2\)$/);
    });

    it('drops only the examples that lost all labels, with a warning', () => {
      const rows = [
        { prompt: 'ab', completion: 'c' }, // 5 tokens
        { prompt: 'x'.repeat(10), completion: 'y' }, // dropped at maxLength 6
        { prompt: 'abcd', completion: 'efgh' }, // truncated, keeps 1 label
        { prompt: 'x'.repeat(6), completion: 'y' }, // dropped
      ];
      const d = loadDataset(write('partial.jsonl', rows), charTokenizer(), { maxLength: 6 });
      assert.equal(d.examples.length, 2);
      assert.equal(d.stats.examples, 2);
      assert.equal(d.stats.truncated, 1);
      assert.equal(d.warnings.length, 1);
      assert.equal(d.warnings[0], 'partial.jsonl: dropped 2 of 4 examples with no loss tokens after truncation to 6 tokens (lines 2, 4; prompts 7–11 tokens); raise training.maxLength to keep them');
    });
  });

  describe('bytes that are not UTF-8', () => {
    it('warn naming file:line instead of being replaced silently', () => {
      const p = join(dir, 'latin1.jsonl');
      const good = Buffer.from('{"prompt": "caf\u00e9 ", "completion": "ok"}\n', 'utf8');
      const bad = (s: string) => Buffer.from(`{"prompt": "${s}", "completion": "ok"}\n`, 'latin1'); // é as the single byte 0xE9
      writeFileSync(p, Buffer.concat([good, bad('caf\u00e9 '), good, bad('na\u00efve '), bad('\u00e0 ')]));
      const d = loadDataset(p, charTokenizer(), { maxLength: 64 });
      assert.equal(d.examples.length, 5);
      assert.deepEqual(d.warnings, ['latin1.jsonl:2: bytes that are not UTF-8, read as U+FFFD (\uFFFD); also lines 4, 5; save the file as UTF-8']);
      const txt = join(dir, 'one.txt');
      writeFileSync(txt, Buffer.concat([Buffer.from('fine line\nand '), Buffer.from([0xff, 0xfe]), Buffer.from(' here\n')]));
      assert.deepEqual(loadDataset(txt, charTokenizer(), { maxLength: 64 }).warnings,
        ['one.txt:2: bytes that are not UTF-8, read as U+FFFD (\uFFFD); save the file as UTF-8']);
      // valid UTF-8 (with a BOM and a real U+FFFD character) warns about nothing
      const ok = join(dir, 'ok.jsonl');
      writeFileSync(ok, '\ufeff' + JSON.stringify({ prompt: 'a \ufffd b', completion: 'c' }) + '\n');
      assert.deepEqual(loadDataset(ok, charTokenizer(), { maxLength: 64 }).warnings, []);
    });
  });

  describe('split and batches', () => {
    const examples: Example[] = Array.from({ length: 50 }, (_, i) => ({ ids: [BOS, i + 10, i + 11], mask: Uint8Array.of(0, 1, 1) }));

    it('splitValidation is deterministic per seed, disjoint, and keeps file order', () => {
      const a = splitValidation(examples, 0.1, new Rng(7));
      const b = splitValidation(examples, 0.1, new Rng(7));
      const c = splitValidation(examples, 0.1, new Rng(8));
      assert.equal(a.validation.length, 5);
      assert.equal(a.train.length, 45);
      assert.deepEqual(a.validation, b.validation);
      assert.notDeepEqual(a.validation, c.validation);
      const all = new Set([...a.train, ...a.validation]);
      assert.equal(all.size, 50);
      const idx = (xs: Example[]) => xs.map((e) => examples.indexOf(e));
      for (const part of [a.train, a.validation]) assert.deepEqual(idx(part), [...idx(part)].sort((x, y) => x - y));
      assert.equal(splitValidation(examples, 0, new Rng(1)).validation.length, 0);
      assert.equal(splitValidation(examples.slice(0, 3), 0.01, new Rng(1)).validation.length, 1);
      assert.equal(splitValidation(examples.slice(0, 1), 0.5, new Rng(1)).train.length, 1);
      assert.throws(() => splitValidation(examples, 1, new Rng(1)), /fraction must be in \[0, 1\)/);
    });

    it('makeBatches chunks, shuffles by seed, keeps order without shuffle', () => {
      const plain = makeBatches(examples, 8, new Rng(1), { shuffle: false });
      assert.deepEqual(plain.map((b) => b.length), [8, 8, 8, 8, 8, 8, 2]);
      assert.deepEqual(plain.flat(), examples);
      const s1 = makeBatches(examples, 8, new Rng(3), { shuffle: true });
      const s2 = makeBatches(examples, 8, new Rng(3), { shuffle: true });
      assert.deepEqual(s1, s2);
      assert.notDeepEqual(s1.flat(), examples);
      assert.equal(new Set(s1.flat()).size, 50);
    });

    it('packBatch lays out ids, next-token labels and weights', () => {
      const e1: Example = { ids: [1, 5, 6, 7], mask: Uint8Array.of(0, 0, 1, 1) };
      const e2: Example = { ids: [1, 8], mask: Uint8Array.of(0, 1) };
      const b = packBatch([e1, e2], 0);
      assert.equal(b.batch, 2);
      assert.equal(b.length, 4);
      assert.equal(b.tokens, 6);
      assert.deepEqual([...b.ids], [1, 5, 6, 7, /**/ 1, 8, 0, 0]);
      assert.deepEqual([...b.labels], [5, 6, 7, 0, /**/ 8, 0, 0, 0]);
      assert.deepEqual([...b.weights], [0, 1, 1, 0, /**/ 1, 0, 0, 0]);
      const total = [...b.weights].reduce((x, y) => x + y, 0);
      assert.equal(total, [e1, e2].reduce((n, e) => n + e.mask.reduce((x, y) => x + y, 0), 0));
    });
  });

  describe('with the stories260K vocabulary', () => {
    let tok: Tokenizer | undefined;
    let loadFailure = '';
    const modelPath = sharedPath('models', 'stories260K', 'stories260K.gguf');
    before(async function () {
      if (!existsSync(modelPath)) { loadFailure = `${modelPath} not found (shared/models/stories260K)`; return; }
      try {
        const { selectBackend } = await import('../../../src/engine/backend');
        const { loadModel } = await import('../../../src/engine/model/loader');
        await selectBackend({ backend: 'cpu' });
        const loaded = await loadModel(modelPath);
        tok = loaded.tokenizer;
        loaded.model.dispose();
        if (!tok) loadFailure = 'loadModel returned no tokenizer';
      } catch (e) {
        loadFailure = `loadModel failed: ${(e as Error).message}`;
      }
    });

    it('masks completions and assistant turns on real SentencePiece tokens', function () {
      // A missing or unloadable model fails the test (naming why) rather than skipping it.
      if (!tok) throw new Error(loadFailure);
      const t = tok;
      const d = loadDataset(write('real.jsonl', [{ prompt: 'Once upon a time, there was a', completion: ' little girl.' }]), t, { maxLength: 128 });
      const e = d.examples[0];
      assert.equal(t.kind, 'spm');
      assert.equal(e.ids[0], t.bos);
      assert.equal(e.ids[e.ids.length - 1], t.eos);
      const labels = e.ids.filter((_, i) => e.mask[i]);
      assert.equal(t.decode(labels), 'little girl.');
      assert.equal(t.decode(e.ids), 'Once upon a time, there was a little girl.');
      // the completion tokens are what encoding the completion alone gives
      assert.deepEqual(labels.slice(0, -1), t.encode('little girl.', { addBos: false }));
      const chat = loadDataset(write('real-chat.jsonl', [{ messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello there.' }] }]), t, { maxLength: 128 });
      const c = chat.examples[0];
      assert.equal(t.decode(c.ids.filter((_, i) => c.mask[i])), 'Hello there.');
      const prompt = encodeChatPrompt([{ role: 'user', content: 'Hi' }], t, chatFormatFor(undefined, t));
      assert.deepEqual(prompt, c.ids.slice(0, prompt.length));
      assert.equal(c.mask.indexOf(1), prompt.length);
      const txt = loadDataset(write('real.txt', 'Lily liked to play. '.repeat(20)), t, { maxLength: 16 });
      assert.ok(txt.examples.length > 1);
      assert.ok(txt.examples.every((x) => x.ids.length <= 16 && x.ids[0] === t.bos && x.mask[0] === 0));
    });
  });
});
