// Tokenizer conversion for the exports, both ways:
//   GGUF vocabulary → Hugging Face tokenizer.json (+ tokenizer_config.json, special_tokens_map.json)
//     gpt2-style: byte-level BPE with the GGUF merges and the pre-tokenizer regexes llama.cpp uses;
//     llama (SentencePiece) style: BPE with byte fallback, merges derived from the vocabulary and
//     scores as transformers' SentencePieceExtractor does, ▁ normalizer and decoder.
//   HF tokenizer.json → GGUF `tokenizer.ggml.*` metadata (for a merged GGUF of an HF base).
import { GgufType, type GgufTypedValue } from '../core/formats/gguf';
import { TokenType, type Tokenizer } from '../tokenizers';
import { parseByteToken } from '../tokenizers/bytes';
import { ggufPrePatterns, GPT2_PATTERN } from '../tokenizers/pretokenize';

type Json = Record<string, unknown>;

export interface HfTokenizerFiles {
  /** tokenizer.json */
  tokenizer: Json;
  /** tokenizer_config.json */
  tokenizerConfig: Json;
  /** special_tokens_map.json */
  specialTokensMap: Json;
}

const isObj = (x: unknown): x is Json => typeof x === 'object' && x !== null && !Array.isArray(x);

function list<T>(meta: Map<string, unknown>, key: string): T[] | undefined {
  const v = meta.get(key);
  if (v === undefined) return undefined;
  if (!Array.isArray(v) && !ArrayBuffer.isView(v)) throw new Error(`GGUF metadata ${key} is not an array`);
  return Array.from(v as ArrayLike<T>);
}

function num(meta: Map<string, unknown>, key: string): number | undefined {
  const v = meta.get(key);
  if (typeof v === 'bigint') return Number(v);
  return typeof v === 'number' ? v : undefined;
}

function bool(meta: Map<string, unknown>, key: string): boolean | undefined {
  const v = meta.get(key);
  return typeof v === 'boolean' ? v : undefined;
}

/**
 * Merges for a SentencePiece vocabulary, as transformers' `SentencePieceExtractor.extract(vocab_scores)`:
 * for every piece, each split into two pieces that are both in the vocabulary is a merge
 * (within a piece ordered by the ids of the two halves); merges are ordered by the merged
 * piece's score, highest first (ties keep vocabulary order). Splits are by code point.
 */
export function spmMerges(tokens: readonly string[], scores: ArrayLike<number>): [string, string][] {
  const vocab = new Map<string, number>();
  tokens.forEach((t, i) => vocab.set(t, i));
  const all: { l: string; r: string; score: number; order: number; il: number; ir: number }[] = [];
  // Python iterates dict(vocab_scores): one entry per distinct piece, at its first position, last score.
  const seen = new Set<string>();
  const scoreOf = new Map<string, number>();
  tokens.forEach((t, i) => scoreOf.set(t, scores[i] ?? 0));
  tokens.forEach((t, order) => {
    if (seen.has(t)) return;
    seen.add(t);
    const cps = Array.from(t);
    let prefix = '';
    for (let k = 1; k < cps.length; k++) {
      prefix += cps[k - 1];
      const rest = t.slice(prefix.length);
      const il = vocab.get(prefix);
      const ir = vocab.get(rest);
      if (il !== undefined && ir !== undefined) all.push({ l: prefix, r: rest, score: scoreOf.get(t)!, order, il, ir });
    }
  });
  all.sort((a, b) => b.score - a.score || a.order - b.order || a.il - b.il || a.ir - b.ir);
  return all.map((m) => [m.l, m.r]);
}

function mergesJson(merges: [string, string][]): (string | [string, string])[] {
  // The classic "a b" strings when no piece holds a space (every tokenizers version reads them).
  return merges.some(([a, b]) => a.includes(' ') || b.includes(' ')) ? merges : merges.map(([a, b]) => `${a} ${b}`);
}

function template(bos: string | undefined, bosId: number | undefined, eos: string | undefined, eosId: number | undefined): Json {
  const st = (id: string) => ({ SpecialToken: { id, type_id: 0 } });
  const single: Json[] = [];
  const pair: Json[] = [];
  const specials: Json = {};
  if (bos !== undefined) { single.push(st(bos)); specials[bos] = { id: bos, ids: [bosId], tokens: [bos] }; }
  single.push({ Sequence: { id: 'A', type_id: 0 } });
  if (eos !== undefined) { single.push(st(eos)); specials[eos] = { id: eos, ids: [eosId], tokens: [eos] }; }
  pair.push(...single);
  if (bos !== undefined) pair.push({ SpecialToken: { id: bos, type_id: 1 } });
  pair.push({ Sequence: { id: 'B', type_id: 1 } });
  if (eos !== undefined) pair.push({ SpecialToken: { id: eos, type_id: 1 } });
  return { type: 'TemplateProcessing', single, pair, special_tokens: specials };
}

/** llama.cpp sets ignore_merges for these pre-tokenizers (a word that is a token is not merged). */
const IGNORE_MERGES_PRE = new Set(['llama3', 'llama-v3', 'llama-bpe', 'falcon3']);

/**
 * Hugging Face tokenizer files for a GGUF vocabulary (`meta` as GgufFile.metadata holds it).
 * `modelMaxLength` goes to tokenizer_config.json.
 */
export function hfTokenizerFromGguf(meta: Map<string, unknown>, opts: { modelMaxLength?: number } = {}): HfTokenizerFiles {
  const model = meta.get('tokenizer.ggml.model');
  if (model !== 'llama' && model !== 'gpt2') {
    throw new Error(`GGUF tokenizer model ${JSON.stringify(model)} cannot be written as tokenizer.json (supported: "llama", "gpt2")`);
  }
  const tokens = list<string>(meta, 'tokenizer.ggml.tokens');
  if (!tokens?.length) throw new Error('GGUF metadata has no tokenizer.ggml.tokens');
  const n = tokens.length;
  const spm = model === 'llama';
  const types = list<number>(meta, 'tokenizer.ggml.token_type')
    ?? tokens.map((t) => (spm && parseByteToken(t) >= 0 ? TokenType.Byte : TokenType.Normal));
  const id = (key: string, dflt?: number): number | undefined => {
    const v = num(meta, `tokenizer.ggml.${key}`) ?? dflt;
    return v !== undefined && Number.isInteger(v) && v >= 0 && v < n ? v : undefined;
  };
  const bos = id('bos_token_id', spm ? 1 : undefined);
  const eos = id('eos_token_id', spm ? 2 : undefined);
  const unk = id('unknown_token_id', spm ? 0 : undefined);
  const pad = id('padding_token_id');
  const addBos = bool(meta, 'tokenizer.ggml.add_bos_token') ?? spm;
  const addEos = bool(meta, 'tokenizer.ggml.add_eos_token') ?? false;
  const piece = (i: number | undefined) => (i === undefined ? undefined : tokens[i]);

  const vocab: Json = {};
  tokens.forEach((t, i) => { vocab[t] = i; });
  const added: Json[] = [];
  for (let i = 0; i < n; i++) {
    const t = types[i];
    if (t === TokenType.Control || t === TokenType.Unknown || t === TokenType.UserDefined || i === bos || i === eos || i === pad) {
      const special = t !== TokenType.UserDefined;
      added.push({ id: i, content: tokens[i], single_word: false, lstrip: false, rstrip: false, normalized: false, special });
    }
  }

  const post = addBos || addEos
    ? template(addBos ? piece(bos) : undefined, bos, addEos ? piece(eos) : undefined, eos)
    : null;
  let tokenizer: Json;
  if (spm) {
    const scores = list<number>(meta, 'tokenizer.ggml.scores') ?? new Array<number>(n).fill(0);
    const prefix = bool(meta, 'tokenizer.ggml.add_space_prefix') ?? true;
    const normalizers: Json[] = [];
    if (prefix) normalizers.push({ type: 'Prepend', prepend: '\u2581' });
    normalizers.push({ type: 'Replace', pattern: { String: ' ' }, content: '\u2581' });
    const decoders: Json[] = [
      { type: 'Replace', pattern: { String: '\u2581' }, content: ' ' },
      { type: 'ByteFallback' },
      { type: 'Fuse' },
    ];
    if (prefix) decoders.push({ type: 'Strip', content: ' ', start: 1, stop: 0 });
    tokenizer = {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: added,
      normalizer: { type: 'Sequence', normalizers },
      pre_tokenizer: null,
      post_processor: post,
      decoder: { type: 'Sequence', decoders },
      model: {
        type: 'BPE', dropout: null, unk_token: piece(unk) ?? null, continuing_subword_prefix: null, end_of_word_suffix: null,
        fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab, merges: mergesJson(spmMerges(tokens, scores)),
      },
    };
  } else {
    const rawMerges = list<string>(meta, 'tokenizer.ggml.merges');
    if (!rawMerges) throw new Error('GGUF gpt2 tokenizer has no tokenizer.ggml.merges');
    const merges: [string, string][] = [];
    for (const m of rawMerges) {
      const sp = m.indexOf(' ', 1);
      if (sp > 0) merges.push([m.slice(0, sp), m.slice(sp + 1)]);
    }
    const pre = meta.get('tokenizer.ggml.pre') as string | undefined;
    const patterns = ggufPrePatterns(pre);
    const byteLevel = (useRegex: boolean) => ({ type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: useRegex });
    const preTok = patterns.length === 1 && patterns[0] === GPT2_PATTERN
      ? byteLevel(true)
      : {
        type: 'Sequence',
        pretokenizers: [
          ...patterns.map((p) => ({ type: 'Split', pattern: { Regex: p }, behavior: 'Isolated', invert: false })),
          byteLevel(false),
        ],
      };
    const bl = { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true };
    tokenizer = {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: added,
      normalizer: null,
      pre_tokenizer: preTok,
      post_processor: post ? { type: 'Sequence', processors: [bl, post] } : bl,
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: {
        type: 'BPE', dropout: null, unk_token: piece(unk) ?? null, continuing_subword_prefix: null, end_of_word_suffix: null,
        fuse_unk: false, byte_fallback: false, ignore_merges: IGNORE_MERGES_PRE.has(pre ?? ''), vocab, merges: mergesJson(merges),
      },
    };
  }

  const specialTokensMap: Json = {};
  if (bos !== undefined) specialTokensMap.bos_token = tokens[bos];
  if (eos !== undefined) specialTokensMap.eos_token = tokens[eos];
  if (unk !== undefined) specialTokensMap.unk_token = tokens[unk];
  if (pad !== undefined) specialTokensMap.pad_token = tokens[pad];
  const addedDecoder: Json = {};
  for (const a of added) {
    const { id: aid, ...rest } = a;
    addedDecoder[String(aid)] = rest;
  }
  const tokenizerConfig: Json = {
    add_bos_token: addBos,
    add_eos_token: addEos,
    added_tokens_decoder: addedDecoder,
    bos_token: piece(bos) ?? null,
    eos_token: piece(eos) ?? null,
    unk_token: piece(unk) ?? null,
    pad_token: piece(pad) ?? null,
    clean_up_tokenization_spaces: false,
    model_max_length: opts.modelMaxLength ?? 1e30,
    tokenizer_class: 'PreTrainedTokenizerFast',
  };
  const chat = meta.get('tokenizer.chat_template');
  if (typeof chat === 'string') tokenizerConfig.chat_template = chat;
  return { tokenizer, tokenizerConfig, specialTokensMap };
}

// ------------------------------------------------------------------------- HF → GGUF

function containsType(node: unknown, type: string): boolean {
  if (Array.isArray(node)) return node.some((x) => containsType(x, type));
  if (!isObj(node)) return false;
  if (node.type === type) return true;
  return Object.values(node).some((v) => typeof v === 'object' && containsType(v, type));
}

function findAll(node: unknown, type: string, out: Json[] = []): Json[] {
  if (Array.isArray(node)) node.forEach((x) => findAll(x, type, out));
  else if (isObj(node)) {
    if (node.type === type) out.push(node);
    Object.values(node).forEach((v) => typeof v === 'object' && findAll(v, type, out));
  }
  return out;
}

const KNOWN_PRE = ['gpt-2', 'llama-bpe', 'qwen2', 'default'];

/** The GGUF `tokenizer.ggml.pre` name whose regexes equal this tokenizer.json's pre-tokenizer split. */
function preName(preTok: unknown): string | undefined {
  const splits = findAll(preTok, 'Split').map((s) => (isObj(s.pattern) ? s.pattern.Regex : undefined));
  const bl = findAll(preTok, 'ByteLevel');
  const patterns: unknown[] = [...splits];
  if (bl.some((b) => b.use_regex !== false)) patterns.push(GPT2_PATTERN);
  for (const name of KNOWN_PRE) {
    const p = ggufPrePatterns(name);
    if (p.length === patterns.length && p.every((x, i) => x === patterns[i])) return name;
  }
  return undefined;
}

export interface GgufTokenizerOptions {
  /** The model's vocabulary size: the token list is padded with unused `[PADn]` tokens up to it. */
  vocabSize: number;
  /** Our tokenizer for the same file (bos/eos/unk/pad ids, whether BOS/EOS are added). */
  tokenizer?: Tokenizer;
  chatTemplate?: string;
}

/**
 * `tokenizer.ggml.*` metadata (typed, in llama.cpp's key order) for an HF tokenizer.json:
 * byte-level BPE → model "gpt2" with its merges; SentencePiece-converted BPE (byte fallback, ▁)
 * → model "llama" with scores that rank each merged piece by its first merge. `notes` says what
 * could not be carried exactly.
 */
export function ggufTokenizerFromHf(json: unknown, opts: GgufTokenizerOptions): { metadata: [string, GgufTypedValue][]; notes: string[] } {
  if (!isObj(json) || !isObj(json.model)) throw new Error('tokenizer.json: no "model"');
  const model = json.model;
  if ((model.type ?? 'BPE') !== 'BPE') throw new Error(`tokenizer.json: a ${String(model.type)} model cannot be written to GGUF (only BPE)`);
  const notes: string[] = [];
  const byteLevel = containsType(json.pre_tokenizer, 'ByteLevel') || containsType(json.decoder, 'ByteLevel');
  const spmLike = !byteLevel && (model.byte_fallback === true || containsType(json.normalizer, 'Prepend')
    || containsType(json.pre_tokenizer, 'Metaspace') || containsType(json.decoder, 'Metaspace'));
  if (!byteLevel && !spmLike) throw new Error('tokenizer.json is neither byte-level BPE nor SentencePiece-style BPE; it cannot be written to GGUF');
  const vocab = isObj(model.vocab) ? model.vocab : {};
  const added = Array.isArray(json.added_tokens) ? json.added_tokens.filter(isObj) : [];
  let size = opts.vocabSize;
  for (const v of Object.values(vocab)) if (typeof v === 'number') size = Math.max(size, v + 1);
  for (const a of added) if (typeof a.id === 'number') size = Math.max(size, a.id + 1);
  const tokens = new Array<string | undefined>(size);
  const types = new Array<number>(size).fill(TokenType.Normal);
  for (const [t, i] of Object.entries(vocab)) {
    if (typeof i !== 'number') continue;
    tokens[i] = t;
    if (spmLike && model.byte_fallback === true && parseByteToken(t) >= 0) types[i] = TokenType.Byte;
  }
  for (const a of added) {
    if (typeof a.id !== 'number' || typeof a.content !== 'string') continue;
    tokens[a.id] = a.content;
    types[a.id] = a.special === true ? TokenType.Control : TokenType.UserDefined;
  }
  const unkPiece = typeof model.unk_token === 'string' ? model.unk_token : undefined;
  const tok = opts.tokenizer;
  const unk = tok?.unk ?? (unkPiece !== undefined ? (vocab[unkPiece] as number | undefined) : undefined);
  if (unk !== undefined) types[unk] = TokenType.Unknown;
  let holes = 0;
  for (let i = 0; i < size; i++) {
    if (tokens[i] === undefined) {
      tokens[i] = `[PAD${i}]`;
      types[i] = TokenType.Unused;
      holes++;
    }
  }
  if (holes) notes.push(`${holes} vocabulary slot${holes > 1 ? 's' : ''} without a token written as unused [PADn] tokens`);

  const parsedMerges: [string, string][] = [];
  for (const m of Array.isArray(model.merges) ? model.merges : []) {
    if (typeof m === 'string') {
      const sp = m.indexOf(' ', 1);
      if (sp > 0) parsedMerges.push([m.slice(0, sp), m.slice(sp + 1)]);
    } else if (Array.isArray(m) && m.length === 2) parsedMerges.push([String(m[0]), String(m[1])]);
  }

  const arr = (itemType: typeof GgufType.STRING | typeof GgufType.FLOAT32 | typeof GgufType.INT32, value: (string | number)[]): GgufTypedValue =>
    ({ type: GgufType.ARRAY, itemType, value });
  const u32 = (v: number): GgufTypedValue => ({ type: GgufType.UINT32, value: v });
  const md: [string, GgufTypedValue][] = [];
  md.push(['tokenizer.ggml.model', { type: GgufType.STRING, value: byteLevel ? 'gpt2' : 'llama' }]);
  if (byteLevel) {
    let pre = preName(json.pre_tokenizer);
    if (!pre) {
      pre = 'gpt-2';
      notes.push('the tokenizer.json pre-tokenizer matches no llama.cpp pre-tokenizer; wrote "gpt-2"');
    }
    md.push(['tokenizer.ggml.pre', { type: GgufType.STRING, value: pre }]);
  } else {
    md.push(['tokenizer.ggml.pre', { type: GgufType.STRING, value: 'default' }]);
  }
  md.push(['tokenizer.ggml.tokens', arr(GgufType.STRING, tokens as string[])]);
  if (!byteLevel) {
    // Rank order as scores: a piece scores by its first (best) merge; pieces no merge makes rank last.
    const scores = new Array<number>(size);
    const firstRank = new Map<string, number>();
    parsedMerges.forEach(([a, b], r) => { if (!firstRank.has(a + b)) firstRank.set(a + b, r); });
    for (let i = 0; i < size; i++) {
      const t = types[i];
      if (t !== TokenType.Normal) scores[i] = 0;
      else scores[i] = -(firstRank.get(tokens[i]!) ?? parsedMerges.length + i);
    }
    md.push(['tokenizer.ggml.scores', arr(GgufType.FLOAT32, scores)]);
  }
  md.push(['tokenizer.ggml.token_type', arr(GgufType.INT32, types)]);
  if (byteLevel) {
    if (parsedMerges.some(([a, b]) => a.includes(' ') || b.includes(' '))) notes.push('merges with spaces inside a piece cannot be carried by GGUF');
    md.push(['tokenizer.ggml.merges', arr(GgufType.STRING, parsedMerges.map(([a, b]) => `${a} ${b}`))]);
  }
  if (tok?.bos !== undefined) md.push(['tokenizer.ggml.bos_token_id', u32(tok.bos)]);
  if (tok?.eos !== undefined) md.push(['tokenizer.ggml.eos_token_id', u32(tok.eos)]);
  if (unk !== undefined) md.push(['tokenizer.ggml.unknown_token_id', u32(unk)]);
  if (tok?.pad !== undefined) md.push(['tokenizer.ggml.padding_token_id', u32(tok.pad)]);
  md.push(['tokenizer.ggml.add_bos_token', { type: GgufType.BOOL, value: tok?.addBos ?? false }]);
  md.push(['tokenizer.ggml.add_eos_token', { type: GgufType.BOOL, value: tok?.addEos ?? false }]);
  if (!byteLevel) {
    const metaspaces = findAll(json.pre_tokenizer, 'Metaspace');
    const prefix = containsType(json.normalizer, 'Prepend')
      || metaspaces.some((m) => (typeof m.prepend_scheme === 'string' ? m.prepend_scheme !== 'never' : m.add_prefix_space !== false));
    md.push(['tokenizer.ggml.add_space_prefix', { type: GgufType.BOOL, value: prefix }]);
    if (metaspaces.some((m) => m.prepend_scheme === 'first')) notes.push('Metaspace prepend_scheme "first" is written as add_space_prefix (llama.cpp also prefixes text after special tokens)');
  }
  if (opts.chatTemplate) md.push(['tokenizer.chat_template', { type: GgufType.STRING, value: opts.chatTemplate }]);
  return { metadata: md, notes };
}
