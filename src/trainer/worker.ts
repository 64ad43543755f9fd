// The inference worker (`adapt-lab worker`, forked with IPC by the extension): keeps the last
// two models (base and adapted, say) loaded, answers generate requests one at a time,
// streams tokens, and can cancel between tokens.
import { selectBackend } from '../engine/backend';
import { loadModel, LoadedModel } from '../engine/model/loader';
import { generateAsync } from '../engine/generate';
import { applyEvalAdapter } from '../engine/eval/adapter';
import { GenerateRequest, parseWorkerRequest, WorkerResponse } from '../protocol/worker';

interface Entry {
  key: string;
  lm: LoadedModel;
  loadMs: number;
}

export async function runWorker(backend?: string): Promise<void> {
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

  const pump = async () => {
    if (busy) return;
    busy = true;
    while (queue.length) {
      const req = queue.shift()!;
      if (cancelled.delete(req.id)) continue;
      try {
        const { entry, warm } = await get(req.model, req.adapter);
        if (!entry.lm.tokenizer) throw new Error(`${req.model}: the model has no tokenizer`);
        const r = await generateAsync(entry.lm.model, entry.lm.tokenizer, req.prompt, {
          maxTokens: req.maxTokens, temperature: req.temperature ?? 0, seed: req.seed, stop: req.stop,
          withProbs: true, withTop: req.top ?? 5,
          onText: (text) => send({ type: 'token', id: req.id, text }),
          cancelled: () => cancelled.has(req.id),
        });
        cancelled.delete(req.id);
        const n = r.tokens.length;
        send({
          type: 'done', id: req.id, text: r.text, stopReason: r.stopReason, warm,
          tokens: r.tokens.map((id, i) => ({ text: entry.lm.tokenizer!.decode([id]), prob: r.probs?.[i] ?? NaN, top: r.top?.[i] ?? [] })),
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
    if (req.type === 'shutdown') process.exit(0);
    else if (req.type === 'cancel') cancelled.add(req.id);
    else {
      queue.push(req);
      void pump();
    }
  });
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', backend: choice.label, pid: process.pid });
  await new Promise<void>(() => undefined); // lives until the parent disconnects
}
