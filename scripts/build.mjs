// Bundles the programs with esbuild. tfjs-core, -backend-cpu and -backend-wasm are bundled
// (their ESM builds, so gradients can be registered on the same copy of the engine); the
// optional native backends stay external and are required at run time if installed.
import * as esbuild from 'esbuild';
import { readdirSync, statSync, rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const watch = process.argv.includes('--watch');
const external = ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-backend-wasm/package.json', 'vscode'];
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
];
if (existsSync('src/extension/extension.ts')) programs.push({ entryPoints: { extension: 'src/extension/extension.ts' }, outdir: 'dist' });

rmSync('.test-dist', { recursive: true, force: true });
const tests = findTests('test');
if (tests.length) programs.push({ entryPoints: tests, outdir: '.test-dist', outbase: 'test' });

await Promise.all(programs.filter((p) => Object.keys(p.entryPoints).length || p.entryPoints.length)
  .map((p) => esbuild.build({ ...common, ...p })));
