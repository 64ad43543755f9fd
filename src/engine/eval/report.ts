// A whole evaluation report: the base model alone, then (if an adapter is given) a fresh load
// of it with the adapter on, each timed, measured for memory and judged on the same cases;
// then regressions, improvements, forgetting on the probe text and a one-line verdict.
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { selectBackend } from '../backend';
import { loadModel } from '../model/loader';
import { chatFormatFor } from '../chat/encode';
import { readRunRecord, writeJsonAtomic } from '../core/runs/store';
import { CaseModelResult, CaseRef, CaseResult, EvalReport, EvalReportEvent, EvalSection, RuntimeReport } from '../../protocol/eval';
import { getLlamaCpp } from '../llamacpp/runtime';
import { runtimeReport } from './llamacpp';
import { promptChatFormat } from '../chat/prompt-format';
import { readPromptFile, PromptCase } from '../core/prompts';
import { applyEvalAdapter, EvalAdapterInfo, runBaseModel } from './adapter';
import { adapterKind } from '../core/adapter-folder';
import { checkPromptsFit, dataMetrics, evaluateCases, EvalSettings, MemorySampler, probePerplexity, resolveSettings, summarize } from './evaluate';

export interface EvalOptions extends Partial<EvalSettings> {
  /** The base model (GGUF file or Hugging Face folder/file). Optional when `adapter` is a run folder: the run's model. */
  model?: string;
  /** An explicit config.json for a bare .safetensors model. */
  modelConfig?: string;
  /** A run folder or a PEFT adapter folder. Without it the base model is reported alone. */
  adapter?: string;
  /** The prompts file (JSON Lines, see prompts.ts). */
  prompts: string;
  /** Plain text for the forgetting check (perplexity, base vs adapted). */
  probe?: string;
  /** A data file (training formats) for validation loss / perplexity / token accuracy. */
  data?: string;
  /** auto (default: whatever is already selected, else the fastest available) or a backend name. */
  backend?: string;
  /**
   * 'llamacpp': also run the cases in llama.cpp (node-llama-cpp) with the base GGUF and the run's
   * adapter as a GGUF LoRA adapter, reported beside our engine's figures. Default 'engine' only.
   */
  runtime?: 'engine' | 'llamacpp';
  /** llama.cpp's threads (default 1, like our engine's evaluation). */
  runtimeThreads?: number;
  onProgress?: (p: { model: 'base' | 'adapted'; done: number; total: number }) => void;
  /** Notes for people (adapter made for another model, ...). */
  log?: (line: string) => void;
}

interface ModelRun {
  name: string;
  section: EvalSection;
  results: CaseModelResult[];
  adapter?: EvalAdapterInfo;
  probeTokens?: number;
  dataTokens?: number;
}

async function evaluateOne(opts: EvalOptions, modelPath: string, cases: PromptCase[], promptsName: string, settings: EvalSettings, which: 'base' | 'adapted'): Promise<ModelRun> {
  const mem = new MemorySampler();
  const lm = await loadModel(modelPath, { config: opts.modelConfig });
  try {
    mem.sample();
    if (!lm.tokenizer) throw new Error(`${modelPath}: the model has no tokenizer (GGUF vocabulary or tokenizer.json)`);
    const adapter = which === 'adapted' ? applyEvalAdapter(lm, opts.adapter!) : undefined;
    mem.sample();
    // Cases written as messages: rendered as the adapted model was trained (the run's template), else with the model's own.
    const chat = cases.some((c) => c.messages) ? promptChatFormat(modelPath, lm.tokenizer, which === 'adapted' ? opts.adapter : undefined) : undefined;
    checkPromptsFit(lm.model, lm.tokenizer, cases, promptsName, chat);
    // Probe and data first: a bad data file fails before the cases run.
    const extra: Partial<EvalSection> = {};
    let probeTokens: number | undefined;
    let dataTokens: number | undefined;
    if (opts.probe) {
      const p = probePerplexity(lm.model, lm.tokenizer, opts.probe);
      extra.perplexity = p.perplexity;
      probeTokens = p.tokens;
      mem.sample();
    }
    if (opts.data) {
      const d = dataMetrics(lm.model, lm.tokenizer, opts.data, chatFormatFor(lm.chatTemplate, lm.tokenizer));
      Object.assign(extra, { valLoss: d.valLoss, valPerplexity: d.valPerplexity, tokenAccuracy: d.tokenAccuracy });
      dataTokens = d.tokens;
      mem.sample();
    }
    const { results, greedyMs } = evaluateCases(lm.model, lm.tokenizer, cases, settings, {
      afterGenerate: () => mem.sample(),
      onCase: (done, total) => opts.onProgress?.({ model: which, done, total }),
    }, chat);
    const section: EvalSection = { ...summarize(cases, results, greedyMs), loadMs: lm.loadMs, peakMemoryMiB: 0, ...extra };
    section.peakMemoryMiB = mem.stop();
    return { name: lm.name, section, results, adapter, probeTokens, dataTokens };
  } finally {
    mem.stop();
    lm.model.dispose();
  }
}

const pct = (x: number) => `${Math.round(100 * x)}%`;

/** "9 ms", "1.4 ms", "0.62 ms". */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '–';
  if (ms >= 10) return `${Math.round(ms)} ms`;
  if (ms >= 1) return `${Number(ms.toFixed(1))} ms`;
  return `${Number(ms.toPrecision(2))} ms`;
}

/** The one-line verdict: `accuracy 12% → 91% · 0 regressions · forgetting +3% ppl · p95 9 ms/token`. */
export function verdictOf(r: Pick<EvalReport, 'base' | 'adapted' | 'regressions' | 'forgetting'>): string {
  const parts: string[] = [];
  const last = r.adapted ?? r.base;
  if (r.base.accuracy !== null) parts.push(`accuracy ${pct(r.base.accuracy)}${r.adapted && r.adapted.accuracy !== null ? ` → ${pct(r.adapted.accuracy)}` : ''}`);
  else parts.push('no expected answers');
  if (r.adapted && r.base.accuracy !== null) parts.push(`${r.regressions.length} regression${r.regressions.length === 1 ? '' : 's'}`);
  if (r.forgetting) {
    const c = r.forgetting.changePercent;
    parts.push(`forgetting ${c >= 0 ? '+' : '−'}${Math.abs(c) < 10 ? Number(Math.abs(c).toFixed(1)) : Math.round(Math.abs(c))}% ppl`);
  }
  parts.push(`p95 ${formatMs(last.latency.perTokenMs.p95)}/token`);
  return parts.join(' · ');
}

/** `accuracy 0% → 95% · p95 0.4 ms/token · same answers as ours 100%`. */
export function runtimeVerdict(r: RuntimeReport): string {
  const last = r.adapted ?? r.base;
  const parts: string[] = [];
  if (r.base.accuracy !== null) parts.push(`accuracy ${pct(r.base.accuracy)}${r.adapted && r.adapted.accuracy !== null ? ` → ${pct(r.adapted.accuracy)}` : ''}`);
  parts.push(`p95 ${formatMs(last.latency.perTokenMs.p95)}/token`);
  parts.push(`same answers as ours ${pct(r.sameAnswers.adapted ?? r.sameAnswers.base)}`);
  return parts.join(' · ');
}

function caseRef(c: PromptCase, base: CaseModelResult, adapted: CaseModelResult): CaseRef {
  return { id: c.id, line: c.line, weight: c.weight, expected: c.expected ?? '', base: base.output, adapted: adapted.output };
}

/** Runs the evaluation and returns the report (nothing is written). Bad prompts fail before any model is loaded. */
export async function runEval(opts: EvalOptions): Promise<EvalReport> {
  const settings = resolveSettings({ maxTokens: opts.maxTokens, samples: opts.samples, temperature: opts.temperature, seed: opts.seed, stop: opts.stop });
  const prompts = readPromptFile(opts.prompts);
  const promptsName = basename(prompts.file);
  const kind = opts.adapter ? adapterKind(opts.adapter) : undefined;
  const modelPath = opts.model ?? (kind === 'run' ? runBaseModel(opts.adapter!) : undefined);
  if (!modelPath) throw new Error('eval needs --model MODEL (the base model the adapter was made for)');
  for (const [what, p] of [['model', modelPath], ['probe', opts.probe], ['data', opts.data]] as const) {
    if (p && !existsSync(p)) throw new Error(`${p}: no such file (the ${what})`);
  }
  if (kind === 'run' && opts.model) {
    const trained = runBaseModel(opts.adapter!);
    if (trained && resolve(trained) !== resolve(opts.model)) opts.log?.(`note: the run was trained on ${trained}, evaluating on ${opts.model}`);
  }
  if (opts.runtime !== undefined && opts.runtime !== 'engine' && opts.runtime !== 'llamacpp') throw new Error(`unknown runtime "${String(opts.runtime)}" (use engine or llamacpp)`);
  if (opts.runtime === 'llamacpp') {
    await getLlamaCpp(); // fails now, with what to install, rather than after our engine's half
  }
  const backend = await selectBackend({ backend: opts.backend });

  const base = await evaluateOne(opts, modelPath, prompts.cases, promptsName, settings, 'base');
  const adapted = opts.adapter ? await evaluateOne(opts, modelPath, prompts.cases, promptsName, settings, 'adapted') : undefined;
  if (adapted?.adapter?.kind === 'peft' && adapted.adapter.baseModel && basename(adapted.adapter.baseModel) !== basename(modelPath)) {
    opts.log?.(`note: the adapter names ${adapted.adapter.baseModel} as its base model, evaluating on ${modelPath}`);
  }

  const cases: CaseResult[] = prompts.cases.map((c, i) => ({
    id: c.id, line: c.line, prompt: c.prompt,
    ...(c.expected !== undefined ? { expected: c.expected } : {}),
    match: c.match, weight: c.weight, base: base.results[i],
    ...(adapted ? { adapted: adapted.results[i] } : {}),
  }));
  const regressions: CaseRef[] = [];
  const improvements: CaseRef[] = [];
  if (adapted) {
    prompts.cases.forEach((c, i) => {
      const b = base.results[i], a = adapted.results[i];
      if (c.expected === undefined) return;
      if (b.correct && !a.correct) regressions.push(caseRef(c, b, a));
      if (!b.correct && a.correct) improvements.push(caseRef(c, b, a));
    });
  }
  const a = adapted?.adapter;
  const bp = base.section.perplexity, ap = adapted?.section.perplexity;
  // Keys in the schema's order, so eval.json reads top-down.
  const report: EvalReport = {
    version: 1,
    createdAt: new Date().toISOString(),
    model: { path: resolve(modelPath), name: base.name },
    ...(a ? { adapter: { kind: a.kind, path: a.path, ...(a.runId !== undefined ? { runId: a.runId } : {}), ...(a.step !== undefined ? { step: a.step } : {}) } } : {}),
    prompts: { file: prompts.file, cases: prompts.cases.length },
    ...(opts.probe && base.probeTokens ? { probe: { file: resolve(opts.probe), tokens: base.probeTokens } } : {}),
    ...(opts.data && base.dataTokens ? { data: { file: resolve(opts.data), tokens: base.dataTokens } } : {}),
    settings: { maxTokens: settings.maxTokens, samples: settings.samples, temperature: settings.temperature, seed: settings.seed, backend: backend.name, stop: settings.stop },
    base: base.section,
    ...(adapted ? { adapted: adapted.section } : {}),
    regressions,
    improvements,
    ...(bp !== undefined && ap !== undefined ? { forgetting: { basePerplexity: bp, adaptedPerplexity: ap, changePercent: 100 * (ap / bp - 1) } } : {}),
    verdict: '',
    cases,
  };
  report.verdict = verdictOf(report);
  if (opts.runtime === 'llamacpp') {
    report.llamacpp = await runtimeReport(modelPath, opts.adapter, prompts.cases, settings, { base: base.results, adapted: adapted?.results }, opts.onProgress, opts.runtimeThreads);
    report.verdict += ` · llama.cpp: ${runtimeVerdict(report.llamacpp)}`;
  }
  return report;
}

/** Writes the report as pretty JSON, atomically (temp file + rename). */
export function writeEvalReport(path: string, report: EvalReport): string {
  const abs = resolve(path);
  writeJsonAtomic(abs, report);
  return abs;
}

export interface RunEndEvalOptions extends Partial<EvalSettings> {
  /** The run folder (its best checkpoint, else its latest, is evaluated). */
  runDir: string;
  /** The prompts file (the run config's `data.prompts`). */
  prompts: string;
  /** The base model; default the run config's model. */
  model?: string;
  probe?: string;
  /** Default: the run config's data.validation, if any. */
  data?: string;
  backend?: string;
  onProgress?: EvalOptions['onProgress'];
  log?: (line: string) => void;
}

/**
 * End-of-run evaluation: evaluates the run against its base model on the prompts, writes
 * `<runDir>/eval.json` and returns the report with the event to send on
 * (`{type: 'evalReport', time, path, verdict}`). Call it after the run's model is disposed.
 */
export async function evaluateRunEnd(o: RunEndEvalOptions): Promise<{ report: EvalReport; path: string; event: EvalReportEvent }> {
  const runDir = resolve(o.runDir);
  const cfg = readRunRecord(runDir).config;
  const report = await runEval({
    ...o,
    model: o.model ?? cfg.model,
    adapter: runDir,
    data: o.data ?? cfg.data.validation,
    backend: o.backend ?? cfg.backend,
  });
  const path = writeEvalReport(join(runDir, 'eval.json'), report);
  return { report, path, event: { type: 'evalReport', time: new Date().toISOString(), path, verdict: report.verdict } };
}
