// Turns the `adapt` section of a run config into trainable state on a model: unfrozen base
// parameters (by glob over the paths `inspect` prints), biases and norms, LoRA adapters.
// Everything not selected stays a plain (frozen) tensor and never enters the gradient tape.
import { tf, Tensor } from '../tf';
import { AdaptConfig } from '../../protocol/config';
import { CausalLM } from '../model/model';
import { ParamSpec } from '../core/params';
import { addLora } from '../model/lora';
import { linearModules } from '../core/modules';
import { Rng } from '../random';
import { TrainParam } from './optimizer';
import { globToRegExp, layerOf, selectLoraTargets, selects } from '../core/paths';

export { globToRegExp, layerOf };

function isBiasOrNorm(s: ParamSpec): boolean {
  return s.layout === 'vector';
}

/** LoRA target paths for a config entry: `all-linear`, name suffixes (`q_proj`) or globs. */
export function loraTargets(model: CausalLM, targets: string[] | 'all-linear', layers?: number[]): string[] {
  const linear = linearModules(model.specs).filter((p) => p !== model.family.headName);
  return selectLoraTargets(linear, model.config.layers, targets, layers);
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

export function applyAdapt(model: CausalLM, adapt: AdaptConfig, opts: AdaptOptions): AdaptResult {
  const unfreeze = new Set<string>();
  for (const g of adapt.unfreeze ?? []) {
    const re = globToRegExp(g);
    const hits = model.specs.filter((s) => selects(re, s.name));
    if (hits.length === 0) throw new Error(`unfreeze pattern "${g}" matches no parameter (see \`adapt-lab inspect\` for the paths)`);
    hits.forEach((s) => unfreeze.add(s.name));
  }
  if (adapt.biases) model.specs.filter(isBiasOrNorm).forEach((s) => unfreeze.add(s.name));

  const params: TrainParam[] = [];
  let trainable = 0;
  let first = model.config.layers;
  const note = (path: string) => {
    const l = layerOf(path);
    if (path === model.family.embeddingName || /wpe/.test(path)) first = 0;
    else if (l !== undefined) first = Math.min(first, l);
  };
  for (const s of model.specs) {
    if (!unfreeze.has(s.name)) continue;
    // A quantized base tensor trains as a float32 copy of its dequantized values (dense()).
    const base = model.dense(s.name);
    const v = tf.variable(base, true);
    const anchor = opts.l2sp ? tf.keep(base.clone()) : undefined;
    model.setParam(s.name, v);
    base.dispose();
    params.push({ name: `param:${s.name}`, variable: v, decay: s.layout !== 'vector', lrScale: lrScaleFor(model, s.name, opts.layerLrDecay), anchor });
    trainable += v.size;
    note(s.name);
  }
  let loraSummary = '';
  if (adapt.lora) {
    const l = adapt.lora;
    const targets = loraTargets(model, l.targetModules, l.layers);
    const dims = targets.map((p) => ({ p, s: model.specs.find((s) => s.name === `${p}.weight`)! }));
    const tightest = dims.reduce((a, b) => (Math.min(...b.s.shape) < Math.min(...a.s.shape) ? b : a), dims[0]);
    if (tightest && l.rank > Math.min(...tightest.s.shape)) {
      throw new Error(`adapt.lora.rank is ${l.rank}, more than the target modules allow: "${tightest.p}" is [${tightest.s.shape.join(', ')}], `
        + `so the rank can be at most ${Math.min(...tightest.s.shape)}`);
    }
    for (const path of targets) {
      addLora(model, path, { rank: l.rank, alpha: l.alpha, dropout: l.dropout }, opts.rng);
      const ad = model.lora.get(path)!;
      const scale = lrScaleFor(model, path, opts.layerLrDecay);
      params.push({ name: `lora:${path}.A`, variable: ad.A, decay: true, lrScale: scale });
      params.push({ name: `lora:${path}.B`, variable: ad.B, decay: true, lrScale: scale });
      trainable += ad.A.size + ad.B.size;
      note(path);
    }
    const kinds = [...new Set(targets.map((p) => p.split('.').pop()))].join(',');
    loraSummary = `LoRA r${l.rank} ${kinds}${l.layers?.length ? ` (blocks ${l.layers.join(',')})` : ''}`;
  }
  if (params.length === 0) throw new Error('nothing to train: the adapt section selects no parameters');
  const parts: string[] = [];
  if (loraSummary) parts.push(loraSummary);
  if (adapt.unfreeze?.length) parts.push(`unfreeze ${adapt.unfreeze.join(',')}`);
  if (adapt.biases) parts.push('biases+norms');
  // The head's weights sit after the blocks; the tied embedding is at position 0.
  return { params, trainable, total: model.numParams, firstTrainableLayer: first, method: parts.join(' + ') };
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
