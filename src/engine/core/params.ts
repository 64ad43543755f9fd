// A model's parameters as the files and Hugging Face name them: name, HF shape and how the
// engine stores each. TensorFlow-free, so the module tree, adapt plans and the extension share it.
/**
 * How a parameter is stored. `linear` (nn.Linear, HF shape [out,in]) is kept transposed as
 * [in,out] in memory so every product is a plain x·W; `conv1d` (GPT-2) already is [in,out].
 */
export type ParamLayout = 'linear' | 'conv1d' | 'embedding' | 'vector';

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
