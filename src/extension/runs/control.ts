// Stop, pause and resume a run, and continue a stopped or failed one from its last checkpoint.
// A trainer this window started gets the command over IPC; one started elsewhere (another
// window, the CLI) can only be stopped, by a signal to the process proven to be its trainer.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TrainerCommand } from '../../protocol/events';
import { isRunTrainerAlive, reconcileRun } from '../../engine/core/runs/store';
import { signalTrainer } from '../../engine/core/runs/process';
import type { Shared } from '../shared';
import type { RunSession } from '../trainer';
import { followSession } from './follow';
import { resolveRun, RunArg } from './pick';

export async function control(s: Shared, arg: RunArg, cmd: TrainerCommand['type']): Promise<void> {
  const wants = { stop: ['running', 'paused'], pause: ['running'], resume: ['paused'] }[cmd];
  const node = await resolveRun(s, arg, (n) => wants.includes(n.record.status), `Which run to ${cmd}?`);
  if (!node) return;
  controlRun(s, node.runDir, cmd);
}

/** Also what the Monitor's buttons call. */
export function controlRun(s: Shared, runDir: string, cmd: TrainerCommand['type']): void {
  const session = s.trainer.sessionFor(runDir);
  if (session && session.send(cmd)) {
    s.log.appendLine(`[${session.name}] ${cmd} requested`);
    return;
  }
  // A trainer this window did not start (another window, the CLI): it stops on SIGTERM.
  // Only a process proven to be the run's trainer is signalled (pid + start time + command
  // line): run.json may name a reused pid or come from a cloned repository.
  const rec = reconcileRun(runDir);
  if ((rec.status === 'running' || rec.status === 'paused') && isRunTrainerAlive(rec)) {
    if (cmd === 'stop') {
      if (!signalTrainer(rec.trainer ?? { pid: rec.pid }, 'SIGTERM')) throw new Error(`run "${rec.name}": its trainer could not be signalled`);
      s.log.appendLine(`[${rec.name}] stop requested (SIGTERM to pid ${rec.trainer?.pid ?? rec.pid})`);
      setTimeout(() => s.runs.refresh(0), 1500);
      return;
    }
    throw new Error(`run "${rec.name}" was started outside this window, so it can only be stopped here`);
  }
  s.runs.refresh(0);
  throw new Error(`run "${rec.name}" is not running (${rec.status})`);
}

export async function continueRun(s: Shared, arg: RunArg): Promise<RunSession | undefined> {
  const node = await resolveRun(s, arg, (n) => ['stopped', 'failed'].includes(n.record.status), 'Which run to resume from its last checkpoint?');
  if (!node) return undefined;
  if (node.record.status === 'finished') throw new Error(`run "${node.record.name}" is finished: a finished run is not resumed (start a new run from its config instead)`);
  if (!node.record.lastCheckpoint && !existsSync(join(node.runDir, 'checkpoints'))) throw new Error(`run "${node.record.name}" has no checkpoint to resume from`);
  const session = s.trainer.resume(node.runDir);
  followSession(s, session, [node.record.config.data.train]);
  s.monitor.showRun(node.runDir);
  return session;
}
