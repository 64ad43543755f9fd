// Suggest Layers: rank linear modules by the gradient norm of the loss on a few batches of
// the user's data — where the task pulls hardest on the pretrained weights.
import { tf } from '../tf';
import { LoadedModel } from '../model/loader';
import { linearModules } from '../core/modules';
import { crossEntropy } from '../model/ops';
import { Rng } from '../random';
import { loadDataset, makeBatches, packBatch } from '../data/dataset';
import { chatFormatFor } from '../chat/encode';

import { ModuleScore } from '../../protocol/suggest';

export function suggestModules(lm: LoadedModel, dataPath: string, o: { batches: number; batchSize: number; maxLength: number; seed: number }): ModuleScore[] {
  const { model, tokenizer } = lm;
  if (!tokenizer) throw new Error(`${lm.path}: the model has no tokenizer`);
  const data = loadDataset(dataPath, tokenizer, { maxLength: o.maxLength, chat: chatFormatFor(lm.chatTemplate, tokenizer) });
  const paths = linearModules(model.specs);
  const vars = new Map<string, tf.Variable>();
  for (const p of paths) {
    const name = `${p}.weight`;
    const base = model.dense(name);
    const v = tf.variable(base, true);
    model.setParam(name, v);
    base.dispose();
    vars.set(p, v);
  }
  const sums = new Map<string, number>(paths.map((p) => [p, 0]));
  const batches = makeBatches(data.examples, o.batchSize, new Rng(o.seed), { shuffle: true }).slice(0, o.batches);
  for (const b of batches) {
    const pb = packBatch(b, tokenizer.pad ?? tokenizer.eos ?? 0);
    const count = pb.weights.reduce((a, w) => a + w, 0) || 1;
    tf.tidy(() => {
      const ids = tf.tensor2d(pb.ids, [pb.batch, pb.length], 'int32');
      const labels = tf.tensor1d(pb.labels, 'int32');
      const w = tf.div(tf.tensor1d(pb.weights, 'float32'), count);
      const { grads } = tf.variableGrads(() => crossEntropy(model.forward(ids).reshape([-1, model.config.vocabSize]), labels, w) as tf.Scalar, [...vars.values()]);
      for (const [p, v] of vars) sums.set(p, sums.get(p)! + Math.sqrt(tf.sum(tf.square(grads[v.name])).dataSync()[0]));
    });
  }
  const n = Math.max(1, batches.length);
  return paths
    .map((p) => ({ path: p, score: sums.get(p)! / n, params: vars.get(p)!.size }))
    .sort((a, b) => b.score - a.score);
}
