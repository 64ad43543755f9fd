// The one place that imports TensorFlow.js. Everything else imports `tf` from here, so the
// gradients and the chained tensor methods (`x.reshape(...)`) are registered exactly once,
// on the same engine the backends register into.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';

export { tf };
export type Tensor = tf.Tensor;

type GradResult = { value: tf.Tensor; gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor | tf.Tensor[] };
/** tf.customGrad with a signature TypeScript can check: f(...inputs, save). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const customGrad = tf.customGrad as unknown as (f: (...args: any[]) => GradResult) => (...inputs: tf.Tensor[]) => tf.Tensor;
