// The experiment file and its search space: every problem named, grids and random samples
// expanded as documented, axes that do not apply dropped, seeds repeating configurations.
import { strict as assert } from 'node:assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadExperiment, validateExperiment } from '../../../src/engine/experiment/spec';
import { gridPoints, randomPoints, setPath } from '../../../src/engine/experiment/space';
import { sharedPath } from '../../helpers/shared';
import { moodTask } from '../../helpers/tasks';

const MODEL = sharedPath('models/stories260K/stories260K.gguf');

function base(extra: object = {}) {
  const task = moodTask(16);
  return { task, config: { model: MODEL, data: { train: task.train, validation: task.validation }, adapt: { lora: { rank: 4 } }, training: { maxSteps: 4 }, runsDir: join(task.dir, 'runs'), ...extra } };
}

function write(dir: string, exp: object): string {
  const p = join(dir, 'x.experiment.json');
  writeFileSync(p, JSON.stringify(exp));
  return p;
}

describe('experiment file and search space', () => {
  it('expands a grid, first axis slowest, seed-major, with one group per configuration', () => {
    const { task, config } = base();
    const spec = loadExperiment(write(task.dir, {
      base: config, axes: { 'training.learningRate': [0.001, 0.01], 'adapt.lora.rank': [2, 4, 8] }, seeds: [0, 1],
    }));
    assert.equal(spec.trials.length, 12);
    assert.deepEqual(spec.trials.slice(0, 3).map((t) => [t.params['training.learningRate'], t.params['adapt.lora.rank'], t.seed]), [[0.001, 2, 0], [0.001, 4, 0], [0.001, 8, 0]]);
    assert.deepEqual(spec.trials.slice(6).map((t) => t.seed), [1, 1, 1, 1, 1, 1]);
    assert.equal(spec.trials[0].group, spec.trials[6].group);
    assert.notEqual(spec.trials[0].group, spec.trials[1].group);
    assert.equal(spec.trials[4].config.training.learningRate, 0.01);
    assert.equal(spec.trials[4].config.adapt.lora!.rank, 4);
    assert.equal(spec.trials[7].config.seed, 1);
    assert.match(spec.trials[3].config.name!, /-t3$/);
  });

  it('drops an axis where its parent field is absent and runs identical trials once', () => {
    const { task, config } = base();
    const spec = loadExperiment(write(task.dir, {
      base: config,
      axes: { adapt: [{ lora: { rank: 4 } }, { unfreeze: ['model.layers.4.*'] }], 'adapt.lora.rank': [2, 8] },
    }));
    // lora × {2, 8} and unfreeze once (rank does not apply to it).
    assert.equal(spec.trials.length, 3);
    const unfreeze = spec.trials.find((t) => t.config.adapt.unfreeze);
    assert.ok(unfreeze);
    assert.equal(unfreeze!.config.adapt.lora, undefined);
    assert.equal('adapt.lora.rank' in unfreeze!.params, false);
    assert.deepEqual(spec.trials.filter((t) => t.config.adapt.lora).map((t) => t.config.adapt.lora!.rank), [2, 8]);
  });

  it('null removes a field; relative paths in axis values resolve against the experiment file', () => {
    const { task, config } = base();
    writeFileSync(join(task.dir, 'general.txt'), 'Some general text.\n');
    const spec = loadExperiment(write(task.dir, { base: config, axes: { 'data.replay': [null, 'general.txt'] } }));
    assert.equal(spec.trials[0].config.data.replay, undefined);
    assert.equal(spec.trials[1].config.data.replay, join(task.dir, 'general.txt'));
  });

  it('random search is reproducible and stays within its ranges', () => {
    const axes = [{ path: 'a', dist: { kind: 'logUniform' as const, low: 1e-4, high: 1e-2 } }, { path: 'b', dist: { kind: 'intUniform' as const, low: 2, high: 5 } }];
    const p1 = randomPoints(axes, 50, 7);
    assert.deepEqual(p1, randomPoints(axes, 50, 7));
    assert.notDeepEqual(p1, randomPoints(axes, 50, 8));
    for (const [a, b] of p1 as [number, number][]) {
      assert.ok(a >= 1e-4 && a <= 1e-2, String(a));
      assert.ok(Number.isInteger(b) && b >= 2 && b <= 5, String(b));
    }
    assert.equal(new Set(p1.map((p) => p[1])).size, 4);
    assert.equal(gridPoints([{ path: 'x', dist: { kind: 'choice', values: [1, 2] } }, { path: 'y', dist: { kind: 'choice', values: [3, 4, 5] } }]).length, 6);
  });

  it('setPath refuses a path through an absent field and changes nothing', () => {
    const o: Record<string, unknown> = { a: { b: 1 } };
    assert.equal(setPath(o, 'x.y', 2), false);
    assert.deepEqual(o, { a: { b: 1 } });
    assert.equal(setPath(o, 'a.c', 2), true);
    assert.deepEqual(o, { a: { b: 1, c: 2 } });
  });

  it('names every problem at once: unknown fields, bad axes, a trial config that would not validate', () => {
    const { task, config } = base();
    assert.throws(() => validateExperiment({
      base: config, axes: { 'training.learningRate': [0.001, -1], 'training.lr': { uniform: [2, 1] } }, search: 'grid', objective: 'accuracy', budgett: {},
    }, join(task.dir, 'bad.experiment.json')), (e: Error) => {
      assert.match(e.message, /bad\.experiment\.json: unknown field "budgett"/);
      assert.match(e.message, /axes\.training\.lr\.uniform must be \[low, high\]/);
      assert.match(e.message, /objective\.metric "accuracy" needs prompt cases/);
      return true;
    });
    assert.throws(() => validateExperiment({ base: config, axes: { 'training.learningRate': [0.001, -1] } }, join(task.dir, 'neg.experiment.json')),
      /trial 1 .*training\.learningRate must be a positive number, got -1/);
    assert.throws(() => validateExperiment({ base: config, axes: { 'training.learningRate': { logUniform: [1e-4, 1e-2] } } }, join(task.dir, 'g.experiment.json')),
      /a grid needs a list of values/);
    assert.throws(() => validateExperiment({ base: 'missing.json', axes: { seed: [1] } }, join(task.dir, 'm.experiment.json')), (e: Error) => {
      assert.match(e.message, /base: missing\.json: cannot read the run config/);
      assert.match(e.message, /use "seeds"/);
      return true;
    });
  });

  it('the same file gives the same hash, also with another budget; a changed axis another', () => {
    const { task, config } = base();
    const a = validateExperiment({ base: config, axes: { 'training.learningRate': [0.001, 0.01] } }, join(task.dir, 'h.experiment.json'));
    const b = validateExperiment({ base: config, axes: { 'training.learningRate': [0.001, 0.01] } }, join(task.dir, 'h.experiment.json'));
    const c = validateExperiment({ base: config, axes: { 'training.learningRate': [0.001, 0.02] } }, join(task.dir, 'h.experiment.json'));
    assert.equal(a.hash, b.hash);
    assert.notEqual(a.hash, c.hash);
    // A larger budget continues the same experiment.
    const d = validateExperiment({ base: config, axes: { 'training.learningRate': [0.001, 0.01] }, budget: { minutes: 60 } }, join(task.dir, 'h.experiment.json'));
    assert.equal(a.hash, d.hash);
  });

  it('a default runs folder (the extension\'s --runs-dir) applies only when neither the file, its override nor its base names one', () => {
    const { task, config } = base();
    const elsewhere = join(task.dir, 'workspace-runs');
    const { runsDir: _named, ...unnamed } = config;
    const axes = { 'training.learningRate': [0.001] };
    const file = join(task.dir, 'd.experiment.json');
    assert.equal(validateExperiment({ base: unnamed, axes }, file, { defaultRunsDir: elsewhere }).trials[0].config.runsDir, elsewhere);
    assert.equal(validateExperiment({ base: unnamed, axes }, file).trials[0].config.runsDir, join(task.dir, '.adapt-lab', 'runs'));
    assert.equal(validateExperiment({ base: config, axes }, file, { defaultRunsDir: elsewhere }).trials[0].config.runsDir, config.runsDir);
    assert.equal(validateExperiment({ base: unnamed, axes, runsDir: 'mine' }, file, { defaultRunsDir: elsewhere }).runsDir, join(task.dir, 'mine'));
    assert.equal(validateExperiment({ base: unnamed, override: { runsDir: 'o' }, axes }, file, { defaultRunsDir: elsewhere }).trials[0].config.runsDir, join(task.dir, 'o'));
    writeFileSync(join(task.dir, 'named.json'), JSON.stringify(config));
    writeFileSync(join(task.dir, 'unnamed.json'), JSON.stringify(unnamed));
    assert.equal(validateExperiment({ base: 'named.json', axes }, file, { defaultRunsDir: elsewhere }).trials[0].config.runsDir, config.runsDir);
    assert.equal(validateExperiment({ base: 'unnamed.json', axes }, file, { defaultRunsDir: elsewhere }).trials[0].config.runsDir, elsewhere);
  });
});
