// The import rules (.dependency-cruiser.cjs, run by `npm run lint:deps` in `npm test`) fail
// when broken: each rule is shown failing on a small fixture tree laid out like src/, and the
// same tree without the bad imports passes. And the built extension carries no TensorFlow.js
// (type-only imports are erased, but nothing else would notice a value import sneaking in).
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const CONFIG = resolve('.dependency-cruiser.cjs');
const DEPCRUISE = resolve('node_modules/dependency-cruiser/bin/dependency-cruise.mjs');

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

function writeTree(root: string, files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
}

/** Runs the project's rules over a fixture tree; its violations. */
function cruise(files: Record<string, string>): Violation[] {
  const root = mkdtempSync(join(tmpdir(), 'adapt-lab-deps-'));
  try {
    writeTree(root, { 'tsconfig.json': JSON.stringify({ compilerOptions: { module: 'commonjs', strict: true } }), ...files });
    // The project's packages, so '@tensorflow/tfjs-core' resolves as it does in the real tree.
    symlinkSync(resolve('node_modules'), join(root, 'node_modules'), 'dir');
    const r = spawnSync(process.execPath, [DEPCRUISE, '--config', CONFIG, '--output-type', 'json', 'src', 'webview'], {
      cwd: root,
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    if (!r.stdout) throw new Error(`depcruise printed nothing (exit ${r.status}): ${r.stderr}`);
    return JSON.parse(r.stdout).summary.violations as Violation[];
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

// A tree that follows every rule: tf.ts is the engine's only TensorFlow.js import, the compute
// part uses the core, the extension and the webview use the core and the protocol.
const CLEAN: Record<string, string> = {
  'src/engine/tf.ts': "import * as tf from '@tensorflow/tfjs-core';\nexport { tf };\n",
  'src/engine/core/plan.ts': "import { Msg } from '../../protocol/msg';\nexport const plan = (m: Msg) => m.type;\n",
  'src/engine/model/model.ts': "import { tf } from '../tf';\nimport { plan } from '../core/plan';\nexport const run = () => [tf, plan];\n",
  'src/protocol/msg.ts': "export interface Msg { type: 'a' }\n",
  'src/extension/view.ts': "import { plan } from '../engine/core/plan';\nexport const show = plan;\n",
  'webview/panel/main.ts': "import type { Msg } from '../../src/protocol/msg';\nexport const m: Msg = { type: 'a' };\n",
};

describe('import rules (dependency-cruiser)', function () {
  this.timeout(120_000);

  it('pass on a tree that keeps them', () => {
    assert.deepEqual(cruise(CLEAN).map((v) => `${v.rule.name}: ${v.from}`), []);
  });

  it('fail on a cycle, a backward core import, TensorFlow.js behind the extension or protocol, and a webview importing src/', () => {
    const broken = {
      ...CLEAN,
      // core → compute (and so core reaches TensorFlow.js; the extension reaches it through the core)
      'src/engine/core/plan.ts': "import { run } from '../model/model';\nexport const plan = () => run;\n",
      // a cycle of two modules
      'src/engine/model/a.ts': "import { b } from './b';\nexport const a = () => b;\n",
      'src/engine/model/b.ts': "import { a } from './a';\nexport const b = () => a;\n",
      // the protocol taking a type from the engine
      'src/protocol/msg.ts': "import type { run } from '../engine/model/model';\nexport interface Msg { type: 'a'; f?: typeof run }\n",
      // a webview importing the engine
      'webview/panel/main.ts': "import { plan } from '../../src/engine/core/plan';\nexport const p = plan;\n",
    };
    const found = new Set(cruise(broken).map((v) => `${v.rule.name}: ${v.from}`));
    for (const want of [
      'no-cycles: src/engine/model/a.ts',
      'core-imports-no-compute: src/engine/core/plan.ts',
      'core-without-tfjs: src/engine/core/plan.ts',
      'extension-without-tfjs: src/extension/view.ts',
      'protocol-without-tfjs: src/protocol/msg.ts',
      'protocol-self-contained: src/protocol/msg.ts',
      'webview-imports-only-protocol: webview/panel/main.ts',
    ]) {
      assert.ok(found.has(want), `expected "${want}" among:\n${[...found].join('\n')}`);
    }
  });

  it('fail on the extension importing the compute part or the trainer, the engine importing vscode, and training or evaluation imported from below', () => {
    const broken = {
      ...CLEAN,
      'src/extension/view.ts': "import { run } from '../engine/model/model';\nimport { main } from '../trainer/cli';\nexport const show = [run, main];\n",
      'src/trainer/cli.ts': 'export const main = 1;\n',
      // evaluation taking something from training, llama.cpp from evaluation (folder-level cycles in waiting)
      'src/engine/train/loop.ts': "import { run } from '../model/model';\nexport const loop = run;\n",
      'src/engine/eval/loss.ts': "import { loop } from '../train/loop';\nexport const loss = loop;\n",
      'src/engine/llamacpp/prompts.ts': "import { loss } from '../eval/loss';\nexport const p = loss;\n",
      'src/engine/model/model.ts': "import * as vscode from 'vscode';\nimport { tf } from '../tf';\nexport const run = () => [tf, vscode];\n",
    };
    const found = new Set(cruise(broken).map((v) => `${v.rule.name}: ${v.from}`));
    for (const want of [
      'extension-imports-only-engine-core: src/extension/view.ts',
      'extension-spawns-trainer: src/extension/view.ts',
      'engine-without-editor: src/engine/model/model.ts',
      'training-imported-by-no-lower-part: src/engine/eval/loss.ts',
      'llamacpp-imports-no-evaluation: src/engine/llamacpp/prompts.ts',
    ]) {
      assert.ok(found.has(want), `expected "${want}" among:\n${[...found].join('\n')}`);
    }
  });
});

/**
 * Traces of TensorFlow.js in a bundle: its package paths (esbuild's comments), a require of
 * it left external, and its code. A string that only names a package (the native-backend
 * installer's `@tensorflow/tfjs-node`) is not a trace.
 */
function tfjsTraces(bundle: string): string[] {
  const markers = [/node_modules\/@tensorflow\//, /require\(["']@tensorflow\//, /tfjs-core/, /tfjs-backend/, /registerKernel/, /Tensor is disposed/];
  return markers.filter((m) => m.test(bundle)).map(String);
}

describe('dist/extension.js', () => {
  it('contains no TensorFlow.js (the trainer bundle, which does, is flagged by the same check)', () => {
    const extension = readFileSync(resolve('dist/extension.js'), 'utf8');
    assert.deepEqual(tfjsTraces(extension), []);
    assert.ok(tfjsTraces(readFileSync(resolve('dist/cli.js'), 'utf8')).length >= 4, 'the check finds TensorFlow.js in dist/cli.js');
  });
});
