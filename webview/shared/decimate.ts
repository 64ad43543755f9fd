// Long series are thinned before chart.js sees them: chart.js keeps one element per point and
// its first pass over 20,000 of them takes seconds, while a min-max pass here over the same
// points takes about a millisecond. Each bucket keeps its lowest and highest point, so spikes
// survive; the first and last points are always kept.
import type { Point } from './charts';

/** Points worth drawing on a chart `width` CSS pixels wide: about two per pixel. */
export function drawBudget(width: number): number {
  return Math.max(400, Math.min(4000, Math.round(2 * (width || 400))));
}

/**
 * Fills `view` (in place, by index: chart.js watches push/splice on its data arrays, not
 * index writes) with `src`, or with a min-max thinning of it to about `max` points.
 */
export function fillView(view: Point[], src: readonly Point[], max: number): void {
  const n = src.length;
  if (n <= max) {
    for (let i = 0; i < n; i++) view[i] = src[i];
    view.length = n;
    return;
  }
  const buckets = Math.max(1, Math.floor((max - 2) / 2));
  const size = n / buckets;
  let k = 0;
  for (let b = 0; b < buckets; b++) {
    const start = Math.floor(b * size);
    const end = Math.min(n, Math.floor((b + 1) * size));
    if (end <= start) continue;
    let lo = start;
    let hi = start;
    for (let i = start + 1; i < end; i++) {
      if (src[i].y < src[lo].y) lo = i;
      if (src[i].y > src[hi].y) hi = i;
    }
    if (b === 0 && lo !== 0 && hi !== 0) view[k++] = src[0];
    if (lo === hi) view[k++] = src[lo];
    else if (lo < hi) {
      view[k++] = src[lo];
      view[k++] = src[hi];
    } else {
      view[k++] = src[hi];
      view[k++] = src[lo];
    }
  }
  if (view[k - 1] !== src[n - 1]) view[k++] = src[n - 1];
  view.length = k;
}
