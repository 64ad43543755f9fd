// Synthetic model stores laid out as each tool lays them out (the Hugging Face hub cache,
// Ollama, LM Studio, llama.cpp's cache), with small GGUF and safetensors files written by the
// project's own writers. Not a test file itself.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeGguf, GgufWriteTensor } from '../../../../src/engine/core/formats/gguf';
import { writeSafetensors } from '../../../../src/engine/core/formats/safetensors';
import { prng } from '../formats/fixtures';

export interface TinyGgufOptions {
  arch?: string;
  name?: string;
  /** ggml type of the block weights: F32 (default), F16, or a quantized type written as raw bytes. */
  weightType?: 'F32' | 'F16' | 'IQ2_XXS' | 'Q8_0';
  fileType?: number;
  template?: string;
  adapter?: boolean;
  /** Extra metadata (e.g. a hostile array). */
  extra?: Record<string, string | number | boolean | string[]>;
  hidden?: number;
  vocab?: number;
}

const TOKENS = ['<unk>', '<s>', '</s>', ...'abcdefghijklmnopqrstuvwxyz▁'.split('')];

/** A complete small llama-style GGUF (loadable by the engine when its types are), random weights. */
export function tinyGguf(path: string, o: TinyGgufOptions = {}): void {
  const arch = o.arch ?? 'llama';
  const d = o.hidden ?? 32;
  const ff = d < 256 ? 64 : 256;
  const vocab = o.vocab ?? TOKENS.length;
  const tokens = TOKENS.concat(Array.from({ length: Math.max(0, vocab - TOKENS.length) }, (_, i) => `<extra_${i}>`)).slice(0, vocab);
  const rnd = prng(d * 31 + vocab);
  const floats = (n: number) => Float32Array.from({ length: n }, () => (rnd() - 0.5) * 0.2);
  const ones = (n: number) => new Float32Array(n).fill(1);
  const wt = o.weightType ?? 'F32';
  const linear = (name: string, out: number, inp: number): GgufWriteTensor => {
    if (wt === 'F32' || wt === 'F16') return { name, shape: [out, inp], data: floats(out * inp), type: wt };
    // Raw blocks of the type: the header is what the catalogue reads; the values do not matter.
    const perBlock = wt === 'Q8_0' ? [32, 34] : [256, 66];
    return { name, shape: [out, inp], raw: new Uint8Array((out * inp / perBlock[0]) * perBlock[1]), type: wt };
  };
  const tensors: GgufWriteTensor[] = [
    { name: 'token_embd.weight', shape: [vocab, d], data: floats(vocab * d) },
    { name: 'blk.0.attn_norm.weight', shape: [d], data: ones(d) },
    linear('blk.0.attn_q.weight', d, d), linear('blk.0.attn_k.weight', d, d), linear('blk.0.attn_v.weight', d, d),
    linear('blk.0.attn_output.weight', d, d),
    { name: 'blk.0.ffn_norm.weight', shape: [d], data: ones(d) },
    linear('blk.0.ffn_gate.weight', ff, d), linear('blk.0.ffn_up.weight', ff, d), linear('blk.0.ffn_down.weight', d, ff),
    { name: 'output_norm.weight', shape: [d], data: ones(d) },
  ];
  const meta = new Map<string, string | number | boolean | string[] | number[]>([
    ['general.architecture', arch],
    ['general.name', o.name ?? 'tiny'],
    ...(o.adapter ? [['general.type', 'adapter'] as [string, string]] : []),
    ...(o.fileType !== undefined ? [['general.file_type', o.fileType] as [string, number]] : []),
    [`${arch}.context_length`, 64], [`${arch}.embedding_length`, d], [`${arch}.feed_forward_length`, ff],
    [`${arch}.block_count`, 1], [`${arch}.attention.head_count`, 4], [`${arch}.attention.head_count_kv`, 4],
    [`${arch}.attention.layer_norm_rms_epsilon`, 1e-5],
    ['tokenizer.ggml.model', 'llama'], ['tokenizer.ggml.tokens', tokens],
    ['tokenizer.ggml.scores', tokens.map((_, i) => -i - 0.5)], ['tokenizer.ggml.token_type', tokens.map((_, i) => (i < 3 ? 3 : 1))],
    ['tokenizer.ggml.bos_token_id', 1], ['tokenizer.ggml.eos_token_id', 2],
    ...(o.template ? [['tokenizer.chat_template', o.template] as [string, string]] : []),
    ...Object.entries(o.extra ?? {}),
  ]);
  mkdirSync(dirname(path), { recursive: true });
  writeGguf(path, meta as Map<string, never>, tensors);
}

/** A small Hugging Face model folder's files: config.json, model.safetensors, tokenizer.json. */
export function tinyHfFiles(dir: string, config: Record<string, unknown> = {}, weights = true): void {
  mkdirSync(dir, { recursive: true });
  const d = 16;
  const cfg = {
    model_type: 'llama', vocab_size: 32, hidden_size: d, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2,
    num_key_value_heads: 2, rms_norm_eps: 1e-5, max_position_embeddings: 64, tie_word_embeddings: true, ...config,
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
  if (weights) {
    const rnd = prng(7);
    const t = (name: string, shape: number[]) => ({ name, shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rnd() - 0.5), dtype: 'F16' as const });
    writeSafetensors(join(dir, 'model.safetensors'), [
      t('model.embed_tokens.weight', [32, d]), t('model.layers.0.self_attn.q_proj.weight', [d, d]), t('model.norm.weight', [d]),
    ]);
  }
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify({ version: '1.0', model: { type: 'BPE', vocab: {}, merges: [] } }));
}

/**
 * Moves the files of `src` into the hub cache as huggingface_hub does: blobs named by hash,
 * `snapshots/<rev>/<file>` links to `../../blobs/<hash>`, `refs/main` = rev.
 */
export function hfCacheRepo(cache: string, repoId: string, src: string, files: string[], rev = 'a'.repeat(40), refs = true): string {
  const repo = join(cache, `models--${repoId.replace(/\//g, '--')}`);
  const snap = join(repo, 'snapshots', rev);
  mkdirSync(join(repo, 'blobs'), { recursive: true });
  mkdirSync(snap, { recursive: true });
  for (const f of files) {
    const bytes = readFileSync(join(src, f));
    const hash = createHash('sha256').update(bytes).digest('hex');
    writeFileSync(join(repo, 'blobs', hash), bytes);
    symlinkSync(join('..', '..', 'blobs', hash), join(snap, f));
  }
  if (refs) {
    mkdirSync(join(repo, 'refs'), { recursive: true });
    writeFileSync(join(repo, 'refs', 'main'), rev);
  }
  return snap;
}

function blob(root: string, bytes: Buffer | string): { digest: string; size: number } {
  const b = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes, 'utf8');
  const hex = createHash('sha256').update(b).digest('hex');
  mkdirSync(join(root, 'blobs'), { recursive: true });
  writeFileSync(join(root, 'blobs', `sha256-${hex}`), b);
  return { digest: `sha256:${hex}`, size: b.length };
}

export interface OllamaModel {
  registry?: string;
  namespace?: string;
  name: string;
  tag: string;
  gguf: Buffer;
  template?: string;
  params?: Record<string, unknown>;
  /** Leave the model blob out (a dangling reference). */
  dropModelBlob?: boolean;
}

/** An Ollama store entry: blobs/sha256-<hex> and manifests/<registry>/<ns>/<name>/<tag>. */
export function ollamaModel(root: string, m: OllamaModel): { manifest: string; modelBlob: string } {
  const layers: { mediaType: string; digest: string; size: number }[] = [];
  const model = blob(root, m.gguf);
  layers.push({ mediaType: 'application/vnd.ollama.image.model', ...model });
  if (m.template) layers.push({ mediaType: 'application/vnd.ollama.image.template', ...blob(root, m.template) });
  layers.push({ mediaType: 'application/vnd.ollama.image.license', ...blob(root, 'MIT License') });
  if (m.params) layers.push({ mediaType: 'application/vnd.ollama.image.params', ...blob(root, JSON.stringify(m.params)) });
  const config = blob(root, JSON.stringify({ model_format: 'gguf', model_family: 'llama' }));
  const manifest = join(root, 'manifests', m.registry ?? 'registry.ollama.ai', m.namespace ?? 'library', m.name, m.tag);
  mkdirSync(dirname(manifest), { recursive: true });
  writeFileSync(manifest, JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', ...config }, layers,
  }));
  const modelBlob = join(root, 'blobs', `sha256-${model.digest.slice(7)}`);
  if (m.dropModelBlob) rmSync(modelBlob);
  return { manifest, modelBlob };
}
