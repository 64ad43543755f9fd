// Tokenizer from a parsed HF tokenizer.json (BPE models only: byte-level GPT-2 style, or
// SentencePiece-converted with ▁ and byte fallback).
import { TokenType, type Tokenizer } from './types';
import { VocabTokenizer, type FragmentContext, type SpecialToken } from './base';
import { BpeRanks } from './merge';
import { byteTokenName, parseByteToken, toByteLevel, utf8 } from './bytes';
import { compilePattern, GPT2_PATTERN, splitIsolated } from './pretokenize';
import { checkTokenId } from '../core/formats/limits';

export interface HfTokenizerConfig {
  bos_token_id?: number;
  eos_token_id?: number | number[];
  pad_token_id?: number;
}

type Json = Record<string, unknown>;
type Normalizer = (s: string) => string;
type PreTokenizer = (pieces: string[], ctx: FragmentContext) => string[];

const isObj = (x: unknown): x is Json => typeof x === 'object' && x !== null && !Array.isArray(x);

function fail(msg: string): never {
  throw new Error(`tokenizer.json: ${msg}`);
}

function patternOf(p: unknown, where: string): RegExp {
  if (!isObj(p)) fail(`${where} has no pattern`);
  if (typeof p.String === 'string') return new RegExp(p.String.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'), 'gu');
  if (typeof p.Regex === 'string') return compilePattern(p.Regex);
  fail(`${where} has an unsupported pattern ${JSON.stringify(p)}`);
}

function buildNormalizer(n: unknown): Normalizer | undefined {
  if (n === null || n === undefined) return undefined;
  if (!isObj(n)) fail('normalizer must be an object');
  switch (n.type) {
    case 'Sequence': {
      const list = ((n.normalizers as unknown[]) ?? []).map(buildNormalizer).filter((x): x is Normalizer => !!x);
      return (s) => list.reduce((acc, f) => f(acc), s);
    }
    case 'Prepend': {
      const pre = String(n.prepend ?? '');
      return (s) => (s.length ? pre + s : s);
    }
    case 'Replace': {
      const re = patternOf(n.pattern, 'Replace normalizer');
      const content = String(n.content ?? '');
      return (s) => s.replace(re, () => content);
    }
    case 'NFC': case 'NFD': case 'NFKC': case 'NFKD': {
      const form = n.type;
      return (s) => s.normalize(form);
    }
    case 'Lowercase':
      return (s) => s.toLowerCase();
    case 'Strip': {
      const left = n.strip_left !== false, right = n.strip_right !== false;
      return (s) => { if (left) s = s.replace(/^\s+/u, ''); if (right) s = s.replace(/\s+$/u, ''); return s; };
    }
    default:
      fail(`unsupported normalizer type "${String(n.type)}"`);
  }
}

function splitBehavior(text: string, re: RegExp, behavior: string, invert: boolean, out: string[]): void {
  // collect [start, end, isMatch] segments
  const segs: [number, number, boolean][] = [];
  let last = 0;
  re.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    if (m[0].length === 0) { re.lastIndex++; continue; }
    if (m.index > last) segs.push([last, m.index, false]);
    segs.push([m.index, m.index + m[0].length, true]);
    last = m.index + m[0].length;
  }
  if (last < text.length) segs.push([last, text.length, false]);
  const isDelim = (s: [number, number, boolean]): boolean => s[2] !== invert;
  switch (behavior) {
    case 'Isolated':
      for (const s of segs) out.push(text.slice(s[0], s[1]));
      return;
    case 'Removed':
      for (const s of segs) if (!isDelim(s)) out.push(text.slice(s[0], s[1]));
      return;
    case 'MergedWithPrevious': {
      let cur = '';
      for (const s of segs) { cur += text.slice(s[0], s[1]); if (isDelim(s)) { out.push(cur); cur = ''; } }
      if (cur) out.push(cur);
      return;
    }
    case 'MergedWithNext': {
      let cur = '';
      for (const s of segs) { if (isDelim(s) && cur) { out.push(cur); cur = ''; } cur += text.slice(s[0], s[1]); }
      if (cur) out.push(cur);
      return;
    }
    case 'Contiguous': {
      let cur = '', curDelim: boolean | undefined;
      for (const s of segs) {
        const d = isDelim(s);
        if (curDelim !== undefined && (d !== curDelim || !d)) { out.push(cur); cur = ''; }
        cur += text.slice(s[0], s[1]); curDelim = d;
      }
      if (cur) out.push(cur);
      return;
    }
    default:
      fail(`unsupported Split behavior "${behavior}"`);
  }
}

function buildPreTokenizer(p: unknown): PreTokenizer | undefined {
  if (p === null || p === undefined) return undefined;
  if (!isObj(p)) fail('pre_tokenizer must be an object');
  switch (p.type) {
    case 'Sequence': {
      const list = ((p.pretokenizers as unknown[]) ?? []).map(buildPreTokenizer).filter((x): x is PreTokenizer => !!x);
      return (pieces, ctx) => list.reduce((acc, f) => f(acc, ctx), pieces);
    }
    case 'ByteLevel': {
      const addPrefix = p.add_prefix_space === true;
      const re = p.use_regex === false ? undefined : compilePattern(GPT2_PATTERN);
      return (pieces) => {
        const out: string[] = [];
        for (let s of pieces) {
          if (addPrefix && !s.startsWith(' ')) s = ' ' + s;
          if (re) splitIsolated(s, re, out); else out.push(s);
        }
        return out.map(toByteLevel);
      };
    }
    case 'Metaspace': {
      const repl = typeof p.replacement === 'string' ? p.replacement : '\u2581';
      const scheme = typeof p.prepend_scheme === 'string' ? p.prepend_scheme : p.add_prefix_space === false ? 'never' : 'always';
      const split = p.split !== false;
      return (pieces, ctx) => {
        const out: string[] = [];
        pieces.forEach((piece, i) => {
          let s = piece.replace(/ /g, repl);
          const prepend = scheme === 'always' || (scheme === 'first' && ctx.offset === 0 && i === 0);
          if (prepend && !s.startsWith(repl)) s = repl + s;
          if (!split) { out.push(s); return; }
          let cur = '';
          for (const ch of s) { if (ch === repl && cur) { out.push(cur); cur = ''; } cur += ch; }
          if (cur) out.push(cur);
        });
        return out;
      };
    }
    case 'Split': {
      const re = patternOf(p.pattern, 'Split pre-tokenizer');
      const behavior = String(p.behavior ?? 'Isolated');
      const invert = p.invert === true;
      return (pieces) => { const out: string[] = []; for (const s of pieces) splitBehavior(s, re, behavior, invert, out); return out; };
    }
    case 'Digits': {
      const re = p.individual_digits === true ? /\p{Nd}/gu : /\p{Nd}+/gu;
      return (pieces) => { const out: string[] = []; for (const s of pieces) splitIsolated(s, re, out); return out; };
    }
    case 'WhitespaceSplit':
      return (pieces) => pieces.flatMap((s) => s.split(/\s+/u).filter((x) => x.length));
    case 'Whitespace':
      return (pieces) => pieces.flatMap((s) => s.match(/[\p{L}\p{N}_\p{M}]+|[^\p{L}\p{N}_\p{M}\s]+/gu) ?? []);
    default:
      fail(`unsupported pre_tokenizer type "${String(p.type)}"`);
  }
}

function containsType(node: unknown, type: string): boolean {
  if (Array.isArray(node)) return node.some((x) => containsType(x, type));
  if (!isObj(node)) return false;
  if (node.type === type) return true;
  return Object.values(node).some((v) => typeof v === 'object' && containsType(v, type));
}

/** Whether the decoder strips the first leading space (Strip decoder, or Metaspace with a prepend scheme). */
function decoderStripsLeadingSpace(d: unknown): boolean {
  if (Array.isArray(d)) return d.some(decoderStripsLeadingSpace);
  if (!isObj(d)) return false;
  if (d.type === 'Sequence') return decoderStripsLeadingSpace(d.decoders);
  if (d.type === 'Strip') return d.content === ' ' && Number(d.start ?? 0) >= 1;
  if (d.type === 'Metaspace') {
    if (typeof d.prepend_scheme === 'string') return d.prepend_scheme !== 'never';
    return d.add_prefix_space !== false;
  }
  return false;
}

interface PostInfo { bos?: number; eos?: number }

function postProcessorInfo(p: unknown): PostInfo {
  if (!isObj(p)) return {};
  switch (p.type) {
    case 'Sequence': {
      const info: PostInfo = {};
      for (const x of (p.processors as unknown[]) ?? []) Object.assign(info, postProcessorInfo(x));
      return info;
    }
    case 'TemplateProcessing': {
      const single = Array.isArray(p.single) ? p.single : [];
      const specials = isObj(p.special_tokens) ? p.special_tokens : {};
      const idOf = (item: unknown): number | undefined => {
        if (!isObj(item) || !isObj(item.SpecialToken)) return undefined;
        const st = specials[String(item.SpecialToken.id)];
        return isObj(st) && Array.isArray(st.ids) && typeof st.ids[0] === 'number' ? st.ids[0] : undefined;
      };
      return { bos: idOf(single[0]), eos: single.length > 1 ? idOf(single[single.length - 1]) : undefined };
    }
    case 'RobertaProcessing':
    case 'BertProcessing': {
      const id = (x: unknown): number | undefined => (Array.isArray(x) && typeof x[1] === 'number' ? x[1] : undefined);
      return { bos: id(p.cls), eos: id(p.sep) };
    }
    default:
      return {};
  }
}

const WORD_CACHE_MAX_LEN = 256;
const WORD_CACHE_LIMIT = 100_000;

export interface HfTokenizerOptions {
  /** The file, for messages (default "tokenizer.json"). */
  path?: string;
  /** The model's vocabulary size (config.json), which may exceed the tokenizer's (padded for speed). */
  modelVocabSize?: number;
}

export function tokenizerFromHfJson(json: unknown, config: HfTokenizerConfig = {}, opts: HfTokenizerOptions = {}): Tokenizer {
  if (!isObj(json)) fail('expected an object');
  const model = json.model;
  if (!isObj(model)) fail('no "model"');
  const type = typeof model.type === 'string' ? model.type : 'merges' in model ? 'BPE' : 'unknown';
  if (type !== 'BPE') fail(`unsupported tokenizer model type "${type}" (only BPE is supported)`);
  if (typeof model.continuing_subword_prefix === 'string' && model.continuing_subword_prefix) fail('continuing_subword_prefix is not supported');
  if (typeof model.end_of_word_suffix === 'string' && model.end_of_word_suffix) fail('end_of_word_suffix is not supported');
  if (!isObj(model.vocab)) fail('model.vocab must be an object');

  // Tables of every id are allocated from the largest id, so ids are checked against the number
  // of tokens defined (or the model's vocabulary) first: one id of 5e8 must not cost gigabytes.
  const file = opts.path ?? 'tokenizer.json';
  const vocabEntries = Object.entries(model.vocab);
  const addedList = Array.isArray(json.added_tokens) ? json.added_tokens : [];
  const idLimit = Math.max(vocabEntries.length + addedList.length, opts.modelVocabSize ?? 0);
  const vocab = new Map<string, number>();
  let size = 0;
  for (const [tok, id] of vocabEntries) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) fail(`bad id for token ${JSON.stringify(tok)}`);
    checkTokenId(file, `model.vocab id of token ${JSON.stringify(tok).slice(0, 40)}`, id, idLimit);
    vocab.set(tok, id);
    size = Math.max(size, id + 1);
  }
  const added: { id: number; content: string; special: boolean; lstrip: boolean; rstrip: boolean }[] = [];
  for (const [i, a] of addedList.entries()) {
    if (!isObj(a) || typeof a.id !== 'number' || typeof a.content !== 'string') fail(`bad added_tokens entry #${i}`);
    checkTokenId(file, `added_tokens[${i}].id`, a.id, idLimit);
    added.push({ id: a.id, content: a.content, special: a.special === true, lstrip: a.lstrip === true, rstrip: a.rstrip === true });
    size = Math.max(size, a.id + 1);
  }

  const byteFallback = model.byte_fallback === true;
  const tokens = new Array<string>(size).fill('');
  const types = new Uint8Array(size).fill(TokenType.Unused);
  for (const [tok, id] of vocab) {
    tokens[id] = tok;
    types[id] = byteFallback && parseByteToken(tok) >= 0 ? TokenType.Byte : TokenType.Normal;
  }
  const unk = typeof model.unk_token === 'string' ? vocab.get(model.unk_token) ?? added.find((a) => a.content === model.unk_token)?.id : undefined;
  if (unk !== undefined) types[unk] = TokenType.Unknown;
  const alwaysSplit: SpecialToken[] = [];
  const specialSplit: SpecialToken[] = [];
  for (const a of added) {
    tokens[a.id] = a.content;
    if (a.id !== unk) types[a.id] = a.special ? TokenType.Control : TokenType.UserDefined;
    (a.special ? specialSplit : alwaysSplit).push({ id: a.id, text: a.content, lstrip: a.lstrip, rstrip: a.rstrip });
  }

  const ranks = new BpeRanks(size);
  const merges = Array.isArray(model.merges) ? model.merges : [];
  for (const m of merges) {
    let a: string, b: string;
    if (typeof m === 'string') {
      const sp = m.indexOf(' ', 1);
      if (sp < 0) fail(`bad merge ${JSON.stringify(m)}`);
      a = m.slice(0, sp); b = m.slice(sp + 1);
    } else if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') {
      [a, b] = m as [string, string];
    } else fail(`bad merge ${JSON.stringify(m)}`);
    ranks.add(vocab.get(a), vocab.get(b), vocab.get(a + b));
  }

  const byteLevel = containsType(json.pre_tokenizer, 'ByteLevel') || containsType(json.decoder, 'ByteLevel');
  const normalize = buildNormalizer(json.normalizer);
  const preTokenize = buildPreTokenizer(json.pre_tokenizer);
  const fuseUnk = model.fuse_unk === true;
  const ignoreMerges = model.ignore_merges === true;
  const byteIds = new Int32Array(256);
  for (let b = 0; b < 256; b++) byteIds[b] = vocab.get(byteTokenName(b)) ?? -1;

  const cache = new Map<string, number[]>();
  const encodeWord = (word: string, out: number[]): void => {
    const cached = cache.get(word);
    if (cached) { for (const x of cached) out.push(x); return; }
    let ids: number[];
    const whole = ignoreMerges ? vocab.get(word) : undefined;
    if (whole !== undefined) ids = [whole];
    else {
      const sym: number[] = [];
      for (const ch of word) {
        const id = vocab.get(ch);
        if (id !== undefined) { sym.push(id); continue; }
        if (byteFallback) {
          const bytes = utf8(ch);
          if (bytes.every((x) => byteIds[x] >= 0)) { for (const x of bytes) sym.push(byteIds[x]); continue; }
        }
        if (unk !== undefined && !(fuseUnk && sym.length && sym[sym.length - 1] === unk)) sym.push(unk);
      }
      ids = ranks.apply(sym);
    }
    if (word.length < WORD_CACHE_MAX_LEN) {
      if (cache.size >= WORD_CACHE_LIMIT) cache.clear();
      cache.set(word, ids);
    }
    for (const x of ids) out.push(x);
  };

  const post = postProcessorInfo(json.post_processor);
  const inRange = (x: unknown): number | undefined => (typeof x === 'number' && Number.isInteger(x) && x >= 0 && x < size ? x : undefined);
  const cfgEos = Array.isArray(config.eos_token_id) ? config.eos_token_id : config.eos_token_id !== undefined ? [config.eos_token_id] : [];
  const eosIds = cfgEos.map(inRange).filter((x): x is number => x !== undefined);
  const bos = post.bos ?? inRange(config.bos_token_id);
  const eos = eosIds[0] ?? post.eos;
  if (eos !== undefined && !eosIds.includes(eos)) eosIds.push(eos);

  return new VocabTokenizer({
    kind: byteLevel ? 'bpe' : 'spm',
    tokens,
    types,
    bos,
    eos,
    eosIds,
    unk,
    pad: inRange(config.pad_token_id),
    addBos: post.bos !== undefined,
    addEos: post.eos !== undefined,
    defaultParseSpecial: true,
    byteLevel,
    stripLeadingSpace: !byteLevel && decoderStripsLeadingSpace(json.decoder),
    alwaysSplit,
    specialSplit,
    encodeFragment: (text, ctx, out) => {
      const s = normalize ? normalize(text) : text;
      if (!s.length) return;
      const words = preTokenize ? preTokenize([s], ctx) : [s];
      for (const w of words) if (w.length) encodeWord(w, out);
    },
  });
}
