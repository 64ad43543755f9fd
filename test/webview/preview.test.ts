// The Training Data Preview page in headless Chromium, fed what `adapt-lab preview-data --json`
// prints for a ChatML model's conversations: one box per token, the trained tokens highlighted,
// counts per example and for the file, the template named; "Show More Examples" asks the host.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser } from 'playwright-core';
import { browserUnavailable, launchChromium, openWebview, Webview } from './harness';
import { CHATML, tinyLlamaConfig, writeRandomModel } from '../helpers/random-model';
import { sharedPath } from '../helpers/shared';
import { parsePreviewPayload, PreviewPayload } from '../../src/protocol/preview';
import { share, tokenFace } from '../../webview/preview/tokens';

function cliPreview(model: string, data: string, examples: number): PreviewPayload {
  const r = spawnSync(process.execPath, [resolve('dist/cli.js'), 'preview-data', '--model', model, '--data', data, '--examples', String(examples), '--json'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return parsePreviewPayload(JSON.parse(r.stdout));
}

describe('webview: Training Data Preview (Chromium, stubbed VS Code API)', function () {
  this.timeout(120_000);
  let browser: Browser;
  let w: Webview | undefined;
  let dir: string;
  let chatml: PreviewPayload;

  before(async function () {
    const why = browserUnavailable('preview');
    if (why) {
      console.log(`    skipped: ${why}`);
      this.skip();
    }
    dir = mkdtempSync(join(tmpdir(), 'adapt-preview-page-'));
    const m = await writeRandomModel(join(dir, 'chatml'), tinyLlamaConfig(), { chat: CHATML, gguf: false });
    const data = join(dir, 'chat.jsonl');
    const conv = (q: string, a: string) => JSON.stringify({ messages: [{ role: 'system', content: 'Say how they feel.' }, { role: 'user', content: q }, { role: 'assistant', content: a }] });
    writeFileSync(data, [conv('Tom lost his ball. Tom was', 'sad.'), conv('Lily got a puppy. Lily was', 'happy.'), conv('Sam broke his toy. Sam was', 'sad.')].join('\n') + '\n');
    chatml = cliPreview(m.hfDir, data, 2);
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  afterEach(async () => {
    if (w) assert.deepEqual(await w.problems(), [], 'no CSP violations or page errors');
    await w?.close();
    w = undefined;
  });

  it('draws every token as its own box, trained tokens highlighted, with the counts and the template', async () => {
    w = await openWebview(browser, 'preview', { width: 900, height: 700 });
    assert.deepEqual(await w.posted(), [{ type: 'ready' }]);
    await w.send({ type: 'preview', payload: chatml });
    await w.page.waitForSelector('#examples[data-examples="2"]');
    const examples = await w.page.$$eval('.example', (els) => els.map((e) => ({
      count: Number(e.getAttribute('data-count')), loss: Number(e.getAttribute('data-loss')),
      boxes: e.querySelectorAll('.tok').length, trained: Array.from(e.querySelectorAll('.tok.loss')).map((t) => t.textContent).join(''),
      head: e.querySelector('.counts')?.textContent,
    })));
    chatml.examples.forEach((e, i) => {
      assert.equal(examples[i].boxes, e.count, `example ${i + 1}: one box per token`);
      assert.equal(examples[i].count, e.count);
      assert.equal(examples[i].loss, e.lossTokens);
      assert.equal(examples[i].head, `line ${i + 1} · ${e.count} tokens · ${e.lossTokens} trained (${share(e.lossTokens, e.count)})`);
    });
    assert.deepEqual(examples.map((e) => e.trained), ['sad.<|im_end|>', 'happy.<|im_end|>']);
    const special = await w.page.$$eval('.example:first-child .tok.special', (els) => els.map((e) => e.textContent));
    assert.deepEqual(special, ['<s>', '<|im_start|>', '<|im_end|>', '<|im_start|>', '<|im_end|>', '<|im_start|>', '<|im_end|>']);
    // Two neighbouring tokens have different shades: boundaries show even inside a word.
    const alt = await w.page.$$eval('.example:first-child .tok', (els) => els.slice(0, 4).map((e) => e.classList.contains('alt')));
    assert.deepEqual(alt, [false, true, false, true]);
    assert.equal(await w.page.getAttribute('#template', 'data-name'), 'ChatML');
    assert.match(await w.page.innerText('#template'), /ChatML — the model's own chat template/);
    assert.equal(await w.page.getAttribute('#totals', 'data-tokens'), String(chatml.totals.tokens));
    assert.equal(await w.page.getAttribute('#totals', 'data-loss-tokens'), String(chatml.totals.lossTokens));
    assert.match(await w.page.innerText('#totals'), /^\s*3 examples · \d+ tokens · \d+ trained/);
    assert.equal(await w.page.isVisible('#more'), true, 'one more example in the file');
    assert.match(await w.page.innerText('#more-note'), /1 more in the file/);
    mkdirSync('test-results/webview', { recursive: true });
    await w.page.screenshot({ path: 'test-results/webview/template-preview.png', fullPage: true });

    await w.page.click('#more');
    assert.deepEqual((await w.posted()).slice(-1), [{ type: 'more' }]);
    await w.send({ type: 'error', message: 'chat.jsonl:3: not valid JSON' });
    assert.match(await w.page.innerText('#status'), /chat\.jsonl:3: not valid JSON/);
  });

  it('says when the default template is used, for a model without one', async () => {
    const data = join(dir, 'plain.jsonl');
    writeFileSync(data, JSON.stringify({ messages: [{ role: 'user', content: 'Tom was sad. Tom felt' }, { role: 'assistant', content: 'sad.' }] }) + '\n');
    const p = cliPreview(sharedPath('models/stories260K/stories260K.gguf'), data, 5);
    w = await openWebview(browser, 'preview', { width: 900, height: 500 });
    await w.send({ type: 'preview', payload: p });
    await w.page.waitForSelector('#examples[data-examples="1"]');
    assert.equal(await w.page.getAttribute('#template', 'data-source'), 'default');
    assert.match(await w.page.innerText('#template'), /the model has no chat template/);
    assert.equal(await w.page.isVisible('#more'), false, 'every example is shown');
    // The newline tokens end their line and show a mark.
    const marks = await w.page.$$eval('.tok.ws', (els) => els.map((e) => e.textContent));
    assert.ok(marks.includes('↵'), marks.join(' '));
  });

  it('tokenFace marks invisible whitespace and keeps other text as it is', () => {
    assert.deepEqual(tokenFace('\n'), { shown: '↵', breaks: true });
    assert.deepEqual(tokenFace('  '), { shown: '··', breaks: false });
    assert.deepEqual(tokenFace(' sad'), { shown: ' sad', breaks: false });
    assert.deepEqual(tokenFace('\t'), { shown: '→', breaks: false });
    assert.deepEqual(tokenFace(''), { shown: '∅', breaks: false });
    assert.equal(share(1, 3), '33%');
    assert.equal(share(0, 0), '—');
  });
});
