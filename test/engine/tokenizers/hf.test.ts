import { strict as assert } from 'node:assert';
import { tokenizerFromHfJson, StreamDecoder, TokenType } from '../../../src/engine/tokenizers';
import { BYTE_TO_UNICODE } from '../../../src/engine/tokenizers/bytes';
import { compilePattern, GPT2_PATTERN, LLAMA3_PATTERN, splitWithPatterns } from '../../../src/engine/tokenizers/pretokenize';
import { loadMeta, loadVectors } from './vectors';

const LLAMA_DECODER = {
  type: 'Sequence',
  decoders: [
    { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
    { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 },
  ],
};
const LLAMA_NORMALIZER = {
  type: 'Sequence',
  normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }],
};
const BOS_TEMPLATE = {
  type: 'TemplateProcessing',
  single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
  pair: [],
  special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
};

/** A small GPT-2 style tokenizer.json: the 256 byte symbols, a few merges, one special token. */
function smallByteLevel(): unknown {
  const vocab: Record<string, number> = {};
  BYTE_TO_UNICODE.forEach((c, i) => { vocab[c] = i; });
  const merges = ['h e', 'l l', 'll o', 'he llo', 'Ġ w', 'o r', 'Ġw or', 'Ġwor l', 'Ġworl d', 'Ġ Ġ'];
  let next = 256;
  for (const m of merges) vocab[m.replace(' ', '')] = next++;
  return {
    version: '1.0',
    added_tokens: [{ id: next, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, vocab, merges },
  };
}

/** A small Llama/SentencePiece-converted tokenizer.json with byte fallback; merges as [a, b] pairs. */
function smallByteFallback(): unknown {
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 3 + b;
  let next = 259;
  for (const t of ['▁', 'a', 'b', 'c', '▁a', 'ab', '▁ab', '▁c', 'é']) vocab[t] = next++;
  return {
    added_tokens: [
      { id: 0, content: '<unk>', special: true }, { id: 1, content: '<s>', special: true }, { id: 2, content: '</s>', special: true },
    ],
    normalizer: LLAMA_NORMALIZER,
    pre_tokenizer: null,
    post_processor: BOS_TEMPLATE,
    decoder: LLAMA_DECODER,
    model: {
      type: 'BPE', dropout: null, unk_token: '<unk>', fuse_unk: true, byte_fallback: true, vocab,
      merges: [['▁', 'a'], ['▁a', 'b'], ['a', 'b'], ['▁', 'c']],
    },
  };
}

describe('HF tokenizer.json: small byte-level BPE', () => {
  const tok = tokenizerFromHfJson(smallByteLevel(), { eos_token_id: 266 });
  it('merges by rank over GPT-2 byte symbols', () => {
    assert.equal(tok.kind, 'bpe');
    assert.equal(tok.addBos, false);
    assert.deepEqual(tok.encode('hello world'), [259, 264]);
    assert.deepEqual(tok.encode('hello  world'), [259, BYTE_TO_UNICODE.indexOf('Ġ'), 264]);
    assert.equal(tok.decode(tok.encode('héllo wörld ✓')), 'héllo wörld ✓');
  });
  it('splits special added tokens out of the text', () => {
    assert.deepEqual(tok.encode('hello<|endoftext|> world'), [259, 266, 264]);
    assert.ok(tok.isSpecial(266));
    assert.equal(tok.tokenType(266), TokenType.Control);
    assert.deepEqual(tok.eosIds, [266]);
    assert.equal(tok.decode([259, 266, 264]), 'hello world');
    assert.equal(tok.decode([259, 266, 264], { special: true }), 'hello<|endoftext|> world');
    assert.notDeepEqual(tok.encode('hello<|endoftext|>', { parseSpecial: false }), [259, 266]);
  });
});

describe('HF tokenizer.json: small byte-fallback BPE', () => {
  const tok = tokenizerFromHfJson(smallByteFallback());
  it('prepends ▁, merges, adds BOS from the template', () => {
    assert.equal(tok.kind, 'spm');
    assert.equal(tok.addBos, true);
    assert.equal(tok.bos, 1);
    assert.equal(tok.unk, 0);
    // ids: ▁ 259, a 260, b 261, c 262, ▁a 263, ab 264, ▁ab 265, ▁c 266, é 267
    assert.deepEqual(tok.encode('ab a c'), [1, 265, 263, 266]);
    assert.deepEqual(tok.encode('abab', { addBos: false }), [265, 264]);
  });
  it('falls back to byte tokens for characters outside the vocabulary', () => {
    const ids = tok.encode('a€', { addBos: false });
    assert.deepEqual(ids, [263, 3 + 0xe2, 3 + 0x82, 3 + 0xac]);
    assert.equal(tok.decode(ids), 'a€');
    assert.deepEqual(tok.encode('é', { addBos: false }), [259, 267]);
    const sd = new StreamDecoder(tok, { stripLeadingSpace: true });
    assert.equal(ids.map((id) => sd.push(id)).join('|'), 'a|||€');
  });
  it('splits <s> in the text and strips the leading space on decode', () => {
    assert.deepEqual(tok.encode('<s>ab', { addBos: false }), [1, 265]);
    assert.equal(tok.decode([1, 265, 263]), 'ab a');
    assert.equal(tok.decode(tok.encode(' ab  c')), ' ab  c');
  });
});

describe('HF tokenizer.json: converted from the llama.cpp test vocabularies', () => {
  it('byte-level BPE built from the gpt-2 vocab reproduces the gpt-2 vectors', function () {
    this.timeout(60_000);
    const meta = loadMeta('ggml-vocab-gpt-2.gguf');
    const tokens = meta.get('tokenizer.ggml.tokens') as string[];
    const json = {
      added_tokens: [{ id: 50256, content: '<|endoftext|>', special: true }],
      normalizer: null,
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      post_processor: { type: 'ByteLevel' },
      decoder: { type: 'ByteLevel' },
      model: { type: 'BPE', vocab: Object.fromEntries(tokens.map((t, i) => [t, i])), merges: meta.get('tokenizer.ggml.merges') },
    };
    const tok = tokenizerFromHfJson(json, { bos_token_id: 50256, eos_token_id: 50256 });
    for (const { text, ids } of loadVectors('ggml-vocab-gpt-2.gguf')) {
      assert.deepEqual(tok.encode(text), ids, JSON.stringify(text));
      assert.equal(tok.decode(ids), text);
    }
  });
  it('byte-fallback BPE with merges derived from the llama-spm scores reproduces the llama-spm vectors', function () {
    this.timeout(60_000);
    const meta = loadMeta('ggml-vocab-llama-spm.gguf');
    const tokens = meta.get('tokenizer.ggml.tokens') as string[];
    const scores = meta.get('tokenizer.ggml.scores') as number[];
    const vocab = new Map(tokens.map((t, i) => [t, i]));
    // as transformers' SentencePieceExtractor does: every split of a token into two tokens, by score
    const merges: [string, string, number][] = [];
    tokens.forEach((t, id) => {
      if (id < 259) return;
      const chars = [...t];
      const local: [string, string, number][] = [];
      for (let i = 1; i < chars.length; i++) {
        const l = chars.slice(0, i).join(''), r = chars.slice(i).join('');
        if (vocab.has(l) && vocab.has(r)) local.push([l, r, scores[id]]);
      }
      local.sort((x, y) => vocab.get(x[0])! - vocab.get(y[0])! || vocab.get(x[1])! - vocab.get(y[1])!);
      merges.push(...local);
    });
    merges.sort((x, y) => y[2] - x[2]);
    const json = {
      added_tokens: [{ id: 0, content: '<unk>', special: true }, { id: 1, content: '<s>', special: true }, { id: 2, content: '</s>', special: true }],
      normalizer: LLAMA_NORMALIZER,
      pre_tokenizer: null,
      post_processor: BOS_TEMPLATE,
      decoder: LLAMA_DECODER,
      model: { type: 'BPE', unk_token: '<unk>', fuse_unk: true, byte_fallback: true, vocab: Object.fromEntries(vocab), merges: merges.map((m) => `${m[0]} ${m[1]}`) },
    };
    const tok = tokenizerFromHfJson(json, { bos_token_id: 1, eos_token_id: 2 });
    assert.deepEqual(tok.encode('Hello'), [1, 15043]);
    for (const { text, ids } of loadVectors('ggml-vocab-llama-spm.gguf')) {
      assert.deepEqual(tok.encode(text, { addBos: false }), ids, JSON.stringify(text));
      assert.equal(tok.decode(ids), text);
    }
  });
});

describe('HF tokenizer.json: pre-tokenizers and errors', () => {
  it('supports a Llama-3 style Split regex with (?i:...) followed by ByteLevel without regex', () => {
    const json = smallByteLevel() as { pre_tokenizer: unknown };
    json.pre_tokenizer = {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+" }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    };
    const tok = tokenizerFromHfJson(json);
    assert.deepEqual(tok.encode('hello world'), [259, 264]);
    const ids = tok.encode("IT'S 12345");
    assert.equal(tok.decode(ids), "IT'S 12345");
    assert.deepEqual(ids.map((id) => tok.tokenToPiece(id)), ['I', 'T', "'", 'S', 'Ġ', '1', '2', '3', '4', '5']);
    // "'S" is one pre-token (case-insensitive contraction), digits in groups of three
    assert.deepEqual(splitWithPatterns("IT'S 12345\n\nok", [compilePattern(LLAMA3_PATTERN)]), ['IT', "'S", ' ', '123', '45', '\n\n', 'ok']);
  });
  it('uses Unicode White_Space for \\s like llama.cpp (U+0085 yes, U+FEFF no)', () => {
    const re = [compilePattern(GPT2_PATTERN)];
    assert.deepEqual(splitWithPatterns('a\u0085b', re), ['a', '\u0085', 'b']);
    assert.deepEqual(splitWithPatterns('a \ufeffb', re), ['a', ' \ufeff', 'b']);
  });
  it('supports Metaspace pre-tokenizers', () => {
    const json = smallByteFallback() as Record<string, unknown>;
    json.normalizer = null;
    json.pre_tokenizer = { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false };
    json.decoder = { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false };
    const tok = tokenizerFromHfJson(json);
    assert.deepEqual(tok.encode('ab a', { addBos: false }), [265, 263]);
    assert.equal(tok.decode([1, 265, 263]), 'ab a');
  });
  it('refuses WordPiece and Unigram models, naming the type', () => {
    assert.throws(() => tokenizerFromHfJson({ model: { type: 'WordPiece', vocab: {} } }), /unsupported tokenizer model type "WordPiece"/);
    assert.throws(() => tokenizerFromHfJson({ model: { type: 'Unigram', vocab: [] } }), /unsupported tokenizer model type "Unigram"/);
    assert.throws(() => tokenizerFromHfJson({ model: { type: 'BPE', vocab: {}, merges: [] }, pre_tokenizer: { type: 'BertPreTokenizer' } }), /BertPreTokenizer/);
  });
});
