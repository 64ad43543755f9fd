// The Monitor's W&B/TensorBoard-style axes in a real VS Code (code-server, headless Chromium):
// a run of the embedded model from a config that chooses its checkpoint by evaluation, the
// charts switched to tokens seen and to training time, the System panels (step time, tokens/s,
// CPU %, RSS) drawn, the chosen checkpoint marked, and the axis remembered when the view is
// hidden and shown again. Screenshots: monitor-axes-tokens.png, monitor-axes-time.png,
// monitor-axes-system.png in test-results/e2e/.
import { strict as assert } from 'node:assert';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Browser, Frame, Page } from 'playwright-core';
import { CodeServer, launchBrowser, moodWorkspace, openWorkbench, REPO, screenshotPath, sleep, startCodeServer, tempRoot, waitFor, workbenchUrl } from '../harness';
import { driver } from './driver';

let cs: CodeServer;
let browser: Browser;
let page: Page;
const { runCommand, pick, frameWith, dataNumber } = driver(() => page);
const sample = (f: string) => join(REPO, 'samples', f);
const runsDir = () => join(cs.workspace, '.adapt-lab', 'runs');

function runRecord(): { status: string; chosenCheckpoint?: { step: number; by: string } } | undefined {
  if (!existsSync(runsDir())) return undefined;
  const d = readdirSync(runsDir()).find((x) => existsSync(join(runsDir(), x, 'run.json')));
  return d ? JSON.parse(readFileSync(join(runsDir(), d, 'run.json'), 'utf8')) : undefined;
}

describe('Monitor axes and system panels (code-server, Chromium)', function () {
  this.timeout(300_000);

  before(async function () {
    this.timeout(240_000);
    const root = tempRoot('monitor-axes');
    const workspace = moodWorkspace(root, {
      config: {
        name: 'axes', model: join(REPO, 'models', 'adapt-lab-tiny'),
        data: { train: sample('train.jsonl'), validation: sample('validation.jsonl'), prompts: sample('demo.prompts.jsonl'), probe: sample('probe.txt'), replay: sample('replay.txt') },
        adapt: { lora: { rank: 8, alpha: 16, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'] } },
        training: { maxSteps: 40, batchSize: 8, maxLength: 64, learningRate: 0.008, warmupSteps: 5, evalEvery: 10, checkpointEvery: 10, selectCheckpoint: 'eval', forgettingCeiling: 25 },
      },
    });
    cs = await startCodeServer(workspace, root);
    browser = await launchBrowser();
    page = await openWorkbench(browser, workbenchUrl(cs));
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && page) await page.screenshot({ path: screenshotPath('ui-failed-monitor-axes.png') }).catch(() => undefined);
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    await cs?.stop();
    if (cs && !process.env.E2E_KEEP) rmSync(cs.root, { recursive: true, force: true });
  });

  it('Monitor axes: tokens seen and training time, the System panels, the checkpoint chosen by evaluation, the axis remembered', async () => {
    await runCommand('Adapt Lab: Adapt Model from Config');
    await pick('adapt-lab.json');
    // Give the Monitor the side bar's height: fold Layers and Runs.
    await page.locator('.pane-header', { hasText: 'Layers' }).first().click();
    await page.locator('.pane-header', { hasText: 'Runs' }).first().click();
    let monitor: Frame = await frameWith('#loss-chart', 90_000);
    await waitFor('the run finished', () => runRecord()?.status === 'finished', 240_000, 1000);
    await waitFor('all 40 steps in the Monitor', async () => (await dataNumber(monitor, '#loss-chart', 'points')) === 40, 30_000, 300);
    const chosen = runRecord()!.chosenCheckpoint!;
    assert.equal(chosen.by, 'eval');
    await waitFor('the chosen checkpoint marked', async () => (await monitor.getAttribute('#loss-chart', 'data-chosen-step')) === String(chosen.step), 30_000, 300);

    await monitor.selectOption('#x-axis', 'tokens');
    await monitor.waitForSelector('#loss-chart[data-axis="tokens"][data-points="40"]');
    const lastX = () => monitor.evaluate(() => {
      const loss = (window as unknown as { __monitor: { drawn(): { loss: number[][] } } }).__monitor.drawn().loss;
      return loss[loss.length - 1][0];
    });
    await waitFor('x in tokens', async () => (await lastX()) > 40, 10_000, 200); // tokens, not steps
    assert.match((await monitor.textContent('.loss .card-head')) ?? '', new RegExp(`chosen: step ${chosen.step}, accuracy`));
    await sleep(400);
    await page.screenshot({ path: screenshotPath('monitor-axes-tokens.png') });

    await monitor.selectOption('#x-axis', 'time');
    await monitor.waitForSelector('#loss-chart[data-axis="time"][data-points="40"]');
    await sleep(400);
    await page.screenshot({ path: screenshotPath('monitor-axes-time.png') });

    await monitor.locator('#cpu-chart').scrollIntoViewIfNeeded();
    for (const id of ['step', 'tps', 'cpu', 'mem']) {
      await waitFor(`the ${id} panel drawn`, async () => (await dataNumber(monitor, `#${id}-chart`, 'points')) === 40, 20_000, 300);
    }
    await sleep(400);
    await page.screenshot({ path: screenshotPath('monitor-axes-system.png') });

    // Hidden and shown again: the page reloads and draws by time, as it was left.
    const header = page.locator('.pane-header', { hasText: 'Monitor' }).first();
    await header.click();
    await sleep(500);
    await header.click();
    monitor = await frameWith('#loss-chart[data-points="40"]', 60_000);
    assert.equal(await monitor.inputValue('#x-axis'), 'time');
    await monitor.waitForSelector('#loss-chart[data-axis="time"]');
  });
});
