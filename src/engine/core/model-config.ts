// The architecture hyper-parameters of a model, whatever file it came from.

export interface LlamaConfig {
  family: 'llama';
  vocabSize: number;
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  maxPositions: number;
  normEps: number;
  ropeTheta: number;
  /** Qwen2-style biases on q, k and v. */
  attentionBias: boolean;
  tiedHead: boolean;
}

export interface Gpt2Config {
  family: 'gpt2';
  vocabSize: number;
  hidden: number;
  layers: number;
  heads: number;
  headDim: number;
  maxPositions: number;
  normEps: number;
  tiedHead: boolean;
}

export type ModelConfig = LlamaConfig | Gpt2Config;

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
