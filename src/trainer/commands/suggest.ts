import { parse } from '../args';
import { selectBackend } from '../../engine/backend';
import { loadModel } from '../../engine/model/loader';
import { suggestModules } from '../../engine/train/suggest';
import { parseSuggestResult } from '../../protocol/suggest';

function int(v: string | undefined, name: string, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer, got "${v}"`);
  return n;
}

export async function suggestCommand(args: string[]): Promise<number> {
  const { values } = parse(args, {
    model: { type: 'string' }, data: { type: 'string' }, batches: { type: 'string' }, top: { type: 'string' },
    'batch-size': { type: 'string' }, 'max-length': { type: 'string' }, seed: { type: 'string' }, json: { type: 'boolean' }, config: { type: 'string' },
  });
  if (!values.model) throw new Error('suggest needs --model MODEL');
  if (!values.data) throw new Error('suggest needs --data FILE');
  await selectBackend({ backend: values.backend });
  const lm = await loadModel(values.model, { config: values.config });
  const t0 = performance.now();
  const scores = suggestModules(lm, values.data, {
    batches: int(values.batches, 'batches', 4), batchSize: int(values['batch-size'], 'batch-size', 8),
    maxLength: int(values['max-length'], 'max-length', 256), seed: int(values.seed, 'seed', 1),
  });
  const top = int(values.top, 'top', scores.length);
  const modules = scores.slice(0, top);
  // Suggest Layers reads this back with parseSuggestResult: print nothing it would refuse.
  if (values.json) console.log(JSON.stringify(parseSuggestResult({ modules, ms: Math.round(performance.now() - t0) }, 'suggest --json (before printing)')));
  else {
    console.log(`${'module'.padEnd(48)} ${'grad norm'.padStart(12)} ${'params'.padStart(12)}`);
    for (const m of modules) console.log(`${m.path.padEnd(48)} ${m.score.toExponential(3).padStart(12)} ${m.params.toLocaleString('en-US').padStart(12)}`);
  }
  lm.model.dispose();
  return 0;
}
