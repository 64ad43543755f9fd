// A causal language model: its config, its parameters under Hugging Face names, optional
// LoRA adapters, and a forward pass split into embed → blocks → head so a trainer can run the
// frozen prefix outside the gradient tape.
import { tf, Tensor } from '../tf';
import { ModelConfig } from '../core/model-config';
import { internalShape, ParamSpec } from '../core/params';
import { clearOpCaches, embed, linear, matmul, matmulConst, matmulNT, isTrainable, releaseTransposed } from './ops';
import { productsOnBlas } from '../native';
import type { StoredMatrix } from '../core/formats/quant';
import { LoraAdapter, loraOutput } from './lora-adapter';
import { canStayExternal, dequantizeParam, externalEmbed, externalLinear, storedShape } from './external-weights';

export interface KVCache {
  layers: { k: Tensor; v: Tensor }[];
  /** Positions filled. */
  length: number;
  /**
   * Positions held: the keys and values of each layer are [B, capacity, KVH, hd] from the
   * first token on (unfilled rows masked), so decoding allocates the same sizes every step.
   * Without it each step concatenates (the tensors grow by one position).
   */
  capacity?: number;
}

export interface ForwardContext {
  /** Positions already in the cache (the new tokens start here). */
  past: number;
  cache?: KVCache;
  /** Set while training: dropout rates and a seed for this step. */
  train?: { dropout: number; seed: number };
  seedCounter: number;
}

export interface Family {
  paramSpecs(config: ModelConfig): ParamSpec[];
  embed(model: CausalLM, ids: Tensor, ctx: ForwardContext): Tensor;
  block(model: CausalLM, layer: number, h: Tensor, ctx: ForwardContext): Tensor;
  finalNorm(model: CausalLM, h: Tensor): Tensor;
  /** What the family does to the head's logits (Gemma 2: tanh soft-capping). */
  finalLogits?(model: CausalLM, logits: Tensor): Tensor;
  /** Module path of the token embedding table (the tied head reads it). */
  embeddingName: string;
  headName: string;
  /** Prefix of block i's module paths, e.g. `model.layers.3`. */
  blockPrefix(layer: number): string;
  /** Free per-model constants (rotary tables). */
  dispose(model: CausalLM): void;
}

export class CausalLM {
  readonly family: Family;
  readonly specs: ParamSpec[];
  readonly lora = new Map<string, LoraAdapter>();
  private headT?: Tensor;

  constructor(
    readonly config: ModelConfig,
    /** Parameters by HF name, in the in-memory layout (see ParamLayout). */
    readonly params: Map<string, Tensor>,
    /** From the registry (families.ts), which imports every family; this file imports none. */
    family: Family,
    /**
     * Frozen weights kept outside the tensor backend in their file's encoding (ggml blocks of a
     * quantized GGUF, or F32/F16/BF16 when products run on BLAS), by HF name, in the file's
     * [out, in] / [vocab, d] layout; read per product (external-weights.ts), never as a whole.
     */
    readonly external: Map<string, StoredMatrix> = new Map(),
  ) {
    this.family = family;
    this.specs = this.family.paramSpecs(config);
    for (const s of this.specs) {
      const q = external.get(s.name);
      if (q) {
        const want = storedShape(s);
        if (!canStayExternal(s, this.family.embeddingName)) throw new Error(`tensor "${s.name}" cannot stay outside the backend (${q.type})`);
        if (q.rows !== want[0] || q.cols !== want[1]) {
          throw new Error(`external tensor "${s.name}" is [${q.rows}, ${q.cols}], expected [${want}]`);
        }
        continue;
      }
      const t = params.get(s.name);
      if (!t) throw new Error(`model is missing tensor "${s.name}"`);
      const want = internalShape(s);
      if (t.shape.join() !== want.join()) {
        throw new Error(`tensor "${s.name}" has shape [${t.shape}] in memory, expected [${want}]`);
      }
    }
  }

  get numParams(): number {
    return this.specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
  }

  param(name: string): Tensor {
    const t = this.params.get(name);
    if (!t) {
      const q = this.external.get(name);
      if (q) throw new Error(`parameter "${name}" is stored outside the backend (${q.type}); use dense() for a float32 copy`);
      throw new Error(`no parameter "${name}"`);
    }
    return t;
  }

  /**
   * The parameter as a float32 tensor. An external one is decoded once and replaces its stored
   * copy (for unfreezing: trainable tensors always live in the backend); a dense one is param().
   */
  dense(name: string): Tensor {
    const q = this.external.get(name);
    if (!q) return this.param(name);
    const spec = this.specs.find((s) => s.name === name)!;
    const t = tf.tensor(dequantizeParam(q, spec), internalShape(spec), 'float32');
    this.external.delete(name);
    this.params.set(name, t);
    if (name === this.family.embeddingName) this.dropHeadCache();
    return t;
  }

  /** The parameter's float32 values in the in-memory layout (a copy; decoded if external). */
  values(name: string): Float32Array {
    const q = this.external.get(name);
    if (q) return dequantizeParam(q, this.specs.find((s) => s.name === name)!);
    return Float32Array.from(this.param(name).dataSync() as Float32Array);
  }

  /** Bytes the base weights take in memory: external ones at their stored size, the rest float32. */
  weightBytes(): number {
    return this.heapWeightBytes() + this.externalBytes();
  }

  /** Bytes of the base weights held as tensors (in the wasm heap on that backend). */
  heapWeightBytes(): number {
    let n = 0;
    for (const s of this.specs) if (!this.external.has(s.name)) n += 4 * s.shape.reduce((a, b) => a * b, 1);
    return n;
  }

  /** Bytes of the base weights kept outside the backend, in their file's encoding. */
  externalBytes(): number {
    let n = 0;
    for (const q of this.external.values()) n += q.bytes.length;
    return n;
  }

  /** Replace a parameter (e.g. by a trainable variable); the shape must not change. */
  setParam(name: string, t: Tensor): void {
    if (this.external.has(name)) {
      const spec = this.specs.find((s) => s.name === name)!;
      if (internalShape(spec).join() !== t.shape.join()) throw new Error(`shape mismatch replacing "${name}"`);
      this.external.delete(name);
    } else {
      const old = this.param(name);
      if (old.shape.join() !== t.shape.join()) throw new Error(`shape mismatch replacing "${name}"`);
      releaseTransposed([old]);
    }
    this.params.set(name, t);
    if (name === this.family.embeddingName) this.dropHeadCache();
  }

  private dropHeadCache(): void {
    if (this.headT) releaseTransposed([this.headT]);
    this.headT?.dispose();
    this.headT = undefined;
  }

  /** A linear module by path: x·W (+ b) (+ LoRA), with dropout on the LoRA input while training. */
  linear(path: string, x: Tensor, ctx: ForwardContext): Tensor {
    const q = this.external.get(`${path}.weight`);
    const b = this.params.get(`${path}.bias`);
    let y = q ? externalLinear(x, q, b) : linear(x, this.param(`${path}.weight`), b);
    const ad = this.lora.get(path);
    if (ad) {
      let xi = x;
      if (ctx.train && ad.dropout > 0) xi = tf.dropout(x, ad.dropout, undefined, ctx.train.seed + ctx.seedCounter++);
      y = tf.add(y, loraOutput(ad, xi));
    }
    return y;
  }

  /** Rows of the token embedding table for flat ids [N]. */
  embedLookup(ids: Tensor): Tensor {
    const q = this.external.get(this.family.embeddingName);
    if (q) return externalEmbed(q, ids);
    return embed(this.param(this.family.embeddingName), ids);
  }

  dropout(x: Tensor, ctx: ForwardContext): Tensor {
    if (!ctx.train || ctx.train.dropout <= 0) return x;
    return tf.dropout(x, ctx.train.dropout, undefined, ctx.train.seed + ctx.seedCounter++);
  }

  newContext(opts: { cache?: KVCache; train?: ForwardContext['train'] } = {}): ForwardContext {
    return { past: opts.cache?.length ?? 0, cache: opts.cache, train: opts.train, seedCounter: 0 };
  }

  embed(ids: Tensor, ctx: ForwardContext): Tensor {
    return this.family.embed(this, ids, ctx);
  }

  blocks(h: Tensor, from: number, to: number, ctx: ForwardContext): Tensor {
    for (let i = from; i < to; i++) {
      const next = this.family.block(this, i, h, ctx);
      if (i > from) h.dispose();
      h = next;
    }
    return h;
  }

  /** Final norm and LM head: h [..., d] → logits [..., V]. */
  head(h: Tensor, ctx: ForwardContext = this.newContext()): Tensor {
    return tf.tidy(() => {
      const n = this.family.finalNorm(this, h);
      const lead = n.shape.slice(0, -1);
      const n2 = n.reshape([-1, this.config.hidden]);
      let logits: Tensor;
      const qEmb = this.config.tiedHead ? this.external.get(this.family.embeddingName) : undefined;
      if (qEmb) {
        logits = externalLinear(n2, qEmb);
      } else if (this.config.tiedHead) {
        const emb = this.param(this.family.embeddingName);
        if (productsOnBlas()) logits = matmulNT(n2, emb); // the transpose is a BLAS flag: no copy kept
        else if (isTrainable(emb)) logits = matmul(n2, tf.transpose(emb));
        else {
          // A persistent transposed copy: XNNPACK caches packed weights per tensor.
          if (!this.headT || this.headT.isDisposed) this.headT = tf.keep(tf.transpose(emb));
          logits = matmulConst(n2, this.headT);
        }
      } else {
        logits = this.linear(this.family.headName, n2, ctx);
      }
      if (this.family.finalLogits) logits = this.family.finalLogits(this, logits);
      return logits.reshape([...lead, this.config.vocabSize]);
    });
  }

  /** ids [B,T] int32 → logits [B,T,V]. With a cache, appends this chunk's keys and values. */
  forward(ids: Tensor, ctx: ForwardContext = this.newContext(), opts: { lastOnly?: boolean } = {}): Tensor {
    return tf.tidy(() => {
      let h = this.blocks(this.embed(ids, ctx), 0, this.config.layers, ctx);
      const [B, T] = ids.shape as number[];
      if (ctx.cache) ctx.cache.length += T;
      if (opts.lastOnly && T > 1) h = tf.slice(h, [0, T - 1, 0], [B, 1, this.config.hidden]);
      return this.head(h, ctx);
    });
  }

  newCache(capacity?: number): KVCache {
    return { layers: [], length: 0, capacity };
  }

  dispose(): void {
    releaseTransposed(this.params.values());
    this.dropHeadCache();
    this.family.dispose(this);
    clearOpCaches();
    for (const t of this.params.values()) t.dispose();
    this.external.clear();
    for (const a of this.lora.values()) {
      a.A.dispose();
      a.B.dispose();
    }
    this.lora.clear();
  }
}

export function disposeCache(cache: KVCache): void {
  for (const l of cache.layers) {
    l.k.dispose();
    l.v.dispose();
  }
  cache.layers = [];
  cache.length = 0;
}

/** Rows [p, p+T) of a [B, C, KVH, hd] cache replaced by x [B, T, KVH, hd] (a new tensor, same size). */
function writeRows(old: Tensor | undefined, x: Tensor, p: number, C: number): Tensor {
  const [B, T, n, hd] = x.shape as number[];
  const parts: Tensor[] = [];
  if (p > 0) parts.push(tf.slice(old!, [0, 0, 0, 0], [B, p, n, hd]));
  parts.push(x);
  if (p + T < C) parts.push(old ? tf.slice(old, [0, p + T, 0, 0], [B, C - p - T, n, hd]) : tf.zeros([B, C - p - T, n, hd]));
  return parts.length === 1 ? x.clone() : tf.concat(parts, 1);
}

/** Append new keys/values to layer i's cache (kept outside any tidy) and return the full ones. */
export function appendCache(ctx: ForwardContext, layer: number, k: Tensor, v: Tensor): { k: Tensor; v: Tensor } {
  const cache = ctx.cache;
  if (!cache) return { k, v };
  const old = cache.layers[layer];
  const C = cache.capacity;
  if (C !== undefined && cache.length + k.shape[1]! > C) throw new Error(`the KV cache holds ${C} positions; ${cache.length + k.shape[1]!} are needed`);
  const nk = C !== undefined ? writeRows(old?.k, k, cache.length, C) : old ? tf.concat([old.k, k], 1) : k.clone();
  const nv = C !== undefined ? writeRows(old?.v, v, cache.length, C) : old ? tf.concat([old.v, v], 1) : v.clone();
  tf.keep(nk);
  tf.keep(nv);
  old?.k.dispose();
  old?.v.dispose();
  cache.layers[layer] = { k: nk, v: nv };
  return { k: nk, v: nv };
}
