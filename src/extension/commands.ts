// The command handlers: starting runs (Adapt Model, from a config file, resume), controlling
// them (stop / pause / resume), and what the Runs and Layers views offer on their items.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { EXPORT_MARKER } from '../engine/core/export-guard';
import * as vscode from 'vscode';
import { RunConfig } from '../protocol/config';
import { TrainerCommand } from '../protocol/events';
import { parseJsonWithPosition, validateRunConfig } from '../engine/core/run-config';
import { deleteRun, isRunTrainerAlive, readRunRecord, reconcileRun } from '../engine/core/runs/store';
import { signalTrainer } from '../engine/core/runs/process';
import { openComparePanel } from './compare/panel';
import { MonitorViewProvider } from './monitor/provider';
import { adaptModelFlow } from './adapt';
import { ModelInspector, runCli, runtime } from './cli';
import { showError } from './errors';
import { LayersTreeProvider } from './layers';
import { InspectNode } from './params';
import { modelLabel, pickDataset, pickModel, pickOne, rememberModel } from './pickers';
import { RunNode, runsDirs, RunsTreeProvider } from './runs';
import { RunSession, TrainerManager } from './trainer';
import { ModuleScore, parseSuggestResult } from '../protocol/suggest';

export interface Services {
  context: vscode.ExtensionContext;
  log: vscode.OutputChannel;
  trainer: TrainerManager;
  inspector: ModelInspector;
  layers: LayersTreeProvider;
  runs: RunsTreeProvider;
  monitor: MonitorViewProvider;
}

type RunArg = RunNode | string | vscode.Uri | undefined;

/** The workspace folder runs belong to (the first one), or an error a user can act on. */
function workspaceFolder(): vscode.WorkspaceFolder {
  const f = vscode.workspace.workspaceFolders?.[0];
  if (!f) throw new Error('open a folder first: runs are kept inside the workspace (.adapt-lab/runs)');
  return f;
}

function runsDirOf(folder: vscode.WorkspaceFolder): string {
  return runsDirs()[vscode.workspace.workspaceFolders!.indexOf(folder)] ?? join(folder.uri.fsPath, '.adapt-lab', 'runs');
}

/** A command whose errors become notifications (with Open Log) instead of silent failures. */
export function registerGuarded(id: string, fn: (...args: any[]) => unknown, log: vscode.OutputChannel): vscode.Disposable {
  return vscode.commands.registerCommand(id, async (...args: unknown[]) => {
    try {
      return await fn(...args);
    } catch (e) {
      if (e instanceof vscode.CancellationError) return undefined;
      void showError((e as Error).message ?? String(e), log);
      return undefined;
    }
  });
}

/** What Evaluate Run adds to `adapt-lab eval` when called from code (the demo, tests). */
export interface EvaluateOptions {
  /** A text file for the forgetting check (`--probe`). */
  probe?: string;
  maxTokens?: number;
  /** Sampled answers per case for the stability figure (`--samples`). */
  samples?: number;
  /** False: no "evaluated" notification (the caller tells the user). */
  notify?: boolean;
  /** 'llamacpp': also run the cases in llama.cpp (`--runtime llamacpp`). Default: the adaptLab.evaluation.runtime setting. */
  runtime?: 'engine' | 'llamacpp';
}

export class Commands {
  constructor(private readonly s: Services) {}

  private get extensionUri(): vscode.Uri {
    return this.s.context.extensionUri;
  }

  /** Registers every command; errors become notifications instead of silent failures. */
  register(): vscode.Disposable[] {
    const c = (id: string, fn: (...args: any[]) => unknown) => registerGuarded(id, fn, this.s.log);
    return [
      c('adaptLab.adaptModel', () => this.adaptModel()),
      c('adaptLab.adaptFromConfig', (uri?: vscode.Uri) => this.adaptFromConfig(uri)),
      c('adaptLab.stopRun', (a?: RunArg) => this.control(a, 'stop')),
      c('adaptLab.pauseRun', (a?: RunArg) => this.control(a, 'pause')),
      c('adaptLab.resumeRun', (a?: RunArg) => this.control(a, 'resume')),
      c('adaptLab.continueRun', (a?: RunArg) => this.continueRun(a)),
      c('adaptLab.openInMonitor', (a?: RunArg) => this.openInMonitor(a)),
      c('adaptLab.compareRuns', (a?: RunArg | (RunNode | string)[], all?: RunNode[]) => this.compare(a, all)),
      c('adaptLab.exportRun', (a?: RunArg, format?: string, out?: string) => this.exportRun(a, format, out)),
      c('adaptLab.evaluateRun', (a?: RunArg, prompts?: string, options?: EvaluateOptions) => this.evaluateRun(a, prompts, options)),
      c('adaptLab.revealRun', (a?: RunArg) => this.revealRun(a)),
      c('adaptLab.deleteRun', (a?: RunArg) => this.deleteRun(a)),
      c('adaptLab.refreshRuns', () => this.s.runs.refresh(0)),
      c('adaptLab.showLog', () => this.s.log.show(true)),
      c('adaptLab.chooseModel', (path?: string) => this.chooseModel(path)),
      c('adaptLab.suggestLayers', (data?: string) => this.suggestLayers(data)),
      c('adaptLab.layers.lastBlocks', (n?: number) => this.lastBlocks(n)),
      c('adaptLab.layers.attentionOnly', () => this.s.layers.presetAttentionOnly()),
      c('adaptLab.layers.allLinearLora', () => this.s.layers.presetAllLinearLora()),
      c('adaptLab.layers.biasesNorms', () => this.s.layers.presetBiasesNorms()),
      c('adaptLab.layers.clear', () => this.s.layers.clear()),
      c('adaptLab.layers.addLora', (n: InspectNode) => this.s.layers.setLora(n.path, true)),
      c('adaptLab.layers.removeLora', (n: InspectNode) => this.s.layers.setLora(n.path, false)),
    ];
  }

  // ------------------------------------------------------------------ starting runs

  async adaptModel(): Promise<RunSession | undefined> {
    const folder = workspaceFolder();
    const rt = runtime(this.extensionUri);
    const plan = await adaptModelFlow({
      extensionPath: this.extensionUri.fsPath,
      globalState: this.s.context.globalState,
      inspect: (m, t) => this.s.inspector.inspect(m, t),
      layers: this.s.layers,
      folder: folder.uri.fsPath,
      runsDir: runsDirOf(folder),
      backend: rt.backend,
    });
    if (!plan) return undefined;
    if (!this.s.layers.modelPath) void this.s.layers.setModel(plan.config.model).catch(() => undefined);
    return this.start(plan.config, plan.torchrun);
  }

  /**
   * Validates a run config the way the trainer will (relative paths against `baseDir`, the
   * workspace's runs folder unless the config names one) and starts it. The test API's entry.
   */
  startRun(raw: unknown, baseDir?: string, source = 'run config'): RunSession {
    const folder = workspaceFolder();
    const obj = { ...(raw as Record<string, unknown>) };
    if (obj.runsDir === undefined) obj.runsDir = runsDirOf(folder);
    if (obj.backend === undefined) obj.backend = runtime(this.extensionUri).backend;
    const config = validateRunConfig(obj, baseDir ?? folder.uri.fsPath, source);
    return this.start(config);
  }

  async adaptFromConfig(uri?: vscode.Uri): Promise<RunSession | undefined> {
    let path = uri?.fsPath;
    if (!path) {
      const active = vscode.window.activeTextEditor?.document.uri;
      const found = await vscode.workspace.findFiles('**/adapt-lab*.json', '{**/node_modules/**,**/.adapt-lab/**}', 50);
      const items: (vscode.QuickPickItem & { path?: string })[] = found.map((u) => ({ label: `$(file-code) ${basename(u.fsPath)}`, description: vscode.workspace.asRelativePath(dirname(u.fsPath), true), path: u.fsPath }));
      if (active?.fsPath.endsWith('.json') && !found.some((u) => u.fsPath === active.fsPath)) {
        items.unshift({ label: `$(file-code) ${basename(active.fsPath)}`, description: 'the active editor', path: active.fsPath });
      }
      items.push({ label: '$(folder-opened) Browse…' });
      const picked = await pickOne(items, { title: 'Adapt Model from Config', placeholder: 'Which run config? (adapt-lab.json)' });
      if (!picked) return undefined;
      path = picked.path;
      if (!path) {
        const uris = await vscode.window.showOpenDialog({ title: 'Choose a run config', filters: { 'Run config': ['json'] }, canSelectMany: false });
        path = uris?.[0]?.fsPath;
        if (!path) return undefined;
      }
    }
    const source = basename(path);
    let raw: unknown;
    try {
      let text = readFileSync(path, 'utf8');
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      raw = parseJsonWithPosition(text, source);
    } catch (e) {
      void showError((e as Error).message, this.s.log, [path]);
      return undefined;
    }
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
      void showError(`${source}: the run config must be a JSON object`, this.s.log, [path]);
      return undefined;
    }
    try {
      return this.startRun(raw, dirname(path), source);
    } catch (e) {
      void showError((e as Error).message, this.s.log, [path]);
      return undefined;
    }
  }

  private start(config: RunConfig, torchrun?: { nproc: number }): RunSession {
    const session = this.s.trainer.start(config, torchrun);
    void rememberModel(this.s.context.globalState, config.model);
    this.follow(session, [config.data.train, ...(config.data.validation ? [config.data.validation] : []), ...(session.configPath ? [session.configPath] : [])]);
    return session;
  }

  /** Wires a session to the Monitor, the Runs view and the notifications. */
  private follow(session: RunSession, files: string[]): void {
    void session.started.then((runDir) => {
      this.s.monitor.showRun(runDir);
      this.s.runs.refresh(0);
    }, () => undefined);
    void session.ended.then((end) => {
      this.s.runs.refresh(0);
      const name = session.name;
      if (end.status === 'finished') {
        const best = session.valLoss !== undefined ? ` (validation loss ${session.valLoss.toFixed(4)})` : '';
        void vscode.window.showInformationMessage(`Adapt Lab: run "${name}" finished at step ${session.step}${best}.`, 'Open in Monitor', 'Export…').then((a) => {
          if (a === 'Open in Monitor' && session.runDir) this.openInMonitor(session.runDir);
          if (a === 'Export…' && session.runDir) void vscode.commands.executeCommand('adaptLab.exportRun', session.runDir);
        });
      } else if (end.status === 'stopped') {
        vscode.window.setStatusBarMessage(`$(circle-slash) Adapt Lab: run "${name}" stopped at step ${session.step} (checkpoint saved)`, 8000);
      } else {
        const what = end.noRun ? 'could not start' : end.unexpected ? 'failed: the trainer exited unexpectedly' : 'failed';
        const reason = end.reason && !(end.unexpected && !end.noRun && end.reason.startsWith('trainer process exited')) ? `: ${end.reason}` : '';
        void showError(`run "${name}" ${what}${reason}`, this.s.log, files, session.runDir ? ['Open in Monitor'] : []).then((a) => {
          if (a === 'Open in Monitor' && session.runDir) this.openInMonitor(session.runDir);
        });
      }
    });
  }

  // ------------------------------------------------------------------ controlling runs

  /** The run a command is about: the tree item, a run folder, or one picked from a list. */
  private async resolveRun(arg: RunArg, want: (n: RunNode) => boolean, placeholder: string): Promise<RunNode | undefined> {
    if (arg && typeof arg === 'object' && 'record' in arg) return arg;
    const dir = typeof arg === 'string' ? arg : arg instanceof vscode.Uri ? arg.fsPath : undefined;
    if (dir) {
      const found = this.s.runs.byDir(dir);
      if (found) return found;
      const record = readRunRecord(dir);
      return { record, runDir: dir, runsDir: dirname(dir) };
    }
    const nodes = this.s.runs.list().filter(want);
    if (!nodes.length) throw new Error(`no run to choose from (${placeholder.toLowerCase().replace(/\?$/, '')})`);
    if (nodes.length === 1 && this.s.trainer.sessionFor(nodes[0].runDir)) return nodes[0];
    const picked = await pickOne(nodes.map((n) => ({ label: n.record.name, description: `${n.record.status} · ${n.record.method}`, detail: n.runDir, node: n })), { title: 'Adapt Lab', placeholder });
    return picked?.node;
  }

  async control(arg: RunArg, cmd: TrainerCommand['type']): Promise<void> {
    const wants = { stop: ['running', 'paused'], pause: ['running'], resume: ['paused'] }[cmd];
    const node = await this.resolveRun(arg, (n) => wants.includes(n.record.status), `Which run to ${cmd}?`);
    if (!node) return;
    this.controlRun(node.runDir, cmd);
  }

  /** Also what the Monitor's buttons call. */
  controlRun(runDir: string, cmd: TrainerCommand['type']): void {
    const session = this.s.trainer.sessionFor(runDir);
    if (session && session.send(cmd)) {
      this.s.log.appendLine(`[${session.name}] ${cmd} requested`);
      return;
    }
    // A trainer this window did not start (another window, the CLI): it stops on SIGTERM.
    // Only a process proven to be the run's trainer is signalled (pid + start time + command
    // line): run.json may name a reused pid or come from a cloned repository.
    const rec = reconcileRun(runDir);
    if ((rec.status === 'running' || rec.status === 'paused') && isRunTrainerAlive(rec)) {
      if (cmd === 'stop') {
        if (!signalTrainer(rec.trainer ?? { pid: rec.pid }, 'SIGTERM')) throw new Error(`run "${rec.name}": its trainer could not be signalled`);
        this.s.log.appendLine(`[${rec.name}] stop requested (SIGTERM to pid ${rec.trainer?.pid ?? rec.pid})`);
        setTimeout(() => this.s.runs.refresh(0), 1500);
        return;
      }
      throw new Error(`run "${rec.name}" was started outside this window, so it can only be stopped here`);
    }
    this.s.runs.refresh(0);
    throw new Error(`run "${rec.name}" is not running (${rec.status})`);
  }

  async continueRun(arg: RunArg): Promise<RunSession | undefined> {
    const node = await this.resolveRun(arg, (n) => ['stopped', 'failed'].includes(n.record.status), 'Which run to resume from its last checkpoint?');
    if (!node) return undefined;
    if (node.record.status === 'finished') throw new Error(`run "${node.record.name}" is finished: a finished run is not resumed (start a new run from its config instead)`);
    if (!node.record.lastCheckpoint && !existsSync(join(node.runDir, 'checkpoints'))) throw new Error(`run "${node.record.name}" has no checkpoint to resume from`);
    const session = this.s.trainer.resume(node.runDir);
    this.follow(session, [node.record.config.data.train]);
    this.s.monitor.showRun(node.runDir);
    return session;
  }

  openInMonitor(arg: RunArg): void {
    const dir = typeof arg === 'string' ? arg : arg instanceof vscode.Uri ? arg.fsPath : arg?.runDir;
    if (dir) {
      this.s.monitor.showRun(dir);
      return;
    }
    void this.resolveRun(undefined, () => true, 'Which run to show in the Monitor?').then((n) => n && this.s.monitor.showRun(n.runDir));
  }

  async compare(arg: RunArg | (RunNode | string)[], all?: RunNode[]): Promise<vscode.WebviewPanel | undefined> {
    let dirs: string[] = [];
    if (Array.isArray(arg)) dirs = arg.map((a) => (typeof a === 'string' ? a : a.runDir));
    // A multi-selection may hold experiment nodes too (no runDir): only runs are compared.
    else if (all && all.length > 1) dirs = all.filter((n) => n.runDir).map((n) => n.runDir);
    if (dirs.length < 2) {
      const nodes = this.s.runs.list();
      if (nodes.length < 2) throw new Error('compare needs at least two runs in this workspace');
      const pre = new Set([typeof arg === 'string' ? arg : arg && !(arg instanceof vscode.Uri) && 'runDir' in arg ? arg.runDir : undefined]);
      const items = nodes.map((n) => ({ label: n.record.name, description: `${n.record.status} · ${n.record.method}${n.record.bestValLoss !== undefined ? ` · val ${n.record.bestValLoss.toFixed(3)}` : ''}`, picked: pre.has(n.runDir), dir: n.runDir }));
      const picked = await vscode.window.showQuickPick(items, { title: 'Compare Runs', placeHolder: 'Tick two or more runs', canPickMany: true, ignoreFocusOut: true });
      if (!picked) return undefined;
      dirs = picked.map((p) => p.dir);
      if (dirs.length < 2) throw new Error('tick at least two runs to compare');
    }
    return openComparePanel(this.extensionUri, dirs);
  }

  /** Export Run…; `formatId` and `outDir` (for scripts and tests) skip the questions. */
  async exportRun(arg: RunArg, formatId?: string, outDir?: string): Promise<string | undefined> {
    const node = await this.resolveRun(arg, (n) => n.record.status !== 'running', 'Which run to export?');
    if (!node) return undefined;
    const format = formatId ? { id: formatId } : await pickOne([
      { label: 'peft', description: 'Hugging Face PEFT adapter', detail: 'adapter_config.json + adapter_model.safetensors (LoRA runs)', id: 'peft' },
      { label: 'merged-hf', description: 'merged model, Hugging Face safetensors folder', id: 'merged-hf' },
      { label: 'merged-gguf', description: 'merged model, GGUF (for llama.cpp, Ollama)', id: 'merged-gguf' },
      { label: 'gguf-lora', description: 'LoRA adapter, GGUF (llama.cpp --lora, Ollama ADAPTER)', detail: 'adapter.gguf, for the base GGUF (LoRA runs)', id: 'gguf-lora' },
      { label: 'ollama', description: 'Ollama model folder', detail: 'Modelfile (FROM, ADAPTER, TEMPLATE from the chat template, stop) with the GGUF adapter or merged model', id: 'ollama' },
    ], { title: `Export "${node.record.name}"`, placeholder: 'Which format?' });
    if (!format) return undefined;
    const out = outDir ?? await vscode.window.showInputBox({
      title: `Export "${node.record.name}" as ${format.id}`, prompt: 'Output folder', value: join(node.runDir, 'exports', format.id), ignoreFocusOut: true,
      validateInput: (v) => (v.trim() ? undefined : 'Enter a folder'),
    });
    if (!out) return undefined;
    const args = ['export', node.runDir, '--format', format.id, '--out', out.trim()];
    if (existsSync(out.trim()) && readdirSync(out.trim()).length > 0) {
      // Only an earlier export (it holds the marker) is ever replaced; the engine refuses the rest too.
      if (!existsSync(join(out.trim(), EXPORT_MARKER))) throw new Error(`${out.trim()} is not empty and was not made by an Adapt Lab export: choose a new folder (an export never replaces other folders)`);
      const ok = await vscode.window.showWarningMessage(`${out.trim()} holds an earlier export. Replace it?`, { modal: true }, 'Replace');
      if (ok !== 'Replace') return undefined;
      args.push('--force');
    }
    await this.runCliWithProgress(`Exporting "${node.record.name}" as ${format.id}…`, args);
    this.s.runs.refresh(0);
    void vscode.window.showInformationMessage(`Adapt Lab: exported "${node.record.name}" to ${out.trim()}`, 'Reveal in Explorer').then((a) => {
      if (a) void vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(out.trim()));
    });
    return out.trim();
  }

  /** Evaluate Run…; `promptsFile` (for scripts and tests) skips the question. Writes <run>/eval.json. */
  async evaluateRun(arg: RunArg, promptsFile?: string, options: EvaluateOptions = {}): Promise<string | undefined> {
    const node = await this.resolveRun(arg, (n) => n.record.status !== 'running', 'Which run to evaluate?');
    if (!node) return undefined;
    let picked: { path: string } | undefined = promptsFile ? { path: promptsFile } : undefined;
    if (!picked) {
      const files = await vscode.workspace.findFiles('**/*.prompts.jsonl', '{**/node_modules/**,**/.adapt-lab/**}', 200);
      if (!files.length) throw new Error('no prompts file in this workspace: evaluation reads *.prompts.jsonl (one {"prompt", "expected"} per line)');
      picked = await pickOne(files.map((u) => ({ label: `$(checklist) ${basename(u.fsPath)}`, description: vscode.workspace.asRelativePath(dirname(u.fsPath), true), path: u.fsPath })), { title: `Evaluate "${node.record.name}"`, placeholder: 'Which prompts?' });
    }
    if (!picked) return undefined;
    const args = ['eval', '--model', node.record.config.model, '--adapter', node.runDir, '--prompts', picked.path];
    if (options.probe) args.push('--probe', options.probe);
    if (options.maxTokens !== undefined) args.push('--max-tokens', String(options.maxTokens));
    if (options.samples !== undefined) args.push('--samples', String(options.samples));
    const evalRuntime = options.runtime ?? vscode.workspace.getConfiguration('adaptLab').get<string>('evaluation.runtime', 'engine');
    if (evalRuntime === 'llamacpp') args.push('--runtime', 'llamacpp');
    await this.runCliWithProgress(`Evaluating "${node.record.name}" on ${basename(picked.path)}…`, args, !promptsFile, [picked.path, ...(options.probe ? [options.probe] : [])]);
    this.s.runs.refresh(0);
    if (options.notify === false) return join(node.runDir, 'eval.json');
    void vscode.window.showInformationMessage(`Adapt Lab: evaluated "${node.record.name}" on ${basename(picked.path)}.`, 'Show Results', 'Compare Runs').then((a) => {
      if (a === 'Show Results') this.s.log.show(true);
      if (a === 'Compare Runs') void vscode.commands.executeCommand('adaptLab.compareRuns', node);
    });
    return join(node.runDir, 'eval.json');
  }

  private async runCliWithProgress(title: string, args: string[], echo = false, files: string[] = []): Promise<string> {
    this.s.log.appendLine(`adapt-lab ${args.join(' ')}`);
    try {
      const r = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, (_p, token) =>
        runCli(runtime(this.extensionUri), args, { token, onLine: (l) => l.trim() && this.s.log.appendLine(`  ${l}`) }));
      if (echo) this.s.log.show(true);
      return r.stdout;
    } catch (e) {
      if (e instanceof vscode.CancellationError) throw e;
      await showError((e as Error).message, this.s.log, files);
      throw new vscode.CancellationError();
    }
  }

  async revealRun(arg: RunArg): Promise<void> {
    const node = await this.resolveRun(arg, () => true, 'Which run to reveal?');
    if (node) await vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(join(node.runDir, 'run.json')));
  }

  async deleteRun(arg: RunArg, confirmed = false): Promise<boolean> {
    const node = await this.resolveRun(arg, (n) => !['running', 'paused'].includes(n.record.status), 'Which run to delete?');
    if (!node) return false;
    if (!confirmed) {
      const ok = await vscode.window.showWarningMessage(
        `Delete run "${node.record.name}"?`,
        { modal: true, detail: `${node.runDir}\n\nIts checkpoints, metrics and exports are deleted. The audit log keeps a record of the deletion.` },
        'Delete',
      );
      if (ok !== 'Delete') return false;
    }
    deleteRun(node.runsDir, node.record.id);
    this.s.log.appendLine(`deleted run ${node.record.id} (${node.runDir})`);
    this.s.runs.refresh(0);
    return true;
  }

  // ------------------------------------------------------------------ layers

  async chooseModel(path?: string): Promise<void> {
    const model = path ?? await pickModel(this.extensionUri.fsPath, this.s.context.globalState, { title: 'Choose Model for Layers' }, this.s.layers.modelPath);
    if (!model) return;
    void vscode.commands.executeCommand('adaptLab.layers.focus');
    await vscode.window.withProgress({ location: { viewId: 'adaptLab.layers' }, title: `Reading ${modelLabel(model)}` }, () => this.s.layers.setModel(model));
  }

  async lastBlocks(n?: number): Promise<void> {
    const info = this.s.layers.info;
    if (!info) throw new Error('choose a model for the Layers view first');
    if (n === undefined) {
      const L = info.config.layers;
      const text = await vscode.window.showInputBox({
        title: 'Unfreeze the last N blocks', prompt: `How many of the ${L} blocks, counting from the last?`, value: String(Math.min(2, L)),
        validateInput: (v) => (/^\d+$/.test(v.trim()) && Number(v) >= 1 && Number(v) <= L ? undefined : `Enter a whole number from 1 to ${L}`),
      });
      if (!text) return;
      n = Number(text.trim());
    }
    this.s.layers.presetLastBlocks(n);
  }

  async suggestLayers(data?: string, top = 5): Promise<ModuleScore[] | undefined> {
    const layers = this.s.layers;
    if (!layers.info || !layers.modelPath) {
      await this.chooseModel();
      if (!layers.info || !layers.modelPath) return undefined;
    }
    const model = layers.modelPath!;
    const file = data ?? await pickDataset({ title: 'Suggest Layers' }, 'Which data to probe the gradients with?');
    if (!file) return undefined;
    const stdout = await this.runCliWithProgress(`Ranking the modules of ${modelLabel(model)} by gradient norm on ${basename(file)}…`, ['suggest', '--model', model, '--data', file, '--json'], false, [file]);
    const parsed = parseSuggestResult(JSON.parse(stdout), `adapt-lab suggest --model ${model} --json`);
    layers.applySuggestions(parsed.modules, top);
    void vscode.commands.executeCommand('adaptLab.layers.focus');
    const names = parsed.modules.slice(0, top).map((m) => m.path.split('.').slice(-3).join('.')).join(', ');
    void vscode.window.showInformationMessage(`Adapt Lab: ticked the ${Math.min(top, parsed.modules.length)} modules with the strongest gradient signal: ${names}.`);
    return parsed.modules;
  }
}
