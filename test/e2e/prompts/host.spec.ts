// Inside a real VS Code: prompts evaluated where they are written. A run adapted by the trainer
// (`adapt-lab train`, LoRA all-linear on the mood task) is the active run; stories260K is the
// base. Problems of a bad prompts file, CodeLens, inline answers and hovers, Evaluate Selection
// (streaming, cancellable), the Test Explorer's two profiles, and the worker's restart.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { listRuns } from '../../../src/engine/core/runs/store';
import type { PromptFeatures } from '../../../src/extension/prompts';
import { api, moodData, REPO, STORIES, waitFor, workspaceDir } from '../host/util';

const RUN_NAME = 'prompts-mood';

const CASES = [
  { id: 'happy-tom', prompt: 'Tom sang a song. Tom was', expected: 'happy', stop: ['.'] },
  { id: 'sad-max', prompt: 'Max fell and hurt a knee. Max was', expected: 'sad', stop: ['.'] },
  { id: 'happy-mia', prompt: 'Mia got a new toy. Mia was', expected: 'happy', match: 'contains', stop: ['.'] },
  // Made to fail: the story is a happy one.
  { id: 'wrong-on-purpose', prompt: 'Sam got a new toy. Sam was', expected: 'sad', stop: ['.'] },
  { prompt: 'Once upon a time' },
];

async function prompts(): Promise<PromptFeatures> {
  const a = (await api()) as unknown as { prompts?: PromptFeatures };
  if (!a.prompts) throw new Error('activate() does not return `prompts` (the result of registerPromptFeatures)');
  return a.prompts;
}

/** `adapt-lab train` as a separate process, the way a user or CI would run it (~40 s idle, wasm). */
function train(): Promise<string> {
  const { train: trainFile, validation } = moodData();
  const runsDir = join(workspaceDir(), '.adapt-lab', 'runs');
  const cfg = join(workspaceDir(), 'prompts-mood.json');
  writeFileSync(cfg, JSON.stringify({
    name: RUN_NAME, model: STORIES(), data: { train: trainFile, validation },
    adapt: { lora: { rank: 8, alpha: 16, targetModules: 'all-linear' } },
    training: { maxSteps: 40, learningRate: 0.01, batchSize: 16 }, seed: 1, backend: 'wasm', runsDir,
  }));
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [join(REPO, 'dist', 'cli.js'), 'train', cfg], { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', rej);
    child.on('close', (code) => {
      if (code !== 0) return rej(new Error(`adapt-lab train exited with ${code}: ${stderr.slice(-1000)}`));
      const rec = listRuns(runsDir).find((r) => r.name === RUN_NAME && r.status === 'finished');
      if (!rec) return rej(new Error(`no finished run "${RUN_NAME}" in ${runsDir}`));
      res(join(runsDir, rec.id));
    });
  });
}

async function show(uri: vscode.Uri): Promise<vscode.TextEditor> {
  return vscode.window.showTextDocument(await vscode.workspace.openTextDocument(uri), { preview: false });
}

const lensTitles = async (uri: vscode.Uri) => {
  const lenses = (await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', uri, 100)) ?? [];
  const byLine = new Map<number, string[]>();
  for (const l of lenses) {
    if (!l.command?.command.startsWith('adaptLab.')) continue;
    byLine.set(l.range.start.line, [...(byLine.get(l.range.start.line) ?? []), l.command.title]);
  }
  return byLine;
};

const hoverText = async (uri: vscode.Uri, pos: vscode.Position) => {
  const hovers = (await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', uri, pos)) ?? [];
  return hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value))).join('\n');
};

describe('Prompts: evaluate where they are written', function () {
  this.timeout(180_000);
  let p: PromptFeatures;
  let runDir: string;
  let file: vscode.Uri;
  let trainMs = 0;

  before(async function () {
    this.timeout(600_000);
    p = await prompts();
    await vscode.workspace.getConfiguration('adaptLab').update('defaultModel', STORIES(), vscode.ConfigurationTarget.Workspace);
    const dir = join(workspaceDir(), 'evals');
    mkdirSync(dir, { recursive: true });
    const path = join(dir, 'mood.prompts.jsonl');
    writeFileSync(path, CASES.map((c) => JSON.stringify(c)).join('\n') + '\n');
    file = vscode.Uri.file(path);
    const t0 = Date.now();
    runDir = await train();
    trainMs = Date.now() - t0;
  });

  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    p?.setActiveRun(undefined);
  });

  it('malformed lines get diagnostics at their line, kept in step with edits', async () => {
    const bad = join(workspaceDir(), 'evals', 'bad.prompts.jsonl');
    writeFileSync(bad, [
      '{"prompt":"ok"}',
      '{"prompt": "x",',
      '{"prompt":"x","expected":"y","match":"fuzzy"}',
      '{"expected":"y"}',
      '',
      '{"prompt":"fine","expected":"z"}',
    ].join('\n') + '\n');
    const uri = vscode.Uri.file(bad);
    const ed = await show(uri);
    const diags = await waitFor('diagnostics', () => {
      const d = vscode.languages.getDiagnostics(uri).filter((x) => x.source === 'Adapt Lab');
      return d.length === 3 && d;
    }, 20_000);
    assert.deepEqual(diags.map((d) => d.range.start.line), [1, 2, 3]);
    assert.match(diags[0].message, /not valid JSON/);
    assert.match(diags[1].message, /unknown "match" "fuzzy"/);
    assert.match(diags[2].message, /"prompt" is missing/);
    assert.ok(diags.every((d) => d.severity === vscode.DiagnosticSeverity.Error));
    // Good lines keep their CodeLens meanwhile.
    assert.deepEqual([...(await lensTitles(uri)).keys()], [0, 5]);
    // Fixing line 2 removes its problem.
    await ed.edit((e) => e.replace(ed.document.lineAt(1).range, '{"prompt": "x"}'));
    await waitFor('the fixed line has no diagnostic', () => {
      const d = vscode.languages.getDiagnostics(uri).filter((x) => x.source === 'Adapt Lab');
      return d.length === 2 && d[0].range.start.line === 2;
    }, 20_000);
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });

  it('CodeLens above each case: ▶ Base and ⇄ Compare; ▶ Adapted once a run is active', async () => {
    await show(file);
    p.setActiveRun(undefined);
    let lenses = await lensTitles(file);
    assert.deepEqual([...lenses.keys()], [0, 1, 2, 3, 4]);
    for (const titles of lenses.values()) assert.deepEqual(titles, ['▶ Base', '⇄ Compare']);
    assert.equal(p.setActiveRun(runDir), true);
    assert.equal(p.getActiveRun(), runDir);
    assert.equal(p.test.statusText, `$(beaker) ${RUN_NAME}`);
    lenses = await lensTitles(file);
    for (const titles of lenses.values()) assert.deepEqual(titles, ['▶ Base', `▶ Adapted (${RUN_NAME})`, '⇄ Compare']);
  });

  it('running a case shows the answer inline with ✓/✗ and latency, in a worker process reused across evaluations', async () => {
    await show(file);
    p.setActiveRun(runDir);
    const r = await p.test.runCase(file, 0, 'adapted');
    assert.ok(r);
    const a = r.answers[0];
    assert.equal(a.state, 'done', a.error);
    assert.equal(a.text.trim(), 'happy');
    assert.equal(a.correct, true);
    assert.match(p.test.inlineText(file, 0) ?? '', new RegExp(`^ +→ " happy" ✓ \\d+ ms +· Adapted \\(${RUN_NAME}\\)$`));
    const pid = p.test.worker.pid;
    assert.ok(pid && pid !== process.pid, 'the worker is a separate process');

    const b = await p.test.runCase(file, 1, 'base');
    assert.equal(b?.answers[0].state, 'done');
    assert.equal(b?.answers[0].correct, false, `base answered ${JSON.stringify(b?.answers[0].text)}`);
    assert.match(p.test.inlineText(file, 1) ?? '', /^ +→ ".*" ✗ \d+ ms +· Base$/);
    assert.equal(p.test.worker.pid, pid, 'the same worker answered');
    assert.equal(p.test.worker.startCount, 1);
  });

  it('the hover shows the full answer, per-token probabilities and, after ⇄ Compare, base vs adapted', async () => {
    await show(file);
    let h = await hoverText(file, new vscode.Position(0, 5));
    assert.match(h, /\*\*Adapted \(prompts-mood\)\*\*/);
    assert.match(h, /\| token \| p \| top alternatives \|/);
    assert.match(h, /\| `happy` \| 0\.\d+ \| /);
    const r = await p.test.runCase(file, 1, 'compare');
    assert.deepEqual(r?.answers.map((x) => [x.which, x.state, x.correct]), [['base', 'done', false], ['adapted', 'done', true]]);
    assert.match(p.test.inlineText(file, 1) ?? '', /base → ".*" ✗ \d+ ms +│ +adapted → " sad" ✓ \d+ ms/);
    h = await hoverText(file, new vscode.Position(1, 0));
    assert.match(h, /\*\*Base vs adapted\*\*: different answers · \*\*improvement\*\*/);
    assert.match(h, /mean token p 0\.\d+ → 0\.\d+/);
    assert.equal((h.match(/\| token \| p \| top alternatives \|/g) ?? []).length, 2, 'a token table per model');
  });

  it('a result clears when its line changes, and only that one', async () => {
    const ed = await show(file);
    assert.ok(p.test.inlineText(file, 0));
    assert.ok(p.test.inlineText(file, 1));
    await ed.edit((e) => e.insert(ed.document.lineAt(0).range.end, ' '));
    await waitFor('line 0 cleared', () => p.test.inlineText(file, 0) === undefined, 5000);
    assert.ok(p.test.inlineText(file, 1), 'line 1 keeps its result');
    assert.doesNotMatch(await hoverText(file, new vscode.Position(0, 2)), /top alternatives/);
    // A line inserted above moves the result with its case.
    await ed.edit((e) => e.insert(new vscode.Position(0, 0), '\n'));
    await waitFor('the result moved to line 2', () => p.test.inlineText(file, 2) !== undefined && p.test.inlineText(file, 1) === undefined, 5000);
    await vscode.commands.executeCommand('workbench.action.files.revert');
  });

  it('Evaluate Selection streams the answer after the selection, with a hover; Cancel stops it', async () => {
    const doc = await vscode.workspace.openTextDocument({ content: 'Notes for the mood model\nLily lost the red ball. Lily was\n', language: 'plaintext' });
    const ed = await vscode.window.showTextDocument(doc);
    ed.selection = new vscode.Selection(1, 0, 1, doc.lineAt(1).text.length);
    const seen = new Set<string>();
    const poll = setInterval(() => {
      const t = p.test.inlineText(doc.uri, 1);
      if (t) seen.add(t);
    }, 10);
    const r = await p.test.evaluateSelection(ed).finally(() => clearInterval(poll));
    assert.ok(r);
    assert.equal(r.answers[0].which, 'adapted');
    assert.equal(r.answers[0].state, 'done', r.answers[0].error);
    assert.match(r.answers[0].text, /^ sad/);
    assert.equal(r.anchor.line, 1);
    assert.equal(r.anchor.character, doc.lineAt(1).text.length);
    assert.ok([...seen].some((t) => t.includes('⋯')), `streamed while generating (saw ${JSON.stringify([...seen])})`);
    assert.match(p.test.inlineText(doc.uri, 1) ?? '', /→ " sad.*" \d+ ms +· Adapted/);
    assert.match(await hoverText(doc.uri, new vscode.Position(1, 3)), /\| token \| p \| top alternatives \|/);

    // Cancelled after the first tokens: the answer so far stays, marked cancelled. On a line the
    // adapted model continues as prose (the mood answer is three tokens, done before a cancel
    // could land), aborted by a tight poll as soon as the first token shows.
    ed.selection = new vscode.Selection(0, 0, 0, doc.lineAt(0).text.length);
    const ac = new AbortController();
    let sawToken = false;
    const watch = setInterval(() => {
      if (!sawToken && p.test.inlineText(doc.uri, 0)?.includes('⋯')) { sawToken = true; ac.abort(); }
    }, 2);
    const c = await p.test.evaluateSelection(ed, ac.signal).finally(() => clearInterval(watch));
    assert.ok(sawToken, 'a first token streamed before the answer ended');
    assert.equal(c?.answers[0].state, 'cancelled');
    assert.match(p.test.inlineText(doc.uri, 0) ?? '', /\(cancelled\)/);
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });

  it('Test Explorer: a group per file, cases with expected as tests; both profiles report pass and fail with real durations', async () => {
    await p.test.testController.resolveHandler?.(undefined);
    const group = await waitFor('the mood.prompts.jsonl group', () => p.test.testController.items.get(file.toString()), 10_000);
    const ids: string[] = [];
    group.children.forEach((c) => void ids.push(c.id));
    assert.deepEqual(ids.sort(), ['happy-mia', 'happy-tom', 'sad-max', 'wrong-on-purpose']);
    assert.equal(group.children.get('sad-max')?.range?.start.line, 1);

    // The default profile (Base model), started the way the Test Explorer's "Run All" does.
    const ended = new Promise<unknown>((res) => {
      const sub = p.test.onDidEndTestRun((o) => {
        if (o.some((x) => x.id === 'happy-tom')) {
          sub.dispose();
          res(o);
        }
      });
    });
    await vscode.commands.executeCommand('testing.runAll');
    await ended;
    const base = Object.fromEntries(p.test.lastTestRun.filter((o) => ids.includes(o.id)).map((o) => [o.id, o]));
    assert.equal(base['happy-mia'].state, 'passed', 'base says "very happy": contains "happy"');
    assert.equal(base['happy-tom'].state, 'failed', 'base says "very happy", not exactly "happy"');
    assert.equal(base['wrong-on-purpose'].state, 'failed');

    const adapted = Object.fromEntries((await p.test.runTests('adapted')).filter((o) => ids.includes(o.id)).map((o) => [o.id, o]));
    assert.deepEqual(Object.fromEntries(Object.entries(adapted).map(([k, v]) => [k, v.state])), {
      'happy-tom': 'passed', 'sad-max': 'passed', 'happy-mia': 'passed', 'wrong-on-purpose': 'failed',
    });
    const wrong = adapted['wrong-on-purpose'];
    assert.equal(wrong.expected, 'sad');
    assert.equal(wrong.actual, 'happy');
    assert.match(wrong.message ?? '', /answered "happy"; expected "sad"/);
    for (const o of Object.values(adapted)) assert.ok(o.durationMs! > 0 && o.durationMs! < 60_000, `${o.id}: ${o.durationMs} ms`);
  });

  it('the worker restarts after it dies: the pending request fails with a message, the next one works', async () => {
    await show(file);
    const before = p.test.worker.startCount;
    const pid = p.test.worker.pid!;
    // A long answer, so that the kill lands while it is being generated.
    const cfg = vscode.workspace.getConfiguration('adaptLab');
    await cfg.update('prompts.maxTokens', 200, vscode.ConfigurationTarget.Workspace);
    const pending = p.test.runCase(file, 4, 'base');
    const t0 = Date.now();
    while (!p.test.worker.busy && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 5));
    assert.ok(p.test.worker.busy, 'a request in flight');
    process.kill(pid, 'SIGKILL');
    await cfg.update('prompts.maxTokens', undefined, vscode.ConfigurationTarget.Workspace);
    const r = await pending;
    assert.equal(r?.answers[0].state, 'error');
    assert.match(r?.answers[0].error ?? '', /inference worker was killed \(SIGKILL\)/);
    assert.match(p.test.inlineText(file, 4) ?? '', /⚠ .*inference worker was killed/);
    const again = await p.test.runCase(file, 4, 'base');
    assert.equal(again?.answers[0].state, 'done', again?.answers[0].error);
    assert.equal(p.test.worker.startCount, before + 1);
    assert.notEqual(p.test.worker.pid, pid);
    console.log(`      (training the run took ${(trainMs / 1000).toFixed(0)} s)`);
  });

  it('with adaptLab.evaluation.runtime = llamacpp, llama.cpp answers with the run\'s adapter exported as GGUF LoRA into the run folder', async () => {
    await show(file);
    p.setActiveRun(runDir);
    const cfg = vscode.workspace.getConfiguration('adaptLab');
    await cfg.update('evaluation.runtime', 'llamacpp', vscode.ConfigurationTarget.Workspace);
    try {
      const one = (await p.test.runCase(file, 1, 'adapted'))?.answers[0];
      assert.equal(one?.state, 'done', one?.error);
      assert.equal(one?.done?.runtime, 'llamacpp');
      assert.match(p.test.inlineText(file, 1) ?? '', new RegExp(`· Adapted \\(${RUN_NAME}\\) · llama\\.cpp$`));
      assert.ok(existsSync(join(runDir, 'exports', 'gguf-lora', 'adapter.gguf')), 'the adapter, exported into the run folder');
      const c = (await p.test.runCase(file, 0, 'compare'))?.answers;
      assert.deepEqual(c?.map((a) => a.state), ['done', 'done'], c?.map((a) => a.error).join('; '));
      assert.deepEqual(c?.map((a) => a.label), ['Base · llama.cpp', `Adapted (${RUN_NAME}) · llama.cpp`]);
      assert.equal(c?.[1].text.trim(), 'happy', 'the adapted model, in llama.cpp, answers as it does in our engine');
      assert.equal(c?.[1].correct, true);
    } finally {
      await cfg.update('evaluation.runtime', undefined, vscode.ConfigurationTarget.Workspace);
    }
  });
});
