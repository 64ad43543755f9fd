// Checkpoints chosen by evaluation (training.selectCheckpoint "eval"): at each kept checkpoint
// the prompt cases and the forgetting probe run on the model as it is, and the best checkpoint
// by the objective becomes the run's result (best/, which eval and export read). The ranking is
// the experiment leaderboard's: under the forgetting ceiling before over it, then accuracy.
import { CausalLM } from '../model/model';
import type { Tokenizer } from '../tokenizers';
import { PromptCase, readPromptFile } from '../core/prompts';
import { checkPromptsFit, evaluateCases, probePerplexity, resolveSettings, summarize } from '../eval/evaluate';
import type { ChatFormat } from '../chat/template';

export interface CheckpointScore {
  step: number;
  /** Share of cases with an expected answer that passed, 0..1. */
  accuracy: number;
  /** Cost-weighted share that failed, 0..1. */
  weightedError: number;
  /** Probe perplexity change against the base model, percent. */
  forgettingPercent?: number;
  overCeiling: boolean;
}

/**
 * Whether `a` beats `b` (none yet: it does): a checkpoint under the forgetting ceiling beats one
 * over it; then higher accuracy, then lower weighted error, then lower forgetting. A tie keeps
 * the earlier checkpoint (fewer steps away from the base model).
 */
export function betterCheckpoint(a: CheckpointScore, b: CheckpointScore | undefined): boolean {
  if (!b) return true;
  if (a.overCeiling !== b.overCeiling) return !a.overCeiling;
  if (a.accuracy !== b.accuracy) return a.accuracy > b.accuracy;
  if (a.weightedError !== b.weightedError) return a.weightedError < b.weightedError;
  const fa = a.forgettingPercent ?? 0;
  const fb = b.forgettingPercent ?? 0;
  return fa < fb;
}

/** Reads a CheckpointScore back from a checkpoint's meta (a resumed run keeps its choice). */
export function scoreFromMeta(v: unknown): CheckpointScore | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.step !== 'number' || typeof o.accuracy !== 'number' || typeof o.weightedError !== 'number') return undefined;
  return {
    step: o.step, accuracy: o.accuracy, weightedError: o.weightedError, overCeiling: o.overCeiling === true,
    ...(typeof o.forgettingPercent === 'number' ? { forgettingPercent: o.forgettingPercent } : {}),
  };
}

export interface JudgeOptions {
  prompts: string;
  /** How cases written as messages are rendered: the template the run trains with. */
  chat?: ChatFormat;
  probe?: string;
  /** Percent of probe perplexity over the base model's. */
  forgettingCeiling?: number;
}

/** Judges the live training model at checkpoints; remembers the chosen one. */
export class CheckpointJudge {
  chosen: CheckpointScore | undefined;
  private readonly cases: PromptCase[];

  /**
   * `basePerplexity`: the base model's probe perplexity (measured before the first step, or
   * read from the resumed checkpoint). `chosen`: the choice so far, on a resume.
   */
  constructor(private readonly model: CausalLM, private readonly tokenizer: Tokenizer, private readonly o: JudgeOptions, readonly basePerplexity: number | undefined, chosen?: CheckpointScore) {
    const pf = readPromptFile(o.prompts);
    this.cases = pf.cases;
    if (!this.cases.some((c) => c.expected !== undefined)) {
      throw new Error(`${pf.file}: no case has an "expected" answer, so training.selectCheckpoint "eval" has nothing to judge checkpoints by`);
    }
    checkPromptsFit(model, tokenizer, this.cases, pf.file, o.chat);
    this.chosen = chosen;
  }

  /** The base model's probe perplexity: call on the untrained model, before the first step. */
  static baseProbe(model: CausalLM, tokenizer: Tokenizer, probe: string | undefined): number | undefined {
    return probe ? probePerplexity(model, tokenizer, probe).perplexity : undefined;
  }

  /** Scores the model as it is now (greedy answers: the report's accuracy; no stability samples). */
  judge(step: number): { score: CheckpointScore; chosen: boolean } {
    const settings = resolveSettings({ samples: 0 });
    const { results, greedyMs } = evaluateCases(this.model, this.tokenizer, this.cases, settings, {}, this.o.chat);
    const s = summarize(this.cases, results, greedyMs);
    const score: CheckpointScore = { step, accuracy: s.accuracy ?? 0, weightedError: s.weightedError ?? 1, overCeiling: false };
    if (this.o.probe && this.basePerplexity !== undefined) {
      score.forgettingPercent = 100 * (probePerplexity(this.model, this.tokenizer, this.o.probe).perplexity / this.basePerplexity - 1);
      score.overCeiling = this.o.forgettingCeiling !== undefined && score.forgettingPercent > this.o.forgettingCeiling;
    }
    const chosen = betterCheckpoint(score, this.chosen);
    if (chosen) this.chosen = score;
    return { score, chosen };
  }
}
