// Inline prompts answered by llama.cpp (the inference worker with adaptLab.evaluation.runtime =
// "llamacpp"): the base model as a GGUF, and a run's adapter as a GGUF LoRA adapter exported on
// demand into the run folder (`<run>/exports/gguf-lora/`) and reused until the run has a newer
// checkpoint. A Hugging Face base is written once per worker as a GGUF F32 into a temporary
// folder (removed by dispose). The last two models stay loaded, as the engine's worker keeps
// its last two.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { bestCheckpoint, latestCheckpoint, STATE_FILE } from '../core/runs/checkpoint';
import { adapterKind } from '../core/adapter-folder';
import { ggufOfHfModel } from './base-gguf';
import { exportRun } from '../export';
import { isGgufPath } from '../model/loader';
import { openRuntimeModel, RuntimeGeneration, RuntimeGenerateOptions, RuntimeModel, runtimeGenerate } from './runtime';

/** Where a run's GGUF LoRA adapter for llama.cpp is kept, inside the run folder. */
export const RUN_GGUF_ADAPTER_DIR = join('exports', 'gguf-lora');
const STAMP = 'adapter-source.json';

interface Stamp {
  /** The checkpoint folder exported, and its state file's modification time. */
  checkpoint: string;
  mtimeMs: number;
  file: string;
  step: number;
}

/** The checkpoint an export of the run would read ('best', else latest), with its state file's time. */
function sourceCheckpoint(runDir: string): { checkpoint: string; mtimeMs: number } {
  const dir = bestCheckpoint(runDir) ?? latestCheckpoint(runDir);
  if (!dir) throw new Error(`${runDir} has no checkpoint yet: llama.cpp answers with a run's adapter once the run has saved one`);
  return { checkpoint: resolve(dir), mtimeMs: statSync(join(dir, STATE_FILE)).mtimeMs };
}

/**
 * The run's adapter as a GGUF LoRA file: the one exported earlier when it came from the same
 * checkpoint, else exported now (replacing the earlier one). `exported` says which.
 */
export async function runGgufAdapter(runDir: string, who = 'inline prompts (llama.cpp)'): Promise<{ path: string; step: number; exported: boolean }> {
  const out = join(runDir, RUN_GGUF_ADAPTER_DIR);
  const want = sourceCheckpoint(runDir);
  try {
    const s = JSON.parse(readFileSync(join(out, STAMP), 'utf8')) as Stamp;
    if (s.checkpoint === want.checkpoint && s.mtimeMs === want.mtimeMs && existsSync(join(out, s.file))) return { path: join(out, s.file), step: s.step, exported: false };
  } catch {
    /* none yet, or unreadable: export */
  }
  const res = await exportRun(runDir, { format: 'gguf-lora', out, force: true, who });
  const file = res.files.find((f) => f.path.endsWith('.gguf'));
  if (!file) throw new Error(`the gguf-lora export of ${runDir} wrote no .gguf file`);
  const stamp: Stamp = { ...want, file: relative(out, file.path), step: res.step };
  writeFileSync(join(out, STAMP), JSON.stringify(stamp, null, 1) + '\n');
  return { path: file.path, step: res.step, exported: true };
}

export interface LlamaCppAnswer extends RuntimeGeneration {
  loadMs: number;
  warm: boolean;
  /** llama.cpp's release, as node-llama-cpp reports it. */
  version: string;
}

interface Entry {
  key: string;
  rm: RuntimeModel;
}

export class LlamaCppPrompts {
  private readonly models: Entry[] = [];
  private readonly baseGgufs = new Map<string, Promise<string>>();
  private tmp?: string;

  constructor(private readonly threads = 1) {}

  /** The model as a GGUF file llama.cpp opens: itself, or a Hugging Face folder written as GGUF F32 once. */
  private baseGguf(model: string): Promise<string> {
    if (isGgufPath(model)) return Promise.resolve(model);
    let p = this.baseGgufs.get(model);
    if (!p) {
      this.tmp ??= mkdtempSync(join(tmpdir(), 'adapt-lab-worker-llamacpp-'));
      p = ggufOfHfModel(model, join(this.tmp, `base-${this.baseGgufs.size}`));
      this.baseGgufs.set(model, p);
      p.catch(() => this.baseGgufs.delete(model));
    }
    return p;
  }

  private async open(model: string, adapter?: string): Promise<{ rm: RuntimeModel; warm: boolean; loadMs: number }> {
    const t0 = performance.now();
    let lora: string | undefined;
    if (adapter) {
      if (adapterKind(adapter) !== 'run') throw new Error(`${adapter} is a PEFT folder: llama.cpp answers with a run's adapter (convert a PEFT adapter with llama.cpp's convert_lora_to_gguf.py, or set adaptLab.evaluation.runtime to "engine")`);
      lora = (await runGgufAdapter(adapter)).path;
    }
    const gguf = await this.baseGguf(model);
    const key = `${gguf}\u0000${lora ?? ''}`;
    const hit = this.models.find((e) => e.key === key);
    if (hit) return { rm: hit.rm, warm: true, loadMs: 0 };
    // Room for long prompts and answers within what the model was trained for.
    const rm = await openRuntimeModel(gguf, { lora, threads: this.threads, contextSize: (m) => Math.min(m.trainContextSize, 4096) });
    this.models.unshift({ key, rm });
    while (this.models.length > 2) await this.models.pop()!.rm.dispose();
    return { rm, warm: false, loadMs: performance.now() - t0 };
  }

  async generate(model: string, adapter: string | undefined, prompt: string, opts: RuntimeGenerateOptions): Promise<LlamaCppAnswer> {
    const { rm, warm, loadMs } = await this.open(model, adapter);
    const g = await runtimeGenerate(rm, prompt, opts);
    return { ...g, loadMs, warm, version: rm.version };
  }

  async dispose(): Promise<void> {
    for (const e of this.models.splice(0)) await e.rm.dispose();
    if (this.tmp) rmSync(this.tmp, { recursive: true, force: true });
  }
}
