// The worker-thread side of the gradient pool (parallel.ts): builds a replica of the model from
// the tensors it is started with, applies the same adapt config, then answers gradient
// requests for its share of each step.
import { parentPort, workerData } from 'node:worker_threads';
import { tf } from '../tf';
import { selectBackend } from '../backend';
import { CausalLM } from '../model/model';
import { familyOf } from '../model/families';
import { Rng } from '../random';
import { applyAdapt, loadTrainable } from '../adapt/methods';
import { accumulateGrads } from './step';
import { GradReply, GradRequest, GradWorkerInit } from './parallel';

export function isGradWorker(): boolean {
  return !!parentPort && (workerData as GradWorkerInit | undefined)?.adaptLabGradWorker === 1;
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0];

/** Serves gradient requests on this worker thread until it is terminated. */
export async function serveGradients(): Promise<void> {
  const port = parentPort!;
  const init = workerData as GradWorkerInit;
  const send = (m: GradReply) => port.postMessage(m);
  let model: CausalLM;
  let adapted: ReturnType<typeof applyAdapt>;
  try {
    const backend = await selectBackend({ backend: init.backend, blas: init.blas, blasThreads: init.blasThreads });
    // A worker whose BLAS failed would train on other kernels than the main thread: say so.
    if (init.blas && !backend.blas.on) throw new Error(`BLAS is on in the main thread but not here: ${backend.blas.reason}`);
    const params = new Map(init.tensors.map((t) => [t.name, tf.tensor(t.data, t.shape) as tf.Tensor]));
    model = new CausalLM(init.config, params, familyOf(init.config), new Map(init.external));
    adapted = applyAdapt(model, init.adapt, { rng: new Rng(init.seed), layerLrDecay: init.layerLrDecay, l2sp: false });
    send({ type: 'ready', backend: backend.label });
  } catch (e) {
    send({ type: 'error', message: message(e) });
    return;
  }
  port.on('message', (r: GradRequest) => {
    try {
      loadTrainable(adapted.params, r.trainable);
      const { loss, grads } = accumulateGrads(model, adapted.params, r.micro, r.labelTotal, { ...r.options, seedOf: (i) => r.seeds[i] });
      const out = adapted.params.map((p) => {
        const g = grads.get(p.name)!;
        return { name: p.name, shape: g.shape, data: g.dataSync() as Float32Array };
      });
      tf.dispose([...grads.values()]);
      send({ type: 'grads', id: r.id, loss, grads: out });
    } catch (e) {
      send({ type: 'error', id: r.id, message: message(e) });
    }
  });
}
