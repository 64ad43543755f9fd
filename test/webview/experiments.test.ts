// The experiment leaderboard page in headless Chromium (the page the extension serves, strict
// CSP, stubbed VS Code API), fed the host's view of an experiment: rows ranked, a click on a
// column sorts (remembered), the parallel-coordinates chart has a line per trial, Promote posts
// the row's best seed, and an unfinished trial cannot become the active run.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { browserUnavailable, launchChromium, openWebview, Webview } from './harness';
import { experimentView } from '../../src/extension/experiments/view';
import type { ExperimentState, TrialState } from '../../src/protocol/experiment';
import type { LeaderboardHostMessage } from '../../src/protocol/experiment-view';

const lora = (t: unknown) => ({ lora: { rank: 8, alpha: 16, targetModules: t } });
function trial(index: number, seed: number, lr: number, targets: unknown, o: Partial<TrialState>): TrialState {
  return {
    index, seed, group: `${lr}-${JSON.stringify(targets)}`, params: { 'training.learningRate': lr, adapt: lora(targets) }, status: 'finished',
    curve: [[10, 2]], steps: 40, runDir: `/runs/t${index}`, trainableParams: targets === 'all-linear' ? 98304 : 40960, secondsPerStep: 0.3 + index / 10, peakRssMiB: 300 + index, ...o,
  };
}
const state: ExperimentState = {
  version: 1, name: 'mood-sweep', file: '/w/mood.experiment.json', specHash: 'h', objective: { metric: 'accuracy', forgettingCeiling: 25 },
  stopping: { rule: 'none' }, createdAt: '2026-01-01T00:00:00Z', updatedAt: '2026-01-01T00:00:00Z', status: 'running',
  trials: [
    trial(0, 0, 0.004, ['q_proj', 'v_proj'], { objective: 0.6, accuracy: 0.6, forgettingPercent: 10 }),
    trial(1, 0, 0.008, ['q_proj', 'v_proj'], { objective: 0.9, accuracy: 0.9, forgettingPercent: 24 }),
    trial(2, 0, 0.008, 'all-linear', { objective: 1, accuracy: 1, forgettingPercent: 600 }),
    trial(3, 1, 0.004, ['q_proj', 'v_proj'], { objective: 0.7, accuracy: 0.7, forgettingPercent: 12 }),
    trial(4, 1, 0.008, ['q_proj', 'v_proj'], { status: 'running', runDir: '/runs/t4', objective: undefined, steps: 12 }),
    trial(5, 1, 0.008, 'all-linear', { status: 'pending', runDir: undefined, objective: undefined, steps: 0 }),
  ],
};

describe('webview: experiment leaderboard (Chromium, stubbed VS Code API)', function () {
  this.timeout(120_000);
  let browser: Browser;
  let w: Webview | undefined;
  const message: LeaderboardHostMessage = { type: 'experiment', view: experimentView('/runs/experiments/mood-sweep', state, { live: true, progress: new Map([[4, { step: 12, totalSteps: 40 }]]) }) };

  before(async function () {
    const why = browserUnavailable('experiments');
    if (why) {
      console.log(`    skipped: ${why}`);
      this.skip();
    }
    browser = await launchChromium();
  });
  after(async () => browser?.close());
  afterEach(async () => {
    if (w) assert.deepEqual(await w.problems(), [], 'no CSP violations or page errors');
    await w?.close();
    w = undefined;
  });

  it('ranks the configurations, sorts by a clicked column (remembered), draws a line per trial and promotes a row\'s best seed', async () => {
    w = await openWebview(browser, 'experiments', { width: 1200, height: 1100 });
    assert.deepEqual(await w.posted(), [{ type: 'ready' }]);
    await w.send(message);
    await w.page.waitForSelector('#leaderboard[data-rows="3"]');
    const col = (n: number) => w!.page.$$eval(`#leaderboard tbody tr td:nth-child(${n})`, (tds) => tds.map((t) => t.textContent ?? ''));
    // Within the ceiling first (0.004 q/v: 0.650 ± 0.071 over 2 seeds; 0.008 q/v: 0.900), then the forgetful all-linear.
    assert.deepEqual(await col(2), ['0.900', '0.650 ± 0.071', '1.000']);
    assert.match((await col(4))[2], /\+600% ✗/);
    assert.match((await col(9))[0], /adapt LoRA r8 q_proj,v_proj/);
    await w.page.click('th[data-key="accuracy"]');
    await w.page.waitForSelector('#leaderboard[data-sort="accuracy:desc"]');
    assert.deepEqual(await col(3), ['100%', '90%', '65%']);
    await w.page.click('th[data-key="accuracy"]');
    await w.page.waitForSelector('#leaderboard[data-sort="accuracy:asc"]');
    assert.deepEqual(await w.state(), { sort: { key: 'accuracy', ascending: true } });
    await w.page.click('th[data-key="trainable"]');
    await w.page.waitForSelector('#leaderboard[data-sort="trainable:asc"]');
    assert.deepEqual((await col(5)).map((t) => t.replace(/,/g, '')), ['40960', '40960', '98304']);

    await w.page.waitForSelector('#parallel-chart[data-lines="6"][data-axes="3"]');
    const statuses = await w.page.$$eval('#trials td.trial-status', (tds) => tds.map((t) => t.textContent));
    assert.deepEqual(statuses, ['done', 'done', 'done', 'done', 'running step 12/40', 'queued']);

    // Promote on the 0.004 q/v row acts on its best seed: trial 3 (0.7) rather than trial 0 (0.6).
    await w.page.click('th[data-key="rank"]');
    await w.page.waitForSelector('#leaderboard[data-sort="rank:asc"]');
    await w.page.click('#leaderboard tbody tr:nth-child(2) vscode-button[data-action="activeRun"]');
    await w.page.click('#leaderboard tbody tr:nth-child(2) vscode-button[data-action="export"]');
    const posted = (await w.posted()).slice(1);
    assert.deepEqual(posted, [{ type: 'promote', trial: 3, action: 'activeRun' }, { type: 'promote', trial: 3, action: 'export' }]);
    mkdirSync('test-results/webview', { recursive: true });
    await w.page.screenshot({ path: 'test-results/webview/experiment-leaderboard.png', fullPage: true });
  });

  it('a row whose only trial is still running cannot be made the active run', async () => {
    const running: ExperimentState = { ...state, trials: [trial(0, 0, 0.004, ['q_proj'], { status: 'running', objective: undefined, steps: 3 })] };
    w = await openWebview(browser, 'experiments', { width: 1000, height: 700 });
    await w.send({ type: 'experiment', view: experimentView('/x', running, { live: true }) });
    await w.page.waitForSelector('#leaderboard[data-rows="1"]');
    assert.equal(await w.page.$('#leaderboard vscode-button[data-action="activeRun"]'), null, 'no finished or stopped trial: no Promote');
    assert.equal(await w.page.textContent('#trials td.trial-status'), 'running step 3');
  });
});
