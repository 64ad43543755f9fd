// The median stopping rule and the leaderboard's ranking.
import { strict as assert } from 'node:assert';
import { shouldStop, bestUpTo, median } from '../../../src/engine/experiment/stopping';
import { leaderboard, formatLeaderboard } from '../../../src/engine/core/experiment/leaderboard';
import { TrialState } from '../../../src/protocol/experiment';
import { mixReplay } from '../../../src/engine/train/replay';
import { Rng } from '../../../src/engine/random';

function trial(index: number, curve: [number, number][], extra: Partial<TrialState> = {}): TrialState {
  return { index, params: { i: index }, seed: 0, group: `g${index}`, status: 'finished', curve, steps: curve.length ? curve[curve.length - 1][0] : 0, ...extra };
}

describe('median stopping', () => {
  const rule = { rule: 'median' as const, minTrials: 3, graceSteps: 10 };
  const done = [trial(0, [[10, 3], [20, 2]]), trial(1, [[10, 2.5], [20, 1.5]]), trial(2, [[10, 4], [20, 3.5]])];

  it('stops a trial whose best so far is worse than the median of the completed ones at that step', () => {
    // At step 20 the completed trials' bests are 2, 1.5, 3.5: median 2.
    assert.match(shouldStop(rule, [[10, 3.2], [20, 2.6]], 20, done)!, /median stopping at step 20: .*2\.6000 .*median 2\.0000 of 3/);
    assert.equal(shouldStop(rule, [[10, 3.2], [20, 1.9]], 20, done), undefined);
  });

  it('never before minTrials completed trials, within the grace steps, or without a point yet', () => {
    assert.equal(shouldStop(rule, [[20, 9]], 20, done.slice(0, 2)), undefined);
    assert.equal(shouldStop(rule, [[10, 9]], 10, done), undefined);
    assert.equal(shouldStop(rule, [], 20, done), undefined);
    assert.equal(shouldStop({ rule: 'none' }, [[20, 9]], 20, done), undefined);
  });

  it('compares bests up to the same step', () => {
    assert.equal(bestUpTo([[10, 3], [20, 2], [30, 1]], 25), 2);
    assert.equal(bestUpTo([[10, 3]], 5), undefined);
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 2, 3]), 2.5);
  });
});

describe('leaderboard', () => {
  it('averages seeds, puts rows over the forgetting ceiling after feasible ones, pruned and failed last', () => {
    const trials: TrialState[] = [
      trial(0, [[10, 1]], { group: 'a', params: { lr: 1 }, seed: 0, objective: 0.9, accuracy: 0.9, forgettingPercent: 40 }),
      trial(1, [[10, 1]], { group: 'b', params: { lr: 2 }, seed: 0, objective: 0.8, accuracy: 0.8, forgettingPercent: 10 }),
      trial(2, [[10, 1]], { group: 'b', params: { lr: 2 }, seed: 1, objective: 0.6, accuracy: 0.6, forgettingPercent: 20 }),
      trial(3, [[10, 5]], { group: 'c', params: { lr: 3 }, status: 'pruned' }),
      trial(4, [[10, 0.5]], { group: 'd', params: { lr: 4 }, objective: 0.5, accuracy: 0.5, forgettingPercent: 5 }),
    ];
    const rows = leaderboard({ trials, objective: { metric: 'accuracy', forgettingCeiling: 25 } });
    assert.deepEqual(rows.map((r) => r.group), ['b', 'd', 'a', 'c']);
    assert.equal(rows[0].objective!.n, 2);
    assert.ok(Math.abs(rows[0].objective!.mean - 0.7) < 1e-12);
    assert.ok(Math.abs(rows[0].objective!.std - Math.sqrt(0.02)) < 1e-12);
    assert.equal(rows[2].feasible, false);
    assert.equal(rows[3].objective, null);
    const text = formatLeaderboard(rows, 'accuracy', 25);
    assert.match(text, /0\.700 ± 0\.141/);
    assert.match(text, /\+40% ✗/);
    // Lower is better for validation loss.
    const byLoss = leaderboard({ trials: trials.map((t) => ({ ...t, objective: t.bestValLoss ?? t.curve[0][1] })), objective: { metric: 'valLoss' } });
    assert.equal(byLoss[0].group, 'd');
  });
});

describe('replay mix', () => {
  const ex = (n: number, tag: number) => Array.from({ length: n }, (_, i) => ({ ids: [tag, i], mask: new Uint8Array([0, 1]) }));
  it('adds replay chunks making up the fraction of the mix, cycling when they run out, reproducibly', () => {
    const task = ex(30, 1);
    const mixed = mixReplay(task, ex(4, 2), 0.25, new Rng(5));
    assert.equal(mixed.length, 40);
    assert.equal(mixed.filter((e) => e.ids[0] === 2).length, 10);
    assert.equal(mixed.filter((e) => e.ids[0] === 1).length, 30);
    assert.deepEqual(mixed.map((e) => e.ids), mixReplay(task, ex(4, 2), 0.25, new Rng(5)).map((e) => e.ids));
    assert.equal(mixReplay(task, ex(4, 2), 0, new Rng(5)), task);
    assert.throws(() => mixReplay(task, ex(4, 2), 1, new Rng(5)), /\[0, 1\)/);
  });
});
