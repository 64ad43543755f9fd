// The inference worker (`adapt-lab worker`, forked with IPC by the extension): keeps the last
// two models (base and adapted, say) loaded, answers generate requests one at a time,
// streams tokens, and can cancel between tokens. A request with runtime "llamacpp" is answered
// by llama.cpp instead (engine/llamacpp/prompts.ts), with the run's adapter as a GGUF LoRA
// adapter. A prompt written as messages is rendered with the run's (or the model's) chat
// template, for either runtime.
import { selectBackend } from '../engine/backend';
import { loadModel, loadTokenizer, LoadedModel } from '../engine/model/loader';
import { generateAsync } from '../engine/generate';
import { applyEvalAdapter } from '../engine/eval/adapter';
import { encodeChatPrompt } from '../engine/chat/encode';
import { promptChatFormat } from '../engine/chat/prompt-format';
import type { Tokenizer } from '../engine/tokenizers';
import type { LlamaCppPrompts } from '../engine/llamacpp/prompts';
import { GenerateDone, GenerateRequest, parseWorkerRequest, WorkerResponse } from '../protocol/worker';

interface Entry {
  key: string;
  lm: LoadedModel;
  loadMs: number;
}

export async function runWorker(backend?: string, llamaCppThreads = 1): Promise<void> {
  if (typeof process.send !== 'function') throw new Error('worker must be started with an IPC channel (the extension forks it)');
  const send = (m: WorkerResponse) => {
    if (process.connected) process.send!(m, undefined, undefined, () => undefined);
  };
  const choice = await selectBackend({ backend });
  const cache: Entry[] = [];
  const queue: GenerateRequest[] = [];
  const cancelled = new Set<number>();
  let busy = false;

  const get = async (model: string, adapter?: string): Promise<{ entry: Entry; warm: boolean }> => {
    const key = `${model}\u0000${adapter ?? ''}`;
    const hit = cache.find((e) => e.key === key);
    if (hit) return { entry: hit, warm: true };
    const t0 = performance.now();
    const lm = await loadModel(model);
    if (adapter) applyEvalAdapter(lm, adapter);
    const entry = { key, lm, loadMs: performance.now() - t0 };
    cache.unshift(entry);
    while (cache.length > 2) cache.pop()!.lm.model.dispose();
    return { entry, warm: false };
  };

  // llama.cpp, started on the first request that asks for it (node-llama-cpp is optional).
  let llamacpp: Promise<LlamaCppPrompts> | undefined;
  const tokenizers = new Map<string, Tokenizer>();
  const answerLlamaCpp = async (req: GenerateRequest): Promise<GenerateDone> => {
    llamacpp ??= import('../engine/llamacpp/prompts').then((m) => new m.LlamaCppPrompts(llamaCppThreads));
    const rt = await llamacpp;
    let prompt = req.prompt;
    let chat: { bosText: string } | undefined;
    if (req.messages) {
      let tok = tokenizers.get(req.model);
      if (!tok) tokenizers.set(req.model, (tok = loadTokenizer(req.model)));
      const fmt = promptChatFormat(req.model, tok, req.adapter);
      prompt = fmt.prompt(req.messages);
      chat = { bosText: fmt.bosToken };
    }
    const a = await rt.generate(req.model, req.adapter, prompt, {
      maxTokens: req.maxTokens, temperature: req.temperature ?? 0, seed: req.seed, stop: req.stop ?? [], chat,
      onText: (text) => send({ type: 'token', id: req.id, text }),
      cancelled: () => cancelled.has(req.id),
    });
    // llama.cpp's tokens are not reported one by one (no probabilities): the answer counts them.
    const passes = a.tokens + (a.stopReason === 'eos' ? 1 : 0);
    return {
      type: 'done', id: req.id, text: a.text, stopReason: a.stopReason, warm: a.warm, runtime: 'llamacpp', runtimeVersion: a.version,
      tokens: [], loadMs: a.loadMs, firstTokenMs: a.firstTokenMs, totalMs: a.totalMs,
      perTokenMs: passes > 1 ? (a.totalMs - a.firstTokenMs) / (passes - 1) : 0,
    };
  };
  const disposeLlamaCpp = async () => {
    if (llamacpp) await (await llamacpp.catch(() => undefined))?.dispose();
  };

  const pump = async () => {
    if (busy) return;
    busy = true;
    while (queue.length) {
      const req = queue.shift()!;
      if (cancelled.delete(req.id)) continue;
      try {
        if (req.runtime === 'llamacpp') {
          send(await answerLlamaCpp(req));
          cancelled.delete(req.id);
          continue;
        }
        const { entry, warm } = await get(req.model, req.adapter);
        const tok = entry.lm.tokenizer;
        if (!tok) throw new Error(`${req.model}: the model has no tokenizer`);
        const fmt = req.messages ? promptChatFormat(req.model, tok, req.adapter) : undefined;
        const r = await generateAsync(entry.lm.model, tok, fmt ? fmt.prompt(req.messages!) : req.prompt, {
          maxTokens: req.maxTokens, temperature: req.temperature ?? 0, seed: req.seed, stop: req.stop,
          withProbs: true, withTop: req.top ?? 5,
          ...(fmt ? { promptTokens: encodeChatPrompt(req.messages!, tok, fmt) } : {}),
          onText: (text) => send({ type: 'token', id: req.id, text }),
          cancelled: () => cancelled.has(req.id),
        });
        cancelled.delete(req.id);
        const n = r.tokens.length;
        send({
          type: 'done', id: req.id, text: r.text, stopReason: r.stopReason, warm, runtime: 'engine',
          tokens: r.tokens.map((id, i) => ({ text: tok.decode([id]), prob: r.probs?.[i] ?? NaN, top: r.top?.[i] ?? [] })),
          loadMs: warm ? 0 : entry.loadMs, firstTokenMs: r.firstTokenMs, totalMs: r.totalMs,
          perTokenMs: n > 1 ? (r.totalMs - r.firstTokenMs) / (n - 1) : 0,
        });
      } catch (e) {
        send({ type: 'error', id: req.id, message: e instanceof Error ? e.message.split('\n')[0] : String(e) });
      }
    }
    busy = false;
  };

  process.on('message', (m) => {
    let req;
    try {
      req = parseWorkerRequest(m);
    } catch (e) {
      send({ type: 'error', id: -1, message: e instanceof Error ? e.message : String(e) });
      return;
    }
    if (req.type === 'shutdown') void disposeLlamaCpp().finally(() => process.exit(0));
    else if (req.type === 'cancel') cancelled.add(req.id);
    else {
      queue.push(req);
      void pump();
    }
  });
  process.on('disconnect', () => void disposeLlamaCpp().finally(() => process.exit(0)));
  send({ type: 'ready', backend: choice.label, pid: process.pid });
  await new Promise<void>(() => undefined); // lives until the parent disconnects
}
