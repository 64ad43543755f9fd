// What the engine can load, in one place, free of TensorFlow.js: the loader refuses anything
// else, and the model catalogue (which must not load TensorFlow.js) gives its verdicts from
// the same lists. Add a family here when its loader branch lands.
export { SUPPORTED_MODEL_TYPES } from './formats/hfconfig';
export { LOADABLE as LOADABLE_GGML_TYPES } from './formats/gguf';

/** `general.architecture` values the GGUF loader builds a model for. */
export const GGUF_ARCHITECTURES: readonly string[] = ['llama', 'mistral', 'qwen2', 'qwen3', 'gemma2', 'gemma3', 'phi3', 'gpt2'];

/** safetensors dtypes a trainable base may be stored in (integer tensors are quantized or not weights). */
export const TRAINABLE_SAFETENSORS_DTYPES: readonly string[] = ['F32', 'F16', 'BF16'];
