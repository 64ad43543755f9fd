// Driving the workbench in Chromium the way a user does: the command palette, quick picks,
// input boxes, and the (nested) webview frames. Shared by the UI specs.
import { Frame, Page } from 'playwright-core';
import { sleep, waitFor } from '../harness';

export interface Driver {
  /**
   * F1, the command's title, a click on exactly that row (or the row whose label matches
   * `label`); retried while the extension's commands load.
   */
  runCommand(title: string, label?: RegExp): Promise<void>;
  /** Clicks the quick-pick row containing `text`. */
  pick(text: string | RegExp, timeout?: number): Promise<void>;
  /** Waits for an input box whose prompt contains `prompt`, types `value` (when given) and accepts. */
  answer(prompt: string, value?: string): Promise<void>;
  /** The (nested) webview frame that contains `selector`. */
  frameWith(selector: string, timeout?: number): Promise<Frame>;
  /** A number kept in a data attribute of an element of a webview (`data-points`...). */
  dataNumber(frame: Frame, selector: string, key: string): Promise<number>;
}

export function driver(page: () => Page): Driver {
  const quickInput = () => page().locator('.quick-input-widget');
  const rows = () => page().locator('.quick-input-widget .monaco-list-row');
  return {
    async runCommand(title, label) {
      const p = page();
      for (let attempt = 1; ; attempt++) {
        await p.keyboard.press('Escape');
        await p.locator('.monaco-workbench').click({ position: { x: 700, y: 5 } }).catch(() => undefined);
        await p.keyboard.press('F1');
        const input = p.locator('.quick-input-widget input');
        await input.waitFor({ state: 'visible', timeout: 10_000 });
        await input.fill(`>${title}`);
        const row = rows().filter({ has: p.locator('.label-name', { hasText: label ?? new RegExp(`^${title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) }) }).first();
        try {
          await row.waitFor({ state: 'visible', timeout: 5_000 });
          await row.click();
          return;
        } catch (e) {
          if (attempt >= 8) throw new Error(`command "${title}" not in the palette after ${attempt} tries: ${(e as Error).message}`);
          await sleep(2_000);
        }
      }
    },
    async pick(text, timeout = 60_000) {
      const row = rows().filter({ hasText: text }).first();
      await row.waitFor({ state: 'visible', timeout });
      await row.click();
    },
    async answer(prompt, value) {
      await quickInput().getByText(prompt).first().waitFor({ state: 'visible', timeout: 30_000 });
      const input = page().locator('.quick-input-widget input');
      if (value !== undefined) await input.fill(value);
      await input.press('Enter');
    },
    frameWith(selector, timeout = 60_000) {
      return waitFor(`a webview with ${selector}`, async () => {
        for (const f of page().frames()) {
          if (await f.$(selector).catch(() => null)) return f;
        }
        return undefined;
      }, timeout, 500);
    },
    dataNumber(frame, selector, key) {
      return frame.$eval(selector, (el, k) => Number((el as HTMLElement).dataset[k] ?? 0), key);
    },
  };
}
