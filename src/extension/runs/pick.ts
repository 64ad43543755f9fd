// The run a command is about: the Runs view's item it was invoked on, a run folder (from code,
// the Monitor, a URI), or one the user picks from the runs that fit the command.
import { dirname } from 'node:path';
import * as vscode from 'vscode';
import { readRunRecord } from '../../engine/core/runs/store';
import { pickOne } from '../pickers';
import type { Shared } from '../shared';
import { RunNode } from './tree';

export type RunArg = RunNode | string | vscode.Uri | undefined;

/** The folder a run argument names, when it names one. */
export function runDirOf(arg: RunArg): string | undefined {
  return typeof arg === 'string' ? arg : arg instanceof vscode.Uri ? arg.fsPath : arg?.runDir;
}

/** The run a command is about; asks among the runs `want` accepts when the argument names none. */
export async function resolveRun(s: Shared, arg: RunArg, want: (n: RunNode) => boolean, placeholder: string): Promise<RunNode | undefined> {
  if (arg && typeof arg === 'object' && 'record' in arg) return arg;
  const dir = typeof arg === 'string' ? arg : arg instanceof vscode.Uri ? arg.fsPath : undefined;
  if (dir) {
    const found = s.runs.byDir(dir);
    if (found) return found;
    const record = readRunRecord(dir);
    return { record, runDir: dir, runsDir: dirname(dir) };
  }
  const nodes = s.runs.list().filter(want);
  if (!nodes.length) throw new Error(`no run to choose from (${placeholder.toLowerCase().replace(/\?$/, '')})`);
  if (nodes.length === 1 && s.trainer.sessionFor(nodes[0].runDir)) return nodes[0];
  const picked = await pickOne(nodes.map((n) => ({ label: n.record.name, description: `${n.record.status} · ${n.record.method}`, detail: n.runDir, node: n })), { title: 'Adapt Lab', placeholder });
  return picked?.node;
}
