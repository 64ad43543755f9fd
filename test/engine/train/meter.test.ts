// The step events' tokens seen, training time, step time and CPU % (train/meter.ts): counted
// across a resume from the checkpoint's meta, pauses left out, never guessed when unknown.
import { strict as assert } from 'node:assert';
import { RunMeter } from '../../../src/engine/train/meter';

function busy(ms: number): void {
  const end = performance.now() + ms;
  let x = 0;
  while (performance.now() < end) x += Math.sqrt(x + 1);
  if (x < 0) throw new Error('unreachable');
}

describe('train: step meter (tokens seen, training time, CPU %)', () => {
  it('counts tokens and training time; a pause is not training time; a busy step shows CPU', () => {
    const m = new RunMeter();
    const cpu0 = process.cpuUsage();
    const wall0 = performance.now();
    m.start();
    busy(40);
    const a = m.step(100, 0.04);
    const used = process.cpuUsage(cpu0);
    // The same measure taken around the step: what this process really got (a loaded machine gives it less than a core).
    const got = (100 * (used.user + used.system)) / ((performance.now() - wall0) * 1000);
    assert.equal(a.tokensSeen, 100);
    assert.equal(a.stepSeconds, 0.04);
    assert.ok(a.elapsedSeconds! >= 0.04 && a.elapsedSeconds! < 1, String(a.elapsedSeconds));
    assert.ok(a.cpuPercent! > 0 && Math.abs(a.cpuPercent! - got) < 15, `a busy loop: ${a.cpuPercent}% (measured around it: ${got}%)`);
    const t0 = performance.now();
    busy(30);
    m.paused(performance.now() - t0); // those 30 ms were a pause
    const b = m.step(50, 0.001);
    assert.equal(b.tokensSeen, 150);
    assert.ok(b.elapsedSeconds! - a.elapsedSeconds! < 0.02, `the pause left out: +${b.elapsedSeconds! - a.elapsedSeconds!} s`);
    assert.deepEqual(Object.keys(m.state()).sort(), ['elapsedSeconds', 'tokensSeen']);
  });

  it('a resumed run continues from its checkpoint; a checkpoint without the counts leaves them out', () => {
    const resumed = new RunMeter({ tokensSeen: 5000, elapsedSeconds: 120 });
    resumed.start();
    const s = resumed.step(64, 0.01);
    assert.equal(s.tokensSeen, 5064);
    assert.ok(s.elapsedSeconds! >= 120 && s.elapsedSeconds! < 121);
    const old = new RunMeter({ step: 40, bestValLoss: 1.2 }); // meta written before the meter existed
    old.start();
    const o = old.step(64, 0.01);
    assert.equal(o.tokensSeen, undefined, 'not guessed');
    assert.equal(o.elapsedSeconds, undefined);
    assert.equal(o.stepSeconds, 0.01);
    assert.deepEqual(old.state(), {});
    assert.equal(new RunMeter({ tokensSeen: -3 }).state().tokensSeen, undefined, 'a nonsense count is not continued');
  });
});
