// Regex pre-tokenization (the splitting of text into words before BPE).

/** Unicode White_Space (what llama.cpp and Oniguruma mean by \s; JS's \s differs on U+0085/U+FEFF). */
const WS = '\\t\\n\\v\\f\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

export const GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
export const LLAMA3_PATTERN = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
export const QWEN2_PATTERN = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** llama.cpp's regex lists for `tokenizer.ggml.pre` values (applied one after the other). */
const GGUF_PRE: Record<string, readonly string[]> = {
  'default': ['[\\p{P}\\$\\+<=>\\^~\\|]+', GPT2_PATTERN, '\\p{N}+', '[0-9][0-9][0-9]'],
  'gpt-2': [GPT2_PATTERN],
  'gpt2': [GPT2_PATTERN],
  'mpt': [GPT2_PATTERN],
  'olmo': [GPT2_PATTERN],
  'jais': [GPT2_PATTERN],
  'llama3': [LLAMA3_PATTERN],
  'llama-bpe': [LLAMA3_PATTERN],
  'llama-v3': [LLAMA3_PATTERN],
  'smaug-bpe': [LLAMA3_PATTERN],
  'falcon3': [LLAMA3_PATTERN],
  'qwen2': [QWEN2_PATTERN],
  'deepseek-r1-qwen': [QWEN2_PATTERN],
};

export function ggufPrePatterns(pre: string | undefined): readonly string[] {
  const p = GGUF_PRE[pre ?? 'default'];
  if (!p) {
    throw new Error(`unsupported GGUF pre-tokenizer "${pre}" (supported: ${Object.keys(GGUF_PRE).join(', ')})`);
  }
  return p;
}

/**
 * Converts an Oniguruma/PCRE-style pattern (as found in tokenizer.json and llama.cpp) to a JS
 * `u` RegExp: \s/\S become the Unicode White_Space set, and `(?i:...)` groups (not supported by
 * Node 20) are expanded to case classes.
 */
export function compilePattern(pattern: string): RegExp {
  let out = '';
  let inClass = 0;
  const caseGroups: number[] = []; // paren depth at which each (?i: began
  let depth = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      const n = pattern[i + 1];
      if (n === 's') out += inClass ? WS : `[${WS}]`;
      else if (n === 'S' && !inClass) out += `[^${WS}]`;
      else if ((n === 'p' || n === 'P') && pattern[i + 2] === '{') {
        const end = pattern.indexOf('}', i);
        out += pattern.slice(i, end + 1);
        i = end;
        continue;
      } else out += c + n;
      i++;
      continue;
    }
    if (inClass) {
      if (c === '[') inClass++;
      else if (c === ']') inClass--;
      out += c;
      continue;
    }
    if (c === '[') { inClass = 1; out += c; if (pattern[i + 1] === '^') { out += '^'; i++; } if (pattern[i + 1] === ']') { out += '\\]'; i++; } continue; }
    if (c === '(') {
      depth++;
      if (pattern.startsWith('(?i:', i)) { caseGroups.push(depth); out += '(?:'; i += 3; continue; }
      out += c;
      continue;
    }
    if (c === ')') {
      if (caseGroups.length && caseGroups[caseGroups.length - 1] === depth) caseGroups.pop();
      depth--;
      out += c;
      continue;
    }
    if (caseGroups.length && /[a-zA-Z]/.test(c)) {
      out += `[${c.toLowerCase()}${c.toUpperCase()}]`;
      continue;
    }
    out += c;
  }
  try {
    return new RegExp(out, 'gu');
  } catch (e) {
    throw new Error(`cannot compile pre-tokenizer pattern ${JSON.stringify(pattern)}: ${(e as Error).message}`);
  }
}

/** Splits text into regex matches and the (non-empty) gaps between them, in order. */
export function splitIsolated(text: string, re: RegExp, out: string[]): void {
  let last = 0;
  re.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const s = m[0];
    if (s.length === 0) { re.lastIndex++; continue; }
    if (m.index > last) out.push(text.slice(last, m.index));
    out.push(s);
    last = m.index + s.length;
  }
  if (last < text.length) out.push(text.slice(last));
}

/** Applies each regex in turn to every piece (llama.cpp's unicode_regex_split). */
export function splitWithPatterns(text: string, regexes: readonly RegExp[]): string[] {
  let pieces = [text];
  for (const re of regexes) {
    const next: string[] = [];
    for (const p of pieces) splitIsolated(p, re, next);
    pieces = next;
  }
  return pieces;
}
