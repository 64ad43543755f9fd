// Engine helpers for scripts/pretrain-base.mjs, bundled by it with esbuild (they import the
// TypeScript engine): the initial Hugging Face folder of a fresh model, and the tokenizer check.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { selectBackend } from '../../src/engine/backend';
import { LlamaConfig } from '../../src/engine/core/model-config';
import { initModel } from '../../src/engine/model/init';
import { internalShape } from '../../src/engine/core/params';
import { transpose2d, loadModel } from '../../src/engine/model/loader';
import { writeSafetensors } from '../../src/engine/core/formats/safetensors';
import { tokenizerFromHfJson } from '../../src/engine/tokenizers';

export async function useBackend(name = 'auto'): Promise<string> {
  return (await selectBackend({ backend: name })).name;
}

/** The internal config of a Hugging Face Llama config.json (the fields pretrain-base writes). */
function internalConfig(hf: Record<string, number | boolean | string>): LlamaConfig {
  return {
    family: 'llama',
    vocabSize: hf.vocab_size as number,
    hidden: hf.hidden_size as number,
    intermediate: hf.intermediate_size as number,
    layers: hf.num_hidden_layers as number,
    heads: hf.num_attention_heads as number,
    kvHeads: hf.num_key_value_heads as number,
    headDim: hf.head_dim as number,
    maxPositions: hf.max_position_embeddings as number,
    normEps: hf.rms_norm_eps as number,
    ropeTheta: hf.rope_theta as number,
    attentionBias: false,
    tiedHead: hf.tie_word_embeddings as boolean,
  };
}

/**
 * Writes `dir/model.safetensors` (F32) with initModel's random weights in Hugging Face layout
 * (nn.Linear weights [out, in]; the model keeps them [in, out] in memory), beside the
 * config.json and tokenizer files the caller writes. Returns the parameter count.
 */
export function writeInitialWeights(dir: string, hfConfig: Record<string, number | boolean | string>, seed: number): number {
  const model = initModel(internalConfig(hfConfig), seed);
  try {
    const tensors = model.specs.map((s) => {
      const data = Float32Array.from(model.param(s.name).dataSync() as Float32Array);
      const [rows, cols] = internalShape(s);
      return { name: s.name, shape: s.shape.slice(), data: s.layout === 'linear' ? transpose2d(data, rows, cols) : data };
    });
    mkdirSync(dir, { recursive: true });
    writeSafetensors(join(dir, 'model.safetensors'), tensors);
    return model.numParams;
  } finally {
    model.dispose();
  }
}

export interface TokenizerCheck {
  tokens: number;
  chars: number;
  /** Texts whose decode(encode(text)) differs from the text. */
  failures: { text: string; decoded: string }[];
  bos?: number;
  eos?: number;
  addBos: boolean;
}

/** Reads tokenizer.json back with the engine and checks that every text round-trips. */
export function checkTokenizer(json: unknown, config: { bos_token_id?: number; eos_token_id?: number }, texts: string[]): TokenizerCheck {
  const tok = tokenizerFromHfJson(json, config);
  const failures: { text: string; decoded: string }[] = [];
  let tokens = 0;
  let chars = 0;
  for (const text of texts) {
    const ids = tok.encode(text, { addBos: false, addEos: false });
    tokens += ids.length;
    chars += text.length;
    const decoded = tok.decode(ids);
    if (decoded !== text && failures.length < 5) failures.push({ text: text.slice(0, 200), decoded: decoded.slice(0, 200) });
  }
  return { tokens, chars, failures, bos: tok.bos, eos: tok.eos, addBos: tok.addBos };
}

/** Loads a model folder with the engine's loader: parameters, tensor dtypes. */
export async function inspectFolder(dir: string): Promise<{ params: number; dtypes: string[] }> {
  const lm = await loadModel(dir);
  try {
    return { params: lm.model.numParams, dtypes: [...new Set(lm.dtypes.values())] };
  } finally {
    lm.model.dispose();
  }
}
