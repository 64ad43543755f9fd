// What an export writes from: the model in memory and where its base came from. Its own file
// so the writers (peft.ts, merged.ts) and index.ts, which calls them, import it without a cycle.
import { CausalLM } from '../model/model';
import type { Tokenizer } from '../tokenizers';

/** What is exported: a model with its trained state in memory, and where its base came from. */
export interface ExportSource {
  /** The model: base weights (trained ones replaced) with LoRA adapters in `model.lora`. */
  model: CausalLM;
  /** The base model as loaded (a .gguf file or an HF folder / .safetensors file). */
  base: { format: 'gguf' | 'hf'; path: string };
  tokenizer?: Tokenizer;
  /** The chat template to write into the export: the one the run trained with, else the base's. */
  chatTemplate?: string;
  /** For Ollama's FROM: the base as Ollama names it (`llama3.2:1b`), when it came from Ollama's store. */
  ollamaName?: string;
  /** Base parameters that were trained as full tensors. Default: every parameter that is a tf.Variable. */
  unfrozen?: string[];
  /** The block indices the LoRA targets were restricted to (PEFT's layers_to_transform). */
  loraLayers?: number[];
  /** For PEFT's base_model_name_or_path; default the base's file or folder name (never a local absolute path). */
  baseModelName?: string;
  /** Shown in READMEs, e.g. the run name. */
  name?: string;
}
