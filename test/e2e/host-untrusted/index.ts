// The extension-host suite for an untrusted workspace (Restricted Mode): code-server starts
// with workspace trust on and the folder untrusted (scripts: test/e2e/main.ts). Same runner
// as test/e2e/host/index.ts; results go to test-results/e2e/host-untrusted-results.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

type MochaCtor = typeof import('mocha');

const REPO = resolve(__dirname, '..', '..', '..');

export function run(): Promise<void> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const m = require(join(REPO, 'node_modules', 'mocha'));
  const Mocha: MochaCtor = typeof m === 'function' ? m : m.default ?? m.Mocha;
  const mocha = new Mocha({ ui: 'bdd', timeout: 120_000, color: false, reporter: 'spec', grep: process.env.E2E_GREP });
  mocha.suite.emit('pre-require', globalThis, 'host-untrusted', mocha);
  require('./untrusted.spec');
  const results: { title: string; state: string; ms: number; error?: string }[] = [];
  return new Promise((res, rej) => {
    const runner = mocha.run((failures) => {
      const out = join(REPO, 'test-results', 'e2e');
      mkdirSync(out, { recursive: true });
      writeFileSync(join(out, 'host-untrusted-results.json'), JSON.stringify({ failures, results }, null, 2));
      if (failures) rej(new Error(`${failures} extension-host test(s) failed`));
      else res();
    });
    runner.on('pass', (t) => results.push({ title: t.fullTitle(), state: 'passed', ms: t.duration ?? 0 }));
    runner.on('fail', (t, err: Error) => results.push({ title: t.fullTitle(), state: 'failed', ms: t.duration ?? 0, error: `${err.message}\n${err.stack ?? ''}`.slice(0, 4000) }));
  });
}
