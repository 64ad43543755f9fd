// Install Native Backend: tfjs-node (or -gpu with an NVIDIA GPU) installed by npm into the
// extension's global storage, with a progress notification; trainers started afterwards try
// it first. When it fails, the reason, and training goes on with wasm.
import { join } from 'node:path';
import * as vscode from 'vscode';
import { nativeBackendDir, setNativeBackendDir } from '../cli';
import { registerGuarded } from '../commands';
import type { Shared } from '../shared';
import { hasNvidiaGpu, installNativeBackend, nativePackage } from './install';

async function installNativeCommand(log: vscode.OutputChannel): Promise<void> {
  const gpu = hasNvidiaGpu();
  const pkg = nativePackage(gpu);
  const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Adapt Lab: installing ${pkg}`, cancellable: true }, (progress, token) => {
    const abort = new AbortController();
    token.onCancellationRequested(() => abort.abort());
    return installNativeBackend({
      dir: nativeBackendDir()!, gpu, signal: abort.signal,
      onLine: (line) => {
        log.appendLine(`[install] ${line}`);
        progress.report({ message: line.slice(0, 100) });
      },
    });
  });
  if (result.ok) {
    log.appendLine(`[install] ${pkg} installed in ${result.modules}; trainers started from now on try it first`);
    void vscode.window.showInformationMessage(`Adapt Lab: ${pkg} is installed. Runs started from now on use it (the trainer's log says which backend ran).`);
  } else {
    log.appendLine(`[install] failed: ${result.reason}`);
    void vscode.window.showErrorMessage(`Adapt Lab: could not install ${pkg}: ${result.reason}. Training keeps using the wasm backend${process.platform === 'linux' ? ' with the BLAS' : ''}.`, 'Open Log').then((c) => {
      if (c) log.show(true);
    });
  }
}

export function register(context: vscode.ExtensionContext, s: Shared): void {
  setNativeBackendDir(join(context.globalStorageUri.fsPath, 'native'));
  context.subscriptions.push(registerGuarded('adaptLab.installNativeBackend', () => installNativeCommand(s.log), s.log));
}
