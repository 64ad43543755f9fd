// A run's training and validation examples and which of them make each step, decided once for
// both trainers: the TensorFlow.js one (trainer.ts) and the launch folder for PyTorch
// (engine/launch/), which must see the same examples in the same batches.
import { RunConfig } from '../../protocol/config';
import { TokenStats } from '../../protocol/events';
import type { Tokenizer } from '../tokenizers';
import { ChatFormat } from '../chat/template';
import { Rng } from '../random';
import { DEFAULT_DATA } from '../core/run-config';
import { Dataset, Example, loadDataset, makeBatches, splitValidation } from '../data/dataset';
import { mixReplay } from './replay';

export interface RunData {
  /** The training file as loaded (its stats, warnings and chat template). */
  trainSet: Dataset;
  train: Example[];
  validation: Example[];
  validationStats?: TokenStats;
}

/** The run's examples: train (with the replay mix), validation from its file or held out of train. */
export function loadRunData(config: RunConfig, tokenizer: Tokenizer, chat: ChatFormat): RunData {
  const t = config.training;
  const trainSet = loadDataset(config.data.train, tokenizer, { maxLength: t.maxLength, chat });
  let train: Example[] = trainSet.examples;
  let validation: Example[] = [];
  let validationStats: TokenStats | undefined;
  if (config.data.validation) {
    const v = loadDataset(config.data.validation, tokenizer, { maxLength: t.maxLength, chat });
    validation = v.examples;
    validationStats = v.stats;
  } else if (config.data.validationSplit > 0 && train.length > 1) {
    const s = splitValidation(train, config.data.validationSplit, new Rng(config.seed + 17));
    train = s.train;
    validation = s.validation;
  }
  // Replay text joins the training mix only: validation stays the task's own data.
  if (config.data.replay) {
    const replay = loadDataset(config.data.replay, tokenizer, { maxLength: t.maxLength });
    train = mixReplay(train, replay.examples, config.data.replayFraction ?? DEFAULT_DATA.replayFraction, new Rng(config.seed + 29));
  }
  return { trainSet, train, validation, validationStats };
}

/**
 * Which training examples (by index) each step's micro-batches hold: every epoch a fresh
 * shuffle (seeded by the run's seed and the epoch), cut into batches of batchSize, taken
 * gradAccumulation at a time. maxSteps, when set, overrides epochs (as in Hugging Face's
 * Trainer): the data cycles.
 */
export class BatchPlan {
  readonly stepsPerEpoch: number;
  readonly totalSteps: number;
  private cached?: { epoch: number; batches: number[][] };

  constructor(private readonly examples: number, private readonly t: RunConfig['training'], private readonly seed: number) {
    const microPerEpoch = Math.ceil(examples / t.batchSize);
    this.stepsPerEpoch = Math.max(1, Math.ceil(microPerEpoch / t.gradAccumulation));
    this.totalSteps = t.maxSteps ?? t.epochs * this.stepsPerEpoch;
  }

  /** Step `step` (counting from 0): its micro-batches as lists of example indices. */
  micro(step: number): number[][] {
    const epoch = Math.floor(step / this.stepsPerEpoch);
    const within = step % this.stepsPerEpoch;
    if (this.cached?.epoch !== epoch) {
      const indices = Array.from({ length: this.examples }, (_, i) => i);
      this.cached = { epoch, batches: makeBatches(indices, this.t.batchSize, new Rng(this.seed * 7919 + epoch), { shuffle: true }) };
    }
    const ga = this.t.gradAccumulation;
    return this.cached.batches.slice(within * ga, (within + 1) * ga);
  }
}
