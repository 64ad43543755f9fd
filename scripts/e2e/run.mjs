// `npm run test:e2e`: builds the extension (the normal build) and the e2e bundles, then runs
// the end-to-end tests against code-server + Chromium installed by scripts/e2e/setup.sh.
// Installs nothing. E2E_ONLY=host|ui|install runs one part (install: the packaged .vsix);
// E2E_GREP=text runs only the tests whose title contains it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
process.chdir(repo);
const build = spawnSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

// The e2e bundles live in .e2e-dist/, not .test-dist/: scripts/build.mjs empties .test-dist/, and
// a build during the run (the .vsix test packages the extension) must not delete a suite not yet run.
const common = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', sourcemap: 'inline', mainFields: ['module', 'main'], logLevel: 'warning' };
await Promise.all([
  // Runs inside the extension host: `vscode` is provided there; mocha is required from node_modules.
  esbuild.build({ ...common, entryPoints: { index: 'test/e2e/host/index.ts' }, outdir: '.e2e-dist/e2e/host', external: ['vscode', 'mocha'] }),
  // The same in an untrusted workspace (Restricted Mode).
  esbuild.build({ ...common, entryPoints: { index: 'test/e2e/host-untrusted/index.ts' }, outdir: '.e2e-dist/e2e/host-untrusted', external: ['vscode', 'mocha'] }),
  // Runs under this Node: drives code-server and Chromium. Specs that write small models bring the
  // engine along: its native and optional modules stay external, as in scripts/build.mjs.
  esbuild.build({
    ...common, entryPoints: { main: 'test/e2e/main.ts' }, outdir: '.e2e-dist/e2e',
    external: ['mocha', 'playwright-core', 'vscode', 'koffi', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-backend-wasm/package.json'],
  }),
]);
if (!existsSync(join(repo, 'dist', 'extension.js'))) {
  console.error('dist/extension.js was not built');
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--enable-source-maps', '.e2e-dist/e2e/main.js'], { stdio: 'inherit', env: { ...process.env, E2E_REPO: repo } });
process.exit(r.status ?? 1);
