// Shared pieces of the export tests: a small real training run on stories260K, logits, diffs.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../../../src/engine/tf';
import { CausalLM } from '../../../src/engine/model/model';
import { train } from '../../../src/engine/train/trainer';
import { validateRunConfig } from '../../../src/engine/core/run-config';
import { sharedPath } from '../../helpers/shared';

export const STORIES = sharedPath('models/stories260K/stories260K.gguf');

export function tempDir(prefix = 'adapt-lab-export-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

const LINES = [
  ['Tom was', ' happy.'], ['Lily saw a', ' big dog.'], ['The sun was', ' hot.'], ['Ben had a', ' red ball.'],
  ['Mom said', ' yes.'], ['The cat', ' ran away.'], ['Sue liked', ' the park.'], ['A bird', ' sang.'],
  ['The boy was', ' sad.'], ['They played', ' all day.'],
];

/** Trains a 3-step run on stories260K with this `adapt` section; returns the run folder. */
export async function makeRun(dir: string, adapt: Record<string, unknown>, name = 'export-test'): Promise<string> {
  const data = join(dir, 'train.jsonl');
  const rows: string[] = [];
  for (let i = 0; i < 20; i++) {
    const [prompt, completion] = LINES[i % LINES.length];
    rows.push(JSON.stringify({ prompt, completion }));
  }
  writeFileSync(data, rows.join('\n') + '\n');
  const config = validateRunConfig({
    name,
    model: STORIES,
    data: { train: 'train.jsonl', validationSplit: 0 },
    adapt,
    training: { maxSteps: 3, evalEvery: 1000, checkpointEvery: 3, batchSize: 4, learningRate: 0.02, warmupSteps: 0, schedule: 'constant', maxLength: 32 },
    backend: 'cpu',
    runsDir: 'runs',
    seed: 1,
  }, dir, 'test.json');
  let runDir: string | undefined;
  const end = await train(config, { emit: (e) => { if (e.type === 'started') runDir = e.runDir; } });
  if (end.type !== 'finished' || !runDir) throw new Error(`training did not finish: ${JSON.stringify(end)}`);
  return runDir;
}

export const PROMPT_IDS = [1, 403, 407, 261, 378, 66, 291, 301, 13];

/** Logits [T, V] of one sequence, flattened. */
export function logitsOf(model: CausalLM, ids: number[] = PROMPT_IDS): Float32Array {
  const x = tf.tensor2d([ids], [1, ids.length], 'int32');
  const y = model.forward(x);
  const out = y.dataSync() as Float32Array;
  x.dispose();
  y.dispose();
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}
