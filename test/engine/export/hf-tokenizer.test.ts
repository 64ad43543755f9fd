// GGUF vocabularies written as Hugging Face tokenizer.json (and back to GGUF metadata) must
// tokenize exactly like the GGUF tokenizer: llama.cpp's test vectors and stories260K.
import { strict as assert } from 'node:assert';
import { readGguf } from '../../../src/engine/core/formats/gguf';
import { tokenizerFromGgufMetadata, tokenizerFromHfJson, Tokenizer } from '../../../src/engine/tokenizers';
import { ggufTokenizerFromHf, hfTokenizerFromGguf, spmMerges } from '../../../src/engine/export/hf-tokenizer';
import { Rng } from '../../../src/engine/random';
import { loadMeta, loadVectors } from '../tokenizers/vectors';
import { STORIES } from './fixture';

/** The tokenizer.json as a file would give it back (JSON text round trip). */
function viaJson(meta: Map<string, unknown>): { hf: Tokenizer; json: unknown; files: ReturnType<typeof hfTokenizerFromGguf> } {
  const files = hfTokenizerFromGguf(meta, { modelMaxLength: 2048 });
  const json = JSON.parse(JSON.stringify(files.tokenizer));
  const cfg = { bos_token_id: undefined as number | undefined, eos_token_id: undefined as number | undefined };
  const tokens = meta.get('tokenizer.ggml.tokens') as string[];
  const ids = (k: string) => (typeof files.specialTokensMap[k] === 'string' ? tokens.indexOf(files.specialTokensMap[k] as string) : undefined);
  cfg.bos_token_id = ids('bos_token');
  cfg.eos_token_id = ids('eos_token');
  return { hf: tokenizerFromHfJson(json, cfg), json, files };
}

function backToGguf(json: unknown, tok: Tokenizer, vocabSize: number): Tokenizer {
  const { metadata } = ggufTokenizerFromHf(json, { vocabSize, tokenizer: tok });
  return tokenizerFromGgufMetadata(new Map(metadata.map(([k, v]) => [k, v.value])));
}

for (const name of ['ggml-vocab-llama-spm.gguf', 'ggml-vocab-gpt-2.gguf']) {
  describe(`tokenizer.json from ${name}`, function () {
    this.timeout(60000);
    const meta = loadMeta(name);
    const vectors = loadVectors(name);
    const gguf = tokenizerFromGgufMetadata(meta);
    const { hf, json, files } = viaJson(meta);

    it('encodes every llama.cpp vector like the GGUF tokenizer (and as llama.cpp did)', () => {
      for (const { text, ids } of vectors) {
        const got = hf.encode(text, { addBos: false, parseSpecial: false });
        assert.deepEqual(got, ids, JSON.stringify(text));
        assert.deepEqual(got, gguf.encode(text, { addBos: false }), JSON.stringify(text));
      }
    });

    it('decodes every vector to the same text as the GGUF tokenizer', () => {
      for (const { ids } of vectors) assert.equal(hf.decode(ids), gguf.decode(ids));
    });

    it('adds BOS as the GGUF says, and has its special tokens', () => {
      assert.equal(hf.addBos, gguf.addBos);
      assert.equal(hf.bos, gguf.bos);
      assert.equal(hf.eos, gguf.eos);
      assert.equal(hf.kind, gguf.kind);
      const t = 'Hello world';
      assert.deepEqual(hf.encode(t), gguf.encode(t));
      assert.equal(files.tokenizerConfig.bos_token, gguf.bos !== undefined ? gguf.tokenToPiece(gguf.bos) : null);
      assert.equal(files.tokenizerConfig.eos_token, gguf.tokenToPiece(gguf.eos!));
    });

    it('agrees with the GGUF tokenizer on random text', () => {
      const rng = new Rng(7);
      const alphabet = [...'abcdefghijklmnopqrstuvwxyz      ABCXYZ.,;!?\'"\n\t0123456789'].concat(['é', 'ß', '日本', '😀', '\u00a0', '  ', 'the', 'ing']);
      for (let k = 0; k < 3000; k++) {
        let t = '';
        const n = 1 + rng.int(40);
        for (let i = 0; i < n; i++) t += alphabet[rng.int(alphabet.length)];
        assert.deepEqual(hf.encode(t, { parseSpecial: false }), gguf.encode(t), JSON.stringify(t));
      }
    });

    it('goes back to GGUF metadata that tokenizes the same', () => {
      const back = backToGguf(json, hf, gguf.vocabSize);
      assert.equal(back.kind, gguf.kind);
      assert.equal(back.addBos, gguf.addBos);
      for (const { text, ids } of vectors) assert.deepEqual(back.encode(text, { addBos: false }), ids, JSON.stringify(text));
    });
  });
}

describe('tokenizer.json from the stories260K vocabulary', () => {
  it('is a byte-fallback BPE with the SentencePiece normalizer and decoder, and encodes like the GGUF', () => {
    const f = readGguf(STORIES);
    const meta = f.metadata as Map<string, unknown>;
    const gguf = tokenizerFromGgufMetadata(meta);
    const { hf, json } = viaJson(meta);
    const j = json as { model: Record<string, unknown>; normalizer: unknown; decoder: unknown; post_processor: Record<string, unknown>; added_tokens: { id: number; special: boolean }[] };
    assert.equal(j.model.type, 'BPE');
    assert.equal(j.model.byte_fallback, true);
    assert.equal(j.model.unk_token, '<unk>');
    assert.deepEqual(j.normalizer, { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] });
    assert.deepEqual(j.decoder, {
      type: 'Sequence',
      decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }],
    });
    assert.equal(j.post_processor.type, 'TemplateProcessing');
    assert.deepEqual(j.added_tokens.map((a) => [a.id, a.special]), [[0, true], [1, true], [2, true]]);
    for (const text of ['Once upon a time, there was a little girl named Lily.', 'Tom was happy.', ' x  y ', 'naïve café 😀', '']) {
      assert.deepEqual(hf.encode(text), gguf.encode(text), JSON.stringify(text));
      assert.equal(hf.decode(hf.encode(text)), gguf.decode(gguf.encode(text)));
    }
    assert.deepEqual(hf.encode('Once upon a time'), [1, 403, 407, 261, 378]);
  });
});

describe('spmMerges', () => {
  it('follows transformers\' SentencePieceExtractor: every split of every piece, by piece score, then ids', () => {
    const tokens = ['<unk>', 'a', 'b', 'c', 'ab', 'bc', 'abc', '▁', '▁a', '日', '日b'];
    const scores = [0, -1, -2, -3, -4, -10, -5, -6, -7, -8, -4];
    assert.deepEqual(spmMerges(tokens, scores), [
      ['a', 'b'], // ab  -4
      ['日', 'b'], // 日b -4 (same score: vocabulary order)
      ['a', 'bc'], ['ab', 'c'], // abc -5: split by the ids of the halves (a=1 < ab=4)
      ['▁', 'a'], // ▁a  -7
      ['b', 'c'], // bc  -10
    ]);
  });
});

describe('GGUF metadata from a tokenizer.json', () => {
  it('refuses tokenizers it cannot express', () => {
    assert.throws(() => ggufTokenizerFromHf({ model: { type: 'WordPiece', vocab: {} } }, { vocabSize: 1 }), /WordPiece model cannot be written/);
    assert.throws(() => ggufTokenizerFromHf({ model: { type: 'BPE', vocab: {}, merges: [] } }, { vocabSize: 1 }), /neither byte-level/);
  });

  it('pads the token list to the model vocabulary with unused tokens', () => {
    const meta = loadMeta('ggml-vocab-gpt-2.gguf');
    const { hf, json } = viaJson(meta);
    const { metadata, notes } = ggufTokenizerFromHf(json, { vocabSize: 50260, tokenizer: hf });
    const m = new Map(metadata.map(([k, v]) => [k, v.value]));
    const tokens = m.get('tokenizer.ggml.tokens') as string[];
    assert.equal(tokens.length, 50260);
    assert.equal(tokens[50259], '[PAD50259]');
    assert.equal((m.get('tokenizer.ggml.token_type') as number[])[50259], 5);
    assert.equal(m.get('tokenizer.ggml.pre'), 'gpt-2');
    assert.ok(notes.some((n) => /3 vocabulary slots/.test(n)));
  });
});
