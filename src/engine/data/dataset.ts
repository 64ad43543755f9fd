// Training and evaluation data: reads a data file, tokenizes it into examples with a loss mask, and batches them.
//
// Formats (one kind per file):
//   .jsonl / .json  {"prompt": "...", "completion": "..."}    loss on the completion (and EOS)
//   .jsonl / .json  {"messages": [{"role", "content"}, ...]}   loss on assistant turns (with their end-of-turn
//                                                              marker), rendered with the model's chat template
//   .txt            plain text                                 loss on every token, cut into
//                                                              chunks of maxLength tokens
// Every error names the file and line (`train.jsonl:17: "completion" is missing`).
import { basename, extname, resolve } from 'node:path';
import { TokenStats } from '../../protocol/events';
import type { Tokenizer } from '../tokenizers';
import { Rng } from '../random';
import { locateJsonError } from '../core/run-config';
import { CHAT_ROLES, ChatFormat, ChatMessage, ChatRole } from '../chat/template';
import { ChatTemplateInfo } from '../core/chat-info';
import { chatFormatFor, encodeChat } from '../chat/encode';
import { readFileBytes, stripBom } from '../core/read-file';

export interface Example {
  ids: number[];
  /** mask[i] === 1: ids[i] is a label (predicted from position i - 1). mask[0] is always 0. */
  mask: Uint8Array;
  /** 1-based line of the data file it came from (for previews; 1 for text files). */
  line?: number;
}

export type DataFormat = 'prompt-completion' | 'messages' | 'text';

export interface Dataset {
  examples: Example[];
  stats: TokenStats;
  /** The absolute path read. */
  file: string;
  format: DataFormat;
  /** Things worth telling the user that did not stop loading (dropped examples). */
  warnings: string[];
  /** The chat template conversations were rendered with ({"messages"} data only). */
  chat?: ChatTemplateInfo;
}

export interface LoadDatasetOptions {
  maxLength: number;
  /**
   * How conversations are rendered: the model's chat template (chatFormatFor(lm.chatTemplate,
   * tokenizer)). Default: the default template, as for a model without one.
   */
  chat?: ChatFormat;
}

export type { ChatMessage, ChatRole } from '../chat/template';

// ------------------------------------------------------------------------------ tokenization

/** One piece of a sequence: text (or a token id) and whether its tokens carry loss. */
type Segment = { text: string; loss: boolean } | { id: number; loss: boolean };

/** Does encode() put a leading-space marker on every piece (SentencePiece add_space_prefix)? */
function addsSpacePrefix(tok: Tokenizer): boolean {
  if (tok.kind !== 'spm') return false;
  const ids = tok.encode('a', { addBos: false, addEos: false });
  const first = ids.length ? tok.tokenToPiece(ids[0]) : '';
  return first.startsWith('\u2581') || first.startsWith(' ');
}

const prefixCache = new WeakMap<Tokenizer, boolean>();
function spacePrefix(tok: Tokenizer): boolean {
  let v = prefixCache.get(tok);
  if (v === undefined) prefixCache.set(tok, (v = addsSpacePrefix(tok)));
  return v;
}

/**
 * Tokenizes segments one by one and concatenates them: BOS once at the start if the tokenizer
 * says so, pieces encoded without BOS/EOS. Encoding pieces separately means a SentencePiece
 * tokenizer puts its space prefix ("▁") on each piece: "Q: capital?" + "Paris" trains the model to
 * answer "▁Paris", i.e. " Paris". Evaluation encodes the prompt the same way (encodePrompt),
 * so training and prompting agree. (Conversations are tokenized whole instead: ../chat/encode.ts.) Data usually writes the completion with a
 * leading space (" Paris"), which would become "▁▁Paris"; so for such tokenizers one leading
 * space of a loss piece is dropped (the prefix puts it back). Byte-level BPE adds no prefix and
 * keeps the text as written.
 */
function encodeSegments(segs: Segment[], tok: Tokenizer): Example {
  const ids: number[] = [];
  const mask: number[] = [];
  if (tok.addBos && tok.bos !== undefined) { ids.push(tok.bos); mask.push(0); }
  const prefix = spacePrefix(tok);
  for (const s of segs) {
    let piece: number[];
    if ('id' in s) piece = [s.id];
    else {
      const text = prefix && s.loss && s.text.startsWith(' ') ? s.text.slice(1) : s.text;
      if (!text) continue;
      piece = tok.encode(text, { addBos: false, addEos: false });
    }
    for (const id of piece) { ids.push(id); mask.push(s.loss ? 1 : 0); }
  }
  if (mask.length) mask[0] = 0;
  return { ids, mask: Uint8Array.from(mask) };
}

function promptCompletionSegments(prompt: string, completion: string, tok: Tokenizer): Segment[] {
  const segs: Segment[] = [{ text: prompt, loss: false }, { text: completion, loss: true }];
  if (tok.eos !== undefined) segs.push({ id: tok.eos, loss: true });
  return segs;
}

/** Token ids of a prompt/completion prompt, exactly as training encodes the prompt part. */
export function encodePrompt(prompt: string, tok: Tokenizer): number[] {
  return encodeSegments([{ text: prompt, loss: false }], tok).ids;
}

/** One example before truncation, with its source line. */
interface RawExample extends Example {
  line: number;
}

// ------------------------------------------------------------------------------ parsing

class Problems {
  readonly list: string[] = [];
  constructor(readonly file: string) {}
  add(line: number, msg: string): void {
    this.list.push(`${this.file}:${line}: ${msg}`);
  }
  throwIfAny(): void {
    if (!this.list.length) return;
    const shown = this.list.slice(0, 20);
    if (this.list.length > shown.length) shown.push(`${this.file}: ... and ${this.list.length - shown.length} more problems`);
    throw new Error(shown.join('\n'));
  }
}

const showValue = (v: unknown) => {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 37)}...` : v);
  return typeof v === 'object' ? 'an object' : String(v);
};

type Record_ = { kind: 'prompt-completion'; prompt: string; completion: string } | { kind: 'messages'; messages: ChatMessage[] };

function parseRecord(v: unknown, line: number, p: Problems): Record_ | undefined {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    p.add(line, `expected a JSON object, got ${showValue(v)}`);
    return undefined;
  }
  const o = v as Record<string, unknown>;
  const hasPC = 'prompt' in o || 'completion' in o;
  const hasM = 'messages' in o;
  if (hasPC && hasM) {
    p.add(line, 'has both "messages" and "prompt"/"completion"; use one or the other');
    return undefined;
  }
  if (hasPC) {
    let ok = true;
    for (const k of ['prompt', 'completion']) {
      if (!(k in o)) { p.add(line, `"${k}" is missing`); ok = false; }
      else if (typeof o[k] !== 'string') { p.add(line, `"${k}" must be a string, got ${showValue(o[k])}`); ok = false; }
    }
    return ok ? { kind: 'prompt-completion', prompt: o.prompt as string, completion: o.completion as string } : undefined;
  }
  if (hasM) {
    const ms = o.messages;
    if (!Array.isArray(ms) || ms.length === 0) {
      p.add(line, `"messages" must be a non-empty array, got ${showValue(ms)}`);
      return undefined;
    }
    let ok = true;
    const out: ChatMessage[] = [];
    ms.forEach((m, i) => {
      if (m === null || typeof m !== 'object' || Array.isArray(m)) {
        p.add(line, `"messages[${i}]" must be an object with "role" and "content", got ${showValue(m)}`);
        ok = false;
        return;
      }
      const { role, content } = m as Record<string, unknown>;
      if (typeof role !== 'string' || !CHAT_ROLES.includes(role as ChatRole)) {
        p.add(line, `"messages[${i}].role" must be one of ${CHAT_ROLES.join(', ')}${role === undefined ? ' (it is missing)' : `, got ${showValue(role)}`}`);
        ok = false;
      }
      if (typeof content !== 'string') {
        p.add(line, `"messages[${i}].content" must be a string${content === undefined ? ' (it is missing)' : `, got ${showValue(content)}`}`);
        ok = false;
      }
      if (ok) out.push({ role: role as ChatRole, content: content as string });
    });
    if (ok && !out.some((m) => m.role === 'assistant')) {
      p.add(line, '"messages" has no assistant message, so there is nothing to learn from it');
      ok = false;
    }
    return ok ? { kind: 'messages', messages: out } : undefined;
  }
  const keys = Object.keys(o);
  p.add(line, `expected {"prompt", "completion"} or {"messages": [...]}, got ${keys.length ? `keys ${keys.map((k) => `"${k}"`).join(', ')}` : 'an empty object'}`);
  return undefined;
}

const KIND_NAME: Record<Record_['kind'], string> = {
  'prompt-completion': '{"prompt", "completion"}',
  messages: '{"messages"}',
};

function readJsonl(text: string, file: string, tok: Tokenizer, chat: () => ChatFormat): { format: DataFormat; raw: RawExample[]; straddling: number[] } {
  const p = new Problems(file);
  const straddling: number[] = [];
  const lines = text.split(/\r?\n/);
  let kind: Record_['kind'] | undefined;
  let kindLine = 0;
  const raw: RawExample[] = [];
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n];
    if (!line.trim()) continue;
    const lineNo = n + 1;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      const loc = locateJsonError(line);
      p.add(lineNo, `not valid JSON (${loc ? `${loc.message} at column ${loc.column}` : (e as Error).message})`);
      continue;
    }
    const r = parseRecord(v, lineNo, p);
    if (!r) continue;
    if (kind === undefined) { kind = r.kind; kindLine = lineNo; }
    else if (r.kind !== kind) {
      p.add(lineNo, `a ${KIND_NAME[r.kind]} example, but line ${kindLine} is ${KIND_NAME[kind]}; one file must hold one kind`);
      continue;
    }
    if (p.list.length) continue; // no point tokenizing once the file is known to be bad
    if (r.kind === 'prompt-completion') {
      raw.push({ ...encodeSegments(promptCompletionSegments(r.prompt, r.completion, tok), tok), line: lineNo });
      continue;
    }
    let enc;
    try {
      enc = encodeChat(r.messages, tok, chat());
    } catch (e) {
      p.add(lineNo, (e as Error).message);
      continue;
    }
    if (enc.straddling) straddling.push(lineNo);
    raw.push({ ids: enc.ids, mask: enc.mask, line: lineNo });
  }
  p.throwIfAny();
  if (kind === undefined) throw new Error(`${file}: is empty (no examples)`);
  return { format: kind, raw, straddling };
}

function readText(text: string, file: string, tok: Tokenizer, maxLength: number): RawExample[] {
  if (!text.trim()) throw new Error(`${file}: is empty (no text)`);
  // The whole file is one token stream, cut into chunks; each chunk starts with BOS if the model
  // uses one. No EOS is appended: a text file is a stream, not one answer that ends.
  const body = tok.encode(text, { addBos: false, addEos: false });
  const bos = tok.addBos && tok.bos !== undefined ? [tok.bos] : [];
  const per = maxLength - bos.length;
  const out: RawExample[] = [];
  for (let i = 0; i < body.length; i += per) {
    const ids = [...bos, ...body.slice(i, i + per)];
    if (ids.length < 2) continue; // a lone token predicts nothing
    const mask = new Uint8Array(ids.length).fill(1);
    mask[0] = 0;
    out.push({ ids, mask, line: 1 });
  }
  if (!out.length) throw new Error(`${file}: too little text to train on (${body.length} token${body.length === 1 ? '' : 's'})`);
  return out;
}

// ------------------------------------------------------------------------------ statistics

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

export function tokenStats(examples: readonly Example[], truncated: number): TokenStats {
  const lengths = examples.map((e) => e.ids.length).sort((a, b) => a - b);
  const tokens = lengths.reduce((a, b) => a + b, 0);
  let labelTokens = 0;
  for (const e of examples) for (let i = 0; i < e.mask.length; i++) labelTokens += e.mask[i];
  return {
    examples: examples.length,
    tokens,
    labelTokens,
    minLength: lengths.length ? lengths[0] : 0,
    maxLength: lengths.length ? lengths[lengths.length - 1] : 0,
    meanLength: lengths.length ? tokens / lengths.length : 0,
    p50Length: percentile(lengths, 0.5),
    p95Length: percentile(lengths, 0.95),
    truncated,
  };
}

const sum = (m: Uint8Array) => m.reduce((a, b) => a + b, 0);
const range = (xs: number[]) => {
  const lo = Math.min(...xs), hi = Math.max(...xs);
  return lo === hi ? `${lo}` : `${lo}–${hi}`;
};
const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;
const lineList = (ls: number[]) => (ls.length <= 10 ? ls.join(', ') : `${ls.slice(0, 10).join(', ')}, ...`);

// ------------------------------------------------------------------------------ loading

/** 1-based numbers of the lines holding bytes that are not valid UTF-8 (none for most files: one fast check first). */
function linesNotUtf8(bytes: Buffer): number[] {
  const fatal = new TextDecoder('utf-8', { fatal: true });
  try {
    fatal.decode(bytes);
    return [];
  } catch {
    /* find the lines */
  }
  const bad: number[] = [];
  let start = 0;
  for (let line = 1; start <= bytes.length; line++) {
    let end = bytes.indexOf(10, start);
    if (end < 0) end = bytes.length;
    try {
      fatal.decode(bytes.subarray(start, end));
    } catch {
      bad.push(line);
    }
    start = end + 1;
  }
  return bad;
}

/**
 * Reads and tokenizes a data file. Examples longer than maxLength are cut to their first
 * maxLength tokens; examples left with no loss tokens are dropped (with a warning), and if that is
 * all of them loading fails, since training would learn nothing.
 */
export function loadDataset(path: string, tokenizer: Tokenizer, opts: LoadDatasetOptions): Dataset {
  const abs = resolve(path);
  const file = basename(abs);
  const { maxLength } = opts;
  if (!Number.isInteger(maxLength) || maxLength < 2) throw new Error(`${file}: maxLength must be an integer of at least 2, got ${maxLength}`);
  const ext = extname(abs).toLowerCase();
  if (ext !== '.jsonl' && ext !== '.json' && ext !== '.txt') {
    throw new Error(`${file}: unsupported data file type "${ext || '(none)'}"; use .jsonl ({"prompt","completion"} or {"messages"} per line) or .txt (plain text)`);
  }
  const bytes = readFileBytes(abs, file);
  const warnings: string[] = [];
  const notUtf8 = linesNotUtf8(bytes);
  if (notUtf8.length) {
    const more = notUtf8.length > 1 ? `; also line${notUtf8.length > 2 ? 's' : ''} ${lineList(notUtf8.slice(1))}` : '';
    warnings.push(`${file}:${notUtf8[0]}: bytes that are not UTF-8, read as U+FFFD (\uFFFD)${more}; save the file as UTF-8`);
  }
  const text = stripBom(bytes.toString('utf8'));

  let format: DataFormat;
  let raw: RawExample[];
  let straddling: number[] = [];
  let chat: ChatFormat | undefined;
  const chatFormat = () => (chat ??= opts.chat ?? chatFormatFor(undefined, tokenizer));
  if (ext === '.txt') {
    format = 'text';
    raw = readText(text, file, tokenizer, maxLength);
  } else {
    if (ext === '.json' && text.trimStart().startsWith('[')) {
      throw new Error(`${file}:1: a JSON array; training data must be JSON Lines (one JSON object per line, .jsonl)`);
    }
    ({ format, raw, straddling } = readJsonl(text, file, tokenizer, chatFormat));
  }

  const kept: Example[] = [];
  const noLabelsAtAll: number[] = [];
  const lostToTruncation: RawExample[] = [];
  let truncated = 0;
  for (const r of raw) {
    if (sum(r.mask) === 0) { noLabelsAtAll.push(r.line); continue; }
    let ex: Example = { ids: r.ids, mask: r.mask, line: r.line };
    if (r.ids.length > maxLength) {
      ex = { ids: r.ids.slice(0, maxLength), mask: r.mask.slice(0, maxLength), line: r.line };
      if (sum(ex.mask) === 0) { lostToTruncation.push(r); continue; }
      truncated++;
    }
    kept.push(ex);
  }

  const promptLengths = lostToTruncation.map((r) => r.mask.indexOf(1));
  if (!kept.length) {
    const parts: string[] = [];
    if (lostToTruncation.length) {
      parts.push(`${lostToTruncation.length === raw.length ? 'all ' : ''}${plural(lostToTruncation.length, 'example')} ${lostToTruncation.length === 1 ? 'has' : 'have'} no loss tokens after truncation to ${maxLength} tokens (prompts are ${range(promptLengths)} tokens long); raise training.maxLength`);
    }
    if (noLabelsAtAll.length) {
      parts.push(`${noLabelsAtAll.length === raw.length ? 'all ' : ''}${plural(noLabelsAtAll.length, 'example')} ${noLabelsAtAll.length === 1 ? 'has' : 'have'} nothing to learn (empty completions and no EOS token; lines ${lineList(noLabelsAtAll)})`);
    }
    throw new Error(`${file}: ${parts.join('; ')}`);
  }
  if (lostToTruncation.length) {
    warnings.push(`${file}: dropped ${lostToTruncation.length} of ${raw.length} examples with no loss tokens after truncation to ${maxLength} tokens (lines ${lineList(lostToTruncation.map((r) => r.line))}; prompts ${range(promptLengths)} tokens); raise training.maxLength to keep them`);
  }
  if (noLabelsAtAll.length) {
    warnings.push(`${file}: dropped ${noLabelsAtAll.length} of ${raw.length} examples with nothing to learn (empty completion and no EOS token; lines ${lineList(noLabelsAtAll)})`);
  }
  if (straddling.length) {
    warnings.push(`${file}: in ${plural(straddling.length, 'example')} the tokenizer merges the end of the prompt with the start of a reply into one token (lines ${lineList(straddling)}); that token is trained, but an inference prompt cannot end inside it`);
  }
  return { examples: kept, stats: tokenStats(kept, truncated), file: abs, format, warnings, ...(chat ? { chat: chat.info } : {}) };
}

// ------------------------------------------------------------------------------ split and batches

/**
 * Holds out round(fraction × n) examples (at least 1 when fraction > 0, never all) chosen by rng;
 * both parts keep the file order.
 */
export function splitValidation<T>(examples: readonly T[], fraction: number, rng: Rng): { train: T[]; validation: T[] } {
  if (!(fraction >= 0 && fraction < 1)) throw new Error(`validation fraction must be in [0, 1), got ${fraction}`);
  const n = examples.length;
  let k = fraction > 0 ? Math.max(1, Math.round(fraction * n)) : 0;
  k = Math.min(k, Math.max(0, n - 1));
  const order = rng.shuffle(Array.from({ length: n }, (_, i) => i));
  const held = new Set(order.slice(0, k));
  const train: T[] = [];
  const validation: T[] = [];
  examples.forEach((e, i) => (held.has(i) ? validation : train).push(e));
  return { train, validation };
}

/** Groups examples into batches of batchSize (the last may be smaller), shuffled by rng if asked. */
export function makeBatches<T>(examples: readonly T[], batchSize: number, rng: Rng, opts: { shuffle: boolean }): T[][] {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
  const list = opts.shuffle ? rng.shuffle([...examples]) : [...examples];
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += batchSize) out.push(list.slice(i, i + batchSize));
  return out;
}

export interface PackedBatch {
  /** [batch, length] row-major, padded with padId. */
  ids: Int32Array;
  /** [batch × length]: the next token (ids[t + 1]); padId where there is none. */
  labels: Int32Array;
  /** [batch × length]: 1 where labels[t] carries loss (mask[t + 1]), else 0. */
  weights: Float32Array;
  batch: number;
  length: number;
  /** Real (non-padding) tokens in the batch, for throughput. */
  tokens: number;
}

/** Lays a batch out for next-token cross-entropy over positions 0..length-1. */
export function packBatch(examples: readonly Example[], padId: number): PackedBatch {
  const batch = examples.length;
  const length = examples.reduce((m, e) => Math.max(m, e.ids.length), 0);
  const ids = new Int32Array(batch * length).fill(padId);
  const labels = new Int32Array(batch * length).fill(padId);
  const weights = new Float32Array(batch * length);
  let tokens = 0;
  examples.forEach((e, b) => {
    const row = b * length;
    const n = e.ids.length;
    tokens += n;
    for (let t = 0; t < n; t++) ids[row + t] = e.ids[t];
    for (let t = 0; t + 1 < n; t++) {
      labels[row + t] = e.ids[t + 1];
      weights[row + t] = e.mask[t + 1];
    }
  });
  return { ids, labels, weights, batch, length, tokens };
}

/** Label tokens in a set of batches (the trainer's loss normaliser). */
export function labelCount(batches: readonly PackedBatch[]): number {
  let n = 0;
  for (const b of batches) for (let i = 0; i < b.weights.length; i++) n += b.weights[i];
  return n;
}
