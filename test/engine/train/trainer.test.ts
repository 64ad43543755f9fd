// Training runs on stories260K: LoRA and last-blocks runs learn a task the base model does
// not do; stop/pause; faults are recorded, not lost.
import { strict as assert } from 'node:assert';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sharedPath } from '../../helpers/shared';
import { moodCases, moodTask, writeJsonl } from '../../helpers/tasks';
import { selectBackend } from '../../../src/engine/backend';
import { tf } from '../../../src/engine/tf';
import { validateRunConfig } from '../../../src/engine/core/run-config';
import { train } from '../../../src/engine/train/trainer';
import { TrainerControl } from '../../../src/engine/train/control';
import { loadModel } from '../../../src/engine/model/loader';
import { applyRunAdapter } from '../../../src/engine/runs/adapter';
import { generate } from '../../../src/engine/generate';
import { readMetrics, listRuns } from '../../../src/engine/core/runs/store';
import { EvalEvent, StepEvent, TrainerEvent } from '../../../src/protocol/events';

const MODEL = sharedPath('models/stories260K/stories260K.gguf');

function config(task: { dir: string; train: string; validation: string }, adapt: object, training: object = {}, data: object = {}) {
  return validateRunConfig({
    model: MODEL,
    data: { train: task.train, validation: task.validation, ...data },
    adapt,
    training: { maxSteps: 40, batchSize: 16, learningRate: 0.01, warmupSteps: 4, evalEvery: 20, checkpointEvery: 20, maxLength: 48, ...training },
    seed: 0, backend: 'wasm', runsDir: join(task.dir, 'runs'), name: 'test',
  }, task.dir, 'test.json');
}

/** Greedy first word after each held-out prompt, with the run's adapter or without. */
async function accuracy(runDir?: string): Promise<number> {
  const lm = await loadModel(MODEL);
  if (runDir) applyRunAdapter(lm, runDir);
  const cases = moodCases(12, 99);
  let right = 0;
  for (const c of cases) {
    const out = generate(lm.model, lm.tokenizer!, c.prompt, { maxTokens: 3, temperature: 0 }).text;
    if (out.trim().startsWith(c.mood)) right++;
  }
  lm.model.dispose();
  return right / cases.length;
}

describe('training on stories260K', function () {
  this.timeout(300_000);
  before(async () => {
    await selectBackend({ backend: 'wasm' });
  });

  it('evaluates base vs adapted at the end when the config names prompt cases', async () => {
    const task = moodTask(64);
    const prompts = join(task.dir, 'cases.prompts.jsonl');
    writeFileSync(prompts, moodCases(4, 5).map((c, i) => JSON.stringify({ id: `c${i}`, prompt: c.prompt, expected: c.mood, match: 'contains' })).join('\n'));
    const events: TrainerEvent[] = [];
    const end = await train(config(task, { lora: {} }, { maxSteps: 3, evalEvery: 0 }, { prompts }), { emit: (e) => events.push(e) });
    assert.equal(end.type, 'finished');
    const types = events.map((e) => e.type);
    assert.ok(types.indexOf('evalReport') >= 0 && types.indexOf('evalReport') < types.indexOf('finished'), types.join(','));
    const report = events.find((e) => e.type === 'evalReport');
    assert.ok(report && report.type === 'evalReport' && existsSync(report.path));
    assert.match(report.verdict, /accuracy \d+% → \d+%/);
  });

  it('records the chat template conversations were rendered with in run.json (the default: stories260K has none)', async () => {
    const task = moodTask(8);
    const chat = (c: { prompt: string; completion: string }) => ({ messages: [{ role: 'user', content: c.prompt }, { role: 'assistant', content: c.completion.trim() }] });
    const train_ = writeJsonl(join(task.dir, 'chat.jsonl'), moodCases(8, 1).map(chat));
    const events: TrainerEvent[] = [];
    const end = await train(config({ ...task, train: train_, validation: writeJsonl(join(task.dir, 'chat-val.jsonl'), moodCases(4, 2).map(chat)) }, { lora: {} }, { maxSteps: 1, evalEvery: 0, checkpointEvery: 0 }), { emit: (e) => events.push(e) });
    assert.equal(end.type, 'finished');
    const rec = listRuns(join(task.dir, 'runs'))[0];
    assert.equal(rec.chatTemplate?.source, 'default');
    assert.match(rec.chatTemplate!.template, /<\|assistant\|>/);
    assert.ok(events.some((e) => e.type === 'log' && /default chat template/.test(e.message)));
  });

  for (const [name, adapt] of [
    ['LoRA r8 on every linear layer', { lora: { rank: 8, alpha: 16, dropout: 0, targetModules: 'all-linear' } }],
    ['the last two blocks unfrozen', { unfreeze: ['model.layers.3.*', 'model.layers.4.*', 'model.norm'] }],
  ] as const) {
    it(`${name}: validation loss falls well below its start and greedy answers follow the task`, async () => {
      const task = moodTask();
      const events: TrainerEvent[] = [];
      const tensorsBefore = tf.memory().numTensors;
      const end = await train(config(task, adapt), { emit: (e) => events.push(e) });
      assert.equal(end.type, 'finished', JSON.stringify(end));
      assert.equal(tf.memory().numTensors, tensorsBefore, 'tensors leaked by the run');
      const evals = events.filter((e): e is EvalEvent => e.type === 'eval');
      assert.equal(evals[0].step, 0);
      const first = evals[0].valLoss, last = evals[evals.length - 1].valLoss;
      assert.ok(last < 0.4 * first, `val loss ${first} → ${last}`);
      const started = events.find((e) => e.type === 'started')!;
      assert.ok(started.type === 'started' && started.params.trainable < started.params.total);
      const runDir = started.type === 'started' ? started.runDir : '';
      const base = await accuracy();
      const adapted = await accuracy(runDir);
      assert.ok(base <= 0.25, `base model already answers ${base}`);
      assert.ok(adapted >= 0.75, `adapted accuracy ${adapted}`);
      // The run folder is a complete record.
      const record = JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8'));
      assert.equal(record.status, 'finished');
      assert.match(record.hashes[MODEL] ?? Object.values(record.hashes)[0], /^[0-9a-f]{64}$/);
      const metrics = readMetrics(runDir);
      assert.equal(metrics.filter((e) => e.type === 'step').length, 40);
      assert.ok(existsSync(join(runDir, 'checkpoints', 'best')));
    });
  }

  it('stops on request after the current step, with a checkpoint, and pauses/resumes', async () => {
    const task = moodTask(64);
    const control = new TrainerControl();
    const types: string[] = [];
    const end = await train(config(task, { lora: { targetModules: ['q_proj', 'v_proj'] } }, { maxSteps: 50, evalEvery: 0 }), {
      control,
      emit: (e) => {
        types.push(e.type);
        if (e.type === 'step' && e.step === 2) control.pause();
        if (e.type === 'paused') setTimeout(() => control.resume(), 300);
        if (e.type === 'step' && e.step === 4) control.stop();
      },
    });
    assert.equal(end.type, 'stopped');
    assert.equal(end.step, 4);
    assert.ok(types.includes('paused') && types.includes('resumed'));
    const run = listRuns(join(task.dir, 'runs'))[0];
    assert.equal(run.status, 'stopped');
    assert.ok(types.includes('checkpoint'));
  });

  it('a non-finite loss fails the run with its step and keeps the last good checkpoint', async () => {
    const task = moodTask(64);
    const events: TrainerEvent[] = [];
    const tensorsBefore = tf.memory().numTensors;
    const end = await train(config(task, { unfreeze: ['model.layers.4.*'] }, { maxSteps: 30, learningRate: 1e12, gradClip: 0, warmupSteps: 0, evalEvery: 0, checkpointEvery: 1, schedule: 'constant' }), { emit: (e) => events.push(e) });
    assert.equal(end.type, 'failed');
    if (end.type !== 'failed') return;
    assert.match(end.reason, /loss became (NaN|Infinity|-Infinity) at step \d+/);
    assert.equal(tf.memory().numTensors, tensorsBefore, 'the failed run released the model, the optimizer and its gradients');
    const steps = events.filter((e): e is StepEvent => e.type === 'step');
    assert.ok(steps.every((s) => Number.isFinite(s.loss)));
    assert.ok(end.lastCheckpoint && existsSync(end.lastCheckpoint), 'last checkpoint kept');
    const run = listRuns(join(task.dir, 'runs'))[0];
    assert.equal(run.status, 'failed');
    assert.equal(readMetrics(join(task.dir, 'runs', run.id)).at(-1)!.type, 'failed');
  });

  it('refuses a run that cannot fit the wasm heap, saying it is out of memory', async () => {
    const task = moodTask(64);
    const tensorsBefore = tf.memory().numTensors;
    await assert.rejects(train(config(task, { lora: {} }, { batchSize: 65536, maxLength: 48 })), /out of memory.*every block's recomputed.*4 GiB/);
    assert.equal(tf.memory().numTensors, tensorsBefore, 'the refused run released the model it loaded');
  });

  it('a data error after the model is loaded throws, names the line and leaves no tensors behind', async () => {
    const task = moodTask(8);
    writeFileSync(task.train, readFileSync(task.train, 'utf8') + '{"prompt": "Tom was", "completion":\n');
    const tensorsBefore = tf.memory().numTensors;
    await assert.rejects(train(config(task, { lora: {} })), /train\.jsonl:9/);
    assert.equal(tf.memory().numTensors, tensorsBefore, 'the model loaded before the data was read is released');
    assert.deepEqual(listRuns(join(task.dir, 'runs')), [], 'no run is recorded');
  });

  it('a failure injected in the step loop ends the run failed and releases the model and the optimizer', async () => {
    const task = moodTask(32);
    const tensorsBefore = tf.memory().numTensors;
    const end = await train(config(task, { lora: {} }, { maxSteps: 6, evalEvery: 0, checkpointEvery: 1 }), {
      emit: (e) => {
        if (e.type === 'step' && e.step === 3) throw new Error('injected failure at step 3');
      },
    });
    assert.equal(end.type, 'failed', JSON.stringify(end));
    if (end.type !== 'failed') return;
    assert.equal(end.reason, 'injected failure at step 3');
    assert.match(end.lastCheckpoint ?? '', /step-2$/);
    assert.equal(tf.memory().numTensors, tensorsBefore, 'tensors left by the failed run');
    assert.equal(listRuns(join(task.dir, 'runs'))[0].status, 'failed');
  });
});
