// Tokenizers standing in for each family's: llama.cpp's test vocabularies (Llama 2's
// SentencePiece and GPT-2's byte-level BPE, shared/fixtures/tokenizers) with the family's chat
// tokens appended as control tokens, as their GGUF files declare them.
import { TokenType, tokenizerFromGgufMetadata, type Tokenizer } from '../../../src/engine/tokenizers';
import { sharedPath } from '../../helpers/shared';
import { readGgufMetadata } from '../tokenizers/gguf-meta';

export interface FamilyVocab {
  /** Extra tokens appended to the base vocabulary, each a control token. */
  control: string[];
  /** Special ids by text (one of the appended tokens, or a base one such as "<s>"). */
  bos?: string;
  eos?: string;
  eot?: string;
  addBos?: boolean;
  pre?: string;
}

const metaCache = new Map<string, Map<string, unknown>>();

export function vocabMetadata(kind: 'spm' | 'bpe', v: FamilyVocab): Map<string, unknown> {
  const file = kind === 'spm' ? 'ggml-vocab-llama-spm.gguf' : 'ggml-vocab-gpt-2.gguf';
  let base = metaCache.get(file);
  if (!base) metaCache.set(file, (base = readGgufMetadata(sharedPath('fixtures', 'tokenizers', file))));
  const meta = new Map(base);
  const tokens = [...(base.get('tokenizer.ggml.tokens') as string[]), ...v.control];
  const baseTypes = (base.get('tokenizer.ggml.token_type') as number[] | undefined) ?? new Array(tokens.length - v.control.length).fill(TokenType.Normal);
  meta.set('tokenizer.ggml.tokens', tokens);
  meta.set('tokenizer.ggml.token_type', [...baseTypes, ...v.control.map(() => TokenType.Control)]);
  if (kind === 'spm') meta.set('tokenizer.ggml.scores', [...(base.get('tokenizer.ggml.scores') as number[]), ...v.control.map(() => 0)]);
  const idOf = (t: string) => {
    const i = tokens.lastIndexOf(t);
    if (i < 0) throw new Error(`test vocabulary has no token ${t}`);
    return i;
  };
  if (v.bos) meta.set('tokenizer.ggml.bos_token_id', idOf(v.bos));
  if (v.eos) meta.set('tokenizer.ggml.eos_token_id', idOf(v.eos));
  if (v.eot) meta.set('tokenizer.ggml.eot_token_id', idOf(v.eot));
  if (v.addBos !== undefined) meta.set('tokenizer.ggml.add_bos_token', v.addBos);
  if (v.pre) meta.set('tokenizer.ggml.pre', v.pre);
  return meta;
}

export function familyTokenizer(kind: 'spm' | 'bpe', v: FamilyVocab): Tokenizer {
  return tokenizerFromGgufMetadata(vocabMetadata(kind, v));
}
