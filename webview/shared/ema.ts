// Exponential moving average with debiasing (as TensorBoard smooths curves): the first points
// are not dragged toward zero. weight 0 = raw, 0.99 = very smooth.

export interface EmaState {
  last: number;
  n: number;
}

export const newEma = (): EmaState => ({ last: 0, n: 0 });

/** Smooths `y` given the state so far; non-finite values pass through without moving the average. */
export function emaStep(s: EmaState, weight: number, y: number): number {
  if (!Number.isFinite(y)) return y;
  s.last = s.last * weight + (1 - weight) * y;
  s.n++;
  const debias = 1 - Math.pow(weight, s.n);
  return debias > 0 ? s.last / debias : y;
}

export function ema(values: readonly number[], weight: number): number[] {
  const s = newEma();
  return values.map((y) => emaStep(s, weight, y));
}

/** Clamps a smoothing weight to the slider's range [0, 0.99]. */
export function clampWeight(w: unknown, fallback = 0.6): number {
  return typeof w === 'number' && Number.isFinite(w) ? Math.min(0.99, Math.max(0, w)) : fallback;
}
