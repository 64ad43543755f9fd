// Rotary position embeddings in Hugging Face's rotate-half layout, with the frequency scalings
// of transformers' modeling_rope_utils (default, linear, dynamic, llama3) and llama.cpp's
// per-frequency factors (a GGUF rope_freqs tensor). Tables are built per model and per rotary
// setting (Gemma 3's sliding layers rotate with another base than its global ones).
import { tf, Tensor } from '../tf';
import { LlamaConfig, RopeScaling } from '../core/model-config';
import { matmulConst, releaseTransposed } from './ops';

export interface RopeSpec {
  /** Rotary base (rope_theta). */
  theta: number;
  /** Dimensions rotated (the head dim). */
  dim: number;
  scaling?: RopeScaling;
  /** Positions the model supports: tables never grow past them. */
  maxPositions: number;
}

/** The rotary setting of a Llama-lineage config whose layers all rotate alike. */
export function ropeSpec(c: LlamaConfig): RopeSpec {
  return { theta: c.ropeTheta, dim: c.headDim, scaling: c.ropeScaling, maxPositions: c.maxPositions };
}

/**
 * inv_freq[i] for i < dim/2, for a sequence of `seqLen` positions (only `dynamic` depends on it:
 * transformers recomputes the base from max(position_ids) + 1 once that exceeds the original
 * context, and keeps the plain frequencies below it).
 */
export function inverseFrequencies(spec: RopeSpec, seqLen: number): number[] {
  const { dim, scaling } = spec;
  let base = spec.theta;
  if (scaling?.type === 'dynamic' && seqLen > scaling.originalMax) {
    base *= Math.pow((scaling.factor * seqLen) / scaling.originalMax - (scaling.factor - 1), dim / (dim - 2));
  }
  const inv = Array.from({ length: dim / 2 }, (_, i) => 1 / Math.pow(base, (2 * i) / dim));
  if (!scaling || scaling.type === 'dynamic') return inv;
  if (scaling.type === 'linear') return inv.map((f) => f / scaling.factor);
  if (scaling.type === 'factors') return inv.map((f, i) => f / scaling.factors[i]);
  // llama3: wavelengths longer than original/low are divided by factor, shorter than
  // original/high kept, the band between blended (_compute_llama3_parameters).
  const { factor, lowFreqFactor, highFreqFactor, originalMax } = scaling;
  const lowWavelen = originalMax / lowFreqFactor;
  const highWavelen = originalMax / highFreqFactor;
  return inv.map((f) => {
    const wavelen = (2 * Math.PI) / f;
    if (wavelen < highWavelen) return f;
    if (wavelen > lowWavelen) return f / factor;
    const smooth = (originalMax / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
    return (1 - smooth) * (f / factor) + smooth * f;
  });
}

interface Table {
  cos: Tensor;
  sin: Tensor;
  /** x·rot = rotate_half(x). */
  rot: Tensor;
  positions: number;
  /** The sequence length a dynamic table was built for (0 otherwise). */
  seqLen: number;
}

const tables = new WeakMap<object, Map<string, Table>>();

function keyOf(spec: RopeSpec): string {
  return JSON.stringify([spec.theta, spec.dim, spec.scaling ?? null]);
}

function freeTable(t: Table): void {
  releaseTransposed([t.rot]);
  [t.cos, t.sin, t.rot].forEach((x) => x.dispose());
}

/** Free every rotary table of a model. */
export function disposeRopes(owner: object): void {
  const m = tables.get(owner);
  if (m) for (const t of m.values()) freeTable(t);
  tables.delete(owner);
}

function build(spec: RopeSpec, positions: number, seqLen: number): Table {
  const hd = spec.dim;
  const half = hd / 2;
  const inv = inverseFrequencies(spec, seqLen);
  const cos = new Float32Array(positions * hd);
  const sin = new Float32Array(positions * hd);
  for (let p = 0; p < positions; p++) {
    for (let i = 0; i < half; i++) {
      const f = p * inv[i];
      cos[p * hd + i] = cos[p * hd + i + half] = Math.cos(f);
      sin[p * hd + i] = sin[p * hd + i + half] = Math.sin(f);
    }
  }
  const rot = new Float32Array(hd * hd);
  for (let j = 0; j < half; j++) {
    rot[(j + half) * hd + j] = -1;
    rot[j * hd + j + half] = 1;
  }
  return {
    cos: tf.keep(tf.tensor2d(cos, [positions, hd])),
    sin: tf.keep(tf.tensor2d(sin, [positions, hd])),
    rot: tf.keep(tf.tensor2d(rot, [hd, hd])),
    positions,
    seqLen,
  };
}

function tableFor(owner: object, spec: RopeSpec, needed: number): Table {
  let m = tables.get(owner);
  if (!m) tables.set(owner, (m = new Map()));
  const key = keyOf(spec);
  const have = m.get(key);
  const dyn = spec.scaling?.type === 'dynamic' && needed > spec.scaling.originalMax ? needed : 0;
  if (have && have.positions >= needed && have.seqLen === dyn) return have;
  if (have) freeTable(have);
  if (needed > spec.maxPositions) throw new Error(`position ${needed - 1} is past the model's ${spec.maxPositions} positions`);
  const positions = dyn ? needed : Math.min(spec.maxPositions, Math.max(needed, 256) * 2);
  const t = build(spec, positions, dyn);
  m.set(key, t);
  return t;
}

/** x [B,T,H,hd] rotated for positions past..past+T-1. */
export function applyRope(owner: object, spec: RopeSpec, x: Tensor, past: number): Tensor {
  const [B, T, H, hd] = x.shape as number[];
  const rope = tableFor(owner, spec, past + T);
  const cos = tf.slice(rope.cos, [past, 0], [T, hd]).reshape([1, T, 1, hd]);
  const sin = tf.slice(rope.sin, [past, 0], [T, hd]).reshape([1, T, 1, hd]);
  const rotated = matmulConst(x.reshape([B * T * H, hd]), rope.rot).reshape([B, T, H, hd]);
  return tf.add(tf.mul(x, cos), tf.mul(rotated, sin));
}
