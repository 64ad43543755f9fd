// CodeLens above each valid case of a prompts file: ▶ Base, ▶ Adapted (<run>) when a run is
// active, ⇄ Compare.
import { basename } from 'node:path';
import * as vscode from 'vscode';
import { ActiveRun } from './activeRun';
import { analyzePrompts } from './cases';

export const RUN_CASE_COMMAND = 'adaptLab.prompts.runCase';

export class PromptCodeLensProvider implements vscode.CodeLensProvider, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.emitter.event;
  private readonly sub: vscode.Disposable;

  constructor(private readonly activeRun: ActiveRun) {
    this.sub = activeRun.onDidChange(() => this.emitter.fire());
  }

  provideCodeLenses(doc: vscode.TextDocument): vscode.CodeLens[] {
    const { cases } = analyzePrompts(doc.getText(), basename(doc.fileName));
    const run = this.activeRun.info;
    const out: vscode.CodeLens[] = [];
    for (const c of cases) {
      const range = new vscode.Range(c.line - 1, 0, c.line - 1, 0);
      const args = [doc.uri, c.line - 1];
      out.push(new vscode.CodeLens(range, { title: '▶ Base', tooltip: 'Answer this prompt with the base model', command: RUN_CASE_COMMAND, arguments: [...args, 'base'] }));
      if (run) out.push(new vscode.CodeLens(range, { title: `▶ Adapted (${run.name})`, tooltip: `Answer this prompt with run "${run.name}"`, command: RUN_CASE_COMMAND, arguments: [...args, 'adapted'] }));
      out.push(new vscode.CodeLens(range, { title: '⇄ Compare', tooltip: run ? `Base model and run "${run.name}" side by side` : 'Base model and an adapted run side by side (choose the run)', command: RUN_CASE_COMMAND, arguments: [...args, 'compare'] }));
    }
    return out;
  }

  dispose(): void {
    this.sub.dispose();
    this.emitter.dispose();
  }
}
