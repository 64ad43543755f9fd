// What `adapt-lab tokenize --json` prints: the token ids of a text and each token's piece, for
// people debugging chat templates and loss masks. `validateTokenizePayload` checks a value read
// from the process.

export interface TokenizeToken {
  id: number;
  /** The vocabulary string (SentencePiece ▁ for spaces, GPT-2 byte symbols as stored). */
  piece: string;
  /** The text this token decodes to on its own (its bytes as UTF-8; partial characters show U+FFFD). */
  text: string;
  /** A control / unknown token, or the model's BOS, EOS or padding id. */
  special: boolean;
}

export interface TokenizePayload {
  model: string;
  text: string;
  /** Whether BOS was added (the model's default unless --no-bos). */
  addBos: boolean;
  /** Whether special-token text in the input (e.g. "<|im_start|>") became special tokens. */
  parseSpecial: boolean;
  count: number;
  tokens: TokenizeToken[];
  /** The ids decoded again (special tokens dropped): what the model "sees" as text. */
  decoded: string;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Throws a message naming the first bad field; returns the payload typed. */
export function validateTokenizePayload(v: unknown): TokenizePayload {
  const bad = (what: string) => new Error(`tokenize payload: ${what}`);
  if (!isObj(v)) throw bad('not an object');
  for (const f of ['model', 'text', 'decoded'] as const) if (typeof v[f] !== 'string') throw bad(`"${f}" is not a string`);
  for (const f of ['addBos', 'parseSpecial'] as const) if (typeof v[f] !== 'boolean') throw bad(`"${f}" is not true or false`);
  if (!Array.isArray(v.tokens)) throw bad('"tokens" is not an array');
  if (v.count !== v.tokens.length) throw bad(`"count" is ${JSON.stringify(v.count)} but there are ${v.tokens.length} tokens`);
  v.tokens.forEach((t: unknown, i: number) => {
    if (!isObj(t) || !Number.isSafeInteger(t.id) || (t.id as number) < 0 || typeof t.piece !== 'string'
      || typeof t.text !== 'string' || typeof t.special !== 'boolean') {
      throw bad(`tokens[${i}] is not {id, piece, text, special}`);
    }
  });
  return v as unknown as TokenizePayload;
}
