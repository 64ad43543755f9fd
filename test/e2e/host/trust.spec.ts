// Workspace trust, trusted half: a runs folder that the workspace's own settings put outside
// the workspace is not used until the user allows it (what the notification's button does).
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { api, waitFor, workspaceDir } from './util';

describe('Workspace trust (trusted workspace)', () => {
  it('a workspace runsDir outside the workspace needs the user\'s permission', async () => {
    const a = await api();
    assert.equal(vscode.workspace.isTrusted, true);
    const outside = mkdtempSync(join(tmpdir(), 'adapt-lab-outside-runs-'));
    const cfg = () => vscode.workspace.getConfiguration('adaptLab');
    try {
      await cfg().update('runsDir', outside, vscode.ConfigurationTarget.Workspace);
      await waitFor('the workspace setting', async () => cfg().get('runsDir') === outside, 10_000);
      assert.equal(a.runsDirs()[0], join(workspaceDir(), '.adapt-lab', 'runs'), 'not allowed yet: the default inside the workspace');
      await a.allowRunsDir(outside);
      assert.equal(a.runsDirs()[0], outside);
      // A folder inside the workspace needs no permission.
      await cfg().update('runsDir', 'elsewhere/runs', vscode.ConfigurationTarget.Workspace);
      await waitFor('the second setting', async () => cfg().get('runsDir') === 'elsewhere/runs', 10_000);
      assert.equal(a.runsDirs()[0], join(workspaceDir(), 'elsewhere', 'runs'));
    } finally {
      await cfg().update('runsDir', undefined, vscode.ConfigurationTarget.Workspace);
      rmSync(outside, { recursive: true, force: true });
    }
  });
});
