// What the Runs tree and the leaderboard show of an experiment, from its state.json and the
// running trial's progress: statuses in words, a killed experiment told from a live one, the
// JSON Lines of `adapt-lab experiment --jsonl` read (and refused when they do not fit).
import { strict as assert } from 'node:assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExperimentState, TrialState } from '../../src/protocol/experiment';
import { EXPERIMENTS_DIR, listExperiments, STATE_FILE } from '../../src/engine/core/experiment/state';
import { experimentStatus, experimentSummary, experimentView, trialLabel } from '../../src/extension/experiments/view';
import { parseExperimentLine } from '../../src/extension/experiments/lines';
import { makeRun, tempRunsDir } from '../webview/runs';

const trial = (index: number, status: TrialState['status'], extra: Partial<TrialState> = {}): TrialState => ({
  index, params: { 'training.learningRate': [0.004, 0.008, 0.016][index % 3], adapt: { lora: { rank: 8, targetModules: ['q_proj', 'v_proj'] } } },
  seed: 0, group: `g${index}`, status, curve: [], steps: 0, ...extra,
});

function state(trials: TrialState[], extra: Partial<ExperimentState> = {}): ExperimentState {
  return {
    version: 1, name: 'lr-sweep', file: '/w/lr.experiment.json', specHash: 'h', objective: { metric: 'accuracy', forgettingCeiling: 25 },
    stopping: { rule: 'none' }, createdAt: '2026-01-01T00:00:00Z', updatedAt: '2026-01-01T00:10:00Z', status: 'running', trials, ...extra,
  };
}

describe('experiments in the extension: the view of an experiment', () => {
  it('says each trial\'s status in words, with the step of the running one', () => {
    assert.equal(trialLabel({ status: 'pending', steps: 0 }, 'running'), 'queued');
    assert.equal(trialLabel({ status: 'running', steps: 0 }, 'running'), 'starting');
    assert.equal(trialLabel({ status: 'running', steps: 3 }, 'running', { step: 40, totalSteps: 170 }), 'running step 40/170');
    assert.equal(trialLabel({ status: 'running', steps: 12 }, 'running'), 'running step 12');
    assert.equal(trialLabel({ status: 'pruned', steps: 30 }, 'running'), 'stopped early');
    assert.equal(trialLabel({ status: 'finished', steps: 170 }, 'finished'), 'done');
    assert.equal(trialLabel({ status: 'failed', steps: 2 }, 'finished'), 'failed');
    assert.match(trialLabel({ status: 'running', steps: 12 }, 'interrupted'), /^interrupted at step 12 \(continues/);
  });

  it('an experiment whose state says running but whose process is gone is interrupted', () => {
    const s = state([trial(0, 'running')], { process: { pid: 999_999_999, token: 't' } });
    assert.equal(experimentStatus(s, false), 'interrupted');
    assert.equal(experimentStatus(s, true), 'running', 'this window runs it');
    assert.equal(experimentStatus(s, false, () => true), 'running', 'its process is alive');
    assert.equal(experimentStatus({ ...s, status: 'finished' }, false), 'finished');
    assert.equal(experimentStatus({ ...s, status: 'stopped' }, false), 'stopped');
  });

  it('builds rows, trials and axes from state.json; the running trial\'s step comes from live events, else from its metrics', () => {
    const runsDir = tempRunsDir();
    const runDir = makeRun(runsDir, { name: 't2', lr: 0.016, rank: 8, steps: 30, seed: 1, end: false });
    const s = state([
      trial(0, 'finished', { objective: 0.9, accuracy: 0.9, forgettingPercent: 40, runDir: join(runsDir, 'a') }),
      trial(1, 'finished', { objective: 0.7, accuracy: 0.7, forgettingPercent: 10, runDir: join(runsDir, 'b') }),
      trial(2, 'running', { runDir, steps: 20 }),
      trial(3, 'pending'),
    ], { process: { pid: process.pid, token: 'not-ours' } });
    const fromDisk = experimentView('/x', s, { live: false, alive: () => true });
    assert.equal(fromDisk.status, 'running');
    assert.deepEqual(fromDisk.axes, ['training.learningRate', 'adapt']);
    assert.deepEqual(fromDisk.trials.map((t) => t.label), ['done', 'done', 'running step 30/30', 'queued']);
    assert.equal(fromDisk.trials[2].totalSteps, 30);
    // Trial 1 is within the forgetting ceiling: it ranks before trial 0 despite a lower accuracy.
    assert.deepEqual(fromDisk.rows.map((r) => r.group), ['g1', 'g0', 'g2', 'g3']);
    assert.equal(fromDisk.higherIsBetter, true);
    const live = experimentView('/x', s, { live: true, progress: new Map([[2, { step: 25, totalSteps: 170 }]]) });
    assert.equal(live.trials[2].label, 'running step 25/170');
    assert.equal(experimentSummary(live), '2/4 trials · trial 3 running step 25/170 · best accuracy 0.700');
    const killed = experimentView('/x', s, { alive: () => false });
    assert.equal(killed.status, 'interrupted');
    assert.match(experimentSummary(killed), /^2\/4 trials · interrupted · best accuracy 0\.700$/);
  });

  it('lists the experiments under a runs folder, newest first, and an unreadable state with its reason', () => {
    const runsDir = tempRunsDir();
    const put = (name: string, text: string) => {
      mkdirSync(join(runsDir, EXPERIMENTS_DIR, name), { recursive: true });
      writeFileSync(join(runsDir, EXPERIMENTS_DIR, name, STATE_FILE), text);
    };
    put('old', JSON.stringify(state([trial(0, 'finished')], { name: 'old', createdAt: '2026-01-01T00:00:00Z' })));
    put('new', JSON.stringify(state([trial(0, 'pending')], { name: 'new', createdAt: '2026-02-01T00:00:00Z' })));
    put('broken', '{"version": 1, "name": ');
    const all = listExperiments(runsDir);
    assert.deepEqual(all.filter((l) => l.state).map((l) => l.state!.name), ['new', 'old']);
    const broken = all.find((l) => !l.state)!;
    assert.match(broken.problem!, /broken[\\/]state\.json: unreadable experiment state/);
    assert.deepEqual(listExperiments(join(runsDir, 'none')), []);
  });

  it('reads the JSON Lines of `adapt-lab experiment --jsonl` and refuses lines that do not fit', () => {
    assert.deepEqual(parseExperimentLine('{"type":"experimentStarted","time":"t","name":"e","dir":"/d","trials":3,"resumed":false}'),
      { type: 'experimentStarted', time: 't', name: 'e', dir: '/d', trials: 3, resumed: false });
    const step = parseExperimentLine(JSON.stringify({ type: 'trialEvent', index: 1, event: { type: 'step', time: '2026-01-01T00:00:00Z', step: 4, loss: 2.5, lr: 0.001, gradNorm: 1, tokensPerSec: 100, elapsedMs: 10 } }));
    assert.equal(step?.type, 'trialEvent');
    assert.equal(parseExperimentLine(JSON.stringify({ type: 'trialEvent', index: 1, event: { type: 'step', step: 'four' } })), undefined);
    assert.equal(parseExperimentLine('{"type":"trialStarted"}'), undefined);
    assert.equal(parseExperimentLine('stopping after this step'), undefined);
    assert.equal(parseExperimentLine('{"type":"plan","trials":[]}'), undefined);
  });
});
