// Training runs that must not lose or corrupt work: one trainer per run, a finished run is never
// resumed (nor rewritten as failed), a damaged latest checkpoint is skipped, checkpoints come
// at least every checkpointSeconds, and "best" is always of a trained model.
import { strict as assert } from 'node:assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sharedPath } from '../../helpers/shared';
import { moodTask } from '../../helpers/tasks';
import { selectBackend } from '../../../src/engine/backend';
import { validateRunConfig } from '../../../src/engine/core/run-config';
import { train } from '../../../src/engine/train/trainer';
import { TrainerControl } from '../../../src/engine/train/control';
import { listRuns, readAudit, readRunRecord, sha256File } from '../../../src/engine/core/runs/store';
import { listCheckpoints } from '../../../src/engine/core/runs/checkpoint';
import { EvalEvent, TrainerEvent } from '../../../src/protocol/events';

const MODEL = sharedPath('models/stories260K/stories260K.gguf');

function config(task: { dir: string; train: string; validation: string }, training: object = {}) {
  return validateRunConfig({
    model: MODEL,
    data: { train: task.train, validation: task.validation },
    adapt: { lora: { rank: 4, targetModules: ['q_proj', 'v_proj'] } },
    training: { maxSteps: 6, batchSize: 8, learningRate: 0.01, evalEvery: 0, checkpointEvery: 2, maxLength: 48, ...training },
    seed: 0, backend: 'wasm', runsDir: join(task.dir, 'runs'), name: 'reliable',
  }, task.dir, 'test.json');
}

describe('training runs that lose nothing', function () {
  this.timeout(300_000);
  before(async () => {
    await selectBackend({ backend: 'wasm' });
  });

  it('evalEvery 0 with validation data evaluates once, at the end, and that trained loss is the best', async () => {
    const task = moodTask(32);
    const events: TrainerEvent[] = [];
    const end = await train(config(task, { maxSteps: 3, evalEvery: 0 }), { emit: (e) => events.push(e) });
    assert.equal(end.type, 'finished');
    const evals = events.filter((e): e is EvalEvent => e.type === 'eval');
    assert.deepEqual(evals.map((e) => [e.step, e.best]), [[3, true]]);
    assert.equal(end.type === 'finished' && end.bestValLoss, evals[0].valLoss);
    assert.equal(listRuns(join(task.dir, 'runs'))[0].bestValLoss, evals[0].valLoss);
  });

  it('the untrained model at step 0 is never "best", even when training makes validation worse', async () => {
    const task = moodTask(32);
    const events: TrainerEvent[] = [];
    // A learning rate this high makes the validation loss worse than the start.
    const end = await train(config(task, { maxSteps: 2, evalEvery: 1, learningRate: 5, gradClip: 0, schedule: 'constant' }), { emit: (e) => events.push(e) });
    const evals = events.filter((e): e is EvalEvent => e.type === 'eval');
    assert.equal(evals[0].step, 0);
    assert.equal(evals[0].best, false);
    if (end.type === 'finished' && end.bestValLoss !== undefined) {
      assert.ok(evals.some((e) => e.step > 0 && e.valLoss === end.bestValLoss), 'best is one of the trained evaluations');
    }
    const rec = listRuns(join(task.dir, 'runs'))[0];
    assert.notEqual(rec.bestValLoss, evals[0].valLoss);
  });

  it('one trainer per run: resuming a run whose trainer is alive is refused', async () => {
    const task = moodTask(32);
    const control = new TrainerControl();
    let runDir = '';
    let second: Promise<unknown> | undefined;
    const first = train(config(task, { maxSteps: 200 }), {
      control,
      emit: (e) => {
        if (e.type === 'started') runDir = e.runDir;
        if (e.type === 'checkpoint' && !second) {
          second = train({} as never, { resumeDir: runDir });
          void second.catch(() => undefined).finally(() => control.stop());
        }
      },
    });
    const end = await first;
    await assert.rejects(second!, /already being trained by another trainer \(pid \d+/);
    assert.equal(end.type, 'stopped', 'the first trainer was not disturbed');
    const c2 = new TrainerControl();
    const resumed = await train({} as never, { resumeDir: runDir, control: c2, emit: (e) => e.type === 'step' && c2.stop() });
    assert.equal(resumed.type, 'stopped', 'after the first one ended, resume works');
  });

  it('a damaged latest checkpoint: resume falls back to the newest good one and says so', async () => {
    const task = moodTask(32);
    const control = new TrainerControl();
    const end = await train(config(task, { maxSteps: 50, checkpointEvery: 2 }), {
      control, emit: (e) => e.type === 'step' && e.step === 4 && control.stop(),
    });
    assert.equal(end.type, 'stopped');
    const runDir = join(task.dir, 'runs', listRuns(join(task.dir, 'runs'))[0].id);
    const cks = listCheckpoints(runDir);
    assert.deepEqual(cks.map((c) => c.step), [2, 4]);
    writeFileSync(join(cks[1].dir, 'trainable.safetensors'), Buffer.from('garbage'));
    const events: TrainerEvent[] = [];
    const c2 = new TrainerControl();
    const again = await train({} as never, { resumeDir: runDir, control: c2, emit: (e) => { events.push(e); if (e.type === 'step') c2.stop(); } });
    assert.equal(again.type, 'stopped');
    const started = events.find((e) => e.type === 'started');
    assert.equal(started?.type === 'started' && started.resumedFrom, 2);
    assert.ok(events.some((e) => e.type === 'log' && e.level === 'warn' && /damaged checkpoint.*step-4/.test(e.message)));
  });

  it('a finished run is never resumed, and trying neither changes its record nor its audit log', async () => {
    const task = moodTask(32);
    const end = await train(config(task, { maxSteps: 2, checkpointEvery: 1 }));
    assert.equal(end.type, 'finished');
    const runsDir = join(task.dir, 'runs');
    const runDir = join(runsDir, listRuns(runsDir)[0].id);
    const before = readFileSync(join(runDir, 'run.json'), 'utf8');
    const auditBefore = readFileSync(join(runsDir, 'audit.jsonl'), 'utf8');
    // Even with its latest checkpoint damaged (the case that used to rewrite it "failed at step 0").
    writeFileSync(join(listCheckpoints(runDir).at(-1)!.dir, 'optimizer.safetensors'), Buffer.alloc(5));
    await assert.rejects(train({} as never, { resumeDir: runDir }), /is finished; a finished run is not resumed/);
    assert.equal(readFileSync(join(runDir, 'run.json'), 'utf8'), before);
    assert.equal(readFileSync(join(runsDir, 'audit.jsonl'), 'utf8'), auditBefore);
    assert.equal(readRunRecord(runDir).status, 'finished');
  });

  it('checkpoints at least every checkpointSeconds of training even with checkpointEvery 0', async () => {
    const task = moodTask(32);
    const events: TrainerEvent[] = [];
    await train(config(task, { maxSteps: 3, checkpointEvery: 0, checkpointSeconds: 0.001 }), { emit: (e) => events.push(e) });
    // Every step has its checkpoint (at step 3 the end-of-run evaluation's best one is it).
    assert.deepEqual(events.filter((e) => e.type === 'checkpoint').map((e) => e.type === 'checkpoint' && e.step), [1, 2, 3]);
  });

  it('the end of a run is one audit line with the tool version and the SHA-256 of the checkpoint it wrote', async () => {
    const task = moodTask(32);
    const end = await train(config(task, { maxSteps: 2, checkpointEvery: 2 }));
    assert.equal(end.type, 'finished');
    const runsDir = join(task.dir, 'runs');
    const id = listRuns(runsDir)[0].id;
    const lines = readAudit(runsDir).filter((a) => a.runId === id);
    assert.deepEqual(lines.map((a) => a.action), ['started', 'finished']);
    const fin = lines[1] as (typeof lines)[number] & { version?: string };
    assert.match(fin.version ?? '', /^\d+\.\d+\.\d+/);
    const key = `${id}/checkpoints/step-2/trainable.safetensors`;
    assert.equal(fin.files?.[key], sha256File(join(runsDir, key)));
  });
});
