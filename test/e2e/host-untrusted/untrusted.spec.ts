// Workspace trust, untrusted half (Restricted Mode). The workspace (made by test/e2e/main.ts)
// names a model in its own settings (adaptLab.defaultModel = model.gguf, a copy of
// stories260K), a runs folder outside it (adaptLab.runsDir), and holds a run; none of it may
// be read by a process, and no run may be started or listed.
import { strict as assert } from 'node:assert';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { api, moodData, sleep, workspaceDir } from '../host/util';

describe('Workspace trust (Restricted Mode)', () => {
  it('the workspace is untrusted, and runsDir and defaultModel are restricted settings', async () => {
    assert.equal(vscode.workspace.isTrusted, false);
    const ext = vscode.extensions.all.find((e) => e.packageJSON?.name === 'adapt-lab')!;
    const restricted: string[] = ext.packageJSON.capabilities.untrustedWorkspaces.restrictedConfigurations;
    for (const s of ['adaptLab.runsDir', 'adaptLab.defaultModel', 'adaptLab.nodePath', 'adaptLab.backend']) assert.ok(restricted.includes(s), s);
    // VS Code ignores the workspace's values of restricted settings in Restricted Mode: the
    // user's defaultModel and the default runsDir, not the workspace's model.gguf and outside folder.
    const cfg = vscode.workspace.getConfiguration('adaptLab');
    assert.ok(readFileSync(join(workspaceDir(), '.vscode', 'settings.json'), 'utf8').includes('"adaptLab.defaultModel": "model.gguf"'));
    assert.match(cfg.get<string>('defaultModel') ?? '', /stories260K\.gguf$/);
    assert.equal(cfg.get<string>('runsDir'), '.adapt-lab/runs');
  });

  it('activation reads no model: the Layers view stays empty, with the reason', async () => {
    const a = await api();
    await sleep(3000);
    assert.equal(a.layers.modelPath, undefined);
    assert.deepEqual(a.layers.getChildren(), []);
  });

  it('no model inspection, no trainer: each is refused with the reason before anything starts', async () => {
    const a = await api();
    const refused = await a.layers.setModel(join(workspaceDir(), 'model.gguf')).then(() => undefined, (e: Error) => e);
    assert.match(String(refused?.message), /adapt-lab inspect is not available in Restricted Mode: this workspace is not trusted/);
    assert.doesNotMatch(String(refused?.message), /cannot start/);
    const data = moodData();
    const runs = join(workspaceDir(), '.adapt-lab', 'runs');
    const before = existsSync(runs) ? readdirSync(runs).length : 0;
    assert.throws(() => a.startRun({ model: 'model.gguf', data: { train: data.train }, adapt: { lora: {} }, training: { maxSteps: 2 } }),
      /Training is not available in Restricted Mode/);
    assert.equal(existsSync(runs) ? readdirSync(runs).length : 0, before, 'nothing written into the runs folder');
    assert.ok(!existsSync(join(runs, '.pending')), 'no pending config written');
  });

  it('no experiment: Run Experiment is refused before any process starts or anything is written', async () => {
    const a = await api();
    const file = join(workspaceDir(), 'sweep.experiment.json');
    writeFileSync(file, JSON.stringify({ base: { model: 'model.gguf', data: { train: moodData().train } }, axes: { 'training.learningRate': [0.001, 0.002] } }));
    const refused = await a.experiments.run(file).then(() => undefined, (e: Error) => e);
    assert.match(String(refused?.message), /Run Experiment is not available in Restricted Mode/);
    assert.equal(a.experiments.manager.active.length, 0);
    assert.ok(!existsSync(join(workspaceDir(), '.adapt-lab', 'runs', 'experiments')), 'no experiment state written');
  });

  it('no data preview: Preview Training Data is refused before any process starts', async () => {
    const a = await api();
    const refused = await a.preview.open({ model: join(workspaceDir(), 'model.gguf'), data: moodData().train }).then(() => undefined, (e: Error) => e);
    assert.match(String(refused?.message), /Preview Training Data is not available in Restricted Mode/);
  });

  it('no inference worker for prompts', async () => {
    const a = await api();
    const doc = await vscode.workspace.openTextDocument(join(workspaceDir(), 'cases.prompts.jsonl'));
    await vscode.window.showTextDocument(doc);
    const r = await a.prompts.test.runCase(doc.uri, 0, 'base').then((x) => x, (e: Error) => e);
    const text = r instanceof Error ? r.message : JSON.stringify(r);
    assert.match(text, /Evaluating prompts is not available in Restricted Mode/);
  });

  it('runs are not listed, and the workspace\'s runs folder outside it is ignored', async () => {
    const a = await api();
    assert.ok(existsSync(join(workspaceDir(), '.adapt-lab', 'runs', 'planted', 'run.json')), 'the workspace holds a run');
    assert.deepEqual(a.runs.getChildren(), []);
    assert.equal(a.runsDirs()[0], join(workspaceDir(), '.adapt-lab', 'runs'));
  });

  it('the Adapt Lab views are shown empty, their welcome saying why (host-untrusted-final.png)', async () => {
    const a = await api();
    await vscode.commands.executeCommand('workbench.view.extension.adaptLab');
    await sleep(1500);
    assert.deepEqual(a.layers.getChildren(), []);
    assert.deepEqual(a.runs.getChildren(), []);
  });
});
