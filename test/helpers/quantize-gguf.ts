// Quantized copies of a float GGUF, written with the project's quantizer (ggml's reference
// encoders) and GGUF writer — the way llama.cpp's quantize tool makes them without an importance
// matrix: every 2D weight whose rows are whole blocks in the chosen type, 1D tensors (norms,
// biases) kept F32. The tests then run the same file through llama.cpp and our engine.
import { readGguf, writeGguf, type GgufWriteTensor } from '../../src/engine/core/formats/gguf';
import { codecOf, quantizeMatrix } from '../../src/engine/core/formats/quant';

export interface QuantizeOptions {
  /** Type for token_embd.weight (and output.weight); default: `type`. */
  embedding?: string;
}

/** Writes `dst`: `src` with its 2D weights quantized to `type`. Returns the names quantized. */
export function quantizeGguf(src: string, dst: string, type: string, opts: QuantizeOptions = {}): string[] {
  const f = readGguf(src);
  const done: string[] = [];
  const tensors: GgufWriteTensor[] = f.tensors.map((t) => {
    const data = f.loadTensor(t.name);
    const isEmbedding = t.name === 'token_embd.weight' || t.name === 'output.weight';
    const target = isEmbedding ? opts.embedding ?? type : type;
    if (t.shape.length !== 2 || t.ne[0] % codecOf(target).blockSize !== 0) return { name: t.name, shape: t.shape, data };
    done.push(t.name);
    return { name: t.name, shape: t.shape, type: target, raw: quantizeMatrix(target, data, t.shape[0], t.shape[1]).bytes };
  });
  writeGguf(dst, f.typedMetadata, tensors);
  return done;
}

/** Writes `dst`: `src` with every tensor decoded to F32 (the exact values a quantized file stands for). */
export function dequantizeGguf(src: string, dst: string): void {
  const f = readGguf(src);
  writeGguf(dst, f.typedMetadata, f.tensors.map((t) => ({ name: t.name, shape: t.shape, data: f.loadTensor(t.name) })));
}
