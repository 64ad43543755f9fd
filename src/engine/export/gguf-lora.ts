// GGUF LoRA adapter, laid out as llama.cpp's convert_lora_to_gguf.py writes it, so that
// `llama-cli -m base.gguf --lora adapter.gguf` and Ollama's `ADAPTER` load it:
//   general.architecture   the base's (llama.cpp refuses an adapter for another architecture)
//   general.type           "adapter"
//   adapter.type           "lora"
//   adapter.lora.alpha     one alpha for the file; llama.cpp scales each tensor by alpha / rank,
//                          rank read from the tensor (lora_b's first dimension)
//   blk.N.<tensor>.weight.lora_a   [rank, in]  (PEFT's lora_A, ggml ne = [in, rank])
//   blk.N.<tensor>.weight.lora_b   [out, rank] (PEFT's lora_B, ggml ne = [rank, out])
// For llama.cpp's llama architecture the converter permutes q/k rows to Meta's interleaved
// rotary order; on a LoRA tensor that permutes lora_b's rows (lora_a is untouched), done here too.
// Adapters whose alpha differs from the file's have alpha_i / alpha folded into lora_b.
import { join } from 'node:path';
import { GgufType, type GgufTypedValue, type GgufWriteTensor, writeGguf } from '../core/formats/gguf';
import { permuteRope, transpose2d } from '../model/loader';
import type { ExportSource } from './source';
import { archOf } from '../core/model-config';
import { ggufArchOf, ggufNameOf, ropeRowsPermuted } from './merged';

export const GGUF_LORA_FILE = 'adapter.gguf';

function mostCommon(xs: number[]): number {
  const n = new Map<number, number>();
  for (const x of xs) n.set(x, (n.get(x) ?? 0) + 1);
  return [...n].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0][0];
}

function toF16Ok(dtype: 'f32' | 'f16'): 'F32' | 'F16' {
  return dtype === 'f16' ? 'F16' : 'F32';
}

/** The adapter's tensors and metadata (without writing), for tests and the ollama folder. */
export function ggufLoraContents(src: ExportSource, dtype: 'f32' | 'f16' = 'f32'): { metadata: Map<string, GgufTypedValue>; tensors: GgufWriteTensor[]; alpha: number; arch: string } {
  const model = src.model;
  const c = model.config;
  if (model.lora.size === 0) throw new Error('this model has no LoRA adapters: a GGUF LoRA adapter holds only those (export merged-gguf to deploy trained base parameters)');
  const unfrozen = src.unfrozen ?? [];
  if (unfrozen.length) {
    throw new Error(`trained base parameters (${unfrozen.slice(0, 3).join(', ')}${unfrozen.length > 3 ? ', …' : ''}) cannot go into a GGUF LoRA adapter, which holds LoRA pairs only; export merged-gguf instead`);
  }
  const arch = ggufArchOf(src);
  const paths = [...model.lora.keys()];
  const alpha = mostCommon(paths.map((p) => model.lora.get(p)!.alpha));
  const tensors: GgufWriteTensor[] = [];
  for (const path of paths) {
    const ad = model.lora.get(path)!;
    const name = ggufNameOf(archOf(c), `${path}.weight`);
    if (name === 'output.weight' || name === 'token_embd.weight') {
      throw new Error(`LoRA on "${path}" (${name}) is not exported to GGUF: llama.cpp's converter refuses adapters on the embeddings and the output head; export merged-gguf instead`);
    }
    const [inF, r] = ad.A.shape as number[];
    const outF = (ad.B.shape as number[])[1];
    // Internal A is [in, r] and B [r, out] (x·A·B); GGUF wants PEFT's [r, in] and [out, r].
    const a = transpose2d(ad.A.dataSync() as Float32Array, inF, r);
    let b = transpose2d(ad.B.dataSync() as Float32Array, r, outF);
    if (ad.alpha !== alpha) b = b.map((v) => (v * ad.alpha) / alpha);
    const m = /self_attn\.(q|k)_proj$/.exec(path);
    if (m && ropeRowsPermuted(c, arch)) b = permuteRope(b, outF, r, m[1] === 'q' ? c.heads : c.kvHeads, true);
    tensors.push({ name: `${name}.lora_a`, shape: [r, inF], data: a, type: toF16Ok(dtype) });
    tensors.push({ name: `${name}.lora_b`, shape: [outF, r], data: b, type: toF16Ok(dtype) });
  }
  const str = (value: string): GgufTypedValue => ({ type: GgufType.STRING, value });
  const metadata = new Map<string, GgufTypedValue>([
    ['general.architecture', str(arch)],
    ['general.type', str('adapter')],
    ['general.name', str(src.name ?? 'adapter')],
    ['adapter.type', str('lora')],
    ['adapter.lora.alpha', { type: GgufType.FLOAT32, value: alpha }],
  ]);
  if (src.chatTemplate) metadata.set('tokenizer.chat_template', str(src.chatTemplate));
  return { metadata, tensors, alpha, arch };
}

/** Writes `<dir>/adapter.gguf`. */
export function writeGgufLora(src: ExportSource, dir: string, dtype: 'f32' | 'f16'): { names: string[]; notes: string[] } {
  const { metadata, tensors, alpha, arch } = ggufLoraContents(src, dtype);
  writeGguf(join(dir, GGUF_LORA_FILE), metadata, tensors);
  const ranks = [...new Set([...src.model.lora.values()].map((a) => a.rank))];
  return {
    names: [GGUF_LORA_FILE],
    notes: [`${tensors.length / 2} LoRA pairs for llama.cpp's ${arch} architecture, alpha ${alpha}, rank ${ranks.join('/')}: llama-cli -m BASE.gguf --lora ${GGUF_LORA_FILE}`],
  };
}
