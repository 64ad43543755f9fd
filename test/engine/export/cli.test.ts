// `adapt-lab export` as a user runs it: the built dist/cli.js in a child process.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { selectBackend } from '../../../src/engine/backend';
import { makeRun, tempDir } from './fixture';

const CLI = resolve('dist/cli.js');

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('adapt-lab export', function () {
  this.timeout(300000);
  let dir: string;
  let run: string;

  before(async () => {
    await selectBackend({ backend: 'cpu' });
    dir = tempDir();
    run = await makeRun(dir, { lora: { rank: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'v_proj'] } }, 'cli');
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  it('--format peft writes the adapter and lists the files with sizes', () => {
    const out = join(dir, 'peft');
    const r = cli('export', run, '--format', 'peft', '--out', out, '--backend', 'cpu');
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(readdirSync(out).sort(), ['.adapt-lab-export', 'README.md', 'adapter_config.json', 'adapter_model.safetensors']);
    assert.match(r.out, /exported run .* \(checkpoint step 3\) as peft to /);
    assert.match(r.out, /adapter_model\.safetensors\s+[\d.]+ KiB/);
    assert.match(r.out, /total\s+[\d.]+ KiB/);
    assert.equal(JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8')).r, 4);
  });

  it('--format merged-gguf --dtype f16 --checkpoint 3', () => {
    const out = join(dir, 'gguf');
    const r = cli('export', run, '--format', 'merged-gguf', '--out', out, '--dtype', 'f16', '--checkpoint', '3', '--backend', 'cpu');
    assert.equal(r.code, 0, r.err);
    assert.ok(existsSync(join(out, 'model.gguf')));
  });

  it('errors are one line: bad format, missing --out, a busy --out, a bad checkpoint', () => {
    const cases: [string[], RegExp][] = [
      [['--format', 'onnx', '--out', join(dir, 'x')], /^adapt-lab: unknown export format "onnx" \(use one of: peft, merged-hf, merged-gguf, gguf-lora, ollama\)\n$/],
      [['--format', 'peft'], /^adapt-lab: export needs --out DIR/],
      [['--format', 'peft', '--out', join(dir, 'peft')], /^adapt-lab: .*peft already exists and is not empty \(pass --force to replace an earlier export there\)\n$/],
      [['--format', 'peft', '--out', join(dir, 'y'), '--checkpoint', 'first'], /^adapt-lab: --checkpoint must be best, latest or a step number/],
      [['--format', 'merged-hf', '--out', join(dir, 'z'), '--dtype', 'bf16'], /^adapt-lab: --dtype must be f32 or f16/],
    ];
    for (const [args, re] of cases) {
      const r = cli('export', run, ...args);
      assert.equal(r.code, 1, args.join(' '));
      assert.match(r.err, re);
      assert.equal(r.err.trim().split('\n').length, 1, r.err);
    }
    assert.ok(!existsSync(join(dir, 'x')) && !existsSync(join(dir, 'y')) && !existsSync(join(dir, 'z')));
    const r = cli('export', join(dir, 'no-such-run'), '--format', 'peft', '--out', join(dir, 'w'));
    assert.equal(r.code, 1);
    assert.match(r.err, /run\.json/);
  });

  it('is in the usage text', () => {
    assert.match(cli('--help').out, /export RUN_DIR --format peft\|merged-hf\|merged-gguf\|gguf-lora\|ollama --out DIR/);
  });
});
