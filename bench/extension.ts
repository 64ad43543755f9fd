// Extension activation cost: `require('dist/extension.js')` plus `activate()`, each sample in a
// fresh Node process (a cold start, as VS Code's extension host sees it), with a minimal fake
// `vscode` module injected through Module._load. Medians of 5.
//   import { benchExtension } from './extension'; await benchExtension({ json: false });
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { median, round } from './stats';

/** Just enough of the VS Code API for activate(); anything else is an inert stand-in. */
const FAKE_VSCODE = String.raw`
const path = require('node:path');
const inert = () => new Proxy(function () {}, { get: (t, k) => (k === 'then' ? undefined : k === Symbol.toPrimitive ? () => '' : inert()), apply: () => inert(), construct: () => inert() });
const disposable = () => ({ dispose() {} });
class EventEmitter { constructor() { this.l = new Set(); this.event = (f) => { this.l.add(f); return { dispose: () => this.l.delete(f) }; }; } fire(e) { for (const f of this.l) f(e); } dispose() { this.l.clear(); } }
const event = () => () => disposable();
class Uri { constructor(p) { this.fsPath = p; this.path = p; this.scheme = 'file'; } static file(p) { return new Uri(p); } static joinPath(u, ...p) { return new Uri(path.join(u.fsPath, ...p)); } toString() { return 'file://' + this.fsPath; } }
class TreeItem { constructor(label, c) { this.label = label; this.collapsibleState = c; } }
class ThemeIcon { constructor(id, color) { this.id = id; this.color = color; } }
class ThemeColor { constructor(id) { this.id = id; } }
class MarkdownString { constructor(v = '') { this.value = v; } appendMarkdown(s) { this.value += s; return this; } }
class RelativePattern { constructor(base, pattern) { this.base = base; this.pattern = pattern; } }
class CancellationError extends Error {}
const api = {
  EventEmitter, Uri, TreeItem, ThemeIcon, ThemeColor, MarkdownString, RelativePattern, CancellationError,
  Disposable: class { constructor(f) { this.dispose = f; } static from(...d) { return { dispose: () => d.forEach((x) => x.dispose()) }; } },
  TreeItemCollapsibleState: { None: 0, Collapsed: 1, Expanded: 2 },
  TreeItemCheckboxState: { Unchecked: 0, Checked: 1 },
  StatusBarAlignment: { Left: 1, Right: 2 },
  QuickPickItemKind: { Separator: -1, Default: 0 },
  ProgressLocation: { SourceControl: 1, Window: 10, Notification: 15 },
  ViewColumn: { Active: -1, One: 1 },
  DecorationRangeBehavior: { OpenOpen: 0, ClosedClosed: 1, OpenClosed: 2, ClosedOpen: 3 },
  DiagnosticSeverity: { Error: 0, Warning: 1, Information: 2, Hint: 3 },
  TestRunProfileKind: { Run: 1, Debug: 2, Coverage: 3 },
  CancellationTokenSource: class { constructor() { this.token = { isCancellationRequested: false, onCancellationRequested: event() }; } cancel() {} dispose() {} },
  CodeLens: class { constructor(range, command) { this.range = range; this.command = command; } },
  Diagnostic: class { constructor(range, message, severity) { Object.assign(this, { range, message, severity }); } },
  Hover: class { constructor(contents, range) { Object.assign(this, { contents, range }); } },
  Location: class { constructor(uri, range) { Object.assign(this, { uri, range }); } },
  Position: class { constructor(line, character) { Object.assign(this, { line, character }); } },
  Range: class { constructor(a, b, c, d) { Object.assign(this, { a, b, c, d }); } },
  TestMessage: class { constructor(message) { this.message = message; } static diff(m) { return { message: m }; } },
  TestRunRequest: class { constructor(include) { this.include = include; } },
  languages: { registerCodeLensProvider: disposable, registerHoverProvider: disposable, createDiagnosticCollection: () => ({ set() {}, delete() {}, clear() {}, dispose() {} }) },
  tests: { createTestController: () => ({ items: { add() {}, delete() {}, replace() {}, get() {}, forEach() {} }, createRunProfile: () => ({ dispose() {} }), createTestItem: () => ({ children: { add() {}, replace() {} } }), dispose() {} }) },
  window: {
    createOutputChannel: () => ({ appendLine() {}, append() {}, show() {}, dispose() {} }),
    createStatusBarItem: () => ({ show() {}, hide() {}, dispose() {} }),
    createTreeView: () => ({ onDidChangeCheckboxState: event(), onDidChangeVisibility: event(), dispose() {} }),
    registerWebviewViewProvider: disposable,
    showErrorMessage: async () => undefined, showInformationMessage: async () => undefined, showWarningMessage: async () => undefined,
    setStatusBarMessage: disposable,
  },
  commands: { registerCommand: disposable, executeCommand: async () => undefined, getCommands: async () => [] },
  workspace: {
    workspaceFolders: [{ uri: Uri.file(process.env.BENCH_WORKSPACE), name: 'w', index: 0 }],
    getConfiguration: () => ({ get: (k, d) => d }),
    createFileSystemWatcher: () => ({ onDidCreate: event(), onDidChange: event(), onDidDelete: event(), dispose() {} }),
    onDidChangeWorkspaceFolders: event(), onDidChangeConfiguration: event(),
    findFiles: async () => [],
  },
  extensions: { all: [] },
};
const lenient = (o) => new Proxy(o, { get: (t, k) => (k in t ? t[k] : inert()) });
for (const k of ['window', 'workspace', 'commands', 'extensions', 'languages', 'tests']) api[k] = lenient(api[k]);
module.exports = lenient(api);
`;

const CHILD = String.raw`
const Module = require('node:module');
const fake = require(process.env.BENCH_FAKE_VSCODE);
const load = Module._load;
Module._load = function (request, ...rest) { return request === 'vscode' ? fake : load.call(this, request, ...rest); };
const memento = () => { const m = new Map(); return { get: (k, d) => (m.has(k) ? m.get(k) : d), update: async (k, v) => void m.set(k, v), keys: () => [...m.keys()] }; };
const t0 = process.hrtime.bigint();
const ext = require(process.env.BENCH_EXTENSION);
const t1 = process.hrtime.bigint();
const context = { subscriptions: [], extensionUri: fake.Uri.file(process.env.BENCH_REPO), extensionPath: process.env.BENCH_REPO, globalState: memento(), workspaceState: memento() };
ext.activate(context);
const t2 = process.hrtime.bigint();
for (const d of context.subscriptions) d.dispose();
ext.deactivate?.();
process.stdout.write(JSON.stringify({ requireMs: Number(t1 - t0) / 1e6, activateMs: Number(t2 - t1) / 1e6, rssMiB: process.memoryUsage().rss / 2 ** 20 }));
`;

export interface ActivationRecord {
  name: 'activation';
  samples: number;
  requireMs: number;
  activateMs: number;
  totalMs: number;
  rssMiB: number;
  bundleKiB: number;
  node: string;
}

export async function benchExtension(opts: { json: boolean }): Promise<void> {
  const repo = process.env.ADAPT_LAB_REPO ?? process.cwd();
  const extension = resolve(repo, 'dist', 'extension.js');
  if (!existsSync(extension)) throw new Error(`${extension} not found: run npm run build first`);
  const dir = mkdtempSync(join(tmpdir(), 'adapt-lab-bench-ext-'));
  const fake = join(dir, 'vscode.js');
  writeFileSync(fake, FAKE_VSCODE);
  const samples: { requireMs: number; activateMs: number; rssMiB: number }[] = [];
  for (let i = 0; i < 5; i++) {
    const r = spawnSync(process.execPath, ['-e', CHILD], {
      encoding: 'utf8',
      env: { ...process.env, BENCH_FAKE_VSCODE: fake, BENCH_EXTENSION: extension, BENCH_REPO: repo, BENCH_WORKSPACE: dir },
    });
    if (r.status !== 0) throw new Error(`activation sample failed: ${r.stderr.trim().split('\n').slice(0, 8).join(' | ')}`);
    samples.push(JSON.parse(r.stdout));
  }
  const { statSync } = await import('node:fs');
  const rec: ActivationRecord = {
    name: 'activation',
    samples: samples.length,
    requireMs: round(median(samples.map((s) => s.requireMs)), 3),
    activateMs: round(median(samples.map((s) => s.activateMs)), 3),
    totalMs: round(median(samples.map((s) => s.requireMs + s.activateMs)), 3),
    rssMiB: round(median(samples.map((s) => s.rssMiB)), 3),
    bundleKiB: Math.round(statSync(extension).size / 1024),
    node: process.version,
  };
  if (opts.json) process.stdout.write(JSON.stringify(rec) + '\n');
  else {
    console.log(`extension activation (median of ${rec.samples} cold starts, fake vscode): require ${rec.requireMs} ms + activate ${rec.activateMs} ms = ${rec.totalMs} ms; rss ${rec.rssMiB} MiB; dist/extension.js ${rec.bundleKiB} KiB`);
  }
}
