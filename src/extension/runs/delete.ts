// Delete Run: a run that is not training, after a modal confirmation; the audit log keeps a
// record of the deletion (deleteRun in the run store).
import * as vscode from 'vscode';
import { deleteRun as deleteStoredRun } from '../../engine/core/runs/store';
import type { Shared } from '../shared';
import { resolveRun, RunArg } from './pick';

export async function deleteRun(s: Shared, arg: RunArg, confirmed = false): Promise<boolean> {
  const node = await resolveRun(s, arg, (n) => !['running', 'paused'].includes(n.record.status), 'Which run to delete?');
  if (!node) return false;
  if (!confirmed) {
    const ok = await vscode.window.showWarningMessage(
      `Delete run "${node.record.name}"?`,
      { modal: true, detail: `${node.runDir}\n\nIts checkpoints, metrics and exports are deleted. The audit log keeps a record of the deletion.` },
      'Delete',
    );
    if (ok !== 'Delete') return false;
  }
  deleteStoredRun(node.runsDir, node.record.id);
  s.log.appendLine(`deleted run ${node.record.id} (${node.runDir})`);
  s.runs.refresh(0);
  return true;
}
