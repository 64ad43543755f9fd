// The extension-host test suite: VS Code loads this module (the `extensionTestsPath` payload)
// inside the extension host and calls run(). Mocha comes from the repository's node_modules;
// the results also go to test-results/e2e/host-results.json for the runner to print.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

type MochaCtor = typeof import('mocha');

const REPO = resolve(__dirname, '..', '..', '..');

export function run(): Promise<void> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const m = require(join(REPO, 'node_modules', 'mocha'));
  // mocha 12 is an ES module: require() gives its namespace under Node 20, the class under Node 24.
  const Mocha: MochaCtor = typeof m === 'function' ? m : m.default ?? m.Mocha;
  // E2E_GREP (inherited through code-server's environment) runs only the matching tests.
  const mocha = new Mocha({ ui: 'bdd', timeout: 120_000, color: false, reporter: 'spec', grep: process.env.E2E_GREP });
  mocha.suite.emit('pre-require', globalThis, 'host', mocha);
  require('./layers.spec');
  require('./runs.spec');
  require('../prompts/host.spec');
  require('./walkthrough.spec');
  require('./trust.spec');
  require('./experiments.spec');
  const results: { title: string; state: string; ms: number; error?: string }[] = [];
  return new Promise((res, rej) => {
    const runner = mocha.run((failures) => {
      const out = join(REPO, 'test-results', 'e2e');
      mkdirSync(out, { recursive: true });
      writeFileSync(join(out, 'host-results.json'), JSON.stringify({ failures, results }, null, 2));
      if (failures) rej(new Error(`${failures} extension-host test(s) failed`));
      else res();
    });
    runner.on('pass', (t) => results.push({ title: t.fullTitle(), state: 'passed', ms: t.duration ?? 0 }));
    runner.on('fail', (t, err: Error) => results.push({ title: t.fullTitle(), state: 'failed', ms: t.duration ?? 0, error: `${err.message}\n${err.stack ?? ''}`.slice(0, 4000) }));
  });
}
