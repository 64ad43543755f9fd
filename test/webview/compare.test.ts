// The Compare Runs page in headless Chromium, fed by the host's loader (loadCompareRun) from
// run folders on disk: overlaid curves, the hyperparameter table with "differences only",
// evaluation reports side by side.
import assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { browserUnavailable, launchChromium, openWebview, Webview } from './harness';
import { makeRun, tempRunsDir, writeEval } from './runs';
import { loadCompareRun } from '../../src/extension/compare/data';
import type { CompareHostMessage } from '../../src/protocol/webview';

describe('webview: Compare Runs (Chromium, stubbed VS Code API)', function () {
  this.timeout(120_000);
  let browser: Browser;
  let w: Webview | undefined;
  let runsDir: string;
  let message: CompareHostMessage;

  before(async function () {
    const why = browserUnavailable('compare');
    if (why) {
      console.log(`    skipped: ${why}`);
      this.skip();
    }
    runsDir = tempRunsDir();
    const dirs = [
      makeRun(runsDir, { name: 'lr-2e-4', lr: 2e-4, rank: 8, steps: 400, seed: 1 }),
      makeRun(runsDir, { name: 'lr-5e-4', lr: 5e-4, rank: 8, steps: 300, seed: 2, scale: 0.85 }),
      makeRun(runsDir, { name: 'rank-16', lr: 2e-4, rank: 16, steps: 350, seed: 3, scale: 1.1, end: false }),
    ];
    writeEval(dirs[0], 0.86, 2.5);
    writeEval(dirs[1], 0.91, 6.1);
    message = { type: 'compare', runs: dirs.map(loadCompareRun) };
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    if (runsDir) rmSync(runsDir, { recursive: true, force: true });
  });
  afterEach(async () => {
    if (w) assert.deepEqual(await w.problems(), [], 'no CSP violations or page errors');
    await w?.close();
    w = undefined;
  });

  it('overlays every run, tabulates hyperparameters with "differences only", shows eval reports', async () => {
    w = await openWebview(browser, 'compare', { width: 1100, height: 1000 });
    assert.deepEqual(await w.posted(), [{ type: 'ready' }]);
    await w.send(message);
    await w.page.waitForSelector('#compare-chart[data-series="3"]');
    assert.equal(await w.page.getAttribute('#compare-chart', 'data-lines'), '6', 'train and validation per run');

    const keys = () => w!.page.$$eval('#hyperparameters tbody tr', (rows) => rows.map((r) => r.getAttribute('data-key')));
    const all = await keys();
    for (const k of ['status', 'method', 'backend used', 'trainable %', 'best val loss', 'training.learningRate', 'adapt.lora.rank', 'training.batchSize']) {
      assert.ok(all.includes(k), `row ${k}`);
    }
    await w.page.click('#differences-only');
    await w.page.waitForFunction((n) => document.querySelectorAll('#hyperparameters tbody tr').length < n, all.length);
    const diff = await keys();
    assert.ok(diff.includes('training.learningRate') && diff.includes('adapt.lora.rank') && diff.includes('status'), diff.join(', '));
    assert.ok(!diff.includes('training.batchSize') && !diff.includes('backend used'), 'equal rows hidden');
    assert.equal(((await w.state()) as { differencesOnly: boolean }).differencesOnly, true);

    assert.equal(await w.page.isVisible('.problem'), false, 'every run read without a problem');
    assert.equal(await w.page.getAttribute('#evals', 'data-reports'), '2');
    const cards = await w.page.$$eval('#evals .card', (cs) => cs.map((c) => c.textContent ?? ''));
    assert.match(cards[0], /accuracy 12% → 86%/);
    assert.match(cards[0], /forgetting.*\+2\.5% ppl/);
    assert.match(cards[1], /91%/);
    assert.match(cards[2], /No evaluation report/);

    await w.page.click('#differences-only'); // the screenshot shows the whole table
    mkdirSync('test-results/webview', { recursive: true });
    await w.page.waitForTimeout(200);
    await w.page.screenshot({ path: 'test-results/webview/compare.png', fullPage: true });
  });

  it('smoothing and log scale apply to the overlaid curves', async () => {
    w = await openWebview(browser, 'compare', { state: { smoothing: 0, logScale: false, differencesOnly: false } });
    await w.send(message);
    await w.page.waitForSelector('#compare-chart[data-series="3"]');
    const train = (i: number) => w!.page.evaluate((k) => (window as unknown as { __compare: { smoothedTrain(i: number): number[] } }).__compare.smoothedTrain(k), i);
    assert.deepEqual(await train(1), message.runs[1].train.map((p) => p[1]), 'smoothing 0 = raw');
    await w.page.locator('#smoothing').fill('0.95');
    await w.page.waitForFunction(() => (window as unknown as { __compare: { ui: { smoothing: number } } }).__compare.ui.smoothing === 0.95);
    assert.notDeepEqual(await train(1), message.runs[1].train.map((p) => p[1]));
    await w.page.click('#log-scale');
    await w.page.waitForFunction(() => (window as unknown as { __compare: { yScaleType(): string } }).__compare.yScaleType() === 'logarithmic');
    assert.deepEqual(await w.state(), { smoothing: 0.95, logScale: true, differencesOnly: false, groupBy: '' });
  });

  it('colours the overlays by a configuration field (runs sharing a learning rate share a colour), remembered', async () => {
    w = await openWebview(browser, 'compare', { width: 1100, height: 900 });
    await w.send(message);
    await w.page.waitForSelector('#compare-chart[data-series="3"]');
    const options = await w.page.$$eval('#group-by option', (os) => os.map((o) => (o as HTMLOptionElement).value));
    assert.equal(options[0], '', '"each run" first');
    assert.ok(options.includes('training.learningRate') && options.includes('adapt.lora.rank') && !options.includes('training.batchSize'), options.join(', '));
    type Line = { label: string; color: string };
    const lines = () => w!.page.evaluate(() => (window as unknown as { __compare: { lines(): unknown } }).__compare.lines()) as Promise<Line[]>;
    const colorOfRun = (ls: Line[], name: string) => ls.find((l) => l.label === `${name} · train`)!.color;
    let ls = await lines();
    assert.equal(new Set(['lr-2e-4', 'lr-5e-4', 'rank-16'].map((n) => colorOfRun(ls, n))).size, 3, 'a colour per run');
    await w.page.selectOption('#group-by', 'training.learningRate');
    await w.page.waitForSelector('#compare-chart[data-groups="2"]');
    ls = await lines();
    assert.equal(colorOfRun(ls, 'lr-2e-4'), colorOfRun(ls, 'rank-16'), 'same learning rate, same colour');
    assert.notEqual(colorOfRun(ls, 'lr-2e-4'), colorOfRun(ls, 'lr-5e-4'));
    const legend = await w.page.$$eval('.runs .group', (gs) => gs.map((g) => g.textContent));
    assert.deepEqual(legend, ['training.learningRate = 0.00022 runs', 'training.learningRate = 0.00051 run']);
    assert.equal(((await w.state()) as { groupBy: string }).groupBy, 'training.learningRate');
    await w.page.waitForTimeout(200);
    mkdirSync('test-results/webview', { recursive: true });
    await w.page.screenshot({ path: 'test-results/webview/compare-grouped.png', fullPage: true });
    // Reopened: grouped the same way.
    const state = await w.state();
    await w.close();
    w = await openWebview(browser, 'compare', { state });
    await w.send(message);
    await w.page.waitForSelector('#compare-chart[data-groups="2"][data-group-by="training.learningRate"]');
  });
});
