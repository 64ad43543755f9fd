// Bundles the programs with esbuild. tfjs-core, -backend-cpu and -backend-wasm are bundled
// (their ESM builds, so gradients can be registered on the same copy of the engine); the
// optional native backends stay external and are required at run time if installed.
import * as esbuild from 'esbuild';
import { readdirSync, statSync, rmSync, existsSync, mkdirSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';

const watch = process.argv.includes('--watch');
// koffi (the FFI the BLAS path goes through) is a native module: it is copied, not bundled.
const external = ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-backend-wasm/package.json', 'vscode', 'koffi'];
const common = {
  bundle: true, platform: 'node', target: 'node20', format: 'cjs', sourcemap: true,
  mainFields: ['module', 'main'], external, logLevel: 'warning',
};

function findTests(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return findTests(p);
    return p.endsWith('.test.ts') ? [p] : [];
  });
}

const programs = [
  { entryPoints: { cli: 'src/trainer/cli.ts' }, outdir: 'dist', banner: { js: '#!/usr/bin/env node' } },
  { entryPoints: { bench: 'bench/index.ts' }, outdir: 'dist' },
  // The gradient pool's worker threads (src/engine/train/parallel.ts) run this bundle.
  { entryPoints: { 'grad-worker': 'src/trainer/grad-worker.ts' }, outdir: 'dist' },
];
if (existsSync('src/extension/extension.ts')) programs.push({ entryPoints: { extension: 'src/extension/extension.ts' }, outdir: 'dist' });

// Webviews: every webview/<name>/main.ts becomes dist/webview/<name>.js (browser code).
const webviews = existsSync('webview')
  ? readdirSync('webview').filter((n) => existsSync(join('webview', n, 'main.ts')))
  : [];
if (webviews.length) {
  programs.push({
    entryPoints: Object.fromEntries(webviews.map((n) => [n, join('webview', n, 'main.ts')])),
    outdir: 'dist/webview', platform: 'browser', format: 'iife', target: 'es2022', mainFields: ['browser', 'module', 'main'],
    external: [], loader: { '.css': 'text' },
  });
}
// Static assets the webviews load: the codicon font and stylesheet, the wasm binaries.
mkdirSync('dist/webview', { recursive: true });
for (const f of ['codicon.css', 'codicon.ttf']) {
  const src = join('node_modules/@vscode/codicons/dist', f);
  if (existsSync(src)) copyFileSync(src, join('dist/webview', f));
}
mkdirSync('dist/wasm', { recursive: true });
for (const f of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm']) {
  const src = join('node_modules/@tensorflow/tfjs-backend-wasm/dist', f);
  if (existsSync(src)) copyFileSync(src, join('dist/wasm', f));
}

// koffi's loader and its prebuilt binaries for the desktop platforms, beside the bundles
// (src/engine/native/ffi.ts loads this copy first): the packaged extension has no node_modules.
const KOFFI_PLATFORMS = ['linux_x64', 'linux_arm64', 'darwin_x64', 'darwin_arm64', 'win32_x64', 'win32_arm64'];
rmSync('dist/koffi', { recursive: true, force: true });
if (existsSync('node_modules/koffi/index.js')) {
  for (const f of ['index.js', 'package.json', 'LICENSE.txt']) {
    mkdirSync('dist/koffi', { recursive: true });
    if (existsSync(join('node_modules/koffi', f))) copyFileSync(join('node_modules/koffi', f), join('dist/koffi', f));
  }
  for (const p of KOFFI_PLATFORMS) {
    const src = join('node_modules/koffi/build/koffi', p, 'koffi.node');
    if (!existsSync(src)) continue;
    mkdirSync(join('dist/koffi/build/koffi', p), { recursive: true });
    copyFileSync(src, join('dist/koffi/build/koffi', p, 'koffi.node'));
  }
}

rmSync('.test-dist', { recursive: true, force: true });
// All tests go into ONE bundle, so the process holds one copy of TensorFlow.js (separate
// bundles would each register the same kernels and gradients again).
const tests = findTests('test').sort();
if (tests.length) {
  programs.push({
    stdin: { contents: tests.map((t) => `import './${t.replace(/\\/g, '/')}';`).join('\n'), resolveDir: '.', sourcefile: 'all-tests.ts', loader: 'ts' },
    outfile: '.test-dist/all.test.js',
  });
}

await Promise.all(programs.map((p) => esbuild.build({ ...common, ...p })));
