// Install Native Backend (src/extension/native/install.ts) with stand-in npm programs: the one
// line that says why an install failed (from npm's real output here, where the install script
// cannot download libtensorflow), a successful install found by the trainer's backend choice
// through ADAPT_LAB_NATIVE_MODULES, and cancellation.
import { strict as assert } from 'node:assert';
import { chmodSync, mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { failureReason, installedModules, installNativeBackend } from '../../src/extension/native/install';
import { NATIVE_MODULES_ENV, selectBackend } from '../../src/engine/backend';

// npm 11's output for `npm install @tensorflow/tfjs-node@4.22.0` on this machine (abridged).
const REAL_FAILURE = `npm error code 1
npm error path /tmp/nativeinst/node_modules/@tensorflow/tfjs-node
npm error command failed
npm error command sh -c node scripts/install.js
npm error CPU-linux-4.22.0.tar.gz
npm error https://storage.googleapis.com/tensorflow/libtensorflow/libtensorflow-cpu-linux-x86_64-2.9.1.tar.gz
npm error * Downloading libtensorflow
npm error node:events:502
npm error       throw er; // Unhandled 'error' event
npm error       ^
npm error
npm error Error: getaddrinfo ENOTFOUND storage.googleapis.com
npm error     at GetAddrInfoReqWrap.onlookupall [as oncomplete] (node:dns:122:26)
npm error   code: 'ENOTFOUND',
npm error Node.js v20.20.2
npm error A complete log of this run can be found in: /root/.npm/_logs/2026-12-02T05_38_09_003Z-debug-0.log
`;

function fakeNpm(dir: string, body: string): string {
  const path = join(dir, 'fake-npm');
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

describe('Install Native Backend', function () {
  this.timeout(30_000);
  if (process.platform === 'win32') return;

  it('names the cause of a failed install in one line', () => {
    assert.equal(failureReason(REAL_FAILURE), 'Error: getaddrinfo ENOTFOUND storage.googleapis.com (fetching https://storage.googleapis.com/tensorflow/libtensorflow/libtensorflow-cpu-linux-x86_64-2.9.1.tar.gz)');
    assert.equal(failureReason('npm error code E404\nnpm error 404 Not Found - GET https://registry.npmjs.org/@tensorflow%2ftfjs-nod - Not found\n'), 'code E404');
  });

  it('a failing npm gives that reason, and nothing is installed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'adapt-native-'));
    const npm = fakeNpm(dir, `cat <<'EOF' >&2\n${REAL_FAILURE}EOF\nexit 1`);
    const lines: string[] = [];
    const r = await installNativeBackend({ dir: join(dir, 'native'), gpu: false, npm, onLine: (l) => lines.push(l) });
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.reason : '', /^@tensorflow\/tfjs-node: Error: getaddrinfo ENOTFOUND storage\.googleapis\.com/);
    assert.ok(lines.some((l) => l.includes('Downloading libtensorflow')), 'progress lines are passed on');
    assert.equal(installedModules(join(dir, 'native')), undefined);
  });

  it('a successful install is found, and the trainer\'s backend choice loads the package from there', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'adapt-native-'));
    // Stands in for npm: "installs" a tfjs-node whose native binding fails to load, as a real one would without libtensorflow.
    const npm = fakeNpm(dir, `for a; do [ "$p" = 1 ] && out="$a"; [ "$a" = --prefix ] && p=1 || p=0; done
m="$out/node_modules/@tensorflow/tfjs-node"; mkdir -p "$m"
echo '{"name":"@tensorflow/tfjs-node","version":"4.22.0","main":"index.js"}' > "$m/package.json"
echo 'throw new Error("stand-in tfjs-node from the install folder")' > "$m/index.js"`);
    const r = await installNativeBackend({ dir: join(dir, 'native'), gpu: false, npm });
    assert.ok(r.ok, !r.ok ? r.reason : '');
    assert.equal(r.ok && r.modules, join(dir, 'native', 'node_modules'));
    const saved = process.env[NATIVE_MODULES_ENV];
    process.env[NATIVE_MODULES_ENV] = join(dir, 'native', 'node_modules');
    try {
      await assert.rejects(selectBackend({ backend: 'tensorflow' }), /tensorflow: stand-in tfjs-node from the install folder/);
    } finally {
      if (saved === undefined) delete process.env[NATIVE_MODULES_ENV];
      else process.env[NATIVE_MODULES_ENV] = saved;
      await selectBackend({ backend: 'wasm' });
    }
  });

  it('cancelling stops npm', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'adapt-native-'));
    mkdirSync(join(dir, 'native'));
    const npm = fakeNpm(dir, 'sleep 20');
    const abort = new AbortController();
    const t0 = Date.now();
    const p = installNativeBackend({ dir: join(dir, 'native'), gpu: true, npm, signal: abort.signal });
    setTimeout(() => abort.abort(), 200);
    const r = await p;
    assert.deepEqual(r, { ok: false, pkg: '@tensorflow/tfjs-node-gpu', reason: 'cancelled' });
    assert.ok(Date.now() - t0 < 10_000);
  });
});
