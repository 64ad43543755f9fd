// The architecture hyper-parameters of a model, whatever file it came from: what the engine
// builds a model from and what `inspect --json` prints (src/protocol/inspect.ts checks it).

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
