// How a token's text is drawn so that every token stays visible: whitespace a reader would not
// see (a newline, a tab, a lone space) gets a visible mark, and an empty token a placeholder.
// No DOM here (tested on its own).

export interface TokenFace {
  /** What the token's box shows. */
  shown: string;
  /** The token ends a line: a line break follows its box. */
  breaks: boolean;
}

export function tokenFace(text: string): TokenFace {
  if (text === '') return { shown: '∅', breaks: false };
  const breaks = text.endsWith('\n');
  const shown = text
    .replace(/\r/g, '␍')
    .replace(/\t/g, '→')
    .replace(/\n/g, '↵')
    // A token of spaces only would be an invisible box: show its spaces.
    .replace(/^ +$/, (s) => '·'.repeat(s.length));
  return { shown, breaks };
}

/** "25%" of `part` in `whole` (— when there is no whole). */
export function share(part: number, whole: number): string {
  if (!whole) return '—';
  const p = (100 * part) / whole;
  return `${p < 10 && p > 0 ? p.toFixed(1) : Math.round(p)}%`;
}
