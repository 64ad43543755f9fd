// Judging an answer against a case's `expected`, and the small statistics of a report.
import { MatchKind } from '../../protocol/eval';

/**
 * Whether a generated answer satisfies `expected`. The answer is trimmed first (generation
 * is already cut at the stop sequence). exact: equal to the trimmed expected; contains: holds
 * the trimmed expected; regex: the pattern (JavaScript syntax, not anchored) matches somewhere.
 */
export function matches(output: string, expected: string, kind: MatchKind): boolean {
  const out = output.trim();
  switch (kind) {
    case 'exact':
      return out === expected.trim();
    case 'contains':
      return out.includes(expected.trim());
    case 'regex':
      return new RegExp(expected).test(out);
  }
}

/**
 * The p-th percentile (p in [0, 1]) with linear interpolation between closest ranks (numpy's
 * default); NaN for no values. Non-finite values are ignored.
 */
export function percentile(values: readonly number[], p: number): number {
  if (!(p >= 0 && p <= 1)) throw new Error(`percentile: p must be in [0, 1], got ${p}`);
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return NaN;
  const pos = p * (v.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return v[lo] + (v[hi] - v[lo]) * (pos - lo);
}

export function mean(values: readonly number[]): number {
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN;
}
