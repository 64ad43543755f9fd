// The Training Data Preview panel: one panel, showing one data file with one model at a time.
// The tokens come from `adapt-lab preview-data --json` (a child process: the extension host
// loads no tokenizer), checked with the protocol's validator before the page sees them.
import * as vscode from 'vscode';
import { parsePreviewPayload, parsePreviewWebviewMessage, PreviewHostMessage, PreviewPayload } from '../../protocol/preview';
import { DEFAULT_TRAINING } from '../../engine/core/run-config';
import { runCli, Runtime } from '../cli';
import { pageFor, webviewOptions } from '../monitor/provider';
import { FIRST_EXAMPLES, MORE_EXAMPLES, previewArgs } from './source';

export const PREVIEW_VIEW_TYPE = 'adaptLab.preview';

export class PreviewPanel {
  private panel?: vscode.WebviewPanel;
  private shown?: { model: string; data: string; examples: number };
  private last?: PreviewHostMessage;
  private request?: vscode.CancellationTokenSource;
  private readonly loadedEmitter = new vscode.EventEmitter<PreviewPayload>();
  /** Each payload shown (for the extension's tests). */
  readonly onDidLoad = this.loadedEmitter.event;

  constructor(private readonly extensionUri: vscode.Uri, private readonly rt: () => Runtime, private readonly log: vscode.OutputChannel) {}

  /**
   * Opens (or reuses) the panel on `data` tokenized by `model`; resolves with what it shows,
   * rejects with the CLI's message (which the page shows too), undefined when superseded.
   */
  async show(model: string, data: string, preserveFocus = false): Promise<PreviewPayload | undefined> {
    const panel = this.ensurePanel(preserveFocus);
    panel.reveal(undefined, preserveFocus);
    this.shown = { model, data, examples: FIRST_EXAMPLES };
    const r = await this.load();
    if (r instanceof Error) throw r;
    return r;
  }

  private ensurePanel(preserveFocus: boolean): vscode.WebviewPanel {
    if (this.panel) return this.panel;
    const panel = vscode.window.createWebviewPanel(PREVIEW_VIEW_TYPE, 'Training Data Preview', { viewColumn: vscode.ViewColumn.Active, preserveFocus },
      { ...webviewOptions(this.extensionUri), retainContextWhenHidden: false });
    panel.webview.onDidReceiveMessage((raw: unknown) => {
      let m;
      try {
        m = parsePreviewWebviewMessage(raw);
      } catch (e) {
        console.warn(`Adapt Lab Preview: ignored a message from the page: ${(e as Error).message}`);
        return;
      }
      // The page is not retained while hidden: when it loads again it asks for what it showed.
      if (m.type === 'ready') {
        if (this.last) this.post(this.last);
      } else if (this.shown) {
        this.shown.examples += MORE_EXAMPLES;
        void this.load();
      }
    });
    panel.onDidDispose(() => {
      this.request?.cancel();
      this.panel = undefined;
      this.last = undefined;
    });
    panel.webview.html = pageFor(panel.webview, this.extensionUri, 'preview', 'Training Data Preview');
    this.panel = panel;
    return panel;
  }

  private async load(): Promise<PreviewPayload | Error | undefined> {
    const target = this.shown;
    if (!target) return undefined;
    this.request?.cancel();
    const request = (this.request = new vscode.CancellationTokenSource());
    this.post({ type: 'loading', model: target.model, data: target.data });
    try {
      const r = await runCli(this.rt(), previewArgs(target.model, target.data, target.examples, DEFAULT_TRAINING.maxLength), { token: request.token });
      const payload = parsePreviewPayload(JSON.parse(r.stdout));
      if (this.panel) this.panel.title = `Preview: ${payload.data.split(/[\\/]/).pop()}`;
      this.post({ type: 'preview', payload });
      this.loadedEmitter.fire(payload);
      return payload;
    } catch (e) {
      if (e instanceof vscode.CancellationError || request.token.isCancellationRequested) return undefined;
      const message = (e as Error).message;
      this.log.appendLine(`[preview] ${target.data} with ${target.model}: ${message}`);
      this.post({ type: 'error', message });
      return new Error(message);
    }
  }

  private post(m: PreviewHostMessage): void {
    if (m.type !== 'loading') this.last = m;
    void this.panel?.webview.postMessage(m);
  }

  dispose(): void {
    this.request?.cancel();
    this.panel?.dispose();
    this.loadedEmitter.dispose();
  }
}
