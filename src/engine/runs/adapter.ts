// Puts a run's trained state onto a freshly loaded base model: the same adapt config (LoRA
// adapters, unfrozen parameters) with the values from one of its checkpoints.
import { LoadedModel } from '../model/loader';
import { applyAdapt, AdaptResult, loadTrainable } from '../adapt/methods';
import { Rng } from '../random';
import { openRun } from '../core/runs/store';
import { bestCheckpoint, loadCheckpoint } from '../core/runs/checkpoint';

export interface AppliedAdapter {
  runId: string;
  name: string;
  step: number;
  checkpoint: string;
  method: string;
  adapted: AdaptResult;
}

/** `which`: 'best' (the default, falling back to latest when the run never evaluated), 'latest' or a step. */
export function applyRunAdapter(lm: LoadedModel, runDir: string, which: 'best' | 'latest' | number = 'best'): AppliedAdapter {
  const run = openRun(runDir);
  const cfg = run.record.config;
  const pick = which === 'best' && !bestCheckpoint(run.dir) ? 'latest' : which;
  const ck = loadCheckpoint(run.dir, pick);
  const adapted = applyAdapt(lm.model, cfg.adapt, { rng: new Rng(cfg.seed), layerLrDecay: 1, l2sp: false });
  loadTrainable(adapted.params, ck.tensors);
  return { runId: run.record.id, name: run.record.name, step: ck.step, checkpoint: ck.dir, method: run.record.method, adapted };
}
