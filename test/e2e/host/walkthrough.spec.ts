// Inside a real VS Code: the Get Started walkthrough's commands. Open Samples copies the samples
// into the workspace and opens them; Run Demo adapts the embedded model on them (the same run
// as `npm run demo`), evaluates base against adapted, makes the run active and shows the report.
import { strict as assert } from 'node:assert';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import * as vscode from 'vscode';
import { readRunRecord } from '../../../src/engine/core/runs/store';
import type { DemoResult, SampleFiles } from '../../../src/extension/walkthrough/walkthrough';
import { api, REPO, workspaceDir } from './util';

const openTabs = () => vscode.window.tabGroups.all.flatMap((g) => g.tabs);
const openFiles = () => openTabs().flatMap((t) => (t.input instanceof vscode.TabInputText ? [t.input.uri.fsPath] : []));

describe('Get started walkthrough', function () {
  this.timeout(120_000);

  it('the manifest has the walkthrough; each step has its markdown and completes on a command', () => {
    const manifest = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'));
    const [w] = manifest.contributes.walkthroughs;
    assert.equal(w.title, 'Get started with Adapt Lab');
    assert.deepEqual(w.steps.map((s: { id: string }) => s.id), ['openSamples', 'runDemo', 'tryPrompt', 'pickLayers']);
    for (const s of w.steps) {
      assert.ok(existsSync(join(REPO, s.media.markdown)), s.media.markdown);
      assert.ok(s.completionEvents.length && s.completionEvents.every((e: string) => e.startsWith('onCommand:adaptLab.')), s.id);
    }
  });

  it('Open Samples copies the samples into adapt-lab-samples/ with a config on the embedded model, and opens them', async () => {
    await api();
    const files = await vscode.commands.executeCommand<SampleFiles>('adaptLab.openSamples');
    assert.ok(files, 'the command returns the sample files');
    const dir = join(workspaceDir(), 'adapt-lab-samples');
    assert.equal(files.dir, dir);
    assert.equal(files.inWorkspace, true);
    for (const f of ['train.jsonl', 'validation.jsonl', 'demo.prompts.jsonl', 'probe.txt', 'replay.txt', 'demo.config.json']) assert.ok(existsSync(join(dir, f)), `${f} copied`);
    assert.equal(readFileSync(join(dir, 'train.jsonl'), 'utf8'), readFileSync(join(REPO, 'samples', 'train.jsonl'), 'utf8'));
    const config = JSON.parse(readFileSync(files.config, 'utf8'));
    assert.equal(config.model, join(REPO, 'models', 'adapt-lab-tiny'), 'the embedded model, by its absolute path');
    assert.equal(resolve(dir, config.runsDir), join(workspaceDir(), '.adapt-lab', 'runs'), 'runs go to the workspace\'s runs folder');
    assert.deepEqual(config.adapt, JSON.parse(readFileSync(join(REPO, 'samples', 'demo.config.json'), 'utf8')).adapt);
    const open = openFiles();
    assert.ok(open.includes(files.train), `train.jsonl open (${open.map((p) => basename(p)).join(', ')})`);
    assert.ok(open.includes(files.prompts), 'demo.prompts.jsonl open');
    assert.equal(vscode.window.activeTextEditor?.document.uri.fsPath, files.prompts, 'the prompts are in front');

    // Again: files already there are kept (edits survive), nothing is added.
    writeFileSync(files.probe, 'An edited probe.\n');
    await vscode.commands.executeCommand('adaptLab.openSamples', 'demo.prompts.jsonl');
    assert.equal(readFileSync(files.probe, 'utf8'), 'An edited probe.\n');
    writeFileSync(files.probe, readFileSync(join(REPO, 'samples', 'probe.txt')));
  });

  it('Run Demo adapts the embedded model, evaluates base against adapted, makes the run active and opens the report', async function () {
    this.timeout(420_000);
    const a = await api();
    const t0 = Date.now();
    const result = await vscode.commands.executeCommand<DemoResult>('adaptLab.runDemo');
    assert.ok(result, 'Run Demo returns its result (undefined: it failed, see the notifications)');
    assert.equal(result.end.status, 'finished', result.end.reason);
    const runDir = result.runDir!;
    assert.equal(runDir.startsWith(join(workspaceDir(), '.adapt-lab', 'runs')), true, runDir);
    const rec = readRunRecord(runDir);
    assert.equal(rec.status, 'finished');
    assert.equal(rec.name, 'demo-mood-lora');
    assert.equal(rec.config.model, join(REPO, 'models', 'adapt-lab-tiny'));
    // The demo's steps: its epochs over the task examples plus the replay mix (replayFraction of the whole).
    const demo = JSON.parse(readFileSync(join(REPO, 'samples', 'demo.config.json'), 'utf8'));
    const examples = readFileSync(join(REPO, 'samples', 'train.jsonl'), 'utf8').split('\n').filter((l) => l.trim()).length;
    const fraction = demo.data.replay ? demo.data.replayFraction ?? 0.25 : 0;
    const mixed = examples + Math.round((fraction / (1 - fraction)) * examples);
    assert.equal(rec.step, demo.training.epochs * Math.ceil(mixed / demo.training.batchSize), `${demo.training.epochs} epochs over ${mixed} examples`);
    const report = JSON.parse(readFileSync(join(runDir, 'eval.json'), 'utf8'));
    assert.equal(report.prompts.cases, 40);
    assert.ok(report.probe, 'the forgetting check on probe.txt');
    assert.ok(report.adapted.accuracy > report.base.accuracy, `adapted ${report.adapted.accuracy} > base ${report.base.accuracy}`);
    assert.ok(report.adapted.accuracy >= 0.8, `adapted accuracy ${report.adapted.accuracy}`);
    assert.equal(result.adapted, report.adapted.accuracy);
    console.log(`    demo: accuracy ${report.base.accuracy} → ${report.adapted.accuracy} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);

    assert.equal(a.prompts.getActiveRun(), runDir, 'the demo run is the active run');
    const lenses = (await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', vscode.Uri.file(join(workspaceDir(), 'adapt-lab-samples', 'demo.prompts.jsonl')))) ?? [];
    assert.ok(lenses.some((l) => l.command?.title === '▶ Adapted (demo-mood-lora)'), 'the ▶ Adapted lens names the demo run');
    const panel = openTabs().find((t) => t.input instanceof vscode.TabInputWebview && t.input.viewType.endsWith('adaptLab.compare'));
    assert.ok(panel, `the report panel is open (tabs: ${openTabs().map((t) => t.label).join(', ')})`);
  });
});
