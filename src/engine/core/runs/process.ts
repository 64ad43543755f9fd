// Which process is a run's trainer. A pid alone proves nothing: pids are reused, and a run.json
// can come from anywhere (a cloned repository, a copied folder). A trainer is identified by
//   pid + the process's start time (so a reused pid is a different process)
//   + its command line naming our trainer (`… train …`), or, in this process, its token,
// and only a process that matches all of them is ever treated as alive or sent a signal.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/** What run.json and the lock file record about the trainer process. */
export interface TrainerIdentity {
  pid: number;
  /** Process start time as this platform reports it (Linux: clock ticks since boot; elsewhere a date). */
  startTime?: string;
  /** Random per trainer; tells two trainers of one pid apart and this process's own runs. */
  token: string;
  /** The host that ran it: a run folder shared between machines names a pid of another one. */
  host?: string;
}

/** Tokens of trainers running in this very process (in-process training: tests, the bench). */
const ownTokens = new Set<string>();

export function newTrainerIdentity(): TrainerIdentity {
  const id = { pid: process.pid, startTime: processStartTime(process.pid), token: randomBytes(12).toString('hex'), host: hostName() };
  ownTokens.add(id.token);
  return id;
}

/** Forgets a token of this process (its trainer ended). */
export function releaseIdentity(id: TrainerIdentity): void {
  ownTokens.delete(id.token);
}

function hostName(): string {
  try {
    return hostname();
  } catch {
    return '';
  }
}

/** Whether a process with this pid exists (a zombie counts as exited). */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  if (process.platform === 'linux') {
    const stat = procStat(pid);
    if (stat && (stat.state === 'Z' || stat.state === 'X')) return false;
  }
  return true;
}

function procStat(pid: number): { state: string; startTime: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0], startTime: rest[19] }; // fields 3 and 22
  } catch {
    return undefined;
  }
}

function psField(pid: number, field: 'lstart' | 'command'): string | undefined {
  try {
    return execFileSync('ps', ['-o', `${field}=`, '-p', String(pid)], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] }).trim() || undefined;
  } catch {
    return undefined;
  }
}

function windowsProcess(pid: number): { startTime?: string; commandLine?: string } {
  try {
    const out = execFileSync('powershell.exe', ['-NoProfile', '-NonInteractive', '-Command',
      `$p = Get-CimInstance Win32_Process -Filter "ProcessId=${pid}"; if ($p) { $p.CreationDate.ToUniversalTime().ToString('o'); $p.CommandLine }`],
    { encoding: 'utf8', timeout: 10000, stdio: ['ignore', 'pipe', 'ignore'], windowsHide: true }).split(/\r?\n/);
    return { startTime: out[0]?.trim() || undefined, commandLine: out[1]?.trim() || undefined };
  } catch {
    return {};
  }
}

/** The start time of process `pid`, or undefined when it is gone or the platform will not say. */
export function processStartTime(pid: number): string | undefined {
  if (process.platform === 'linux') return procStat(pid)?.startTime;
  if (process.platform === 'win32') return windowsProcess(pid).startTime;
  return psField(pid, 'lstart');
}

/** The command line of process `pid` as its arguments, or undefined when unknown. */
export function processCommandLine(pid: number): string[] | undefined {
  if (process.platform === 'linux') {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
    } catch {
      return undefined;
    }
  }
  const line = process.platform === 'win32' ? windowsProcess(pid).commandLine : psField(pid, 'command');
  return line?.split(/\s+/);
}

/**
 * A trainer's command line: `<node> …cli.js train …` (or a packaged `adapt-lab train …`),
 * `… experiment …`, whose trials train in that process, or `… launch …` (a torchrun run's
 * launcher); or torchrun / its workers running our PyTorch trainer (`-m adapt_lab_torch.train`),
 * which keep run.json themselves when a launch folder is run by hand.
 */
function looksLikeTrainer(args: string[]): boolean {
  if (args.includes('adapt_lab_torch.train')) return true;
  return (args.includes('train') || args.includes('experiment') || args.includes('launch')) && args.some((a) => /(^|[\\/])(cli\.js|adapt-lab)$/.test(a));
}

/**
 * Whether `id` names a live trainer process: the pid exists, started when recorded, and runs
 * our trainer (its command line, or a token this process holds). A record without a start
 * time (older runs) must still pass the command-line check.
 */
export function isTrainerAlive(id: Partial<TrainerIdentity> | undefined): boolean {
  if (!id || typeof id.pid !== 'number' || !isProcessAlive(id.pid)) return false;
  if (id.host && id.host !== hostName()) return false; // another machine's pid means nothing here
  if (id.pid === process.pid) return typeof id.token === 'string' && ownTokens.has(id.token);
  const start = processStartTime(id.pid);
  if (id.startTime !== undefined && start !== undefined && start !== id.startTime) return false;
  if (id.startTime !== undefined && start === undefined && process.platform === 'linux') return false;
  const args = processCommandLine(id.pid);
  if (args === undefined) return id.startTime !== undefined && start === id.startTime; // the platform hides the command line
  return looksLikeTrainer(args);
}

/**
 * Sends `signal` to the trainer `id` names, only after checking that it is that trainer.
 * Returns false (and sends nothing) for any other process.
 */
export function signalTrainer(id: Partial<TrainerIdentity> | undefined, signal: NodeJS.Signals = 'SIGTERM'): boolean {
  if (!isTrainerAlive(id)) return false;
  try {
    process.kill(id!.pid!, signal);
    return true;
  } catch {
    return false;
  }
}
