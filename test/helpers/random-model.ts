// Small random-weight models of any supported family, written by the project's own writers:
// a Hugging Face folder (config.json, model.safetensors, tokenizer.json from stories260K's
// 512-token SentencePiece vocabulary, which llama.cpp accepts for every architecture) and the
// same weights as an F32 GGUF through the merged-GGUF export. Weights are scaled so the
// next-token distribution is neither flat nor one-hot: greedy near-ties are rare, so greedy ids
// can be compared exactly, and log-probabilities stay in a range where both engines are precise.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readGguf } from '../../src/engine/core/formats/gguf';
import { writeSafetensors } from '../../src/engine/core/formats/safetensors';
import { hfTokenizerFromGguf } from '../../src/engine/export';
import { writeMergedGguf } from '../../src/engine/export/merged';
import { configFromHf, loadModel } from '../../src/engine/model/loader';
import { familyOf } from '../../src/engine/model/families';
import { ParamSpec } from '../../src/engine/core/params';
import { Rng } from '../../src/engine/random';
import { sharedPath } from './shared';

export const VOCAB_SOURCE = sharedPath('models/stories260K/stories260K.gguf');
export const RANDOM_VOCAB = 512;

/** A standard normal draw (Box–Muller) from a seeded generator. */
function normal(rng: Rng): number {
  const u = 1 - rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
}

/**
 * Values for one parameter: linear weights N(0, 1/in) keep activations near unit scale; the
 * embedding (and an untied head) N(0, 3²/d) gives logits of std ~3 after the final norm; norm
 * weights 1 + N(0, 0.1²) — or N(0, 0.1²) where the family stores the offset (`norm offset`,
 * Gemma's (1 + w)); biases N(0, 0.1²).
 */
function randomValues(spec: ParamSpec, rng: Rng, normOffset: boolean, hidden: number): Float32Array {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  let mean = 0, std: number;
  if (spec.layout === 'embedding') std = spec.name.includes('wpe') ? 0.3 : 3 / Math.sqrt(hidden);
  else if (spec.layout === 'vector') {
    std = 0.1;
    if (/norm|ln_/.test(spec.name) && spec.name.endsWith('.weight') && !normOffset) mean = 1;
  } else {
    const inputs = spec.layout === 'conv1d' ? spec.shape[0] : spec.shape[1];
    std = (/lm_head/.test(spec.name) ? 3 : 1) / Math.sqrt(inputs);
  }
  for (let i = 0; i < n; i++) out[i] = mean + std * normal(rng);
  return out;
}

export interface RandomModel {
  /** The Hugging Face folder. */
  hfDir: string;
  /** The same weights as an F32 GGUF, written by the merged-GGUF export ('' when not asked for). */
  gguf: string;
}

/**
 * A chat model's template and turn tokens: `control` are appended to the vocabulary as control
 * tokens (ids 512, 513, ...), `eos` (one of them) becomes the end-of-sequence token.
 */
export interface RandomChat {
  template: string;
  control: string[];
  eos?: string;
}

/** ChatML (Qwen, SmolLM): `<|im_start|>role\ncontent<|im_end|>\n`. */
export const CHATML: RandomChat = {
  template: "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}"
    + "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
  control: ['<|im_start|>', '<|im_end|>'],
  eos: '<|im_end|>',
};

/** stories260K's vocabulary, with a chat model's turn tokens and template when given. */
function vocabMetadata(chat?: RandomChat): Map<string, unknown> {
  const meta = new Map(readGguf(VOCAB_SOURCE).metadata as Map<string, unknown>);
  if (!chat) return meta;
  const tokens = [...(meta.get('tokenizer.ggml.tokens') as string[]).slice(0, RANDOM_VOCAB), ...chat.control];
  meta.set('tokenizer.ggml.tokens', tokens);
  meta.set('tokenizer.ggml.scores', [...(meta.get('tokenizer.ggml.scores') as number[]).slice(0, RANDOM_VOCAB), ...chat.control.map(() => 0)]);
  meta.set('tokenizer.ggml.token_type', [...(meta.get('tokenizer.ggml.token_type') as number[]).slice(0, RANDOM_VOCAB), ...chat.control.map(() => 3 /* control */)]);
  if (chat.eos) meta.set('tokenizer.ggml.eos_token_id', tokens.indexOf(chat.eos));
  meta.set('tokenizer.chat_template', chat.template);
  return meta;
}

/**
 * Writes `<dir>/hf/` (config.json = `config` with vocab_size 512 and the tokenizer's ids) and
 * `<dir>/model.gguf`. `normOffset`: the family's norm weights are stored as offsets from 1.
 * `chat`: a chat model (its turn tokens appended to the vocabulary, its template in
 * tokenizer_config.json and the GGUF).
 */
export async function writeRandomModel(dir: string, config: Record<string, unknown>, opts: { seed?: number; normOffset?: boolean; gguf?: boolean; chat?: RandomChat } = {}): Promise<RandomModel> {
  const hfDir = join(dir, 'hf');
  mkdirSync(hfDir, { recursive: true });
  const vocabMeta = vocabMetadata(opts.chat);
  const vocabSize = RANDOM_VOCAB + (opts.chat?.control.length ?? 0);
  const eos = opts.chat?.eos ? RANDOM_VOCAB + opts.chat.control.indexOf(opts.chat.eos) : 2;
  const full: Record<string, unknown> = { vocab_size: vocabSize, bos_token_id: 1, eos_token_id: eos, ...config };
  writeFileSync(join(hfDir, 'config.json'), JSON.stringify(full, null, 2));
  const tok = hfTokenizerFromGguf(vocabMeta, { modelMaxLength: Number(full.max_position_embeddings ?? 512) });
  writeFileSync(join(hfDir, 'tokenizer.json'), JSON.stringify(tok.tokenizer));
  writeFileSync(join(hfDir, 'tokenizer_config.json'), JSON.stringify(tok.tokenizerConfig));

  const mc = configFromHf(join(hfDir, 'config.json'));
  const rng = new Rng(opts.seed ?? 1);
  const tensors = familyOf(mc).paramSpecs(mc).map((s) => ({
    name: s.name, shape: s.shape, dtype: 'F32' as const, data: randomValues(s, rng, !!opts.normOffset, mc.hidden),
  }));
  writeSafetensors(join(hfDir, 'model.safetensors'), tensors);

  if (opts.gguf === false) return { hfDir, gguf: '' };
  const lm = await loadModel(hfDir);
  try {
    writeMergedGguf({ model: lm.model, base: { format: 'hf', path: hfDir }, tokenizer: lm.tokenizer, chatTemplate: lm.chatTemplate }, dir, 'f32');
  } finally {
    lm.model.dispose();
  }
  return { hfDir, gguf: join(dir, 'model.gguf') };
}

/** A Llama-shaped config small enough for plain-loop references and quick llama.cpp runs. */
export function tinyLlamaConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'], model_type: 'llama',
    hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2,
    max_position_embeddings: 256, rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: false,
    ...extra,
  };
}

/** The tokens of a fixed prompt in the random models' vocabulary (BOS first). */
export const RANDOM_PROMPT = [1, 403, 407, 261, 378, 66, 291, 301, 13];

