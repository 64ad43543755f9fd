// Picks the next token from a row of logits: greedy at temperature 0, otherwise temperature,
// top-k and top-p (nucleus) sampling with a seeded generator.
import { Rng } from './random';

export interface SamplingOptions {
  temperature: number;
  topK?: number;
  topP?: number;
}

export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

/** Softmax probabilities of a logits row at a temperature (1 = plain softmax). */
export function softmax(logits: ArrayLike<number>, temperature = 1): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  const p = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += p[i] = Math.exp((logits[i] - max) / temperature);
  for (let i = 0; i < p.length; i++) p[i] /= sum;
  return p;
}

export function sample(logits: ArrayLike<number>, opts: SamplingOptions, rng: Rng): number {
  if (!(opts.temperature > 0)) return argmax(logits);
  const probs = softmax(logits, opts.temperature);
  let order = Array.from(probs.keys()).sort((a, b) => probs[b] - probs[a]);
  if (opts.topK && opts.topK > 0 && opts.topK < order.length) order = order.slice(0, opts.topK);
  if (opts.topP !== undefined && opts.topP > 0 && opts.topP < 1) {
    let cum = 0;
    let cut = order.length;
    for (let i = 0; i < order.length; i++) {
      cum += probs[order[i]];
      if (cum >= opts.topP) {
        cut = i + 1;
        break;
      }
    }
    order = order.slice(0, cut);
  }
  let total = 0;
  for (const i of order) total += probs[i];
  let r = rng.next() * total;
  for (const i of order) {
    r -= probs[i];
    if (r <= 0) return i;
  }
  return order[order.length - 1];
}
