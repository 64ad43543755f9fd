// The two merge loops: SentencePiece-style score merging over characters (llama.cpp's
// llm_tokenizer_spm) and rank-based BPE merging over token ids (GPT-2 / HF BPE).
import { PairHeap } from './heap';
import { utf8 } from './bytes';

/**
 * Vocabulary for SentencePiece-style merging: text → id, scores, byte tokens, and (built lazily)
 * a table of every way a token splits into two tokens, so most bigram look-ups are by id pair
 * instead of by substring.
 */
export class SpmVocab {
  private pairs?: Map<number, number>;
  constructor(
    readonly vocab: ReadonlyMap<string, number>,
    readonly tokens: readonly string[],
    readonly scores: ArrayLike<number>,
    readonly byteIds: Int32Array,
    readonly unk: number | undefined,
  ) {}

  /** (left id, right id) → id of the concatenation, for every split of every token. */
  pairTable(): Map<number, number> {
    if (this.pairs) return this.pairs;
    const V = this.tokens.length;
    const pairs = new Map<number, number>();
    for (const t of this.tokens) {
      const whole = this.vocab.get(t)!;
      for (let i = 1; i < t.length; i++) {
        const c = t.charCodeAt(i);
        if (c >= 0xdc00 && c <= 0xdfff) continue; // do not split a surrogate pair
        const a = this.vocab.get(t.slice(0, i));
        if (a === undefined) continue;
        const b = this.vocab.get(t.slice(i));
        if (b !== undefined) pairs.set(a * V + b, whole);
      }
    }
    return (this.pairs = pairs);
  }

  private adjacent?: Set<number>;
  /** Every pair of adjacent code points that occurs inside some token (no merge can join any other pair). */
  adjacentPairs(): Set<number> {
    if (this.adjacent) return this.adjacent;
    const set = new Set<number>();
    for (const t of this.tokens) {
      let prev = -1;
      for (const ch of t) {
        const cp = ch.codePointAt(0)!;
        if (prev >= 0) set.add(prev * 0x110000 + cp);
        prev = cp;
      }
    }
    return (this.adjacent = set);
  }
}

/** Above this many UTF-16 units spmMerge splits the text at merge-safe points (see below). */
export const SPM_CHUNK = 2048;

/**
 * Splits long texts at points no merge can cross (the two code points there never occur next to
 * each other inside a token), so the merge queue stays small; the result is identical to merging
 * the whole text at once.
 */
export function spmMerge(text: string, v: SpmVocab, out: number[]): void {
  if (text.length <= 2 * SPM_CHUNK) { spmMergeChunk(text, v, out); return; }
  const adjacent = v.adjacentPairs();
  let from = 0;
  let i = SPM_CHUNK;
  while (i < text.length) {
    // align i to a code point start
    const c = text.charCodeAt(i);
    if (c >= 0xdc00 && c <= 0xdfff) { i++; continue; }
    const before = text.codePointAt(i - 1)!;
    const prevCp = before >= 0xdc00 && before <= 0xdfff && i >= 2 ? text.codePointAt(i - 2)! : before;
    const cp = text.codePointAt(i)!;
    if (!adjacent.has(prevCp * 0x110000 + cp)) {
      spmMergeChunk(text.slice(from, i), v, out);
      from = i;
      i += SPM_CHUNK;
    } else {
      i += cp > 0xffff ? 2 : 1;
    }
  }
  spmMergeChunk(text.slice(from), v, out);
}

/**
 * llama.cpp's SPM tokenization (llm_tokenizer_spm) of an already escaped string (spaces → ▁):
 * split into code points, repeatedly merge the adjacent pair whose concatenation is the vocab
 * token with the highest score (ties: leftmost), then emit each symbol's token or, failing that,
 * its UTF-8 bytes as byte tokens (or unk).
 */
export function spmMergeChunk(text: string, v: SpmVocab, out: number[]): void {
  const n = text.length;
  if (n === 0) return;
  const { vocab, scores, byteIds, unk } = v;
  const pairs = v.pairTable();
  const V = v.tokens.length;
  const start = new Int32Array(n);
  const len = new Int32Array(n);
  const sid = new Int32Array(n);
  let count = 0;
  for (let i = 0; i < n;) {
    const c = text.charCodeAt(i);
    let l = 1;
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) l = 2;
    }
    start[count] = i; len[count] = l;
    sid[count] = vocab.get(l === 1 ? text[i] : text.substr(i, 2)) ?? -1;
    count++;
    i += l;
  }
  const prev = new Int32Array(count);
  const next = new Int32Array(count);
  for (let i = 0; i < count; i++) { prev[i] = i - 1; next[i] = i + 1 < count ? i + 1 : -1; }

  const heap = new PairHeap(Math.max(16, count));
  const tryAdd = (l: number, r: number): void => {
    if (l < 0 || r < 0) return;
    const a = sid[l], b = sid[r];
    const id = a >= 0 && b >= 0 ? pairs.get(a * V + b) : vocab.get(text.substr(start[l], len[l] + len[r]));
    if (id === undefined) return;
    heap.push(-scores[id], l, r, b, id);
  };
  for (let i = 1; i < count; i++) tryAdd(i - 1, i);

  while (heap.size > 0) {
    const l = heap.topK2(), r = heap.topP1(), b = heap.topP2(), id = heap.topP3();
    heap.pop();
    // Stale if either side was merged away or the right side grew since the pair was queued
    // (the left side cannot change while its right neighbour survives).
    if (len[l] === 0 || len[r] === 0 || next[l] !== r || sid[r] !== b) continue;
    len[l] += len[r];
    len[r] = 0;
    sid[l] = id;
    next[l] = next[r];
    if (next[r] >= 0) prev[next[r]] = l;
    tryAdd(prev[l], l);
    tryAdd(l, next[l]);
  }

  for (let i = 0; i !== -1; i = next[i]) {
    if (sid[i] >= 0) { out.push(sid[i]); continue; }
    for (const b of utf8(text.substr(start[i], len[i]))) {
      const bid = byteIds[b];
      if (bid >= 0) out.push(bid);
      else if (unk !== undefined) out.push(unk);
    }
  }
}

/** Merge table for rank-based BPE: pair of ids → rank, and rank → merged id. */
export class BpeRanks {
  private readonly pairRank = new Map<number, number>();
  private readonly merged: number[] = [];
  constructor(private readonly vocabSize: number) {}

  /** Adds the next merge (rank = insertion order). Ignores merges whose parts or result are unknown. */
  add(a: number | undefined, b: number | undefined, result: number | undefined): void {
    const rank = this.merged.length;
    this.merged.push(result ?? -1);
    if (a === undefined || b === undefined || result === undefined) return;
    const key = a * this.vocabSize + b;
    if (!this.pairRank.has(key)) this.pairRank.set(key, rank);
  }

  get size(): number { return this.merged.length; }

  /**
   * Merges the symbols in place by lowest rank first (ties: leftmost), as GPT-2, HF `Word::merge_all`
   * and llama.cpp's llm_tokenizer_bpe do. Symbols < 0 (unknown) never merge.
   */
  apply(ids: number[]): number[] {
    const n = ids.length;
    if (n < 2) return ids;
    const V = this.vocabSize;
    const pairRank = this.pairRank;
    if (n <= 12) {
      // small words: repeated scan is cheaper than a heap
      const sym = ids.slice();
      for (;;) {
        let best = Infinity, at = -1;
        for (let i = 0; i + 1 < sym.length; i++) {
          const a = sym[i], b = sym[i + 1];
          if (a < 0 || b < 0) continue;
          const r = pairRank.get(a * V + b);
          if (r !== undefined && r < best) { best = r; at = i; }
        }
        if (at < 0) return sym;
        sym.splice(at, 2, this.merged[best]);
      }
    }
    const sym = Int32Array.from(ids);
    const prev = new Int32Array(n);
    const next = new Int32Array(n);
    const alive = new Uint8Array(n).fill(1);
    for (let i = 0; i < n; i++) { prev[i] = i - 1; next[i] = i + 1 < n ? i + 1 : -1; }
    const heap = new PairHeap(n);
    const tryAdd = (l: number, r: number): void => {
      if (l < 0 || r < 0) return;
      const a = sym[l], b = sym[r];
      if (a < 0 || b < 0) return;
      const rank = pairRank.get(a * V + b);
      if (rank !== undefined) heap.push(rank, l, r, b);
    };
    for (let i = 0; i + 1 < n; i++) tryAdd(i, i + 1);
    while (heap.size > 0) {
      const rank = heap.topK1(), l = heap.topK2(), r = heap.topP1(), b = heap.topP2();
      heap.pop();
      // Stale if either side is gone or no longer adjacent, or the right side grew since the pair
      // was queued (the left side cannot change while its right neighbour survives).
      if (!alive[l] || !alive[r] || next[l] !== r || sym[r] !== b) continue;
      sym[l] = this.merged[rank];
      alive[r] = 0;
      next[l] = next[r];
      if (next[r] >= 0) prev[next[r]] = l;
      tryAdd(prev[l], l);
      tryAdd(l, next[l]);
    }
    const out: number[] = [];
    for (let i = 0; i !== -1; i = next[i]) out.push(sym[i]);
    return out;
  }
}
