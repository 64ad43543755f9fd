// A prompts file as the editor sees it while it is being written: the cases that parse, and a
// problem per bad line. The engine's parser refuses a file with any problem as a whole; here the
// bad lines are blanked out and the rest parsed again, so CodeLens and tests keep working on the
// good lines while the Problems panel lists the bad ones. No vscode import (used by tests too).
import { parsePromptCases, PromptCase } from '../../engine/core/prompts';

export const PROMPTS_SUFFIX = '.prompts.jsonl';
export const PROMPTS_GLOB = '**/*.prompts.jsonl';

/** Stop sequence of every case, as `adapt-lab eval` uses by default (engine/eval/evaluate.ts). */
export const DEFAULT_STOP = ['\n'];

export interface LineProblem {
  /** 1-based, as the parser reports it. */
  line: number;
  message: string;
}

export interface AnalyzedPrompts {
  cases: PromptCase[];
  problems: LineProblem[];
}

export function isPromptsFile(path: string): boolean {
  return path.endsWith(PROMPTS_SUFFIX);
}

/**
 * Cases and per-line problems of prompts-file text. `name` is what the parser prefixes its
 * messages with (`name:line: message`); the prefix is taken off here.
 */
export function analyzePrompts(text: string, name: string): AnalyzedPrompts {
  const lines = text.split(/\r?\n/);
  const problems: LineProblem[] = [];
  const prefix = `${name}:`;
  // Each round blanks the lines reported so far; the parser shows at most 30 problems at a
  // time, so a file with more needs more rounds. Every round blanks at least one line.
  for (let round = 0; round <= lines.length; round++) {
    try {
      return { cases: parsePromptCases(lines.join('\n'), name), problems };
    } catch (e) {
      const found: LineProblem[] = [];
      for (const raw of (e as Error).message.split('\n')) {
        if (!raw.startsWith(prefix)) continue;
        const m = /^(\d+): (.*)$/.exec(raw.slice(prefix.length));
        if (m) found.push({ line: Number(m[1]), message: m[2] });
      }
      if (!found.length) break; // "no cases" (empty, or every line bad)
      problems.push(...found);
      for (const p of found) if (p.line >= 1 && p.line <= lines.length) lines[p.line - 1] = '';
    }
  }
  return { cases: [], problems };
}

/** The case on a 1-based line, if that line holds a valid one. */
export function caseAtLine(a: AnalyzedPrompts, line: number): PromptCase | undefined {
  return a.cases.find((c) => c.line === line);
}

/** Stop sequences a case is evaluated with: the defaults plus its own. */
export function stopsOf(c: PromptCase): string[] {
  return [...DEFAULT_STOP, ...c.stop.filter((s) => !DEFAULT_STOP.includes(s))];
}

/** `text` on one line, at most `max` characters (an ellipsis marks a cut). */
export function shorten(text: string, max: number): string {
  const one = text.replace(/\r?\n/g, '⏎').replace(/\s+/g, ' ');
  return one.length > max ? `${one.slice(0, Math.max(1, max - 1))}…` : one;
}
