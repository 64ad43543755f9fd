// The architecture hyper-parameters of a model, whatever file it came from.

// The types are the protocol's (`inspect --json` prints a model's config, the extension reads it).
import type { LlamaConfig, ModelConfig } from '../../protocol/model-config';
import type { DecoderArch } from '../../protocol/model-config';
export type { DecoderArch, GemmaExtras, Gpt2Config, LlamaConfig, ModelConfig, RopeScaling } from '../../protocol/model-config';
export { DECODER_ARCHS } from '../../protocol/model-config';

/** The decoder of a config: gpt2, or one of the Llama lineage. */
export function archOf(c: ModelConfig): DecoderArch | 'gpt2' {
  return c.family === 'gpt2' ? 'gpt2' : c.arch ?? 'llama';
}

/** The sliding window of layer i, or undefined for full attention. */
export function windowOf(c: LlamaConfig, layer: number): number | undefined {
  if (!c.slidingWindow) return undefined;
  return !c.slidingLayers || c.slidingLayers[layer] ? c.slidingWindow : undefined;
}

export function checkConfig(c: ModelConfig, source: string): void {
  const positive = (name: string, v: number) => {
    if (!Number.isInteger(v) || v <= 0) throw new Error(`${source}: ${name} must be a positive integer, got ${v}`);
  };
  positive('vocab size', c.vocabSize);
  positive('hidden size', c.hidden);
  positive('layer count', c.layers);
  positive('head count', c.heads);
  positive('head dim', c.headDim);
  positive('max positions', c.maxPositions);
  if (c.family === 'llama') {
    positive('intermediate size', c.intermediate);
    positive('kv head count', c.kvHeads);
    if (c.heads % c.kvHeads !== 0) throw new Error(`${source}: ${c.heads} heads are not a multiple of ${c.kvHeads} kv heads`);
    if (c.headDim % 2 !== 0) throw new Error(`${source}: head dim ${c.headDim} must be even for rotary positions`);
    if (c.slidingLayers && c.slidingLayers.length !== c.layers) {
      throw new Error(`${source}: ${c.slidingLayers.length} sliding-window layer flags for ${c.layers} layers`);
    }
    if (c.ropeScaling?.type === 'factors' && c.ropeScaling.factors.length !== c.headDim / 2) {
      throw new Error(`${source}: ${c.ropeScaling.factors.length} rope frequency factors, expected head dim / 2 = ${c.headDim / 2}`);
    }
  } else if (c.hidden !== c.heads * c.headDim) {
    throw new Error(`${source}: hidden size ${c.hidden} is not heads ${c.heads} × head dim ${c.headDim}`);
  }
}
