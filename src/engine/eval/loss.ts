// Validation loss: mean cross-entropy and next-token accuracy over the label positions of
// packed batches, forward only. The trainer's periodic evaluation and `adapt-lab eval`'s loss
// on a data file both use it.
import { tf } from '../tf';
import { CausalLM } from '../model/model';
import { crossEntropy } from '../model/ops';
import { PackedBatch } from '../data/dataset';

export interface EvalMetrics {
  valLoss: number;
  perplexity: number;
  tokenAccuracy: number;
  labelTokens: number;
}

/** Mean cross-entropy and next-token accuracy over label positions, no gradients. */
export function evaluateLoss(model: CausalLM, batches: PackedBatch[]): EvalMetrics {
  let sum = 0;
  let correct = 0;
  let count = 0;
  for (const b of batches) {
    const [s, c, n] = tf.tidy(() => {
      const ids = tf.tensor2d(b.ids, [b.batch, b.length], 'int32');
      const logits = model.forward(ids).reshape([-1, model.config.vocabSize]);
      const labels = tf.tensor1d(b.labels, 'int32');
      const w = tf.tensor1d(b.weights, 'float32');
      const ce = crossEntropy(logits, labels, w);
      const hits = tf.sum(tf.mul(tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'float32'), w));
      return [ce.dataSync()[0], hits.dataSync()[0], tf.sum(w).dataSync()[0]];
    });
    sum += s;
    correct += c;
    count += n;
  }
  const valLoss = count > 0 ? sum / count : NaN;
  return { valLoss, perplexity: Math.exp(valLoss), tokenAccuracy: count > 0 ? correct / count : NaN, labelTokens: count };
}
