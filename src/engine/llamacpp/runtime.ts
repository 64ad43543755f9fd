// llama.cpp as a deployment runtime, through node-llama-cpp (prebuilt CPU binaries inside the
// npm package: nothing is compiled or downloaded). It is optional: loaded only when asked for
// (`eval --runtime llamacpp`), from the project's node_modules or the working folder's, with a
// message naming the package to install when it is absent. It is never bundled: it carries native
// binaries, and the extension host must not load it (the trainer/CLI process does).
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Llama, LlamaContext, LlamaModel, Token } from 'node-llama-cpp';
import { LLAMACPP_MISSING } from '../../protocol/worker';

export const NODE_LLAMA_CPP = 'node-llama-cpp@3.21.1';

type NodeLlamaCpp = typeof import('node-llama-cpp');
// A real dynamic import (esbuild would turn import() into require(), and the package is ESM only).
const importEsm = new Function('m', 'return import(m)') as (m: string) => Promise<NodeLlamaCpp>;

let lib: Promise<{ mod: NodeLlamaCpp; llama: Llama }> | undefined;

async function importNodeLlamaCpp(): Promise<NodeLlamaCpp> {
  try {
    return await importEsm('node-llama-cpp');
  } catch (first) {
    // Installed in the working folder (npm install node-llama-cpp there), not beside adapt-lab.
    try {
      const path = createRequire(join(process.cwd(), 'package.json')).resolve('node-llama-cpp');
      return await importEsm(pathToFileURL(path).href);
    } catch {
      throw new Error(`the llama.cpp runtime ${LLAMACPP_MISSING}, which is not installed (${(first as Error).message.split('\n')[0]}): run \`npm install ${NODE_LLAMA_CPP}\` in this project or in the working folder`);
    }
  }
}

/** The process's llama.cpp (CPU build, quiet). */
export function getLlamaCpp(): Promise<{ mod: NodeLlamaCpp; llama: Llama }> {
  lib ??= importNodeLlamaCpp().then(async (mod) => ({
    mod,
    llama: await mod.getLlama({ gpu: false, build: 'never', skipDownload: true, logLevel: mod.LlamaLogLevel.error, progressLogs: false }),
  }));
  lib.catch(() => { lib = undefined; });
  return lib;
}

export interface RuntimeModel {
  model: LlamaModel;
  context: LlamaContext;
  version: string;
  loadMs: number;
  /** Weights plus the context's state (KV cache), as llama.cpp sizes them. */
  bytes: number;
  threads: number;
  dispose(): Promise<void>;
}

/** Opens a GGUF (with a GGUF LoRA adapter) as a server would (default KV cache type); threads default to node-llama-cpp's choice. */
export async function openRuntimeModel(path: string, opts: { lora?: string; contextSize: number | ((model: LlamaModel) => number); threads?: number }): Promise<RuntimeModel> {
  const { llama } = await getLlamaCpp();
  const t0 = performance.now();
  const model = await llama.loadModel({ modelPath: path, gpuLayers: 0 });
  let context: LlamaContext;
  try {
    context = await model.createContext({
      contextSize: typeof opts.contextSize === 'number' ? opts.contextSize : opts.contextSize(model), sequences: 1,
      ...(opts.threads ? { threads: opts.threads } : {}),
      ...(opts.lora ? { lora: { adapters: [{ filePath: opts.lora, scale: 1 }] } } : {}),
    });
  } catch (e) {
    await model.dispose();
    throw new Error(`llama.cpp could not open ${path}${opts.lora ? ` with the adapter ${opts.lora}` : ''}: ${(e as Error).message}`);
  }
  return {
    model, context, version: llama.llamaCppRelease.release, loadMs: performance.now() - t0,
    bytes: model.size + context.stateSize, threads: context.currentThreads,
    async dispose() {
      await context.dispose();
      await model.dispose();
    },
  };
}

export interface RuntimeGeneration {
  text: string;
  tokens: number;
  stopReason: 'eos' | 'stop-sequence' | 'max-tokens' | 'cancelled';
  firstTokenMs: number;
  totalMs: number;
}

export interface RuntimeGenerateOptions {
  maxTokens: number;
  temperature: number;
  seed?: number;
  stop: string[];
  /**
   * Rendered chat text: special-token strings ("<|im_start|>") are parsed as the tokens they
   * name, and BOS is not added again when the template wrote it (as encode.ts does for ours).
   * Otherwise the prompt is plain text, special-token strings included.
   */
  chat?: { bosText: string };
  /** Each piece of new text as it is generated. */
  onText?: (text: string) => void;
  /** Checked before each token: true stops with stopReason 'cancelled'. */
  cancelled?: () => boolean;
}

/**
 * Generates from `prompt` (llama.cpp's own tokenization, BOS as the model's metadata says):
 * greedy at temperature 0, else sampled with `seed`. Stops at an end-of-generation token, a
 * stop sequence (cut off, as our engine does) or maxTokens.
 */
export async function runtimeGenerate(rm: RuntimeModel, prompt: string, opts: RuntimeGenerateOptions): Promise<RuntimeGeneration> {
  const t0 = performance.now();
  const ids = rm.model.tokenize(prompt, !!opts.chat);
  const templateWroteBos = !!opts.chat && opts.chat.bosText !== '' && prompt.startsWith(opts.chat.bosText);
  if (rm.model.tokens.shouldPrependBosToken && rm.model.tokens.bos !== null && !templateWroteBos) ids.unshift(rm.model.tokens.bos);
  const seq = rm.context.getSequence();
  const out: Token[] = [];
  let text = '';
  let firstTokenMs = 0;
  let stopReason: RuntimeGeneration['stopReason'] = 'max-tokens';
  // Text is streamed only as far as no stop sequence could still begin in it.
  let sent = 0;
  const stream = (upto: number) => {
    if (upto > sent) opts.onText?.(text.slice(sent, upto));
    sent = Math.max(sent, upto);
  };
  const held = (t: string) => {
    let keep = 0;
    for (const s of opts.stop) for (let k = Math.min(s.length - 1, t.length); k > keep; k--) if (t.endsWith(s.slice(0, k))) { keep = k; break; }
    return keep;
  };
  try {
    if (opts.cancelled?.()) return { text, tokens: 0, stopReason: 'cancelled', firstTokenMs, totalMs: performance.now() - t0 };
    for await (const tok of seq.evaluate(ids, { temperature: opts.temperature, ...(opts.temperature > 0 ? { seed: opts.seed ?? 0 } : {}) })) {
      if (!out.length) firstTokenMs = performance.now() - t0;
      if (rm.model.isEogToken(tok)) { stopReason = 'eos'; break; }
      out.push(tok);
      // With the prompt as context, as our engine decodes: a reply starting with a space keeps it.
      text = rm.model.detokenize(out, false, ids);
      const cut = opts.stop.map((s) => (s ? text.indexOf(s) : -1)).filter((i) => i >= 0);
      if (cut.length) { text = text.slice(0, Math.min(...cut)); stopReason = 'stop-sequence'; break; }
      // A partial UTF-8 character detokenizes as U+FFFD: wait for the rest before streaming it.
      if (!text.endsWith('\uFFFD')) stream(text.length - held(text));
      if (out.length >= opts.maxTokens) break;
      if (opts.cancelled?.()) { stopReason = 'cancelled'; break; }
    }
    stream(text.length);
  } finally {
    seq.dispose();
  }
  return { text, tokens: out.length, stopReason, firstTokenMs, totalMs: performance.now() - t0 };
}
