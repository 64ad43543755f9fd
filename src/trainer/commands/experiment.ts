// `adapt-lab experiment FILE [--jsonl] [--restart] [--runs-dir DIR]`: runs the trials of an experiment file one
// after another and prints the leaderboard. Run it again after a kill (or Ctrl-C) and it
// continues where it stopped. With --jsonl every experiment and trainer event is one line (what
// the extension reads); forked with IPC it also takes "stop" from its parent.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from '../args';
import { loadExperiment } from '../../engine/experiment/spec';
import { runExperiment } from '../../engine/experiment/runner';
import { formatLeaderboard, leaderboard } from '../../engine/core/experiment/leaderboard';
import { TrainerControl } from '../../engine/train/control';
import { TrainerCommand } from '../../protocol/events';
import { axisValueLabel } from '../../protocol/experiment';

const describe = (params: Record<string, unknown>) =>
  Object.entries(params).map(([k, v]) => `${k}=${axisValueLabel(v)}`).join(' ') || '(the base config)';

export async function experimentCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { jsonl: { type: 'boolean' }, restart: { type: 'boolean' }, 'dry-run': { type: 'boolean' }, 'runs-dir': { type: 'string' } });
  if (!positionals[0]) throw new Error('experiment needs an experiment FILE (e.g. samples/demo.experiment.json)');
  const spec = loadExperiment(positionals[0], { defaultRunsDir: values['runs-dir'] });
  if (values.backend) for (const t of spec.trials) t.config.backend = values.backend as typeof t.config.backend;
  const out = (s: string) => { if (!values.jsonl) process.stdout.write(`${s}\n`); };
  if (values['dry-run']) {
    out(`experiment "${spec.name}": ${spec.trials.length} trials (${spec.search.kind}, ${spec.seeds.length} seed${spec.seeds.length > 1 ? 's' : ''}), objective ${spec.objective.metric}`);
    for (const t of spec.trials) out(`  trial ${t.index}  seed ${t.seed}  ${describe(t.params)}`);
    if (values.jsonl) process.stdout.write(`${JSON.stringify({ type: 'plan', trials: spec.trials.map((t) => ({ index: t.index, seed: t.seed, params: t.params })) })}\n`);
    return 0;
  }
  const control = new TrainerControl();
  let signals = 0;
  const onSignal = () => {
    if (++signals > 1) process.exit(130);
    out('stopping after this step (the trial resumes when you run the experiment again)');
    control.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Forked by the extension: "stop" arrives over IPC, and a parent that goes away stops the
  // experiment too (the running trial checkpoints and resumes next time), as for `train`.
  const ipc = typeof process.send === 'function';
  if (ipc) {
    process.on('message', (m) => { if ((m as TrainerCommand | undefined)?.type === 'stop') control.stop(); });
    process.on('disconnect', () => control.stop());
  }
  const gradWorker = join(__dirname, 'grad-worker.js');
  const total = spec.trials.length;
  const state = await runExperiment(spec, {
    control, restart: values.restart, gradWorker: existsSync(gradWorker) ? gradWorker : undefined,
    emit: (e) => {
      if (values.jsonl) { process.stdout.write(`${JSON.stringify(e)}\n`); return; }
      if (e.type === 'experimentStarted') out(`experiment "${e.name}": ${e.trials} trials${e.resumed ? ' (continuing)' : ''}; state in ${e.dir}`);
      else if (e.type === 'trialStarted') out(`trial ${e.index + 1}/${total} seed ${e.seed}: ${describe(e.params)}${e.resumed ? ' (resuming)' : ''}`);
      else if (e.type === 'trialEnded') out(`  → ${e.status}${e.objective !== undefined ? `, ${spec.objective.metric} ${e.objective.toFixed(4)}` : ''}${e.reason ? ` (${e.reason})` : ''}`);
      else if (e.type === 'trialEvent' && e.event.type === 'log' && e.event.level !== 'info') out(`  ${e.event.level}: ${e.event.message}`);
    },
  });
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  if (ipc) {
    process.removeAllListeners('message');
    process.removeAllListeners('disconnect');
    if (process.connected) process.disconnect();
  }
  if (!values.jsonl) {
    out(`\nleaderboard (${spec.objective.metric}, ${spec.objective.metric === 'accuracy' ? 'higher' : 'lower'} is better):`);
    out(formatLeaderboard(leaderboard(state), spec.objective.metric, spec.objective.forgettingCeiling));
    if (state.budgetNote) out(`\nstopped by the ${state.budgetNote}; run again with a larger budget to continue`);
    if (state.status === 'stopped') out('\nstopped: run the same command again to continue');
  }
  return state.trials.some((t) => t.status === 'failed') && !state.trials.some((t) => t.status === 'finished') ? 1 : 0;
}
