// The Monitor side-panel view: live charts of the run on display. The page is not retained
// while hidden (memory), so the host keeps the run's history (MonitorHistory) and sends it
// again whenever the page (re)loads and says `ready`; new events follow in small batches.
import * as vscode from 'vscode';
import { TrainerEvent } from '../../protocol/events';
import { MonitorCommand, MonitorHostMessage, parseMonitorWebviewMessage } from '../../protocol/webview';
import { MonitorHistory } from './history';
import { webviewHtml } from './html';

/** Live events are forwarded at most this often (the page redraws at most every ~250 ms). */
const FLUSH_MS = 100;

/** Options every Adapt Lab webview gets: scripts on, and only the extension's own assets readable. */
export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions {
  return {
    enableScripts: true,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist', 'webview'), vscode.Uri.joinPath(extensionUri, 'media')],
  };
}

/** The page for `dist/webview/<name>.js`, with a fresh nonce. */
export function pageFor(webview: vscode.Webview, extensionUri: vscode.Uri, name: string, title: string): string {
  const asset = (f: string) => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview', f)).toString();
  return webviewHtml({ cspSource: webview.cspSource, scriptUri: asset(`${name}.js`), codiconUri: asset('codicon.css'), title });
}

export class MonitorViewProvider implements vscode.WebviewViewProvider {
  static readonly viewType = 'adaptLab.monitor';

  private view?: vscode.WebviewView;
  /** The page has said `ready` since it last loaded. */
  private ready = false;
  private readonly history = new MonitorHistory();
  private pending: TrainerEvent[] = [];
  private flushTimer?: ReturnType<typeof setTimeout>;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly onCommand: (cmd: MonitorCommand, runDir: string) => void,
  ) {}

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    this.ready = false;
    view.webview.options = webviewOptions(this.extensionUri);
    view.webview.onDidReceiveMessage((m: unknown) => this.receive(m));
    view.onDidChangeVisibility(() => {
      // Hidden: the page is torn down; it says `ready` again when it is shown.
      if (!view.visible) this.ready = false;
    });
    view.onDidDispose(() => {
      if (this.view === view) this.view = undefined;
      this.ready = false;
    });
    view.webview.html = pageFor(view.webview, this.extensionUri, 'monitor', 'Monitor');
  }

  /** Show a run: replays its metrics.jsonl, then follows pushEvent for it if it is live. */
  showRun(runDir: string): void {
    this.history.show(runDir);
    this.pending = [];
    this.post(this.history.resetMessage());
    if (this.view) this.view.show(true);
    else void vscode.commands.executeCommand(`${MonitorViewProvider.viewType}.focus`);
  }

  pushEvent(runDir: string, e: TrainerEvent): void {
    if (!this.history.push(runDir, e)) return;
    this.pending.push(e);
    this.flushTimer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  private flush(): void {
    this.flushTimer = undefined;
    const runDir = this.history.runDir;
    if (!this.pending.length || !runDir) return;
    const events = this.pending;
    this.pending = [];
    // Not ready: the `reset` the page asks for when it loads carries these too.
    this.post({ type: 'events', runDir, events });
  }

  private post(m: MonitorHostMessage): void {
    if (this.view && this.ready) void this.view.webview.postMessage(m);
  }

  private receive(raw: unknown): void {
    let m;
    try {
      m = parseMonitorWebviewMessage(raw);
    } catch (e) {
      console.warn(`Adapt Lab Monitor: ignored a message from the page: ${(e as Error).message}`);
      return;
    }
    if (m.type === 'ready') {
      this.ready = true;
      this.pending = [];
      this.post(this.history.resetMessage());
      return;
    }
    if (m.runDir !== this.history.runDir) {
      console.warn(`Adapt Lab Monitor: "${m.command}" for ${m.runDir}, which is no longer on display; ignored`);
      return;
    }
    this.onCommand(m.command, m.runDir);
  }
}
