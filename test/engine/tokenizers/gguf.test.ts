import { strict as assert } from 'node:assert';
import { tokenizerFromGgufMetadata, StreamDecoder, TokenType, type Tokenizer } from '../../../src/engine/tokenizers';
import { SpmVocab, spmMerge, spmMergeChunk } from '../../../src/engine/tokenizers/merge';
import { sharedPath } from '../../helpers/shared';
import { readGgufMetadata } from './gguf-meta';
import { loadMeta, loadVectors } from './vectors';

function bigText(texts: string[], size: number): string {
  const joined = texts.join(' ');
  return joined.repeat(Math.ceil(size / joined.length)).slice(0, size).replace(/[\ud800-\udbff]$/, '');
}

for (const name of ['ggml-vocab-llama-spm.gguf', 'ggml-vocab-gpt-2.gguf']) {
  describe(`tokenizer vectors: ${name}`, () => {
    const vectors = loadVectors(name);
    let tok: Tokenizer;
    before(() => { tok = tokenizerFromGgufMetadata(loadMeta(name)); });

    it('has all 46 vectors', () => assert.equal(vectors.length, 46));
    vectors.forEach(({ text, ids }, i) => {
      it(`#${i} ${JSON.stringify(text).slice(0, 40)}`, () => {
        assert.deepEqual(tok.encode(text, { addBos: false }), ids);
      });
    });
    it('round-trips every text through decode', () => {
      for (const { text, ids } of vectors) assert.equal(tok.decode(ids), text, JSON.stringify(text));
    });
    // Speed is the bench's to measure (no wall-clock limit here); a quadratic encoder would
    // still show up as this test's timeout.
    it('encodes 1 MB of text losslessly', function () {
      this.timeout(120_000);
      const text = bigText(vectors.map((v) => v.text), 1_000_000);
      const ids = tok.encode(text, { addBos: false });
      assert.equal(tok.decode(ids), text);
    });
  });
}

describe('GGUF SentencePiece tokenizer (llama-spm)', () => {
  let tok: Tokenizer;
  before(() => { tok = tokenizerFromGgufMetadata(loadMeta('ggml-vocab-llama-spm.gguf')); });

  it('reads the special ids and flags from the metadata', () => {
    assert.equal(tok.kind, 'spm');
    assert.equal(tok.vocabSize, 32000);
    assert.deepEqual([tok.bos, tok.eos, tok.unk, tok.pad], [1, 2, 0, undefined]);
    assert.equal(tok.addBos, true);
    assert.ok(tok.isSpecial(1) && tok.isSpecial(2) && tok.isSpecial(0));
    assert.ok(!tok.isSpecial(15043));
    assert.equal(tok.tokenType(3), TokenType.Byte);
  });
  it('adds BOS by default and decode drops it and the leading space', () => {
    assert.deepEqual(tok.encode('Hello world'), [1, 15043, 3186]);
    assert.equal(tok.decode([1, 15043, 3186]), 'Hello world');
    assert.equal(tok.decode([1, 15043, 3186, 2]), 'Hello world');
    assert.equal(tok.decode([1, 15043], { special: true }), '<s> Hello');
    assert.deepEqual(tok.encode(''), [1]);
  });
  it('does not parse control tokens in text unless asked', () => {
    const plain = tok.encode('<s>Hi', { addBos: false });
    assert.ok(!plain.includes(1));
    assert.equal(tok.decode(plain), '<s>Hi');
    assert.deepEqual(tok.encode('<s>Hi', { addBos: false, parseSpecial: true }), [1, ...tok.encode('Hi', { addBos: false })]);
  });
  it('gives pieces and bytes per token', () => {
    assert.equal(tok.tokenToPiece(15043), '▁Hello');
    assert.equal(Buffer.from(tok.tokenBytes(15043)).toString(), ' Hello');
    assert.deepEqual([...tok.tokenBytes(3 + 0xf0)], [0xf0]);
    assert.equal(tok.tokenBytes(1).length, 0);
    assert.throws(() => tok.tokenBytes(32000), RangeError);
  });
  it('streams a 4-byte emoji that is split across byte tokens', () => {
    const ids = tok.encode('a 🦙!', { addBos: false });
    const pieces = ids.map((id) => tok.tokenToPiece(id));
    assert.deepEqual(pieces, ['▁a', '▁', '<0xF0>', '<0x9F>', '<0xA6>', '<0x99>', '!']);
    const sd = new StreamDecoder(tok, { stripLeadingSpace: true });
    assert.deepEqual(ids.map((id) => sd.push(id)), ['a', ' ', '', '', '', '🦙', '!']);
    assert.equal(sd.flush(), '');
  });
  it('stream decoder flushes an incomplete sequence as U+FFFD', () => {
    const sd = new StreamDecoder(tok);
    assert.equal(sd.push(3 + 0xf0), '');
    assert.equal(sd.push(3 + 0x9f), '');
    assert.equal(sd.flush(), '\ufffd');
    assert.equal(sd.push(15043), ' Hello');
  });
  it('chunked merging matches merging the whole text at once', () => {
    const meta = loadMeta('ggml-vocab-llama-spm.gguf');
    const tokens = meta.get('tokenizer.ggml.tokens') as string[];
    const vocab = new Map(tokens.map((t, i) => [t, i]));
    const byteIds = new Int32Array(256).map((_, b) => vocab.get(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`)!);
    const v = new SpmVocab(vocab, tokens, meta.get('tokenizer.ggml.scores') as number[], byteIds, 0);
    const text = bigText(loadVectors('ggml-vocab-llama-spm.gguf').map((x) => x.text), 60_000).replace(/ /g, '▁');
    const a: number[] = [], b: number[] = [];
    spmMerge(text, v, a);
    spmMergeChunk(text, v, b);
    assert.deepEqual(a, b);
  });
});

describe('GGUF byte-level BPE tokenizer (gpt-2)', () => {
  let tok: Tokenizer;
  before(() => { tok = tokenizerFromGgufMetadata(loadMeta('ggml-vocab-gpt-2.gguf')); });

  it('reads the metadata: no BOS by default', () => {
    assert.equal(tok.kind, 'bpe');
    assert.equal(tok.vocabSize, 50257);
    assert.equal(tok.addBos, false);
    assert.equal(tok.eos, 50256);
    assert.ok(tok.isSpecial(50256));
    assert.deepEqual(tok.encode('Hello world'), [15496, 995]);
    assert.deepEqual(tok.encode('Hello world', { addBos: true }), [50256, 15496, 995]);
  });
  it('maps byte-level pieces back to raw bytes', () => {
    assert.equal(tok.tokenToPiece(995), 'Ġworld');
    assert.equal(Buffer.from(tok.tokenBytes(995)).toString(), ' world');
    assert.equal(tok.decode([50256, 15496]), 'Hello');
    assert.equal(tok.decode([50256, 15496], { special: true }), '<|endoftext|>Hello');
  });
  it('parses <|endoftext|> only with parseSpecial', () => {
    assert.ok(!tok.encode('a<|endoftext|>b').includes(50256));
    assert.deepEqual(tok.encode('a<|endoftext|>b', { parseSpecial: true }), [64, 50256, 65]);
  });
  it('streams an emoji split across byte-level tokens', () => {
    const ids = tok.encode(' 🦙 ok');
    assert.deepEqual(ids, [12520, 99, 247, 12876]); // ' \xf0\x9f', '\xa6', '\x99', ' ok'
    const sd = new StreamDecoder(tok);
    assert.deepEqual(ids.map((id) => sd.push(id)), [' ', '', '🦙', ' ok']);
    assert.equal(sd.flush(), '');
  });
});

describe('stories260K embedded vocabulary', () => {
  it('encodes "Once upon a time" with BOS', () => {
    const tok = tokenizerFromGgufMetadata(readGgufMetadata(sharedPath('models', 'stories260K', 'stories260K.gguf')));
    assert.equal(tok.vocabSize, 512);
    assert.equal(tok.pad, undefined); // 0xFFFFFFFF in the file
    const ids = tok.encode('Once upon a time');
    assert.deepEqual(ids, [1, 403, 407, 261, 378]);
    assert.equal(tok.decode(ids), 'Once upon a time');
  });
});

describe('GGUF byte-level BPE: ignore_merges (Llama 3 vocabularies)', () => {
  // "abc" is a token, but no merge builds it: only "a b" → "ab" is listed.
  const tokens = ['a', 'b', 'c', 'ab', 'abc'];
  const meta = (pre: string) => new Map<string, unknown>([
    ['tokenizer.ggml.model', 'gpt2'], ['tokenizer.ggml.tokens', tokens], ['tokenizer.ggml.merges', ['a b']], ['tokenizer.ggml.pre', pre],
  ]);
  it('takes a word that is a token whole for llama-bpe, as llama.cpp does', () => {
    const tok = tokenizerFromGgufMetadata(meta('llama-bpe'));
    assert.deepEqual(tok.encode('abc'), [4]);
    assert.deepEqual(tok.encode('abca'), [3, 2, 0]); // not a token: merges as usual
  });
  it('merges as usual for gpt2', () => {
    assert.deepEqual(tokenizerFromGgufMetadata(meta('gpt2')).encode('abc'), [3, 2]);
  });
});

describe('GGUF metadata errors', () => {
  it('refuses unknown tokenizer models and pre-tokenizers', () => {
    const meta = new Map<string, unknown>([['tokenizer.ggml.model', 'bert'], ['tokenizer.ggml.tokens', ['a']]]);
    assert.throws(() => tokenizerFromGgufMetadata(meta), /unsupported GGUF tokenizer model "bert"/);
    const bpe = new Map<string, unknown>([['tokenizer.ggml.model', 'gpt2'], ['tokenizer.ggml.tokens', ['a']], ['tokenizer.ggml.merges', []], ['tokenizer.ggml.pre', 'nope']]);
    assert.throws(() => tokenizerFromGgufMetadata(bpe), /unsupported GGUF pre-tokenizer "nope"/);
    assert.throws(() => tokenizerFromGgufMetadata(new Map()), /no tokenizer.ggml.model/);
  });
  it('splits user-defined tokens out of the text and defaults to llama special ids', () => {
    const tokens = ['<unk>', '<s>', '</s>', '▁', 'a', 'b', '▁a', '<tool>'];
    const meta = new Map<string, unknown>([
      ['tokenizer.ggml.model', 'llama'], ['tokenizer.ggml.tokens', tokens],
      ['tokenizer.ggml.scores', [0, 0, 0, -1, -2, -3, -1.5, 0]],
      ['tokenizer.ggml.token_type', [2, 3, 3, 1, 1, 1, 1, 4]],
    ]);
    const tok = tokenizerFromGgufMetadata(meta);
    assert.deepEqual([tok.bos, tok.eos, tok.unk], [1, 2, 0]);
    assert.deepEqual(tok.encode('a<tool>ab'), [1, 6, 7, 6, 5]);
    assert.deepEqual(tok.encode('ac', { addBos: false }), [6, 0]); // no byte tokens: unk
    assert.equal(tok.decode([1, 6, 7, 6, 5]), 'a<tool> ab');
  });
});
