// Builders of hostile model files for the loader tests and the memory-bounded fuzz: stories260K
// with edited GGUF metadata, and a tiny random Llama as a Hugging Face folder whose config.json,
// tokenizer.json and tokenizer_config.json can be edited. (Not a test file itself.)
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GgufTypedValue, GgufWriteTensor, readGguf, writeGguf } from '../../../src/engine/core/formats/gguf';
import { writeSafetensors } from '../../../src/engine/core/formats/safetensors';
import { hfTokenizerFromGguf } from '../../../src/engine/export/hf-tokenizer';
import { paramSpecs } from '../../../src/engine/model/llama';
import { LlamaConfig } from '../../../src/engine/core/model-config';
import { sharedPath } from '../../helpers/shared';
import { prng } from '../core/formats/fixtures';

export const STORIES = sharedPath('models/stories260K/stories260K.gguf');

/** stories260K rewritten with `edit` applied to its typed metadata (tensors copied as they are). */
export function storiesWith(path: string, edit: (meta: Map<string, GgufTypedValue>) => void,
  keepTensor: (name: string) => boolean = () => true): string {
  const f = readGguf(STORIES);
  const meta = new Map(f.typedMetadata);
  edit(meta);
  const tensors: GgufWriteTensor[] = f.tensors.filter((t) => keepTensor(t.name))
    .map((t) => ({ name: t.name, shape: t.shape, raw: f.tensorBytes(t.name), type: t.type }));
  writeGguf(path, meta, tensors);
  return path;
}

/** The tiny Llama's shape: the stories260K vocabulary (512 tokens) on 2 small blocks. */
export const TINY_LLAMA: LlamaConfig = {
  family: 'llama', vocabSize: 512, hidden: 16, intermediate: 32, layers: 2, heads: 2, kvHeads: 1, headDim: 8,
  maxPositions: 64, normEps: 1e-5, ropeTheta: 10000, attentionBias: false, tiedHead: true,
};

export function tinyLlamaConfigJson(): Record<string, unknown> {
  const c = TINY_LLAMA;
  return {
    model_type: 'llama', architectures: ['LlamaForCausalLM'], hidden_size: c.hidden, intermediate_size: c.intermediate,
    num_hidden_layers: c.layers, num_attention_heads: c.heads, num_key_value_heads: c.kvHeads, rms_norm_eps: c.normEps,
    rope_theta: c.ropeTheta, max_position_embeddings: c.maxPositions, vocab_size: c.vocabSize, tie_word_embeddings: true,
    bos_token_id: 1, eos_token_id: 2,
  };
}

export interface HfFolderEdits {
  config?: (c: Record<string, unknown>) => void;
  tokenizer?: (t: Record<string, unknown>) => void;
  /** Raw text of tokenizer.json / tokenizer_config.json instead of the generated ones. */
  tokenizerText?: string;
  tokenizerConfigText?: string;
}

/**
 * A tiny random Llama as a Hugging Face folder (config.json, model.safetensors, tokenizer.json,
 * tokenizer_config.json) with the stories260K vocabulary.
 */
export function tinyLlamaFolder(dir: string, edits: HfFolderEdits = {}): string {
  mkdirSync(dir, { recursive: true });
  const rand = prng(7);
  writeSafetensors(join(dir, 'model.safetensors'), paramSpecs(TINY_LLAMA).map((s) => {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = s.layout === 'vector' ? 1 : (rand() - 0.5) * 0.2;
    return { name: s.name, shape: s.shape, data };
  }));
  const config = tinyLlamaConfigJson();
  edits.config?.(config);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  const tok = hfTokenizerFromGguf(readGguf(STORIES).metadata as Map<string, unknown>, { modelMaxLength: TINY_LLAMA.maxPositions });
  const tokenizer = tok.tokenizer as Record<string, unknown>;
  edits.tokenizer?.(tokenizer);
  writeFileSync(join(dir, 'tokenizer.json'), edits.tokenizerText ?? JSON.stringify(tokenizer));
  writeFileSync(join(dir, 'tokenizer_config.json'), edits.tokenizerConfigText ?? JSON.stringify(tok.tokenizerConfig));
  return dir;
}
