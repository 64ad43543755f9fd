// The prompts file of an evaluation: JSON Lines, one case per line.
//
//   {"prompt": "Tom lost his ball. Tom was", "expected": "sad", "stop": ["."]}
//   {"id": "capital", "prompt": "Q: capital of France?\nA:", "expected": "Paris", "match": "contains", "weight": 5}
//
//   prompt    string, required
//   expected  string; without it the case is timed and checked for stability but not scored
//   match     "exact" (default: equal after trimming both), "contains", "regex" (JavaScript syntax)
//   weight    number > 0 (default 1): the cost of getting the case wrong
//   id        string (default "line-N"), unique in the file
//   stop      string[]: stop sequences added to the defaults ("\n")
//   messages  [{role, content}, ...] instead of "prompt": a conversation ending with a user turn,
//             rendered with the model's chat template (the run's, for an adapted model) and
//             add_generation_prompt, as training renders conversations; "expected" is the reply
//
//   {"messages": [{"role": "system", "content": "Answer in one word."}, {"role": "user", "content": "Tom lost his ball. How does Tom feel?"}], "expected": "sad"}
//
// Every problem names the file and line, all problems are reported together, and a file with
// any problem is refused as a whole (nothing is evaluated).
import { basename, resolve } from 'node:path';
import { MATCH_KINDS, MatchKind } from '../../protocol/eval';
import type { PromptMessage } from '../../protocol/worker';
import { readTextFile, stripBom } from './read-file';

export interface PromptCase {
  id: string;
  /** 1-based line in the file. */
  line: number;
  /** The prompt text; for a case written as messages, its last user turn (what lists and labels show). */
  prompt: string;
  /** A case written as a conversation: rendered with the chat template before the model sees it. */
  messages?: PromptMessage[];
  expected?: string;
  match: MatchKind;
  weight: number;
  /** Extra stop sequences for this case. */
  stop: string[];
}

export interface PromptFile {
  /** Absolute path. */
  file: string;
  cases: PromptCase[];
}

const FIELDS = ['id', 'prompt', 'messages', 'expected', 'match', 'weight', 'stop'];
const ROLES = ['system', 'user', 'assistant'];

/** The problem with a "messages" value, or undefined when it is a conversation ending with a user turn. */
function messagesProblem(v: unknown): string | undefined {
  if (!Array.isArray(v) || v.length === 0) return `"messages" must be a non-empty array of {"role", "content"}, got ${show(v)}`;
  for (const [i, m] of v.entries()) {
    if (m === null || typeof m !== 'object' || Array.isArray(m)) return `messages[${i}] must be an object {"role", "content"}, got ${show(m)}`;
    const o = m as Record<string, unknown>;
    if (!ROLES.includes(o.role as string)) return `messages[${i}].role must be one of ${ROLES.map((r) => `"${r}"`).join(', ')}, got ${show(o.role)}`;
    if (typeof o.content !== 'string') return `messages[${i}].content must be a string, got ${show(o.content)}`;
  }
  const last = v[v.length - 1] as { role: string };
  if (last.role !== 'user') return `the last of "messages" must be a "user" turn (the model answers it; the answer goes in "expected"), got "${last.role}"`;
  return undefined;
}
const MAX_SHOWN = 30;

const show = (v: unknown) => {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 37)}...` : v);
  return typeof v === 'object' ? 'an object' : String(v);
};

/** Parses prompts-file text; `file` names it in errors. Throws one Error listing every problem, one per line. */
export function parsePromptCases(text: string, file: string): PromptCase[] {
  const problems: string[] = [];
  const add = (line: number, msg: string) => problems.push(`${file}:${line}: ${msg}`);
  text = stripBom(text);
  const cases: PromptCase[] = [];
  const seen = new Map<string, number>();
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, n) => {
    const line = n + 1;
    if (!raw.trim()) return;
    let v: unknown;
    try {
      v = JSON.parse(raw);
    } catch (e) {
      return add(line, `not valid JSON (${(e as Error).message})`);
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return add(line, `expected a JSON object, got ${show(v)}`);
    const o = v as Record<string, unknown>;
    const before = problems.length;
    for (const k of Object.keys(o)) {
      if (FIELDS.includes(k)) continue;
      const hint = k === 'completion' ? ' (a prompts file names the answer "expected")' : '';
      add(line, `unknown field "${k}"${hint}; a case has ${FIELDS.map((f) => `"${f}"`).join(', ')}`);
    }
    if ('messages' in o) {
      if ('prompt' in o) add(line, 'both "prompt" and "messages": a case is either a prompt or a conversation');
      const why = messagesProblem(o.messages);
      if (why) add(line, why);
    } else if (!('prompt' in o)) add(line, '"prompt" is missing (or give "messages")');
    else if (typeof o.prompt !== 'string') add(line, `"prompt" must be a string, got ${show(o.prompt)}`);
    else if (!o.prompt) add(line, '"prompt" is empty');
    if (o.expected !== undefined && typeof o.expected !== 'string') add(line, `"expected" must be a string, got ${show(o.expected)}`);
    let match: MatchKind = 'exact';
    if (o.match !== undefined) {
      if (typeof o.match !== 'string' || !MATCH_KINDS.includes(o.match as MatchKind)) {
        add(line, `unknown "match" ${show(o.match)}; use one of ${MATCH_KINDS.map((m) => `"${m}"`).join(', ')}`);
      } else match = o.match as MatchKind;
    }
    if (match === 'regex' && typeof o.expected === 'string') {
      try {
        new RegExp(o.expected);
      } catch (e) {
        add(line, `"expected" is not a valid regular expression (${(e as Error).message})`);
      }
    }
    if (o.match !== undefined && o.expected === undefined) add(line, `"match" is given but "expected" is missing`);
    let weight = 1;
    if (o.weight !== undefined) {
      if (typeof o.weight !== 'number' || !Number.isFinite(o.weight) || o.weight <= 0) add(line, `"weight" must be a number above 0, got ${show(o.weight)}`);
      else weight = o.weight;
    }
    let id = `line-${line}`;
    if (o.id !== undefined) {
      if (typeof o.id !== 'string' || !o.id.trim()) add(line, `"id" must be a non-empty string, got ${show(o.id)}`);
      else id = o.id;
    }
    const first = seen.get(id);
    if (first !== undefined) add(line, `duplicate id ${JSON.stringify(id)} (also on line ${first})`);
    else seen.set(id, line);
    let stop: string[] = [];
    if (o.stop !== undefined) {
      if (!Array.isArray(o.stop) || !o.stop.every((s) => typeof s === 'string' && s.length > 0)) add(line, `"stop" must be an array of non-empty strings, got ${show(o.stop)}`);
      else stop = o.stop as string[];
    }
    if (problems.length > before) return;
    const messages = o.messages === undefined ? undefined : (o.messages as PromptMessage[]).map((m) => ({ role: m.role, content: m.content }));
    const prompt = messages ? messages[messages.length - 1].content : o.prompt as string;
    cases.push({ id, line, prompt, ...(messages ? { messages } : {}), expected: o.expected as string | undefined, match, weight, stop });
  });
  if (problems.length) {
    const shown = problems.slice(0, MAX_SHOWN);
    if (problems.length > MAX_SHOWN) shown.push(`${file}: ... and ${problems.length - MAX_SHOWN} more problems`);
    throw new Error(shown.join('\n'));
  }
  if (!cases.length) throw new Error(`${file}: no cases (the file is empty)`);
  return cases;
}

/** Reads and checks a prompts file (see the top of this file). */
export function readPromptFile(path: string): PromptFile {
  const file = resolve(path);
  return { file, cases: parsePromptCases(readTextFile(file, basename(file)), basename(file)) };
}
