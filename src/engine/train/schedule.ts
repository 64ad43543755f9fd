// Learning rate at a step: linear warmup, then cosine, linear decay or constant.
export type ScheduleKind = 'cosine' | 'linear' | 'constant';

export function learningRate(step: number, total: number, base: number, warmup: number, kind: ScheduleKind): number {
  // `step` counts from 1.
  if (warmup > 0 && step <= warmup) return (base * step) / warmup;
  if (kind === 'constant') return base;
  const span = Math.max(1, total - warmup);
  const progress = Math.min(1, Math.max(0, (step - warmup) / span));
  if (kind === 'linear') return base * (1 - progress);
  return base * 0.5 * (1 + Math.cos(Math.PI * progress));
}
