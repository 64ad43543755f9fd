// Early stopping of hopeless trials: the median rule. Trials run one after another here, so
// successive halving's rungs (start many, keep the best half at each budget) would have to pause
// and resume trials; the median rule needs only the curves of the trials already completed, and
// never stops a trial that is doing at least as well as the typical one at the same step.
import { StoppingRule, TrialState } from '../../protocol/experiment';

/** The best (lowest) validation loss of a curve up to and including `step`; undefined before its first point. */
export function bestUpTo(curve: [number, number][], step: number): number | undefined {
  let best: number | undefined;
  for (const [s, loss] of curve) if (s <= step && Number.isFinite(loss) && (best === undefined || loss < best)) best = loss;
  return best;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Whether a trial should stop at `step`, given its curve so far and the completed trials.
 * Returns the reason, or undefined to go on.
 */
export function shouldStop(rule: StoppingRule, curve: [number, number][], step: number, completed: TrialState[]): string | undefined {
  if (rule.rule !== 'median' || step <= rule.graceSteps || step === 0) return undefined;
  const mine = bestUpTo(curve, step);
  if (mine === undefined) return undefined;
  const others = completed.map((t) => bestUpTo(t.curve, step)).filter((x): x is number => x !== undefined);
  if (others.length < rule.minTrials) return undefined;
  const med = median(others);
  if (mine > med) return `median stopping at step ${step}: best validation loss ${mine.toFixed(4)} is worse than the median ${med.toFixed(4)} of ${others.length} completed trials at that step`;
  return undefined;
}
