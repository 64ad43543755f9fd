// Checkpoints chosen by evaluation (training.selectCheckpoint "eval"): the ranking rule, the
// config checks, and runs on stories260K in which every kept checkpoint is judged on the
// prompt cases and the probe, the winner is best/ (what eval and export read) and run.json
// says so, a resume keeps the choice, and the step events carry the Monitor's axes.
import { strict as assert } from 'node:assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sharedPath } from '../../helpers/shared';
import { moodCases, moodTask } from '../../helpers/tasks';
import { selectBackend } from '../../../src/engine/backend';
import { validateRunConfig } from '../../../src/engine/core/run-config';
import { train } from '../../../src/engine/train/trainer';
import { TrainerControl } from '../../../src/engine/train/control';
import { betterCheckpoint, CheckpointScore } from '../../../src/engine/train/select';
import { createRun, readRunRecord } from '../../../src/engine/core/runs/store';
import { CheckpointEvalEvent, StepEvent, TrainerEvent } from '../../../src/protocol/events';
import { RunModel } from '../../../webview/monitor/model';

const MODEL = sharedPath('models/stories260K/stories260K.gguf');

const score = (o: Partial<CheckpointScore> & { step: number }): CheckpointScore => ({ accuracy: 0.5, weightedError: 0.5, overCeiling: false, ...o });

/** The choice the rule makes over scores in order: the index of the last one that beat the choice so far. */
function expectedChoice(scores: CheckpointScore[]): CheckpointScore {
  let chosen: CheckpointScore | undefined;
  for (const s of scores) if (betterCheckpoint(s, chosen)) chosen = s;
  return chosen!;
}

describe('checkpoints chosen by evaluation', function () {
  this.timeout(300_000);

  it('ranks under the forgetting ceiling first, then accuracy, weighted error, forgetting; a tie keeps the earlier', () => {
    assert.equal(betterCheckpoint(score({ step: 10 }), undefined), true);
    assert.equal(betterCheckpoint(score({ step: 20, accuracy: 1, overCeiling: true }), score({ step: 10, accuracy: 0.2 })), false, 'over the ceiling loses to any under it');
    assert.equal(betterCheckpoint(score({ step: 20, accuracy: 0.2 }), score({ step: 10, accuracy: 1, overCeiling: true })), true);
    assert.equal(betterCheckpoint(score({ step: 20, accuracy: 0.9 }), score({ step: 10, accuracy: 0.8 })), true);
    assert.equal(betterCheckpoint(score({ step: 20, accuracy: 0.9, weightedError: 0.2 }), score({ step: 10, accuracy: 0.9, weightedError: 0.1 })), false);
    assert.equal(betterCheckpoint(score({ step: 20, forgettingPercent: 5 }), score({ step: 10, forgettingPercent: 12 })), true, 'equal accuracy: less forgetting wins');
    assert.equal(betterCheckpoint(score({ step: 20, forgettingPercent: 5 }), score({ step: 10, forgettingPercent: 5 })), false, 'a full tie keeps the earlier');
    assert.equal(betterCheckpoint(score({ step: 20, accuracy: 0.6, overCeiling: true }), score({ step: 10, accuracy: 0.5, overCeiling: true })), true, 'both over: by accuracy');
  });

  it('the config fields are checked with the other run-config fields', () => {
    const base = { model: MODEL, data: { train: 't.jsonl', prompts: 'p.jsonl', probe: 'probe.txt' }, adapt: { lora: {} } };
    const ok = validateRunConfig({ ...base, training: { selectCheckpoint: 'eval', forgettingCeiling: 25 } }, '/w', 'a.json');
    assert.equal(ok.training.selectCheckpoint, 'eval');
    assert.equal(ok.training.forgettingCeiling, 25);
    assert.equal(validateRunConfig({ ...base, training: {} }, '/w', 'a.json').training.selectCheckpoint, undefined, 'no default written: absent is "loss"');
    const refuse = (cfg: object, re: RegExp) => assert.throws(() => validateRunConfig(cfg, '/w', 'a.json'), re);
    refuse({ ...base, training: { selectCheckpoint: 'accuracy' } }, /a\.json: training\.selectCheckpoint must be one of "loss", "eval", got "accuracy"/);
    refuse({ ...base, data: { train: 't.jsonl' }, training: { selectCheckpoint: 'eval' } }, /training\.selectCheckpoint "eval" judges checkpoints on prompt cases: set data\.prompts/);
    refuse({ ...base, training: { forgettingCeiling: 25 } }, /forgettingCeiling applies to checkpoints chosen by evaluation/);
    refuse({ ...base, data: { train: 't.jsonl', prompts: 'p.jsonl' }, training: { selectCheckpoint: 'eval', forgettingCeiling: 25 } }, /forgettingCeiling needs a probe text/);
    refuse({ ...base, training: { selectCheckpoint: 'eval', forgettingCeiling: -1 } }, /forgettingCeiling must be/);
  });

  it('run.json records the chosen checkpoint: best validation loss, unless evaluation chose', () => {
    const task = moodTask(4);
    const cfg = validateRunConfig({ model: MODEL, data: { train: task.train }, adapt: { lora: {} }, runsDir: join(task.dir, 'runs') }, task.dir, 'a.json');
    const run = createRun(cfg.runsDir, { name: 'r', config: cfg, method: 'LoRA', files: [] });
    const time = new Date().toISOString();
    run.appendEvent({ type: 'eval', time, step: 10, valLoss: 1.5, perplexity: 4.5, tokenAccuracy: 0.5, best: true });
    run.appendEvent({ type: 'checkpoint', time, step: 10, path: join(run.dir, 'checkpoints', 'step-10'), best: true });
    assert.deepEqual(readRunRecord(run.dir).chosenCheckpoint, { step: 10, by: 'loss', valLoss: 1.5 });
    run.appendEvent({ type: 'checkpointEval', time, step: 20, accuracy: 0.75, weightedError: 0.25, forgettingPercent: 3, overCeiling: false, chosen: true });
    run.appendEvent({ type: 'checkpoint', time, step: 20, path: join(run.dir, 'checkpoints', 'step-20'), best: true });
    run.appendEvent({ type: 'checkpointEval', time, step: 30, accuracy: 0.5, weightedError: 0.5, overCeiling: false, chosen: false });
    assert.deepEqual(readRunRecord(run.dir).chosenCheckpoint, { step: 20, by: 'eval', accuracy: 0.75, weightedError: 0.25, forgettingPercent: 3, overCeiling: false });
  });

  describe('on stories260K', () => {
    let task: { dir: string; train: string; validation: string };
    let prompts: string;
    let probe: string;
    before(async () => {
      await selectBackend({ backend: 'wasm' });
      task = moodTask(64);
      prompts = join(task.dir, 'cases.prompts.jsonl');
      writeFileSync(prompts, moodCases(8, 5).map((c, i) => JSON.stringify({ id: `c${i}`, prompt: c.prompt, expected: c.mood, match: 'contains' })).join('\n'));
      probe = join(task.dir, 'probe.txt');
      writeFileSync(probe, 'Once upon a time, there was a little girl named Lily. She liked to play outside with her dog. One day, the sun was hot and they went to the park to find a big tree.\n');
    });
    const config = (training: object) => validateRunConfig({
      model: MODEL, data: { train: task.train, validation: task.validation, prompts, probe }, adapt: { lora: {} },
      training: { maxSteps: 30, batchSize: 16, learningRate: 0.01, warmupSteps: 2, evalEvery: 5, checkpointEvery: 10, checkpointSeconds: 0, maxLength: 48, selectCheckpoint: 'eval', ...training },
      seed: 0, backend: 'wasm', runsDir: join(task.dir, 'runs'), name: 'select',
    }, task.dir, 'test.json');

    it('judges every kept checkpoint; the winner is best/, run.json\'s choice and what the end-of-run report evaluated', async () => {
      const events: TrainerEvent[] = [];
      const end = await train(config({}), { emit: (e) => events.push(e) });
      assert.equal(end.type, 'finished', JSON.stringify(end));
      const judged = events.filter((e): e is CheckpointEvalEvent => e.type === 'checkpointEval');
      assert.deepEqual(judged.map((e) => e.step), [10, 20, 30], 'each kept checkpoint, not each better validation loss');
      const scores = judged.map((e) => ({ step: e.step, accuracy: e.accuracy, weightedError: e.weightedError, forgettingPercent: e.forgettingPercent, overCeiling: e.overCeiling }));
      assert.ok(scores.every((s) => typeof s.forgettingPercent === 'number' && Number.isFinite(s.forgettingPercent)), 'forgetting measured against the base');
      const want = expectedChoice(scores);
      console.log(`      judged: ${scores.map((c) => `step ${c.step} ${(100 * c.accuracy).toFixed(0)}% ${c.forgettingPercent! >= 0 ? '+' : ''}${c.forgettingPercent!.toFixed(1)}%`).join(', ')}; chosen step ${want.step}`);
      // The chosen flags follow the rule, and only chosen checkpoints became best/.
      let sofar: CheckpointScore | undefined;
      judged.forEach((e, i) => {
        const should = betterCheckpoint(scores[i], sofar);
        if (should) sofar = scores[i];
        assert.equal(e.chosen, should, `step ${e.step}`);
      });
      const bestSteps = events.filter((e) => e.type === 'checkpoint' && e.best).map((e) => e.type === 'checkpoint' && e.step);
      assert.deepEqual(bestSteps, judged.filter((e) => e.chosen).map((e) => e.step));
      const runDir = (events.find((e) => e.type === 'started') as { runDir: string }).runDir;
      const best = JSON.parse(readFileSync(join(runDir, 'checkpoints', 'best', 'state.json'), 'utf8'));
      assert.equal(best.step, want.step, 'best/ holds the chosen checkpoint');
      const rec = readRunRecord(runDir);
      assert.equal(rec.chosenCheckpoint?.by, 'eval');
      assert.equal(rec.chosenCheckpoint?.step, want.step);
      assert.equal(rec.chosenCheckpoint?.accuracy, want.accuracy);
      // The report at the end evaluates best/ with the adapter merged: the same greedy accuracy as judged on the live model.
      const report = JSON.parse(readFileSync(join(runDir, 'eval.json'), 'utf8'));
      assert.equal(report.adapter.step, want.step, 'the report evaluated the chosen checkpoint');
      assert.equal(report.adapted.accuracy, want.accuracy);
      assert.ok(Math.abs(report.forgetting.changePercent - want.forgettingPercent!) < 0.01, `${report.forgetting.changePercent} vs ${want.forgettingPercent}`);
      assert.ok(events.some((e) => e.type === 'log' && new RegExp(`result \\(best/\\) is the checkpoint at step ${want.step}, chosen by evaluation`).test(e.message)));
      // The Monitor marks it.
      const m = new RunModel();
      events.forEach((e) => m.apply(e));
      assert.deepEqual([m.chosen?.step, m.chosen?.by], [want.step, 'eval']);
      // Judging leaves training alone: the same losses as the same run choosing by validation loss.
      const plain: TrainerEvent[] = [];
      assert.equal((await train(config({ selectCheckpoint: undefined }), { emit: (e) => plain.push(e) })).type, 'finished');
      const losses = (es: TrainerEvent[]) => es.filter((e): e is StepEvent => e.type === 'step').map((e) => e.loss);
      assert.deepEqual(losses(events), losses(plain));
      assert.ok(!plain.some((e) => e.type === 'checkpointEval'));
      const bestEval = plain.filter((e) => e.type === 'eval' && e.best).at(-1)!;
      const plainDir = (plain.find((e) => e.type === 'started') as { runDir: string }).runDir;
      assert.deepEqual(readRunRecord(plainDir).chosenCheckpoint, { step: bestEval.type === 'eval' ? bestEval.step : -1, by: 'loss', valLoss: bestEval.type === 'eval' ? bestEval.valLoss : -1 });
      // The step events carry the Monitor's axes.
      const steps = events.filter((e): e is StepEvent => e.type === 'step');
      steps.forEach((s, i) => {
        const tokens = Math.round(s.tokensPerSecond * s.stepSeconds!);
        assert.equal(s.tokensSeen, (i ? steps[i - 1].tokensSeen! : 0) + tokens, `step ${s.step}: tokens seen add up`);
        assert.ok(s.elapsedSeconds! >= (i ? steps[i - 1].elapsedSeconds! : 0) + s.stepSeconds! - 1e-6, `step ${s.step}: training time`);
        assert.ok(Number.isFinite(s.cpuPercent) && s.cpuPercent! > 0, `step ${s.step}: CPU ${s.cpuPercent}`);
      });
    });

    it('a stopped and resumed run keeps its choice and its base perplexity; tokens and time continue', async () => {
      const control = new TrainerControl();
      const first: TrainerEvent[] = [];
      const stopped = await train(config({}), { control, emit: (e) => { first.push(e); if (e.type === 'step' && e.step === 15) control.stop(); } });
      assert.equal(stopped.type, 'stopped');
      const runDir = (first.find((e) => e.type === 'started') as { runDir: string }).runDir;
      const second: TrainerEvent[] = [];
      const end = await train(config({}), { resumeDir: runDir, emit: (e) => second.push(e) });
      assert.equal(end.type, 'finished', JSON.stringify(end));
      const judged = [...first, ...second].filter((e): e is CheckpointEvalEvent => e.type === 'checkpointEval');
      assert.deepEqual(judged.map((e) => e.step), [10, 15, 20, 30], 'the stop\'s checkpoint is judged too');
      let sofar: CheckpointScore | undefined;
      for (const e of judged) {
        const s = { step: e.step, accuracy: e.accuracy, weightedError: e.weightedError, forgettingPercent: e.forgettingPercent, overCeiling: e.overCeiling };
        assert.equal(e.chosen, betterCheckpoint(s, sofar), `step ${e.step}: judged against the choice made before the stop`);
        if (e.chosen) sofar = s;
      }
      const best = JSON.parse(readFileSync(join(runDir, 'checkpoints', 'best', 'state.json'), 'utf8'));
      assert.equal(best.step, sofar!.step);
      const latest = JSON.parse(readFileSync(join(runDir, 'checkpoints', 'step-30', 'state.json'), 'utf8'));
      const stopAt = JSON.parse(readFileSync(join(runDir, 'checkpoints', 'best', 'state.json'), 'utf8'));
      assert.equal(latest.meta.baseProbePerplexity, stopAt.meta.baseProbePerplexity, 'the base is measured once');
      assert.equal(latest.meta.chosen.step, sofar!.step);
      const before = first.filter((e): e is StepEvent => e.type === 'step').find((e) => e.step === 15)!;
      const after = second.find((e): e is StepEvent => e.type === 'step')!;
      assert.equal(after.step, 16);
      assert.equal(after.tokensSeen, before.tokensSeen! + Math.round(after.tokensPerSecond * after.stepSeconds!), 'tokens continue from the checkpoint');
      assert.ok(after.elapsedSeconds! > before.elapsedSeconds!, 'training time continues');
    });
  });
});
