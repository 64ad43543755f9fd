// llama.cpp reads GGUF only: a Hugging Face base is written as one (F32, as merged-gguf writes
// it, no adapters) for the evaluation in llama.cpp and the inline prompts answered there.
import { exportModel, sourceFromLoaded } from '../export';
import { loadModel } from '../model/loader';

/** A Hugging Face base written as a GGUF (F32) for llama.cpp, as merged-gguf writes it (no adapters). */
export async function ggufOfHfModel(modelPath: string, out: string): Promise<string> {
  const lm = await loadModel(modelPath);
  try {
    const res = exportModel(sourceFromLoaded(lm), { format: 'merged-gguf', out });
    return res.files.find((f) => f.path.endsWith('.gguf'))!.path;
  } finally {
    lm.model.dispose();
  }
}
