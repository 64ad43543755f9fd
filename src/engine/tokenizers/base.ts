// The tokenizer shell shared by the GGUF and HF loaders: special-token partitioning, BOS/EOS,
// decoding and per-token bytes. The vocabulary-specific part is the fragment encoder.
import { TokenType, type DecodeOptions, type EncodeOptions, type Tokenizer } from './types';
import { concatBytes, fromByteLevel, parseByteToken, utf8 } from './bytes';

export interface SpecialToken {
  id: number;
  text: string;
  /** HF added-token flags: eat whitespace on the left / right of the match. */
  lstrip?: boolean;
  rstrip?: boolean;
}

export interface FragmentContext {
  /** The fragment starts the text or follows a special token (llama.cpp's is_prev_special). */
  prevSpecial: boolean;
  /** Offset of the fragment in the original text. */
  offset: number;
}

export type FragmentEncoder = (text: string, ctx: FragmentContext, out: number[]) => void;

export interface TokenizerSpec {
  kind: 'spm' | 'bpe';
  tokens: readonly string[];
  types: Uint8Array;
  bos?: number;
  eos?: number;
  eosIds?: readonly number[];
  unk?: number;
  pad?: number;
  addBos: boolean;
  addEos: boolean;
  defaultParseSpecial: boolean;
  /** Decode pieces through the GPT-2 byte alphabet (otherwise ▁ → space). */
  byteLevel: boolean;
  /** Decode drops one leading space from the first emitted piece (SPM add_space_prefix). */
  stripLeadingSpace: boolean;
  /** Tokens split out of the text even without parseSpecial. */
  alwaysSplit: readonly SpecialToken[];
  /** Tokens split out of the text only with parseSpecial. */
  specialSplit: readonly SpecialToken[];
  encodeFragment: FragmentEncoder;
}

type Part = { text: string; offset: number } | number;

const EMPTY = new Uint8Array(0);

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function buildMatcher(tokens: readonly SpecialToken[]): { re: RegExp; byText: Map<string, SpecialToken> } | undefined {
  const byText = new Map<string, SpecialToken>();
  for (const t of tokens) if (t.text.length && !byText.has(t.text)) byText.set(t.text, t);
  if (!byText.size) return undefined;
  // longest first, so at any position the longest special token wins (leftmost-longest)
  const texts = [...byText.keys()].sort((a, b) => b.length - a.length);
  return { re: new RegExp(texts.map(escapeRegExp).join('|'), 'g'), byText };
}

export class VocabTokenizer implements Tokenizer {
  readonly kind: 'spm' | 'bpe';
  readonly vocabSize: number;
  readonly bos?: number;
  readonly eos?: number;
  readonly eosIds: readonly number[];
  readonly unk?: number;
  readonly pad?: number;
  readonly addBos: boolean;
  readonly addEos: boolean;
  private readonly tokens: readonly string[];
  private readonly types: Uint8Array;
  private readonly spec: TokenizerSpec;
  private readonly bytesCache: (Uint8Array | undefined)[];
  private readonly matchers: [ReturnType<typeof buildMatcher>, ReturnType<typeof buildMatcher>];
  private readonly specialIds: Set<number>;
  private readonly textDecoder = new TextDecoder('utf-8', { ignoreBOM: true });

  constructor(spec: TokenizerSpec) {
    this.spec = spec;
    this.kind = spec.kind;
    this.tokens = spec.tokens;
    this.types = spec.types;
    this.vocabSize = spec.tokens.length;
    this.bos = spec.bos;
    this.eos = spec.eos;
    this.eosIds = spec.eosIds ?? (spec.eos !== undefined ? [spec.eos] : []);
    this.unk = spec.unk;
    this.pad = spec.pad;
    this.addBos = spec.addBos && spec.bos !== undefined;
    this.addEos = spec.addEos && spec.eos !== undefined;
    this.bytesCache = new Array(this.vocabSize);
    this.matchers = [buildMatcher(spec.alwaysSplit), buildMatcher([...spec.alwaysSplit, ...spec.specialSplit])];
    this.specialIds = new Set([spec.bos, spec.eos, spec.pad, ...this.eosIds].filter((x): x is number => x !== undefined));
  }

  private check(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw new RangeError(`token id ${id} out of range [0, ${this.vocabSize})`);
  }

  tokenToPiece(id: number): string {
    this.check(id);
    return this.tokens[id];
  }

  tokenType(id: number): TokenType {
    this.check(id);
    return this.types[id] as TokenType;
  }

  isSpecial(id: number): boolean {
    this.check(id);
    const t = this.types[id];
    return t === TokenType.Control || t === TokenType.Unknown || this.specialIds.has(id);
  }

  tokenBytes(id: number): Uint8Array {
    this.check(id);
    let b = this.bytesCache[id];
    if (b) return b;
    const piece = this.tokens[id];
    switch (this.types[id]) {
      case TokenType.Control:
      case TokenType.Unused:
        b = EMPTY; break;
      case TokenType.Byte: {
        const x = parseByteToken(piece);
        b = x >= 0 ? Uint8Array.of(x) : utf8(piece);
        break;
      }
      case TokenType.UserDefined:
      case TokenType.Unknown:
        b = utf8(piece); break;
      default:
        b = this.spec.byteLevel ? fromByteLevel(piece) : utf8(piece.replace(/\u2581/g, ' '));
    }
    this.bytesCache[id] = b;
    return b;
  }

  /** Splits text around special tokens; raw parts keep their offsets. */
  private partition(text: string, parseSpecial: boolean): Part[] {
    const m = this.matchers[parseSpecial ? 1 : 0];
    if (!m) return text.length ? [{ text, offset: 0 }] : [];
    const parts: Part[] = [];
    const lstrip: boolean[] = [];
    let last = 0;
    m.re.lastIndex = 0;
    let hit: RegExpExecArray | null;
    while ((hit = m.re.exec(text)) !== null) {
      const tok = m.byText.get(hit[0])!;
      if (hit.index > last) parts.push({ text: text.slice(last, hit.index), offset: last });
      parts.push(tok.id);
      lstrip.push(!!tok.lstrip);
      last = hit.index + hit[0].length;
      if (tok.rstrip) while (last < text.length && /\s/.test(text[last])) last++;
      m.re.lastIndex = last;
    }
    if (last < text.length) parts.push({ text: text.slice(last), offset: last });
    // lstrip: trim whitespace at the end of the raw part before such a token
    let k = 0;
    for (let i = 0; i < parts.length; i++) {
      if (typeof parts[i] !== 'number') continue;
      if (lstrip[k++] && i > 0) {
        const p = parts[i - 1];
        if (typeof p !== 'number') p.text = p.text.replace(/\s+$/u, '');
      }
    }
    return parts.filter((p) => typeof p === 'number' || p.text.length > 0);
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    const out: number[] = [];
    if ((opts.addBos ?? this.addBos) && this.bos !== undefined) out.push(this.bos);
    let prevSpecial = true;
    for (const p of this.partition(text, opts.parseSpecial ?? this.spec.defaultParseSpecial)) {
      if (typeof p === 'number') {
        out.push(p);
        prevSpecial = true;
      } else {
        this.spec.encodeFragment(p.text, { prevSpecial, offset: p.offset }, out);
        prevSpecial = false;
      }
    }
    if ((opts.addEos ?? this.addEos) && this.eos !== undefined) out.push(this.eos);
    return out;
  }

  /** The bytes decode() would produce for these ids (before UTF-8 decoding). */
  decodeBytes(ids: readonly number[], opts: DecodeOptions = {}): Uint8Array {
    const parts: Uint8Array[] = [];
    let strip = this.spec.stripLeadingSpace;
    let total = 0;
    for (const id of ids) {
      let b = opts.special && this.tokenType(id) === TokenType.Control ? utf8(this.tokens[id]) : this.tokenBytes(id);
      if (b.length === 0) continue;
      if (strip) {
        if (b[0] === 0x20) b = b.subarray(1);
        strip = false;
      }
      parts.push(b);
      total += b.length;
    }
    return concatBytes(parts, total);
  }

  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    return this.textDecoder.decode(this.decodeBytes(ids, opts));
  }
}
