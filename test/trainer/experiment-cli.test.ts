// `adapt-lab experiment` as a process: trials run as normal runs, a SIGKILL mid-trial is
// continued by running the same command again (finished trials kept, the interrupted one
// resumed from its checkpoint), hopeless trials are stopped by the median rule, and the
// leaderboard is printed.
import { strict as assert } from 'node:assert';
import { fork, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { sharedPath } from '../helpers/shared';
import { runJsonlProcess } from '../helpers/jsonl-process';
import { moodTask } from '../helpers/tasks';
import { readMetrics } from '../../src/engine/core/runs/store';
import { ExperimentState } from '../../src/protocol/experiment';

const CLI = resolve('dist/cli.js');
const MODEL = sharedPath('models/stories260K/stories260K.gguf');

type Line = { type: string; index?: number; resumed?: boolean; event?: { type: string; step?: number }; [k: string]: unknown };

function runExperiment(file: string, onLine?: (l: Line, kill: () => void) => void) {
  return runJsonlProcess<Line>(CLI, ['experiment', file, '--jsonl'], onLine);
}

function writeExperiment(dir: string, exp: object): string {
  const path = join(dir, `e-${Math.random().toString(36).slice(2)}.experiment.json`);
  writeFileSync(path, JSON.stringify(exp));
  return path;
}

const baseConfig = (task: { train: string; validation: string }) => ({
  model: MODEL, data: { train: task.train, validation: task.validation },
  adapt: { lora: { rank: 4, targetModules: ['q_proj', 'v_proj'] } },
  training: { maxSteps: 6, batchSize: 4, evalEvery: 2, checkpointEvery: 1, maxLength: 48 },
  backend: 'cpu', runsDir: 'runs',
});

const stateOf = (dir: string, name: string): ExperimentState => JSON.parse(readFileSync(join(dir, 'runs', 'experiments', name, 'state.json'), 'utf8'));

describe('adapt-lab experiment (process)', function () {
  this.timeout(600_000);

  it('continues after SIGKILL: finished trials kept, the interrupted one resumed from its checkpoint', async () => {
    const task = moodTask(32);
    const file = writeExperiment(task.dir, {
      name: 'resume', base: baseConfig(task), axes: { 'training.learningRate': [0.002, 0.01, 0.02] }, stopping: 'none',
    });
    const first = await runExperiment(file, (l, kill) => {
      if (l.type === 'trialEvent' && l.index === 1 && l.event?.type === 'checkpoint' && (l.event.step ?? 0) >= 3) kill();
    });
    assert.equal(first.signal, 'SIGKILL', first.stderr);
    let state = stateOf(task.dir, 'resume');
    assert.equal(state.trials[0].status, 'finished');
    assert.equal(state.trials[1].status, 'running');
    const trial0Run = state.trials[0].runDir!;
    const trial1Run = state.trials[1].runDir!;
    assert.ok(trial1Run && existsSync(trial1Run));

    const second = await runExperiment(file);
    assert.equal(second.code, 0, second.stderr);
    const starts = second.lines.filter((l) => l.type === 'trialStarted');
    assert.deepEqual(starts.map((l) => [l.index, l.resumed]), [[1, true], [2, false]]);
    assert.equal(second.lines[0].type, 'experimentStarted');
    assert.equal(second.lines[0].resumed, true);
    state = stateOf(task.dir, 'resume');
    assert.deepEqual(state.trials.map((t) => t.status), ['finished', 'finished', 'finished']);
    assert.equal(state.trials[0].runDir, trial0Run);
    assert.equal(state.trials[1].runDir, trial1Run);
    // The resumed run continued from its checkpoint: one run folder, 6 steps, none repeated twice after the resume point.
    const steps = readMetrics(trial1Run).filter((e) => e.type === 'step').map((e) => (e as { step: number }).step);
    assert.equal(Math.max(...steps), 6);
    assert.ok(new Set(steps).size === 6, `steps ${steps}`);
    const end = second.lines.find((l) => l.type === 'experimentEnded') as unknown as { leaderboard: { rank: number; objective: { mean: number } | null }[] };
    assert.equal(end.leaderboard.length, 3);
    assert.ok(end.leaderboard.every((r) => r.objective && Number.isFinite(r.objective.mean)));
    const means = end.leaderboard.map((r) => r.objective!.mean);
    assert.deepEqual(means, [...means].sort((a, b) => a - b));

    // A third run has nothing left to do; a changed file is refused rather than mixed in.
    const third = await runExperiment(file);
    assert.equal(third.lines.filter((l) => l.type === 'trialStarted').length, 0);
    const changed = JSON.parse(readFileSync(file, 'utf8'));
    changed.axes['training.learningRate'] = [0.003];
    writeFileSync(file, JSON.stringify(changed));
    const r = spawnSync(process.execPath, [CLI, 'experiment', file], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /experiment "resume" was started with other settings; .*--restart/);
  });

  it('stops a hopeless trial by the median rule and ranks it after the completed ones; prints the leaderboard', async () => {
    const task = moodTask(32);
    const file = writeExperiment(task.dir, {
      name: 'median', base: baseConfig(task),
      // Three useful learning rates, then one far too small to move the loss.
      axes: { 'training.learningRate': [0.01, 0.02, 0.015, 1e-7] },
      stopping: { rule: 'median', minTrials: 3, graceSteps: 1 },
    });
    const r = spawnSync(process.execPath, [CLI, 'experiment', file], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const state = stateOf(task.dir, 'median');
    assert.deepEqual(state.trials.map((t) => t.status), ['finished', 'finished', 'finished', 'pruned']);
    assert.match(state.trials[3].reason!, /median stopping at step 2/);
    assert.ok(state.trials[3].steps < 6);
    assert.match(r.stdout, /leaderboard \(valLoss, lower is better\)/);
    const rows = r.stdout.split('\n').filter((l) => /^\d+\s/.test(l));
    assert.equal(rows.length, 4);
    assert.match(rows[3], /pruned/);
    assert.match(rows[3], /training\.learningRate=1e-7/);
  });

  it('the time budget counts earlier sessions: a resumed experiment does not get its minutes afresh', async () => {
    const task = moodTask(32);
    const exp = { name: 'clock', base: baseConfig(task), axes: { 'training.learningRate': [0.002, 0.01] }, stopping: 'none', budget: { trials: 1 } };
    const file = writeExperiment(task.dir, exp);
    const first = await runExperiment(file);
    assert.equal(first.code, 0, first.stderr);
    let state = stateOf(task.dir, 'clock');
    assert.deepEqual(state.trials.map((t) => t.status), ['finished', 'pending']);
    assert.ok((state.elapsedSeconds ?? 0) > 0, 'elapsed time recorded');
    assert.equal(state.process, undefined, 'no live process recorded once it ended');
    // Two minutes already spent, and the budget is now one minute: nothing more runs.
    state.elapsedSeconds = 120;
    writeFileSync(join(task.dir, 'runs', 'experiments', 'clock', 'state.json'), JSON.stringify(state));
    writeFileSync(file, JSON.stringify({ ...exp, budget: { minutes: 1 } }));
    const second = await runExperiment(file);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.lines.filter((l) => l.type === 'trialStarted').length, 0);
    assert.match(String(second.lines.find((l) => l.type === 'experimentEnded')?.note), /budget: 1 minutes/);
    state = stateOf(task.dir, 'clock');
    assert.equal(state.trials[1].status, 'pending');
  });

  it('forked with IPC (as the extension runs it), "stop" stops the running trial with a checkpoint; the state says stopped and names no live process', async () => {
    const task = moodTask(32);
    const file = writeExperiment(task.dir, { name: 'ipc', base: { ...baseConfig(task), training: { ...baseConfig(task).training, maxSteps: 400 } }, axes: { 'training.learningRate': [0.002, 0.01] }, stopping: 'none' });
    const child = fork(CLI, ['experiment', file, '--jsonl'], { silent: true });
    let out = '';
    let sent = false;
    let live: ExperimentState | undefined;
    child.stdout!.on('data', (d) => {
      out += d;
      if (!sent && /"type":"checkpoint"/.test(out)) {
        sent = true;
        live = stateOf(task.dir, 'ipc');
        child.send({ type: 'stop' });
      }
    });
    const code = await new Promise<number | null>((res) => child.on('close', (c) => res(c)));
    assert.equal(code, 0);
    assert.ok(sent, 'a checkpoint was reached');
    assert.equal(live?.process?.pid, child.pid, 'the running state names its process');
    const state = stateOf(task.dir, 'ipc');
    assert.equal(state.status, 'stopped');
    assert.equal(state.process, undefined);
    assert.equal(state.trials[0].status, 'running', 'the stopped trial resumes next time');
    assert.ok(state.trials[0].steps < 400);
    assert.equal(state.trials[1].status, 'pending');
  });
});
