// The lines `adapt-lab experiment --jsonl` prints: experiment events, and every trainer event
// of the running trial tagged with its index. No `vscode` import: tested under plain mocha.
import { parseTrainerEvent, TrainerEvent } from '../../protocol/events';
import { ExperimentEvent } from '../../protocol/experiment';

export type ExperimentLine = ExperimentEvent | { type: 'trialEvent'; index: number; event: TrainerEvent };

/** One line of `experiment --jsonl`, or undefined for anything that is not one of its events. */
export function parseExperimentLine(text: string): ExperimentLine | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!v || typeof v !== 'object') return undefined;
  const o = v as Record<string, unknown>;
  switch (o.type) {
    case 'experimentStarted': return typeof o.dir === 'string' ? (o as ExperimentLine) : undefined;
    case 'trialStarted':
    case 'trialEnded': return typeof o.index === 'number' ? (o as ExperimentLine) : undefined;
    case 'trialEvent':
      if (typeof o.index !== 'number') return undefined;
      try {
        return { type: 'trialEvent', index: o.index, event: parseTrainerEvent(o.event) };
      } catch {
        return undefined; // a trainer event that does not fit is not half-read
      }
    case 'experimentEnded': return Array.isArray(o.leaderboard) ? (o as ExperimentLine) : undefined;
    default: return undefined;
  }
}

