// Tokenizer from GGUF metadata (`tokenizer.ggml.*`), matching llama.cpp's llama-vocab.
import { TokenType, type Tokenizer } from './types';
import { VocabTokenizer, type SpecialToken } from './base';
import { BpeRanks, SpmVocab, spmMerge } from './merge';
import { BYTE_TO_UNICODE, byteTokenName, utf8 } from './bytes';
import { compilePattern, ggufPrePatterns, splitWithPatterns } from './pretokenize';

function arrayOf<T>(meta: Map<string, unknown>, key: string, check: (x: unknown) => boolean, what: string): T[] | undefined {
  const v = meta.get(key);
  if (v === undefined) return undefined;
  if (!Array.isArray(v) && !ArrayBuffer.isView(v)) throw new Error(`GGUF metadata ${key} must be an array of ${what}`);
  const arr = Array.from(v as ArrayLike<unknown>);
  if (arr.length && !check(arr[0])) throw new Error(`GGUF metadata ${key} must be an array of ${what}`);
  return arr as T[];
}

function scalar<T>(meta: Map<string, unknown>, key: string, type: 'number' | 'boolean' | 'string'): T | undefined {
  let v = meta.get(key);
  if (v === undefined) return undefined;
  if (typeof v === 'bigint') v = Number(v);
  if (typeof v !== type) throw new Error(`GGUF metadata ${key} must be a ${type}, got ${typeof v}`);
  return v as T;
}

const BPE_CACHE_LIMIT = 100_000;

/** `tokenizer.ggml.pre` values for which llama.cpp sets ignore_merges (llama-vocab.cpp). */
const IGNORE_MERGES_PRE = new Set(['llama3', 'llama-v3', 'llama-bpe', 'falcon3', 'falcon-h1', 'pixtral', 'midm-2.0', 'lfm2', 'youtu']);

export function tokenizerFromGgufMetadata(meta: Map<string, unknown>): Tokenizer {
  const model = scalar<string>(meta, 'tokenizer.ggml.model', 'string');
  if (model === undefined) throw new Error('GGUF metadata has no tokenizer.ggml.model');
  if (model !== 'llama' && model !== 'gpt2') {
    throw new Error(`unsupported GGUF tokenizer model "${model}" (supported: "llama" = SentencePiece, "gpt2" = byte-level BPE)`);
  }
  const tokens = arrayOf<string>(meta, 'tokenizer.ggml.tokens', (x) => typeof x === 'string', 'strings');
  if (!tokens || !tokens.length) throw new Error('GGUF metadata has no tokenizer.ggml.tokens');
  const n = tokens.length;
  const isSpm = model === 'llama';

  const types = new Uint8Array(n).fill(TokenType.Normal);
  const rawTypes = arrayOf<number>(meta, 'tokenizer.ggml.token_type', (x) => typeof x === 'number', 'numbers');
  if (rawTypes) {
    if (rawTypes.length !== n) throw new Error(`tokenizer.ggml.token_type has ${rawTypes.length} entries for ${n} tokens`);
    types.set(rawTypes);
  } else if (isSpm) {
    for (let i = 0; i < n; i++) if (/^<0x[0-9A-F]{2}>$/.test(tokens[i])) types[i] = TokenType.Byte;
  }

  const vocab = new Map<string, number>();
  for (let i = 0; i < n; i++) vocab.set(tokens[i], i); // last duplicate wins, as in llama.cpp

  // special ids: absent key → llama.cpp's defaults for SPM; out-of-range (e.g. 0xFFFFFFFF) → none
  const id = (key: string, dflt?: number): number | undefined => {
    const v = scalar<number>(meta, `tokenizer.ggml.${key}`, 'number') ?? dflt;
    return v !== undefined && Number.isInteger(v) && v >= 0 && v < n ? v : undefined;
  };
  const bos = id('bos_token_id', isSpm ? 1 : undefined);
  const eos = id('eos_token_id', isSpm ? 2 : undefined);
  const unk = id('unknown_token_id', isSpm ? 0 : undefined);
  const pad = id('padding_token_id');
  const eot = id('eot_token_id');
  const eom = id('eom_token_id');
  const eosIds = [...new Set([eos, eot, eom].filter((x): x is number => x !== undefined))];
  const addBos = scalar<boolean>(meta, 'tokenizer.ggml.add_bos_token', 'boolean') ?? isSpm;
  const addEos = scalar<boolean>(meta, 'tokenizer.ggml.add_eos_token', 'boolean') ?? false;

  const alwaysSplit: SpecialToken[] = [];
  const specialSplit: SpecialToken[] = [];
  for (let i = 0; i < n; i++) {
    if (types[i] === TokenType.UserDefined) alwaysSplit.push({ id: i, text: tokens[i] });
    else if (types[i] === TokenType.Control || types[i] === TokenType.Unknown) specialSplit.push({ id: i, text: tokens[i] });
  }
  const common = { tokens, types, bos, eos, eosIds, unk, pad, addBos, addEos, defaultParseSpecial: false, alwaysSplit, specialSplit };

  if (isSpm) {
    const scoresRaw = arrayOf<number>(meta, 'tokenizer.ggml.scores', (x) => typeof x === 'number', 'numbers');
    if (scoresRaw && scoresRaw.length !== n) throw new Error(`tokenizer.ggml.scores has ${scoresRaw.length} entries for ${n} tokens`);
    const scores = scoresRaw ? Float64Array.from(scoresRaw) : new Float64Array(n);
    const addSpacePrefix = scalar<boolean>(meta, 'tokenizer.ggml.add_space_prefix', 'boolean') ?? true;
    const byteIds = new Int32Array(256).fill(-1);
    for (let b = 0; b < 256; b++) {
      byteIds[b] = vocab.get(byteTokenName(b)) ?? vocab.get(String.fromCharCode(b)) ?? -1;
    }
    const spm = new SpmVocab(vocab, tokens, scores, byteIds, unk);
    return new VocabTokenizer({
      ...common,
      kind: 'spm',
      byteLevel: false,
      stripLeadingSpace: addSpacePrefix,
      encodeFragment: (text, ctx, out) => {
        const s = (addSpacePrefix && ctx.prevSpecial ? ' ' : '') + text;
        spmMerge(s.replace(/ /g, '\u2581'), spm, out);
      },
    });
  }

  // gpt2: byte-level BPE
  const merges = arrayOf<string>(meta, 'tokenizer.ggml.merges', (x) => typeof x === 'string', 'strings');
  if (!merges) throw new Error('GGUF gpt2 tokenizer has no tokenizer.ggml.merges');
  const ranks = new BpeRanks(n);
  for (const m of merges) {
    const sp = m.indexOf(' ', 1);
    if (sp < 0) { ranks.add(undefined, undefined, undefined); continue; }
    const a = m.slice(0, sp), b = m.slice(sp + 1);
    ranks.add(vocab.get(a), vocab.get(b), vocab.get(a + b));
  }
  const pre = scalar<string>(meta, 'tokenizer.ggml.pre', 'string');
  const regexes = ggufPrePatterns(pre).map(compilePattern);
  // As llama.cpp: for these vocabularies a word that is itself a token is taken whole, even
  // where no sequence of merges would build it (Llama 3's tokenizer.json says ignore_merges).
  const ignoreMerges = pre !== undefined && IGNORE_MERGES_PRE.has(pre);
  const byteCharIds = BYTE_TO_UNICODE.map((c) => vocab.get(c) ?? -1);
  const cache = new Map<string, number[]>();
  const encodeWord = (word: string): number[] => {
    let ids = cache.get(word);
    if (ids) return ids;
    const bytes = utf8(word);
    const whole = ignoreMerges ? vocab.get(Array.from(bytes, (b) => BYTE_TO_UNICODE[b]).join('')) : undefined;
    const sym = new Array<number>(bytes.length);
    for (let i = 0; i < bytes.length; i++) sym[i] = byteCharIds[bytes[i]];
    ids = whole !== undefined ? [whole] : ranks.apply(sym);
    if (ids.includes(-1)) ids = ids.flatMap((x) => (x >= 0 ? [x] : unk !== undefined ? [unk] : []));
    if (cache.size >= BPE_CACHE_LIMIT) cache.clear();
    if (word.length < 256) cache.set(word, ids);
    return ids;
  };
  return new VocabTokenizer({
    ...common,
    kind: 'bpe',
    byteLevel: true,
    stripLeadingSpace: false,
    encodeFragment: (text, _ctx, out) => {
      for (const w of splitWithPatterns(text, regexes)) for (const x of encodeWord(w)) out.push(x);
    },
  });
}
