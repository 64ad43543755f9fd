// The pure parts of the webviews and their host side, under plain Node: smoothing, the Monitor's
// model, the message validators, the host's run history and the Compare loader and table.
import assert from 'node:assert/strict';
import { rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { ema, clampWeight } from '../../webview/shared/ema';
import { drawBudget, fillView } from '../../webview/shared/decimate';
import { RunModel } from '../../webview/monitor/model';
import { hyperparameterRows, visibleRows } from '../../webview/compare/table';
import { groupFields, groupOfRun, groupRuns, NO_GROUP } from '../../webview/compare/groups';
import {
  parseCompareHostMessage, parseMonitorHostMessage, parseMonitorWebviewMessage, parseCompareWebviewMessage,
} from '../../src/protocol/webview';
import { loadRun, MonitorHistory } from '../../src/extension/monitor/history';
import { flattenConfig, loadCompareRun, summarizeEval } from '../../src/extension/compare/data';
import { webviewHtml } from '../../src/extension/monitor/html';
import { finished, runEvents, started, T0, TOKENS_PER_STEP } from './fixtures';
import { checkpointEvalLine, parseTrainerEvent } from '../../src/protocol/events';
import { makeRun, tempRunsDir, writeEval } from './runs';

describe('webview: smoothing', () => {
  it('EMA is debiased, 0 is the identity, and stays within the data', () => {
    const ys = [4, 2, 3, 1, 2, 0.5];
    assert.deepEqual(ema(ys, 0), ys);
    const s = ema(ys, 0.9);
    assert.equal(s[0], 4, 'first point not pulled toward 0');
    for (const v of s) assert.ok(v >= 0.5 && v <= 4);
    assert.ok(Math.abs(s[5] - s[4]) < Math.abs(ys[5] - ys[4]));
    assert.equal(clampWeight(2), 0.99);
    assert.equal(clampWeight(-1), 0);
    assert.equal(clampWeight('x'), 0.6);
  });
});

describe('webview: thinning long series', () => {
  it('keeps short series whole and thins long ones keeping ends and extremes', () => {
    const pts = Array.from({ length: 20000 }, (_, i) => ({ x: i + 1, y: Math.sin(i / 50) + (i === 12345 ? 9 : 0) }));
    const view = [{ x: -1, y: -1 }];
    fillView(view, pts.slice(0, 10), 800);
    assert.deepEqual(view, pts.slice(0, 10));
    fillView(view, pts, 800);
    assert.ok(view.length <= 801, String(view.length));
    assert.equal(view[0], pts[0]);
    assert.equal(view[view.length - 1], pts[pts.length - 1]);
    assert.ok(view.some((p) => p.x === 12346), 'a spike survives');
    assert.ok(view.every((p, i) => i === 0 || p.x > view[i - 1].x), 'sorted by x');
    assert.equal(drawBudget(0), 800);
    assert.equal(drawBudget(100000), 4000);
  });
});

describe('webview: Monitor model', () => {
  it('folds events into series, status, progress and ETA', () => {
    const m = new RunModel({ runDir: '/r', id: 'r', name: 'r', status: 'running' });
    m.apply(started(100));
    const r = runEvents(40, { totalSteps: 100 });
    r.all.forEach((e) => m.apply(e));
    assert.equal(m.loss.length, 40);
    assert.equal(m.val.length, 4);
    assert.equal(m.rss.length, 40);
    assert.equal(m.step, 40);
    assert.equal(m.progress(), 0.4);
    // 0.45 s per step in the fixture, 60 steps left.
    assert.ok(Math.abs(m.eta()! - 27) < 1e-6, String(m.eta()));
    assert.equal(m.bestVal, Math.min(...r.evals.map((e) => e.valLoss)));
    m.apply({ type: 'paused', time: '2025-01-01T12:01:00Z', step: 40 });
    assert.equal(m.status, 'paused');
    assert.equal(m.eta(), undefined);
    m.apply(finished(40));
    assert.equal(m.status, 'finished');
    assert.equal(m.progress(), 1);
  });

  it('a step at or before the last one (resume from a checkpoint) replaces the tail', () => {
    const m = new RunModel();
    runEvents(30).steps.forEach((e) => m.apply(e));
    m.loss.takeRewound();
    runEvents(3, { start: 20 }).steps.forEach((e) => m.apply(e));
    assert.deepEqual(m.loss.points.map((p) => p.x).slice(-4), [20, 21, 22, 23]);
    assert.equal(m.loss.takeRewound(), true);
  });
});

describe('webview: Monitor x-axes, system series and the chosen checkpoint', () => {
  const xs = (pts: readonly { x: number }[]) => pts.map((p) => p.x);
  const near = (a: number[], b: number[]) => a.length === b.length && a.every((v, i) => Math.abs(v - b[i]) < 1e-9);

  it('places every series on steps, tokens seen and training time from the step events', () => {
    const m = new RunModel();
    m.apply(started(100));
    const r = runEvents(30, { totalSteps: 100 });
    r.all.forEach((e) => m.apply(e));
    assert.equal(m.hasTokens, true);
    assert.deepEqual(xs(m.on(m.loss, 'tokens')), r.steps.map((e) => e.tokensSeen));
    assert.deepEqual(xs(m.on(m.loss, 'time')), r.steps.map((e) => e.elapsedSeconds));
    assert.deepEqual(xs(m.on(m.loss, 'step')), r.steps.map((e) => e.step));
    // Validation points sit where their step is on each axis.
    assert.deepEqual(xs(m.on(m.val, 'tokens')), [10, 20, 30].map((s) => s * TOKENS_PER_STEP));
    assert.deepEqual(m.on(m.val, 'time').map((p) => p.y), r.evals.map((e) => e.valLoss));
    assert.deepEqual(m.stepTime.points.map((p) => p.y), r.steps.map((e) => e.stepSeconds));
    assert.deepEqual(m.on(m.cpu, 'tokens').map((p) => p.y), r.steps.map((e) => e.cpuPercent));
    assert.equal(m.on(m.rss, 'time').length, 30);
    // The untrained model's evaluation at step 0 is at 0 on every axis.
    m.apply({ type: 'eval', time: new Date(T0).toISOString(), step: 0, valLoss: 3, perplexity: 20, tokenAccuracy: 0, best: false });
    assert.deepEqual(m.on(m.val, 'tokens')[0], { x: 0, y: 3 });
  });

  it('a run recorded before these fields: no tokens axis, no system series, training time from the event times without pauses', () => {
    const m = new RunModel();
    m.apply(started(100));
    const r = runEvents(20, { totalSteps: 100, legacy: true });
    r.all.forEach((e) => m.apply(e));
    assert.equal(m.hasTokens, false);
    assert.equal(m.on(m.loss, 'tokens').length, 0);
    assert.equal(m.stepTime.length, 0);
    assert.equal(m.cpu.length, 0);
    assert.ok(near(xs(m.on(m.loss, 'time')), r.steps.map((e) => e.step * 0.45)), 'seconds since started (0.45 s a step)');
    // Paused for a minute after step 20: the time axis leaves the minute out.
    const at = (ms: number) => new Date(T0 + ms).toISOString();
    m.apply({ type: 'paused', time: at(20 * 450 + 10), step: 20 });
    m.apply({ type: 'resumed', time: at(20 * 450 + 60_010), step: 20 });
    m.apply({ ...r.steps[0], step: 21, time: at(21 * 450 + 60_000) });
    assert.ok(Math.abs(m.on(m.loss, 'time').at(-1)!.x - 21 * 0.45) < 1e-9, String(m.on(m.loss, 'time').at(-1)!.x));
  });

  it('a resume continues the time axis from the resumed step and replaces the tail on every axis', () => {
    const m = new RunModel();
    m.apply(started(100));
    runEvents(30, { totalSteps: 100, legacy: true }).all.forEach((e) => m.apply(e));
    m.loss.takeRewound();
    // Killed after step 30, resumed from the checkpoint at step 20 an hour later.
    const later = T0 + 3_600_000;
    m.apply({ ...started(100), time: new Date(later).toISOString(), resumedFrom: 20 });
    m.apply({ ...runEvents(1, { start: 20, legacy: true }).steps[0], time: new Date(later + 500).toISOString() });
    assert.deepEqual(xs(m.on(m.loss, 'step')).slice(-2), [20, 21]);
    assert.ok(Math.abs(m.on(m.loss, 'time').at(-1)!.x - (20 * 0.45 + 0.5)) < 1e-9, 'continues from step 20 (9 s), not from the kill');
    assert.equal(m.on(m.loss, 'time').length, 21);
    assert.equal(m.loss.takeRewound(), true);
    // With tokensSeen recorded, the resumed steps replace the tail on the tokens axis too.
    const n = new RunModel();
    runEvents(30).steps.forEach((e) => n.apply(e));
    runEvents(2, { start: 20 }).steps.forEach((e) => n.apply(e));
    assert.deepEqual(xs(n.on(n.loss, 'tokens')).slice(-3), [20, 21, 22].map((s) => s * TOKENS_PER_STEP));
    assert.equal(n.on(n.loss, 'tokens').length, 22);
  });

  it('marks the best-validation checkpoint, and the checkpoint chosen by evaluation over it', () => {
    const m = new RunModel();
    const time = new Date(T0).toISOString();
    m.apply({ type: 'checkpoint', time, step: 10, path: '/r/checkpoints/step-10', best: true });
    assert.deepEqual(m.chosen, { step: 10, by: 'loss' });
    m.apply({ type: 'checkpoint', time, step: 20, path: '/r/checkpoints/step-20', best: false });
    assert.equal(m.chosen?.step, 10);
    m.apply({ type: 'checkpointEval', time, step: 20, accuracy: 0.9, weightedError: 0.1, forgettingPercent: 12, overCeiling: false, chosen: true });
    m.apply({ type: 'checkpointEval', time, step: 30, accuracy: 0.8, weightedError: 0.2, forgettingPercent: 5, overCeiling: false, chosen: false });
    m.apply({ type: 'checkpoint', time, step: 30, path: '/r/checkpoints/step-30', best: true });
    assert.deepEqual(m.chosen, { step: 20, by: 'eval', accuracy: 0.9, forgettingPercent: 12 });
  });

  it('step events: the new fields are checked when present and may be absent', () => {
    const step = runEvents(1).steps[0];
    const legacy = runEvents(1, { legacy: true }).steps[0];
    assert.equal(parseTrainerEvent(legacy).type, 'step');
    assert.equal(parseTrainerEvent(step).type, 'step');
    assert.throws(() => parseTrainerEvent({ ...step, cpuPercent: -1 }), /"cpuPercent" -1/);
    assert.throws(() => parseTrainerEvent({ ...step, tokensSeen: '12' }), /"tokensSeen" "12"/);
    assert.throws(() => parseTrainerEvent({ ...step, elapsedSeconds: null }), /"elapsedSeconds" null/);
    const ce = { type: 'checkpointEval', time: 't', step: 5, accuracy: 1, weightedError: 0, overCeiling: false, chosen: true };
    assert.equal(parseTrainerEvent(ce).type, 'checkpointEval');
    assert.throws(() => parseTrainerEvent({ ...ce, chosen: 'yes' }), /boolean "chosen"/);
    assert.equal(checkpointEvalLine({ ...ce, type: 'checkpointEval', step: 130, accuracy: 0.925, weightedError: 0.075, forgettingPercent: 24.04 }), 'checkpoint at step 130: accuracy 92.5%, forgetting +24.0% (chosen)');
    assert.equal(checkpointEvalLine({ ...ce, type: 'checkpointEval', forgettingPercent: 31, overCeiling: true, chosen: false }), 'checkpoint at step 5: accuracy 100.0%, forgetting +31.0% (over the ceiling)');
  });
});

describe('webview: message validation', () => {
  it('accepts the protocol and refuses the rest with a reason', () => {
    const run = { runDir: '/r', id: 'r', name: 'r', status: 'running' };
    assert.equal(parseMonitorHostMessage({ type: 'reset', run, events: [started(10)] }).type, 'reset');
    assert.equal(parseMonitorHostMessage({ type: 'reset', run: null, events: [] }).type, 'reset');
    assert.throws(() => parseMonitorHostMessage({ type: 'events', runDir: '/r', events: [{ type: 'step', time: 't', step: 1 }] }), /event 0: .*"loss"/);
    assert.throws(() => parseMonitorHostMessage({ type: 'reset', run: { ...run, status: 'exploded' }, events: [] }), /unknown status/);
    assert.throws(() => parseMonitorHostMessage('x'), /not an object/);
    assert.deepEqual(parseMonitorWebviewMessage({ type: 'command', command: 'stop', runDir: '/r', extra: 1 }), { type: 'command', command: 'stop', runDir: '/r' });
    assert.throws(() => parseMonitorWebviewMessage({ type: 'command', command: 'rm -rf', runDir: '/r' }), /unknown monitor command/);
    assert.throws(() => parseMonitorWebviewMessage({ type: 'command', command: 'stop' }), /runDir/);
    assert.deepEqual(parseCompareWebviewMessage({ type: 'ready' }), { type: 'ready' });
    assert.throws(() => parseCompareHostMessage({ type: 'compare', runs: [{ runDir: '/r', id: 'r', name: 'r', status: 's', method: 'm', train: [[1]], val: [], config: {} }] }), /not a \[step, value\] pair/);
  });
});

describe('webview: host side', () => {
  let runsDir: string;
  before(() => {
    runsDir = tempRunsDir();
  });
  after(() => rmSync(runsDir, { recursive: true, force: true }));

  it('the page has a strict CSP with one nonce for the script and the stylesheet', () => {
    const html = webviewHtml({ cspSource: 'vscode-webview://x', scriptUri: 'vscode-webview://x/m.js', codiconUri: 'vscode-webview://x/c.css', title: 'M' });
    const nonce = /script-src 'nonce-([A-Za-z0-9]+)'/.exec(html)![1];
    assert.ok(nonce.length >= 16);
    assert.match(html, /default-src 'none'; img-src vscode-webview:\/\/x data:; style-src vscode-webview:\/\/x 'nonce-\w+'; font-src vscode-webview:\/\/x; script-src 'nonce-\w+'/);
    assert.match(html, new RegExp(`<script nonce="${nonce}" src="vscode-webview://x/m.js">`));
    assert.notEqual(webviewHtml({ cspSource: 'a', scriptUri: 'b', codiconUri: 'c', title: 'd' }).match(/nonce-(\w+)/)![1], nonce, 'fresh per load');
  });

  it('replays metrics.jsonl (a torn last line is ignored) and follows live events without duplicates', () => {
    const dir = makeRun(runsDir, { name: 'live', lr: 1e-4, rank: 4, steps: 20, seed: 1, end: false });
    appendFileSync(join(dir, 'metrics.jsonl'), '{"type":"step","time":"2025'); // a crash mid-append
    const h = new MonitorHistory();
    h.show(dir);
    let m = h.resetMessage();
    assert.equal(m.type === 'reset' && m.run?.status, 'running');
    assert.equal(m.type === 'reset' && m.run?.totalSteps, 20);
    assert.equal(m.type === 'reset' && m.events.filter((e) => e.type === 'step').length, 20);
    assert.equal(m.type === 'reset' && m.problem, undefined);
    const next = runEvents(2, { start: 20, totalSteps: 22 }).steps;
    assert.equal(h.push(dir, next[0]), true);
    assert.equal(h.push(dir, next[0]), false, 'the same event twice is one point');
    assert.equal(h.push('/other/run', next[1]), false, 'another run is not on display');
    assert.equal(h.push(dir, finished(21)), true);
    m = h.resetMessage();
    assert.equal(m.type === 'reset' && m.run?.status, 'finished');
    assert.equal(m.type === 'reset' && m.events.filter((e) => e.type === 'step').length, 21);
  });

  it('an old metrics.jsonl (step events without tokens, time, step time or CPU) loads without a problem', () => {
    const dir = makeRun(runsDir, { name: 'old', lr: 1e-4, rank: 4, steps: 12, seed: 1, legacy: true });
    const r = loadRun(dir);
    assert.equal(r.problem, undefined);
    const steps = r.events.filter((e) => e.type === 'step');
    assert.equal(steps.length, 12);
    assert.ok(steps.every((e) => e.type === 'step' && e.tokensSeen === undefined && e.cpuPercent === undefined));
    const m = new RunModel(r.info);
    r.events.forEach((e) => m.apply(e));
    assert.equal(m.on(m.loss, 'time').length, 12);
    assert.equal(m.hasTokens, false);
    assert.equal(loadCompareRun(dir).train.length, 12);
  });

  it('a run folder that cannot be read is shown with the reason', () => {
    const r = loadRun(join(runsDir, 'missing'));
    assert.match(r.problem ?? '', /run\.json: missing/);
    assert.deepEqual(r.events, []);
  });

  it('Compare loads curves, flattened config, eval summary; the table finds differences', () => {
    const a = makeRun(runsDir, { name: 'a', lr: 2e-4, rank: 8, steps: 30, seed: 1 });
    const b = makeRun(runsDir, { name: 'b', lr: 5e-4, rank: 8, steps: 20, seed: 2 });
    writeEval(a, 0.8, 3);
    writeFileSync(join(b, 'eval.json'), JSON.stringify({ verdict: 'older report', base: { accuracy: 0.1 } }));
    const ra = loadCompareRun(a);
    const rb = loadCompareRun(b);
    assert.equal(ra.train.length, 30);
    assert.equal(ra.val.length, 3);
    assert.equal(ra.status, 'finished');
    assert.equal(ra.backend, 'wasm');
    assert.equal(ra.config['adapt.lora.targetModules'], 'q_proj, v_proj');
    assert.equal(ra.eval?.adapted?.accuracy, 0.8);
    assert.equal(ra.eval?.forgettingChangePercent, 3);
    assert.equal(ra.eval?.adapted?.p95PerTokenMs, 9.4);
    assert.equal(ra.problem, undefined);
    assert.equal(rb.eval?.verdict, 'older report', 'an older report still shows what it has');
    assert.match(rb.problem ?? '', /eval\.json: report\.version/);
    parseCompareHostMessage({ type: 'compare', runs: [ra, rb] });
    const rows = hyperparameterRows([ra, rb]);
    const differs = visibleRows(rows, true).map((r) => r.key);
    assert.ok(differs.includes('training.learningRate') && differs.includes('name') && differs.includes('best val loss'));
    assert.ok(!differs.includes('adapt.lora.rank'));
    assert.ok(visibleRows(rows, false).length > differs.length);
  });

  it('Compare groups runs by a configuration field: the fields that differ, values in numeric order, a missing value last', () => {
    const run = (name: string, method: string, config: Record<string, string>) => ({ runDir: `/r/${name}`, id: name, name, status: 'finished', method, train: [], val: [], config } as Parameters<typeof groupRuns>[0][number]);
    const runs = [
      run('a', 'LoRA r8', { 'training.learningRate': '0.008', 'training.batchSize': '8', name: 'a' }),
      run('b', 'LoRA r8', { 'training.learningRate': '0.0004', 'training.batchSize': '8', name: 'b', 'data.replay': 'replay.txt' }),
      run('c', 'unfreeze layers.4', { 'training.learningRate': '0.008', 'training.batchSize': '8', name: 'c' }),
      run('d', 'LoRA r8', { 'training.learningRate': '0.01', 'training.batchSize': '8', name: 'd' }),
    ];
    assert.deepEqual(groupFields(runs), ['method', 'training.learningRate', 'data.replay']);
    const lr = groupRuns(runs, 'training.learningRate');
    assert.deepEqual(lr, [{ value: '0.0004', runs: [1] }, { value: '0.008', runs: [0, 2] }, { value: '0.01', runs: [3] }], 'numeric order, not text order');
    assert.deepEqual(groupOfRun(lr, 4), [1, 0, 1, 2]);
    assert.deepEqual(groupRuns(runs, 'method').map((g) => [g.value, g.runs]), [['LoRA r8', [0, 1, 3]], ['unfreeze layers.4', [2]]]);
    assert.deepEqual(groupRuns(runs, 'data.replay').map((g) => g.value), ['replay.txt', '—']);
    assert.deepEqual(groupRuns(runs, NO_GROUP).map((g) => g.runs), [[0], [1], [2], [3]]);
  });

  it('flattenConfig and summarizeEval read defensively', () => {
    assert.deepEqual(flattenConfig({ a: { b: 1, c: [1, 2] }, d: 'x', e: undefined, f: [{ g: 1 }] }), { 'a.b': '1', 'a.c': '1, 2', d: 'x', f: '[{"g":1}]' });
    assert.deepEqual(summarizeEval(null), {});
    assert.deepEqual(summarizeEval({ verdict: 3, base: { accuracy: null, latency: { perTokenMs: { p95: 4 } } } }), { base: { p95PerTokenMs: 4 } });
  });
});
