import { strict as assert } from 'node:assert';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  bestCheckpoint, CheckpointState, latestCheckpoint, listCheckpoints, loadCheckpoint, saveCheckpoint,
} from '../../../../src/engine/core/runs/checkpoint';

function state(step: number): CheckpointState {
  const f = (n: number, k: number) => Float32Array.from({ length: n }, (_, i) => (i + 1) * k + step / 7);
  return {
    tensors: [
      { name: 'lora:model.layers.0.self_attn.q_proj.A', shape: [2, 3], data: f(6, 0.1) },
      { name: 'lora:model.layers.0.self_attn.q_proj.B', shape: [3, 2], data: f(6, -0.3) },
      { name: 'param:model.norm.weight', shape: [4], data: f(4, 1e-7) },
    ],
    optimizer: [
      { name: 'm:lora:model.layers.0.self_attn.q_proj.A', shape: [2, 3], data: f(6, 1e-9) },
      { name: 'v:lora:model.layers.0.self_attn.q_proj.A', shape: [2, 3], data: f(6, 3.3e-12) },
    ],
    meta: { step, epoch: 1, positionInEpoch: 5, rng: { s: [1, 2, 3, 4] }, bestValLoss: 1.5, patience: 2, schedule: { lr: 1e-4 } },
  };
}

describe('runs/checkpoint', () => {
  let runDir: string;
  let ck: string;
  beforeEach(() => {
    runDir = mkdtempSync(join(tmpdir(), 'adapt-lab-ckpt-'));
    ck = join(runDir, 'checkpoints');
  });
  afterEach(() => rmSync(runDir, { recursive: true, force: true }));

  const entries = () => readdirSync(ck).sort();

  it('round-trips tensors, optimizer state and meta exactly', () => {
    const s = state(10);
    const dir = saveCheckpoint(runDir, 10, s);
    assert.equal(dir, join(ck, 'step-10'));
    assert.deepEqual(readdirSync(dir).sort(), ['optimizer.safetensors', 'state.json', 'trainable.safetensors']);
    const back = loadCheckpoint(runDir, 10);
    assert.equal(back.step, 10);
    assert.equal(back.dir, dir);
    assert.deepEqual(back.meta, s.meta);
    assert.deepEqual(back.tensors.map((t) => t.name), s.tensors.map((t) => t.name));
    for (const [got, want] of [...back.tensors.map((t, i) => [t, s.tensors[i]]), ...back.optimizer.map((t, i) => [t, s.optimizer[i]])]) {
      assert.deepEqual(got.shape, want.shape);
      assert.deepEqual(Array.from(got.data), Array.from(want.data), got.name);
    }
    assert.deepEqual(loadCheckpoint(runDir, 'latest').meta, s.meta);
  });

  it('handles an empty optimizer list and 0-d tensors', () => {
    saveCheckpoint(runDir, 0, { tensors: [{ name: 'param:scale', shape: [], data: Float32Array.of(2.5) }], optimizer: [], meta: {} });
    const back = loadCheckpoint(runDir, 0);
    assert.deepEqual(back.tensors[0].shape, []);
    assert.equal(back.tensors[0].data[0], 2.5);
    assert.deepEqual(back.optimizer, []);
  });

  it('keeps the last 2 periodic checkpoints plus best', () => {
    saveCheckpoint(runDir, 10, state(10));
    saveCheckpoint(runDir, 20, state(20), { best: true });
    saveCheckpoint(runDir, 30, state(30));
    saveCheckpoint(runDir, 40, state(40));
    assert.deepEqual(entries(), ['best', 'latest.json', 'step-30', 'step-40']);
    assert.deepEqual(listCheckpoints(runDir).map((c) => c.step), [30, 40]);
    const best = loadCheckpoint(runDir, 'best');
    assert.equal(best.step, 20);
    assert.equal(best.dir, join(ck, 'best'));
    assert.deepEqual(Array.from(best.tensors[0].data), Array.from(state(20).tensors[0].data));
    assert.equal(bestCheckpoint(runDir), join(ck, 'best'));
    saveCheckpoint(runDir, 50, state(50), { best: true });
    assert.equal(loadCheckpoint(runDir, 'best').step, 50);
    assert.deepEqual(entries(), ['best', 'latest.json', 'step-40', 'step-50']);
    saveCheckpoint(runDir, 60, state(60), { keep: 3 });
    assert.deepEqual(listCheckpoints(runDir).map((c) => c.step), [40, 50, 60]);
  });

  it('maintains latest.json and latestCheckpoint', () => {
    assert.equal(latestCheckpoint(runDir), undefined);
    assert.throws(() => loadCheckpoint(runDir, 'latest'), /no checkpoint in/);
    saveCheckpoint(runDir, 5, state(5));
    saveCheckpoint(runDir, 9, state(9));
    const latest = JSON.parse(readFileSync(join(ck, 'latest.json'), 'utf8'));
    assert.equal(latest.step, 9);
    assert.equal(latest.dir, 'step-9');
    assert.equal(latestCheckpoint(runDir), join(ck, 'step-9'));
    assert.equal(loadCheckpoint(runDir, 'latest').step, 9);
    // A crash between renaming a checkpoint in and updating the pointer: the newer folder wins.
    saveCheckpoint(runDir, 12, state(12));
    writeFileSync(join(ck, 'latest.json'), JSON.stringify({ step: 9, dir: 'step-9' }));
    assert.equal(latestCheckpoint(runDir), join(ck, 'step-12'));
    // A missing or garbled pointer falls back to scanning.
    writeFileSync(join(ck, 'latest.json'), '{ garbage');
    assert.equal(latestCheckpoint(runDir), join(ck, 'step-12'));
    rmSync(join(ck, 'latest.json'));
    assert.equal(latestCheckpoint(runDir), join(ck, 'step-12'));
  });

  it('ignores and cleans up a temp folder left by a crash mid-save', () => {
    saveCheckpoint(runDir, 10, state(10));
    // A "crash" while writing step 20: a temp folder with only part of the files.
    const crashed = join(ck, '.tmp-step-20-999-deadbeef');
    mkdirSync(crashed);
    writeFileSync(join(crashed, 'trainable.safetensors'), Buffer.alloc(5));
    writeFileSync(join(ck, 'latest.json.tmp-999'), '{"step": 2');
    assert.equal(latestCheckpoint(runDir), join(ck, 'step-10'));
    assert.deepEqual(listCheckpoints(runDir).map((c) => c.step), [10]);
    assert.equal(loadCheckpoint(runDir, 'latest').step, 10);
    saveCheckpoint(runDir, 30, state(30));
    assert.equal(existsSync(crashed), false);
    assert.deepEqual(entries(), ['latest.json', 'step-10', 'step-30']);
  });

  it('restores best when a crash came between moving the old best aside and the new one in', () => {
    saveCheckpoint(runDir, 10, state(10), { best: true });
    renameSync(join(ck, 'best'), join(ck, '.old-best-1-abcd'));
    assert.throws(() => loadCheckpoint(runDir, 'best'), /no best checkpoint/);
    saveCheckpoint(runDir, 20, state(20));
    assert.equal(loadCheckpoint(runDir, 'best').step, 10);
    assert.deepEqual(entries(), ['best', 'latest.json', 'step-10', 'step-20']);
  });

  it('overwrites a checkpoint saved again at the same step, and drops later ones after a resume', () => {
    saveCheckpoint(runDir, 10, state(10));
    saveCheckpoint(runDir, 20, state(20));
    saveCheckpoint(runDir, 10, state(11));
    assert.deepEqual(entries(), ['latest.json', 'step-10']);
    assert.equal(loadCheckpoint(runDir, 'latest').meta.step, 11);
  });

  it('gives clear errors for missing and corrupt checkpoints, naming the file', () => {
    assert.throws(() => loadCheckpoint(runDir, 'best'), /no best checkpoint/);
    saveCheckpoint(runDir, 10, state(10));
    saveCheckpoint(runDir, 20, state(20));
    assert.throws(() => loadCheckpoint(runDir, 7), /no checkpoint for step 7 .*have steps 10, 20/);
    const d10 = join(ck, 'step-10');
    const d20 = join(ck, 'step-20');
    rmSync(join(d20, 'optimizer.safetensors'));
    assert.throws(() => loadCheckpoint(runDir, 20), /step-20 is incomplete: optimizer\.safetensors is missing/);
    assert.equal(latestCheckpoint(runDir), d10, 'an incomplete checkpoint is not the latest');
    writeFileSync(join(d10, 'state.json'), '{"step": 1');
    assert.throws(() => loadCheckpoint(runDir, 10), /step-10.state\.json is not valid JSON/);
    saveCheckpoint(runDir, 30, state(30));
    const d30 = join(ck, 'step-30');
    const bytes = readFileSync(join(d30, 'trainable.safetensors'));
    writeFileSync(join(d30, 'trainable.safetensors'), bytes.subarray(0, bytes.length - 8));
    assert.throws(() => loadCheckpoint(runDir, 30), /corrupt checkpoint: .*step-30.trainable\.safetensors/);
    saveCheckpoint(runDir, 40, state(40));
    const d40 = join(ck, 'step-40');
    const sf = JSON.parse(readFileSync(join(d40, 'state.json'), 'utf8'));
    sf.trainable.push('lora:missing');
    writeFileSync(join(d40, 'state.json'), JSON.stringify(sf));
    assert.throws(() => loadCheckpoint(runDir, 40), /trainable\.safetensors has no tensor "lora:missing"/);
  });

  it('refuses bad input', () => {
    assert.throws(() => saveCheckpoint(runDir, -1, state(1)), /non-negative integer/);
    const s = state(1);
    s.tensors.push(s.tensors[0]);
    assert.throws(() => saveCheckpoint(runDir, 1, s), /appears twice/);
    const t = state(1);
    t.tensors[0] = { ...t.tensors[0], shape: [7] };
    assert.throws(() => saveCheckpoint(runDir, 1, t));
    assert.deepEqual(readdirSync(ck), [], 'a failed save leaves nothing behind');
  });
});
