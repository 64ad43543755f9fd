// Adapt Model: model → dataset → method preset → key hyperparameters → summary → start.
// The summary's trainable count and memory estimate come from `adapt-lab inspect` (a child
// process) and the same rules the trainer applies (params.ts), so nothing here loads a model.
import { writeFileSync, existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, relative } from 'node:path';
import * as vscode from 'vscode';
import { AdaptConfig, RunConfig } from '../../protocol/config';
import { validateRunConfig, DEFAULT_TRAINING, loraDefaults, usesEveryCore } from '../../engine/core/run-config';
import { estimateTrainingMemory, formatBytes, WASM_HEAP_LIMIT } from '../../engine/core/memory';
import {
  attentionLoraTargets, blockPaths, planFor, formatCount, formatPercent, ModelInfo, AdaptPlan as ParamPlan,
} from '../layers/params';
import { modelLabel, pickDataset, pickModel, pickOne, siblingValidation } from '../pickers';
import { LayersTreeProvider } from '../layers/tree';
import * as settings from '../settings';

const TITLE = 'Adapt Model';
const STEPS = 6;

type PresetId = 'lora-attention' | 'lora-all' | 'last-blocks' | 'layers' | 'biases';

interface PresetItem extends vscode.QuickPickItem {
  id: PresetId;
  lora: boolean;
}

export interface AdaptFlowDeps {
  extensionPath: string;
  globalState: vscode.Memento;
  inspect: (model: string, token?: vscode.CancellationToken) => Promise<ModelInfo>;
  layers: LayersTreeProvider;
  /** The workspace folder the run belongs to (relative paths, runsDir). */
  folder: string;
  runsDir: string;
  backend: string;
}

function presetAdapt(id: PresetId, info: ModelInfo, o: { rank: number; blocks: number; layers?: AdaptConfig }): AdaptConfig {
  const lora = (targetModules: string[] | 'all-linear') => ({ lora: { ...loraDefaults(o.rank), targetModules } });
  switch (id) {
    case 'lora-attention': return lora(attentionLoraTargets(info));
    case 'lora-all': return lora('all-linear');
    case 'last-blocks': return { unfreeze: blockPaths(info).slice(-o.blocks) };
    case 'biases': return { biases: true };
    case 'layers': {
      const a = o.layers ?? {};
      return a.lora ? { ...a, lora: { ...a.lora, rank: o.rank, alpha: loraDefaults(o.rank).alpha } } : a;
    }
  }
}

function describe(c: ParamPlan | Error): string {
  return c instanceof Error ? `$(warning) ${c.message}` : `${formatCount(c.trainable)} trainable (${formatPercent(c.percent)})`;
}

function tryCount(info: ModelInfo, adapt: AdaptConfig): ParamPlan | Error {
  try {
    return planFor(info, adapt);
  } catch (e) {
    return e as Error;
  }
}

/** An input box for a number; undefined when dismissed. */
async function askNumber(t: { step: number; prompt: string; value: number; integer: boolean; min: number; max?: number; placeholder?: string }): Promise<number | undefined> {
  const text = await vscode.window.showInputBox({
    title: `${TITLE}: hyperparameters`,
    prompt: t.prompt,
    value: String(t.value),
    placeHolder: t.placeholder,
    ignoreFocusOut: true,
    validateInput: (v) => {
      const n = Number(v.trim());
      if (v.trim() === '' || !Number.isFinite(n)) return 'Enter a number';
      if (t.integer && !Number.isInteger(n)) return 'Enter a whole number';
      if (n < t.min) return `Enter at least ${t.min}`;
      if (t.max !== undefined && n > t.max) return `Enter at most ${t.max}`;
      return undefined;
    },
  });
  return text === undefined ? undefined : Number(text.trim());
}

export interface AdaptPlan {
  config: RunConfig;
  info: ModelInfo;
  count: ParamPlan;
  /** Run with torchrun (PyTorch, DDP) on this many processes instead of our engine. */
  torchrun?: { nproc: number };
}

/** adaptLab.trainingThreads, or when 0 (the default) the CPU cores, at most 4. */
function trainingThreads(): number {
  const n = settings.trainingThreadsSetting();
  return Number.isInteger(n) && n > 0 ? Math.min(n, 64) : Math.max(1, Math.min(4, availableParallelism()));
}

/** Runs the flow; resolves with a validated run config to start, or undefined when cancelled. */
export async function adaptModelFlow(d: AdaptFlowDeps): Promise<AdaptPlan | undefined> {
  // 1. model
  const model = await pickModel(d.extensionPath, d.globalState, { title: `${TITLE}: base model`, step: 1, totalSteps: STEPS }, d.layers.modelPath);
  if (!model) return undefined;
  const infoP = d.inspect(model);
  infoP.catch(() => undefined);

  // 2. dataset
  const train = await pickDataset({ title: `${TITLE}: training data`, step: 2, totalSteps: STEPS }, undefined,
    (data) => void vscode.commands.executeCommand('adaptLab.previewTrainingData', { model, data, preserveFocus: true }));
  if (!train) return undefined;
  const validation = siblingValidation(train);

  // 3. method
  const info = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Reading ${modelLabel(model)}…` },
    () => infoP,
  );
  const rank = 8;
  const blocks = Math.min(2, info.config.layers);
  const layerSel = d.layers.modelPath === model ? d.layers.selection() : undefined;
  const presets: PresetItem[] = [
    { id: 'lora-attention', lora: true, label: `LoRA on attention (${attentionLoraTargets(info).join(', ')})` },
    { id: 'lora-all', lora: true, label: 'LoRA on all linear layers' },
    { id: 'last-blocks', lora: false, label: 'Unfreeze the last blocks' },
    ...(layerSel ? [{ id: 'layers' as const, lora: !!layerSel.adapt.lora, label: 'The Layers view’s selection' }] : []),
    { id: 'biases', lora: false, label: 'Biases and norms only (BitFit)' },
  ];
  for (const p of presets) {
    const c = tryCount(info, presetAdapt(p.id, info, { rank, blocks, layers: layerSel?.adapt }));
    p.description = describe(c);
    if (p.id === 'last-blocks') p.detail = `the last ${blocks} of ${info.config.layers} blocks (you choose how many next)`;
    if (p.id === 'layers' && !(c instanceof Error)) p.detail = c.method;
    if (p.lora) p.detail = p.detail ?? `rank ${rank} (you can change it next)`;
  }
  const preset = await pickOne(presets, { title: `${TITLE}: what to train on ${info.name ?? modelLabel(model)} (${formatCount(info.totalParams)} parameters)`, step: 3, totalSteps: STEPS, placeholder: 'Which parameters to train?' });
  if (!preset) return undefined;

  // 4–5. hyperparameters
  let nBlocks = blocks;
  if (preset.id === 'last-blocks') {
    const n = await askNumber({ step: 4, prompt: `How many of the last blocks to unfreeze (1–${info.config.layers})?`, value: blocks, integer: true, min: 1, max: info.config.layers });
    if (n === undefined) return undefined;
    nBlocks = n;
  }
  const steps = await askNumber({ step: 4, prompt: 'Training steps (optimizer updates)', value: 200, integer: true, min: 1 });
  if (steps === undefined) return undefined;
  const lr = await askNumber({ step: 4, prompt: 'Peak learning rate (warmup, then cosine decay)', value: preset.lora || preset.id === 'biases' ? 1e-3 : 1e-4, integer: false, min: Number.MIN_VALUE, max: 1 });
  if (lr === undefined) return undefined;
  const batch = await askNumber({ step: 4, prompt: 'Batch size (examples per step)', value: DEFAULT_TRAINING.batchSize, integer: true, min: 1, max: 4096 });
  if (batch === undefined) return undefined;
  let loraRank = rank;
  if (preset.lora) {
    const r = await askNumber({ step: 5, prompt: 'LoRA rank (alpha is set to twice the rank)', value: rank, integer: true, min: 1, max: 1024 });
    if (r === undefined) return undefined;
    loraRank = r;
  }

  // 6. summary
  const adapt = presetAdapt(preset.id, info, { rank: loraRank, blocks: nBlocks, layers: layerSel?.adapt });
  const count = planFor(info, adapt);
  const name = `${modelLabel(model)}-${preset.id}`;
  const raw = {
    name,
    model,
    data: { train, ...(validation ? { validation } : {}), validationSplit: validation ? 0 : 0.1 },
    adapt,
    training: {
      maxSteps: steps, batchSize: batch, learningRate: lr, warmupSteps: Math.min(20, Math.floor(steps / 10)),
      evalEvery: Math.max(1, Math.min(50, Math.round(steps / 10))), checkpointEvery: Math.max(1, Math.min(100, Math.round(steps / 4))),
      threads: trainingThreads(),
    },
    backend: d.backend,
    runsDir: d.runsDir,
  };
  const config = validateRunConfig(raw, d.folder, 'Adapt Model');
  const backendNote = d.backend === 'auto' ? `auto (${info.backend ?? 'best available'})` : d.backend;
  const runsOn = d.backend === 'auto' ? info.backend : d.backend;
  const wasm = runsOn === 'wasm';
  const threads = usesEveryCore(runsOn) ? 1 : config.training.threads;
  const mem = estimateTrainingMemory(info.config, {
    batchSize: batch, maxLength: config.training.maxLength, totalParams: info.totalParams, trainableParams: count.trainable, firstTrainableLayer: count.firstTrainableLayer, threads,
    // Where inspect found the base weights (outside the heap on BLAS); absent from older payloads.
    heapWeightBytes: info.weightLayout?.heapBytes, externalBytes: info.weightLayout?.externalBytes, blas: info.weightLayout?.blas,
  });
  const memNote = `≈ ${formatBytes(mem.bytes)}${wasm && mem.heapBytes > 0.9 * WASM_HEAP_LIMIT ? ' (over wasm’s 4 GiB heap: lower the batch size)' : ''}`;
  const summary = [
    `${formatCount(count.trainable)} of ${formatCount(count.total)} trainable (${formatPercent(count.percent)})`,
    `memory ${memNote}`,
    `backend ${backendNote}`,
    `${threads} thread${threads > 1 ? 's' : ''}`,
  ];
  const rel = (p: string) => relative(d.folder, p) || p;
  type Choice = vscode.QuickPickItem & { action: 'start' | 'torchrun' | 'save' | 'cancel' };
  const choice = await pickOne<Choice>([
    { action: 'start', label: '$(play) Start', description: `${steps} steps · lr ${lr} · batch ${batch}`, detail: summary.join(' · ') },
    { action: 'torchrun', label: '$(server-process) Run with torchrun…', description: 'the same run on PyTorch (DDP): needs torchrun; GPUs when CUDA is there', detail: 'Llama, Mistral, Qwen2/3 models; the run lands in the Runs view and the Monitor like any other' },
    { action: 'save', label: '$(save) Save as adapt-lab.json', description: 'to edit, then Adapt Model from Config' },
    { action: 'cancel', label: '$(close) Cancel' },
  ], { title: `${TITLE}: ${modelLabel(model)} on ${rel(train)}${validation ? ` (validation ${rel(validation)})` : ''}`, step: 6, totalSteps: STEPS, placeholder: count.method });
  if (!choice || choice.action === 'cancel') return undefined;
  if (choice.action === 'save') {
    await saveConfigFile(d.folder, raw);
    return undefined;
  }
  if (choice.action === 'torchrun') {
    const nproc = await askNumber({ step: STEPS, prompt: 'torchrun processes on this machine (--nproc_per_node): one per GPU, or CPU processes sharing the cores', value: Math.min(2, availableParallelism()), integer: true, min: 1, max: 1024 });
    if (nproc === undefined) return undefined;
    return { config, info, count, torchrun: { nproc } };
  }
  return { config, info, count };
}

/** Writes the flow's choices as an adapt-lab.json (relative paths) and opens it. */
async function saveConfigFile(folder: string, raw: Record<string, unknown> & { model: string; data: { train: string; validation?: string }; runsDir: string }): Promise<void> {
  let path = join(folder, 'adapt-lab.json');
  for (let i = 2; existsSync(path); i++) path = join(folder, `adapt-lab-${i}.json`);
  const rel = (p: string) => {
    const r = relative(dirname(path), p);
    return r.startsWith('..') ? p : r;
  };
  const out = {
    ...raw,
    model: rel(raw.model),
    data: { ...raw.data, train: rel(raw.data.train), ...(raw.data.validation ? { validation: rel(raw.data.validation) } : {}) },
    runsDir: rel(raw.runsDir),
  };
  writeFileSync(path, JSON.stringify(out, null, 2) + '\n');
  await vscode.window.showTextDocument(vscode.Uri.file(path));
}
