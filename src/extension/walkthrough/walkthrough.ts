// The "Get started with Adapt Lab" walkthrough's commands. Open Samples copies the extension's
// samples into the workspace (adapt-lab-samples/, with a run config on the embedded model) and
// opens them; Run Demo starts the same LoRA adaptation as `npm run demo` through Adapt Model from
// Config, then evaluates base against adapted on the demo prompts and shows the report.
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import * as vscode from 'vscode';
import { parseEvalReport } from '../../protocol/eval';
import { openComparePanel } from '../compare/panel';
import { runsDirs } from '../runs/tree';
import { DEFAULT_RUNS_DIR } from '../settings';
import type { EvaluateOptions } from '../evaluate';
import type { RunSession } from '../trainer';
import { SessionEnd } from '../trainer';

export const SAMPLES_FOLDER = 'adapt-lab-samples';
export const EMBEDDED_MODEL = join('models', 'adapt-lab-tiny');
// demo.experiment.json names demo.config.json as its base: Run Experiment works on the copies as they are.
const DATA_FILES = ['train.jsonl', 'validation.jsonl', 'demo.prompts.jsonl', 'probe.txt', 'replay.txt', 'demo.experiment.json'] as const;
const CONFIG = 'demo.config.json';

export interface SampleFiles {
  dir: string;
  train: string;
  validation: string;
  prompts: string;
  probe: string;
  config: string;
  /** False when they are the extension's own files (no folder open). */
  inWorkspace: boolean;
}

function filesIn(dir: string, inWorkspace: boolean): SampleFiles {
  return {
    dir, inWorkspace,
    train: join(dir, 'train.jsonl'), validation: join(dir, 'validation.jsonl'), prompts: join(dir, 'demo.prompts.jsonl'),
    probe: join(dir, 'probe.txt'), config: join(dir, CONFIG),
  };
}

/**
 * Copies the samples into `<folder>/adapt-lab-samples/`, keeping files already there (they may
 * be edited). The copied run config names the embedded model by its absolute path and the
 * workspace's runs folder relative to itself; a config whose model is gone (an older install
 * of the extension) gets the current path.
 */
export function copySamples(extensionPath: string, folder: string, runsDir: string): SampleFiles {
  const from = join(extensionPath, 'samples');
  const dir = join(folder, SAMPLES_FOLDER);
  mkdirSync(dir, { recursive: true });
  for (const f of DATA_FILES) if (!existsSync(join(dir, f))) copyFileSync(join(from, f), join(dir, f));
  const model = join(extensionPath, EMBEDDED_MODEL);
  const target = join(dir, CONFIG);
  let config: Record<string, unknown> | undefined;
  if (existsSync(target)) {
    try {
      config = JSON.parse(readFileSync(target, 'utf8')) as Record<string, unknown>;
    } catch {
      return filesIn(dir, true); // the user's broken edit: Adapt Model from Config names the error
    }
    if (typeof config.model === 'string' && existsSync(resolve(dir, config.model))) return filesIn(dir, true);
  }
  const shipped = JSON.parse(readFileSync(join(from, CONFIG), 'utf8')) as Record<string, unknown>;
  const out = { ...(config ?? shipped), model, ...(config ? {} : { runsDir: relative(dir, runsDir).split(sep).join('/') || '.' }) };
  writeFileSync(target, JSON.stringify(out, null, 2) + '\n');
  return filesIn(dir, true);
}

export interface DemoResult {
  runDir?: string;
  end: SessionEnd;
  /** <run>/eval.json when the run finished and was evaluated. */
  evalPath?: string;
  base?: number;
  adapted?: number;
}

/** What the demo starts and evaluates with (the Adapt and Evaluate features). */
export interface DemoCommands {
  adaptFromConfig(uri: vscode.Uri): Promise<RunSession | undefined>;
  evaluateRun(runDir: string, promptsFile: string, options: EvaluateOptions): Promise<string | undefined>;
}

export class Walkthrough {
  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly commands: DemoCommands,
    private readonly setActiveRun: (runDir: string) => boolean,
  ) {}

  private get extensionPath(): string {
    return this.context.extensionUri.fsPath;
  }

  /** The samples in the workspace (copied when needed), or the extension's own with no folder open. */
  samples(): SampleFiles {
    const folder = vscode.workspace.workspaceFolders?.[0];
    if (!folder) return filesIn(join(this.extensionPath, 'samples'), false);
    return copySamples(this.extensionPath, folder.uri.fsPath, runsDirs()[0] ?? join(folder.uri.fsPath, DEFAULT_RUNS_DIR));
  }

  /**
   * Open Samples: copies them into the workspace and opens train.jsonl and demo.prompts.jsonl
   * (read-only from the extension when no folder is open). `only` opens just that one file.
   */
  async openSamples(only?: string): Promise<SampleFiles> {
    const files = this.samples();
    const names = only ? [only] : ['train.jsonl', 'demo.prompts.jsonl'];
    for (const name of names) {
      const path = join(files.dir, name);
      if (!existsSync(path)) throw new Error(`${name} is not one of the samples (${[...DATA_FILES, CONFIG].join(', ')})`);
      await vscode.window.showTextDocument(vscode.Uri.file(path), { preview: false });
      if (!files.inWorkspace) await vscode.commands.executeCommand('workbench.action.files.setActiveEditorReadonlyInSession').then(undefined, () => undefined);
    }
    if (!files.inWorkspace) {
      void vscode.window.showInformationMessage('Adapt Lab: these are the extension\'s own samples, read-only. Open a folder to get a copy you can edit and train on.', 'Open Folder').then((a) => {
        if (a) void vscode.commands.executeCommand('workbench.action.files.openFolder');
      });
    }
    return files;
  }

  /**
   * Run Demo: adapts the embedded model with LoRA on the samples (their demo.config.json, as
   * `npm run demo`), with the Monitor following; once finished, evaluates base against adapted
   * on demo.prompts.jsonl (probe.txt for forgetting), makes the run the active one for the
   * prompts' CodeLens, and shows the report. Resolves when all of that is done.
   */
  async runDemo(): Promise<DemoResult | undefined> {
    if (!vscode.workspace.workspaceFolders?.length) throw new Error(`open a folder first: the demo copies the samples into it and keeps its run there (${DEFAULT_RUNS_DIR})`);
    const files = this.samples();
    const session = await this.commands.adaptFromConfig(vscode.Uri.file(files.config));
    if (!session) return undefined;
    const end = await session.ended;
    const runDir = session.runDir;
    if (end.status !== 'finished' || !runDir) return { runDir, end };
    const evalPath = await this.commands.evaluateRun(runDir, files.prompts, { probe: files.probe, maxTokens: 8, samples: 2, notify: false });
    if (!evalPath) return { runDir, end };
    // The report crosses from the `adapt-lab eval` process: read through the protocol's validator.
    const report = parseEvalReport(JSON.parse(readFileSync(evalPath, 'utf8')), evalPath);
    const base = report.base.accuracy ?? undefined; // null: no case has an expected answer
    const adapted = report.adapted?.accuracy ?? undefined;
    this.setActiveRun(runDir);
    openComparePanel(this.context.extensionUri, [runDir]);
    const pct = (x: number | undefined) => (x === undefined ? '–' : `${Math.round(100 * x)}%`);
    void vscode.window.showInformationMessage(
      `Adapt Lab demo: accuracy on demo.prompts.jsonl ${pct(base)} (base) → ${pct(adapted)} (adapted). The run is now the active one for ▶ Adapted.`,
      'Try a Prompt', 'Show Log',
    ).then((a) => {
      if (a === 'Try a Prompt') void this.openSamples('demo.prompts.jsonl');
      if (a === 'Show Log') void vscode.commands.executeCommand('adaptLab.showLog');
    });
    return { runDir, end, evalPath, base, adapted };
  }
}
