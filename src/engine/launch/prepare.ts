// A run config made ready for the PyTorch trainer: resolved and loaded exactly as `train` does
// (the model, its chat template, the data with its validation split and replay mix, the adapt
// plan with LoRA initialised from the run's seed by our engine, the batch plan), then written
// as a launch folder that python/adapt_lab_torch reads:
//
//   launch.json          model (path, format, config), LoRA targets/rank/alpha/dropout, the
//                        trainable parameters in the engine's order (name, layout, decay, LR
//                        scale), training settings, seed, step counts, pad id, the PEFT adapter
//                        config, the `started` event's fields and a run.json template
//   data/train.*         token-id shards (shards.ts); data/validation.* when there is validation
//   data/plan.json       each step's micro-batches as lists of training-example indices
//   initial_adapter/     the starting LoRA weights as our PEFT export writes them
//   adapt_lab_torch/     the trainer (copied, so the folder runs anywhere torch is installed)
//   README.md            how to run it by hand (one node, several nodes)
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { RunConfig } from '../../protocol/config';
import { TokenStats } from '../../protocol/events';
import { loadModel, LoadedModel } from '../model/loader';
import { Rng } from '../random';
import { chatFormatFor } from '../chat/encode';
import { applyAdapt, AdaptResult } from '../adapt/methods';
import { BatchPlan, loadRunData, RunData } from '../train/run-data';
import { modelOrigin } from '../core/catalogue';
import { hashFiles, RunBase } from '../core/runs/store';
import { modelName, sourceFromLoaded } from '../export';
import { writePeft } from '../export/peft';
import { writeShard } from './shards';
import { launchReadme } from './torchrun';
import type { ChatTemplateInfo } from '../core/chat-info';

export const LAUNCH_DIR = 'launch';
export const LAUNCH_FORMAT = 1;

export interface PreparedLaunch {
  config: RunConfig;
  lm: LoadedModel;
  data: RunData;
  adapted: AdaptResult;
  plan: BatchPlan;
  base: Omit<RunBase, 'sha256'>;
  /** Model and data files, for the run's fingerprints. */
  files: string[];
  chat?: ChatTemplateInfo;
  params: { total: number; trainable: number; percent: number };
}

function padId(tok: { pad?: number; eos?: number }): number {
  return tok.pad ?? tok.eos ?? 0;
}

/** Loads what `train` would (the TensorFlow.js backend must be chosen): nothing is written. */
export async function prepareLaunch(config: RunConfig): Promise<PreparedLaunch> {
  const lm = await loadModel(config.model);
  const c = lm.model.config;
  const arch = c.family === 'llama' ? c.arch ?? 'llama' : c.family;
  if (c.family === 'llama' && (!['llama', 'mistral', 'qwen2', 'qwen3'].includes(arch) || c.slidingWindow)) {
    lm.model.dispose();
    throw new Error(`${config.model}: the PyTorch trainer has the Llama, Mistral, Qwen2, Qwen3 (without sliding windows) and GPT-2 decoders; this is ${arch}${c.slidingWindow ? ' with a sliding window' : ''}: train it with \`adapt-lab train\``);
  }
  try {
    const q = [...lm.model.external].find(([, m]) => !['F32', 'F16', 'BF16'].includes(m.type));
    if (q) {
      throw new Error(`${config.model}: tensor "${q[0]}" is ${q[1].type}; the PyTorch trainer reads F32, F16 and BF16 weights only: use an F16/F32 GGUF or the model's Hugging Face folder (or train this file with \`adapt-lab train\`)`);
    }
    const tokenizer = lm.tokenizer;
    if (!tokenizer) throw new Error(`${config.model}: the model has no tokenizer`);
    const chat = chatFormatFor(lm.chatTemplate, tokenizer);
    const data = loadRunData(config, tokenizer, chat);
    const t = config.training;
    const adapted = applyAdapt(lm.model, config.adapt, { rng: new Rng(config.seed), layerLrDecay: t.layerLrDecay, l2sp: t.l2sp > 0 });
    const plan = new BatchPlan(data.train.length, t, config.seed);
    const files = [...lm.files, config.data.train, ...(config.data.validation ? [config.data.validation] : []), ...(config.data.replay ? [config.data.replay] : [])];
    const params = { total: adapted.total, trainable: adapted.trainable, percent: (100 * adapted.trainable) / adapted.total };
    return { config, lm, data, adapted, plan, base: { ...(await modelOrigin(config.model)), path: config.model }, files, chat: data.trainSet.chat, params };
  } catch (e) {
    lm.model.dispose();
    throw e;
  }
}

export interface LaunchFolderOptions {
  runDir: string;
  runId: string;
  runName: string;
  /** The folder holding the adapt_lab_torch package (the repository's or the extension's python/). */
  pythonDir: string;
  nproc: number;
  /** The model and data files' SHA-256 when the run record has them already (else hashed here). */
  hashes?: Record<string, string>;
}

/** Writes `<runDir>/launch/` for a prepared run and returns its path. */
export function writeLaunchFolder(p: PreparedLaunch, o: LaunchFolderOptions): string {
  const dir = join(o.runDir, LAUNCH_DIR);
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir, { recursive: true });
  const { config, lm, data, adapted, plan } = p;
  const t = config.training;

  writeShard(dataDir, 'train', data.train);
  if (data.validation.length) writeShard(dataDir, 'validation', data.validation);
  const steps = Array.from({ length: plan.totalSteps }, (_, s) => plan.micro(s));
  writeFileSync(join(dataDir, 'plan.json'), `{"steps":[\n${steps.map((s) => JSON.stringify(s)).join(',\n')}\n]}\n`);

  // The starting adapter, written by our own PEFT export from the engine's initialisation.
  const unfrozen = adapted.params.filter((q) => q.name.startsWith('param:')).map((q) => q.name.slice('param:'.length));
  const initial = join(dir, 'initial_adapter');
  mkdirSync(initial, { recursive: true });
  const baseModelName = p.base.source === 'huggingface' ? p.base.name : modelName(config.model);
  writePeft(sourceFromLoaded(lm, { unfrozen, loraLayers: config.adapt.lora?.layers, baseModelName, name: o.runName }), initial);
  const adapterConfig = JSON.parse(readFileSync(join(initial, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;

  const specs = new Map(lm.model.specs.map((s) => [s.name, s]));
  const lora = config.adapt.lora && lm.model.lora.size ? config.adapt.lora : undefined;
  const started: { runId: string; runDir: string; config: RunConfig; params: PreparedLaunch['params']; train: TokenStats; validation?: TokenStats; totalSteps: number; stepsPerEpoch: number } = {
    runId: o.runId, runDir: o.runDir, config, params: p.params, train: data.trainSet.stats, totalSteps: plan.totalSteps, stepsPerEpoch: plan.stepsPerEpoch,
  };
  if (data.validationStats) started.validation = data.validationStats;
  const launch = {
    format: LAUNCH_FORMAT,
    name: o.runName,
    // Processes per node it was launched with (a resume without --nproc uses it).
    nproc: o.nproc,
    runDir: '..',
    model: {
      path: resolve(config.model),
      format: lm.format,
      config: lm.model.config,
    },
    lora: lora ? { rank: lora.rank, alpha: lora.alpha, dropout: lora.dropout, modules: [...lm.model.lora.keys()] } : null,
    params: adapted.params.map((q) => ({
      name: q.name,
      layout: q.name.startsWith('param:') ? specs.get(q.name.slice('param:'.length))!.layout : 'lora',
      decay: q.decay,
      lrScale: q.lrScale,
    })),
    training: t,
    seed: config.seed,
    totalSteps: plan.totalSteps,
    stepsPerEpoch: plan.stepsPerEpoch,
    padId: padId(lm.tokenizer!),
    data: { train: 'data/train', validation: data.validation.length ? 'data/validation' : null },
    plan: 'data/plan.json',
    initialAdapter: 'initial_adapter/adapter_model.safetensors',
    adapterConfig,
    started,
    // run.json for a folder run by hand (no launcher): the trainer fills status and times.
    record: {
      id: o.runId, name: o.runName, status: 'running', config, versions: {}, method: `${adapted.method} (PyTorch)`, params: p.params,
      machine: { platform: process.platform, arch: process.arch, cpus: 0, totalMemMiB: 0, node: '' },
      hashes: o.hashes ?? hashFiles(p.files), base: p.base, ...(p.chat ? { chatTemplate: p.chat } : {}),
    },
  };
  writeFileSync(join(dir, 'launch.json'), `${JSON.stringify(launch, null, 2)}\n`);
  cpSync(join(o.pythonDir, 'adapt_lab_torch'), join(dir, 'adapt_lab_torch'), { recursive: true, filter: (src) => !/__pycache__|\.pyc$/.test(src) });
  writeFileSync(join(dir, 'README.md'), launchReadme({ name: o.runName, model: relative(dir, resolve(config.model)) || config.model, nproc: o.nproc }));
  return dir;
}
