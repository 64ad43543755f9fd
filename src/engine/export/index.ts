// Exports a trained run (or any model with LoRA adapters / trained parameters in memory) as
//   peft          adapter_config.json + adapter_model.safetensors (+ README.md) for 🤗 PEFT
//   merged-hf     a Hugging Face model folder with the adapters merged into the weights
//   merged-gguf   <out>/model.gguf (F32 or F16) with the adapters merged, for llama.cpp
//   gguf-lora     <out>/adapter.gguf, a llama.cpp LoRA adapter (llama-cli --lora, Ollama ADAPTER)
//   ollama        <out>/Modelfile with the GGUF adapter (or the merged model when the base is
//                 not a GGUF file) and the chat template translated to Ollama's TEMPLATE
// Everything is written into `<out>.tmp-<pid>` beside it and renamed into place, so a failed
// export leaves nothing half-written; an existing non-empty `out` is refused unless `force`,
// and `force` replaces only an earlier export's folder, never a run or the model (core/export-guard.ts).
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { checkExportTarget, writeExportMarker } from '../core/export-guard';
import { loadModel, LoadedModel } from '../model/loader';
import { ExportSource } from './source';
import { applyRunAdapter } from '../runs/adapter';
import { openRun } from '../core/runs/store';
import { writePeft } from './peft';
export type { ExportSource } from './source';
export { unfrozenOf, peftTargetModules } from './peft';
export { hfTokenizerFromGguf, ggufTokenizerFromHf, spmMerges } from './hf-tokenizer';
export { mergedHfTensors, hfConfigJson } from './merged';
import { writeMergedGguf, writeMergedHf } from './merged';
import { writeGgufLora } from './gguf-lora';
import { writeOllama } from './ollama';

export const EXPORT_FORMATS = ['peft', 'merged-hf', 'merged-gguf', 'gguf-lora', 'ollama'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportOptions {
  format: ExportFormat;
  /** The folder to create. */
  out: string;
  /** Weights of the merged formats: f32 (default) or f16 (1-D tensors stay F32 in GGUF). */
  dtype?: 'f32' | 'f16';
  /** Replace an existing non-empty `out` that an earlier export made (it has the marker file). */
  force?: boolean;
  /** Paths the export must never replace, nor any folder holding them (run, runs folder, model, data). */
  protect?: string[];
  /** Recorded in the export's marker file. */
  runId?: string;
}

export interface ExportedFile {
  path: string;
  bytes: number;
}

export interface ExportResult {
  format: ExportFormat;
  out: string;
  files: ExportedFile[];
  /** Things the user should know (what PEFT cannot carry, which format suits better...). */
  notes: string[];
}

export interface RunExportOptions extends ExportOptions {
  /** Which checkpoint: 'best' (default; latest when the run never evaluated), 'latest' or a step. */
  which?: 'best' | 'latest' | number;
  /** Audit entries name this user. */
  who?: string;
}

export interface RunExportResult extends ExportResult {
  runId: string;
  step: number;
}

export function sourceFromLoaded(lm: LoadedModel, extra: Partial<ExportSource> = {}): ExportSource {
  return { model: lm.model, base: { format: lm.format, path: lm.path }, tokenizer: lm.tokenizer, chatTemplate: lm.chatTemplate, ...extra };
}

/** A model's name for an export's metadata: its file or folder name, never a local absolute path. */
export function modelName(path: string): string {
  return basename(resolve(path));
}

/** Writes the export of an in-memory model into `opts.out` (atomically, as a whole folder). */
export function exportModel(src: ExportSource, opts: ExportOptions): ExportResult {
  if (!(EXPORT_FORMATS as readonly string[]).includes(opts.format)) {
    throw new Error(`unknown export format "${opts.format}" (use one of: ${EXPORT_FORMATS.join(', ')})`);
  }
  const dtype = opts.dtype ?? 'f32';
  if (dtype !== 'f32' && dtype !== 'f16') throw new Error(`--dtype must be f32 or f16, got "${String(dtype)}"`);
  if (opts.format === 'peft' && opts.dtype !== undefined) throw new Error('--dtype applies to the merged and GGUF formats only (PEFT adapters are written in F32)');
  const out = resolve(opts.out);
  const protect = [...(opts.protect ?? []), src.base.path];
  const checkOut = () => checkExportTarget(out, !!opts.force, protect);
  checkOut();
  const tmp = `${out}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  let written: { names: string[]; notes: string[] };
  try {
    if (opts.format === 'peft') written = writePeft(src, tmp, out);
    else if (opts.format === 'merged-hf') written = writeMergedHf(src, tmp, dtype);
    else if (opts.format === 'merged-gguf') written = writeMergedGguf(src, tmp, dtype);
    else if (opts.format === 'gguf-lora') written = writeGgufLora(src, tmp, dtype);
    else written = writeOllama(src, tmp, out, dtype);
    writeExportMarker(tmp, { format: opts.format, runId: opts.runId });
    checkOut(); // again: something may have appeared meanwhile
    if (existsSync(out)) {
      const old = `${out}.old-${process.pid}`;
      rmSync(old, { recursive: true, force: true });
      renameSync(out, old);
      try {
        renameSync(tmp, out);
      } catch (e) {
        renameSync(old, out);
        throw e;
      }
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(tmp, out);
    }
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  const files = written.names.map((n) => ({ path: join(out, n), bytes: statSync(join(out, n)).size }));
  return { format: opts.format, out, files, notes: written.notes };
}

/**
 * Exports checkpoint `which` of the run in `runDir`: loads the run's base model, puts the
 * checkpoint's adapters / trained parameters on it, writes the export and audits "exported".
 * The TensorFlow.js backend must already be chosen (selectBackend).
 */
export async function exportRun(runDir: string, opts: RunExportOptions): Promise<RunExportResult> {
  const run = openRun(runDir);
  const cfg = run.record.config;
  const lm = await loadModel(cfg.model);
  try {
    const applied = applyRunAdapter(lm, run.dir, opts.which ?? 'best');
    const unfrozen = applied.adapted.params.filter((p) => p.name.startsWith('param:')).map((p) => p.name.slice('param:'.length));
    const src = sourceFromLoaded(lm, {
      unfrozen,
      loraLayers: cfg.adapt.lora?.layers,
      // A Hugging Face cache entry is named by its hub id; anything else by its file or folder name.
      baseModelName: run.record.base?.source === 'huggingface' ? run.record.base.name : modelName(cfg.model),
      name: `${run.record.name} (step ${applied.step})`,
      // What the run trained with (the default template when the base has none) is what ships.
      chatTemplate: run.record.chatTemplate?.template ?? lm.chatTemplate,
      ollamaName: run.record.base?.source === 'ollama' ? run.record.base.name : undefined,
    });
    const data = [cfg.data.train, cfg.data.validation, cfg.data.prompts, cfg.data.probe].filter((p): p is string => !!p);
    const res = exportModel(src, { ...opts, runId: run.record.id, protect: [run.dir, dirname(run.dir), cfg.model, ...data, ...(opts.protect ?? [])] });
    if (opts.format === 'peft' && src.model.lora.size === 0) {
      res.notes.push('this run trained no LoRA adapters, only full parameters (modules_to_save): merged-hf or merged-gguf suit it better');
    }
    const total = res.files.reduce((n, f) => n + f.bytes, 0);
    run.audit('exported', `${opts.format} of step ${applied.step} to ${res.out} (${total} bytes)`, opts.who, res.files.map((f) => f.path));
    return { ...res, runId: run.record.id, step: applied.step };
  } finally {
    lm.model.dispose();
  }
}
