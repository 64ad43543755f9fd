// Adapt Model's model step lists the models already on the machine: a Hugging Face hub cache
// and an Ollama store laid out as those tools lay them out (synthetic, made here), pointed at
// through HF_HUB_CACHE and OLLAMA_MODELS, grouped by source and searchable.
import { strict as assert } from 'node:assert';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Browser, Page } from 'playwright-core';
import { CodeServer, launchBrowser, moodWorkspace, openWorkbench, screenshotPath, startCodeServer, tempRoot, waitFor, workbenchUrl } from '../harness';
import { hfCacheRepo, ollamaModel, tinyGguf, tinyHfFiles } from '../../engine/core/catalogue/stores';
import { driver } from './driver';

let cs: CodeServer;
let browser: Browser;
let page: Page;
const { runCommand, pick } = driver(() => page);
const rows = () => page.locator('.quick-input-widget .monaco-list-row');

describe('Models already on the machine (code-server, Chromium)', function () {
  this.timeout(180_000);

  before(async function () {
    this.timeout(240_000);
    const root = tempRoot('models');
    const work = join(root, 'made');
    mkdirSync(work, { recursive: true });
    const hub = join(root, 'hf-cache');
    tinyHfFiles(join(work, 'tiny-llama'));
    hfCacheRepo(hub, 'acme/tiny-llama', join(work, 'tiny-llama'), ['config.json', 'model.safetensors', 'tokenizer.json']);
    tinyHfFiles(join(work, 'mamba'), { model_type: 'mamba' });
    hfCacheRepo(hub, 'acme/tiny-mamba', join(work, 'mamba'), ['config.json', 'model.safetensors', 'tokenizer.json']);
    const ollama = join(root, 'ollama-models');
    tinyGguf(join(work, 'tiny.gguf'), { name: 'Tiny' });
    ollamaModel(ollama, { name: 'tiny', tag: 'latest', gguf: readFileSync(join(work, 'tiny.gguf')), template: '{{ .Prompt }}', params: { stop: ['<|end|>'] } });
    ollamaModel(ollama, { name: 'llama3.2', tag: '1b', gguf: readFileSync(join(work, 'tiny.gguf')) });
    const workspace = moodWorkspace(root);
    cs = await startCodeServer(workspace, root, { 'adaptLab.backend': 'cpu' }, { env: { HF_HUB_CACHE: hub, OLLAMA_MODELS: ollama } });
    browser = await launchBrowser();
    page = await openWorkbench(browser, workbenchUrl(cs));
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    await cs?.stop();
    if (cs && !process.env.E2E_KEEP) rmSync(cs.root, { recursive: true, force: true });
  });

  it('Adapt Model lists models from the Hugging Face cache and Ollama, grouped by source and searchable', async () => {
    await runCommand('Adapt Lab: Adapt Model');
    await page.locator('.quick-input-widget .quick-input-title', { hasText: 'Adapt Model: base model' }).waitFor({ state: 'visible', timeout: 60_000 });
    for (const name of ['acme/tiny-llama', 'acme/tiny-mamba', 'tiny:latest', 'llama3.2:1b']) {
      await rows().filter({ hasText: name }).first().waitFor({ state: 'visible', timeout: 30_000 });
    }
    const text = await page.locator('.quick-input-widget .quick-input-list').innerText();
    assert.match(text, /Hugging Face cache/);
    assert.match(text, /Ollama/);
    assert.ok(text.indexOf('acme/tiny-llama') < text.indexOf('Browse for a GGUF'), 'the catalogue comes before Browse…');
    assert.match(await rows().filter({ hasText: 'acme/tiny-mamba' }).first().innerText(), /Not trainable: .*model_type "mamba" is not supported/);
    assert.match(await rows().filter({ hasText: 'tiny:latest' }).first().innerText(), /llama · \d+(\.\d)?K params · F32 · \d+ KiB/);
    await page.screenshot({ path: screenshotPath('models-picker.png') });

    await page.locator('.quick-input-widget input').fill('3.2');
    await waitFor('the list filtered to "3.2"', async () => !(await page.locator('.quick-input-widget .quick-input-list').innerText()).includes('acme/tiny-llama'), 10_000);
    await page.screenshot({ path: screenshotPath('models-picker-search.png') });
    await pick('llama3.2:1b');
    // The Ollama model is taken: the flow moves on to the training data.
    await page.locator('.quick-input-widget .quick-input-title', { hasText: 'Adapt Model: training data' }).waitFor({ state: 'visible', timeout: 30_000 });
    await page.keyboard.press('Escape');
  });
});
