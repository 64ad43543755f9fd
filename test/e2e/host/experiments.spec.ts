// Inside a real VS Code: Run Experiment on a small experiment file (3 trials of a few steps on the
// embedded model), its node in the Runs view with the trials' live status, Stop (the running
// trial checkpoints), Continue (the same experiment goes on where it stopped), the leaderboard
// panel and Promote (a trial becomes the active run for prompts).
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { ExperimentState } from '../../../src/protocol/experiment';
import type { ExperimentSession } from '../../../src/extension/experiments/session';
import type { ExperimentNode, TrialNode, TrialRunNode } from '../../../src/extension/experiments/tree';
import type { RunNode } from '../../../src/extension/runs/tree';
import { api, REPO, waitFor, workspaceDir } from './util';

const sample = (f: string) => join(REPO, 'samples', f);

function writeExperiment(): string {
  const file = join(workspaceDir(), 'host-sweep.experiment.json');
  writeFileSync(file, JSON.stringify({
    name: 'host-sweep',
    base: {
      model: join(REPO, 'models', 'adapt-lab-tiny'),
      data: { train: sample('train.jsonl'), validation: sample('validation.jsonl'), prompts: sample('demo.prompts.jsonl'), probe: sample('probe.txt') },
      adapt: { lora: { rank: 4, alpha: 8, targetModules: ['q_proj', 'v_proj'] } },
      training: { maxSteps: 10, batchSize: 8, maxLength: 64, evalEvery: 5, checkpointEvery: 2 },
    },
    axes: { 'training.learningRate': [0.002, 0.01, 0.02] },
    objective: { metric: 'accuracy', forgettingCeiling: 25 },
    stopping: 'none',
  }, null, 2));
  return file;
}

const stateOf = (dir: string): ExperimentState => JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'));

describe('Experiments in the extension', function () {
  this.timeout(420_000);

  it('Run Experiment runs the file\'s trials; the Runs view shows the experiment and its trials with live status; Stop checkpoints the running trial; Continue finishes it', async () => {
    const a = await api();
    const file = writeExperiment();
    const session = await vscode.commands.executeCommand<ExperimentSession>('adaptLab.runExperiment', vscode.Uri.file(file));
    assert.ok(session, 'the command returns the session');
    const dir = await session.started;
    assert.equal(dir, join(workspaceDir(), '.adapt-lab', 'runs', 'experiments', 'host-sweep'), 'the workspace\'s runs folder (--runs-dir)');
    assert.ok(session.child.pid && session.child.pid !== process.pid, 'a separate process');

    const expNode = () => a.runs.getChildren().find((n): n is ExperimentNode => (n as ExperimentNode).kind === 'experiment' && (n as ExperimentNode).dir === dir);
    const running = await waitFor('a trial running in the tree with its step', () => {
      const node = expNode();
      const t = node?.view?.trials.find((x) => /^running step \d+\/10$/.test(x.label));
      return t && node ? { node, t } : undefined;
    }, 120_000, 300);
    assert.equal(running.node.view!.status, 'running');
    const item = a.runs.getTreeItem(running.node);
    assert.equal(item.contextValue, 'experiment-running');
    assert.match(String(item.description), /trials · trial \d running step/);
    const kids = a.runs.getChildren(running.node) as (TrialNode | TrialRunNode)[];
    assert.equal(kids.length, 3);
    assert.ok(kids.some((k) => k.trial.label === 'queued'), 'the later trials are queued');
    const runningKid = kids.find((k) => k.trial.index === running.t.index)!;
    assert.equal(runningKid.kind, 'trialRun', 'a trial with a run folder is a run node');
    assert.match(a.runs.getTreeItem(runningKid).contextValue!, /^run-running.* trial$/);

    // Stop: the running trial stops after its step with a checkpoint; the experiment is "stopped".
    await vscode.commands.executeCommand('adaptLab.stopExperiment', dir);
    const end = await session.ended;
    assert.equal(end.status, 'stopped');
    let state = stateOf(dir);
    assert.equal(state.status, 'stopped');
    const interrupted = state.trials.find((t) => t.status === 'running');
    assert.ok(interrupted?.runDir, 'the stopped trial waits to resume');
    assert.equal(a.experiments.manager.active.length, 0);
    const stoppedNode = await waitFor('the experiment stopped in the tree', () => (expNode()?.view?.status === 'stopped' ? expNode() : undefined), 20_000);
    assert.match(stoppedNode!.view!.trials[interrupted!.index].label, /^interrupted at step \d+/);

    // Continue Experiment on the node: the interrupted trial resumes in its run folder, the rest run.
    const again = await vscode.commands.executeCommand<ExperimentSession>('adaptLab.continueExperiment', stoppedNode);
    assert.ok(again);
    assert.equal((await again.ended).status, 'finished');
    state = stateOf(dir);
    assert.equal(state.status, 'finished');
    assert.deepEqual(state.trials.map((t) => t.status), ['finished', 'finished', 'finished']);
    assert.equal(state.trials[interrupted!.index].runDir, interrupted!.runDir, 'resumed in the same run folder');
    assert.ok(state.trials.every((t) => typeof t.accuracy === 'number' && typeof t.forgettingPercent === 'number'), 'each trial has its evaluation report');

    const done = await waitFor('the finished experiment in the tree', () => (expNode()?.view?.status === 'finished' ? expNode() : undefined), 20_000);
    const trials = a.runs.getChildren(done!) as TrialRunNode[];
    assert.deepEqual(trials.map((t) => t.trial.label), ['done', 'done', 'done']);
    assert.ok(trials.every((t) => t.kind === 'trialRun' && a.runs.getTreeItem(t).contextValue === 'run-finished trial'));
    // The trials' runs are under the experiment, not repeated at the top of the view.
    const top = a.runs.getChildren().filter((n): n is RunNode => 'record' in n && !('kind' in n));
    assert.ok(!top.some((n) => state.trials.some((t) => t.runDir === n.runDir)));
  });

  it('an experiment started from the CLI shows from its state.json, live; Stop signals its process; after a kill it shows as interrupted', async () => {
    const a = await api();
    const file = join(workspaceDir(), 'cli-sweep.experiment.json');
    writeFileSync(file, JSON.stringify({
      name: 'cli-sweep',
      base: {
        model: join(REPO, 'models', 'adapt-lab-tiny'), data: { train: sample('train.jsonl'), validation: sample('validation.jsonl') },
        adapt: { lora: { rank: 4, targetModules: ['q_proj'] } }, training: { maxSteps: 400, batchSize: 4, maxLength: 48, evalEvery: 50, checkpointEvery: 5 },
      },
      axes: { 'training.learningRate': [0.002, 0.004] }, stopping: 'none',
    }));
    const runsDir = join(workspaceDir(), '.adapt-lab', 'runs');
    const dir = join(runsDir, 'experiments', 'cli-sweep');
    const cli = () => spawn(process.execPath, [join(REPO, 'dist', 'cli.js'), 'experiment', file, '--runs-dir', runsDir], { stdio: 'ignore', env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' } });
    const node = () => a.experiments.section.list(a.runsDirs()).find((n) => n.dir === dir);
    let child = cli();
    try {
      const live = await waitFor('the CLI\'s experiment running in the tree, its step read from the trial\'s metrics', () => {
        const t = node()?.view?.trials[0];
        return node()?.view?.status === 'running' && t && /^running step \d+\/400$/.test(t.label) ? node() : undefined;
      }, 120_000, 500);
      assert.ok(a.runs.getChildren().some((n) => (n as ExperimentNode).dir === dir), 'a root of the Runs view');
      assert.equal(a.experiments.manager.active.length, 0, 'not run by this window');
      assert.equal(live!.view!.trials[1].label, 'queued');
      await vscode.commands.executeCommand('adaptLab.stopExperiment', dir);
      const code = await new Promise<number | null>((res) => child.on('close', (c) => res(c)));
      assert.equal(code, 0, 'stopped by SIGTERM, cleanly');
      assert.equal(stateOf(dir).status, 'stopped');

      child = cli();
      await waitFor('running again', () => node()?.view?.status === 'running' && stateOf(dir).process?.pid === child.pid, 120_000, 500);
      child.kill('SIGKILL');
      await new Promise((res) => child.on('close', res));
      const killed = await waitFor('interrupted once its process is gone', () => (node()?.view?.status === 'interrupted' ? node() : undefined), 20_000, 500);
      assert.equal(stateOf(dir).status, 'running', 'state.json still says running');
      assert.equal(a.runs.getTreeItem(killed!).contextValue, 'experiment-interrupted');
      assert.match(killed!.view!.trials[0].label, /^interrupted at step \d+/);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('a bad experiment file is refused with its file and field named, before any trial runs', async () => {
    const a = await api();
    const file = join(workspaceDir(), 'bad.experiment.json');
    writeFileSync(file, JSON.stringify({ base: { model: join(REPO, 'models', 'adapt-lab-tiny'), data: { train: sample('train.jsonl') }, adapt: { lora: { rank: 4 } } }, axes: { 'training.learningRate': [0.001, -1] } }));
    const refused = await a.experiments.run(file).then(() => undefined, (e: Error) => e);
    assert.match(String(refused?.message), /experiment bad\.experiment\.json could not start: bad\.experiment\.json.*learningRate/s);
    assert.equal(a.experiments.manager.active.length, 0);
    assert.ok(!existsSync(join(workspaceDir(), '.adapt-lab', 'runs', 'experiments', 'bad')));
  });

  it('the leaderboard opens for the experiment; Promote makes a trial the active run for prompts', async () => {
    const a = await api();
    const dir = join(workspaceDir(), '.adapt-lab', 'runs', 'experiments', 'host-sweep');
    assert.ok(existsSync(join(dir, 'state.json')), 'needs the previous test\'s experiment');
    const panel = await vscode.commands.executeCommand<vscode.WebviewPanel>('adaptLab.showLeaderboard', dir);
    assert.ok(panel);
    assert.equal(panel.title, 'Leaderboard: host-sweep');
    const message = a.experiments.leaderboards.message(dir);
    assert.equal(message.view.rows.length, 3);
    assert.deepEqual(message.view.axes, ['training.learningRate']);
    const best = stateOf(dir).trials[message.view.rows[0].trials[0]];
    await vscode.commands.executeCommand('adaptLab.promoteTrial', best.runDir, 'activeRun');
    assert.equal(a.prompts.getActiveRun(), best.runDir);
    panel.dispose();
    // Compare Trials: the experiment's runs in Compare Runs.
    const compare = await vscode.commands.executeCommand<vscode.WebviewPanel>('adaptLab.compareTrials', dir);
    assert.equal(compare?.title, 'Compare Runs (3)');
    compare?.dispose();
  });
});
