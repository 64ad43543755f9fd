// `adapt-lab train` as a process: exact resume after SIGKILL (cpu backend), bad input named
// by file and line, and no network connection ever opened.
import { strict as assert } from 'node:assert';
import { fork, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { sharedPath } from '../helpers/shared';
import { runJsonlProcess } from '../helpers/jsonl-process';
import { moodTask } from '../helpers/tasks';
import { listRuns, readAudit, readMetrics } from '../../src/engine/core/runs/store';
import { StepEvent, TrainerEvent } from '../../src/protocol/events';

const CLI = resolve('dist/cli.js');
const MODEL = sharedPath('models/stories260K/stories260K.gguf');

function writeConfig(dir: string, training: object, extra: object = {}, backend = 'cpu'): string {
  const path = join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(path, JSON.stringify({
    model: MODEL, data: { train: 'train.jsonl', validation: 'val.jsonl' },
    adapt: { lora: { rank: 4, targetModules: ['q_proj', 'v_proj', 'down_proj'], dropout: 0.1 } },
    training: { batchSize: 4, learningRate: 0.005, evalEvery: 3, checkpointEvery: 1, maxLength: 48, dropout: 0.1, embeddingNoise: 5, ...training },
    seed: 3, backend, runsDir: 'runs', ...extra,
  }));
  return path;
}

async function runJsonl(args: string[], onEvent?: (e: TrainerEvent, kill: () => void) => void, env: NodeJS.ProcessEnv = {}, nodeArgs: string[] = []): Promise<{ events: TrainerEvent[]; code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  const { lines, ...rest } = await runJsonlProcess<TrainerEvent>(CLI, ['train', ...args, '--jsonl'], onEvent, env, nodeArgs);
  return { events: lines, ...rest };
}

const steps = (events: TrainerEvent[]) => events.filter((e): e is StepEvent => e.type === 'step');

describe('adapt-lab train (process)', function () {
  this.timeout(300_000);

  for (const [backend, threads] of [['cpu', 1], ['wasm', 1], ['wasm', 2]] as const) it(`resumes after SIGKILL with exactly the losses of an uninterrupted run (${backend}, ${threads} thread${threads > 1 ? 's' : ''})`, async () => {
    const task = moodTask(48);
    const straight = await runJsonl([writeConfig(task.dir, { maxSteps: 8, threads }, {}, backend)]);
    assert.equal(straight.code, 0, straight.stderr);
    const want = steps(straight.events).map((s) => s.loss);
    assert.equal(want.length, 8);

    if (threads > 1) assert.ok(straight.events.some((e) => e.type === 'log' && e.message.startsWith(`training on ${threads} threads`)), 'the run says it trains on threads');
    const cfg = writeConfig(task.dir, { maxSteps: 8, threads }, { name: 'killed' }, backend);
    let killedAt = 0;
    const first = await runJsonl([cfg], (e, kill) => {
      if (e.type === 'checkpoint' && e.step === 4 && !killedAt) {
        killedAt = e.step;
        kill();
      }
    });
    assert.equal(first.signal, 'SIGKILL');
    // The killed run is left readable, and is reported as failed once its process is gone.
    const runs = listRuns(join(task.dir, 'runs'));
    const killed = runs.find((r) => r.name === 'killed')!;
    assert.equal(killed.status, 'failed');
    assert.match(killed.failure ?? '', /exited unexpectedly/);
    const runDir = join(task.dir, 'runs', killed.id);
    assert.ok(readMetrics(runDir).length > 0);

    const resumed = await runJsonl(['--resume', runDir]);
    assert.equal(resumed.code, 0, resumed.stderr);
    const started = resumed.events.find((e) => e.type === 'started');
    assert.ok(started && started.type === 'started' && started.resumedFrom! >= 4);
    const got = steps(resumed.events);
    assert.ok(got.length >= 1 && got.at(-1)!.step === 8);
    for (const s of got) assert.equal(s.loss, want[s.step - 1], `step ${s.step}: ${s.loss} vs ${want[s.step - 1]}`);
    assert.equal(listRuns(join(task.dir, 'runs')).find((r) => r.id === killed.id)!.status, 'finished');
    const audit = readFileSync(join(task.dir, 'runs', 'audit.jsonl'), 'utf8');
    assert.match(audit, /"resumed"/);
  });

  it('the shipped demo config leaves a resumable run when killed 17 steps in (before its first evaluation); the next reader marks it failed and audits it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'adapt-lab-demo-kill-'));
    const demo = JSON.parse(readFileSync(resolve('samples/demo.config.json'), 'utf8'));
    const cfg = join(dir, 'demo.json');
    writeFileSync(cfg, JSON.stringify({
      ...demo, model: resolve('samples', demo.model), runsDir: join(dir, 'runs'),
      data: Object.fromEntries(Object.entries(demo.data as Record<string, string>).map(([k, v]) => [k, resolve('samples', v)])),
    }));
    const first = await runJsonl([cfg], (e, kill) => e.type === 'step' && e.step === 17 && kill());
    assert.equal(first.signal, 'SIGKILL');
    const runsDir = join(dir, 'runs');
    const killed = listRuns(runsDir)[0];
    assert.equal(killed.status, 'failed');
    assert.deepEqual(readAudit(runsDir).filter((a) => a.action === 'failed').map((a) => a.runId), [killed.id]);
    const resumed = await runJsonl(['--resume', join(runsDir, killed.id)], (e, kill) => e.type === 'step' && kill());
    const started = resumed.events.find((e) => e.type === 'started');
    assert.ok(started && started.type === 'started' && started.resumedFrom! > 0, resumed.stderr);
  });

  it('refuses a second trainer on a run whose trainer is alive (train --resume), leaving the first one alone', async () => {
    const task = moodTask(24);
    let second: ReturnType<typeof spawnSync> | undefined;
    const first = await runJsonl([writeConfig(task.dir, { maxSteps: 400, evalEvery: 0 }, { name: 'busy' }, 'wasm')], (e) => {
      if (e.type === 'checkpoint' && !second) {
        const runDir = join(task.dir, 'runs', listRuns(join(task.dir, 'runs'))[0].id);
        second = spawnSync(process.execPath, [CLI, 'train', '--resume', runDir, '--jsonl'], { encoding: 'utf8', timeout: 60_000 });
        const pid = JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8')).pid;
        process.kill(pid, 'SIGTERM'); // now stop the first one, which stops with a checkpoint
      }
    });
    assert.ok(second);
    assert.equal(second.status, 1);
    assert.match(String(second.stderr), /^adapt-lab: run "busy" .* is already being trained by another trainer \(pid \d+/m);
    assert.equal(String(second.stdout), '', 'the second trainer emitted nothing');
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.events.at(-1)!.type, 'stopped');
    const steps = first.events.filter((e) => e.type === 'step').map((e) => (e as StepEvent).step);
    assert.deepEqual(steps, steps.map((_, i) => i + 1), 'one trainer wrote the steps, in order');
  });

  it('obeys pause, resume and stop over IPC when forked, as the extension does', async () => {
    const task = moodTask(48);
    const child = fork(CLI, ['train', writeConfig(task.dir, { maxSteps: 500, evalEvery: 0, checkpointEvery: 0 }, {}, 'wasm')], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    const seen: string[] = [];
    const exit = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    child.on('message', (m) => {
      const e = m as TrainerEvent;
      seen.push(e.type);
      if (e.type === 'step' && e.step === 2) child.send({ type: 'pause' });
      if (e.type === 'paused') setTimeout(() => child.send({ type: 'resume' }), 200);
      if (e.type === 'resumed') setTimeout(() => child.send({ type: 'stop' }), 200);
    });
    assert.equal(await exit, 0);
    assert.deepEqual(seen.filter((t) => ['paused', 'resumed', 'stopped'].includes(t)), ['paused', 'resumed', 'stopped']);
    assert.ok(seen.filter((t) => t === 'step').length < 100);
  });

  it('stops with a checkpoint when its parent goes away', async () => {
    const task = moodTask(48);
    const child = fork(CLI, ['train', writeConfig(task.dir, { maxSteps: 500, evalEvery: 0, checkpointEvery: 0 }, {}, 'wasm')], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    const exit = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    child.on('message', (m) => {
      if ((m as TrainerEvent).type === 'step' && (m as StepEvent).step === 2) child.disconnect();
    });
    assert.equal(await exit, 0);
    const run = listRuns(join(task.dir, 'runs'))[0];
    assert.equal(run.status, 'stopped');
    assert.ok(existsSync(join(task.dir, 'runs', run.id, 'checkpoints', 'latest.json')));
  });

  it('opens no network connection while training', async () => {
    const task = moodTask(24);
    const netLog = join(task.dir, 'net.log');
    const r = await runJsonl([writeConfig(task.dir, { maxSteps: 2 }, {}, 'wasm')], undefined, { ADAPT_LAB_NET_LOG: netLog }, ['-r', resolve('test/helpers/no-network.js')]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.events.at(-1)!.type, 'finished');
    assert.equal(existsSync(netLog) ? readFileSync(netLog, 'utf8') : '', '');
  });

  it('names the file and line of a malformed dataset, and every wrong config field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'adapt-lab-bad-'));
    writeFileSync(join(dir, 'train.jsonl'), '{"prompt":"a","completion":"b"}\n{"prompt":"a"}\n');
    writeFileSync(join(dir, 'val.jsonl'), '{"prompt":"a","completion":"b"}\n');
    let r = spawnSync(process.execPath, [CLI, 'train', writeConfig(dir, { maxSteps: 1 })], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /train\.jsonl:2: .*completion/);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ model: MODEL, data: { train: 'train.jsonl' }, adapt: { lora: { rank: -1 } }, training: { learnRate: 1, batchSize: 'eight' } }));
    r = spawnSync(process.execPath, [CLI, 'train', bad], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /adapt\.lora\.rank/);
    assert.match(r.stderr, /learnRate.*learningRate/);
    assert.match(r.stderr, /training\.batchSize/);
    writeFileSync(bad, '{ "model": "x",\n  "data": { "train": "t.jsonl", }\n}');
    r = spawnSync(process.execPath, [CLI, 'train', bad], { encoding: 'utf8' });
    assert.match(r.stderr, /bad\.json:2:\d+: not valid JSON/);
  });
});
