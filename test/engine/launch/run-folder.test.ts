// A torchrun run is a run like any other: run.json, metrics.jsonl in our event schema and
// checkpoints in our format; killed, it resumes to the losses of an uninterrupted run; its PEFT
// adapter equals our own export of it, loads in our engine, and after our gguf-lora export
// answers the same in llama.cpp; a --dry-run folder run by hand with plain torchrun keeps its
// own run.json.
import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { sharedPath } from '../../helpers/shared';
import { moodCases, moodTask, writeJsonl } from '../../helpers/tasks';
import { cliJsonl, requireTorchrun } from '../../helpers/torchrun';
import { openLlamaCpp } from '../../helpers/llamacpp';
import { writeLaunchConfig } from './agreement.test';
import { StepEvent, TrainerEvent } from '../../../src/protocol/events';
import { listRuns, readMetrics, readRunRecord } from '../../../src/engine/core/runs/store';
import { loadCheckpoint } from '../../../src/engine/core/runs/checkpoint';
import { readSafetensors } from '../../../src/engine/core/formats/safetensors';
import { selectBackend } from '../../../src/engine/backend';
import { loadModel } from '../../../src/engine/model/loader';
import { applyEvalAdapter } from '../../../src/engine/eval/adapter';
import { exportRun } from '../../../src/engine/export';
import { encodePrompt } from '../../../src/engine/data/dataset';
import { tf } from '../../../src/engine/tf';

const MODEL = () => sharedPath('models/stories260K/stories260K.gguf');
const CLI = resolve('dist/cli.js');
const steps = (events: TrainerEvent[]) => events.filter((e): e is StepEvent => e.type === 'step');

/** `adapt-lab launch ... --jsonl` in its own process group; SIGKILLs the whole group (launcher, torchrun, ranks) at `killAt`. */
function launchKilled(args: string[], killAt: (e: TrainerEvent) => boolean): Promise<{ events: TrainerEvent[]; killed: boolean }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, ...args, '--jsonl'], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
    const events: TrainerEvent[] = [];
    let buf = '';
    let killed = false;
    child.stdout.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const e = JSON.parse(buf.slice(0, i)) as TrainerEvent;
        buf = buf.slice(i + 1);
        events.push(e);
        if (!killed && killAt(e)) {
          killed = true;
          process.kill(-child.pid!, 'SIGKILL');
        }
      }
    });
    child.on('close', () => done({ events, killed }));
  });
}

describe('a torchrun run in the run store', function () {
  this.timeout(900_000);
  let task: ReturnType<typeof moodTask>;
  let straight: { events: TrainerEvent[]; runDir: string };

  before(async () => {
    requireTorchrun();
    task = moodTask(40);
    writeJsonl(join(task.dir, 'cases.prompts.jsonl'), moodCases(6, 4).map((c) => ({ prompt: c.prompt, expected: c.mood, match: 'contains' })));
    const cfg = writeLaunchConfig(task.dir, MODEL(), { maxSteps: 40, checkpointEvery: 4, evalEvery: 8, learningRate: 0.01 }, {
      name: 'straight', data: { train: 'train.jsonl', validation: 'val.jsonl', prompts: 'cases.prompts.jsonl' },
    });
    const r = await cliJsonl(['launch', cfg, '--torchrun', '--nproc', '2']);
    assert.equal(r.code, 0, r.stderr.slice(-2000));
    const started = r.events.find((e) => e.type === 'started');
    assert.ok(started?.type === 'started');
    straight = { events: r.events, runDir: started.runDir };
  });

  it('is recorded as any run: run.json finished with its best loss, events that validate, checkpoints our loader reads', () => {
    const rec = readRunRecord(straight.runDir);
    assert.equal(rec.status, 'finished');
    assert.equal(rec.step, 40);
    assert.match(rec.method, /LoRA.*\(PyTorch\)/);
    assert.equal(rec.backend?.name, 'pytorch');
    assert.ok(typeof rec.bestValLoss === 'number' && rec.bestValLoss > 0);
    assert.equal(rec.trainer, undefined, 'no trainer is recorded once it ended');
    const events = readMetrics(straight.runDir); // every line validated by parseTrainerEvent
    assert.deepEqual(events.map((e) => e.type).filter((t) => t === 'step').length, 40);
    // The prompt cases were evaluated base vs adapted after the last step, as `train` does.
    assert.deepEqual(events.slice(-2).map((e) => e.type), ['finished', 'evalReport']);
    assert.ok(existsSync(join(straight.runDir, 'eval.json')));
    const ck = loadCheckpoint(straight.runDir, 'latest'); // SHA-256 of both tensor files checked
    assert.equal(ck.step, 40);
    assert.ok(ck.tensors.some((t) => t.name === 'lora:model.layers.0.self_attn.q_proj.A' && t.shape.join() === '64,4'));
    assert.ok(ck.optimizer.some((t) => t.name === 'm:lora:model.layers.0.self_attn.q_proj.A'));
    assert.ok(listRuns(join(task.dir, 'runs')).some((r) => r.id === rec.id && r.status === 'finished'));
    assert.ok(existsSync(join(straight.runDir, 'launch', 'README.md')));
  });

  it('killed (launcher, torchrun and both ranks SIGKILLed) it resumes from its last checkpoint to the losses of the uninterrupted run', async () => {
    const cfg = writeLaunchConfig(task.dir, MODEL(), { maxSteps: 40, checkpointEvery: 4, evalEvery: 8, learningRate: 0.01 }, { name: 'killed' });
    const first = await launchKilled(['launch', cfg, '--torchrun', '--nproc', '2'], (e) => e.type === 'step' && e.step === 10);
    // The launcher reads the events a moment after they are written: the ranks may be a few steps on.
    assert.ok(first.killed, 'the run was killed after step 10');
    const runDir = (first.events.find((e) => e.type === 'started') as { runDir: string }).runDir;
    const dead = listRuns(join(task.dir, 'runs')).find((r) => r.name === 'killed')!;
    assert.equal(dead.status, 'failed', 'the next reader marks the dead run failed');
    const resumed = await cliJsonl(['launch', '--resume', runDir, '--torchrun', '--nproc', '2']);
    assert.equal(resumed.code, 0, resumed.stderr.slice(-2000));
    const started = resumed.events.find((e) => e.type === 'started');
    const from = started?.type === 'started' ? started.resumedFrom ?? -1 : -1;
    assert.ok(from >= 8 && from < 40 && from % 4 === 0, `resumed from ${from}`);
    const want = steps(straight.events).map((s) => s.loss);
    const got = steps(resumed.events);
    assert.deepEqual(got.map((s) => s.step), Array.from({ length: 40 - from }, (_, i) => from + 1 + i));
    const worst = Math.max(...got.map((s) => Math.abs(s.loss - want[s.step - 1])));
    console.log(`      resumed from step ${from}, steps ${from + 1}-40 vs uninterrupted: max |Δ loss| ${worst.toExponential(2)}`);
    assert.ok(worst <= 1e-6, `resumed losses differ by ${worst}`);
    // The Monitor's tokens axis continues across the resume.
    const seen = new Map(steps(straight.events).map((s) => [s.step, s.tokensSeen]));
    for (const s of got) assert.equal(s.tokensSeen, seen.get(s.step), `tokensSeen at step ${s.step}`);
    assert.ok(got.every((s) => typeof s.elapsedSeconds === 'number' && typeof s.stepSeconds === 'number' && typeof s.cpuPercent === 'number'));
    assert.equal(readRunRecord(runDir).status, 'finished');
    assert.match(readFileSync(join(task.dir, 'runs', 'audit.jsonl'), 'utf8'), /"resumed"/);
  });

  it('its PEFT adapter equals our export of its checkpoint, loads in our engine, and answers the same in llama.cpp after the gguf-lora export', async () => {
    const adapter = join(straight.runDir, 'adapter');
    const out = join(task.dir, 'exports');
    await selectBackend({ backend: 'cpu', blas: false });
    await exportRun(straight.runDir, { format: 'peft', out: join(out, 'peft'), which: 'latest' });
    const mine = readSafetensors(join(adapter, 'adapter_model.safetensors')).tensors;
    const ours = readSafetensors(join(out, 'peft', 'adapter_model.safetensors')).tensors;
    assert.deepEqual([...mine.keys()].sort(), [...ours.keys()].sort());
    for (const [k, t] of ours) {
      assert.deepEqual(mine.get(k)!.shape, t.shape, k);
      assert.deepEqual(Array.from(mine.get(k)!.data), Array.from(t.data), k);
    }
    assert.deepEqual(JSON.parse(readFileSync(join(adapter, 'adapter_config.json'), 'utf8')), JSON.parse(readFileSync(join(out, 'peft', 'adapter_config.json'), 'utf8')));

    // Our engine with the torchrun run's PEFT folder, greedy; llama.cpp with the gguf-lora export.
    await exportRun(straight.runDir, { format: 'gguf-lora', out: join(out, 'lora'), which: 'latest' });
    const loraFile = join(out, 'lora', 'adapter.gguf');
    assert.ok(existsSync(loraFile), 'gguf-lora wrote adapter.gguf');
    const lm = await loadModel(MODEL());
    try {
      applyEvalAdapter(lm, adapter);
      let same = 0;
      const prompts = moodCases(8, 9).map((c) => c.prompt);
      const answers: string[] = [];
      for (const p of prompts) {
        const ids = encodePrompt(p, lm.tokenizer!);
        const mineIds: number[] = [];
        const seq = ids.slice();
        for (let i = 0; i < 4; i++) {
          const next = tf.tidy(() => {
            const logits = lm.model.forward(tf.tensor2d(seq, [1, seq.length], 'int32'), lm.model.newContext(), { lastOnly: true });
            return logits.reshape([-1]).argMax().dataSync()[0];
          });
          mineIds.push(next);
          seq.push(next);
        }
        // One llama.cpp context per prompt: a context's sequence is not free again at once.
        const cpp = await openLlamaCpp(MODEL(), { lora: loraFile });
        const theirs = (await cpp.greedy(ids, 4)).generated;
        await cpp.dispose();
        if (mineIds.join() === theirs.join()) same++;
        answers.push(lm.tokenizer!.decode(mineIds));
      }
      console.log(`      greedy answers, our engine with the torchrun adapter vs llama.cpp with its gguf-lora export: ${same}/${prompts.length} the same (${answers.slice(0, 3).map((a) => JSON.stringify(a)).join(', ')}, ...)`);
      assert.equal(same, prompts.length);
      assert.ok(answers.some((a) => /happy|sad/.test(a)), 'the adapted model answers the task');
    } finally {
      lm.model.dispose();
    }
  });

  it('--dry-run writes a folder that plain torchrun runs by hand; the trainer then keeps run.json itself', async () => {
    const cfg = writeLaunchConfig(task.dir, MODEL(), { maxSteps: 4, evalEvery: 0, checkpointEvery: 0 }, { name: 'by-hand' });
    const dry = spawnSync(process.execPath, [CLI, 'launch', cfg, '--torchrun', '--nproc', '2', '--dry-run', '--jsonl'], { encoding: 'utf8' });
    assert.equal(dry.status, 0, dry.stderr);
    const info = JSON.parse(dry.stdout.trim().split('\n').pop()!) as { folder: string; runDir: string; command: string };
    assert.match(info.command, /^torchrun --nproc_per_node 2 --standalone .* -m adapt_lab_torch\.train \.$/);
    assert.ok(!existsSync(join(info.runDir, 'run.json')), 'a dry run creates no run record');
    const [exe, ...args] = info.command.split(' ');
    const r = spawnSync(exe, args, { cwd: info.folder, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr.slice(-2000));
    const rec = readRunRecord(info.runDir);
    assert.equal(rec.status, 'finished');
    assert.equal(rec.step, 4);
    assert.equal(rec.name, 'by-hand');
    assert.ok(listRuns(join(task.dir, 'runs')).some((x) => x.id === rec.id), 'the Runs view lists it');
    assert.equal(steps(readMetrics(info.runDir)).length, 4);
  });
});

describe('adapt-lab launch forked with IPC (as the extension runs it)', function () {
  this.timeout(600_000);
  before(() => requireTorchrun());

  it('sends every event over IPC; a stop message makes every rank checkpoint and stop; launch --resume continues with the processes it had', async () => {
    const { fork } = await import('node:child_process');
    const task = moodTask(40);
    const cfg = writeLaunchConfig(task.dir, MODEL(), { maxSteps: 40, checkpointEvery: 0, evalEvery: 0 }, { name: 'ipc' });
    const child = fork(CLI, ['launch', cfg, '--torchrun', '--nproc', '2'], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    const events: TrainerEvent[] = [];
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('message', (m) => {
      const e = m as TrainerEvent;
      events.push(e);
      if (e.type === 'step' && e.step === 3) child.send({ type: 'stop' });
    });
    const code = await new Promise<number | null>((res) => child.on('close', (c) => res(c)));
    assert.equal(code, 0, stderr.slice(-2000));
    const end = events.at(-1);
    assert.equal(end?.type, 'stopped', JSON.stringify(end));
    const stoppedAt = (end as { step: number }).step;
    assert.ok(stoppedAt >= 3 && stoppedAt < 40);
    assert.ok(events.some((e) => e.type === 'checkpoint' && e.step === stoppedAt), 'the stop wrote a checkpoint');
    const runDir = (events.find((e) => e.type === 'started') as { runDir: string }).runDir;
    assert.equal(readRunRecord(runDir).status, 'stopped');

    const resumed = await cliJsonl(['launch', '--resume', runDir, '--torchrun']);
    assert.equal(resumed.code, 0, resumed.stderr.slice(-2000));
    const started = resumed.events.find((e) => e.type === 'started');
    assert.ok(started?.type === 'started' && started.resumedFrom === stoppedAt);
    assert.match(started.backend.label ?? '', /× 2 /, 'resumed on the 2 processes it was launched with');
    assert.equal(resumed.events.at(-1)?.type, 'finished');
    assert.equal(readRunRecord(runDir).status, 'finished');
  });
});
