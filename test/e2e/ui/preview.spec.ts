// Preview Training Data in a real VS Code (code-server, Chromium): a conversations file rendered
// with a chat model's own ChatML template (a small random-weight model written here, its turn
// tokens in the vocabulary), the trained tokens highlighted, the counts equal to what
// `adapt-lab preview-data` prints; opened from the command palette and from the Explorer's
// context menu. Screenshots template-preview*.png in test-results/e2e/.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Browser, Frame, Page } from 'playwright-core';
import { CodeServer, launchBrowser, openWorkbench, REPO, screenshotPath, startCodeServer, tempRoot, waitFor, workbenchUrl } from '../harness';
import { CHATML, tinyLlamaConfig, writeRandomModel } from '../../helpers/random-model';
import { parsePreviewPayload, PreviewPayload } from '../../../src/protocol/preview';
import { DEFAULT_TRAINING } from '../../../src/engine/core/run-config';
import { driver } from './driver';

let cs: CodeServer;
let browser: Browser;
let page: Page;
let model: string;
let chatFile: string;
const { runCommand, pick, frameWith } = driver(() => page);

const CONVERSATIONS = [
  ['Tom lost his ball. Tom was', 'sad.'],
  ['Lily got a puppy. Lily was', 'happy.'],
  ['Sam broke his toy. Sam was', 'sad.'],
  ['Mia won the race. Mia was', 'happy.'],
  ['Ben missed the bus. Ben was', 'sad.'],
  ['Ann found a coin. Ann was', 'happy.'],
  ['Max lost his hat. Max was', 'sad.'],
].map(([q, a]) => ({ messages: [{ role: 'system', content: 'Say how they feel.' }, { role: 'user', content: q }, { role: 'assistant', content: a }] }));

/** What the CLI says, with the settings the extension uses (5 examples, training's maxLength). */
function cliPreview(data: string, examples: number): PreviewPayload {
  const r = spawnSync(process.execPath, [join(REPO, 'dist', 'cli.js'), 'preview-data', '--model', model, '--data', data, '--examples', String(examples), '--max-length', String(DEFAULT_TRAINING.maxLength), '--json'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return parsePreviewPayload(JSON.parse(r.stdout));
}

/** The preview page's examples as drawn: counts from the data attributes, boxes and trained text from the DOM. */
async function drawn(frame: Frame, n: number) {
  await frame.waitForSelector(`#examples[data-examples="${n}"]`, { timeout: 60_000 });
  return frame.$$eval('.example', (els) => els.map((e) => ({
    count: Number(e.getAttribute('data-count')), loss: Number(e.getAttribute('data-loss')),
    boxes: e.querySelectorAll('.tok').length, trainedBoxes: e.querySelectorAll('.tok.loss').length,
    trained: Array.from(e.querySelectorAll('.tok.loss')).map((t) => t.textContent).join(''),
  })));
}

describe('Preview Training Data (code-server, Chromium)', function () {
  this.timeout(180_000);

  before(async function () {
    this.timeout(240_000);
    const root = tempRoot('preview');
    const m = await writeRandomModel(join(root, 'chatml-tiny'), tinyLlamaConfig(), { chat: CHATML, gguf: false });
    model = m.hfDir;
    const workspace = join(root, 'workspace');
    mkdirSync(join(workspace, 'data'), { recursive: true });
    chatFile = join(workspace, 'data', 'chat.jsonl');
    writeFileSync(chatFile, CONVERSATIONS.map((c) => JSON.stringify(c)).join('\n') + '\n');
    writeFileSync(join(workspace, 'data', 'mood.jsonl'), '{"prompt": "Tom lost his ball. Tom was", "completion": " sad."}\n');
    cs = await startCodeServer(workspace, root, { 'adaptLab.extraModels': [model] });
    browser = await launchBrowser();
    page = await openWorkbench(browser, workbenchUrl(cs));
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && page) await page.screenshot({ path: screenshotPath('template-preview-failed.png') }).catch(() => undefined);
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    await cs?.stop();
    if (cs && !process.env.E2E_KEEP) rmSync(cs.root, { recursive: true, force: true });
  });

  it("renders conversations with the model's ChatML template, trained tokens highlighted, counts as the CLI's", async () => {
    await runCommand('Adapt Lab: Preview Training Data');
    await pick('chat.jsonl');
    await page.locator('.quick-input-widget .quick-input-title', { hasText: 'Preview Training Data: model' }).waitFor({ state: 'visible', timeout: 30_000 });
    await pick(model);
    const frame = await frameWith('#examples .example');
    const cli = cliPreview(chatFile, 5);
    const shown = await drawn(frame, cli.examples.length);
    assert.equal(shown.length, 5);
    cli.examples.forEach((e, i) => {
      assert.equal(shown[i].count, e.count, `example ${i + 1}: tokens as the CLI counts them`);
      assert.equal(shown[i].boxes, e.count, `example ${i + 1}: one box per token`);
      assert.equal(shown[i].loss, e.lossTokens);
      assert.ok(shown[i].trainedBoxes > 0 && shown[i].trainedBoxes === e.lossTokens, `example ${i + 1}: highlighted tokens`);
    });
    assert.deepEqual(shown.map((e) => e.trained), CONVERSATIONS.slice(0, 5).map((c) => `${c.messages[2].content}<|im_end|>`));
    assert.equal(await frame.getAttribute('#template', 'data-name'), 'ChatML');
    assert.equal(await frame.getAttribute('#template', 'data-source'), 'model');
    assert.equal(await frame.getAttribute('#totals', 'data-tokens'), String(cli.totals.tokens));
    assert.equal(await frame.getAttribute('#totals', 'data-loss-tokens'), String(cli.totals.lossTokens));
    assert.equal(await frame.getAttribute('#totals', 'data-examples'), String(CONVERSATIONS.length));
    await page.screenshot({ path: screenshotPath('template-preview.png') });

    // Show More Examples asks the extension for the rest of the file.
    await frame.click('#more');
    const all = await drawn(frame, CONVERSATIONS.length);
    assert.deepEqual(all.map((e) => e.count), cliPreview(chatFile, CONVERSATIONS.length).examples.map((e) => e.count));
    await waitFor('Show More hidden once the file is shown whole', async () => !(await frame.isVisible('#more')), 10_000);
  });

  it("opens from a data file's context menu in the Explorer", async () => {
    await page.keyboard.press('Escape');
    await runCommand('View: Show Explorer');
    const folder = page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'data' }).first();
    await folder.waitFor({ state: 'visible', timeout: 30_000 });
    const file = page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'mood.jsonl' }).first();
    if (!(await file.isVisible())) await folder.click();
    await file.waitFor({ state: 'visible', timeout: 30_000 });
    await file.click({ button: 'right' });
    const item = page.locator('.monaco-menu .action-item', { hasText: 'Preview Training Data' }).first();
    await item.waitFor({ state: 'visible', timeout: 15_000 });
    // VS Code's menus run an item on mouse-up after a hover has focused it; the keyboard is steadier.
    await item.hover();
    await page.keyboard.press('Enter');
    await page.locator('.quick-input-widget .quick-input-title', { hasText: 'Preview Training Data: model' }).waitFor({ state: 'visible', timeout: 30_000 });
    await pick(model);
    const frame = await frameWith('#format[data-format="prompt-completion"]');
    const shown = await drawn(frame, 1);
    const cli = cliPreview(join(cs.workspace, 'data', 'mood.jsonl'), 5);
    assert.equal(shown[0].count, cli.examples[0].count);
    assert.equal(shown[0].trained, cli.examples[0].tokens.filter((t) => t.loss).map((t) => t.text).join(''));
    assert.equal(await frame.$('#template'), null, 'prompt/completion data is not rendered with a template');
    await page.screenshot({ path: screenshotPath('template-preview-explorer.png') });
  });

  it("Adapt Model's data step previews a file with the model just chosen, and stays open", async () => {
    await runCommand('Adapt Lab: Adapt Model');
    await page.locator('.quick-input-widget .quick-input-title', { hasText: 'Adapt Model: base model' }).waitFor({ state: 'visible', timeout: 60_000 });
    await pick(model);
    await page.locator('.quick-input-widget .quick-input-title', { hasText: 'Adapt Model: training data' }).waitFor({ state: 'visible', timeout: 30_000 });
    const row = page.locator('.quick-input-widget .monaco-list-row', { hasText: 'chat.jsonl' }).first();
    await row.hover();
    await row.locator('.action-label.codicon-eye').click();
    const frame = await frameWith('#format[data-format="messages"]');
    const shown = await drawn(frame, 5);
    assert.deepEqual(shown.map((e) => e.count), cliPreview(chatFile, 5).examples.map((e) => e.count));
    assert.equal(await frame.getAttribute('#template', 'data-name'), 'ChatML');
    assert.ok(await page.locator('.quick-input-widget .quick-input-title', { hasText: 'Adapt Model: training data' }).isVisible(), 'the flow waits on its data step');
    await page.screenshot({ path: screenshotPath('template-preview-adapt-model.png') });
    await page.keyboard.press('Escape');
  });
});
