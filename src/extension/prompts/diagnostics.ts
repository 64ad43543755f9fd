// Problems of prompts files in the Problems panel, one per bad line, kept in step with the
// editor (open, change, save) and dropped when the document closes.
import { basename } from 'node:path';
import * as vscode from 'vscode';
import { analyzePrompts, isPromptsFile } from './cases';

export class PromptDiagnostics implements vscode.Disposable {
  readonly collection = vscode.languages.createDiagnosticCollection('adaptLab.prompts');
  private readonly subs: vscode.Disposable[] = [];
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor() {
    this.subs.push(
      vscode.workspace.onDidOpenTextDocument((d) => this.update(d)),
      vscode.workspace.onDidSaveTextDocument((d) => this.update(d)),
      vscode.workspace.onDidChangeTextDocument((e) => this.schedule(e.document)),
      vscode.workspace.onDidCloseTextDocument((d) => this.collection.delete(d.uri)),
    );
    for (const d of vscode.workspace.textDocuments) this.update(d);
  }

  /** Re-checks soon (typing fires a change per keystroke). */
  private schedule(doc: vscode.TextDocument): void {
    if (!isPromptsFile(doc.fileName)) return;
    const key = doc.uri.toString();
    clearTimeout(this.timers.get(key));
    this.timers.set(key, setTimeout(() => {
      this.timers.delete(key);
      this.update(doc);
    }, 150));
  }

  update(doc: vscode.TextDocument): void {
    if (!isPromptsFile(doc.fileName) || doc.isClosed) return;
    const { problems } = analyzePrompts(doc.getText(), basename(doc.fileName));
    const diags = problems
      .filter((p) => p.line >= 1 && p.line <= doc.lineCount)
      .sort((a, b) => a.line - b.line)
      .map((p) => {
        const line = doc.lineAt(p.line - 1);
        const range = new vscode.Range(p.line - 1, line.firstNonWhitespaceCharacterIndex, p.line - 1, line.text.length);
        const d = new vscode.Diagnostic(range, p.message, vscode.DiagnosticSeverity.Error);
        d.source = 'Adapt Lab';
        return d;
      });
    this.collection.set(doc.uri, diags);
  }

  dispose(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.subs.forEach((d) => d.dispose());
    this.collection.dispose();
  }
}
