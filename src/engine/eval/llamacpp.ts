// The prompt cases run in llama.cpp, as the model would be served: the base GGUF, and the same
// file with the run's GGUF LoRA adapter. Same cases, settings and scoring as our engine's
// evaluation (evaluate.ts), so the two sections sit side by side in one report.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CaseModelResult, EvalSection, RuntimeReport } from '../../protocol/eval';
import { exportRun } from '../export';
import { isGgufPath, loadTokenizer } from '../model/loader';
import { promptChatFormat } from '../chat/prompt-format';
import type { ChatFormat } from '../chat/template';
import { adapterKind } from '../core/adapter-folder';
import { openRuntimeModel, runtimeGenerate } from '../llamacpp/runtime';
import { ggufOfHfModel } from '../llamacpp/base-gguf';
import { matches } from '../core/match';
import type { PromptCase } from '../core/prompts';
import { EvalSettings, summarize } from './evaluate';

export interface RuntimeEvalResult {
  section: EvalSection;
  results: CaseModelResult[];
  version: string;
  threads: number;
}

/** A case's prompt for llama.cpp: its text, or its messages rendered with `chat` (special tokens parsed, BOS not doubled). */
function runtimePrompt(c: PromptCase, chat?: ChatFormat): { text: string; chat?: { bosText: string } } {
  if (!c.messages) return { text: c.prompt };
  if (!chat) throw new Error(`case ${c.id} (line ${c.line}) is written as messages, but no chat template was given to render it`);
  return { text: chat.prompt(c.messages), chat: { bosText: chat.bosToken } };
}

export async function evaluateCasesLlamaCpp(
  modelPath: string, lora: string | undefined, cases: readonly PromptCase[], settings: EvalSettings,
  onCase?: (done: number, total: number) => void, threads = 1, chatFormat?: ChatFormat,
): Promise<RuntimeEvalResult> {
  const prompts = cases.map((c) => runtimePrompt(c, chatFormat));
  const rm = await openRuntimeModel(modelPath, {
    lora,
    threads,
    // Room for the longest prompt and its answer, within what the model was trained for.
    contextSize: (m) => {
      const longest = Math.max(...prompts.map((p) => m.tokenize(p.text, !!p.chat).length + 1));
      return Math.min(m.trainContextSize, Math.ceil((longest + settings.maxTokens + 1) / 256) * 256);
    },
  });
  try {
    const results: CaseModelResult[] = [];
    let greedyMs = 0;
    for (const [i, c] of cases.entries()) {
      const stop = [...settings.stop, ...c.stop];
      const p = prompts[i];
      const g = await runtimeGenerate(rm, p.text, { maxTokens: settings.maxTokens, temperature: 0, stop, chat: p.chat });
      greedyMs += g.totalMs;
      const passes = g.tokens + (g.stopReason === 'eos' ? 1 : 0);
      let agreement: number | null = null;
      if (settings.samples > 0) {
        let same = 0;
        for (let k = 1; k <= settings.samples; k++) {
          const s = await runtimeGenerate(rm, p.text, { maxTokens: settings.maxTokens, temperature: settings.temperature, seed: settings.seed + k, stop, chat: p.chat });
          if (s.text.trim() === g.text.trim()) same++;
        }
        agreement = same / settings.samples;
      }
      results.push({
        output: g.text,
        ...(c.expected !== undefined ? { correct: matches(g.text, c.expected, c.match) } : {}),
        firstTokenMs: g.firstTokenMs,
        perTokenMs: passes > 1 ? (g.totalMs - g.firstTokenMs) / (passes - 1) : null,
        tokens: g.tokens,
        agreement,
      });
      onCase?.(i + 1, cases.length);
    }
    const section: EvalSection = { ...summarize(cases, results, greedyMs), loadMs: rm.loadMs, peakMemoryMiB: rm.bytes / 2 ** 20 };
    return { section, results, version: rm.version, threads: rm.threads };
  } finally {
    await rm.dispose();
  }
}

/**
 * The llama.cpp part of a report: the base GGUF alone (a Hugging Face base is written as a GGUF
 * first, as merged-gguf would), then with the run's adapter exported as a GGUF LoRA adapter;
 * both into a temporary folder, removed afterwards. One thread by default, as our engine's
 * evaluation runs: a like-for-like comparison (a server would use more).
 */
export async function runtimeReport(
  modelPath: string, adapter: string | undefined, cases: readonly PromptCase[], settings: EvalSettings,
  ours: { base: readonly CaseModelResult[]; adapted?: readonly CaseModelResult[] },
  onProgress?: (p: { model: 'base' | 'adapted'; done: number; total: number }) => void,
  threads = 1,
): Promise<RuntimeReport> {
  const tmp = mkdtempSync(join(tmpdir(), 'adapt-lab-llamacpp-'));
  let lora: string | undefined;
  try {
    const gguf = isGgufPath(modelPath) ? modelPath : await ggufOfHfModel(modelPath, join(tmp, 'base'));
    if (adapter) {
      if (adapterKind(adapter) !== 'run') throw new Error(`--runtime llamacpp evaluates a run folder's adapter; ${adapter} is a PEFT folder (convert it with llama.cpp's convert_lora_to_gguf.py, or evaluate the run)`);
      const res = await exportRun(adapter, { format: 'gguf-lora', out: join(tmp, 'adapter'), who: 'eval --runtime llamacpp' });
      lora = res.files.find((f) => f.path.endsWith('.gguf'))!.path;
    }
    // Cases written as messages: rendered with the template each model has (the run's for the adapted one).
    const tok = cases.some((c) => c.messages) ? loadTokenizer(modelPath) : undefined;
    const chatFor = (a?: string) => (tok ? promptChatFormat(modelPath, tok, a) : undefined);
    const base = await evaluateCasesLlamaCpp(gguf, undefined, cases, settings, (done, total) => onProgress?.({ model: 'base', done, total }), threads, chatFor());
    const adapted = lora ? await evaluateCasesLlamaCpp(gguf, lora, cases, settings, (done, total) => onProgress?.({ model: 'adapted', done, total }), threads, chatFor(adapter)) : undefined;
    const same = (a: readonly CaseModelResult[], b: readonly CaseModelResult[]) => a.filter((r, i) => r.output.trim() === b[i].output.trim()).length / Math.max(1, a.length);
    return {
      runtime: 'llamacpp',
      version: base.version,
      threads: base.threads,
      model: gguf === modelPath ? resolve(modelPath) : `${resolve(modelPath)} (as GGUF F32)`,
      ...(adapter ? { adapter: resolve(adapter) } : {}),
      base: base.section,
      ...(adapted ? { adapted: adapted.section } : {}),
      sameAnswers: { base: same(base.results, ours.base), ...(adapted && ours.adapted ? { adapted: same(adapted.results, ours.adapted) } : {}) },
      cases: cases.map((c, i) => ({ id: c.id, base: base.results[i], ...(adapted ? { adapted: adapted.results[i] } : {}) })),
    };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
