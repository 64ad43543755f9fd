// What Compare Runs shows of each run, read from its folder: run.json, metrics.jsonl and, when
// present, eval.json. Everything is read defensively: a run that cannot be fully read is
// still listed, with the reason. No `vscode` import: tested under plain mocha.
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { CompareRun, EvalSide, EvalSummary } from '../../protocol/webview';
import { validateEvalReport } from '../../protocol/eval';
import { backendLabel } from '../../protocol/events';
import { readMetricsDetailed, readRunRecord, RunRecord } from '../../engine/core/runs/store';

export const EVAL_FILE = 'eval.json';

/** `{training: {learningRate: 2e-4}}` → `{"training.learningRate": "0.0002"}`; arrays are joined. */
export function flattenConfig(value: unknown, prefix = '', out: Record<string, string> = {}): Record<string, string> {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flattenConfig(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (Array.isArray(value)) {
    out[prefix] = value.every((v) => v === null || typeof v !== 'object') ? value.join(', ') : JSON.stringify(value);
  } else if (value !== undefined && prefix) {
    out[prefix] = String(value);
  }
  return out;
}

function at(v: unknown, path: string[]): unknown {
  let cur = v;
  for (const k of path) {
    if (!cur || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

function numberAt(v: unknown, ...paths: string[][]): number | undefined {
  for (const p of paths) {
    const x = at(v, p);
    if (typeof x === 'number' && Number.isFinite(x)) return x;
  }
  return undefined;
}

function evalSide(v: unknown): EvalSide | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const s: EvalSide = {};
  const put = (k: keyof EvalSide, x: number | undefined) => {
    if (x !== undefined) s[k] = x;
  };
  put('accuracy', numberAt(v, ['accuracy'], ['accuracy', 'value']));
  put('weightedError', numberAt(v, ['weightedError']));
  put('p95PerTokenMs', numberAt(v, ['latency', 'perTokenMs', 'p95']));
  put('p95FirstTokenMs', numberAt(v, ['latency', 'firstTokenMs', 'p95']));
  put('tokensPerSecond', numberAt(v, ['tokensPerSecond']));
  put('peakMemoryMiB', numberAt(v, ['peakMemoryMiB']));
  put('stability', numberAt(v, ['stability', 'mean']));
  put('perplexity', numberAt(v, ['perplexity']));
  return Object.keys(s).length ? s : undefined;
}

/**
 * The parts of an evaluation report (eval.ts's EvalReport) that Compare shows. Read field by
 * field, so a report from an older or newer version still shows what can be found.
 */
export function summarizeEval(report: unknown): EvalSummary {
  const out: EvalSummary = {};
  const verdict = at(report, ['verdict']);
  if (typeof verdict === 'string') out.verdict = verdict;
  const base = evalSide(at(report, ['base']));
  const adapted = evalSide(at(report, ['adapted']));
  if (base) out.base = base;
  if (adapted) out.adapted = adapted;
  const forgetting = numberAt(report, ['forgetting', 'changePercent'], ['adapted', 'forgetting', 'changePercent']);
  if (forgetting !== undefined) out.forgettingChangePercent = forgetting;
  const count = (k: string) => {
    const v = at(report, [k]);
    return Array.isArray(v) ? v.length : undefined;
  };
  const regressions = count('regressions');
  const improvements = count('improvements');
  const cases = numberAt(report, ['prompts', 'cases']) ?? count('cases');
  if (regressions !== undefined) out.regressions = regressions;
  if (improvements !== undefined) out.improvements = improvements;
  if (cases !== undefined) out.cases = cases;
  return out;
}

/** Appends (x, y); a step at or before the last one (a resume from a checkpoint) replaces the tail. */
function appendPoint(series: [number, number][], x: number, y: number): void {
  if (!Number.isFinite(x) || !Number.isFinite(y)) return;
  while (series.length && series[series.length - 1][0] >= x) series.pop();
  series.push([x, y]);
}

export function loadCompareRun(runDir: string): CompareRun {
  const problems: string[] = [];
  let record: RunRecord | undefined;
  try {
    record = readRunRecord(runDir);
  } catch (e) {
    problems.push((e as Error).message);
  }
  const train: [number, number][] = [];
  const val: [number, number][] = [];
  let status = record?.status ?? 'unknown';
  let backend = record?.backend && backendLabel(record.backend);
  let percent = record?.params?.percent;
  let best = record?.bestValLoss;
  try {
    const m = readMetricsDetailed(runDir);
    if (m.problems.length) problems.push(`metrics.jsonl line ${m.problems[0].line}: ${m.problems[0].message}`);
    for (const e of m.events) {
      if (e.type === 'step') appendPoint(train, e.step, e.loss);
      else if (e.type === 'eval') {
        appendPoint(val, e.step, e.valLoss);
        if (best === undefined || e.valLoss < best) best = e.valLoss;
      } else if (e.type === 'started') {
        backend ??= backendLabel(e.backend);
        percent ??= e.params.percent;
      } else if (!record && (e.type === 'finished' || e.type === 'stopped' || e.type === 'failed')) status = e.type;
    }
  } catch (e) {
    problems.push((e as Error).message);
  }
  let evalSummary: EvalSummary | undefined;
  const evalPath = join(runDir, EVAL_FILE);
  if (existsSync(evalPath)) {
    try {
      const report: unknown = JSON.parse(readFileSync(evalPath, 'utf8'));
      evalSummary = summarizeEval(report);
      const invalid = validateEvalReport(report);
      if (invalid.length) problems.push(`${EVAL_FILE}: ${invalid[0]}${invalid.length > 1 ? ` (and ${invalid.length - 1} more)` : ''}`);
    } catch (e) {
      problems.push(`${EVAL_FILE}: ${(e as Error).message}`);
    }
  }
  const id = record?.id ?? basename(runDir);
  return {
    runDir,
    id,
    name: record?.name || id,
    status,
    method: record?.method ?? '',
    ...(backend !== undefined ? { backend } : {}),
    ...(percent !== undefined ? { trainablePercent: percent } : {}),
    ...(best !== undefined ? { bestValLoss: best } : {}),
    train,
    val,
    config: record ? flattenConfig(record.config) : {},
    ...(evalSummary ? { eval: evalSummary } : {}),
    ...(problems.length ? { problem: problems.join('; ') } : {}),
  };
}
