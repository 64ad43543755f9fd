// LoRA adapters on linear modules, initialised as PEFT does: A Kaiming-uniform (a=√5, so
// bound 1/√in), B zero — the adapted model starts equal to the base.
import { tf } from '../tf';
import { CausalLM } from './model';
import { loraAdapter, loraDelta } from './lora-adapter';
import { internalShape } from '../core/params';
import { Rng } from '../random';

export interface LoraSpec {
  rank: number;
  alpha: number;
  dropout: number;
}

export function addLora(model: CausalLM, path: string, spec: LoraSpec, rng: Rng): void {
  const ws = model.specs.find((s) => s.name === `${path}.weight`);
  if (!ws || (ws.layout !== 'linear' && ws.layout !== 'conv1d')) throw new Error(`"${path}" is not a linear module`);
  const [inF, outF] = internalShape(ws);
  // A rank above the smaller dimension adds nothing a full update could not, and an absurd one
  // (1e9) would size A by it before any other check.
  const most = Math.min(inF, outF);
  if (!Number.isSafeInteger(spec.rank) || spec.rank < 1 || spec.rank > most) {
    throw new Error(`LoRA rank ${spec.rank} does not fit "${path}" (${inF} in, ${outF} out): use a rank from 1 to ${most}, the smaller of its dimensions`);
  }
  const bound = 1 / Math.sqrt(inF);
  const a = new Float32Array(inF * spec.rank);
  for (let i = 0; i < a.length; i++) a[i] = (rng.next() * 2 - 1) * bound;
  model.lora.get(path)?.A.dispose();
  model.lora.get(path)?.B.dispose();
  const A = tf.tidy(() => tf.variable(tf.tensor2d(a, [inF, spec.rank]), true));
  const B = tf.tidy(() => tf.variable(tf.zeros([spec.rank, outF]), true));
  model.lora.set(path, loraAdapter(A, B, spec));
}

/**
 * Folds every LoRA adapter into its base weight, W + loraDelta (= W + (alpha/r)·A·B), and drops the adapters
 * (PEFT's merge_and_unload), for inference: the adapted model then runs as fast as the base.
 * Adapters on external weights (kept in their file's encoding outside the backend) stay unmerged:
 * merging would expand the weight to a float32 tensor, and the external product costs the same
 * with or without the adapter's two thin matMuls.
 */
export function mergeLora(model: CausalLM): number {
  let n = 0;
  for (const [path, ad] of model.lora) {
    const name = `${path}.weight`;
    if (model.external.has(name)) continue;
    const w = model.param(name);
    const merged = tf.keep(tf.tidy(() => tf.add(w, loraDelta(ad))));
    model.setParam(name, merged);
    w.dispose();
    ad.A.dispose();
    ad.B.dispose();
    model.lora.delete(path);
    n++;
  }
  return n;
}
