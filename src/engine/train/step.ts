// One optimisation step's forward and backward passes (validation loss: eval/loss.ts). The frozen
// prefix of the network (blocks before the first trainable one) runs outside the gradient
// tape, so its activations are not kept for a backward pass that would not use them.
import { tf, Tensor } from '../tf';
import { CausalLM, ForwardContext } from '../model/model';
import { crossEntropy } from '../model/ops';
import { PackedBatch } from '../data/dataset';
import { TrainParam } from '../adapt/methods';
import { recomputedBlocks } from './recompute';

export interface StepOptions {
  firstTrainableLayer: number;
  dropout: number;
  embeddingNoise: number;
  seed: number;
  /** Trained blocks (from the first) whose activations are recomputed in the backward pass (recompute.ts): less memory, one more forward pass of each. */
  recompute?: number;
}

function embedded(model: CausalLM, ids: Tensor, ctx: ForwardContext, noise: number): Tensor {
  const e = model.embed(ids, ctx);
  if (!ctx.train || noise <= 0) return e;
  // NEFTune: uniform noise scaled by alpha / sqrt(sequence length × hidden size).
  const [, T, d] = e.shape as number[];
  const scale = noise / Math.sqrt(T * d);
  const n = tf.randomUniform(e.shape, -scale, scale, 'float32', ctx.train.seed + 7919);
  return tf.add(e, n);
}

/** Sum of weighted cross-entropy over one micro-batch, with gradients for every trainable parameter. */
export function microStep(model: CausalLM, params: TrainParam[], batch: PackedBatch, labelTotal: number, o: StepOptions): { loss: number; grads: Map<string, Tensor> } {
  const vars = params.map((p) => p.variable);
  const ids = tf.tensor2d(batch.ids, [batch.batch, batch.length], 'int32');
  const labels = tf.tensor1d(batch.labels, 'int32');
  const weights = tf.tidy(() => tf.div(tf.tensor1d(batch.weights, 'float32'), labelTotal));
  const ctx = model.newContext({ train: { dropout: o.dropout, seed: o.seed } });
  const first = o.firstTrainableLayer;
  const L = model.config.layers;
  const prefix = first > 0 ? tf.tidy(() => model.blocks(embedded(model, ids, ctx, o.embeddingNoise), 0, first, ctx)) : undefined;
  try {
    const { value, grads } = tf.variableGrads(() => {
      const h0 = prefix ?? embedded(model, ids, ctx, o.embeddingNoise);
      const upTo = Math.min(L, first + (o.recompute ?? 0));
      const h = model.blocks(upTo > first ? recomputedBlocks(model, h0, first, upTo, ctx, params) : h0, upTo, L, ctx);
      const logits = model.head(h, ctx);
      return crossEntropy(logits.reshape([-1, model.config.vocabSize]), labels, weights) as tf.Scalar;
    }, vars);
    const loss = value.dataSync()[0];
    value.dispose();
    const out = new Map<string, Tensor>();
    params.forEach((p) => out.set(p.name, grads[p.variable.name]));
    return { loss, grads: out };
  } finally {
    tf.dispose([ids, labels, weights]);
    prefix?.dispose();
  }
}

/**
 * One optimisation step's gradients over its micro-batches (gradient accumulation): the sum of
 * each micro-batch's loss and gradients, every loss normalised by the whole step's label count.
 */
export function accumulateGrads(model: CausalLM, params: TrainParam[], micro: PackedBatch[], labelTotal: number, o: Omit<StepOptions, 'seed'> & { seedOf: (i: number) => number }): { loss: number; grads: Map<string, Tensor> } {
  const grads = new Map<string, Tensor>();
  let loss = 0;
  micro.forEach((b, i) => {
    const r = microStep(model, params, b, labelTotal, { ...o, seed: o.seedOf(i) });
    loss += r.loss;
    for (const [k, g] of r.grads) {
      const prev = grads.get(k);
      if (prev) {
        grads.set(k, tf.add(prev, g));
        prev.dispose();
        g.dispose();
      } else grads.set(k, g);
    }
  });
  return { loss, grads };
}
