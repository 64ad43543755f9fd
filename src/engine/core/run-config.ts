// Reads and validates the run config (adapt-lab.json). Validation is driven by one schema table:
// every field's type, range and default lives in SCHEMA below, and one walker reports every
// problem at once, each as `file: field.path must be ..., got ...`. Unknown fields are errors
// (a typo such as "learnRate" would otherwise silently train with the default).
import { basename, dirname, resolve } from 'node:path';
import { AdaptConfig, DataConfig, LoraConfig, RunConfig, TrainingConfig } from '../../protocol/config';
import { showValue } from './formats/limits';
import { readTextFile } from './read-file';

export const SCHEDULES = ['cosine', 'linear', 'constant'] as const;
export const CHECKPOINT_SELECTIONS = ['loss', 'eval'] as const;
export const BACKENDS = ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;

/**
 * Native TensorFlow backends use every core themselves, so training.threads does not apply to
 * them: the trainer trains on one thread there and the extension's estimate counts one.
 */
export function usesEveryCore(backend: string | undefined): boolean {
  return backend === 'tensorflow' || backend === 'tensorflow-gpu';
}

export const DEFAULT_TRAINING: Readonly<TrainingConfig> = Object.freeze({
  epochs: 3,
  batchSize: 8,
  gradAccumulation: 1,
  learningRate: 1e-3,
  schedule: 'cosine',
  warmupSteps: 0,
  weightDecay: 0.01,
  gradClip: 1.0,
  l2sp: 0,
  embeddingNoise: 0,
  dropout: 0,
  layerLrDecay: 1,
  maxLength: 256,
  evalEvery: 50,
  checkpointEvery: 100,
  checkpointSeconds: 60,
  threads: 1,
});

export const DEFAULT_LORA: Readonly<Omit<LoraConfig, 'layers'>> = Object.freeze({
  rank: 8,
  alpha: 16,
  dropout: 0.05,
  targetModules: ['q_proj', 'v_proj'],
});

/**
 * LoRA's scale and dropout for a chosen rank, as the extension's presets and the Layers view
 * write them: α = 2·rank (DEFAULT_LORA's 16 for rank 8), so α/r stays 2 whatever the rank.
 */
export function loraDefaults(rank: number): Pick<LoraConfig, 'rank' | 'alpha' | 'dropout'> {
  return { rank, alpha: 2 * rank, dropout: DEFAULT_LORA.dropout };
}

export const DEFAULT_DATA: Readonly<Required<Pick<DataConfig, 'validationSplit' | 'replayFraction'>>> = Object.freeze({ validationSplit: 0.1, replayFraction: 0.25 });

/** Top-level defaults; runsDir is relative to the config file's folder. */
export const DEFAULT_RUN = Object.freeze({ seed: 0, backend: 'auto', blas: true, runsDir: '.adapt-lab/runs' });

// ------------------------------------------------------------------------------ the schema

/** Checks one value; returns what was expected ("a positive integer") when it is wrong. */
type Check = (v: unknown) => string | undefined;

interface Leaf {
  kind: 'leaf';
  check: Check;
  default?: unknown;
  required?: string; // why it is needed, printed when missing
  /** A path: resolved against the config's folder. */
  path?: boolean;
  /** An array checked element by element (messages name `field[i]`). */
  each?: Check;
}

interface Obj {
  kind: 'object';
  fields: Record<string, Spec>;
  /** Fill the object (with its defaults) when absent. */
  fill?: boolean;
  required?: string;
}

type Spec = Leaf | Obj;

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isInt = (v: unknown): v is number => isNum(v) && Number.isInteger(v);

const number = (expect: string, ok: (n: number) => boolean, int = false): Check =>
  (v) => ((int ? isInt(v) : isNum(v)) && ok(v as number) ? undefined : expect);

const posInt = number('a positive integer', (n) => n > 0, true);
const nonNegInt = number('a non-negative integer', (n) => n >= 0, true);
const posNum = number('a positive number', (n) => n > 0);
const nonNegNum = number('a non-negative number', (n) => n >= 0);
const fraction = number('a number in [0, 1)', (n) => n >= 0 && n < 1);
const unitInterval = number('a number in (0, 1]', (n) => n > 0 && n <= 1);
const seedCheck = number('an integer in [0, 4294967295]', (n) => n >= 0 && n <= 0xffffffff, true);
const nonEmptyString: Check = (v) => (typeof v === 'string' && v.trim() !== '' ? undefined : 'a non-empty string');
const boolean: Check = (v) => (typeof v === 'boolean' ? undefined : 'true or false');
const oneOf = (values: readonly string[]): Check =>
  (v) => (typeof v === 'string' && values.includes(v) ? undefined : `one of ${values.map((x) => `"${x}"`).join(', ')}`);
const array = (minItems = 0): Check =>
  (v) => (Array.isArray(v) && v.length >= minItems ? undefined : minItems > 0 ? 'a non-empty array' : 'an array');
const either = (a: Check, b: Check, expect: string): Check => (v) => (a(v) === undefined || b(v) === undefined ? undefined : expect);

const leaf = (check: Check, extra: Omit<Leaf, 'kind' | 'check'> = {}): Leaf => ({ kind: 'leaf', check, ...extra });
const obj = (fields: Record<string, Spec>, extra: Omit<Obj, 'kind' | 'fields'> = {}): Obj => ({ kind: 'object', fields, ...extra });

const T = DEFAULT_TRAINING;
const SCHEMA: Obj = obj({
  model: leaf(nonEmptyString, { required: 'a .gguf file or a Hugging Face model folder', path: true }),
  name: leaf(nonEmptyString),
  data: obj({
    train: leaf(nonEmptyString, { required: 'the training data: a .jsonl or .txt file', path: true }),
    validation: leaf(nonEmptyString, { path: true }),
    validationSplit: leaf(fraction, { default: DEFAULT_DATA.validationSplit }),
    prompts: leaf(nonEmptyString, { path: true }),
    probe: leaf(nonEmptyString, { path: true }),
    replay: leaf(nonEmptyString, { path: true }),
    replayFraction: leaf(fraction, { default: DEFAULT_DATA.replayFraction }),
  }, { required: 'the data section, with at least "train"' }),
  adapt: obj({
    lora: obj({
      rank: leaf(posInt, { default: DEFAULT_LORA.rank }),
      alpha: leaf(posNum, { default: DEFAULT_LORA.alpha }),
      dropout: leaf(fraction, { default: DEFAULT_LORA.dropout }),
      targetModules: leaf(
        either(oneOf(['all-linear']), array(1), '"all-linear" or a non-empty array of module names or globs'),
        { default: DEFAULT_LORA.targetModules, each: nonEmptyString },
      ),
      layers: leaf(array(1), { each: nonNegInt }),
    }),
    unfreeze: leaf(array(), { each: nonEmptyString }),
    biases: leaf(boolean),
  }, { required: 'what to train: "lora", "unfreeze" and/or "biases"' }),
  training: obj({
    maxSteps: leaf(posInt),
    epochs: leaf(posInt, { default: T.epochs }),
    batchSize: leaf(posInt, { default: T.batchSize }),
    gradAccumulation: leaf(posInt, { default: T.gradAccumulation }),
    learningRate: leaf(posNum, { default: T.learningRate }),
    schedule: leaf(oneOf(SCHEDULES), { default: T.schedule }),
    warmupSteps: leaf(nonNegInt, { default: T.warmupSteps }),
    weightDecay: leaf(nonNegNum, { default: T.weightDecay }),
    gradClip: leaf(nonNegNum, { default: T.gradClip }),
    l2sp: leaf(nonNegNum, { default: T.l2sp }),
    embeddingNoise: leaf(nonNegNum, { default: T.embeddingNoise }),
    dropout: leaf(fraction, { default: T.dropout }),
    layerLrDecay: leaf(unitInterval, { default: T.layerLrDecay }),
    maxLength: leaf(number('an integer of at least 2', (n) => n >= 2, true), { default: T.maxLength }),
    evalEvery: leaf(nonNegInt, { default: T.evalEvery }),
    checkpointEvery: leaf(nonNegInt, { default: T.checkpointEvery }),
    checkpointSeconds: leaf(nonNegNum, { default: T.checkpointSeconds }),
    threads: leaf(number('an integer from 1 to 64', (n) => n >= 1 && n <= 64, true), { default: T.threads }),
    earlyStopping: obj({
      patience: leaf(posInt, { required: 'evaluations without improvement before stopping' }),
      minDelta: leaf(nonNegNum),
    }),
    // No defaults: absent means "loss", and resolved configs of older runs stay as they were.
    selectCheckpoint: leaf(oneOf(CHECKPOINT_SELECTIONS)),
    forgettingCeiling: leaf(nonNegNum),
  }, { fill: true }),
  seed: leaf(seedCheck, { default: DEFAULT_RUN.seed }),
  backend: leaf(oneOf(BACKENDS), { default: DEFAULT_RUN.backend }),
  blas: leaf(boolean, { default: DEFAULT_RUN.blas }),
  runsDir: leaf(nonEmptyString, { default: DEFAULT_RUN.runsDir, path: true }),
});

/** Top-level keys that are accepted and dropped (editor support). */
const IGNORED_TOP_LEVEL = new Set(['$schema']);

// ------------------------------------------------------------------------------ the walker

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  // JSON.parse turns 1e999 into Infinity, which JSON.stringify would print as null.
  return showValue(v);
}

function levenshtein(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0];
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j];
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length];
}

/** Every field path of the schema, for "did you mean" across sections. */
function allPaths(spec: Obj, prefix = ''): string[] {
  const out: string[] = [];
  for (const [k, s] of Object.entries(spec.fields)) {
    const p = prefix ? `${prefix}.${k}` : k;
    out.push(p);
    if (s.kind === 'object') out.push(...allPaths(s, p));
  }
  return out;
}
const ALL_PATHS = allPaths(SCHEMA);

function suggest(key: string, siblings: string[], here: string): string | undefined {
  const lower = key.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  for (const s of siblings) {
    const d = s.toLowerCase() === lower ? 0 : levenshtein(lower, s.toLowerCase());
    if (d < bestD) { bestD = d; best = s; }
  }
  if (best !== undefined && bestD <= Math.max(2, Math.floor(key.length / 3))) return best;
  // The right name in the wrong section ("learningRate" at the top level).
  const elsewhere = ALL_PATHS.find((p) => p.split('.').pop()!.toLowerCase() === lower && p !== (here ? `${here}.${key}` : key));
  return elsewhere;
}

function walk(spec: Obj, value: Record<string, unknown>, path: string, baseDir: string, errors: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const known = Object.keys(spec.fields);
  for (const key of Object.keys(value)) {
    if (key in spec.fields) continue;
    if (!path && IGNORED_TOP_LEVEL.has(key)) continue;
    const full = path ? `${path}.${key}` : key;
    const hint = suggest(key, known, path);
    errors.push(`unknown field "${full}"${hint ? ` (did you mean "${hint}"?)` : ''}`);
  }
  for (const [key, s] of Object.entries(spec.fields)) {
    const full = path ? `${path}.${key}` : key;
    const v = value[key];
    if (v === undefined) {
      if (s.required) errors.push(`${full} is missing (${s.required})`);
      else if (s.kind === 'leaf' && s.default !== undefined) {
        const d = Array.isArray(s.default) ? [...s.default] : s.default;
        out[key] = s.path && typeof d === 'string' ? resolve(baseDir, d) : d;
      } else if (s.kind === 'object' && s.fill) out[key] = walk(s, {}, full, baseDir, errors);
      continue;
    }
    if (s.kind === 'object') {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) {
        errors.push(`${full} must be an object, got ${show(v)}`);
        continue;
      }
      out[key] = walk(s, v as Record<string, unknown>, full, baseDir, errors);
      continue;
    }
    const expect = s.check(v);
    if (expect) {
      errors.push(`${full} must be ${expect}, got ${show(v)}`);
      continue;
    }
    if (Array.isArray(v) && s.each) {
      let ok = true;
      v.forEach((x, i) => {
        const e = s.each!(x);
        if (e) { ok = false; errors.push(`${full}[${i}] must be ${e}, got ${show(x)}`); }
      });
      if (!ok) continue;
      out[key] = [...v];
      continue;
    }
    out[key] = s.path && typeof v === 'string' ? resolve(baseDir, v) : v;
  }
  return out;
}

/** Checks that need more than one field. */
function crossChecks(c: Partial<RunConfig>, errors: string[]): void {
  const a = c.adapt as AdaptConfig | undefined;
  if (a && !a.lora && !(a.unfreeze && a.unfreeze.length) && a.biases !== true) {
    errors.push('adapt selects nothing, so nothing would be trained: set "lora" (e.g. {}), a non-empty "unfreeze" list, or "biases": true');
  }
  const es = c.training?.earlyStopping;
  if (es && c.data && !c.data.validation && !(c.data.validationSplit > 0)) {
    errors.push('training.earlyStopping needs validation data: set data.validation or a data.validationSplit above 0');
  }
  const t = c.training;
  if (t?.selectCheckpoint === 'eval' && c.data && !c.data.prompts) {
    errors.push('training.selectCheckpoint "eval" judges checkpoints on prompt cases: set data.prompts (a .prompts.jsonl file with "expected" answers)');
  }
  if (t?.forgettingCeiling !== undefined) {
    if (t.selectCheckpoint !== 'eval') errors.push('training.forgettingCeiling applies to checkpoints chosen by evaluation: set training.selectCheckpoint to "eval"');
    else if (c.data && !c.data.probe) errors.push('training.forgettingCeiling needs a probe text to measure forgetting: set data.probe');
  }
}

/**
 * Validates a parsed config, fills defaults and resolves relative paths (model, data.train,
 * data.validation, runsDir) against baseDir. Throws one Error listing every problem, one line each,
 * prefixed with `source` (the file name).
 */
export function validateRunConfig(raw: unknown, baseDir: string, source: string): RunConfig {
  const errors: string[] = [];
  let config: Partial<RunConfig> = {};
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    errors.push(`the config must be a JSON object, got ${show(raw)}`);
  } else {
    config = walk(SCHEMA, raw as Record<string, unknown>, '', baseDir, errors) as Partial<RunConfig>;
    crossChecks(config, errors);
  }
  if (errors.length) {
    const lines = errors.map((e) => `${source}: ${e}`);
    const head = errors.length === 1 ? '' : `${source}: ${errors.length} problems in the run config:\n`;
    throw new Error(head + lines.join('\n'));
  }
  return config as RunConfig;
}

// ------------------------------------------------------------------------------ JSON syntax

export interface JsonSyntaxError {
  offset: number;
  line: number;
  column: number;
  message: string;
}

/** 1-based line and column of an offset in text. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) { line++; start = i + 1; }
  }
  return { line, column: offset - start + 1 };
}

/**
 * Where the first JSON syntax error is in text, or undefined when it parses. V8's own messages
 * do not always carry a position, so this is a small strict scanner that only locates errors.
 */
export function locateJsonError(text: string): JsonSyntaxError | undefined {
  let i = 0;
  const fail = (message: string, at = i): never => {
    throw Object.assign(new Error(message), { offset: at });
  };
  const ws = () => { while (i < text.length && ' \t\n\r'.includes(text[i])) i++; };
  const got = () => (i >= text.length ? 'the end of the input' : JSON.stringify(text[i]));
  const lit = (word: string) => {
    if (text.startsWith(word, i)) i += word.length;
    else fail(`expected a value, got ${JSON.stringify(text.slice(i, i + word.length).split(/[\s,\]}]/)[0] || text[i])}`);
  };
  const str = () => {
    const start = i++;
    while (true) {
      if (i >= text.length) fail('unterminated string', start);
      const ch = text.charCodeAt(i);
      if (ch === 34) { i++; return; }
      if (ch < 0x20) fail('control character (e.g. a raw line break) inside a string');
      if (ch === 92) {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail('bad \\u escape in string');
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else fail('bad escape in string');
      } else i++;
    }
  };
  const num = () => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m || !m[0] || m[0] === '-') fail(`expected a value, got ${got()}`);
    i += m![0].length;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++; ws();
      if (text[i] === '}') { i++; return; }
      while (true) {
        ws();
        if (text[i] !== '"') fail(text[i] === '}' ? 'trailing comma before "}"' : `expected a property name in double quotes, got ${got()}`);
        str(); ws();
        if (text[i] !== ':') fail(`expected ":" after the property name, got ${got()}`);
        i++;
        value(); ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === '}') { i++; return; }
        fail(`expected "," or "}" after a property value, got ${got()}`);
      }
    } else if (c === '[') {
      i++; ws();
      if (text[i] === ']') { i++; return; }
      while (true) {
        ws();
        if (text[i] === ']') fail('trailing comma before "]"');
        value(); ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === ']') { i++; return; }
        fail(`expected "," or "]" after an array element, got ${got()}`);
      }
    } else if (c === '"') str();
    else if (c === 't') lit('true');
    else if (c === 'f') lit('false');
    else if (c === 'n') lit('null');
    else if (c === '-' || (c >= '0' && c <= '9')) num();
    else fail(`expected a value, got ${got()}`);
  };
  try {
    value(); ws();
    if (i < text.length) fail(`unexpected ${got()} after the end of the JSON value`);
    return undefined;
  } catch (e) {
    const offset = (e as { offset?: number }).offset ?? i;
    return { offset, ...lineColumn(text, offset), message: (e as Error).message };
  }
}

/** JSON.parse with errors that carry `source:line:column`. */
export function parseJsonWithPosition(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const loc = locateJsonError(text);
    if (loc) throw new Error(`${source}:${loc.line}:${loc.column}: not valid JSON: ${loc.message}`);
    throw new Error(`${source}: not valid JSON (${(e as Error).message})`);
  }
}

/** Reads, parses and validates a run config file. */
export function loadRunConfig(path: string): RunConfig {
  const abs = resolve(path);
  const source = basename(abs);
  const text = readTextFile(abs, source, 'the run config');
  if (!text.trim()) throw new Error(`${source}: the run config is empty`);
  return validateRunConfig(parseJsonWithPosition(text, source), dirname(abs), source);
}
