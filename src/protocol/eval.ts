// eval.json: an evaluation report, the base model against the adapted one on a prompts file
// (`adapt-lab eval`, or the end of a run whose config names prompts). Written by the engine,
// read by the extension; `validateEvalReport` checks a value read from disk.

export const EVAL_REPORT_VERSION = 1;

export type MatchKind = 'exact' | 'contains' | 'regex';
export const MATCH_KINDS: readonly MatchKind[] = ['exact', 'contains', 'regex'];

export interface Percentiles {
  p50: number;
  p95: number;
}

/** A case in a regressions/improvements list. */
export interface CaseRef {
  id: string;
  /** 1-based line in the prompts file. */
  line: number;
  weight: number;
  expected: string;
  /** The base model's greedy answer (as generated, before trimming). */
  base: string;
  adapted: string;
}

/** One model's results over all cases. */
export interface EvalSection {
  /** Fraction of cases with `expected` answered correctly; null when no case has `expected`. */
  accuracy: number | null;
  /** Sum of the weights of wrong cases / sum of the weights of cases with `expected`; null like accuracy. */
  weightedError: number | null;
  latency: {
    /** From the call to the first token (tokenization and prompt prefill), over cases. */
    firstTokenMs: Percentiles;
    /** Per generated token after the first, over cases that generated more than one. */
    perTokenMs: Percentiles;
  };
  /** Greedy answers: generated tokens / generation time. */
  tokensPerSecond: number;
  loadMs: number;
  /** Highest process RSS seen from loading this model to the end of its evaluation. */
  peakMemoryMiB: number;
  stability: {
    /** Mean agreement over cases; null when samples is 0. */
    mean: number | null;
    /** The (up to) 3 cases with the lowest agreement, lowest first. */
    leastStable: { id: string; agreement: number }[];
  };
  /** Perplexity on the probe text. */
  perplexity?: number;
  /** On --data (prompt/completion, messages or text), if given. */
  valLoss?: number;
  valPerplexity?: number;
  tokenAccuracy?: number;
}

export interface CaseModelResult {
  /** The greedy answer as generated (cut at the stop sequence, not trimmed). */
  output: string;
  /** Present when the case has `expected`. */
  correct?: boolean;
  firstTokenMs: number;
  /** Null when the answer was a single token. */
  perTokenMs: number | null;
  /** Generated tokens. */
  tokens: number;
  /** Fraction of the sampled answers equal to the greedy one (after trimming); null when samples is 0. */
  agreement: number | null;
}

export interface CaseResult {
  id: string;
  line: number;
  prompt: string;
  expected?: string;
  match: MatchKind;
  weight: number;
  base: CaseModelResult;
  adapted?: CaseModelResult;
}

export interface EvalReport {
  version: 1;
  createdAt: string;
  model: { path: string; name: string };
  adapter?: { kind: 'run' | 'peft'; path: string; runId?: string; step?: number };
  prompts: { file: string; cases: number };
  probe?: { file: string; tokens: number };
  /** --data, when given. */
  data?: { file: string; tokens: number };
  settings: {
    maxTokens: number;
    /** Sampled answers per case for stability. */
    samples: number;
    /** Temperature of the stability samples (answers themselves are greedy). */
    temperature: number;
    seed: number;
    backend: string;
    /** Stop sequences for every case (a case's own `stop` adds to these). */
    stop: string[];
  };
  base: EvalSection;
  adapted?: EvalSection;
  /** Cases the base model got right and the adapted one gets wrong. */
  regressions: CaseRef[];
  /** Cases the base model got wrong and the adapted one gets right. */
  improvements: CaseRef[];
  /** Probe perplexity, base vs adapted; changePercent = 100 × (adapted / base − 1). */
  forgetting?: { basePerplexity: number; adaptedPerplexity: number; changePercent: number };
  /** One line, e.g. "accuracy 12% → 91% · 0 regressions · forgetting +3% ppl · p95 9 ms/token". */
  verdict: string;
  cases: CaseResult[];
  /** With --runtime llamacpp: the same cases in llama.cpp. */
  llamacpp?: RuntimeReport;
}

/**
 * The same cases run in llama.cpp (`eval --runtime llamacpp`), as the model would be served: the
 * base GGUF, and with the run's GGUF LoRA adapter. Sections as for our engine, except
 * peakMemoryMiB: llama.cpp's weights plus its context state (KV cache), as it sizes them.
 */
export interface RuntimeReport {
  runtime: 'llamacpp';
  /** llama.cpp's release (node-llama-cpp's prebuilt build). */
  version: string;
  threads: number;
  /** The GGUF file llama.cpp loaded, and the GGUF adapter it applied. */
  model: string;
  adapter?: string;
  base: EvalSection;
  adapted?: EvalSection;
  /** Fraction of cases whose greedy answer (trimmed) is our engine's. */
  sameAnswers: { base: number; adapted?: number };
  cases: { id: string; base: CaseModelResult; adapted?: CaseModelResult }[];
}

/** Sent to the extension when a report has been written (e.g. at the end of a run). */
export interface EvalReportEvent {
  type: 'evalReport';
  time: string;
  /** Absolute path of the eval.json written. */
  path: string;
  verdict: string;
}

// ---------------------------------------------------------------------------------- validation

type Check = (v: unknown, at: string, out: string[]) => void;

const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
const show = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'string' ? JSON.stringify(v.slice(0, 40)) : typeof v === 'object' ? 'an object' : String(v));

const num = (opts: { nullable?: boolean; min?: number; max?: number; int?: boolean } = {}): Check => (v, at, out) => {
  if (v === null && opts.nullable) return;
  if (typeof v !== 'number' || !Number.isFinite(v)) return void out.push(`${at}: expected a finite number${opts.nullable ? ' or null' : ''}, got ${show(v)}`);
  if (opts.int && !Number.isInteger(v)) out.push(`${at}: expected an integer, got ${v}`);
  if (opts.min !== undefined && v < opts.min) out.push(`${at}: ${v} is below ${opts.min}`);
  if (opts.max !== undefined && v > opts.max) out.push(`${at}: ${v} is above ${opts.max}`);
};
const str: Check = (v, at, out) => {
  if (typeof v !== 'string') out.push(`${at}: expected a string, got ${show(v)}`);
};
const bool: Check = (v, at, out) => {
  if (typeof v !== 'boolean') out.push(`${at}: expected a boolean, got ${show(v)}`);
};
const oneOf = (...xs: unknown[]): Check => (v, at, out) => {
  if (!xs.includes(v)) out.push(`${at}: expected one of ${xs.map((x) => JSON.stringify(x)).join(', ')}, got ${show(v)}`);
};
const arr = (item: Check): Check => (v, at, out) => {
  if (!Array.isArray(v)) return void out.push(`${at}: expected an array, got ${show(v)}`);
  v.forEach((x, i) => item(x, `${at}[${i}]`, out));
};
/** Fields ending in `?` are optional (absent or undefined). */
const obj = (fields: Record<string, Check>): Check => (v, at, out) => {
  if (!isObj(v)) return void out.push(`${at}: expected an object, got ${show(v)}`);
  for (const [k0, check] of Object.entries(fields)) {
    const optional = k0.endsWith('?');
    const k = optional ? k0.slice(0, -1) : k0;
    if (v[k] === undefined) {
      if (!optional) out.push(`${at}.${k}: missing`);
      continue;
    }
    check(v[k], `${at}.${k}`, out);
  }
};

const fraction = num({ min: 0, max: 1 });
const nonNeg = num({ min: 0 });
const percentiles = obj({ p50: nonNeg, p95: nonNeg });

const section = obj({
  accuracy: num({ nullable: true, min: 0, max: 1 }),
  weightedError: num({ nullable: true, min: 0, max: 1 }),
  latency: obj({ firstTokenMs: percentiles, perTokenMs: percentiles }),
  tokensPerSecond: nonNeg,
  loadMs: nonNeg,
  peakMemoryMiB: nonNeg,
  stability: obj({ mean: num({ nullable: true, min: 0, max: 1 }), leastStable: arr(obj({ id: str, agreement: fraction })) }),
  'perplexity?': num({ min: 1 }),
  'valLoss?': nonNeg,
  'valPerplexity?': num({ min: 1 }),
  'tokenAccuracy?': fraction,
});

const caseModel = obj({
  output: str,
  'correct?': bool,
  firstTokenMs: nonNeg,
  perTokenMs: num({ nullable: true, min: 0 }),
  tokens: num({ min: 0, int: true }),
  agreement: num({ nullable: true, min: 0, max: 1 }),
});

const caseRef = obj({ id: str, line: num({ min: 1, int: true }), weight: num({ min: 0 }), expected: str, base: str, adapted: str });

const report = obj({
  version: oneOf(EVAL_REPORT_VERSION),
  createdAt: str,
  model: obj({ path: str, name: str }),
  'adapter?': obj({ kind: oneOf('run', 'peft'), path: str, 'runId?': str, 'step?': num({ min: 0, int: true }) }),
  prompts: obj({ file: str, cases: num({ min: 1, int: true }) }),
  'probe?': obj({ file: str, tokens: num({ min: 1, int: true }) }),
  'data?': obj({ file: str, tokens: num({ min: 1, int: true }) }),
  settings: obj({
    maxTokens: num({ min: 1, int: true }),
    samples: num({ min: 0, int: true }),
    temperature: nonNeg,
    seed: num({ int: true }),
    backend: str,
    stop: arr(str),
  }),
  base: section,
  'adapted?': section,
  regressions: arr(caseRef),
  improvements: arr(caseRef),
  'forgetting?': obj({ basePerplexity: num({ min: 1 }), adaptedPerplexity: num({ min: 1 }), changePercent: num() }),
  verdict: str,
  'llamacpp?': obj({
    runtime: oneOf('llamacpp'),
    version: str,
    threads: num({ min: 1, int: true }),
    model: str,
    'adapter?': str,
    base: section,
    'adapted?': section,
    sameAnswers: obj({ base: fraction, 'adapted?': fraction }),
    cases: arr(obj({ id: str, base: caseModel, 'adapted?': caseModel })),
  }),
  cases: arr(obj({
    id: str,
    line: num({ min: 1, int: true }),
    prompt: str,
    'expected?': str,
    match: oneOf(...MATCH_KINDS),
    weight: num({ min: 0 }),
    base: caseModel,
    'adapted?': caseModel,
  })),
});

/** Every way `value` is not an EvalReport (`report.base.accuracy: ...`); empty when it is one. */
export function validateEvalReport(value: unknown): string[] {
  const out: string[] = [];
  report(value, 'report', out);
  if (out.length === 0) {
    const r = value as EvalReport;
    if (r.cases.length !== r.prompts.cases) out.push(`report.cases: ${r.cases.length} cases, but prompts.cases says ${r.prompts.cases}`);
    if (!r.adapted && r.cases.some((c) => c.adapted)) out.push('report.cases: adapted results without an adapted section');
    if (r.adapted && r.cases.some((c) => !c.adapted)) out.push('report.cases: a case lacks adapted results');
  }
  return out;
}

/** The value as an EvalReport, or an Error listing every problem (one per line). */
export function parseEvalReport(value: unknown, source = 'eval.json'): EvalReport {
  const problems = validateEvalReport(value);
  if (problems.length) throw new Error(problems.slice(0, 20).map((p) => `${source}: ${p}`).join('\n'));
  return value as EvalReport;
}
