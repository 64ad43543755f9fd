// An experiment as a user runs it, in code-server in headless Chromium: Run Experiment from the
// command palette on a small experiment file (4 trials: learning rate × LoRA targets, a few
// steps each on the embedded model, judged by accuracy with a forgetting ceiling), the Runs view
// with the experiment and its trials' live status, the leaderboard sorted by a column and the
// parallel-coordinates chart. Screenshots: experiment-running.png, experiment-leaderboard*.png,
// experiment-parallel*.png in test-results/e2e/.
import { strict as assert } from 'node:assert';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Browser, Page } from 'playwright-core';
import { CodeServer, launchBrowser, openWorkbench, REPO, screenshotPath, sleep, startCodeServer, tempRoot, waitFor, workbenchUrl } from '../harness';
import { driver } from './driver';

let cs: CodeServer;
let browser: Browser;
let page: Page;
const { runCommand, frameWith, dataNumber } = driver(() => page);
const sample = (f: string) => join(REPO, 'samples', f);
const lora = (targetModules: unknown) => ({ lora: { rank: 4, alpha: 8, targetModules } });

describe('Experiments: Run Experiment, the Runs view and the leaderboard (code-server, Chromium)', function () {
  this.timeout(480_000);

  before(async function () {
    this.timeout(240_000);
    const root = tempRoot('experiments');
    const workspace = join(root, 'workspace');
    mkdirSync(workspace, { recursive: true });
    writeFileSync(join(workspace, 'mood.experiment.json'), JSON.stringify({
      name: 'mood-sweep',
      base: {
        model: join(REPO, 'models', 'adapt-lab-tiny'),
        data: { train: sample('train.jsonl'), validation: sample('validation.jsonl'), prompts: sample('demo.prompts.jsonl'), probe: sample('probe.txt') },
        adapt: lora(['q_proj', 'v_proj']),
        training: { maxSteps: 8, batchSize: 8, maxLength: 64, evalEvery: 4, checkpointEvery: 4 },
      },
      axes: { 'training.learningRate': [0.002, 0.02], adapt: [lora(['q_proj', 'v_proj']), lora('all-linear')] },
      objective: { metric: 'accuracy', forgettingCeiling: 25 },
      stopping: 'none',
    }, null, 2));
    cs = await startCodeServer(workspace, root);
    browser = await launchBrowser();
    page = await openWorkbench(browser, workbenchUrl(cs));
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && page) await page.screenshot({ path: screenshotPath('ui-failed-experiments.png') }).catch(() => undefined);
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    await cs?.stop();
    if (cs && !process.env.E2E_KEEP) rmSync(cs.root, { recursive: true, force: true });
  });

  it('Run Experiment from the palette: the experiment and its trials in Runs with live status, the leaderboard sorted, the parallel coordinates', async () => {
    await runCommand('Adapt Lab: Run Experiment');
    const runsPane = page.locator('.pane', { has: page.locator('.pane-header', { hasText: 'Runs' }) });
    const expRow = runsPane.locator('.monaco-list-row', { hasText: 'mood-sweep' }).first();
    await expRow.waitFor({ state: 'visible', timeout: 90_000 });
    // Give the Runs view the side bar's height (fold the Layers view) and more width (drag its sash).
    await page.locator('.pane-header', { hasText: 'Layers' }).first().click();
    const side = await page.locator('.part.sidebar').boundingBox();
    if (side) {
      await page.mouse.move(side.x + side.width + 1, side.y + side.height / 2);
      await page.mouse.down();
      await page.mouse.move(side.x + side.width + 90, side.y + side.height / 2, { steps: 8 });
      await page.mouse.up();
    }
    const board = await frameWith('#leaderboard', 90_000);

    // Live: one trial trains ("running step n/8"), the later ones are queued.
    await runsPane.locator('.monaco-list-row', { hasText: /running step \d\/8/ }).first().waitFor({ state: 'visible', timeout: 150_000 });
    assert.ok(await runsPane.locator('.monaco-list-row', { hasText: 'queued' }).count() >= 1, 'queued trials listed');
    await board.locator('#trials td.trial-status.running').first().waitFor({ state: 'visible', timeout: 30_000 });
    await page.screenshot({ path: screenshotPath('experiment-running.png') });

    await board.locator('body[data-status="finished"]').waitFor({ state: 'attached', timeout: 420_000 });
    await runsPane.locator('.monaco-list-row', { hasText: 'done' }).nth(3).waitFor({ state: 'visible', timeout: 30_000 });
    assert.equal(await dataNumber(board, '#leaderboard', 'rows'), 4);
    await sleep(500);
    await page.screenshot({ path: screenshotPath('experiment-leaderboard.png') });

    // Sorted by forgetting, least first; a second click reverses it.
    await board.locator('th[data-key="forgetting"]').click();
    await waitFor('sorted by forgetting', async () => (await board.locator('#leaderboard').getAttribute('data-sort')) === 'forgetting:asc', 10_000);
    const forgetting = await board.locator('#leaderboard tbody tr td:nth-child(4)').allInnerTexts();
    const values = forgetting.filter((t) => /\d/.test(t)).map((t) => Number(t.replace(/[^\d.+-]/g, '')));
    assert.deepEqual(values, [...values].sort((x, y) => x - y), `forgetting ascending: ${forgetting.join(' | ')}`);
    await page.screenshot({ path: screenshotPath('experiment-leaderboard-sorted.png') });

    // Parallel coordinates: learning rate, adapt and the objective; one line per trial.
    await board.locator('section.parallel').evaluate((el) => el.scrollIntoView({ block: 'start' }));
    assert.equal(await dataNumber(board, '#parallel-chart', 'axes'), 3);
    assert.equal(await dataNumber(board, '#parallel-chart', 'lines'), 4);
    await sleep(500);
    await page.screenshot({ path: screenshotPath('experiment-parallel.png') });
    await board.locator('section.parallel').screenshot({ path: screenshotPath('experiment-parallel-chart.png') });
  });
});
