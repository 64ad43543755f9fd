// One LoRA adapter, as PEFT's lora/layer.py keeps it: its rank, alpha and the derived scaling
// (alpha / r) stored once, and one delta function (PEFT's get_delta_weight) that merging for
// inference and every merged export use. The forward pass uses the same scaling on the thin
// path x·A·B (never forming the delta), as PEFT's forward does.
import { tf, Tensor } from '../tf';
import { linear } from './ops';

export interface LoraAdapter {
  /** [in, r] in memory; PEFT's lora_A is its transpose [r, in]. */
  A: tf.Variable;
  /** [r, out] in memory; PEFT's lora_B is its transpose [out, r]. */
  B: tf.Variable;
  rank: number;
  alpha: number;
  /** alpha / rank, the factor on every LoRA product. */
  scaling: number;
  dropout: number;
}

export function loraAdapter(A: tf.Variable, B: tf.Variable, spec: { rank: number; alpha: number; dropout: number }): LoraAdapter {
  return { A, B, rank: spec.rank, alpha: spec.alpha, scaling: spec.alpha / spec.rank, dropout: spec.dropout };
}

/** The weight change the adapter makes, (alpha/r)·A·B, [in, out] in memory (PEFT's get_delta_weight). */
export function loraDelta(ad: LoraAdapter): Tensor {
  return tf.tidy(() => tf.mul(tf.matMul(ad.A, ad.B), ad.scaling));
}

/** What the adapter adds to a linear module's output for input x (already dropped out while training). */
export function loraOutput(ad: LoraAdapter, x: Tensor): Tensor {
  return tf.mul(linear(linear(x, ad.A), ad.B), ad.scaling);
}
