// `adapt-lab launch CONFIG --torchrun [--nproc N] [--nnodes N --node-rank R --rdzv-endpoint
// HOST:PORT] [--dry-run] [--jsonl]` and `adapt-lab launch --resume RUN_DIR --torchrun ...`:
// the run config on PyTorch under torchrun. The run is created in the same run store as
// `train` (run.json, metrics.jsonl, checkpoints, lock); its launch folder is written inside it
// (<run>/launch/), torchrun runs there, and the events its rank 0 writes are followed (printed
// with --jsonl, a progress bar otherwise). --dry-run writes the launch folder and prints the
// torchrun command line without running it. SIGINT/SIGTERM ask every rank to checkpoint and stop.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from '../args';
import { loadRunConfig } from '../../engine/core/run-config';
import { selectBackend } from '../../engine/backend';
import { createRun, newRunId, runDirOf, ensureRunsDir } from '../../engine/core/runs/store';
import { acquireRunLock } from '../../engine/core/runs/lock';
import { newTrainerIdentity, releaseIdentity } from '../../engine/core/runs/process';
import { openResume } from '../../engine/train/reliability';
import { LAUNCH_DIR, prepareLaunch, writeLaunchFolder } from '../../engine/launch/prepare';
import { runTorchrun } from '../../engine/launch/follow';
import { commandLine, TorchrunOptions } from '../../engine/launch/torchrun';
import { TrainerCommand, TrainerEvent } from '../../protocol/events';
import { ProgressPrinter } from '../progress';
import { evaluateRunEnd } from '../../engine/eval/report';

/** The python/ folder beside dist/ (the built CLI) or .test-dist/ (the test bundle). */
export function pythonDir(): string {
  const dir = resolve(__dirname, '..', 'python');
  if (!existsSync(join(dir, 'adapt_lab_torch', 'train.py'))) throw new Error(`${dir}: the PyTorch trainer (adapt_lab_torch) is missing from this installation`);
  return dir;
}

function int(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new Error(`--${name} must be an integer, got "${v}"`);
  return n;
}

function launchedNproc(runDir: string): number | undefined {
  try {
    const n = (JSON.parse(readFileSync(join(runDir, LAUNCH_DIR, 'launch.json'), 'utf8')) as { nproc?: unknown }).nproc;
    return typeof n === 'number' ? n : undefined;
  } catch {
    return undefined;
  }
}

export async function launchCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    torchrun: { type: 'boolean' }, nproc: { type: 'string' }, nnodes: { type: 'string' }, 'node-rank': { type: 'string' },
    'rdzv-endpoint': { type: 'string' }, 'dry-run': { type: 'boolean' }, jsonl: { type: 'boolean' }, resume: { type: 'string' },
  });
  if (!values.torchrun) throw new Error('launch needs --torchrun (PyTorch under torchrun is the runtime it launches)');
  if (!values.resume && !positionals[0]) throw new Error('launch needs a CONFIG file (or --resume RUN_DIR)');
  const topo: TorchrunOptions = {
    // A resume without --nproc runs as many processes as the launch did.
    nproc: int(values.nproc, 'nproc') ?? (values.resume ? launchedNproc(values.resume) : undefined) ?? 1,
    nnodes: int(values.nnodes, 'nnodes'),
    nodeRank: int(values['node-rank'], 'node-rank'),
    rdzvEndpoint: values['rdzv-endpoint'],
  };
  commandLine(topo); // checks the topology before anything is loaded or written

  // Forked by the extension with IPC: events go to it, and its stop arrives as a message.
  const ipc = typeof process.send === 'function';
  const printer = values.jsonl || ipc ? undefined : new ProgressPrinter();
  const emit = (e: TrainerEvent) => {
    if (ipc && process.connected) process.send!(e, undefined, undefined, () => undefined);
    if (values.jsonl) process.stdout.write(`${JSON.stringify(e)}\n`);
    printer?.handle(e);
  };
  const identity = newTrainerIdentity();
  let stop: (() => void) | undefined;
  let stopAsked = false;
  const onSignal = () => {
    stopAsked = true;
    stop?.();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const onMessage = (m: unknown) => {
    const c = m as TrainerCommand;
    if (c?.type === 'stop') onSignal();
    else if (c?.type === 'pause' || c?.type === 'resume') {
      emit({ type: 'log', time: new Date().toISOString(), level: 'warn', message: 'a torchrun run cannot pause: Stop it (every rank checkpoints) and resume it later' });
    }
  };
  if (ipc) {
    process.on('message', onMessage);
    // The parent went away: checkpoint and stop rather than train on unseen.
    process.on('disconnect', onSignal);
  }
  try {
    let run;
    let lock;
    let launchDir: string;
    if (values.resume) {
      ({ run, lock } = openResume(values.resume, identity));
      launchDir = join(run.dir, LAUNCH_DIR);
      if (!existsSync(join(launchDir, 'launch.json'))) {
        lock.release();
        throw new Error(`${run.dir}: not a torchrun run (no ${LAUNCH_DIR}/launch.json); resume it with \`adapt-lab train --resume\``);
      }
      run.update({ status: 'running', pid: identity.pid, trainer: identity });
      run.audit('resumed', 'torchrun', undefined);
    } else {
      const config = loadRunConfig(positionals[0]);
      if (config.training.selectCheckpoint === 'eval') {
        throw new Error(`${positionals[0]}: training.selectCheckpoint "eval" is not available on torchrun (checkpoints are chosen by validation loss there): remove it, or train with \`adapt-lab train\``);
      }
      // The model is loaded only to tokenize the data and initialise the adapter: the cpu backend.
      await selectBackend({ backend: 'cpu', blas: false });
      const prepared = await prepareLaunch(config);
      try {
        const name = config.name ?? 'torchrun';
        if (values['dry-run']) {
          ensureRunsDir(config.runsDir);
          let id = newRunId(name);
          for (let n = 2; existsSync(runDirOf(config.runsDir, id)); n++) id = `${newRunId(name)}-${n}`;
          const runDir = runDirOf(config.runsDir, id);
          mkdirSync(runDir, { recursive: true });
          const dir = writeLaunchFolder(prepared, { runDir, runId: id, runName: name, pythonDir: pythonDir(), nproc: topo.nproc });
          const cmd = commandLine(topo);
          if (values.jsonl) process.stdout.write(`${JSON.stringify({ type: 'launch', folder: dir, runDir, command: cmd, cwd: dir })}\n`);
          else process.stdout.write(`launch folder: ${dir}\nrun it there:\n  cd ${dir}\n  ${cmd}\n`);
          return 0;
        }
        run = createRun(config.runsDir, { name, config, method: `${prepared.adapted.method} (PyTorch)`, trainer: identity, base: prepared.base, files: prepared.files, params: prepared.params });
        lock = acquireRunLock(run.dir, identity, `"${run.record.name}" (${run.dir})`);
        launchDir = writeLaunchFolder(prepared, { runDir: run.dir, runId: run.record.id, runName: run.record.name, pythonDir: pythonDir(), nproc: topo.nproc, hashes: run.record.hashes });
        if (prepared.chat) run.update({ chatTemplate: prepared.chat });
      } finally {
        prepared.lm.model.dispose();
      }
    }
    const end = await runTorchrun(run, launchDir, {
      ...topo, resume: !!values.resume, emit,
      onOutput: (line) => process.stderr.write(`${line}\n`),
      onStart: (s) => {
        stop = s;
        if (stopAsked) s();
      },
    });
    // The prompt cases, base vs adapted, as `train` evaluates them when a run finishes.
    const cfg = run.record.config;
    if (end.type === 'finished' && cfg.data.prompts) {
      try {
        await selectBackend({ backend: cfg.backend, blas: cfg.blas !== false });
        const { event } = await evaluateRunEnd({ runDir: run.dir, prompts: cfg.data.prompts, probe: cfg.data.probe, backend: cfg.backend });
        run.appendEvent(event);
        emit(event);
      } catch (err) {
        const e = { type: 'log' as const, time: new Date().toISOString(), level: 'warn' as const, message: `end-of-run evaluation failed: ${(err as Error).message}` };
        run.appendEvent(e);
        emit(e);
      }
    }
    lock.release();
    return end.type === 'failed' ? 1 : 0;
  } finally {
    releaseIdentity(identity);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (ipc) {
      process.off('message', onMessage);
      process.off('disconnect', onSignal);
      if (process.connected) process.disconnect();
    }
  }
}
