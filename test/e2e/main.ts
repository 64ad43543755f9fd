// `npm run test:e2e` (after scripts/e2e/run.mjs has built everything): (a) the extension-host
// suite inside code-server, (b) the UI suite driving code-server in Chromium, (c) the packaged
// .vsix installed into code-server and driven the same way. E2E_ONLY=host|ui|install runs one.
// Prints every test with its time; the exit status is the number of failures (capped).
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { launchBrowser, REPO, RESULTS, screenshotPath, startCodeServer, STORIES, tempRoot, workbenchUrl } from './harness';

type MochaCtor = typeof import('mocha');

interface Result { title: string; state: string; ms: number; error?: string }

interface HostSuite {
  /** Folder of the suite's index.js under .e2e-dist/e2e, and of its results file's name. */
  name: 'host' | 'host-untrusted';
  /** Workspace trust on and the folder untrusted (Restricted Mode). */
  untrusted?: boolean;
  settings?: Record<string, unknown>;
  prepare?: (workspace: string, root: string) => void;
}

/**
 * The Restricted Mode suite's workspace: its own settings name a model in it (a copy of
 * stories260K) and a runs folder outside it; it holds a run and a prompts file.
 */
function untrustedWorkspace(workspace: string, root: string): void {
  copyFileSync(STORIES(), join(workspace, 'model.gguf'));
  mkdirSync(join(workspace, '.vscode'), { recursive: true });
  writeFileSync(join(workspace, '.vscode', 'settings.json'), JSON.stringify({ 'adaptLab.defaultModel': 'model.gguf', 'adaptLab.runsDir': join(root, 'outside-runs') }, null, 2));
  writeFileSync(join(workspace, 'cases.prompts.jsonl'), '{"prompt": "Once upon a time", "expected": "there"}\n');
  mkdirSync(join(workspace, '.adapt-lab', 'runs', 'planted'), { recursive: true });
  writeFileSync(join(workspace, '.adapt-lab', 'runs', 'planted', 'run.json'), JSON.stringify({ id: 'planted', name: 'planted', status: 'running', pid: 1 }));
}

async function hostSuite(suite: HostSuite = { name: 'host' }): Promise<Result[]> {
  const t0 = Date.now();
  const root = tempRoot(suite.name);
  const workspace = join(root, 'workspace');
  mkdirSync(workspace, { recursive: true });
  suite.prepare?.(workspace, root);
  const resultsFile = join(RESULTS, `${suite.name}-results.json`);
  rmSync(resultsFile, { force: true });
  const cs = await startCodeServer(workspace, root, { 'adaptLab.backend': 'auto', ...suite.settings }, { untrusted: suite.untrusted });
  const browser = await launchBrowser();
  let code: number | undefined;
  try {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    const exited = new Promise<number>((res) => void page.exposeFunction('codeAutomationExit', (c: number) => {
      res(c);
      return undefined;
    }));
    page.on('console', (m) => {
      const t = m.text();
      if (/Adapt Lab|adapt-lab|AssertionError|Error:/.test(t) && !/marketplace|gallery/i.test(t)) process.stdout.write(`    [host console] ${t.split('\n')[0].slice(0, 300)}\n`);
    });
    await page.goto(workbenchUrl(cs, [['extensionTestsPath', join(REPO, '.e2e-dist', 'e2e', suite.name, 'index.js')]]));
    code = await Promise.race([exited, new Promise<number>((_, rej) => setTimeout(() => rej(new Error('the extension-host suite did not finish within 8 minutes')), 8 * 60_000))]);
    await page.screenshot({ path: screenshotPath(`${suite.name}-final.png`) }).catch(() => undefined);
  } catch (e) {
    return [{ title: 'extension-host suite', state: 'failed', ms: Date.now() - t0, error: `${(e as Error).message}\n--- code-server log ---\n${cs.log().slice(-3000)}` }];
  } finally {
    await browser.close().catch(() => undefined);
    await cs.stop();
    if (!process.env.E2E_KEEP) rmSync(root, { recursive: true, force: true });
  }
  if (!existsSync(resultsFile)) return [{ title: 'extension-host suite', state: 'failed', ms: Date.now() - t0, error: `exit code ${code}, no results written (did the suite load?)\n${cs.log().slice(-3000)}` }];
  const r = JSON.parse(readFileSync(resultsFile, 'utf8')) as { failures: number; results: Result[] };
  if (code !== 0 && r.failures === 0) r.results.push({ title: 'extension-host suite exit code', state: 'failed', ms: 0, error: `codeAutomationExit(${code})` });
  return r.results;
}

/** The UI specs (they run under this Node, driving Chromium); each `require` runs on its own. */
const UI_SPECS = {
  ui: () => {
    require('./ui/workbench.spec');
    require('./prompts/ui.spec');
    require('./ui/models.spec');
    require('./ui/preview.spec');
    require('./ui/experiments.spec');
    require('./ui/monitor-axes.spec');
  },
  install: () => require('./ui/installed.spec'),
};

function uiSuite(load: () => void): Promise<Result[]> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const m = require('mocha');
  // mocha 12 is an ES module: require() gives its namespace under Node 20, the class under Node 24.
  const Mocha: MochaCtor = typeof m === 'function' ? m : m.default ?? m.Mocha;
  const mocha = new Mocha({ ui: 'bdd', timeout: 180_000, reporter: 'spec', bail: false, grep: process.env.E2E_GREP });
  mocha.suite.emit('pre-require', globalThis, 'ui', mocha);
  load();
  const results: Result[] = [];
  return new Promise((res) => {
    const runner = mocha.run(() => res(results));
    runner.on('pass', (t) => results.push({ title: t.fullTitle(), state: 'passed', ms: t.duration ?? 0 }));
    runner.on('fail', (t, err: Error) => results.push({ title: t.fullTitle(), state: 'failed', ms: t.duration ?? 0, error: err.stack ?? err.message }));
  });
}

async function main(): Promise<number> {
  mkdirSync(RESULTS, { recursive: true });
  for (const f of readdirSync(RESULTS)) if (f.startsWith('ui-failed-')) rmSync(join(RESULTS, f));
  const only = process.env.E2E_ONLY; // "host", "ui" or "install"
  const all: Result[] = [];
  const t0 = Date.now();
  if (!only || only === 'host') {
    console.log('(a) extension-host tests (mocha inside code-server\'s extension host)');
    const host = await hostSuite();
    for (const r of host) {
      console.log(`  ${r.state === 'passed' ? '✔' : '✘'} ${r.title} (${(r.ms / 1000).toFixed(1)} s)`);
      if (r.error) console.log(r.error.split('\n').map((l) => `      ${l}`).join('\n'));
    }
    all.push(...host.map((r) => ({ ...r, title: `host: ${r.title}` })));
    console.log('\n(a2) extension-host tests in an untrusted workspace (Restricted Mode)');
    const untrusted = await hostSuite({ name: 'host-untrusted', untrusted: true, prepare: untrustedWorkspace, settings: { 'adaptLab.defaultModel': STORIES() } });
    for (const r of untrusted) {
      console.log(`  ${r.state === 'passed' ? '✔' : '✘'} ${r.title} (${(r.ms / 1000).toFixed(1)} s)`);
      if (r.error) console.log(r.error.split('\n').map((l) => `      ${l}`).join('\n'));
    }
    all.push(...untrusted.map((r) => ({ ...r, title: `host-untrusted: ${r.title}` })));
  }
  if (!only || only === 'ui') {
    console.log('\n(b) UI tests (code-server in headless Chromium)');
    const ui = await uiSuite(UI_SPECS.ui);
    all.push(...ui.map((r) => ({ ...r, title: `ui: ${r.title}` })));
  }
  if (!only || only === 'install') {
    console.log('\n(c) the packaged .vsix, installed into code-server (headless Chromium)');
    const inst = await uiSuite(UI_SPECS.install);
    all.push(...inst.map((r) => ({ ...r, title: `install: ${r.title}` })));
  }
  const failed = all.filter((r) => r.state !== 'passed');
  writeFileSync(join(RESULTS, 'summary.json'), JSON.stringify({ seconds: Math.round((Date.now() - t0) / 1000), results: all }, null, 2));
  console.log(`\ne2e: ${all.length - failed.length} passed, ${failed.length} failed in ${((Date.now() - t0) / 1000).toFixed(0)} s; screenshots in ${RESULTS}`);
  return Math.min(failed.length, 100);
}

main().then((c) => process.exit(c), (e) => {
  console.error(e);
  process.exit(1);
});
