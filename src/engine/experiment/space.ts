// The search space of an experiment: axes over run-config fields, expanded into trials by a
// grid (every combination) or by seeded random samples, repeated over seeds. An axis value
// replaces the field at its path (null removes it); an axis whose parent field is absent in a
// trial (e.g. "adapt.lora.rank" when the "adapt" axis chose unfreezing) does not apply to that
// trial, and trials that come out identical are run once.
import { RunConfig } from '../../protocol/config';
import { Rng } from '../random';
import { validateRunConfig } from '../core/run-config';

export type Distribution =
  | { kind: 'choice'; values: unknown[] }
  | { kind: 'uniform' | 'logUniform' | 'intUniform'; low: number; high: number };

export interface Axis {
  /** A run-config field path, e.g. "training.learningRate" or "adapt". */
  path: string;
  dist: Distribution;
}

export interface TrialPlan {
  index: number;
  /** The values of the axes that apply to this trial. */
  params: Record<string, unknown>;
  seed: number;
  /** Same for trials that differ only by seed. */
  group: string;
  config: RunConfig;
}

export interface ExpandOptions {
  base: RunConfig;
  axes: Axis[];
  search: { kind: 'grid' } | { kind: 'random'; samples: number; seed: number };
  seeds: number[];
  /** The experiment file's folder: relative paths in axis values resolve against it. */
  dir: string;
  source: string;
  name: string;
  runsDir: string;
}

const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** JSON with sorted keys, so equal values give equal strings. */
export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (isObj(v)) return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${stableJson(v[k])}`).join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}

/** Every combination of the axes' values, the first axis varying slowest. */
export function gridPoints(axes: Axis[]): unknown[][] {
  let points: unknown[][] = [[]];
  for (const a of axes) {
    if (a.dist.kind !== 'choice') throw new Error(`axes.${a.path}: a grid needs a list of values`);
    const values = a.dist.values;
    points = points.flatMap((p) => values.map((v) => [...p, v]));
  }
  return points;
}

export function sample(dist: Distribution, rng: Rng): unknown {
  switch (dist.kind) {
    case 'choice': return dist.values[rng.int(dist.values.length)];
    case 'uniform': return dist.low + (dist.high - dist.low) * rng.next();
    case 'logUniform': return Math.exp(Math.log(dist.low) + (Math.log(dist.high) - Math.log(dist.low)) * rng.next());
    case 'intUniform': return dist.low + rng.int(dist.high - dist.low + 1);
  }
}

export function randomPoints(axes: Axis[], samples: number, seed: number): unknown[][] {
  const rng = new Rng(seed * 2654435761 + 1);
  return Array.from({ length: samples }, () => axes.map((a) => sample(a.dist, rng)));
}

/**
 * Sets `value` at `path` in `target` (null deletes). Returns false, changing nothing, when a
 * parent of the path is absent: the axis does not apply.
 */
export function setPath(target: Record<string, unknown>, path: string, value: unknown): boolean {
  const keys = path.split('.');
  let o: Record<string, unknown> = target;
  for (const k of keys.slice(0, -1)) {
    if (!isObj(o[k])) return false;
    o = o[k] as Record<string, unknown>;
  }
  const last = keys[keys.length - 1];
  if (value === null) delete o[last];
  else o[last] = structuredClone(value);
  return true;
}

export function getPath(target: Record<string, unknown>, path: string): unknown {
  let o: unknown = target;
  for (const k of path.split('.')) o = isObj(o) ? o[k] : undefined;
  return o;
}

export function expandTrials(o: ExpandOptions): TrialPlan[] {
  const points = o.search.kind === 'grid' ? gridPoints(o.axes) : randomPoints(o.axes, o.search.samples, o.search.seed);
  const groups: { params: Record<string, unknown>; raw: Record<string, unknown>; key: string }[] = [];
  const seen = new Set<string>();
  const errors: string[] = [];
  for (const point of points) {
    const raw = structuredClone(o.base) as unknown as Record<string, unknown>;
    const params: Record<string, unknown> = {};
    const applied = o.axes.filter((a, i) => setPath(raw, a.path, point[i]));
    // Read back after every axis is set: a later axis may refine an earlier one's value.
    for (const a of applied) params[a.path] = getPath(raw, a.path) ?? null;
    const key = stableJson(raw);
    if (seen.has(key)) continue;
    seen.add(key);
    groups.push({ params, raw, key });
  }
  const trials: TrialPlan[] = [];
  // Seed-major: every configuration once before any repeats, so an early stop of the budget
  // still covers the space and the median rule has diverse trials to compare against.
  let index = -1;
  for (const seed of o.seeds) {
    for (const g of groups) {
      index++;
      const raw = { ...structuredClone(g.raw), seed, name: `${o.name}-t${index}`, runsDir: o.runsDir };
      let config: RunConfig;
      try {
        config = validateRunConfig(raw, o.dir, `${o.source} trial ${index} ${stableJson(g.params)}`);
      } catch (e) {
        errors.push((e as Error).message);
        continue;
      }
      trials.push({ index, params: g.params, seed, group: stableJson(g.params), config });
    }
  }
  if (errors.length) throw new Error(errors.join('\n'));
  return trials;
}
