#!/usr/bin/env node
// `npm run package`: builds, then packages the extension as adapt-lab-<version>.vsix with
// @vscode/vsce, offline and without questions. dist/ bundles every dependency, so node_modules
// stays out (--no-dependencies); .vscodeignore is a whitelist. Then it reads the .vsix back
// (a zip: its central directory, no library), prints what is inside, fails if a source, test,
// tool, source map or node_modules file went in or a file the extension runs on is missing,
// and runs the packaged CLI from a temporary copy with no node_modules in reach.
//   --out FILE   where to write the .vsix (default: adapt-lab-<version>.vsix here)
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateRawSync } from 'node:zlib';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const outArg = process.argv.indexOf('--out');
const OUT = resolve(outArg > 0 ? process.argv[outArg + 1] : join(ROOT, `${pkg.name}-${pkg.version}.vsix`));

function fail(msg) {
  console.error(`package: ${msg}`);
  process.exit(1);
}

function run(what, args, opts = {}) {
  // stdin closed: a vsce question (missing LICENSE, repository...) reads EOF and fails instead of waiting.
  const r = spawnSync(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'], timeout: 300_000, ...opts });
  if (r.status !== 0) fail(`${what} failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`})`);
  return r;
}

/** The entries of a zip file: name, sizes and where its data starts (central directory, no zip64). */
export function zipEntries(buf) {
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 65535); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('not a zip file (no end of central directory)');
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const entries = [];
  for (let n = 0; n < count; n++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error(`bad central directory entry ${n}`);
    const method = buf.readUInt16LE(p + 10);
    const compressed = buf.readUInt32LE(p + 20);
    const size = buf.readUInt32LE(p + 24);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const local = buf.readUInt32LE(p + 42);
    const name = buf.toString('utf8', p + 46, p + 46 + nameLen);
    entries.push({ name, method, compressed, size, local });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

function entryData(buf, e) {
  const start = e.local + 30 + buf.readUInt16LE(e.local + 26) + buf.readUInt16LE(e.local + 28);
  const raw = buf.subarray(start, start + e.compressed);
  if (e.method === 0) return raw;
  if (e.method === 8) return inflateRawSync(raw);
  throw new Error(`${e.name}: unsupported compression method ${e.method}`);
}

const FORBIDDEN = [
  [/^extension\/(src|test|bench|scripts|webview|node_modules|\.tools|\.test-dist|\.e2e-dist|\.adapt-lab|test-results)\//, 'sources, tests, tools or dependencies'],
  [/(^|\/)node_modules\//, 'node_modules'],
  [/\.ts$/, 'TypeScript sources'],
  [/\.map$/, 'source maps'],
  [/(^|\/)\.tools\//, '.tools'],
];
const REQUIRED = [
  'extension/package.json',
  'extension/LICENSE.txt',
  'extension/dist/extension.js',
  'extension/dist/cli.js',
  'extension/dist/wasm/tfjs-backend-wasm.wasm',
  'extension/dist/wasm/tfjs-backend-wasm-simd.wasm',
  'extension/dist/wasm/tfjs-backend-wasm-threaded-simd.wasm',
  // koffi, the FFI the BLAS path loads (src/engine/native/ffi.ts), with its binaries.
  'extension/dist/koffi/index.js',
  'extension/dist/koffi/LICENSE.txt',
  ...['linux_x64', 'linux_arm64', 'darwin_x64', 'darwin_arm64', 'win32_x64'].map((p) => `extension/dist/koffi/build/koffi/${p}/koffi.node`),
  'extension/dist/webview/monitor.js',
  'extension/dist/webview/compare.js',
  'extension/dist/webview/codicon.css',
  'extension/dist/webview/codicon.ttf',
  'extension/media/adapt-lab.svg',
  'extension/models/adapt-lab-tiny/config.json',
  'extension/models/adapt-lab-tiny/model.safetensors',
  'extension/models/adapt-lab-tiny/tokenizer.json',
  'extension/samples/train.jsonl',
  'extension/samples/validation.jsonl',
  'extension/samples/demo.prompts.jsonl',
  'extension/samples/demo.config.json',
  'extension/samples/probe.txt',
  'extension/samples/replay.txt',
];

/** The programs this build wrote (dist/*.js newer than `since`) but the bench: the extension may start any of them. */
function builtPrograms(since) {
  return readdirSync(join(ROOT, 'dist'))
    .filter((f) => f.endsWith('.js') && f !== 'bench.js' && statSync(join(ROOT, 'dist', f)).mtimeMs >= since)
    .map((f) => `extension/dist/${f}`);
}

/** Checks the entries; returns the problems, one line each. */
export function checkEntries(names, required = REQUIRED) {
  const problems = [];
  for (const n of names) {
    const bad = FORBIDDEN.find(([re]) => re.test(n));
    if (bad) problems.push(`${n} should not be in the package (${bad[1]})`);
  }
  const have = new Set(names);
  for (const r of new Set(required)) if (!have.has(r)) problems.push(`${r} is missing${r.startsWith('extension/dist/') ? ' (a new bundle needs its line in .vscodeignore)' : ''}`);
  return problems;
}

const mb = (n) => `${(n / 1024 / 1024).toFixed(2)} MB`;

function summary(entries, fileSize) {
  const groups = new Map();
  for (const e of entries) {
    const parts = e.name.split('/');
    const key = parts[0] === 'extension' && parts.length > 2 ? `extension/${parts[1]}/${parts.length > 3 ? `${parts[2]}/` : ''}` : e.name.includes('/') ? `${parts[0]}/` : e.name;
    const g = groups.get(key) ?? { files: 0, bytes: 0 };
    g.files++;
    g.bytes += e.size;
    groups.set(key, g);
  }
  console.log(`\n${OUT}: ${entries.length} files, ${mb(fileSize)} (${mb(entries.reduce((s, e) => s + e.size, 0))} unpacked)`);
  for (const [k, g] of [...groups].sort()) console.log(`  ${k.padEnd(40)} ${String(g.files).padStart(3)} file${g.files === 1 ? ' ' : 's'} ${(g.bytes / 1024).toFixed(1).padStart(9)} KB`);
}

/** Unpacks the extension's programs, wasm and model into a temp folder and generates a few tokens there. */
function smokeTest(buf, entries) {
  const dir = mkdtempSync(join(tmpdir(), 'adapt-lab-vsix-'));
  try {
    for (const e of entries) {
      if (!/^extension\/(dist\/[^/]+\.js$|dist\/wasm\/|dist\/koffi\/|models\/adapt-lab-tiny\/)/.test(e.name)) continue;
      const to = join(dir, e.name);
      mkdirSync(dirname(to), { recursive: true });
      writeFileSync(to, entryData(buf, e));
    }
    const ext = join(dir, 'extension');
    const r = spawnSync(process.execPath, [join(ext, 'dist', 'cli.js'), 'generate', '--model', join(ext, 'models', 'adapt-lab-tiny'), '--prompt', 'It was', '--max-tokens', '8', '--temperature', '0', '--verbose'], {
      cwd: dir, encoding: 'utf8', timeout: 120_000, env: { ...process.env, NODE_PATH: '' },
    });
    const backend = /backend: (\S+)/.exec(r.stderr ?? '')?.[1];
    const products = /matrix products: (.*)/.exec(r.stderr ?? '')?.[1];
    if (r.status !== 0 || !r.stdout.startsWith('It was') || r.stdout.trim() === 'It was') {
      fail(`the packaged CLI did not run from ${dir} (exit ${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
    }
    console.log(`packaged CLI, run from a temporary copy (backend ${backend ?? '?'}; matrix products: ${products ?? '?'}): ${JSON.stringify(r.stdout.trim())}`);
    // With a BLAS on this machine the packaged koffi must have loaded it (the copy has no node_modules).
    if (process.env.ADAPT_LAB_REQUIRE_BLAS === '1' && !/OpenBLAS|BLIS|MKL|Accelerate/.test(products ?? '')) fail(`the packaged CLI did not use the BLAS: ${products}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const buildStart = Date.now() - 1000;
run('npm run build', ['scripts/build.mjs']);
rmSync(OUT, { force: true });
mkdirSync(dirname(OUT), { recursive: true });
const vsce = join(ROOT, 'node_modules', '@vscode', 'vsce', 'vsce');
run('vsce package', [vsce, 'package', '--no-dependencies', '--allow-missing-repository', '--out', OUT]);
const buf = readFileSync(OUT);
const entries = zipEntries(buf).filter((e) => !e.name.endsWith('/'));
summary(entries, statSync(OUT).size);
const problems = checkEntries(entries.map((e) => e.name), [...REQUIRED, ...builtPrograms(buildStart)]);
if (problems.length) fail(`the package is wrong:\n  ${problems.join('\n  ')}`);
smokeTest(buf, entries);
console.log(`package: ${OUT} is good`);
