// Reads and checks an experiment file (`*.experiment.json`): a base run config, the axes to
// search, how many trials the budget allows, the objective and the stopping rule. Every problem
// is reported at once, one line each, naming the file and the field; every trial's run config is
// built and validated before the first one trains, so a bad axis value fails in a second, not
// after an hour of trials.
import { createHash } from 'node:crypto';
import { basename, dirname, resolve } from 'node:path';
import { RunConfig } from '../../protocol/config';
import { OBJECTIVE_METRICS, ObjectiveMetric, StoppingRule } from '../../protocol/experiment';
import { loadRunConfig, parseJsonWithPosition, validateRunConfig } from '../core/run-config';
import { Axis, Distribution, expandTrials, TrialPlan } from './space';
import { readTextFile } from '../core/read-file';

export interface ExperimentSpec {
  name: string;
  file: string;
  /** The base run config, resolved (absolute paths, defaults filled). */
  base: RunConfig;
  axes: Axis[];
  search: { kind: 'grid' } | { kind: 'random'; samples: number; seed: number };
  seeds: number[];
  budget: { trials?: number; steps?: number; minutes?: number };
  objective: { metric: ObjectiveMetric; forgettingCeiling?: number };
  stopping: StoppingRule;
  runsDir: string;
  /** Every trial, in the order they run, each with its validated run config. */
  trials: TrialPlan[];
  /** SHA-256 of the resolved trials and settings: what "the same experiment" means on resume. */
  hash: string;
}

const TOP_FIELDS = ['$schema', 'name', 'base', 'override', 'axes', 'search', 'seeds', 'budget', 'objective', 'stopping', 'runsDir'];

const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isPosInt = (v: unknown): v is number => isNum(v) && Number.isInteger(v) && v > 0;
const show = (v: unknown) => {
  const s = JSON.stringify(v);
  return s === undefined ? 'nothing' : s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

function parseDistribution(v: unknown, at: string, errors: string[]): Distribution | undefined {
  if (Array.isArray(v)) {
    if (v.length === 0) { errors.push(`${at} must list at least one value`); return undefined; }
    return { kind: 'choice', values: v };
  }
  if (isObj(v)) {
    const keys = Object.keys(v);
    const kind = keys[0];
    const range = v[kind];
    if (keys.length === 1 && ['uniform', 'logUniform', 'intUniform'].includes(kind)) {
      if (!Array.isArray(range) || range.length !== 2 || !isNum(range[0]) || !isNum(range[1]) || range[0] > range[1]) {
        errors.push(`${at}.${kind} must be [low, high] with low <= high, got ${show(range)}`);
        return undefined;
      }
      if (kind === 'logUniform' && range[0] <= 0) { errors.push(`${at}.logUniform needs a positive low end, got ${range[0]}`); return undefined; }
      if (kind === 'intUniform' && !(Number.isInteger(range[0]) && Number.isInteger(range[1]))) { errors.push(`${at}.intUniform needs integer ends`); return undefined; }
      return { kind: kind as 'uniform' | 'logUniform' | 'intUniform', low: range[0], high: range[1] };
    }
  }
  errors.push(`${at} must be a list of values or one of {"uniform": [a, b]}, {"logUniform": [a, b]}, {"intUniform": [a, b]}, got ${show(v)}`);
  return undefined;
}

/** Reads `base`: a run config file (relative to the experiment file) or an inline config object. */
function readBase(raw: unknown, override: unknown, dir: string, source: string, errors: string[]): RunConfig | undefined {
  let base: RunConfig;
  try {
    if (typeof raw === 'string') base = loadRunConfig(resolve(dir, raw));
    else if (isObj(raw)) base = validateRunConfig(raw, dir, `${source} (base)`);
    else { errors.push(`base must be a run config file name or an inline run config object, got ${show(raw)}`); return undefined; }
  } catch (e) {
    errors.push(`base: ${(e as Error).message}`);
    return undefined;
  }
  if (override === undefined) return base;
  if (!isObj(override)) { errors.push(`override must be an object, got ${show(override)}`); return undefined; }
  try {
    return validateRunConfig(deepMerge(base, override), dir, `${source} (override)`);
  } catch (e) {
    errors.push(`override: ${(e as Error).message}`);
    return undefined;
  }
}

/** Objects merge key by key; anything else (arrays included) replaces; null deletes. */
export function deepMerge(a: unknown, b: unknown): unknown {
  if (!isObj(a) || !isObj(b)) return b === null ? undefined : structuredClone(b);
  const out: Record<string, unknown> = structuredClone(a);
  for (const [k, v] of Object.entries(b)) {
    if (v === null) delete out[k];
    else out[k] = isObj(out[k]) && isObj(v) ? deepMerge(out[k], v) : structuredClone(v);
  }
  return out;
}

export interface ExperimentLoadOptions {
  /**
   * Where runs go when neither the experiment file, its override nor its base config names a
   * runsDir (the extension passes the workspace's runs folder, as Adapt Model from Config does).
   */
  defaultRunsDir?: string;
}

/** Whether the file, its override or its base config (inline or a file) sets runsDir itself. */
function namesRunsDir(raw: Record<string, unknown>, dir: string): boolean {
  if (raw.runsDir !== undefined) return true;
  if (isObj(raw.override) && raw.override.runsDir !== undefined) return true;
  if (isObj(raw.base)) return raw.base.runsDir !== undefined;
  if (typeof raw.base !== 'string') return false;
  try {
    const base = JSON.parse(readTextFile(resolve(dir, raw.base), raw.base));
    return isObj(base) && base.runsDir !== undefined;
  } catch {
    return false; // readBase reports an unreadable base
  }
}

export function validateExperiment(raw: unknown, file: string, opts: ExperimentLoadOptions = {}): ExperimentSpec {
  const source = basename(file);
  const dir = dirname(file);
  const errors: string[] = [];
  if (!isObj(raw)) throw new Error(`${source}: the experiment must be a JSON object, got ${show(raw)}`);
  for (const k of Object.keys(raw)) if (!TOP_FIELDS.includes(k)) errors.push(`unknown field "${k}" (fields: ${TOP_FIELDS.slice(1).join(', ')})`);

  const name = raw.name ?? basename(file).replace(/\.experiment\.json$|\.json$/, '');
  if (typeof name !== 'string' || !name.trim()) errors.push(`name must be a non-empty string, got ${show(raw.name)}`);
  if (raw.base === undefined) errors.push('base is missing (a run config file, e.g. "demo.config.json", or an inline run config)');
  const base = raw.base === undefined ? undefined : readBase(raw.base, raw.override, dir, source, errors);

  const axes: Axis[] = [];
  if (!isObj(raw.axes) || Object.keys(raw.axes).length === 0) errors.push('axes must be an object with at least one field path, e.g. {"training.learningRate": [0.001, 0.004]}');
  else {
    for (const [path, v] of Object.entries(raw.axes)) {
      if (!/^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)*$/.test(path)) { errors.push(`axes: "${path}" is not a field path such as "training.learningRate"`); continue; }
      if (path === 'seed') { errors.push('axes: use "seeds" (a list) to repeat trials over seeds, not an axis'); continue; }
      const d = parseDistribution(v, `axes.${path}`, errors);
      if (d) axes.push({ path, dist: d });
    }
  }

  let search: ExperimentSpec['search'] = { kind: 'grid' };
  if (raw.search !== undefined) {
    const s = raw.search;
    if (s === 'grid' || (isObj(s) && s.kind === 'grid')) search = { kind: 'grid' };
    else if (isObj(s) && s.kind === 'random') {
      if (!isPosInt(s.samples)) errors.push(`search.samples must be a positive integer, got ${show(s.samples)}`);
      if (s.seed !== undefined && !(isNum(s.seed) && Number.isInteger(s.seed) && s.seed >= 0)) errors.push(`search.seed must be a non-negative integer, got ${show(s.seed)}`);
      search = { kind: 'random', samples: Number(s.samples), seed: Number(s.seed ?? 0) };
    } else errors.push(`search must be "grid" or {"kind": "random", "samples": N}, got ${show(s)}`);
  }
  if (search.kind === 'grid') {
    for (const a of axes) if (a.dist.kind !== 'choice') errors.push(`axes.${a.path}: a grid needs a list of values; ${a.dist.kind} ranges need {"kind": "random", "samples": N}`);
  }

  const seeds = raw.seeds === undefined ? [base?.seed ?? 0] : raw.seeds;
  if (!Array.isArray(seeds) || seeds.length === 0 || !seeds.every((s) => isNum(s) && Number.isInteger(s) && s >= 0 && s <= 0xffffffff)) {
    errors.push(`seeds must be a non-empty list of integers in [0, 4294967295], got ${show(raw.seeds)}`);
  }

  const budget: ExperimentSpec['budget'] = {};
  if (raw.budget !== undefined) {
    if (!isObj(raw.budget)) errors.push(`budget must be an object with trials, steps and/or minutes, got ${show(raw.budget)}`);
    else {
      for (const [k, v] of Object.entries(raw.budget)) {
        if (!['trials', 'steps', 'minutes'].includes(k)) errors.push(`unknown field "budget.${k}" (trials, steps, minutes)`);
        else if (!(isNum(v) && v > 0) || (k !== 'minutes' && !Number.isInteger(v))) errors.push(`budget.${k} must be a positive ${k === 'minutes' ? 'number' : 'integer'}, got ${show(v)}`);
        else budget[k as 'trials' | 'steps' | 'minutes'] = v;
      }
    }
  }

  let objective: ExperimentSpec['objective'] = { metric: 'valLoss' };
  if (raw.objective !== undefined) {
    const o = raw.objective;
    if (typeof o === 'string') objective = { metric: o as ObjectiveMetric };
    else if (isObj(o)) {
      for (const k of Object.keys(o)) if (!['metric', 'forgettingCeiling'].includes(k)) errors.push(`unknown field "objective.${k}" (metric, forgettingCeiling)`);
      objective = { metric: (o.metric ?? 'valLoss') as ObjectiveMetric };
      if (o.forgettingCeiling !== undefined) {
        if (!isNum(o.forgettingCeiling)) errors.push(`objective.forgettingCeiling must be a number (percent of probe perplexity), got ${show(o.forgettingCeiling)}`);
        else objective.forgettingCeiling = o.forgettingCeiling;
      }
    } else errors.push(`objective must be a metric name or {"metric", "forgettingCeiling"}, got ${show(o)}`);
    if (!OBJECTIVE_METRICS.includes(objective.metric)) errors.push(`objective.metric must be one of ${OBJECTIVE_METRICS.map((m) => `"${m}"`).join(', ')}, got ${show(objective.metric)}`);
  }

  let stopping: StoppingRule = { rule: 'median', minTrials: 3, graceSteps: 0 };
  if (raw.stopping !== undefined) {
    const s = raw.stopping;
    if (s === 'none' || (isObj(s) && s.rule === 'none')) stopping = { rule: 'none' };
    else if (s === 'median' || (isObj(s) && s.rule === 'median')) {
      const o = isObj(s) ? s : {};
      const minTrials = o.minTrials ?? 3;
      const graceSteps = o.graceSteps ?? 0;
      if (!isPosInt(minTrials)) errors.push(`stopping.minTrials must be a positive integer, got ${show(minTrials)}`);
      if (!(isNum(graceSteps) && Number.isInteger(graceSteps) && graceSteps >= 0)) errors.push(`stopping.graceSteps must be a non-negative integer, got ${show(graceSteps)}`);
      stopping = { rule: 'median', minTrials: Number(minTrials), graceSteps: Number(graceSteps) };
    } else errors.push(`stopping must be "median", "none" or {"rule": "median", "minTrials": N, "graceSteps": S}, got ${show(s)}`);
  }

  const runsDir = typeof raw.runsDir === 'string' ? resolve(dir, raw.runsDir)
    : opts.defaultRunsDir && !namesRunsDir(raw, dir) ? resolve(opts.defaultRunsDir) : base?.runsDir;
  if (raw.runsDir !== undefined && typeof raw.runsDir !== 'string') errors.push(`runsDir must be a folder name, got ${show(raw.runsDir)}`);
  if (objective.metric !== 'valLoss' && base && !base.data.prompts) errors.push(`objective.metric "${objective.metric}" needs prompt cases: set data.prompts in the base config`);
  if (objective.forgettingCeiling !== undefined && base && !base.data.probe) errors.push('objective.forgettingCeiling needs a probe text: set data.probe in the base config');

  let trials: TrialPlan[] = [];
  if (!errors.length && base) {
    try {
      trials = expandTrials({ base, axes, search, seeds: seeds as number[], dir, source, name: String(name), runsDir: runsDir! });
    } catch (e) {
      errors.push((e as Error).message);
    }
    if (!errors.length && trials.length === 0) errors.push('the axes give no trial');
  }
  if (errors.length) {
    throw new Error(errors.length === 1 ? `${source}: ${errors[0]}` : `${source}: ${errors.length} problems in the experiment:\n${errors.map((e) => `${source}: ${e}`).join('\n')}`);
  }
  const spec = { name: String(name), file, base: base!, axes, search, seeds: seeds as number[], budget, objective, stopping, runsDir: runsDir!, trials };
  // The budget is not part of it: raising the budget and running again continues the experiment.
  const hash = createHash('sha256').update(JSON.stringify({ trials: trials.map((t) => t.config), objective, stopping })).digest('hex');
  return { ...spec, hash };
}

export function loadExperiment(path: string, opts: ExperimentLoadOptions = {}): ExperimentSpec {
  const file = resolve(path);
  const source = basename(file);
  const text = readTextFile(file, source, 'the experiment');
  return validateExperiment(parseJsonWithPosition(text, source), file, opts);
}
