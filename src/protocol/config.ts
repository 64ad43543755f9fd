// The run config: one JSON file that the extension writes, people write by hand, and the
// trainer reads. Relative paths resolve against the file's folder.

export interface LoraConfig {
  rank: number;
  alpha: number;
  dropout: number;
  /** Module-name suffixes (`q_proj`), globs over module paths (`model.layers.*.mlp.*`), or `all-linear`. */
  targetModules: string[] | 'all-linear';
  /** Block indices to adapt; absent = all. */
  layers?: number[];
}

export interface AdaptConfig {
  lora?: LoraConfig;
  /** Globs over module or parameter paths, as `adapt-lab inspect` prints them. */
  unfreeze?: string[];
  /** Train every bias and norm weight (BitFit-style). */
  biases?: boolean;
}

export interface TrainingConfig {
  maxSteps?: number;
  epochs: number;
  batchSize: number;
  gradAccumulation: number;
  learningRate: number;
  schedule: 'cosine' | 'linear' | 'constant';
  warmupSteps: number;
  weightDecay: number;
  gradClip: number;
  l2sp: number;
  embeddingNoise: number;
  dropout: number;
  layerLrDecay: number;
  maxLength: number;
  evalEvery: number;
  checkpointEvery: number;
  /**
   * A checkpoint at least every this many seconds of training (default 60; 0 off), whatever
   * checkpointEvery says: the work a killed trainer loses is bounded by time, not only steps.
   */
  checkpointSeconds?: number;
  /**
   * Threads per step on the wasm and cpu backends: each step's rows are split across worker
   * threads, each with its own backend and a replica of the model (native TensorFlow backends
   * use every core themselves and ignore this). Results are reproducible for a given count.
   */
  threads: number;
  earlyStopping?: { patience: number; minDelta?: number };
  /**
   * Which checkpoint the run keeps as its result (best/, what eval and export use): "loss"
   * (absent: the same) the lowest validation loss; "eval" the best by evaluation — at each kept
   * checkpoint the prompt cases (data.prompts) and the forgetting probe (data.probe) run, and
   * the highest accuracy wins (then the lower weighted error, then the lower forgetting).
   */
  selectCheckpoint?: 'loss' | 'eval';
  /**
   * With selectCheckpoint "eval": checkpoints whose probe perplexity rose more than this many
   * percent over the base model's rank after every checkpoint under it (needs data.probe).
   */
  forgettingCeiling?: number;
}

export interface DataConfig {
  train: string;
  validation?: string;
  /** Fraction of train held out for validation when no validation file is given. */
  validationSplit: number;
  /** Prompt cases (`*.prompts.jsonl`) evaluated base vs adapted when the run finishes. */
  prompts?: string;
  /** General text whose perplexity before and after measures forgetting. */
  probe?: string;
  /** General text (.txt) mixed into training to limit forgetting (replay / rehearsal). */
  replay?: string;
  /** The share of replay chunks in the training mix, in [0, 1); used with `replay`. */
  replayFraction?: number;
}

export interface RunConfig {
  model: string;
  data: DataConfig;
  adapt: AdaptConfig;
  training: TrainingConfig;
  seed: number;
  backend: string;
  /**
   * Matrix products on the platform's BLAS (OpenBLAS, BLIS, Accelerate, MKL) on the wasm and cpu
   * backends; false keeps the backend's own. Absent in runs recorded before it existed: on.
   */
  blas?: boolean;
  runsDir: string;
  name?: string;
}
