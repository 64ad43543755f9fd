// Loads a built webview (dist/webview/<name>.js) in headless Chromium, in the very page the
// extension serves (webviewHtml: same strict CSP), with a stub of VS Code's webview API:
// postMessage calls are recorded, getState/setState live in memory. Used by the webview
// tests and the Monitor benchmark.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { webviewHtml } from '../../src/extension/monitor/html';

export const CHROMIUM = process.env.ADAPT_LAB_CHROMIUM ?? '/usr/bin/chromium';
/** From docs/E2E.md: quiet on a closed network. */
export const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
];
const ORIGIN = 'https://adapt-lab.webview';
const DIST = resolve('dist/webview');

/** Why the browser tests cannot run here, or undefined when they can. */
export function browserUnavailable(name = 'monitor'): string | undefined {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} not found (apt-get install chromium, or set ADAPT_LAB_CHROMIUM)`;
  if (!existsSync(join(DIST, `${name}.js`))) return `dist/webview/${name}.js not built (node scripts/build.mjs)`;
  return undefined;
}

export async function launchChromium(): Promise<Browser> {
  // Required at run time, not bundled: playwright-core locates its own files on disk.
  const { chromium } = createRequire(join(process.cwd(), 'package.json'))('playwright-core') as typeof import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS, headless: true });
}

/** VS Code's Dark Modern values for the variables the pages use (VS Code sets them on <html>). */
export const DARK_THEME = `
html {
  --vscode-font-family: system-ui, -apple-system, "Segoe UI", Ubuntu, "Droid Sans", sans-serif;
  --vscode-font-size: 13px; --vscode-font-weight: normal;
  --vscode-editor-font-family: "Droid Sans Mono", monospace;
  --vscode-foreground: #cccccc; --vscode-descriptionForeground: #9d9d9d; --vscode-errorForeground: #f85149;
  --vscode-charts-foreground: #cccccc; --vscode-charts-lines: rgba(204, 204, 204, 0.5);
  --vscode-charts-blue: #3794ff; --vscode-charts-orange: #d18616; --vscode-charts-green: #89d185;
  --vscode-charts-purple: #b180d7; --vscode-charts-red: #f14c4c; --vscode-charts-yellow: #cca700;
  --vscode-editorWidget-border: #313131; --vscode-editorWidget-background: #202020;
  --vscode-editorWarning-foreground: #cca700; --vscode-inputValidation-warningBackground: #352a05;
  --vscode-inputValidation-errorBackground: #5a1d1d;
  --vscode-button-background: #0078d4; --vscode-button-foreground: #ffffff; --vscode-button-hoverBackground: #026ec1;
  --vscode-button-border: rgba(255, 255, 255, 0.07); --vscode-button-secondaryBackground: #313131;
  --vscode-button-secondaryForeground: #cccccc; --vscode-button-secondaryHoverBackground: #3c3c3c;
  --vscode-progressBar-background: #0078d4; --vscode-focusBorder: #0078d4;
  --vscode-settings-checkboxBackground: #313131; --vscode-settings-checkboxBorder: #3c3c3c; --vscode-settings-checkboxForeground: #cccccc;
  --vscode-sideBar-background: #181818;
  background: var(--vscode-sideBar-background);
}`;

export interface Webview {
  page: Page;
  /** Everything the page passed to postMessage, in order. */
  posted(): Promise<Record<string, unknown>[]>;
  /** The last setState value. */
  state(): Promise<unknown>;
  /** Delivers a host → page message, as VS Code does. */
  send(message: unknown): Promise<void>;
  /** CSP violations and page errors seen so far. */
  problems(): Promise<string[]>;
  close(): Promise<void>;
}

export interface OpenOptions {
  state?: unknown;
  width?: number;
  height?: number;
}

export async function openWebview(browser: Browser, name: 'monitor' | 'compare' | 'preview' | 'experiments', o: OpenOptions = {}): Promise<Webview> {
  const context = await browser.newContext({ viewport: { width: o.width ?? 400, height: o.height ?? 900 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console error: ${m.text()}`);
  });
  // Plain script text (not a function): page code must survive any transpiler (tsx adds helpers).
  await page.addInitScript(`(() => {
    const posted = [];
    let state = ${JSON.stringify(o.state ?? null)} ?? undefined;
    window.__posted = posted;
    window.__state = () => state;
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__violations.push('CSP ' + e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline'));
    });
    let acquired = false;
    window.acquireVsCodeApi = () => {
      if (acquired) throw new Error('acquireVsCodeApi called twice');
      acquired = true;
      return {
        postMessage: (m) => { posted.push(JSON.parse(JSON.stringify(m))); },
        getState: () => state,
        setState: (s) => { state = JSON.parse(JSON.stringify(s)); },
      };
    };
  })();`);
  const html = webviewHtml({
    cspSource: ORIGIN, scriptUri: `${ORIGIN}/${name}.js`, codiconUri: `${ORIGIN}/codicon.css`, title: name,
  }).replace('</head>', `<link rel="stylesheet" href="${ORIGIN}/test-theme.css">\n</head>`).replace('<body>', '<body class="vscode-dark">');
  await page.route(`${ORIGIN}/**`, async (route) => {
    const file = new URL(route.request().url()).pathname.slice(1);
    if (file === 'index.html') return route.fulfill({ contentType: 'text/html', body: html });
    if (file === 'test-theme.css') return route.fulfill({ contentType: 'text/css', body: DARK_THEME });
    const path = join(DIST, file);
    if (!/^[\w.-]+$/.test(file) || !existsSync(path)) return route.fulfill({ status: 404, body: '' });
    const type = file.endsWith('.js') ? 'text/javascript' : file.endsWith('.css') ? 'text/css' : file.endsWith('.ttf') ? 'font/ttf' : 'application/octet-stream';
    return route.fulfill({ contentType: type, body: readFileSync(path) });
  });
  await page.goto(`${ORIGIN}/index.html`);
  await page.waitForFunction(`window.__posted.some((m) => m.type === 'ready')`);
  return {
    page,
    posted: () => page.evaluate('window.__posted') as Promise<Record<string, unknown>[]>,
    state: () => page.evaluate('window.__state()'),
    // Passed as one JSON string (Playwright's own serializer is slow for 20,000 events), with
    // an anonymous arrow that has no inner names: nothing for a transpiler to wrap.
    send: (message) => page.evaluate((json) => window.postMessage(JSON.parse(json), '*'), JSON.stringify(message)),
    problems: async () => [...errors, ...((await page.evaluate('window.__violations')) as string[])],
    close: () => context.close(),
  };
}

export interface StreamResult {
  seconds: number;
  /** requestAnimationFrame callbacks while streaming, and the longest gap between two. */
  frames: number;
  maxFrameGapMs: number;
  /** Durations of the long tasks (> 50 ms) the page reported while streaming. */
  longTasks: number[];
}

/**
 * Posts `events` one at a time, `perSecond` of them a second, from inside the page (as VS Code
 * delivers host messages), then waits `settleMs`; measures how the page kept up meanwhile.
 */
export async function streamEvents(w: Webview, runDir: string, events: unknown[], perSecond: number, settleMs = 400): Promise<StreamResult> {
  const args = JSON.stringify({ events, runDir, perSecond, settleMs });
  return w.page.evaluate(`(async ({ events, runDir, perSecond, settleMs }) => {
    const longTasks = [];
    const obs = new PerformanceObserver((l) => l.getEntries().forEach((e) => longTasks.push(e.duration)));
    obs.observe({ type: 'longtask' });
    let frames = 0;
    let maxFrameGapMs = 0;
    let last = performance.now();
    let running = true;
    const frame = (t) => {
      frames++;
      maxFrameGapMs = Math.max(maxFrameGapMs, t - last);
      last = t;
      if (running) requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
    const t0 = performance.now();
    await new Promise((done) => {
      let i = 0;
      const timer = setInterval(() => {
        window.postMessage({ type: 'events', runDir, events: [events[i++]] }, '*');
        if (i >= events.length) {
          clearInterval(timer);
          done();
        }
      }, 1000 / perSecond);
    });
    await new Promise((r) => setTimeout(r, settleMs));
    running = false;
    obs.disconnect();
    return { seconds: (performance.now() - t0) / 1000, frames, maxFrameGapMs, longTasks };
  })(${args})`) as Promise<StreamResult>;
}
