import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { RunConfig } from '../../../../src/protocol/config';
import { TrainerEvent } from '../../../../src/protocol/events';
import {
  audit, createRun, DEAD_PROCESS_FAILURE, deleteRun, isSafeRunId, listRuns, newRunId, openRun, readAudit, readMetrics,
  readMetricsDetailed, readRunRecord, reconcileRun, runDirOf, sha256File, slugify,
} from '../../../../src/engine/core/runs/store';
import { processStartTime } from '../../../../src/engine/core/runs/process';

const config = (name?: string): RunConfig => ({
  model: 'model.gguf',
  data: { train: 'train.jsonl', validationSplit: 0.1 },
  adapt: { lora: { rank: 8, alpha: 16, dropout: 0, targetModules: ['q_proj', 'v_proj'] } },
  training: {
    epochs: 1, batchSize: 2, gradAccumulation: 1, learningRate: 1e-3, schedule: 'cosine', warmupSteps: 0, weightDecay: 0,
    gradClip: 1, l2sp: 0, embeddingNoise: 0, dropout: 0, layerLrDecay: 1, maxLength: 128, evalEvery: 10, checkpointEvery: 10, threads: 1,
  },
  seed: 1,
  backend: 'cpu',
  runsDir: 'runs',
  ...(name ? { name } : {}),
});

const time = '2024-01-01T00:00:00.000Z';
const step = (n: number, loss = 1): TrainerEvent => ({
  type: 'step', time, step: n, epoch: 0, loss, lr: 1e-3, gradNorm: 1, tokensPerSecond: 100,
  memory: { rssMiB: 1, heapMiB: 1, numTensors: 1, tensorMiB: 1 },
});
const evalEv = (n: number, valLoss: number, best: boolean): TrainerEvent => ({
  type: 'eval', time, step: n, valLoss, perplexity: Math.exp(valLoss), tokenAccuracy: 0.5, best,
});

describe('runs/store', () => {
  let tmp: string;
  let runsDir: string;
  let files: string[];
  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'adapt-lab-store-'));
    runsDir = join(tmp, 'runs');
    writeFileSync(join(tmp, 'model.bin'), Buffer.from([1, 2, 3, 4, 5]));
    writeFileSync(join(tmp, 'train.jsonl'), '{"text":"hello"}\n');
    files = [join(tmp, 'model.bin'), join(tmp, 'train.jsonl')];
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  const mk = (name = 'My Run', extra: Partial<Parameters<typeof createRun>[1]> = {}) =>
    createRun(runsDir, { name, config: config(), method: 'LoRA r8 q_proj,v_proj', files, ...extra });

  describe('ids', () => {
    it('builds YYYYMMDD-HHMMSS-<slug> ids from the name', () => {
      const now = new Date(2024, 0, 2, 3, 4, 5);
      assert.equal(newRunId('My Run: v2 / (test)', now), '20240102-030405-my-run-v2-test');
      assert.equal(newRunId(undefined, now), '20240102-030405-run');
      assert.equal(newRunId('../../etc/passwd', now), '20240102-030405-etc-passwd');
      assert.equal(slugify('É!!!'), 'run');
      assert.equal(slugify('a'.repeat(60)).length, 40);
      assert.equal(slugify('x'.repeat(39) + '-yyy'), 'x'.repeat(39));
      assert.ok(isSafeRunId(newRunId('Ünïcödé \\ name\0with nul', now)));
    });

    it('makes ids unique with -2, -3 when the folder exists', () => {
      const now = new Date(2024, 5, 6, 7, 8, 9);
      const a = mk('same', { now });
      const b = mk('same', { now });
      const c = mk('same', { now });
      assert.equal(a.record.id, '20240606-070809-same');
      assert.equal(b.record.id, '20240606-070809-same-2');
      assert.equal(c.record.id, '20240606-070809-same-3');
      assert.notEqual(a.dir, b.dir);
      for (const h of [a, b, c]) assert.ok(existsSync(join(h.dir, 'run.json')) && existsSync(join(h.dir, 'checkpoints')));
    });

    it('refuses run ids that could escape the runs folder', () => {
      for (const bad of ['..', '../x', 'a/../b', 'a/b', 'a\\b', '/etc', '.hidden', '', 'x..y', 'a\0b', 'C:foo']) {
        assert.equal(isSafeRunId(bad), false, bad);
        assert.throws(() => runDirOf(runsDir, bad), /invalid run id/, bad);
        assert.throws(() => openRun(runsDir, bad), /invalid run id/, bad);
        assert.throws(() => deleteRun(runsDir, bad, 'me'), /invalid run id/, bad);
      }
      assert.equal(runDirOf(runsDir, '20240101-000000-ok'), resolve(runsDir, '20240101-000000-ok'));
    });
  });

  describe('createRun', () => {
    it('hashes the files with SHA-256 and records machine, versions, pid', () => {
      const h = mk();
      const expected = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
      assert.deepEqual(h.record.hashes, { [resolve(files[0])]: expected(files[0]), [resolve(files[1])]: expected(files[1]) });
      assert.equal(sha256File(files[0]), expected(files[0]));
      assert.equal(h.record.status, 'running');
      assert.equal(h.record.pid, process.pid);
      assert.equal(h.record.method, 'LoRA r8 q_proj,v_proj');
      assert.equal(h.record.versions.node, process.versions.node);
      assert.equal(h.record.machine.node, process.version);
      assert.ok(h.record.machine.cpus > 0 && h.record.machine.totalMemMiB > 0);
      assert.deepEqual(readRunRecord(h.dir), h.record);
      const a = readAudit(runsDir);
      assert.equal(a.length, 1);
      assert.equal(a[0].action, 'started');
      assert.equal(a[0].runId, h.record.id);
    });

    it('hashes a folder file by file, and a file larger than the read buffer', () => {
      const big = Buffer.alloc(3 * (1 << 20) + 17);
      for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 255;
      mkdirSync(join(tmp, 'model'));
      writeFileSync(join(tmp, 'model', 'weights.bin'), big);
      writeFileSync(join(tmp, 'model', 'config.json'), '{}');
      const h = createRun(runsDir, { config: config(), method: 'm', files: [join(tmp, 'model')] });
      assert.deepEqual(Object.keys(h.record.hashes), [join(tmp, 'model', 'config.json'), join(tmp, 'model', 'weights.bin')]);
      assert.equal(h.record.hashes[join(tmp, 'model', 'weights.bin')], createHash('sha256').update(big).digest('hex'));
    });

    it('fails on a missing file without leaving a run folder', () => {
      assert.throws(() => mk('x', { files: [join(tmp, 'nope.bin')] }), /cannot hash .*nope\.bin: no such file/);
      assert.deepEqual(listRuns(runsDir), []);
    });

    it('uses the config name when no name is given', () => {
      const h = createRun(runsDir, { config: config('From Config'), method: 'm', files: [] });
      assert.equal(h.record.name, 'From Config');
      assert.match(h.record.id, /^\d{8}-\d{6}-from-config$/);
    });
  });

  describe('events and metrics', () => {
    it('appends events and reads them back; updates step, bestValLoss and status', () => {
      const h = mk();
      h.appendEvent({
        type: 'started', time, runId: h.record.id, runDir: h.dir, config: h.record.config,
        backend: { name: 'cpu', skipped: [], versions: { tfjs: '4.0.0' } },
        params: { total: 1000, trainable: 10, percent: 1 },
        train: { examples: 1, tokens: 1, labelTokens: 1, minLength: 1, maxLength: 1, meanLength: 1, p50Length: 1, p95Length: 1, truncated: 0 },
        totalSteps: 20, stepsPerEpoch: 20,
      });
      assert.equal(readRunRecord(h.dir).backend?.name, 'cpu');
      assert.equal(readRunRecord(h.dir).versions.tfjs, '4.0.0');
      h.appendEvent(step(1, 2.5));
      h.appendEvent(step(2, 2.4));
      assert.equal(h.record.step, 2);
      assert.equal(readRunRecord(h.dir).step, undefined, 'run.json is not rewritten on every step');
      h.appendEvent(evalEv(2, 2.0, true));
      assert.equal(readRunRecord(h.dir).bestValLoss, 2.0);
      h.appendEvent(evalEv(3, 2.2, false));
      assert.equal(readRunRecord(h.dir).bestValLoss, 2.0);
      h.appendEvent({ type: 'checkpoint', time, step: 3, path: join(h.dir, 'checkpoints', 'step-3'), best: false });
      assert.equal(readRunRecord(h.dir).lastCheckpoint, join(h.dir, 'checkpoints', 'step-3'));
      h.appendEvent({ type: 'paused', time, step: 3 });
      assert.equal(readRunRecord(h.dir).status, 'paused');
      h.appendEvent({ type: 'resumed', time, step: 3 });
      assert.equal(readRunRecord(h.dir).status, 'running');
      h.appendEvent({ type: 'log', time, level: 'info', message: 'hi' });
      h.appendEvent({ type: 'finished', time, step: 4, reason: 'max-steps', bestValLoss: 1.9 });
      const rec = readRunRecord(h.dir);
      assert.equal(rec.status, 'finished');
      assert.equal(rec.step, 4);
      assert.equal(rec.bestValLoss, 1.9);
      assert.equal(rec.endedAt, time);
      assert.equal(rec.pid, undefined);
      const events = readMetrics(h.dir);
      assert.deepEqual(events.map((e) => e.type), ['started', 'step', 'step', 'eval', 'eval', 'checkpoint', 'paused', 'resumed', 'log', 'finished']);
      assert.deepEqual(events[1], step(1, 2.5));
      assert.deepEqual(readAudit(runsDir).map((a) => a.action), ['started', 'finished']);
    });

    it('records a failure and audits it', () => {
      const h = mk();
      h.appendEvent({ type: 'failed', time, step: 7, reason: 'out of memory' });
      const rec = readRunRecord(h.dir);
      assert.equal(rec.status, 'failed');
      assert.equal(rec.failure, 'out of memory');
      const a = readAudit(runsDir);
      assert.equal(a[1].action, 'failed');
      assert.equal(a[1].detail, 'out of memory');
    });

    it('tolerates a torn last line, and repairs it before the next append', () => {
      const h = mk();
      h.appendEvent(step(1));
      h.appendEvent(step(2));
      appendFileSync(join(h.dir, 'metrics.jsonl'), '{"type":"step","time":"2024');
      assert.deepEqual(readMetrics(h.dir).map((e) => (e as { step: number }).step), [1, 2]);
      assert.equal(readMetricsDetailed(h.dir).tornTail, true);
      const h2 = openRun(runsDir, h.record.id);
      h2.appendEvent(step(3));
      assert.deepEqual(readMetrics(h.dir).map((e) => (e as { step: number }).step), [1, 2, 3]);
      assert.equal(readMetricsDetailed(h.dir).tornTail, false);
      assert.ok(readFileSync(join(h.dir, 'metrics.jsonl'), 'utf8').endsWith('}\n'));
    });

    it('reports a corrupt line in the middle with its line number', () => {
      const h = mk();
      h.appendEvent(step(1));
      appendFileSync(join(h.dir, 'metrics.jsonl'), '{"type":"step", garbage\n');
      h.appendEvent(step(3));
      assert.throws(() => readMetrics(h.dir), /metrics\.jsonl line 2: not valid JSON/);
      const d = readMetricsDetailed(h.dir);
      assert.equal(d.events.length, 2);
      assert.deepEqual(d.problems.map((p) => p.line), [2]);
      appendFileSync(join(h.dir, 'metrics.jsonl'), '{"type":"bogus","time":"x"}\n');
      assert.throws(() => readMetrics(h.dir), /line 2: .*\(and 1 more bad line\)/);
      assert.match(readMetricsDetailed(h.dir).problems[1].message, /unknown trainer event type "bogus"/);
      assert.equal(readMetricsDetailed(h.dir).problems[1].line, 4);
    });

    it('returns no events when metrics.jsonl does not exist yet', () => {
      assert.deepEqual(readMetrics(mk().dir), []);
    });
  });

  describe('status, update, open', () => {
    it('setStatus and update rewrite run.json; resuming a stopped run is audited', () => {
      const h = mk();
      h.update({ params: { total: 10, trainable: 1, percent: 10 }, id: 'ignored' } as never);
      assert.equal(readRunRecord(h.dir).params?.trainable, 1);
      assert.equal(readRunRecord(h.dir).id, h.record.id);
      h.setStatus('stopped', { who: 'alice' });
      let rec = readRunRecord(h.dir);
      assert.equal(rec.status, 'stopped');
      assert.ok(rec.endedAt);
      const h2 = openRun(h.dir);
      assert.deepEqual(h2.record, rec);
      h2.setStatus('running', { who: 'bob', pid: 4242 });
      rec = readRunRecord(h.dir);
      assert.equal(rec.status, 'running');
      assert.equal(rec.endedAt, undefined);
      assert.equal(rec.pid, 4242);
      const a = readAudit(runsDir);
      assert.deepEqual(a.map((x) => [x.action, x.who]), [['started', a[0].who], ['stopped', 'alice'], ['resumed', 'bob']]);
      assert.ok(a[0].who.length > 0);
    });

    it('handle.audit writes entries and skips a repeated status action (event + explicit call)', () => {
      const h = mk('x', { who: 'frank' });
      h.appendEvent({ type: 'stopped', time, step: 3 });
      h.audit('stopped', 'step 3', 'frank');
      h.audit('exported', 'a.safetensors');
      h.audit('exported', 'b.safetensors');
      const h2 = openRun(h.dir);
      h2.audit('resumed', 'from step 3', 'gina');
      h2.update({ status: 'running', pid: 77 });
      assert.equal(readRunRecord(h.dir).status, 'running');
      assert.equal(readRunRecord(h.dir).endedAt, undefined);
      assert.equal(readRunRecord(h.dir).pid, 77);
      h2.appendEvent({ type: 'failed', time, step: 4, reason: 'boom' });
      h2.audit('failed', 'boom');
      assert.deepEqual(readAudit(runsDir).map((a) => [a.action, a.who, a.detail]), [
        ['started', 'frank', 'LoRA r8 q_proj,v_proj'], ['stopped', 'frank', undefined], ['exported', 'frank', 'a.safetensors'],
        ['exported', 'frank', 'b.safetensors'], ['resumed', 'gina', 'from step 3'], ['failed', readAudit(runsDir)[5].who, 'boom'],
      ]);
    });

    it('openRun refuses a folder without run.json', () => {
      mkdirSync(join(runsDir, 'empty'), { recursive: true });
      assert.throws(() => openRun(runsDir, 'empty'), /run\.json: missing/);
    });
  });

  describe('listRuns, reconcile, delete, audit', () => {
    it('lists runs newest first and skips folders without run.json', () => {
      const a = mk('a', { now: new Date(2024, 0, 1) });
      const c = mk('c', { now: new Date(2024, 0, 3) });
      const b = mk('b', { now: new Date(2024, 0, 2) });
      mkdirSync(join(runsDir, 'not-a-run'));
      writeFileSync(join(runsDir, 'stray.txt'), 'x');
      mkdirSync(join(runsDir, 'broken'));
      writeFileSync(join(runsDir, 'broken', 'run.json'), '{ nope');
      assert.deepEqual(listRuns(runsDir).map((r) => r.id), [c.record.id, b.record.id, a.record.id]);
      assert.deepEqual(listRuns(join(tmp, 'no-such-dir')), []);
    });

    it('reports a running run whose process is gone as failed, and fixes run.json', async () => {
      const child = spawn(process.execPath, ['-e', '']);
      const pid = child.pid!;
      await new Promise<void>((res) => child.on('exit', () => res()));
      const dead = mk('dead', { pid });
      const alive = mk('alive');
      const byId = new Map(listRuns(runsDir).map((r) => [r.id, r]));
      assert.equal(byId.get(dead.record.id)?.status, 'failed');
      assert.equal(byId.get(dead.record.id)?.failure, DEAD_PROCESS_FAILURE);
      assert.equal(byId.get(alive.record.id)?.status, 'running');
      const onDisk = readRunRecord(dead.dir);
      assert.equal(onDisk.status, 'failed');
      assert.equal(onDisk.failure, DEAD_PROCESS_FAILURE);
      assert.ok(onDisk.endedAt);
      assert.equal(reconcileRun(dead.dir).status, 'failed');
      const failed = readAudit(runsDir).filter((x) => x.action === 'failed');
      assert.equal(failed.length, 1, 'reconciling twice audits once');
      assert.equal(failed[0].runId, dead.record.id);
    });

    it('deletes a run inside runsDir and audits it', () => {
      const h = mk('doomed');
      h.setStatus('finished');
      const outside = join(tmp, 'outside');
      mkdirSync(outside);
      deleteRun(runsDir, h.record.id, 'carol');
      assert.equal(existsSync(h.dir), false);
      assert.equal(existsSync(outside), true);
      const last = readAudit(runsDir).at(-1)!;
      assert.deepEqual([last.action, last.runId, last.who], ['deleted', h.record.id, 'carol']);
      assert.throws(() => deleteRun(runsDir, h.record.id, 'carol'), /not found/);
      mkdirSync(join(runsDir, 'plain-folder'));
      assert.throws(() => deleteRun(runsDir, 'plain-folder', 'carol'), /not a run folder/);
      assert.equal(existsSync(join(runsDir, 'plain-folder')), true);
    });

    it('refuses to delete a run whose trainer is alive unless forced', async () => {
      // A process whose command line is a trainer's (`… cli.js train …`), recorded with its start time.
      const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)', join(tmp, 'cli.js'), 'train']);
      try {
        await new Promise((r) => setTimeout(r, 100));
        const h = mk('live', { trainer: { pid: child.pid!, startTime: processStartTime(child.pid!), token: 't' } });
        assert.throws(() => deleteRun(runsDir, h.record.id, 'dave'), /still running/);
        deleteRun(runsDir, h.record.id, 'dave', { force: true });
        assert.equal(existsSync(h.dir), false);
      } finally {
        child.kill();
        await new Promise<void>((res) => child.on('exit', () => res()));
      }
    });

    it('audit appends time, who, action, runId, detail', () => {
      audit(runsDir, { action: 'exported', runId: 'r1', who: 'eve', detail: 'adapter.safetensors' });
      audit(runsDir, { action: 'stopped', runId: 'r2' });
      const lines = readFileSync(join(runsDir, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      assert.equal(lines.length, 2);
      assert.deepEqual(Object.keys(lines[0]), ['time', 'who', 'action', 'runId', 'detail', 'version']);
      assert.match(lines[0].version, /^\d+\.\d+\.\d+/);
      assert.equal(lines[0].who, 'eve');
      assert.ok(!Number.isNaN(Date.parse(lines[0].time)));
      assert.equal(typeof lines[1].who, 'string');
      assert.equal(lines[1].detail, undefined);
    });
  });
});
