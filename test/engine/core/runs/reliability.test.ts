// The run store does not trust what it did not write itself: a pid in run.json is checked
// against the live process (start time, command line) before anything treats it as a trainer;
// one trainer holds a run's lock; checkpoints carry checksums and a damaged one is skipped.
import { strict as assert } from 'node:assert';
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunConfig } from '../../../../src/protocol/config';
import {
  createRun, deleteRun, listRuns, openRun, readAudit, readRunRecord,
} from '../../../../src/engine/core/runs/store';
import { isTrainerAlive, newTrainerIdentity, processStartTime, releaseIdentity, signalTrainer } from '../../../../src/engine/core/runs/process';
import { acquireRunLock, LOCK_FILE } from '../../../../src/engine/core/runs/lock';
import { latestCheckpoint, loadGoodCheckpoint, readCheckpointDir, saveCheckpoint } from '../../../../src/engine/core/runs/checkpoint';
import { checkpointDue, threadsFor } from '../../../../src/engine/train/reliability';

const config: RunConfig = {
  model: 'model.gguf',
  data: { train: 'train.jsonl', validationSplit: 0.1 },
  adapt: { lora: { rank: 8, alpha: 16, dropout: 0, targetModules: ['q_proj', 'v_proj'] } },
  training: {
    epochs: 1, batchSize: 2, gradAccumulation: 1, learningRate: 1e-3, schedule: 'cosine', warmupSteps: 0, weightDecay: 0,
    gradClip: 1, l2sp: 0, embeddingNoise: 0, dropout: 0, layerLrDecay: 1, maxLength: 128, evalEvery: 10, checkpointEvery: 10, threads: 1,
  },
  seed: 1, backend: 'cpu', runsDir: 'runs',
};

function spawnIdle(args: string[] = []): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)', ...args], { stdio: 'ignore' });
  return new Promise((res) => setTimeout(() => res(child), 150));
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGKILL');
  await new Promise<void>((res) => child.on('exit', () => res()));
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('runs: trust nothing run.json says about processes', () => {
  let tmp: string;
  let runsDir: string;
  let files: string[];
  const children: ChildProcess[] = [];
  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'adapt-lab-reliab-'));
    runsDir = join(tmp, 'runs');
    writeFileSync(join(tmp, 'model.bin'), Buffer.from([1, 2, 3]));
    files = [join(tmp, 'model.bin')];
  });
  afterEach(async () => {
    for (const c of children.splice(0)) await kill(c);
    rmSync(tmp, { recursive: true, force: true });
  });
  const mk = (extra: Partial<Parameters<typeof createRun>[1]> = {}) => createRun(runsDir, { name: 'r', config, method: 'LoRA', files, ...extra });

  it('a run.json naming a live unrelated process (reused pid, planted file) is failed, deletable, and that process is never signalled', async () => {
    const victim = await spawnIdle();
    children.push(victim);
    const pid = victim.pid!;
    // Planted: even the right start time does not make an unrelated process our trainer.
    const h = mk({ trainer: { pid, startTime: processStartTime(pid), token: 'planted' } });
    const legacy = mk({ pid }); // an older run.json: a bare pid
    assert.equal(isTrainerAlive(h.record.trainer), false);
    assert.equal(signalTrainer(h.record.trainer, 'SIGTERM'), false);
    assert.equal(signalTrainer({ pid }, 'SIGKILL'), false);
    const byId = new Map(listRuns(runsDir).map((r) => [r.id, r]));
    assert.equal(byId.get(h.record.id)?.status, 'failed');
    assert.equal(byId.get(legacy.record.id)?.status, 'failed');
    assert.deepEqual(readAudit(runsDir).filter((a) => a.action === 'failed').map((a) => a.runId).sort(), [h.record.id, legacy.record.id].sort());
    deleteRun(runsDir, h.record.id); // not "still running"
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(alive(pid), 'the unrelated process was not signalled');
  });

  it('a trainer-looking process with another start time (the pid was reused) is not the trainer', async () => {
    const child = await spawnIdle([join(tmp, 'cli.js'), 'train']);
    children.push(child);
    const start = processStartTime(child.pid!);
    assert.ok(start !== undefined);
    assert.equal(isTrainerAlive({ pid: child.pid!, startTime: start, token: 'x' }), true);
    assert.equal(isTrainerAlive({ pid: child.pid!, startTime: String(Number(start) + 1), token: 'x' }), false);
    assert.equal(signalTrainer({ pid: child.pid!, startTime: String(Number(start) + 1), token: 'x' }), false);
    assert.equal(isTrainerAlive({ pid: child.pid!, startTime: start, token: 'x', host: 'another-machine' }), false);
    assert.equal(signalTrainer({ pid: child.pid!, startTime: start, token: 'x' }, 'SIGTERM'), true);
  });

  it('an `adapt-lab experiment` process (its trials train in it) is a trainer too', async () => {
    const child = await spawnIdle([join(tmp, 'cli.js'), 'experiment', 'sweep.json']);
    children.push(child);
    assert.equal(isTrainerAlive({ pid: child.pid!, startTime: processStartTime(child.pid!), token: 'x' }), true);
  });

  it('in this process, only a trainer identity it holds counts as alive', () => {
    const id = newTrainerIdentity();
    assert.equal(isTrainerAlive(id), true);
    assert.equal(isTrainerAlive({ ...id, token: 'someone-else' }), false);
    releaseIdentity(id);
    assert.equal(isTrainerAlive(id), false);
  });

  it('the next reader of a run whose trainer died marks it failed and audits it, once (openRun, as the CLI does)', async () => {
    const child = spawn(process.execPath, ['-e', '']);
    await new Promise<void>((res) => child.on('exit', () => res()));
    const h = mk({ trainer: { pid: child.pid!, startTime: '1', token: 't' } });
    const opened = openRun(h.dir);
    assert.equal(opened.record.status, 'failed');
    assert.equal(readRunRecord(h.dir).status, 'failed');
    openRun(h.dir);
    assert.equal(readAudit(runsDir).filter((a) => a.action === 'failed').length, 1);
  });

  it('one trainer per run: a second lock is refused while the first holder lives; a dead holder\'s lock is taken over', async () => {
    const h = mk();
    const a = newTrainerIdentity();
    const b = newTrainerIdentity();
    const lock = acquireRunLock(h.dir, a, 'r');
    assert.throws(() => acquireRunLock(h.dir, b, 'r'), /already being trained by another trainer \(pid \d+/);
    lock.release();
    assert.ok(!existsSync(join(h.dir, LOCK_FILE)));
    const again = acquireRunLock(h.dir, b, 'r');
    again.release();
    // A lock left by a killed trainer (a dead pid), or by an unrelated live process.
    const dead = spawn(process.execPath, ['-e', '']);
    await new Promise<void>((res) => dead.on('exit', () => res()));
    const other = await spawnIdle();
    children.push(other);
    for (const pid of [dead.pid!, other.pid!]) {
      writeFileSync(join(h.dir, LOCK_FILE), JSON.stringify({ pid, startTime: processStartTime(pid) ?? '1', token: 'stale' }));
      const l = acquireRunLock(h.dir, a, 'r');
      assert.equal(JSON.parse(readFileSync(join(h.dir, LOCK_FILE), 'utf8')).token, a.token);
      l.release();
    }
    assert.deepEqual(readdirSync(h.dir).filter((n) => n.startsWith(LOCK_FILE)), []);
    releaseIdentity(a);
    releaseIdentity(b);
  });

  it('a runsDir that is a file is a clear error naming it', () => {
    writeFileSync(runsDir, 'not a folder');
    assert.throws(() => mk(), (e: Error) => e.message.includes(runsDir) && /is a file, not a folder/.test(e.message));
  });
});

describe('checkpoints: checksums and falling back to the newest good one', () => {
  let runDir: string;
  const state = (v: number) => ({
    tensors: [{ name: 'param:w', shape: [64], data: new Float32Array(64).fill(v) }],
    optimizer: [{ name: 'm:w', shape: [64], data: new Float32Array(64).fill(v / 2) }],
    meta: { v },
  });
  beforeEach(() => {
    runDir = mkdtempSync(join(tmpdir(), 'adapt-lab-ckpt-'));
  });
  afterEach(() => rmSync(runDir, { recursive: true, force: true }));

  it('detects a flipped byte in the tensor data (same length, still parseable) and resumes from the previous checkpoint', () => {
    saveCheckpoint(runDir, 10, state(1));
    const last = saveCheckpoint(runDir, 20, state(2), { best: true });
    const file = join(last, 'trainable.safetensors');
    const bytes = readFileSync(file);
    bytes[bytes.length - 3] ^= 0x40; // inside the last float: the header still parses
    writeFileSync(file, bytes);
    assert.throws(() => readCheckpointDir(last), (e: Error) => e.message.includes(file) && /SHA-256/.test(e.message));
    const { checkpoint, skipped } = loadGoodCheckpoint(runDir);
    assert.equal(checkpoint?.step, 10);
    assert.equal(checkpoint?.tensors[0].data[0], 1);
    assert.equal(skipped.length, 1);
    assert.match(skipped[0].reason, /trainable\.safetensors/);
  });

  it('falls back over a truncated latest checkpoint, and says when none is good', () => {
    saveCheckpoint(runDir, 5, state(1));
    const last = saveCheckpoint(runDir, 6, state(2));
    writeFileSync(join(last, 'optimizer.safetensors'), Buffer.alloc(3));
    assert.equal(latestCheckpoint(runDir), last);
    assert.equal(loadGoodCheckpoint(runDir).checkpoint?.step, 5);
    writeFileSync(join(runDir, 'checkpoints', 'step-5', 'state.json'), '{');
    const none = loadGoodCheckpoint(runDir);
    assert.equal(none.checkpoint, undefined);
    assert.equal(none.skipped.length, 2);
  });

  it('a full disk leaves no temp folder and no extra checkpoint, and the error names the file', function () {
    // A 300 KiB tmpfs: needs root on Linux (mount); elsewhere this check cannot run.
    if (process.platform !== 'linux' || process.getuid?.() !== 0) this.skip();
    const mnt = join(runDir, 'small');
    mkdirSync(mnt);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=300k', 'tmpfs', mnt], { stdio: 'ignore' });
    } catch {
      this.skip();
    }
    try {
      const big = (v: number) => ({ tensors: [{ name: 'param:w', shape: [16384], data: new Float32Array(16384).fill(v) }], optimizer: [], meta: {} });
      saveCheckpoint(mnt, 1, big(1)); // 64 KiB each
      saveCheckpoint(mnt, 2, big(2));
      writeFileSync(join(mnt, 'filler'), Buffer.alloc(120 * 1024)); // leaves less than one checkpoint's room
      // The older checkpoint makes room for the new one; the newest older one stays.
      saveCheckpoint(mnt, 3, big(3));
      assert.deepEqual(readdirSync(join(mnt, 'checkpoints')).filter((n) => n.startsWith('step-')).sort(), ['step-2', 'step-3']);
      const free = statfsSync(mnt).bavail * statfsSync(mnt).bsize;
      writeFileSync(join(mnt, 'filler2'), Buffer.alloc(Math.max(0, free - 16 * 1024))); // now the best copy cannot fit
      assert.throws(() => saveCheckpoint(mnt, 4, big(4), { best: true }), (e: Error) => /no space left/.test(e.message) && /checkpoints/.test(e.message));
      const names = readdirSync(join(mnt, 'checkpoints'));
      assert.deepEqual(names.filter((n) => n.startsWith('.tmp-') || n.startsWith('.old-')), [], names.join(','));
      assert.ok(names.filter((n) => n.startsWith('step-')).length <= 2, names.join(','));
      assert.ok(loadGoodCheckpoint(mnt).checkpoint, 'a good checkpoint is left to resume from');
    } finally {
      execFileSync('umount', [mnt], { stdio: 'ignore' });
    }
  });
});

describe('trainer limits', () => {
  it('checkpoints every checkpointEvery steps and at least every checkpointSeconds (default 60) of training', () => {
    const t = { checkpointEvery: 0, checkpointSeconds: undefined };
    assert.equal(checkpointDue(7, t, 59.9), false);
    assert.equal(checkpointDue(7, t, 60), true);
    assert.equal(checkpointDue(7, { checkpointEvery: 0, checkpointSeconds: 0 }, 1e6), false);
    assert.equal(checkpointDue(10, { checkpointEvery: 5, checkpointSeconds: 0 }, 0), true);
    assert.equal(checkpointDue(11, { checkpointEvery: 5, checkpointSeconds: 5 }, 4), false);
  });

  it('caps training.threads at the cores, and says why a native backend or a missing worker script trains on one thread', () => {
    const said: string[] = [];
    assert.equal(threadsFor(64, { backend: 'wasm', gradWorker: true, cores: 2, log: (m) => said.push(m) }), 2);
    assert.match(said[0], /training\.threads 64 is more than the 2 cores here: training on 2 threads/);
    assert.equal(threadsFor(2, { backend: 'wasm', gradWorker: true, cores: 2 }), 2);
    assert.equal(threadsFor(8, { backend: 'tensorflow', gradWorker: true, cores: 2, log: (m) => said.push(m) }), 1);
    assert.match(said[1], /training\.threads 8 is ignored: the tensorflow backend uses every core itself/);
    assert.equal(threadsFor(8, { backend: 'wasm', gradWorker: false, cores: 2, log: (m) => said.push(m) }), 1);
    assert.match(said[2], /no gradient worker script; training on one thread/);
  });
});
