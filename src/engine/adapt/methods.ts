// Turns the `adapt` section of a run config into trainable state on a model: the plan
// (core/plan.ts: unfrozen base parameters, biases and norms, LoRA targets) made into variables
// and adapters. Everything not selected stays a plain (frozen) tensor, outside the gradient tape.
import { tf, Tensor } from '../tf';
import { AdaptConfig } from '../../protocol/config';
import { CausalLM } from '../model/model';
import { addLora } from '../model/lora';
import { ModelDescription, planAdapt } from '../core/plan';
import { Rng } from '../random';
import { layerOf } from '../core/paths';

/** A parameter that trains: its variable, and how the optimizer treats it. */
export interface TrainParam {
  /** Stable name used in checkpoints, e.g. `param:model.norm.weight` or `lora:<path>.A`. */
  name: string;
  variable: tf.Variable;
  /** Weight decay applies to matrices, not to biases, norms or vectors. */
  decay: boolean;
  lrScale: number;
  /** Pretrained value, kept when L2-SP is on (only for unfrozen base weights). */
  anchor?: Tensor;
}

export interface AdaptOptions {
  rng: Rng;
  layerLrDecay: number;
  /** Keep pretrained copies of unfrozen weights for L2-SP. */
  l2sp: boolean;
}

export interface AdaptResult {
  params: TrainParam[];
  trainable: number;
  total: number;
  /** First block whose output depends on a trainable parameter (the frozen prefix ends here). */
  firstTrainableLayer: number;
  /** A one-line summary, e.g. "LoRA r8 on 10 modules (q_proj, v_proj)". */
  method: string;
}

function lrScaleFor(model: CausalLM, path: string, decay: number): number {
  if (decay === 1) return 1;
  const L = model.config.layers;
  const layer = layerOf(path);
  if (layer !== undefined) return Math.pow(decay, L - 1 - layer);
  if (path === model.family.embeddingName || /wpe/.test(path)) return Math.pow(decay, L);
  return 1;
}

/** What the plan sees of a loaded model. */
export function describeModel(model: CausalLM): ModelDescription {
  return { specs: model.specs, layers: model.config.layers, embeddingName: model.family.embeddingName, headName: model.family.headName };
}

/** Makes the plan's parameters trainable on `model` (variables, LoRA adapters) for the optimizer. */
export function applyAdapt(model: CausalLM, adapt: AdaptConfig, opts: AdaptOptions): AdaptResult {
  const plan = planAdapt(describeModel(model), adapt);
  const params: TrainParam[] = [];
  for (const name of plan.unfrozen) {
    // An external base tensor (quantized, or kept outside the backend) trains as a float32 copy of its decoded values (dense()).
    const base = model.dense(name);
    const v = tf.variable(base, true);
    const anchor = opts.l2sp ? tf.keep(base.clone()) : undefined;
    model.setParam(name, v);
    base.dispose();
    const vector = model.specs.find((s) => s.name === name)!.layout === 'vector';
    params.push({ name: `param:${name}`, variable: v, decay: !vector, lrScale: lrScaleFor(model, name, opts.layerLrDecay), anchor });
  }
  const l = adapt.lora;
  for (const { path } of l ? plan.lora : []) {
    addLora(model, path, { rank: l!.rank, alpha: l!.alpha, dropout: l!.dropout }, opts.rng);
    const ad = model.lora.get(path)!;
    const scale = lrScaleFor(model, path, opts.layerLrDecay);
    params.push({ name: `lora:${path}.A`, variable: ad.A, decay: true, lrScale: scale });
    params.push({ name: `lora:${path}.B`, variable: ad.B, decay: true, lrScale: scale });
  }
  return { params, trainable: plan.trainable, total: plan.total, firstTrainableLayer: plan.firstTrainableLayer, method: plan.method };
}

/** Current values of the trainable state, for checkpoints and exports. */
export function trainableTensors(params: TrainParam[]): { name: string; shape: number[]; data: Float32Array }[] {
  return params.map((p) => ({ name: p.name, shape: p.variable.shape, data: p.variable.dataSync() as Float32Array }));
}

export function loadTrainable(params: TrainParam[], saved: { name: string; shape: number[]; data: Float32Array }[]): void {
  const byName = new Map(saved.map((s) => [s.name, s]));
  for (const p of params) {
    const s = byName.get(p.name);
    if (!s) throw new Error(`checkpoint has no tensor "${p.name}" (was it made with another adapt config?)`);
    if (s.shape.join() !== p.variable.shape.join()) throw new Error(`checkpoint tensor "${p.name}" has shape [${s.shape}], expected [${p.variable.shape}]`);
    tf.tidy(() => p.variable.assign(tf.tensor(s.data, s.shape)));
  }
}

export type { Tensor };
