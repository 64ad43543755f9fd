// What ships: `npm run package` builds the .vsix, code-server installs it (--install-extension)
// into an empty extensions folder, and a workbench with no extension under development opens a
// workspace holding only the samples' train/validation files. Adapt Model from the command
// palette finds the embedded model inside the installed extension and trains it, with the
// Monitor's loss chart filling; the Get Started walkthrough opens, and its Run Demo button
// adapts, evaluates and shows the report. Screenshots: test-results/e2e/installed-vsix.png,
// walkthrough.png, walkthrough-demo.png (the report's curve) and walkthrough-demo-eval.png (its
// evaluation card).
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Browser, Page } from 'playwright-core';
import {
  CodeServer, codeServerCli, extensionsDir, launchBrowser, openWorkbench, PUBLISHER_NAME, REPO, screenshotPath, sleep, startCodeServer, tempRoot, waitFor,
  workbenchUrl,
} from '../harness';
import { driver } from './driver';

const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;

let root: string;
let cs: CodeServer | undefined;
let browser: Browser | undefined;
let page: Page;
const { runCommand, pick, answer, frameWith, dataNumber } = driver(() => page);
const rows = () => page.locator('.quick-input-widget .monaco-list-row');

interface Rec { id: string; name: string; status: string; dir: string; config: { model: string } }
function runRecords(): Rec[] {
  const dir = join(cs!.workspace, '.adapt-lab', 'runs');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((d) => existsSync(join(dir, d, 'run.json'))).map((d) => ({ ...JSON.parse(readFileSync(join(dir, d, 'run.json'), 'utf8')), dir: join(dir, d) }));
}

describe('The packaged extension, installed from its .vsix', function () {
  this.timeout(240_000);

  before(() => {
    root = tempRoot('vsix');
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && page) {
      await page.screenshot({ path: screenshotPath(`ui-failed-installed-${this.currentTest.title.split(' ')[0].toLowerCase()}.png`) }).catch(() => undefined);
    }
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    await cs?.stop();
    if (!process.env.E2E_KEEP) rmSync(root, { recursive: true, force: true });
  });

  it('npm run package builds it; code-server --install-extension installs it; --list-extensions lists it', () => {
    const vsix = join(root, `adapt-lab-${VERSION}.vsix`);
    const pack = spawnSync(process.execPath, [join(REPO, 'scripts', 'package.mjs'), '--out', vsix], { cwd: REPO, encoding: 'utf8', timeout: 300_000 });
    assert.equal(pack.status, 0, `scripts/package.mjs failed:\n${pack.stdout.slice(-3000)}\n${pack.stderr.slice(-3000)}`);
    assert.match(pack.stdout, /is good/);
    const summary = pack.stdout.split('\n').find((l) => l.startsWith(`${vsix}:`));
    console.log(`      ${summary?.slice(vsix.length + 2)}`);

    const install = codeServerCli(root, ['--install-extension', vsix]);
    assert.equal(install.status, 0, install.output);
    assert.match(install.output, new RegExp(`Extension 'adapt-lab-${VERSION.replace(/\./g, '\\.')}\\.vsix' was successfully installed`), install.output);
    const folder = join(extensionsDir(root), `${PUBLISHER_NAME}-${VERSION}`);
    for (const f of ['package.json', 'dist/extension.js', 'dist/cli.js', 'dist/wasm/tfjs-backend-wasm-simd.wasm', 'dist/webview/monitor.js', 'models/adapt-lab-tiny/model.safetensors', 'samples/demo.config.json']) {
      assert.ok(existsSync(join(folder, f)), `${f} in ${folder}`);
    }
    assert.ok(!existsSync(join(folder, 'node_modules')) && !existsSync(join(folder, 'src')), 'no node_modules or sources');

    const list = codeServerCli(root, ['--list-extensions', '--show-versions']);
    assert.equal(list.status, 0, list.output);
    assert.ok(list.output.split('\n').includes(`${PUBLISHER_NAME}@${VERSION}`), list.output);
  });

  it('Adapt Model in the installed extension: the embedded model comes first, trains, and the Monitor follows', async () => {
    assert.ok(existsSync(join(extensionsDir(root), `${PUBLISHER_NAME}-${VERSION}`)), 'needs the install of the previous test');
    const ws = join(root, 'workspace');
    mkdirSync(ws, { recursive: true });
    for (const f of ['train.jsonl', 'validation.jsonl']) copyFileSync(join(REPO, 'samples', f), join(ws, f));
    cs = await startCodeServer(ws, root, { 'adaptLab.backend': 'auto' });
    browser = await launchBrowser();
    page = await openWorkbench(browser, workbenchUrl(cs, [], { development: false }));

    await runCommand('Adapt Lab: Adapt Model');
    await page.locator('.quick-input-widget .quick-input-title', { hasText: 'Adapt Model: base model' }).waitFor({ state: 'visible', timeout: 60_000 });
    const first = rows().first();
    await first.waitFor({ state: 'visible', timeout: 60_000 });
    const firstText = await first.innerText();
    assert.match(firstText, /adapt-lab-tiny/);
    assert.match(firstText, /embedded/);
    await first.click();
    await pick('train.jsonl');
    await pick('LoRA on attention');
    await answer('Training steps', '40');
    await answer('Peak learning rate', '0.004');
    await answer('Batch size');
    await answer('LoRA rank');
    await pick('Start');
    const run = await waitFor('the run folder', () => runRecords().find((r) => r.name === 'adapt-lab-tiny-lora-attention'), 90_000);
    assert.ok(run.config.model.startsWith(extensionsDir(root)), `the model of the installed extension: ${run.config.model}`);

    await page.locator('.pane-header', { hasText: 'Layers' }).first().click(); // folded: the Monitor gets the height
    const monitor = await frameWith('#loss-chart', 90_000);
    await waitFor('loss points in the Monitor', async () => (await dataNumber(monitor, '#loss-chart', 'points')) > 0, 120_000, 300);
    await waitFor('the run finished', () => runRecords().find((r) => r.dir === run.dir)?.status === 'finished', 180_000, 1000);
    await waitFor('all 40 steps in the chart', async () => (await dataNumber(monitor, '#loss-chart', 'points')) === 40, 30_000, 300);
    await sleep(500);
    await page.screenshot({ path: screenshotPath('installed-vsix.png') });
  });

  it('Get started with Adapt Lab: the walkthrough opens; its Run Demo adapts, evaluates and shows the report', async function () {
    this.timeout(360_000);
    assert.ok(cs, 'needs the workbench of the previous test');
    await page.keyboard.press('Escape');
    await runCommand('Welcome: Open Walkthrough...', /^Welcome: Open Walkthrough/);
    await pick('Get started with Adapt Lab', 30_000);
    const steps = page.locator('.getting-started-step');
    await steps.filter({ hasText: 'Open the samples' }).first().waitFor({ state: 'visible', timeout: 30_000 });
    for (const t of ['Run the demo', 'Try a prompt inline', 'Pick the layers to train']) assert.equal(await steps.filter({ hasText: t }).count(), 1, t);
    // The step's markdown (media/walkthrough/samples.md) renders in a webview beside the steps.
    await waitFor('the step\'s markdown', async () => {
      for (const f of page.frames()) if (await f.getByText('copies five files').count().catch(() => 0)) return true;
      return false;
    }, 30_000, 500);
    await sleep(500);
    await page.screenshot({ path: screenshotPath('walkthrough.png') });

    await steps.filter({ hasText: 'Run the demo' }).first().click();
    await page.getByRole('button', { name: 'Run Demo', exact: true }).click();
    const demo = await waitFor('the demo run', () => runRecords().find((r) => r.name === 'demo-mood-lora'), 90_000);
    assert.ok(demo.config.model.startsWith(extensionsDir(root)), demo.config.model);
    assert.ok(existsSync(join(cs.workspace, 'adapt-lab-samples', 'demo.prompts.jsonl')), 'the samples were copied into the workspace');
    await waitFor('the demo finished and evaluated', () => runRecords().find((r) => r.dir === demo.dir)?.status === 'finished' && existsSync(join(demo.dir, 'eval.json')), 300_000, 1000);
    const report = JSON.parse(readFileSync(join(demo.dir, 'eval.json'), 'utf8'));
    assert.ok(report.adapted.accuracy > report.base.accuracy, `adapted ${report.adapted.accuracy} > base ${report.base.accuracy}`);
    const panel = await frameWith('#compare-chart', 60_000);
    await waitFor('the report with its evaluation card', async () => (await dataNumber(panel, '#evals', 'reports')) === 1, 30_000, 300);
    await sleep(800);
    await page.screenshot({ path: screenshotPath('walkthrough-demo.png') });
    await panel.locator('#evals').scrollIntoViewIfNeeded();
    await sleep(300);
    await page.screenshot({ path: screenshotPath('walkthrough-demo-eval.png') });
  });
});
