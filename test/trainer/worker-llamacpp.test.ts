// The inference worker answering in llama.cpp (what inline prompts do with
// adaptLab.evaluation.runtime = "llamacpp"): a run trained here on conversations, its adapter
// exported into the run folder as a GGUF LoRA adapter on the first request and reused after,
// re-exported when the run has a newer checkpoint; prompts as text and as messages rendered
// with the run's template; the same greedy answers as the engine's worker. Without
// node-llama-cpp in reach the answer is an error that says how to install it.
import { strict as assert } from 'node:assert';
import { fork } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { selectBackend } from '../../src/engine/backend';
import { train } from '../../src/engine/train/trainer';
import { listRuns } from '../../src/engine/core/runs/store';
import { STATE_FILE } from '../../src/engine/core/runs/checkpoint';
import { validateRunConfig } from '../../src/engine/core/run-config';
import { RUN_GGUF_ADAPTER_DIR } from '../../src/engine/llamacpp/prompts';
import { LLAMACPP_MISSING, PromptMessage } from '../../src/protocol/worker';
import { WorkerClient, GenerateParams } from '../../src/extension/prompts/workerClient';
import { runEval } from '../../src/engine/eval/report';
import { validateEvalReport } from '../../src/protocol/eval';
import { sharedPath } from '../helpers/shared';
import { moodCases, writeJsonl } from '../helpers/tasks';

const BASE = sharedPath('models/stories260K/stories260K.gguf');
const CLI = resolve('dist/cli.js');

function workerAt(cli: string, cwd?: string): WorkerClient {
  return new WorkerClient(() => fork(cli, ['worker', '--backend', 'wasm'], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], cwd }));
}

describe('inference worker: prompts in llama.cpp (inline prompts with adaptLab.evaluation.runtime = llamacpp)', function () {
  this.timeout(600_000);
  let dir: string;
  let runDir: string;
  let worker: WorkerClient;
  const cases = moodCases(3, 7);
  const messages = (prompt: string): PromptMessage[] => [{ role: 'user', content: prompt }];
  const ask = (p: Partial<GenerateParams>) => worker.generate({ model: BASE, prompt: '', maxTokens: 6, stop: ['\n'], ...p });

  before(async () => {
    await selectBackend({ backend: 'wasm' });
    dir = mkdtempSync(join(tmpdir(), 'adapt-worker-llamacpp-'));
    const chat = (c: { prompt: string; completion: string }) => ({ messages: [{ role: 'user', content: c.prompt }, { role: 'assistant', content: c.completion.trim() }] });
    const config = validateRunConfig({
      model: BASE,
      data: { train: writeJsonl(join(dir, 'train.jsonl'), moodCases(48, 1).map(chat)) },
      adapt: { lora: { rank: 4, alpha: 8, dropout: 0, targetModules: 'all-linear' } },
      training: { maxSteps: 12, batchSize: 8, learningRate: 0.02, warmupSteps: 0, evalEvery: 0, checkpointEvery: 0, maxLength: 64 },
      seed: 0, backend: 'wasm', runsDir: join(dir, 'runs'), name: 'chat',
    }, dir, 'test.json');
    assert.equal((await train(config, { emit: () => {} })).type, 'finished');
    runDir = join(dir, 'runs', listRuns(join(dir, 'runs'))[0].id);
    worker = workerAt(CLI);
  });
  after(() => {
    worker?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('answers the base model as the engine does, streaming the text, and says who answered', async () => {
    for (const c of cases) {
      const streamed: string[] = [];
      const l = await worker.generate({ model: BASE, prompt: c.prompt, maxTokens: 6, stop: ['\n'], runtime: 'llamacpp' }, { onToken: (t) => streamed.push(t) });
      const e = await ask({ prompt: c.prompt });
      assert.equal(l.text, e.text, `greedy answer to ${JSON.stringify(c.prompt)}`);
      assert.equal(streamed.join(''), l.text, 'the streamed pieces add up to the answer');
      assert.equal(l.runtime, 'llamacpp');
      assert.match(l.runtimeVersion ?? '', /\S/);
      assert.equal(e.runtime, 'engine');
    }
  });

  it("answers a run's adapter from a GGUF LoRA export in the run folder, exported once and reused; messages rendered with the run's template", async () => {
    const adapterDir = join(runDir, RUN_GGUF_ADAPTER_DIR);
    assert.equal(existsSync(adapterDir), false);
    const answers: string[] = [];
    for (const c of cases) {
      const l = await ask({ adapter: runDir, messages: messages(c.prompt), prompt: c.prompt, runtime: 'llamacpp' });
      const e = await ask({ adapter: runDir, messages: messages(c.prompt), prompt: c.prompt });
      assert.equal(l.text, e.text, `adapted greedy answer to ${JSON.stringify(c.prompt)} as a conversation`);
      answers.push(l.text);
    }
    // Trained on these conversations: the adapter really answers (the base model does not say the mood).
    assert.ok(answers.some((a, i) => a.trim().startsWith(cases[i].completion.trim())), answers.join(' | '));
    const base = await ask({ messages: messages(cases[0].prompt), prompt: cases[0].prompt, runtime: 'llamacpp' });
    assert.notEqual(base.text, answers[0], 'the base model answers otherwise');
    const file = join(adapterDir, 'adapter.gguf');
    assert.ok(existsSync(file));
    const stamp = JSON.parse(readFileSync(join(adapterDir, 'adapter-source.json'), 'utf8')) as { step: number; checkpoint: string };
    assert.equal(stamp.step, 12);
    const exportedAt = statSync(file).mtimeMs;
    const again = await ask({ adapter: runDir, prompt: cases[0].prompt, runtime: 'llamacpp' });
    assert.equal(again.warm, true, 'the adapted model stays loaded');
    assert.equal(statSync(file).mtimeMs, exportedAt, 'not exported again');

    // A newer checkpoint (as a continued run writes): exported again on the next request.
    const state = join(stamp.checkpoint, STATE_FILE);
    assert.ok(stamp.checkpoint.startsWith(join(runDir, 'checkpoints')), stamp.checkpoint);
    const later = new Date(Date.now() + 5_000);
    utimesSync(state, later, later);
    await ask({ adapter: runDir, prompt: cases[0].prompt, runtime: 'llamacpp' });
    assert.ok(statSync(file).mtimeMs > exportedAt, 're-exported from the newer checkpoint');
  });

  it('eval: prompt cases written as messages, rendered with the run\'s template, score the same in our engine and in llama.cpp', async () => {
    const file = join(dir, 'chat.prompts.jsonl');
    writeFileSync(file, moodCases(6, 9).map((c, i) => JSON.stringify({ id: `m${i}`, messages: messages(c.prompt), expected: c.completion.trim().replace(/\.$/, '') })).join('\n') + '\n');
    const r = await runEval({ model: BASE, adapter: runDir, prompts: file, runtime: 'llamacpp', samples: 0, maxTokens: 6, stop: ['\n', '.'] });
    assert.deepEqual(validateEvalReport(r), []);
    assert.ok((r.adapted!.accuracy ?? 0) > (r.base.accuracy ?? 0), `accuracy ${r.base.accuracy} → ${r.adapted!.accuracy}: the conversations are prompted as trained`);
    assert.equal(r.llamacpp!.adapted!.accuracy, r.adapted!.accuracy);
    assert.equal(r.llamacpp!.sameAnswers.adapted, 1);
    assert.equal(r.llamacpp!.sameAnswers.base, 1);
    // The same cases as plain prompts (the user's text, no template) are not what the run learned.
    const plain = join(dir, 'plain.prompts.jsonl');
    writeFileSync(plain, moodCases(6, 9).map((c, i) => JSON.stringify({ id: `p${i}`, prompt: c.prompt, expected: c.completion.trim().replace(/\.$/, '') })).join('\n') + '\n');
    const p = await runEval({ model: BASE, adapter: runDir, prompts: plain, samples: 0, maxTokens: 6, stop: ['\n', '.'] });
    assert.ok((p.adapted!.accuracy ?? 0) < (r.adapted!.accuracy ?? 0), `plain ${p.adapted!.accuracy} vs messages ${r.adapted!.accuracy}`);
  });

  it('without node-llama-cpp in reach, the answer is an error saying how to install it', async () => {
    // The CLI as the packaged extension has it: dist/ without node_modules.
    const copy = join(dir, 'packaged');
    mkdirSync(copy);
    for (const f of ['cli.js', 'wasm', 'koffi']) if (existsSync(join('dist', f))) cpSync(join('dist', f), join(copy, f), { recursive: true });
    const bare = workerAt(join(copy, 'cli.js'), copy);
    try {
      await assert.rejects(bare.generate({ model: BASE, prompt: cases[0].prompt, maxTokens: 4, runtime: 'llamacpp' }), (e: Error) => {
        assert.ok(e.message.includes(LLAMACPP_MISSING), e.message);
        assert.match(e.message, /npm install node-llama-cpp@3\.21\.1/);
        return true;
      });
      // The engine still answers in the same worker.
      assert.ok((await bare.generate({ model: BASE, prompt: cases[0].prompt, maxTokens: 4 })).text.length > 0);
    } finally {
      bare.dispose();
    }
  });
});
