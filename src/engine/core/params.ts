// A model's parameters as the files and Hugging Face name them: name, HF shape and how the
// engine stores each (ParamLayout, in the protocol: `inspect --json` prints it). TensorFlow-free,
// so the module tree, adapt plans and the extension share it.
import type { ParamLayout } from '../../protocol/inspect';

export interface ParamSpec {
  /** Hugging Face name, e.g. `model.layers.0.self_attn.q_proj.weight`. */
  name: string;
  /** Shape as Hugging Face stores it. */
  shape: number[];
  layout: ParamLayout;
}

export function internalShape(spec: ParamSpec): number[] {
  return spec.layout === 'linear' ? [spec.shape[1], spec.shape[0]] : spec.shape;
}
