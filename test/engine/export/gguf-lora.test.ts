// A run trained here on conversations, exported as a GGUF LoRA adapter and as an Ollama folder,
// and loaded in llama.cpp (node-llama-cpp) with the base GGUF: the same greedy answers and
// log-probabilities as our engine with the run's adapter, on the prompt the chat template renders.
import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { selectBackend } from '../../../src/engine/backend';
import { chatFormatFor, encodeChatPrompt } from '../../../src/engine/chat/encode';
import { goTemplate, renderPieces, turnPieces } from '../../../src/engine/chat/ollama';
import { exportRun } from '../../../src/engine/export';
import { readGguf } from '../../../src/engine/core/formats/gguf';
import { loadModel, LoadedModel } from '../../../src/engine/model/loader';
import { applyRunAdapter } from '../../../src/engine/runs/adapter';
import { listRuns } from '../../../src/engine/core/runs/store';
import { validateRunConfig } from '../../../src/engine/core/run-config';
import { runEval } from '../../../src/engine/eval/report';
import { validateEvalReport } from '../../../src/protocol/eval';
import { renderEvalTable } from '../../../src/trainer/commands/eval';
import { train } from '../../../src/engine/train/trainer';
import { compareWithLlamaCpp, describeAgreement, openLlamaCpp } from '../../helpers/llamacpp';
import { sharedPath } from '../../helpers/shared';
import { moodCases, writeJsonl } from '../../helpers/tasks';

const BASE = sharedPath('models/stories260K/stories260K.gguf');

/** Modelfile lines: instruction → values (TEMPLATE's """…""" kept whole). */
function parseModelfile(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const re = /^(FROM|ADAPTER|TEMPLATE|PARAMETER|SYSTEM)\s+("""[\s\S]*?"""|.*)$/gm;
  for (const m of text.matchAll(re)) {
    const v = m[2].startsWith('"""') ? m[2].slice(3, -3) : m[2];
    out.set(m[1], [...(out.get(m[1]) ?? []), v]);
  }
  return out;
}

describe('export gguf-lora and ollama, eval --runtime llamacpp, checked in llama.cpp', function () {
  this.timeout(600_000);
  let dir: string;
  let runDir: string;
  let lm: LoadedModel;
  const chat = (c: { prompt: string; completion: string }) => ({ messages: [{ role: 'user', content: c.prompt }, { role: 'assistant', content: c.completion.trim() }] });

  before(async () => {
    await selectBackend({ backend: 'wasm' });
    dir = mkdtempSync(join(tmpdir(), 'adapt-gguf-lora-'));
    const config = validateRunConfig({
      model: BASE,
      data: { train: writeJsonl(join(dir, 'train.jsonl'), moodCases(48, 1).map(chat)) },
      adapt: { lora: { rank: 4, alpha: 8, dropout: 0, targetModules: 'all-linear' } },
      training: { maxSteps: 12, batchSize: 8, learningRate: 0.02, warmupSteps: 0, evalEvery: 0, checkpointEvery: 0, maxLength: 64 },
      seed: 0, backend: 'wasm', runsDir: join(dir, 'runs'), name: 'chat',
    }, dir, 'test.json');
    const end = await train(config, { emit: () => {} });
    assert.equal(end.type, 'finished');
    runDir = join(dir, 'runs', listRuns(join(dir, 'runs'))[0].id);
    lm = await loadModel(BASE);
    applyRunAdapter(lm, runDir, 'latest');
  });
  after(() => {
    lm?.model.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  const prompts = () => {
    const fmt = chatFormatFor(undefined, lm.tokenizer!);
    return moodCases(3, 7).map((c) => encodeChatPrompt([{ role: 'user', content: c.prompt }], lm.tokenizer!, fmt));
  };

  it("gguf-lora: laid out as convert_lora_to_gguf writes it; llama.cpp with it answers as our engine does", async () => {
    const res = await exportRun(runDir, { format: 'gguf-lora', out: join(dir, 'gguf-lora'), which: 'latest' });
    const file = join(res.out, 'adapter.gguf');
    const g = readGguf(file);
    assert.equal(g.metadata.get('general.architecture'), 'llama');
    assert.equal(g.metadata.get('general.type'), 'adapter');
    assert.equal(g.metadata.get('adapter.type'), 'lora');
    assert.equal(g.metadata.get('adapter.lora.alpha'), 8);
    assert.deepEqual(g.tensor('blk.0.attn_q.weight.lora_a')?.shape, [4, 64]);
    assert.deepEqual(g.tensor('blk.0.attn_q.weight.lora_b')?.shape, [64, 4]);
    assert.deepEqual(g.tensor('blk.4.ffn_down.weight.lora_b')?.shape, [64, 4]);
    assert.equal(g.tensors.length, 5 * 7 * 2, 'q k v o gate up down in 5 blocks, a and b each');
    assert.equal(g.metadata.get('tokenizer.chat_template'), listRuns(join(dir, 'runs'))[0].chatTemplate?.template, 'the template the run trained with');

    for (const ids of prompts()) {
      const a = await compareWithLlamaCpp(BASE, lm.model, ids, 12, { lora: file });
      assert.deepEqual(a.ourGreedy, a.run.generated, describeAgreement(a));
      assert.ok(a.maxAbsLogProb < 1e-4, describeAgreement(a));
      assert.equal(a.argmaxMisses.length, 0, describeAgreement(a));
    }
    // and the adapter is what makes the answers: without it llama.cpp answers differently
    const ids = prompts()[0];
    const base = await openLlamaCpp(BASE, { contextSize: 128 });
    const withLora = await openLlamaCpp(BASE, { contextSize: 128, lora: file });
    try {
      const [b, l] = [await base.logProbs(ids), await withLora.logProbs(ids)];
      const last = ids.length - 1;
      let d = 0;
      for (let j = 0; j < b[last].length; j++) if (Number.isFinite(b[last][j]) && Number.isFinite(l[last][j])) d = Math.max(d, Math.abs(b[last][j] - l[last][j]));
      assert.ok(d > 0.1, `the adapter changes llama.cpp's next-token log-probabilities (max |Δ| ${d})`);
    } finally {
      await base.dispose();
      await withLora.dispose();
    }
  });

  it('ollama: a Modelfile (FROM the base, ADAPTER, TEMPLATE of the trained template, stop) whose adapter loads in llama.cpp', async () => {
    const res = await exportRun(runDir, { format: 'ollama', out: join(dir, 'ollama'), which: 'latest' });
    const mf = parseModelfile(readFileSync(join(res.out, 'Modelfile'), 'utf8'));
    assert.deepEqual(mf.get('FROM'), [relative(res.out, resolve(BASE))], 'relative to the Modelfile, never a local absolute path');
    assert.ok(!readFileSync(join(res.out, 'Modelfile'), 'utf8').includes(dir), 'no local absolute path in the Modelfile');
    assert.deepEqual(mf.get('ADAPTER'), ['./adapter.gguf']);
    const adapter = join(res.out, 'adapter.gguf');
    assert.ok(existsSync(adapter));
    const fmt = chatFormatFor(undefined, lm.tokenizer!);
    const pieces = turnPieces(fmt)!;
    assert.deepEqual(mf.get('TEMPLATE'), [goTemplate(pieces)]);
    assert.match(mf.get('TEMPLATE')![0], /\{\{- range \.Messages \}\}/);
    assert.deepEqual(mf.get('PARAMETER'), ['stop "</s>"']);
    // The prompt the TEMPLATE renders, tokenized by llama.cpp as Ollama does (special tokens
    // parsed, BOS added by the model's metadata), is the prompt the run trained on.
    const cpp = await openLlamaCpp(BASE, { contextSize: 128, lora: adapter });
    try {
      const c = moodCases(1, 11)[0];
      const text = renderPieces(pieces, [{ role: 'user', content: c.prompt }]);
      const theirs = [lm.tokenizer!.bos!, ...cpp.tokenize(text, true)];
      const ours = encodeChatPrompt([{ role: 'user', content: c.prompt }], lm.tokenizer!, fmt);
      assert.deepEqual(theirs, ours);
      const a = await compareWithLlamaCpp(BASE, lm.model, ours, 8, { lora: adapter });
      assert.deepEqual(a.ourGreedy, a.run.generated, describeAgreement(a));
    } finally {
      await cpp.dispose();
    }
  });

  it('eval --runtime llamacpp: the same cases in llama.cpp beside our engine, base and with the adapter, in one valid report', async () => {
    const fmt = chatFormatFor(undefined, lm.tokenizer!);
    const prompts = join(dir, 'chat.prompts.jsonl');
    writeJsonl(prompts, moodCases(6, 21).map((c, i) => ({ id: `c${i}`, prompt: fmt.prompt([{ role: 'user', content: c.prompt }]), expected: c.completion.trim(), match: 'contains' })));
    const report = await runEval({ model: BASE, adapter: runDir, prompts, maxTokens: 6, samples: 1, runtime: 'llamacpp' });
    assert.deepEqual(validateEvalReport(report), []);
    const rt = report.llamacpp!;
    assert.equal(rt.runtime, 'llamacpp');
    assert.match(rt.version, /\S/);
    assert.equal(rt.threads, 1);
    assert.ok(rt.adapted && rt.cases.length === 6 && rt.cases.every((c) => c.adapted));
    assert.equal(rt.sameAnswers.adapted, 1, 'llama.cpp with the GGUF adapter answers every case as our engine with the run does');
    assert.equal(rt.adapted.accuracy, report.adapted!.accuracy);
    assert.equal(rt.base.accuracy, report.base.accuracy);
    assert.ok(rt.adapted.tokensPerSecond > 0 && rt.adapted.latency.perTokenMs.p50 > 0 && rt.adapted.peakMemoryMiB > 0);
    assert.match(report.verdict, / · llama\.cpp: accuracy \d+% → \d+% · p95 .* · same answers as ours 100%$/);
    const table = renderEvalTable(report);
    assert.match(table, /llama\.cpp base\s+llama\.cpp adapted/);
    assert.match(table, /same answers as ours\s+–\s+–\s+\d+\.\d%\s+100\.0%/);
  });
});
