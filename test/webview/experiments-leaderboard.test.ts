// The leaderboard page's pure parts: sorting by each column (best first on the first click,
// rows without a value last, ties in rank order), the parallel-coordinates data (axes per
// field, values normalised, log scale for learning rates, categories for methods and files,
// lines coloured from worst to best objective), and the short labels of axis values.
import { strict as assert } from 'node:assert';
import { axisValueLabel, LeaderboardRow } from '../../src/protocol/experiment';
import { parseLeaderboardHostMessage, parseLeaderboardWebviewMessage, ViewTrial } from '../../src/protocol/experiment-view';
import { columns, nextSort, sortRows } from '../../webview/experiments/table';
import { axisTitle, parallelData, qualityColor } from '../../webview/experiments/parallel';

function row(rank: number, o: Partial<LeaderboardRow>): LeaderboardRow {
  return {
    rank, group: `g${rank}`, params: {}, trials: [rank - 1], seeds: [0], status: 'finished', objective: null, accuracy: null, forgettingPercent: null,
    bestValLoss: null, trainableParams: null, secondsPerStep: null, peakRssMiB: null, feasible: true, ...o,
  };
}

const rows = [
  row(1, { objective: { mean: 0.925, std: 0, n: 1 }, accuracy: 0.925, forgettingPercent: 24.8, trainableParams: 40960, secondsPerStep: 0.5, peakRssMiB: 300 }),
  row(2, { objective: { mean: 0.625, std: 0.05, n: 2 }, accuracy: 0.625, forgettingPercent: 16.2, trainableParams: 40960, secondsPerStep: 0.4, peakRssMiB: 310 }),
  row(3, { objective: { mean: 1, std: 0, n: 1 }, accuracy: 1, forgettingPercent: 1455, trainableParams: 98304, secondsPerStep: 0.9, peakRssMiB: 420, feasible: false }),
  row(4, { status: 'pruned' }),
];

describe('webview: experiment leaderboard (pure parts)', () => {
  const cols = columns(true, 'accuracy');
  const by = (key: string, ascending: boolean) => sortRows(rows, { key: key as never, ascending }, cols).map((r) => r.rank);

  it('sorts by every column the issue names; rows without a value stay last; ties keep the rank order', () => {
    assert.deepEqual(by('rank', true), [1, 2, 3, 4]);
    assert.deepEqual(by('objective', false), [3, 1, 2, 4]);
    assert.deepEqual(by('accuracy', true), [2, 1, 3, 4]);
    assert.deepEqual(by('forgetting', true), [2, 1, 3, 4]);
    assert.deepEqual(by('forgetting', false), [3, 1, 2, 4]);
    assert.deepEqual(by('trainable', true), [1, 2, 3, 4], 'equal counts keep rank order');
    assert.deepEqual(by('secondsPerStep', true), [2, 1, 3, 4]);
    assert.deepEqual(by('peakMemory', false), [3, 2, 1, 4]);
  });

  it('a first click sorts best first (descending for accuracy, ascending for forgetting), a second reverses', () => {
    const acc = cols.find((c) => c.key === 'accuracy')!;
    const fgt = cols.find((c) => c.key === 'forgetting')!;
    assert.deepEqual(nextSort({ key: 'rank', ascending: true }, acc), { key: 'accuracy', ascending: false });
    assert.deepEqual(nextSort({ key: 'accuracy', ascending: false }, acc), { key: 'accuracy', ascending: true });
    assert.deepEqual(nextSort({ key: 'accuracy', ascending: false }, fgt), { key: 'forgetting', ascending: true });
    // Lower is better for a validation-loss objective.
    const lossObjective = columns(false, 'valLoss').find((c) => c.key === 'objective')!;
    assert.deepEqual(nextSort({ key: 'rank', ascending: true }, lossObjective), { key: 'objective', ascending: true });
  });

  const trial = (index: number, params: Record<string, unknown>, objective?: number): ViewTrial => ({
    index, seed: 0, group: String(index), status: objective === undefined ? 'pruned' : 'finished', label: '', params, steps: 10, objective,
  });
  const lora = (targets: unknown) => ({ lora: { rank: 8, alpha: 16, targetModules: targets } });
  const trials = [
    trial(0, { 'data.replay': null, 'training.learningRate': 0.004, adapt: lora(['q_proj', 'v_proj']) }, 1),
    trial(1, { 'data.replay': '/w/replay.txt', 'training.learningRate': 0.04, adapt: lora('all-linear') }, 0.8),
    trial(2, { 'data.replay': '/w/replay.txt', 'training.learningRate': 0.0004, adapt: lora(['q_proj', 'v_proj']) }, 0.5),
    trial(3, { 'data.replay': null, 'training.learningRate': 0.004, adapt: lora('all-linear') }),
  ];
  const axes = ['data.replay', 'training.learningRate', 'adapt'];

  it('parallel coordinates: one axis per field plus the objective; numbers by value (log for a wide range), the rest as categories', () => {
    const d = parallelData(trials, axes, 'accuracy', true);
    assert.deepEqual(d.axes.map((a) => a.label), ['replay', 'learningRate', 'adapt', 'accuracy']);
    assert.equal(d.axes[1].log, true);
    assert.deepEqual(d.axes[0].ticks.map((t) => t.text), ['none', 'replay.txt']);
    assert.deepEqual(d.axes[2].ticks.map((t) => t.text), ['LoRA r8 q_proj,v_proj', 'LoRA r8 all-linear']);
    assert.equal(d.lines.length, 4);
    // Log scale: 0.0004 → 0, 0.004 → 0.5, 0.04 → 1.
    const r = (x: number | null) => (x === null ? null : Math.round(x * 1e9) / 1e9);
    assert.deepEqual(d.lines.map((l) => r(l.ys[1])), [0.5, 1, 0, 0.5]);
    assert.deepEqual(d.lines.map((l) => l.ys[0]), [0, 1, 1, 0]);
    // The objective axis: 0.5 → 0, 1 → 1; the pruned trial has none.
    assert.deepEqual(d.lines.map((l) => r(l.ys[3])), [1, 0.6, 0, null]);
    assert.deepEqual(d.lines.map((l) => r(l.quality)), [1, 0.6, 0, null]);
    assert.deepEqual(d.lines[1].texts, ['replay.txt', '0.04', 'LoRA r8 all-linear', '0.800']);
  });

  it('lower-is-better objectives colour the lowest value best; a narrow numeric range stays linear; a field missing in a trial is a gap', () => {
    const t = [trial(0, { 'training.learningRate': 0.004, 'adapt.lora.rank': 4 }, 2.1), trial(1, { 'training.learningRate': 0.006 }, 1.9), trial(2, { 'training.learningRate': 0.008, 'adapt.lora.rank': 8 }, 2.5)];
    const d = parallelData(t, ['training.learningRate', 'adapt.lora.rank'], 'valLoss', false);
    assert.equal(d.axes[0].log, false);
    assert.deepEqual(d.lines.map((l) => l.ys[0]), [0, 0.5, 1]);
    assert.deepEqual(d.lines.map((l) => l.ys[1]), [0, null, 1]);
    assert.equal(d.lines[1].quality, 1);
    assert.equal(d.lines[2].quality, 0);
    assert.equal(axisTitle('adapt.lora.rank'), 'rank');
    assert.equal(qualityColor(1), 'hsl(120, 70%, 50%)');
    assert.equal(qualityColor(0), 'hsl(0, 70%, 50%)');
    assert.equal(qualityColor(null), 'hsl(0, 0%, 55%)');
  });

  it('axis values as a person reads them', () => {
    assert.equal(axisValueLabel(lora(['q_proj', 'k_proj'])), 'LoRA r8 q_proj,k_proj');
    assert.equal(axisValueLabel({ unfreeze: ['model.layers.4.*'] }), 'unfreeze model.layers.4.*');
    assert.equal(axisValueLabel({ biases: true }), 'biases+norms');
    assert.equal(axisValueLabel(null), 'none');
    assert.equal(axisValueLabel('/a/b/replay.txt'), 'replay.txt');
    assert.equal(axisValueLabel(1e-7), '1e-7');
    assert.equal(axisValueLabel(0.0080000001), '0.008');
    assert.equal(axisValueLabel({ other: 1 }), '{"other":1}');
  });

  it('messages between page and host are checked', () => {
    assert.deepEqual(parseLeaderboardWebviewMessage({ type: 'promote', trial: 2, action: 'export' }), { type: 'promote', trial: 2, action: 'export' });
    assert.throws(() => parseLeaderboardWebviewMessage({ type: 'promote', trial: 2, action: 'delete' }), /action "activeRun" or "export"/);
    assert.throws(() => parseLeaderboardWebviewMessage({ type: 'open', trial: -1 }), /trial index/);
    assert.throws(() => parseLeaderboardWebviewMessage({ type: 'run' }), /unknown message type/);
    assert.throws(() => parseLeaderboardHostMessage({ type: 'experiment', view: { name: 'x', dir: 'd', status: 'running', metric: 'accuracy', axes: [], rows: [], trials: [{ index: 0 }] } }), /trials\[0\]/);
  });
});
