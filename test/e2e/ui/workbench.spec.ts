// What a user does, in a real VS Code (code-server) in headless Chromium: Layers for
// stories260K with a ticked block, Adapt Model through the command palette with the Monitor's
// loss chart growing, the run in the Runs view, and Compare Runs with both curves.
// Screenshots go to test-results/e2e/.
import { strict as assert } from 'node:assert';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Browser, Page } from 'playwright-core';
import {
  CodeServer, launchBrowser, moodWorkspace, openWorkbench, screenshotPath, sleep, startCodeServer, STORIES, tempRoot, waitFor, workbenchUrl,
} from '../harness';
import { driver } from './driver';

let cs: CodeServer;
let browser: Browser;
let page: Page;

const runsDir = () => join(cs.workspace, '.adapt-lab', 'runs');

function runRecords(): { id: string; name: string; status: string; dir: string }[] {
  if (!existsSync(runsDir())) return [];
  return readdirSync(runsDir()).filter((d) => existsSync(join(runsDir(), d, 'run.json'))).map((d) => ({ ...JSON.parse(readFileSync(join(runsDir(), d, 'run.json'), 'utf8')), dir: join(runsDir(), d) }));
}

const quickInput = () => page.locator('.quick-input-widget');
const rows = () => page.locator('.quick-input-widget .monaco-list-row');
const { runCommand, pick, answer, frameWith, dataNumber } = driver(() => page);

describe('Adapt Lab in code-server (Chromium)', function () {
  this.timeout(180_000);

  before(async function () {
    this.timeout(240_000);
    const root = tempRoot('ui');
    const workspace = moodWorkspace(root, {
      config: {
        name: 'from-config', model: STORIES(), data: { train: 'data/train.jsonl', validation: 'data/val.jsonl' },
        adapt: { unfreeze: ['model.layers.4'] }, training: { maxSteps: 12, batchSize: 8, maxLength: 48, learningRate: 0.001, evalEvery: 3 },
      },
    });
    cs = await startCodeServer(workspace, root, { 'adaptLab.extraModels': [STORIES()] });
    browser = await launchBrowser();
    page = await openWorkbench(browser, workbenchUrl(cs));
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && page) {
      const name = `ui-failed-${(this.currentTest.title.match(/^[A-Za-z ]+/)?.[0] ?? 'test').trim().replace(/\s+/g, '-').toLowerCase()}.png`;
      await page.screenshot({ path: screenshotPath(name) }).catch(() => undefined);
    }
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    await cs?.stop();
    if (cs && !process.env.E2E_KEEP) rmSync(cs.root, { recursive: true, force: true });
  });

  it('Layers: choose stories260K, tick a block, see the trainable total', async () => {
    await runCommand('Adapt Lab: Choose Model for Layers');
    await pick('stories260K');
    const tree = page.locator('.pane', { has: page.locator('.pane-header', { hasText: 'Layers' }) });
    const block = tree.locator('.monaco-list-row', { hasText: 'layers.4' }).first();
    await block.waitFor({ state: 'visible', timeout: 60_000 });
    const header = tree.locator('.pane-header');
    await waitFor('the Layers description', async () => /292,800 params/.test(await header.innerText()), 30_000);
    await page.screenshot({ path: screenshotPath('layers.png') });
    await block.locator('.custom-view-tree-node-item-checkbox, .monaco-checkbox, input[type=checkbox]').first().click();
    await waitFor('45,440 trainable in the Layers title', async () => /45,440 trainable \(15\.52%\)/.test(await header.innerText()), 30_000);
    await tree.locator('.monaco-list-row', { hasText: 'layers.3' }).first().locator('.custom-view-tree-node-item-checkbox, .monaco-checkbox, input[type=checkbox]').first().click();
    await waitFor('90,880 trainable', async () => /90,880 trainable/.test(await header.innerText()), 30_000);
    await page.screenshot({ path: screenshotPath('layers-ticked.png') });
  });

  it('Adapt Model from the command palette trains stories260K; the Monitor\'s loss chart gains points; the run appears in Runs', async () => {
    const before = runRecords().length;
    await runCommand('Adapt Lab: Adapt Model');
    await pick('stories260K');
    await pick('train.jsonl');
    await pick('LoRA on all linear layers');
    await answer('Training steps', '40');
    await answer('Peak learning rate', '0.003');
    await answer('Batch size');
    await answer('LoRA rank', '4');
    await page.screenshot({ path: screenshotPath('adapt-summary.png') });
    await pick('Start');
    const run = await waitFor('a new run folder', () => runRecords().length > before && runRecords().find((r) => r.name === 'stories260K-lora-all'), 90_000);

    // Give the Monitor the height of the side bar: fold the Layers view.
    await page.locator('.pane-header', { hasText: 'Layers' }).first().click();
    const monitor = await frameWith('#loss-chart', 90_000);
    const first = await waitFor('loss points in the Monitor', async () => {
      const n = await dataNumber(monitor, '#loss-chart', 'points');
      return n > 0 ? n : undefined;
    }, 120_000, 300);
    const later = await waitFor('more loss points', async () => {
      const n = await dataNumber(monitor, '#loss-chart', 'points');
      return n >= first + 8 ? n : undefined;
    }, 120_000, 300);
    assert.ok(later > first);
    await page.screenshot({ path: screenshotPath('monitor.png') });
    await waitFor('the run finished', () => runRecords().find((r) => r.dir === run.dir)?.status === 'finished', 150_000, 1000);
    await waitFor('all 40 steps in the chart', async () => (await dataNumber(monitor, '#loss-chart', 'points')) === 40, 30_000, 300);
    await sleep(500);
    await page.screenshot({ path: screenshotPath('monitor-final.png') });

    const runsPane = page.locator('.pane', { has: page.locator('.pane-header', { hasText: 'Runs' }) });
    const row = runsPane.locator('.monaco-list-row', { hasText: 'stories260K-lora-all' }).first();
    await row.waitFor({ state: 'visible', timeout: 30_000 });
    await waitFor('the finished icon', async () => (await row.locator('.codicon-pass').count()) > 0, 30_000);
    assert.match(await row.innerText(), /LoRA r4/);
    await page.screenshot({ path: screenshotPath('runs.png') });
  });

  it('Adapt Model from Config starts a second run; Compare Runs shows both curves', async () => {
    await runCommand('Adapt Lab: Adapt Model from Config');
    await pick('adapt-lab.json');
    const run = await waitFor('the config run', () => runRecords().find((r) => r.name === 'from-config'), 90_000);
    await waitFor('the config run finished', () => runRecords().find((r) => r.dir === run.dir)?.status === 'finished', 150_000, 1000);
    assert.equal(runRecords().length, 2);

    await runCommand('Adapt Lab: Compare Runs');
    await rows().filter({ hasText: 'from-config' }).first().waitFor({ state: 'visible', timeout: 30_000 });
    await page.locator('.quick-input-widget .quick-input-header > [role=checkbox], .quick-input-widget .quick-input-header > .monaco-checkbox').first().click();
    await quickInput().getByText('2 Selected').waitFor({ state: 'visible', timeout: 10_000 });
    await quickInput().getByRole('button', { name: 'OK' }).click();
    const compare = await frameWith('#compare-chart', 90_000);
    await waitFor('two curves', async () => (await dataNumber(compare, '#compare-chart', 'series')) === 2, 60_000, 300);
    await sleep(500);
    await page.screenshot({ path: screenshotPath('compare.png') });
  });

  it('Adapt Model → Run with torchrun… trains on PyTorch (2 processes); the run finishes in Runs with its loss curve in the Monitor', async () => {
    const before = new Set(runRecords().map((r) => r.dir));
    await runCommand('Adapt Lab: Adapt Model');
    await pick('stories260K');
    await pick('train.jsonl');
    await pick('LoRA on all linear layers');
    await answer('Training steps', '20');
    await answer('Peak learning rate', '0.003');
    await answer('Batch size');
    await answer('LoRA rank', '4');
    await pick('Run with torchrun');
    await answer('torchrun processes', '2');
    const run = await waitFor('a new torchrun run', () => runRecords().find((r) => !before.has(r.dir)), 120_000);
    await waitFor('the torchrun run finished', () => runRecords().find((r) => r.dir === run.dir)?.status === 'finished', 240_000, 1000);
    const rec = JSON.parse(readFileSync(join(run.dir, 'run.json'), 'utf8')) as { method: string; backend?: { name: string; label?: string } };
    assert.match(rec.method, /\(PyTorch\)/);
    assert.equal(rec.backend?.name, 'pytorch');
    assert.match(rec.backend?.label ?? '', /DDP × 2/);
    const monitor = await frameWith('#loss-chart', 90_000);
    await waitFor('20 loss points of the torchrun run', async () => (await dataNumber(monitor, '#loss-chart', 'points')) === 20, 60_000, 300);
    await sleep(500);
    await page.screenshot({ path: screenshotPath('torchrun-monitor.png') });
  });
});
