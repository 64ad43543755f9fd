import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { identifyModel, modelLocations, scanCatalogue } from '../../../../src/engine/core/catalogue';
import { readGgufHeader } from '../../../../src/engine/core/formats/gguf-header';
import { loadModel } from '../../../../src/engine/model/loader';
import { selectBackend } from '../../../../src/engine/backend';
import { validateRunConfig } from '../../../../src/engine/core/run-config';
import { train } from '../../../../src/engine/train/trainer';
import { listRuns } from '../../../../src/engine/core/runs/store';
import { Catalogue, CatalogueEntry, parseCatalogue, validateCatalogue } from '../../../../src/protocol/catalogue';
import { hfCacheRepo, ollamaModel, tinyGguf, tinyHfFiles } from './stores';

const CHATML = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}";
const GO_TEMPLATE = '{{ if .System }}<|start_header_id|>system<|end_header_id|>\n\n{{ .System }}<|eot_id|>{{ end }}{{ .Prompt }}';

/** A home folder with every store in its default place, as each tool lays it out. */
function makeMachine(base: string): { home: string; files: Record<string, string> } {
  const home = join(base, 'home');
  const files: Record<string, string> = {};
  const work = join(base, 'work');
  mkdirSync(work, { recursive: true });

  // Hugging Face hub cache
  const hub = join(home, '.cache', 'huggingface', 'hub');
  tinyHfFiles(join(work, 'tiny-llama'));
  files.hfTiny = hfCacheRepo(hub, 'acme/tiny-llama', join(work, 'tiny-llama'), ['config.json', 'model.safetensors', 'tokenizer.json']);
  tinyHfFiles(join(work, 'mamba'), { model_type: 'mamba' });
  hfCacheRepo(hub, 'acme/tiny-mamba', join(work, 'mamba'), ['config.json', 'model.safetensors', 'tokenizer.json']);
  tinyHfFiles(join(work, 'gptq'), { quantization_config: { quant_method: 'gptq', bits: 4 } });
  hfCacheRepo(hub, 'acme/tiny-gptq', join(work, 'gptq'), ['config.json', 'model.safetensors', 'tokenizer.json']);
  tinyGguf(join(work, 'gguf-repo', 'tiny-f16.gguf'), { weightType: 'F16', fileType: 1 });
  hfCacheRepo(hub, 'acme/tiny-GGUF', join(work, 'gguf-repo'), ['tiny-f16.gguf']);
  // refs/main names a revision whose snapshot is gone
  mkdirSync(join(hub, 'models--acme--gone', 'refs'), { recursive: true });
  writeFileSync(join(hub, 'models--acme--gone', 'refs', 'main'), 'b'.repeat(40));
  // a dangling blob: the snapshot's model.safetensors points at a blob that was removed
  tinyHfFiles(join(work, 'dangling'));
  const snap = hfCacheRepo(hub, 'acme/dangling', join(work, 'dangling'), ['config.json', 'model.safetensors', 'tokenizer.json']);
  rmSync(resolve(snap, readlinkRel(join(snap, 'model.safetensors'))));
  files.datasetsIgnored = join(hub, 'datasets--acme--data');
  mkdirSync(files.datasetsIgnored, { recursive: true });

  // Ollama
  const ollama = join(home, '.ollama', 'models');
  const tiny = join(work, 'tiny.gguf');
  tinyGguf(tiny, { name: 'Tiny Stories', template: CHATML });
  files.ollamaBlob = ollamaModel(ollama, { name: 'tiny', tag: 'latest', gguf: readFileSync(tiny), template: GO_TEMPLATE, params: { stop: ['<|eot_id|>', '<|end|>'], temperature: 0.7 } }).modelBlob;
  const quant = join(work, 'quant.gguf');
  tinyGguf(quant, { weightType: 'IQ2_XXS', fileType: 19, hidden: 256 });
  ollamaModel(ollama, { name: 'llama3.2', tag: '1b', gguf: readFileSync(quant), template: GO_TEMPLATE, params: { stop: ['<|eot_id|>'] } });
  ollamaModel(ollama, { namespace: 'someone', name: 'tiny', tag: 'q8', gguf: readFileSync(tiny) });
  ollamaModel(ollama, { registry: 'hf.co', namespace: 'acme', name: 'tiny-GGUF', tag: 'F32', gguf: readFileSync(tiny) });
  ollamaModel(ollama, { name: 'missing', tag: 'latest', gguf: Buffer.from('not even a gguf, and removed'), dropModelBlob: true });
  const broken = join(ollama, 'manifests', 'registry.ollama.ai', 'library', 'broken', 'latest');
  mkdirSync(join(broken, '..'), { recursive: true });
  writeFileSync(broken, '{"schemaVersion": 2, "layers": [');

  // LM Studio: <publisher>/<repo>/<file>.gguf; a symlink loop and a link out of the folder
  const lms = join(home, '.lmstudio', 'models');
  tinyGguf(join(lms, 'acme', 'tiny-GGUF', 'tiny-Q8_0.gguf'), { weightType: 'Q8_0', fileType: 7 });
  tinyGguf(join(lms, 'acme', 'tiny-GGUF', 'tiny-adapter.gguf'), { adapter: true });
  mkdirSync(join(lms, 'loops'), { recursive: true });
  symlinkSync(join(lms, 'loops', 'b'), join(lms, 'loops', 'a'));
  symlinkSync(join(lms, 'loops', 'a'), join(lms, 'loops', 'b'));
  symlinkSync(join(lms, 'loops', 'a'), join(lms, 'loops', 'looped.gguf'));
  symlinkSync(lms, join(lms, 'acme', 'back-to-top')); // a link up the tree: walked once, not forever
  symlinkSync(tiny, join(lms, 'acme', 'outside.gguf'));

  // llama.cpp's cache: flat .gguf files
  const lcpp = join(home, '.cache', 'llama.cpp');
  tinyGguf(join(lcpp, 'acme_tiny-GGUF_tiny-rwkv.gguf'), { arch: 'rwkv6' });
  writeFileSync(join(lcpp, 'truncated.gguf'), readFileSync(tiny).subarray(0, 40));
  return { home, files };
}

function readlinkRel(p: string): string {
  return require('node:fs').readlinkSync(p);
}

const byName = (c: Catalogue, name: string): CatalogueEntry => {
  const e = c.models.find((m) => m.name === name);
  assert.ok(e, `no entry "${name}" in ${c.models.map((m) => m.name).join(', ')}`);
  return e;
};

describe('model catalogue', function () {
  this.timeout(60_000);
  let base: string;
  let home: string;
  let files: Record<string, string>;
  let cat: Catalogue;

  before(async () => {
    base = mkdtempSync(join(tmpdir(), 'adapt-lab-catalogue-'));
    ({ home, files } = makeMachine(base));
    cat = await scanCatalogue({ env: {}, home, system: false });
  });
  after(() => rmSync(base, { recursive: true, force: true }));

  it('looks where each tool keeps its models, from their environment variables', () => {
    const def = modelLocations({ env: {}, home: '/h', os: 'linux', system: false });
    assert.deepEqual(def.map((l) => [l.source, l.path]), [
      ['huggingface', '/h/.cache/huggingface/hub'], ['ollama', '/h/.ollama/models'], ['lmstudio', '/h/.lmstudio/models'],
      ['lmstudio', '/h/.cache/lm-studio/models'], ['llamacpp', '/h/.cache/llama.cpp'],
    ]);
    const env = modelLocations({ env: { HF_HOME: '/hf', OLLAMA_MODELS: '/o', LLAMA_CACHE: '/l' }, home: '/h', os: 'linux', folders: ['~/models', '/o'] });
    assert.deepEqual(env.map((l) => [l.source, l.path, l.via]), [
      ['huggingface', '/hf/hub', 'HF_HOME'], ['ollama', '/o', 'OLLAMA_MODELS'], ['lmstudio', '/h/.lmstudio/models', 'default'],
      ['lmstudio', '/h/.cache/lm-studio/models', 'default (older LM Studio)'], ['llamacpp', '/l', 'LLAMA_CACHE'],
      ['folder', '/h/models', 'adaptLab.modelFolders'],
    ]);
    assert.equal(modelLocations({ env: { HF_HUB_CACHE: '/x', HF_HOME: '/hf' }, home: '/h' })[0].path, '/x');
  });

  it('names Hugging Face cache models by repository id, with family, parameters, dtype and verdict', () => {
    const t = byName(cat, 'acme/tiny-llama');
    assert.equal(t.source, 'huggingface');
    assert.equal(t.format, 'hf');
    assert.equal(t.path, files.hfTiny);
    assert.equal(t.revision, 'a'.repeat(40));
    assert.equal(t.family, 'llama');
    assert.equal(t.params, 32 * 16 + 16 * 16 + 16);
    assert.equal(t.dtype, 'F16');
    assert.equal(t.trainable, true, t.reason);
    assert.equal(t.error, undefined);
    assert.ok(t.sizeBytes > 1000, `size ${t.sizeBytes} counts the blobs the snapshot links to`);
    const m = byName(cat, 'acme/tiny-mamba');
    assert.equal(m.trainable, false);
    assert.match(m.reason!, /model_type "mamba" is not supported \(supported: llama/);
    assert.match(byName(cat, 'acme/tiny-gptq').reason!, /quantization_config \(gptq\)/);
    const g = byName(cat, 'acme/tiny-GGUF/tiny-f16.gguf');
    assert.equal(g.format, 'gguf');
    assert.equal(g.dtype, 'F16');
    assert.equal(g.trainable, true, g.reason);
    assert.ok(!cat.models.some((x) => x.name.startsWith('acme/data')), 'datasets-- folders are not models');
  });

  it('reports a missing snapshot and a dangling blob on their own entries', () => {
    assert.match(byName(cat, 'acme/gone').error!, /refs\/main names revision b{40}, but cannot read folder .*missing/);
    const d = byName(cat, 'acme/dangling');
    assert.match(d.error!, /model\.safetensors is a link to \.\.\/\.\.\/blobs\/[0-9a-f]{64}, which is missing/);
    assert.equal(d.trainable, false);
  });

  it('names Ollama models as `ollama run` does, with the template and stop parameters from the manifest', () => {
    const t = byName(cat, 'tiny:latest');
    assert.equal(t.source, 'ollama');
    assert.equal(t.path, files.ollamaBlob);
    assert.equal(t.family, 'llama');
    assert.equal(t.trainable, true, t.reason);
    assert.equal(t.template, GO_TEMPLATE);
    assert.deepEqual(t.stop, ['<|eot_id|>', '<|end|>']);
    assert.deepEqual(t.parameters, { stop: ['<|eot_id|>', '<|end|>'], temperature: 0.7 });
    assert.ok(byName(cat, 'someone/tiny:q8'));
    assert.ok(byName(cat, 'hf.co/acme/tiny-GGUF:F32'));
    const q = byName(cat, 'llama3.2:1b');
    assert.equal(q.dtype, 'IQ2_XXS');
    assert.equal(q.trainable, false);
    assert.match(q.reason!, /7 of 11 tensors are IQ2_XXS \(e\.g\. "blk\.0\.attn_q\.weight"\); tensor types supported: F32, F16/);
  });

  it('reports a broken manifest and a manifest whose model blob is gone, and keeps scanning', () => {
    assert.match(byName(cat, 'broken:latest').error!, /manifest .*broken\/latest is not valid JSON/);
    assert.match(byName(cat, 'missing:latest').error!, /model blob .*blobs\/sha256-[0-9a-f]{64} named by .*missing\/latest is missing/);
  });

  it('lists LM Studio and llama.cpp files by their paths, and refuses adapters and unknown architectures by name', () => {
    const q = byName(cat, 'acme/tiny-GGUF/tiny-Q8_0.gguf');
    assert.equal(q.source, 'lmstudio');
    assert.equal(q.dtype, 'Q8_0');
    assert.equal(q.trainable, true, q.reason);
    assert.match(byName(cat, 'acme/tiny-GGUF/tiny-adapter.gguf').reason!, /a LoRA adapter/);
    const r = byName(cat, 'acme_tiny-GGUF_tiny-rwkv');
    assert.equal(r.source, 'llamacpp');
    assert.equal(r.family, 'rwkv6');
    assert.match(r.reason!, /architecture "rwkv6" is not supported \(supported: llama, /);
    assert.match(byName(cat, 'truncated').error!, /truncated\.gguf: header claims 16 metadata entries and 11 tensors, more than the file could hold/);
  });

  it('detects symlink loops and never follows links out of a scanned folder', () => {
    assert.match(byName(cat, 'loops/looped.gguf').error!, /symlink loop/);
    assert.match(byName(cat, 'loops/a').error!, /symlink loop/);
    assert.match(byName(cat, 'acme/outside.gguf').error!, /links outside .*\.lmstudio\/models .*not followed/);
    // back-to-top leads to the root itself: walked once, so each file is listed once.
    assert.equal(cat.models.filter((m) => m.name.endsWith('tiny-Q8_0.gguf')).length, 1);
  });

  it('produces a payload the protocol validator accepts, and the validator catches a bad one', () => {
    assert.deepEqual(validateCatalogue(cat), []);
    const bad = JSON.parse(JSON.stringify(cat));
    bad.models[0].source = 'somewhere';
    bad.models[1].trainable = false;
    delete bad.models[1].reason;
    bad.models[2].sizeBytes = -1;
    const problems = validateCatalogue(bad);
    assert.equal(problems.length, 3, problems.join('\n'));
    assert.throws(() => parseCatalogue(bad), /catalogue\.models\[0\]\.source: "somewhere"/);
  });

  it('a trainable verdict is one the loader agrees with (an Ollama blob loads without a .gguf extension)', async () => {
    await selectBackend({ backend: 'cpu' });
    for (const name of ['tiny:latest', 'acme/tiny-GGUF/tiny-f16.gguf']) {
      const lm = await loadModel(byName(cat, name).path);
      assert.equal(lm.model.config.family, 'llama');
      lm.model.dispose();
    }
    await assert.rejects(loadModel(byName(cat, 'acme_tiny-GGUF_tiny-rwkv').path), /architecture "rwkv6" is not supported/);
    await assert.rejects(loadModel(byName(cat, 'llama3.2:1b').path), /IQ2_XXS, which is not supported/);
  });

  it('reads only the header of a GGUF, and refuses a hostile array length at once', async () => {
    const big = join(base, 'big.gguf');
    tinyGguf(big, { vocab: 20000 });
    const h = await readGgufHeader(big, { firstBytes: 4096 });
    assert.ok(h.bytesRead < h.fileSize / 2, `read ${h.bytesRead} of ${h.fileSize} bytes`);
    assert.deepEqual(h.metadata.get('tokenizer.ggml.tokens'), { arrayOf: 'STRING', length: 20000 });
    const hostile = join(base, 'hostile.gguf');
    const bytes = Buffer.from(readFileSync(big));
    // tokenizer.ggml.scores' length → 2^50: an array the file could never hold
    const key = bytes.indexOf('tokenizer.ggml.scores');
    bytes.writeBigUInt64LE(2n ** 50n, key + 'tokenizer.ggml.scores'.length + 8);
    writeFileSync(hostile, bytes);
    const t0 = Date.now();
    await assert.rejects(readGgufHeader(hostile), /hostile\.gguf: metadata "tokenizer\.ggml\.scores" is an array of 1125899906842624 FLOAT32, more than the file could hold/);
    assert.ok(Date.now() - t0 < 1000);
    const small = await readGgufHeader(big, { maxBytes: 8192 }).catch((e: Error) => e);
    assert.match(String(small), /header is longer than 8192 bytes/);
  });

  it('stops at its time limit and says so on the root, keeping what it found', async () => {
    const c = await scanCatalogue({ env: {}, home, system: false, timeLimitMs: 0 });
    assert.match(c.roots[0].error!, /time limit/);
    assert.deepEqual(validateCatalogue(c), []);
  });

  it('reports an unreadable folder on its own entry', async function () {
    const unreadable = join(home, '.lmstudio', 'models', 'locked');
    mkdirSync(join(unreadable, 'repo'), { recursive: true });
    chmodSync(unreadable, 0o000);
    try {
      // root reads any folder: scan as an unprivileged user through the CLI then.
      const cli = resolve('dist/cli.js');
      const asNobody = process.getuid?.() === 0;
      if (asNobody) chmodSync(base, 0o755);
      const r = spawnSync(process.execPath, [cli, 'models', '--json'], {
        env: { PATH: process.env.PATH, HOME: home }, encoding: 'utf8', ...(asNobody ? { uid: 65534, gid: 65534 } : {}),
      });
      assert.equal(r.status, 0, r.stderr);
      const c = parseCatalogue(JSON.parse(r.stdout));
      assert.match(byName(c, 'locked').error!, /cannot read folder .*locked: permission denied/);
      assert.ok(byName(c, 'acme/tiny-GGUF/tiny-Q8_0.gguf').trainable, 'the rest of the folder is still listed');
      assert.ok(byName(c, 'tiny:latest'));
    } finally {
      chmodSync(unreadable, 0o755);
    }
  });

  it('adapt-lab models prints each source with its models, verdicts and a count', () => {
    const r = spawnSync(process.execPath, [resolve('dist/cli.js'), 'models'], { env: { PATH: process.env.PATH, HOME: home }, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^Hugging Face cache — .*\.cache\/huggingface\/hub$/m);
    assert.match(r.stdout, /^Ollama — .*\.ollama\/models/m);
    assert.match(r.stdout, /^  tiny:latest\n {6}llama · [\d.]+K params · F32 · \d+ KiB · trainable\n/m);
    assert.match(r.stdout, /^  llama3\.2:1b\n.* · not trainable: 7 of 11 tensors are IQ2_XXS/m);
    assert.match(r.stdout, /stop "<\|eot_id\|>" "<\|end\|>"/);
    const n = cat.models.length;
    assert.match(r.stdout, new RegExp(`^${n} models, ${cat.models.filter((m) => m.trainable).length} trainable by Adapt Lab \\(scanned in \\d+ ms\\)$`, 'm'));
  });

  it('names a model path by the store it lies in, for the run record', async () => {
    const o = { env: {}, home, system: false };
    assert.deepEqual(await identifyModel(files.ollamaBlob, o), { source: 'ollama', name: 'tiny:latest' });
    assert.deepEqual(await identifyModel(files.hfTiny, o), { source: 'huggingface', name: 'acme/tiny-llama' });
    assert.deepEqual(await identifyModel(join(base, 'work', 'tiny.gguf'), o), { source: 'file', name: 'tiny' });
  });

  it('a run trained on an Ollama model records its source, name and SHA-256', async () => {
    await selectBackend({ backend: 'cpu' });
    const dir = join(base, 'run');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'train.txt'), 'abc def ghi jkl mno pqr stu vwx yz '.repeat(20));
    const saved = process.env.OLLAMA_MODELS;
    process.env.OLLAMA_MODELS = join(home, '.ollama', 'models');
    try {
      const config = validateRunConfig({
        model: files.ollamaBlob, data: { train: join(dir, 'train.txt'), validationSplit: 0 }, adapt: { lora: { rank: 2 } },
        training: { maxSteps: 1, batchSize: 2, maxLength: 16, evalEvery: 0, checkpointEvery: 0 }, backend: 'cpu', runsDir: join(dir, 'runs'),
      }, dir, 'test.json');
      const end = await train(config, {});
      assert.equal(end.type, 'finished', JSON.stringify(end));
    } finally {
      if (saved === undefined) delete process.env.OLLAMA_MODELS;
      else process.env.OLLAMA_MODELS = saved;
    }
    const [run] = listRuns(join(dir, 'runs'));
    const hex = files.ollamaBlob.split('sha256-')[1];
    assert.deepEqual(run.base, { source: 'ollama', name: 'tiny:latest', path: files.ollamaBlob, sha256: hex });
  });
});
