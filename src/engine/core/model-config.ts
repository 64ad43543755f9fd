// The architecture hyper-parameters of a model, whatever file it came from.

// The types are the protocol's (`inspect --json` prints a model's config, the extension reads it).
import type { ModelConfig } from '../../protocol/model-config';
export type { Gpt2Config, LlamaConfig, ModelConfig } from '../../protocol/model-config';

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
  } else if (c.hidden !== c.heads * c.headDim) {
    throw new Error(`${source}: hidden size ${c.hidden} is not heads ${c.heads} × head dim ${c.headDim}`);
  }
}
