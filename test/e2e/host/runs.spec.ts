// Inside a real VS Code: runs started through the extension's API train in a separate
// process, fill their folder, and end the way the user asked (stop) or the way the process
// did (killed → failed). The Runs view and the status bar follow.
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { readAudit, readMetrics, readRunRecord } from '../../../src/engine/core/runs/store';
import { locateInMessage } from '../../../src/extension/errors';
import type { RunSession } from '../../../src/extension/trainer';
import { api, moodData, STORIES, waitFor, workspaceDir } from './util';

function config(name: string, maxSteps: number) {
  const { train, validation } = moodData();
  return {
    name, model: STORIES(), data: { train, validation },
    adapt: { lora: { rank: 4, targetModules: ['q_proj', 'v_proj'] } },
    training: { maxSteps, batchSize: 8, maxLength: 48, learningRate: 0.003, evalEvery: 10, checkpointEvery: 20 },
  };
}

const steps = (runDir: string) => readMetrics(runDir).filter((e) => e.type === 'step').length;
const runsDir = () => join(workspaceDir(), '.adapt-lab', 'runs');

describe('Runs started from the extension', () => {
  let stopped: string | undefined;

  it('a run started through the API spawns the trainer; its folder fills with metrics; Runs and the status bar follow', async () => {
    const a = await api();
    const s: RunSession = a.startRun(config('host-live', 5000));
    assert.ok(s.pid && s.pid !== process.pid, 'a separate process');
    const runDir = await s.started;
    assert.equal(runDir.startsWith(runsDir()), true, runDir);
    await waitFor('10 steps in metrics.jsonl', () => steps(runDir) >= 10, 90_000);
    assert.equal(readRunRecord(runDir).status, 'running');
    assert.equal(readRunRecord(runDir).pid, s.pid);
    const node = await waitFor('the run in the Runs view', () => a.runs.list().find((n) => n.runDir === runDir));
    const item = a.runs.getTreeItem(node);
    assert.equal(item.contextValue, 'run-running live');
    assert.equal((item.iconPath as vscode.ThemeIcon).id, 'sync~spin');
    assert.match(String(item.description), /LoRA r4 q_proj,v_proj/);
    await waitFor('the status bar shows step and loss', () => /\d+\/5000 · loss \d/.test(a.statusBar.text ?? ''), 10_000);
    assert.equal(existsSync(join(runsDir(), '.pending')) ? readdirSync(join(runsDir(), '.pending')).length : 0, 0, 'the pending config is gone once the trainer has read it');

    // Pause and resume over IPC.
    await vscode.commands.executeCommand('adaptLab.pauseRun', runDir);
    await waitFor('status paused', () => readRunRecord(runDir).status === 'paused', 30_000);
    const at = steps(runDir);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(steps(runDir), at, 'no steps while paused');
    await vscode.commands.executeCommand('adaptLab.resumeRun', runDir);
    await waitFor('steps again after resume', () => steps(runDir) > at + 2, 30_000);

    // Stop: the trainer finishes its step, saves a checkpoint and reports "stopped".
    await vscode.commands.executeCommand('adaptLab.stopRun', runDir);
    const end = await s.ended;
    assert.equal(end.status, 'stopped');
    const rec = readRunRecord(runDir);
    assert.equal(rec.status, 'stopped');
    assert.ok(rec.lastCheckpoint && existsSync(rec.lastCheckpoint), 'a checkpoint of the stopped state');
    assert.ok(readAudit(runsDir()).some((e) => e.action === 'stopped' && e.runId === rec.id));
    await waitFor('Runs shows it stopped', () => a.runs.list().find((n) => n.runDir === runDir)?.record.status === 'stopped');
    assert.equal(a.trainer.active.length, 0);
    stopped = runDir;
  });

  it('Resume Run from Checkpoint continues a stopped run from its step', async () => {
    const a = await api();
    assert.ok(stopped, 'needs the stopped run of the previous test');
    const before = readRunRecord(stopped).step!;
    const s = await vscode.commands.executeCommand<RunSession>('adaptLab.continueRun', stopped);
    assert.ok(s, 'a session');
    await s.started;
    await waitFor('a step after the resume point', () => (readRunRecord(stopped!).step ?? 0) > before || steps(stopped!) > before, 60_000);
    await vscode.commands.executeCommand('adaptLab.stopRun', stopped);
    assert.equal((await s.ended).status, 'stopped');
    assert.ok(readAudit(runsDir()).some((e) => e.action === 'resumed' && e.runId === readRunRecord(stopped!).id));
    assert.equal(a.trainer.active.length, 0);
  });

  it('a killed trainer (SIGKILL) leaves the run failed, not running', async () => {
    const a = await api();
    const s = a.startRun(config('host-killed', 5000));
    const runDir = await s.started;
    await waitFor('a few steps', () => steps(runDir) >= 3, 60_000);
    process.kill(s.pid!, 'SIGKILL');
    const end = await s.ended;
    assert.equal(end.status, 'failed');
    assert.equal(end.unexpected, true);
    const rec = readRunRecord(runDir);
    assert.equal(rec.status, 'failed');
    assert.match(rec.failure ?? '', /trainer process exited unexpectedly/);
    assert.ok(readAudit(runsDir()).some((e) => e.action === 'failed' && e.runId === rec.id));
    const node = await waitFor('Runs shows it failed', () => a.runs.list().find((n) => n.runDir === runDir && n.record.status === 'failed'));
    assert.equal((a.runs.getTreeItem(node).iconPath as vscode.ThemeIcon).id, 'error');
  });

  it('a run.json naming a live unrelated process shows failed; Stop never signals that process; Delete works', async () => {
    const a = await api();
    const victim = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 120000)'], { stdio: 'ignore' });
    try {
      const id = 'planted-run';
      const dir = join(runsDir(), id);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'run.json'), JSON.stringify({
        id, name: 'planted', status: 'running', pid: victim.pid, config: config('planted', 1), createdAt: new Date().toISOString(),
        method: 'LoRA', versions: {}, hashes: {}, machine: { platform: 'linux', arch: 'x64', cpus: 1, totalMemMiB: 1, node: 'v20' },
      }));
      a.runs.refresh(0);
      const node = await waitFor('Runs shows the planted run failed', () => a.runs.list().find((n) => n.record.id === id && n.record.status === 'failed'));
      assert.throws(() => a.commands.controlRun(dir, 'stop'), /is not running \(failed\)/);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(victim.exitCode, null, 'the unrelated process is alive');
      assert.equal(victim.signalCode, null);
      assert.equal(await a.commands.deleteRun(node, true), true);
      assert.ok(readAudit(runsDir()).some((e) => e.action === 'failed' && e.runId === id));
    } finally {
      victim.kill('SIGKILL');
    }
  });

  it('a dataset error names file and line, creates no run and leaves no pending config', async () => {
    const a = await api();
    const bad = join(workspaceDir(), 'data', 'bad.jsonl');
    writeFileSync(bad, '{"prompt":"a","completion":" b"}\n{"prompt":"c"}\n');
    const before = a.runs.list().length;
    const s = a.startRun({ ...config('host-bad', 10), data: { train: bad, validationSplit: 0 } });
    const end = await s.ended;
    assert.equal(end.status, 'failed');
    assert.equal(end.noRun, true);
    assert.match(end.reason ?? '', /bad\.jsonl:2:/);
    assert.deepEqual(locateInMessage(end.reason!, [bad]), { file: bad, line: 2, column: undefined });
    assert.equal(a.runs.list().length, before, 'no run folder');
    assert.equal(readdirSync(join(runsDir(), '.pending')).length, 0);
  });

  it('a short run finishes; Export Run (PEFT, Ollama) and Evaluate Run (with llama.cpp) work on it; Delete Run removes it and audits the deletion', async () => {
    const a = await api();
    const s = a.startRun(config('host-short', 6));
    const runDir = await s.started;
    assert.equal((await s.ended).status, 'finished');
    const rec = readRunRecord(runDir);
    assert.equal(rec.status, 'finished');
    assert.ok(typeof rec.bestValLoss === 'number');
    const node = await waitFor('Runs shows it finished', () => a.runs.list().find((n) => n.runDir === runDir && n.record.status === 'finished'));
    const item = a.runs.getTreeItem(node);
    assert.equal((item.iconPath as vscode.ThemeIcon).id, 'pass');
    assert.match(String(item.description), /val \d\.\d{3}/);

    const out = await vscode.commands.executeCommand<string>('adaptLab.exportRun', runDir, 'peft', join(workspaceDir(), 'exports', 'host-short-peft'));
    assert.ok(out, 'the export ran');
    assert.ok(existsSync(join(out, 'adapter_config.json')) && existsSync(join(out, 'adapter_model.safetensors')), readdirSync(out).join(', '));
    assert.ok(readAudit(runsDir()).some((e) => e.action === 'exported' && e.runId === rec.id));
    // The deployment formats: an Ollama folder with the GGUF LoRA adapter and its Modelfile.
    const ollama = await vscode.commands.executeCommand<string>('adaptLab.exportRun', runDir, 'ollama', join(workspaceDir(), 'exports', 'host-short-ollama'));
    assert.ok(ollama && existsSync(join(ollama, 'adapter.gguf')), readdirSync(ollama!).join(', '));
    assert.match(readFileSync(join(ollama!, 'Modelfile'), 'utf8'), /^FROM .*stories260K\.gguf\nADAPTER \.\/adapter\.gguf$/m);

    const prompts = join(workspaceDir(), 'data', 'mood.prompts.jsonl');
    writeFileSync(prompts, ['Tom smiled at the sun. Tom was', 'Lily cried all day. Lily was'].map((p, i) => JSON.stringify({ prompt: p, expected: i ? ' sad' : ' happy', match: 'contains' })).join('\n') + '\n');
    const report = await vscode.commands.executeCommand<string>('adaptLab.evaluateRun', runDir, prompts, { runtime: 'llamacpp', notify: false });
    assert.ok(report && existsSync(report), 'eval.json written');
    const rt = JSON.parse(readFileSync(report!, 'utf8')).llamacpp;
    assert.ok(rt && rt.adapted && rt.cases.length === 2, 'Evaluate Run with the llamacpp runtime puts llama.cpp beside the engine');

    assert.equal(await a.commands.deleteRun(node, true), true);
    assert.equal(existsSync(runDir), false);
    assert.ok(readAudit(runsDir()).some((e) => e.action === 'deleted' && e.runId === rec.id));
    assert.equal(a.runs.list().some((n) => n.runDir === runDir), false);
    assert.ok(JSON.parse(readFileSync(join(runsDir(), 'audit.jsonl'), 'utf8').trim().split('\n').pop()!).action === 'deleted');
  });
});
