// The evaluation report on stories260K with one real LoRA run on the mood task (trained once in
// before(), shared by every test): accuracy rises, a constructed regression is caught,
// stability, forgetting on the probe text, the schema, the PEFT reader, the CLI.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { sharedPath } from '../../helpers/shared';
import { moodCases, moodTask, writeJsonl } from '../../helpers/tasks';
import { selectBackend } from '../../../src/engine/backend';
import { tf } from '../../../src/engine/tf';
import { validateRunConfig } from '../../../src/engine/core/run-config';
import { train } from '../../../src/engine/train/trainer';
import { loadModel, transpose2d } from '../../../src/engine/model/loader';
import { applyRunAdapter } from '../../../src/engine/runs/adapter';
import { generate } from '../../../src/engine/generate';
import { writeSafetensors } from '../../../src/engine/core/formats/safetensors';
import { evaluateRunEnd, runEval } from '../../../src/engine/eval/report';
import { EvalReport, validateEvalReport } from '../../../src/protocol/eval';

const MODEL = sharedPath('models/stories260K/stories260K.gguf');
const PROBE = resolve('test/fixtures/probe.txt');
const CLI = resolve('dist/cli.js');

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, 'eval', ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('evaluation report on stories260K with a LoRA run on the mood task', function () {
  this.timeout(300_000);
  let task: ReturnType<typeof moodTask>;
  let runDir = '';
  let prompts = '';
  let report: EvalReport;
  const moodIds: string[] = [];
  let regression = { prompt: '', answer: '' };

  before(async function () {
    this.timeout(600_000);
    await selectBackend({ backend: 'wasm' });
    task = moodTask();
    const config = validateRunConfig({
      model: MODEL,
      data: { train: task.train, validation: task.validation },
      adapt: { lora: { rank: 8, alpha: 16, dropout: 0, targetModules: 'all-linear' } },
      training: { maxSteps: 40, batchSize: 16, learningRate: 0.01, warmupSteps: 4, evalEvery: 20, checkpointEvery: 20, maxLength: 48 },
      seed: 0, backend: 'wasm', runsDir: join(task.dir, 'runs'), name: 'eval-test',
    }, task.dir, 'test.json');
    const end = await train(config, { emit: (e) => { if (e.type === 'started') runDir = e.runDir; } });
    assert.equal(end.type, 'finished', JSON.stringify(end));

    // Held-out mood cases: the answer is the mood word, cut at the full stop.
    const rows: object[] = moodCases(12, 99).map((c, i) => {
      moodIds.push(`mood-${i}`);
      return { id: `mood-${i}`, prompt: c.prompt, expected: c.mood, stop: ['.'] };
    });
    // A case the base model gets right by construction: its own greedy answer to a mood prompt
    // that is not a bare mood word. The adapter teaches "happy"/"sad" there, so it regresses.
    const lm = await loadModel(MODEL);
    for (const c of moodCases(20, 5)) {
      const answer = generate(lm.model, lm.tokenizer!, c.prompt, { maxTokens: 16, temperature: 0, stop: ['\n', '.'] }).text.trim();
      if (answer && answer !== 'happy' && answer !== 'sad') {
        regression = { prompt: c.prompt, answer };
        break;
      }
    }
    lm.model.dispose();
    assert.ok(regression.answer, 'no base answer to build the regression case from');
    rows.push({ id: 'base-answer', prompt: regression.prompt, expected: regression.answer, stop: ['.'], weight: 3 });
    rows.push({ id: 'story', prompt: 'Once upon a time' }); // no expected: timed and sampled, not scored
    prompts = writeJsonl(join(task.dir, 'prompts.jsonl'), rows);
    report = await runEval({ model: MODEL, adapter: runDir, prompts, probe: PROBE, data: task.validation, samples: 2 });
  });

  it('accuracy rises on the task: base ≤ 0.25, adapted ≥ 0.75 on the mood cases', () => {
    const mood = report.cases.filter((c) => moodIds.includes(c.id));
    const acc = (k: 'base' | 'adapted') => mood.filter((c) => c[k]!.correct).length / mood.length;
    assert.ok(acc('base') <= 0.25, `base ${acc('base')}: ${mood.map((c) => JSON.stringify(c.base.output)).join(' ')}`);
    assert.ok(acc('adapted') >= 0.75, `adapted ${acc('adapted')}: ${mood.map((c) => JSON.stringify(c.adapted!.output)).join(' ')}`);
    // The report's own accuracy counts every case with `expected` (13), the story case none.
    const scored = report.cases.filter((c) => c.expected !== undefined);
    assert.equal(scored.length, 13);
    assert.equal(report.adapted!.accuracy, scored.filter((c) => c.adapted!.correct).length / 13);
    assert.ok(report.adapted!.accuracy! > report.base.accuracy!);
    assert.equal(report.cases.find((c) => c.id === 'story')!.base.correct, undefined);
    assert.ok(report.improvements.length >= 9, `${report.improvements.length} improvements`);
    assert.match(report.verdict, /^accuracy \d+% → \d+% · \d+ regressions? · forgetting [+−][\d.]+% ppl · p95 [\d.]+ ms\/token$/);
  });

  it('a case the base gets right and the adapted model gets wrong is a regression, weighted in the error', () => {
    const reg = report.regressions.find((r) => r.id === 'base-answer');
    assert.ok(reg, `regressions: ${JSON.stringify(report.regressions)}; adapted said ${JSON.stringify(report.cases.find((c) => c.id === 'base-answer')!.adapted)}`);
    assert.equal(reg.expected, regression.answer);
    assert.equal(reg.base.trim(), regression.answer);
    assert.equal(reg.weight, 3);
    assert.ok(!report.improvements.some((r) => r.id === 'base-answer'));
    // Weighted error: wrong weight over total weight (12 mood cases of weight 1 + 3).
    const wrong = report.cases.filter((c) => c.expected !== undefined && !c.adapted!.correct).reduce((n, c) => n + c.weight, 0);
    assert.equal(report.adapted!.weightedError, wrong / 15);
    assert.ok(report.adapted!.weightedError! >= 3 / 15);
  });

  it('forgetting is measured on the probe text: base and adapted perplexities and their change', () => {
    const f = report.forgetting!;
    assert.ok(f, 'no forgetting section');
    assert.equal(f.basePerplexity, report.base.perplexity);
    assert.equal(f.adaptedPerplexity, report.adapted!.perplexity);
    assert.ok(f.basePerplexity > 1 && f.basePerplexity < 100, `base ppl ${f.basePerplexity}`);
    assert.notEqual(f.adaptedPerplexity, f.basePerplexity);
    assert.ok(Math.abs(f.changePercent - 100 * (f.adaptedPerplexity / f.basePerplexity - 1)) < 1e-9);
    assert.ok(report.probe!.tokens > 300, `probe tokens ${report.probe!.tokens}`);
    // --data: the run's validation set, which the adapter learned.
    assert.ok(report.adapted!.valLoss! < report.base.valLoss!, `val loss ${report.base.valLoss} → ${report.adapted!.valLoss}`);
    assert.ok(Math.abs(report.base.valPerplexity! - Math.exp(report.base.valLoss!)) < 1e-6 * report.base.valPerplexity!);
  });

  it('times, memory, stability and settings are filled in; eval.json validates against the schema', () => {
    const json = JSON.parse(JSON.stringify(report));
    assert.deepEqual(validateEvalReport(json), []);
    assert.deepEqual(report.adapter && { kind: report.adapter.kind, path: report.adapter.path }, { kind: 'run', path: runDir });
    assert.equal(report.adapter!.step, 40);
    assert.deepEqual(report.settings, { maxTokens: 16, samples: 2, temperature: 0.8, seed: 0, backend: 'wasm', stop: ['\n'] });
    for (const s of [report.base, report.adapted!]) {
      assert.ok(s.loadMs > 0 && s.peakMemoryMiB > 10 && s.tokensPerSecond > 0, JSON.stringify(s));
      assert.ok(s.latency.firstTokenMs.p50 > 0 && s.latency.firstTokenMs.p50 <= s.latency.firstTokenMs.p95);
      assert.ok(s.latency.perTokenMs.p50 > 0 && s.latency.perTokenMs.p50 <= s.latency.perTokenMs.p95);
      assert.ok(s.stability.mean! >= 0 && s.stability.mean! <= 1);
      assert.equal(s.stability.leastStable.length, 3);
      assert.ok(s.stability.leastStable[0].agreement <= s.stability.leastStable[2].agreement);
    }
    const story = report.cases.find((c) => c.id === 'story')!;
    assert.ok(story.base.tokens > 1 && !story.base.output.includes('\n'));
  });

  it('stability is exactly 1 at temperature 0 and below 1 at temperature 5 (base alone)', async () => {
    const p = writeJsonl(join(task.dir, 'few.jsonl'), moodCases(4, 7).map((c) => ({ prompt: c.prompt, expected: c.mood })));
    const before = tf.memory().numTensors;
    const cold = await runEval({ model: MODEL, prompts: p, samples: 3, temperature: 0, maxTokens: 8 });
    assert.equal(tf.memory().numTensors, before, 'tensors leaked by an evaluation');
    assert.equal(cold.forgetting, undefined);
    assert.equal(cold.base.stability.mean, 1);
    assert.ok(cold.cases.every((c) => c.base.agreement === 1));
    assert.equal(cold.adapted, undefined);
    assert.deepEqual(cold.regressions, []);
    assert.match(cold.verdict, /^accuracy \d+% · p95 [\d.]+ ms\/token$/);
    assert.deepEqual(validateEvalReport(JSON.parse(JSON.stringify(cold))), []);
    const hot = await runEval({ model: MODEL, prompts: p, samples: 3, temperature: 5, maxTokens: 8 });
    assert.ok(hot.base.stability.mean! < 1, `mean ${hot.base.stability.mean}`);
    // The greedy answers do not depend on the sampling temperature.
    assert.deepEqual(hot.cases.map((c) => c.base.output), cold.cases.map((c) => c.base.output));
  });

  it('reads a PEFT adapter folder: the same answers as the run it was written from', async () => {
    // A PEFT folder written here by hand from the run's adapters (lora_A [r, in], lora_B [out, r]).
    const lm = await loadModel(MODEL);
    applyRunAdapter(lm, runDir);
    const dir = join(task.dir, 'peft');
    mkdirSync(dir);
    const tensors = [...lm.model.lora].flatMap(([path, ad]) => {
      const [inF, r] = ad.A.shape as number[];
      const outF = (ad.B.shape as number[])[1];
      return [
        { name: `base_model.model.${path}.lora_A.weight`, shape: [r, inF], data: transpose2d(ad.A.dataSync() as Float32Array, inF, r) },
        { name: `base_model.model.${path}.lora_B.weight`, shape: [outF, r], data: transpose2d(ad.B.dataSync() as Float32Array, r, outF) },
      ];
    });
    lm.model.dispose();
    writeSafetensors(join(dir, 'adapter_model.safetensors'), tensors);
    writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r: 8, lora_alpha: 16, target_modules: ['q_proj'], base_model_name_or_path: MODEL }));
    const peft = await runEval({ model: MODEL, adapter: dir, prompts, samples: 0 });
    assert.equal(peft.adapter!.kind, 'peft');
    assert.deepEqual(peft.cases.map((c) => c.adapted!.output), report.cases.map((c) => c.adapted!.output));
    assert.equal(peft.base.stability.mean, null);
    assert.ok(peft.cases.every((c) => c.base.agreement === null));
    assert.deepEqual(validateEvalReport(JSON.parse(JSON.stringify(peft))), []);
  });

  it('evaluateRunEnd writes <run>/eval.json and returns the evalReport event', async () => {
    const { report: r, path, event } = await evaluateRunEnd({ runDir, prompts, samples: 0, maxTokens: 4 });
    assert.equal(path, join(runDir, 'eval.json'));
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), JSON.parse(JSON.stringify(r)));
    assert.equal(event.type, 'evalReport');
    assert.equal(event.path, path);
    assert.equal(event.verdict, r.verdict);
    assert.equal(r.model.path, MODEL);
    assert.equal(r.data!.file, task.validation); // the run's validation file by default
    assert.equal(r.probe, undefined);
  });

  it('the CLI prints the table and verdict and writes eval.json into the run folder; --json prints the report', () => {
    const r = cli('--adapter', runDir, '--prompts', prompts, '--probe', PROBE, '--samples', '1', '--backend', 'wasm');
    assert.equal(r.code, 0, r.err);
    const path = join(runDir, 'eval.json');
    assert.match(r.out, /^accuracy +\d+\.\d% +\d+\.\d%$/m);
    assert.match(r.out, /^regressions \(\d+\):\n {2}base-answer \(line 13, weight 3\)/m);
    assert.match(r.out, /^verdict: accuracy \d+% → \d+% · \d+ regressions? · forgetting [+−][\d.]+% ppl · p95 [\d.]+ ms\/token$/m);
    assert.ok(r.out.includes(`wrote ${path}`));
    assert.equal(r.err, ''); // progress only on a TTY
    const file = JSON.parse(readFileSync(path, 'utf8'));
    assert.deepEqual(validateEvalReport(file), []);
    assert.ok(r.out.includes(`verdict: ${file.verdict}`));
    assert.equal(file.settings.samples, 1);

    const out = join(mkdtempSync(join(tmpdir(), 'adapt-lab-eval-')), 'base.json');
    const j = cli('--model', MODEL, '--prompts', prompts, '--samples', '0', '--max-tokens', '4', '--json', '--out', out, '--backend', 'wasm');
    assert.equal(j.code, 0, j.err);
    const printed = JSON.parse(j.out);
    assert.deepEqual(printed, JSON.parse(readFileSync(out, 'utf8')));
    assert.equal(printed.adapted, undefined);
    assert.equal(printed.settings.maxTokens, 4);
    assert.ok(printed.cases.every((c: { base: { tokens: number } }) => c.base.tokens <= 4));
  });

  it('the CLI refuses a bad prompts file with one line per problem and a non-zero exit, writing nothing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'adapt-lab-eval-'));
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, ['{"prompt": "a", "match": "near", "expected": "b"}', '{"prompt": "b", "expected": "[", "match": "regex"}', '{"expected": "x"}', 'nope'].join('\n'));
    const out = join(dir, 'eval.json');
    const r = cli('--model', MODEL, '--prompts', bad, '--out', out);
    assert.equal(r.code, 1);
    const lines = r.err.trim().split('\n');
    assert.deepEqual(lines.map((l) => l.match(/^adapt-lab: (bad\.jsonl:\d+): /)?.[1]), ['bad.jsonl:1', 'bad.jsonl:2', 'bad.jsonl:3', 'bad.jsonl:4'], r.err);
    assert.equal(r.out, '');
    assert.ok(!existsSync(out));
  });
});
