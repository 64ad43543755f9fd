// The shipped embedded model (models/adapt-lab-tiny) and the demo samples (samples/): the model
// loads with our loader at its documented size, its tokenizer round-trips, the samples parse
// and are what scripts/make-samples.mjs makes, and the base model cannot do the demo task yet.
// (The demo itself, `npm run demo`, trains for a minute or more: not run here.)
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { selectBackend } from '../../src/engine/backend';
import { loadModel, LoadedModel } from '../../src/engine/model/loader';
import { generate } from '../../src/engine/generate';
import { loadDataset } from '../../src/engine/data/dataset';
import { loadRunConfig } from '../../src/engine/core/run-config';
import { readPromptFile } from '../../src/engine/core/prompts';
import { matches } from '../../src/engine/core/match';

const MODEL = resolve('models/adapt-lab-tiny');
const SAMPLES = resolve('samples');
const EOT = '<|endoftext|>';

describe('embedded model and demo samples', function () {
  this.timeout(60_000);
  let lm: LoadedModel;

  before(async () => {
    await selectBackend({});
    lm = await loadModel(MODEL);
  });
  after(() => lm?.model.dispose());

  it('ships a small Llama model in F16 that our loader reads', () => {
    const files = readdirSync(MODEL).sort();
    for (const f of ['README.md', 'config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) assert.ok(files.includes(f), `${f} is missing`);
    const bytes = files.reduce((n, f) => n + statSync(join(MODEL, f)).size, 0);
    assert.ok(bytes <= 10 * 2 ** 20, `models/adapt-lab-tiny is ${bytes} bytes, over 10 MiB`);
    const c = lm.model.config;
    assert.equal(c.family, 'llama');
    assert.equal(lm.format, 'hf');
    assert.ok(c.tiedHead, 'tied embeddings');
    assert.deepEqual([...new Set(lm.dtypes.values())], ['F16']);
    const params = lm.model.numParams;
    assert.ok(params > 200_000 && params < 5_000_000, `${params} parameters`);
    // The model card states the same count, and the weights take 2 bytes each.
    const card = readFileSync(join(MODEL, 'README.md'), 'utf8');
    assert.ok(card.includes(params.toLocaleString('en-US')), 'the model card states the parameter count');
    const st = statSync(join(MODEL, 'model.safetensors')).size;
    assert.ok(st >= 2 * params && st < 2 * params + 64 * 1024, `model.safetensors is ${st} bytes for ${params} F16 parameters`);
    const hf = JSON.parse(readFileSync(join(MODEL, 'config.json'), 'utf8'));
    assert.equal(hf.model_type, 'llama');
    assert.equal(hf.torch_dtype, 'float16');
    assert.equal(hf.vocab_size, c.vocabSize);
  });

  it('has a byte-level BPE tokenizer that round-trips, with <|endoftext|> as BOS and EOS', () => {
    const tok = lm.tokenizer!;
    assert.ok(tok, 'tokenizer.json was read');
    assert.equal(tok.kind, 'bpe');
    assert.equal(tok.vocabSize, lm.model.config.vocabSize);
    assert.equal(tok.bos, 0);
    assert.equal(tok.eos, 0);
    assert.ok(tok.addBos);
    assert.deepEqual(tok.encode(EOT, { addBos: false }), [0]);
    const texts = [
      readFileSync(join(SAMPLES, 'probe.txt'), 'utf8'),
      'Elinor received a kind letter. Elinor was happy.',
      'naïve café — “quotes”, tabs\tand\n\nnewlines, 日本語, emoji 🎉  ',
    ];
    for (const t of texts) {
      const ids = tok.encode(t, { addBos: false });
      assert.ok(ids.every((id) => id > 0 && id < tok.vocabSize));
      assert.equal(tok.decode(ids), t);
    }
    // Trained on the corpus: English prose takes well under one token per 3 characters.
    const probe = texts[0];
    assert.ok(tok.encode(probe, { addBos: false }).length < probe.length / 3);
  });

  it('ships samples that parse and that scripts/make-samples.mjs regenerates', () => {
    const tok = lm.tokenizer!;
    const train = loadDataset(join(SAMPLES, 'train.jsonl'), tok, { maxLength: 64 });
    const val = loadDataset(join(SAMPLES, 'validation.jsonl'), tok, { maxLength: 64 });
    assert.equal(train.format, 'prompt-completion');
    assert.equal(train.examples.length, 200);
    assert.equal(val.examples.length, 40);
    assert.equal(train.stats.truncated, 0);
    const cases = readPromptFile(join(SAMPLES, 'demo.prompts.jsonl')).cases;
    assert.equal(cases.length, 40);
    for (const c of cases) {
      assert.ok(c.prompt && c.expected, `${c.id} has a prompt and an expected answer`);
      assert.ok(['exact', 'contains'].includes(c.match));
    }
    // No evaluation prompt is a training prompt.
    const trainPrompts = new Set(readFileSync(join(SAMPLES, 'train.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).prompt));
    assert.ok(cases.every((c) => !trainPrompts.has(c.prompt)));
    const cfg = loadRunConfig(join(SAMPLES, 'demo.config.json'));
    assert.equal(resolve(cfg.model), MODEL);
    assert.equal(resolve(cfg.runsDir), resolve('.adapt-lab/runs'));
    assert.ok(cfg.adapt.lora, 'the demo is a LoRA run');
    assert.ok(readFileSync(join(SAMPLES, 'probe.txt'), 'utf8').length > 2000);
    assert.match(readFileSync(join(SAMPLES, 'README.md'), 'utf8'), /public domain/i);
    const r = spawnSync(process.execPath, ['scripts/make-samples.mjs', '--check'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  });

  it('the base model cannot do the demo task (accuracy at most 30%)', () => {
    const cases = readPromptFile(join(SAMPLES, 'demo.prompts.jsonl')).cases;
    let right = 0;
    for (const c of cases) {
      const g = generate(lm.model, lm.tokenizer!, c.prompt, { maxTokens: 8, temperature: 0, stop: ['\n', ...c.stop] });
      if (matches(g.text, c.expected!, c.match)) right++;
    }
    assert.ok(right / cases.length <= 0.3, `base accuracy ${right}/${cases.length}`);
  });

  it('is what the README and the demo point at', () => {
    assert.ok(existsSync(resolve('scripts/demo.mjs')));
    const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
    assert.match(pkg.scripts.demo, /scripts\/demo\.mjs/);
    assert.match(pkg.scripts['pretrain-base'], /scripts\/pretrain-base\.mjs/);
  });
});
