// `adapt-lab train CONFIG` / `--resume RUN_DIR`. Forked by the extension it talks over IPC
// (events out, stop/pause/resume in); with --jsonl it prints one event per line; otherwise a
// progress bar. SIGINT/SIGTERM stop after the current step, with a checkpoint.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from '../args';
import { loadRunConfig } from '../../engine/core/run-config';
import { train } from '../../engine/train/trainer';
import { TrainerControl } from '../../engine/train/control';
import { TrainerCommand, TrainerEvent } from '../../protocol/events';
import { ProgressPrinter } from '../progress';

export async function trainCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { jsonl: { type: 'boolean' }, resume: { type: 'string' } });
  if (!values.resume && !positionals[0]) throw new Error('train needs a CONFIG file (or --resume RUN_DIR)');
  const config = values.resume ? undefined : loadRunConfig(positionals[0]);
  if (config && values.backend) config.backend = values.backend;
  const control = new TrainerControl();
  const onCommand = (c: TrainerCommand) => {
    if (c?.type === 'stop') control.stop();
    else if (c?.type === 'pause') control.pause();
    else if (c?.type === 'resume') control.resume();
  };
  let signals = 0;
  const onSignal = () => {
    if (++signals > 1) process.exit(130);
    control.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const ipc = typeof process.send === 'function';
  if (ipc) {
    process.on('message', (m) => onCommand(m as TrainerCommand));
    // The parent (the extension host) went away: finish the step, checkpoint and stop, so the
    // run is left resumable rather than training on unseen and unstoppable.
    process.on('disconnect', () => control.stop());
  }
  const printer = values.jsonl || ipc ? undefined : new ProgressPrinter();
  const emit = (e: TrainerEvent) => {
    // With a callback, a send into a closing channel reports to it instead of crashing.
    if (ipc && process.connected) process.send!(e, undefined, undefined, () => undefined);
    if (values.jsonl) process.stdout.write(`${JSON.stringify(e)}\n`);
    printer?.handle(e);
    if (e.type === 'paused' || e.type === 'resumed') return;
  };
  // dist/grad-worker.js sits beside dist/cli.js: the worker threads of training.threads > 1.
  const gradWorker = join(__dirname, 'grad-worker.js');
  const end = await train(config ?? ({} as never), { resumeDir: values.resume, control, emit, gradWorker: existsSync(gradWorker) ? gradWorker : undefined });
  if (ipc) {
    process.removeAllListeners('message');
    process.removeAllListeners('disconnect');
  }
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  if (ipc && process.connected) process.disconnect();
  return end.type === 'failed' ? 1 : 0;
}
