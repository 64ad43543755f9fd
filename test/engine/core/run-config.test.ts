import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_LORA, DEFAULT_TRAINING, loadRunConfig, locateJsonError, validateRunConfig,
} from '../../../src/engine/core/run-config';

describe('train/config', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'adapt-runcfg-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const write = (obj: unknown, name = 'adapt-lab.json') => {
    const p = join(dir, name);
    writeFileSync(p, typeof obj === 'string' ? obj : JSON.stringify(obj, null, 2));
    return p;
  };
  const minimal = () => ({ model: 'models/tiny.gguf', data: { train: 'data/train.jsonl' }, adapt: { lora: {} } });
  /** The error message of validating `raw` (which must fail). */
  const errorOf = (raw: unknown): string => {
    try {
      validateRunConfig(raw, '/base', 'adapt-lab.json');
    } catch (e) {
      return (e as Error).message;
    }
    assert.fail('expected the config to be refused');
  };
  const withTraining = (training: Record<string, unknown>) => ({ ...minimal(), training });

  it('fills every default and resolves paths against the config folder', () => {
    const c = loadRunConfig(write(minimal()));
    assert.equal(c.model, join(dir, 'models/tiny.gguf'));
    assert.equal(c.data.train, join(dir, 'data/train.jsonl'));
    assert.equal(c.data.validation, undefined);
    assert.equal(c.data.validationSplit, 0.1);
    assert.equal(c.runsDir, join(dir, '.adapt-lab/runs'));
    assert.equal(c.seed, 0);
    assert.equal(c.backend, 'auto');
    assert.deepEqual(c.training, { ...DEFAULT_TRAINING });
    assert.equal(c.training.maxSteps, undefined);
    assert.equal(c.training.earlyStopping, undefined);
    assert.deepEqual(c.adapt.lora, { rank: 8, alpha: 16, dropout: 0.05, targetModules: ['q_proj', 'v_proj'] });
    // defaults are copied, not shared
    (c.adapt.lora!.targetModules as string[]).push('x');
    assert.deepEqual(DEFAULT_LORA.targetModules, ['q_proj', 'v_proj']);
    assert.equal(DEFAULT_TRAINING.learningRate, 1e-3);
  });

  it('keeps given values, absolute paths, and optional sections', () => {
    const c = validateRunConfig({
      $schema: './schema.json',
      name: 'run-1',
      model: '/abs/model',
      data: { train: 't.txt', validation: '../v.jsonl', validationSplit: 0 },
      adapt: { lora: { rank: 4, targetModules: 'all-linear', layers: [0, 2] }, unfreeze: ['lm_head'], biases: true },
      training: { maxSteps: 10, schedule: 'linear', learningRate: 2e-4, earlyStopping: { patience: 3 }, layerLrDecay: 0.8 },
      seed: 42, backend: 'wasm', runsDir: '/runs',
    }, '/cfg/dir', 'x.json');
    assert.equal(c.name, 'run-1');
    assert.equal(c.model, '/abs/model');
    assert.equal(c.data.train, '/cfg/dir/t.txt');
    assert.equal(c.data.validation, '/cfg/v.jsonl');
    assert.equal(c.data.validationSplit, 0);
    assert.deepEqual(c.adapt.lora, { rank: 4, alpha: 16, dropout: 0.05, targetModules: 'all-linear', layers: [0, 2] });
    assert.deepEqual(c.adapt.unfreeze, ['lm_head']);
    assert.equal(c.adapt.biases, true);
    assert.equal(c.training.maxSteps, 10);
    assert.equal(c.training.schedule, 'linear');
    assert.equal(c.training.learningRate, 2e-4);
    assert.deepEqual(c.training.earlyStopping, { patience: 3 });
    assert.equal(c.training.epochs, 3);
    assert.equal(c.seed, 42);
    assert.equal(c.backend, 'wasm');
    assert.equal(c.runsDir, '/runs');
    assert.ok(!('$schema' in c));
  });

  it('names the field, the file and the bad value', () => {
    assert.equal(errorOf(withTraining({ learningRate: '0.1x' })), 'adapt-lab.json: training.learningRate must be a positive number, got "0.1x"');
    const cases: [Record<string, unknown>, string][] = [
      [withTraining({ learningRate: 0 }), 'training.learningRate must be a positive number, got 0'],
      [withTraining({ batchSize: 2.5 }), 'training.batchSize must be a positive integer, got 2.5'],
      [withTraining({ epochs: -1 }), 'training.epochs must be a positive integer, got -1'],
      [withTraining({ warmupSteps: -5 }), 'training.warmupSteps must be a non-negative integer, got -5'],
      [withTraining({ dropout: 1 }), 'training.dropout must be a number in [0, 1), got 1'],
      [withTraining({ schedule: 'step' }), 'training.schedule must be one of "cosine", "linear", "constant", got "step"'],
      [withTraining({ maxLength: 1 }), 'training.maxLength must be an integer of at least 2, got 1'],
      [withTraining({ gradClip: null }), 'training.gradClip must be a non-negative number, got null'],
      [withTraining({ earlyStopping: { minDelta: 0.1 } }), 'training.earlyStopping.patience is missing'],
      [withTraining(5 as unknown as Record<string, unknown>), 'training must be an object, got 5'],
      [{ ...minimal(), backend: 'cuda' }, 'backend must be one of "auto", "tensorflow-gpu", "tensorflow", "wasm", "cpu", got "cuda"'],
      [{ ...minimal(), seed: 1.5 }, 'seed must be an integer in [0, 4294967295], got 1.5'],
      [{ ...minimal(), data: { train: 'a', validationSplit: 1 } }, 'data.validationSplit must be a number in [0, 1), got 1'],
      [{ ...minimal(), data: { train: 42 } }, 'data.train must be a non-empty string, got 42'],
      [{ ...minimal(), adapt: { lora: { rank: 0 } } }, 'adapt.lora.rank must be a positive integer, got 0'],
      [{ ...minimal(), adapt: { lora: { dropout: -0.1 } } }, 'adapt.lora.dropout must be a number in [0, 1), got -0.1'],
      [{ ...minimal(), adapt: { lora: { layers: [0, -1, 'x'] } } }, 'adapt.lora.layers[1] must be a non-negative integer, got -1'],
      [{ ...minimal(), adapt: { lora: { layers: [0, -1, 'x'] } } }, 'adapt.lora.layers[2] must be a non-negative integer, got "x"'],
      [{ ...minimal(), adapt: { lora: { targetModules: 'q_proj' } } }, 'adapt.lora.targetModules must be "all-linear" or a non-empty array'],
      [{ ...minimal(), adapt: { lora: { targetModules: [] } } }, 'adapt.lora.targetModules must be "all-linear" or a non-empty array'],
      [{ ...minimal(), adapt: { biases: 'yes' } }, 'adapt.biases must be true or false, got "yes"'],
      [{ data: { train: 'a' }, adapt: { lora: {} } }, 'adapt-lab.json: model is missing'],
      [{ model: 'm', adapt: { lora: {} } }, 'adapt-lab.json: data is missing'],
      [{ model: 'm', data: {}, adapt: { lora: {} } }, 'adapt-lab.json: data.train is missing'],
      [{ model: 'm', data: { train: 'a' } }, 'adapt-lab.json: adapt is missing'],
    ];
    for (const [raw, expected] of cases) {
      const msg = errorOf(raw);
      assert.ok(msg.includes(expected), `expected ${JSON.stringify(expected)} in:\n${msg}`);
      assert.ok(msg.split('\n').every((l) => l.startsWith('adapt-lab.json: ')), msg);
    }
    assert.throws(() => validateRunConfig([], '/b', 'c.json'), /c\.json: the config must be a JSON object, got \[\]/);
  });

  it('says a number that overflowed (1e999 is Infinity after JSON.parse) is not finite, instead of "got null"', () => {
    const p = write('{"model": "m.gguf", "data": {"train": "t.jsonl"}, "adapt": {"lora": {"alpha": -1e999}}, "training": {"learningRate": 1e999}}', 'inf.json');
    assert.throws(() => loadRunConfig(p), (e: unknown) => {
      const msg = (e as Error).message;
      assert.match(msg, /^inf\.json: adapt\.lora\.alpha must be a positive number, got -Infinity \(not a finite number\)$/m);
      assert.match(msg, /^inf\.json: training\.learningRate must be a positive number, got Infinity \(not a finite number\)$/m);
      return true;
    });
  });

  it('refuses an adapt section that trains nothing', () => {
    for (const adapt of [{}, { unfreeze: [] }, { biases: false }, { unfreeze: [], biases: false }]) {
      assert.match(errorOf({ ...minimal(), adapt }), /adapt-lab\.json: adapt selects nothing, so nothing would be trained/);
    }
    for (const adapt of [{ unfreeze: ['model.layers.0.*'] }, { biases: true }, { lora: {} }]) {
      validateRunConfig({ ...minimal(), adapt }, '/b', 'c.json');
    }
  });

  it('refuses early stopping without validation data', () => {
    const raw = { ...minimal(), data: { train: 'a', validationSplit: 0 }, training: { earlyStopping: { patience: 2 } } };
    assert.match(errorOf(raw), /training\.earlyStopping needs validation data/);
    validateRunConfig({ ...raw, data: { train: 'a', validationSplit: 0, validation: 'v' } }, '/b', 'c.json');
  });

  it('refuses unknown fields, suggesting the intended name', () => {
    assert.equal(errorOf(withTraining({ learnRate: 1e-4 })), 'adapt-lab.json: unknown field "training.learnRate" (did you mean "learningRate"?)');
    assert.match(errorOf(withTraining({ batchsize: 4 })), /unknown field "training\.batchsize" \(did you mean "batchSize"\?\)/);
    assert.match(errorOf({ ...minimal(), learningRate: 1e-4 }), /unknown field "learningRate" \(did you mean "training\.learningRate"\?\)/);
    assert.match(errorOf({ ...minimal(), adapt: { lora: { rnak: 4 } } }), /unknown field "adapt\.lora\.rnak" \(did you mean "rank"\?\)/);
    assert.equal(errorOf({ ...minimal(), colour: 'blue' }), 'adapt-lab.json: unknown field "colour"');
  });

  it('lists every problem at once, one line each', () => {
    const msg = errorOf({ data: { train: 'a', extra: 1 }, adapt: { lora: { rank: 'big' } }, training: { epochs: 0, learnRate: 1 }, backend: 'gpu' });
    const lines = msg.split('\n');
    assert.match(lines[0], /^adapt-lab\.json: 6 problems in the run config:$/);
    const rest = lines.slice(1);
    assert.equal(rest.length, 6, msg);
    for (const needle of ['model is missing', 'unknown field "data.extra"', 'adapt.lora.rank must be a positive integer, got "big"',
      'training.epochs must be a positive integer, got 0', 'unknown field "training.learnRate"', 'backend must be one of']) {
      assert.ok(rest.some((l) => l.startsWith('adapt-lab.json: ') && l.includes(needle)), `${needle} not in\n${msg}`);
    }
  });

  it('names file, line and column of a JSON syntax error', () => {
    const p = write('{\n  "model": "m",\n  "data": { "train": "t.jsonl" },\n  "adapt": { "lora": {}, }\n}\n', 'bad.json');
    assert.throws(() => loadRunConfig(p), (e: Error) => {
      assert.match(e.message, /^bad\.json:4:26: not valid JSON: trailing comma before "}"$/);
      return true;
    });
    const q = write('{\n  "model": "m"\n  "data": {}\n}', 'bad2.json');
    assert.throws(() => loadRunConfig(q), /^Error: bad2\.json:3:3: not valid JSON: expected "," or "}" after a property value, got "\\""/);
    const r = write('{\n  "model": "m",\n', 'bad3.json');
    assert.throws(() => loadRunConfig(r), /bad3\.json:3:1: not valid JSON: expected a property name in double quotes, got the end of the input/);
    assert.throws(() => loadRunConfig(write('', 'empty.json')), /empty\.json: the run config is empty/);
    assert.throws(() => loadRunConfig(join(dir, 'nope.json')), /nope\.json: cannot read the run config .* \(no such file\)/);
  });

  it('locateJsonError agrees with JSON.parse', () => {
    const samples = ['{}', '[1, 2.5e-3, -0, "a\\n\\u00e9", true, false, null]', '{"a": {"b": [ ]}}', ' 1 ', '"x"',
      '{', '[1,]', '{"a" 1}', '{a: 1}', '[01]', '"\\x"', 'tru', '{"a":1}}', '[1 2]', '"a\nb"', '-', '1.', ''];
    for (const s of samples) {
      let ok = true;
      try { JSON.parse(s); } catch { ok = false; }
      assert.equal(locateJsonError(s) === undefined, ok, `${JSON.stringify(s)}: ${JSON.stringify(locateJsonError(s))}`);
    }
    assert.deepEqual(locateJsonError('{\n "a": tru\n}')?.line, 2);
  });

  it('loads a config from a subfolder relative to that folder', () => {
    mkdirSync(join(dir, 'sub'), { recursive: true });
    const c = loadRunConfig(write({ ...minimal(), runsDir: 'out' }, 'sub/adapt-lab.json'));
    assert.equal(c.runsDir, join(dir, 'sub', 'out'));
    assert.equal(c.model, join(dir, 'sub', 'models/tiny.gguf'));
  });
});
