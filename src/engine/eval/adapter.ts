// Puts an adapter on a freshly loaded base model for evaluation: a run folder (run.json: the
// run's best checkpoint, else its latest) or a PEFT LoRA folder (adapter_config.json +
// adapter_model.safetensors, as `adapt-lab export --format peft` or PEFT's save_pretrained
// writes it).
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tf } from '../tf';
import { LoadedModel, transpose2d } from '../model/loader';
import { internalShape } from '../core/params';
import { addLora, mergeLora } from '../model/lora';
import { readSafetensors, TensorEntry } from '../core/formats/safetensors';
import { applyRunAdapter } from '../runs/adapter';
import { RUN_FILE } from '../core/runs/store';
import { adapterKind, PEFT_CONFIG, PEFT_WEIGHTS } from '../core/adapter-folder';
import { Rng } from '../random';

export interface EvalAdapterInfo {
  kind: 'run' | 'peft';
  /** Absolute path of the folder. */
  path: string;
  runId?: string;
  step?: number;
  /** One line for people, e.g. "run 2024…-mood (LoRA r8 …), checkpoint step 40". */
  summary: string;
  /** The base model the adapter was made for, as it recorded it (a path or a hub name). */
  baseModel?: string;
}

/** The model a run was trained from (its config's model path), or undefined for a PEFT folder. */
export function runBaseModel(path: string): string | undefined {
  const file = join(resolve(path), RUN_FILE);
  if (!existsSync(file)) return undefined;
  const rec = JSON.parse(readFileSync(file, 'utf8')) as { config?: { model?: unknown } };
  return typeof rec.config?.model === 'string' ? rec.config.model : undefined;
}

/**
 * Applies the adapter in `path` to `lm` (freshly loaded, no adapter yet) for inference: LoRA
 * adapters are merged into their base weights, so the adapted model decodes as fast as the base.
 */
export function applyEvalAdapter(lm: LoadedModel, path: string): EvalAdapterInfo {
  const dir = resolve(path);
  const kind = adapterKind(dir);
  let info: EvalAdapterInfo;
  if (kind === 'run') {
    const a = applyRunAdapter(lm, dir);
    info = { kind, path: dir, runId: a.runId, step: a.step, summary: `run ${a.runId} (${a.method}), checkpoint step ${a.step}`, baseModel: runBaseModel(dir) };
  } else info = applyPeftAdapter(lm, dir);
  mergeLora(lm.model);
  return info;
}

interface PeftConfig {
  peft_type?: string;
  r?: number;
  lora_alpha?: number;
  rank_pattern?: Record<string, number>;
  alpha_pattern?: Record<string, number>;
  use_dora?: boolean;
  use_rslora?: boolean;
  base_model_name_or_path?: string;
}

/** The pattern entry for a module path: a key equal to the path or a suffix of it at a dot. */
function patternValue(pattern: Record<string, number> | undefined, path: string): number | undefined {
  if (!pattern) return undefined;
  let best: string | undefined;
  for (const k of Object.keys(pattern)) {
    if ((path === k || path.endsWith(`.${k}`)) && (!best || k.length > best.length)) best = k;
  }
  return best === undefined ? undefined : pattern[best];
}

/** A PEFT LoRA folder onto the model: A = lora_A.weightᵀ, B = lora_B.weightᵀ, full modules_to_save copies replace parameters. */
export function applyPeftAdapter(lm: LoadedModel, dir: string): EvalAdapterInfo {
  const cfgPath = join(dir, PEFT_CONFIG);
  let cfg: PeftConfig;
  try {
    cfg = JSON.parse(readFileSync(cfgPath, 'utf8')) as PeftConfig;
  } catch (e) {
    throw new Error(`${cfgPath}: not valid JSON (${(e as Error).message})`);
  }
  if (cfg.peft_type !== undefined && cfg.peft_type !== 'LORA') throw new Error(`${cfgPath}: peft_type "${cfg.peft_type}" is not supported (LORA only)`);
  if (cfg.use_dora) throw new Error(`${cfgPath}: DoRA adapters (use_dora) are not supported`);
  if (cfg.use_rslora) throw new Error(`${cfgPath}: rank-stabilised LoRA (use_rslora) is not supported`);
  const model = lm.model;
  const file = readSafetensors(join(dir, PEFT_WEIGHTS));
  const lora = new Map<string, { A?: TensorEntry; B?: TensorEntry }>();
  const full = new Map<string, TensorEntry>();
  const unknown: string[] = [];
  const specs = new Map(model.specs.map((s) => [s.name, s]));
  for (const [key, t] of file.tensors) {
    const name = key.replace(/^base_model\.model\./, '').replace('.modules_to_save', '').replace(/\.default(?=\.)/, '');
    const m = name.match(/^(.*)\.lora_([AB])\.weight$/);
    if (m) {
      const e = lora.get(m[1]) ?? {};
      e[m[2] as 'A' | 'B'] = t;
      lora.set(m[1], e);
    } else if (specs.has(name)) full.set(name, t);
    else unknown.push(key);
  }
  const src = `${dir}/${PEFT_WEIGHTS}`;
  if (unknown.length) throw new Error(`${src}: tensors that are neither LoRA weights nor parameters of this model: ${unknown.slice(0, 5).join(', ')}${unknown.length > 5 ? ` and ${unknown.length - 5} more` : ''} (made for another model?)`);
  if (!lora.size && !full.size) throw new Error(`${src}: holds no tensors`);
  // Check everything before changing the model.
  const plan: { path: string; r: number; inF: number; outF: number; A: TensorEntry; B: TensorEntry }[] = [];
  for (const [path, { A, B }] of lora) {
    if (!A || !B) throw new Error(`${src}: "${path}" has lora_${A ? 'A' : 'B'} but no lora_${A ? 'B' : 'A'}`);
    const ws = specs.get(`${path}.weight`);
    if (!ws || (ws.layout !== 'linear' && ws.layout !== 'conv1d')) throw new Error(`${src}: LoRA on "${path}", which is not a linear module of this model`);
    const [inF, outF] = internalShape(ws);
    const r = A.shape[0];
    if (A.shape.length !== 2 || B.shape.length !== 2 || A.shape[1] !== inF || B.shape[0] !== outF || B.shape[1] !== r) {
      throw new Error(`${src}: "${path}" lora_A [${A.shape}] / lora_B [${B.shape}] do not fit a [${inF} → ${outF}] module (expected [r, ${inF}] and [${outF}, r])`);
    }
    plan.push({ path, r, inF, outF, A, B });
  }
  for (const [name, t] of full) {
    const s = specs.get(name)!;
    if (t.shape.join() !== s.shape.join()) throw new Error(`${src}: "${name}" has shape [${t.shape}], the model's is [${s.shape}]`);
  }
  const rng = new Rng(0);
  for (const p of plan) {
    const rank = patternValue(cfg.rank_pattern, p.path) ?? cfg.r ?? p.r;
    if (rank !== p.r) throw new Error(`${cfgPath}: r is ${rank} for "${p.path}", but its lora_A has ${p.r} rows`);
    const alpha = patternValue(cfg.alpha_pattern, p.path) ?? cfg.lora_alpha ?? p.r;
    addLora(model, p.path, { rank: p.r, alpha, dropout: 0 }, rng);
    const ad = model.lora.get(p.path)!;
    tf.tidy(() => {
      ad.A.assign(tf.tensor2d(transpose2d(p.A.data, p.r, p.inF), [p.inF, p.r]));
      ad.B.assign(tf.tensor2d(transpose2d(p.B.data, p.outF, p.r), [p.r, p.outF]));
    });
  }
  for (const [name, t] of full) {
    const s = specs.get(name)!;
    const data = s.layout === 'linear' ? transpose2d(t.data, s.shape[0], s.shape[1]) : t.data;
    const old = model.params.get(name); // undefined where the base keeps it external
    model.setParam(name, tf.tensor(data, internalShape(s), 'float32'));
    old?.dispose();
  }
  const rs = [...new Set(plan.map((p) => p.r))].join('/');
  const parts = [];
  if (plan.length) parts.push(`LoRA r${rs} on ${plan.length} modules`);
  if (full.size) parts.push(`${full.size} full parameters`);
  return { kind: 'peft', path: dir, summary: `PEFT adapter ${dir} (${parts.join(' + ')})`, baseModel: cfg.base_model_name_or_path };
}
