// In Chromium against code-server: a prompts file shows its CodeLens; ▶ Base puts the answer
// inline after the case with ✓/✗ and latency; the hover shows the token probabilities; the
// Test Explorer lists the cases and shows a pass and a failure. Screenshots in
// test-results/e2e/inline*.png and testing*.png.
import { strict as assert } from 'node:assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import {
  CodeServer, launchBrowser, openWorkbench, REPO, screenshotPath, sleep, startCodeServer, STORIES, tempRoot, waitFor, workbenchUrl,
} from '../harness';

const CASES = [
  // stories260K says " very happy": contains "happy" → passes with the base model.
  { id: 'happy-mia', prompt: 'Mia got a new toy. Mia was', expected: 'happy', match: 'contains', stop: ['.'] },
  // ... and " very happy" here too: fails.
  { id: 'sad-sue', prompt: 'Sue cried all day. Sue was', expected: 'sad', match: 'contains', stop: ['.'] },
  { prompt: 'Once upon a time' },
];

/** The workbench URL; ADAPT_LAB_E2E_EXTENSION (test/e2e/prompts/dev/run.mjs) loads another extension folder. */
function url(cs: CodeServer): string {
  const dev = process.env.ADAPT_LAB_E2E_EXTENSION;
  if (!dev) return workbenchUrl(cs);
  const payload = [['extensionDevelopmentPath', `vscode-remote://127.0.0.1:${cs.port}${dev}`]];
  return `${cs.url}/?folder=${encodeURIComponent(cs.workspace)}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
}

/** Runs a command from the palette; the extension's commands show up some seconds after the workbench. */
async function palette(page: Page, title: string, row: string | RegExp = title): Promise<void> {
  for (let attempt = 0; attempt < 8; attempt++) {
    await page.keyboard.press('Escape');
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ state: 'visible', timeout: 10_000 });
    await input.fill(`>${title}`);
    const hit = page.locator('.quick-input-widget .monaco-list-row', { hasText: row }).first();
    if (await hit.waitFor({ state: 'visible', timeout: 4000 }).then(() => true, () => false)) {
      await hit.click();
      return;
    }
    await sleep(1500);
  }
  throw new Error(`command "${title}" not found in the palette`);
}

/** Texts of the `after` decorations drawn in the editor (CSS ::after content of the decorated spans). */
function afterTexts(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const out: string[] = [];
    for (const el of Array.from(document.querySelectorAll('.monaco-editor .view-lines span'))) {
      const c = getComputedStyle(el, '::after').content;
      if (c && c !== 'none' && c !== 'normal') out.push(c.replace(/^"|"$/g, '').replace(/\\(.)/g, '$1'));
    }
    return out;
  });
}

describe('Prompts in the browser (code-server + Chromium)', function () {
  this.timeout(300_000);
  let cs: CodeServer | undefined;
  let browser: Browser | undefined;
  let page: Page;

  before(async function () {
    this.timeout(240_000);
    const root = tempRoot('prompts-ui');
    const ws = join(root, 'workspace');
    mkdirSync(join(ws, 'evals'), { recursive: true });
    writeFileSync(join(ws, 'evals', 'mood.prompts.jsonl'), CASES.map((c) => JSON.stringify(c)).join('\n') + '\n');
    cs = await startCodeServer(ws, root, { 'adaptLab.defaultModel': STORIES(), 'adaptLab.backend': 'auto', 'testing.automaticallyOpenPeekView': 'never', 'editor.wordWrap': 'on' });
    browser = await launchBrowser();
    page = await openWorkbench(browser, url(cs));
    void REPO;
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    await cs?.stop();
  });

  it('▶ Base puts the answer inline after the case; the hover shows token probabilities', async () => {
    await page.locator('.monaco-workbench').click({ position: { x: 700, y: 400 } });
    await palette(page, 'Go to File', /Go to File/);
    await page.locator('.quick-input-widget input').fill('mood.prompts.jsonl');
    await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'mood.prompts.jsonl' }).first().click();
    await palette(page, 'View: Close Primary Side Bar', /Close Primary Side Bar/);
    const lens = page.locator('.monaco-editor .codelens-decoration a', { hasText: '▶ Base' });
    await waitFor('three ▶ Base CodeLenses', async () => (await lens.count()) === 3, 90_000);
    await page.locator('.monaco-editor .codelens-decoration a', { hasText: '⇄ Compare' }).first().waitFor();
    const inline = async (what: string, re: RegExp) => {
      try {
        return await waitFor(what, async () => (await afterTexts(page)).find((t) => re.test(t)), 120_000);
      } catch (e) {
        await page.screenshot({ path: screenshotPath('inline-failed.png') });
        throw new Error(`${(e as Error).message}; after-texts: ${JSON.stringify(await afterTexts(page))}`);
      }
    };
    await lens.nth(0).click();
    const first = await inline('the inline answer of case 1', /→ ".*" ✓ \d+ ms/);
    await lens.nth(1).click();
    const second = await inline('the inline answer of case 2', /→ ".*" ✗ \d+ ms/);
    assert.match(first, /· Base$/);
    assert.match(second, /very happy/);
    await page.mouse.move(10, 10);
    await sleep(500);
    await page.screenshot({ path: screenshotPath('inline.png') });

    await page.locator('.view-line', { hasText: 'Mia got a new toy' }).first().hover({ position: { x: 60, y: 5 } });
    const hover = page.locator('.monaco-hover', { hasText: 'top alternatives' }).first();
    await hover.waitFor({ state: 'visible', timeout: 15_000 });
    const text = await hover.innerText();
    assert.match(text, /token\s+p\s+top alternatives/);
    assert.match(text, /very happy/);
    await page.screenshot({ path: screenshotPath('inline-hover.png') });
    await page.mouse.move(10, 10);

    // The status-bar item opens the active-run picker (no finished run in this workspace).
    await page.locator('.statusbar-item', { hasText: 'No active run' }).first().click();
    await page.locator('.quick-input-widget input[placeholder*="No finished run with a checkpoint"]').waitFor({ state: 'visible', timeout: 15_000 });
    await page.keyboard.press('Escape');
  });

  it('the Test Explorer runs the cases with the base model: one passes, one fails with expected vs actual', async () => {
    await palette(page, 'Testing: Focus on Test Explorer View', /Focus on Test Explorer View/);
    const tree = page.locator('.test-explorer');
    await tree.locator('.monaco-list-row', { hasText: 'mood.prompts.jsonl' }).first().waitFor({ timeout: 60_000 });
    await palette(page, 'Test: Run All Tests', /Run All Tests/);
    // Expand everything so both cases and their states show.
    await waitFor('a passed and a failed case', async () => {
      const rows = await tree.locator('.monaco-list-row').allInnerTexts();
      for (const r of ['Prompt cases', 'mood.prompts.jsonl']) {
        const row = tree.locator('.monaco-list-row[aria-expanded="false"]', { hasText: r }).first();
        if (await row.count()) await row.click();
      }
      const passed = await tree.locator('.monaco-list-row:has(.codicon-testing-passed-icon)', { hasText: 'happy-mia' }).count();
      const failed = await tree.locator('.monaco-list-row:has(.codicon-testing-failed-icon)', { hasText: 'sad-sue' }).count();
      return passed > 0 && failed > 0 && rows;
    }, 150_000, 1000);
    await sleep(500);
    await page.screenshot({ path: screenshotPath('testing.png') });

    // The failure: expected against actual.
    await tree.locator('.monaco-list-row', { hasText: 'sad-sue' }).first().click();
    await palette(page, 'Test: Peek Output', /Peek Output|Peek Error/).catch(async () => palette(page, 'Test: Go to Next Test Failure', /Next Test Failure/));
    const peek = page.locator('.monaco-editor .peekview-widget, .test-output-peek, .monaco-diff-editor').first();
    await peek.waitFor({ state: 'visible', timeout: 30_000 });
    await sleep(1000);
    await page.screenshot({ path: screenshotPath('testing-failure.png') });
    const body = await page.locator('.peekview-widget, .test-output-peek').first().innerText().catch(() => '');
    assert.match(body, /expected|sad/i);
  });
});
