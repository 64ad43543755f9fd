// A small byte-level BPE trainer (GPT-2 style) that writes a Hugging Face tokenizer.json.
// Deterministic: merges are chosen by count, ties broken by the pair's text. Build tool only:
// the engine's tokenizerFromHfJson reads the result back, and pretrain-base checks it round-trips.

/** GPT-2's pre-tokenizer pattern (the ByteLevel pre-tokenizer with use_regex). */
const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** GPT-2's byte → printable character map (bytes_to_unicode). */
export function bytesToUnicode() {
  const bs = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) { bs.push(b); cs.push(256 + n); n++; }
  }
  const map = new Array(256);
  bs.forEach((b, i) => { map[b] = String.fromCodePoint(cs[i]); });
  return map;
}

/**
 * Trains merges until the vocabulary (specials + 256 bytes + merges) has `vocabSize` entries.
 * `texts` are trained on separately (no word crosses two texts); specials get the first ids.
 */
export function trainByteLevelBpe(texts, { vocabSize, specials = ['<|endoftext|>'], minCount = 2, log = () => {} }) {
  const b2u = bytesToUnicode();
  const enc = new TextEncoder();
  // 1. Word frequencies (words in byte-level form).
  const wordCounts = new Map();
  for (const t of texts) {
    for (const m of t.matchAll(GPT2_SPLIT)) {
      const w = Array.from(enc.encode(m[0]), (b) => b2u[b]).join('');
      wordCounts.set(w, (wordCounts.get(w) ?? 0) + 1);
    }
  }
  // 2. Symbols: specials, then the 256 bytes in byte order.
  const symbols = [...specials, ...b2u];
  const idOf = new Map(symbols.map((s, i) => [s, i]));
  const words = [...wordCounts.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([w, count]) => ({ syms: Array.from(w, (c) => idOf.get(c)), count }));
  const KEY = 1 << 16;
  const pairCount = new Map();
  const pairWords = new Map();
  const addPairs = (wi, sign) => {
    const { syms, count } = words[wi];
    for (let i = 0; i + 1 < syms.length; i++) {
      const k = syms[i] * KEY + syms[i + 1];
      pairCount.set(k, (pairCount.get(k) ?? 0) + sign * count);
      if (sign > 0) {
        let set = pairWords.get(k);
        if (!set) pairWords.set(k, (set = new Set()));
        set.add(wi);
      }
    }
  };
  words.forEach((_, wi) => addPairs(wi, 1));
  // 3. Merges.
  const merges = [];
  while (symbols.length < vocabSize) {
    let best = -1;
    let bestCount = 0;
    let bestText = '';
    for (const [k, c] of pairCount) {
      if (c < bestCount || c <= 0) continue;
      const text = `${symbols[Math.floor(k / KEY)]} ${symbols[k % KEY]}`;
      if (c > bestCount || text < bestText) { best = k; bestCount = c; bestText = text; }
    }
    if (best < 0 || bestCount < minCount) break;
    const a = Math.floor(best / KEY);
    const b = best % KEY;
    const id = symbols.length;
    symbols.push(symbols[a] + symbols[b]);
    merges.push([symbols[a], symbols[b]]);
    for (const wi of pairWords.get(best) ?? []) {
      const w = words[wi];
      let has = false;
      for (let i = 0; i + 1 < w.syms.length; i++) if (w.syms[i] === a && w.syms[i + 1] === b) { has = true; break; }
      if (!has) continue;
      addPairs(wi, -1);
      const out = [];
      for (let i = 0; i < w.syms.length; i++) {
        if (i + 1 < w.syms.length && w.syms[i] === a && w.syms[i + 1] === b) { out.push(id); i++; } else out.push(w.syms[i]);
      }
      w.syms = out;
      addPairs(wi, 1);
    }
    pairCount.delete(best);
    pairWords.delete(best);
    if (merges.length % 256 === 0) log(`  ${symbols.length} / ${vocabSize} tokens (last merge "${bestText}" × ${bestCount})`);
  }
  return { symbols, merges, specials };
}

/** The Hugging Face tokenizer.json: BPE, ByteLevel pre-tokenizer and decoder, BOS added by the post-processor. */
export function hfTokenizerJson({ symbols, merges, specials }, { bos = specials[0] } = {}) {
  const vocab = Object.fromEntries(symbols.map((s, i) => [s, i]));
  const bosId = vocab[bos];
  const special = { [bos]: { id: bos, ids: [bosId], tokens: [bos] } };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((s) => ({ id: vocab[s], content: s, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: bos, type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: special,
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}
