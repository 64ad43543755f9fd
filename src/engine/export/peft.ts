// PEFT LoRA adapter export: adapter_config.json + adapter_model.safetensors (+ README.md), loadable
// with `PeftModel.from_pretrained(base, dir)`. Keys are `base_model.model.<module>.lora_A.weight`
// [r, in] and `.lora_B.weight` [out, r] (our A [in, r] and B [r, out] transposed). Base parameters
// trained as full tensors travel as `modules_to_save` (full copies of their modules).
import { writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { CausalLM } from '../model/model';
import { transpose2d } from '../model/loader';
import { linearModules } from '../core/modules';
import { layerOf } from '../core/paths';
import { writeSafetensors, type SafetensorsWriteTensor } from '../core/formats/safetensors';
import { toHfLayout } from './merged';
import { tf } from '../tf';
import type { ExportSource } from './source';

/** Parameter names trained as full tensors: the given list, else every tf.Variable parameter. */
export function unfrozenOf(src: ExportSource): string[] {
  if (src.unfrozen) return src.unfrozen;
  return src.model.specs.filter((s) => src.model.params.get(s.name) instanceof tf.Variable).map((s) => s.name);
}

/** PEFT's placeholder for "no LoRA targets" (only modules_to_save), understood by recent PEFT versions. */
export const DUMMY_TARGET_MODULES = 'dummy-target-modules';

const suffix = (p: string) => p.slice(p.lastIndexOf('.') + 1);

/**
 * PEFT's target_modules for these LoRA module paths: the name suffixes (`q_proj`), with
 * layers_to_transform when they cover only some blocks, when that selects exactly these modules;
 * otherwise the full module paths.
 */
export function peftTargetModules(model: CausalLM, paths: string[]): { targetModules: string[]; layersToTransform?: number[] } {
  const want = new Set(paths);
  const same = (xs: string[]) => xs.length === want.size && xs.every((x) => want.has(x));
  const all = linearModules(model.specs).filter((p) => p !== model.family.headName);
  const names = [...new Set(paths.map(suffix))];
  const bySuffix = all.filter((p) => names.includes(suffix(p)));
  if (same(bySuffix)) return { targetModules: names };
  const layers = paths.map(layerOf);
  if (layers.every((l) => l !== undefined)) {
    const ls = [...new Set(layers as number[])].sort((a, b) => a - b);
    if (same(bySuffix.filter((p) => ls.includes(layerOf(p) ?? -1)))) return { targetModules: names, layersToTransform: ls };
  }
  return { targetModules: [...paths].sort() };
}

function mostCommon(xs: number[]): number {
  const n = new Map<number, number>();
  for (const x of xs) n.set(x, (n.get(x) ?? 0) + 1);
  return [...n].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0][0];
}

function readme(src: ExportSource, dir: string, cfg: Record<string, unknown>): string {
  const base = String(cfg.base_model_name_or_path);
  const gguf = /\.gguf$/i.test(base);
  const lines = [
    `# LoRA adapter${src.name ? `: ${src.name}` : ''}`,
    '',
    `Exported by Adapt Lab for the base model \`${base}\`.`,
    '',
    `- peft_type LORA, r ${String(cfg.r)}, lora_alpha ${String(cfg.lora_alpha)}, target_modules ${JSON.stringify(cfg.target_modules)}`
      + (cfg.layers_to_transform ? `, layers ${JSON.stringify(cfg.layers_to_transform)}` : ''),
  ];
  if (cfg.modules_to_save) lines.push(`- full copies of trained modules (modules_to_save): ${JSON.stringify(cfg.modules_to_save)}`);
  lines.push(
    '',
    '## Load with PEFT',
    '',
    '```python',
    'from transformers import AutoModelForCausalLM',
    'from peft import PeftModel',
    '',
    gguf
      ? `base = AutoModelForCausalLM.from_pretrained("path/to/the/folder/of", gguf_file="${basename(base)}")`
      : `base = AutoModelForCausalLM.from_pretrained("${base}")  # or the path to that model folder`,
    `model = PeftModel.from_pretrained(base, "${basename(dir)}")  # this folder`,
    '# optional: fold the adapter into the weights',
    'model = model.merge_and_unload()',
    '```',
    '',
  );
  if (gguf) lines.push('The base is a GGUF file: transformers dequantizes it on load. `adapt-lab export --format merged-hf` or `merged-gguf` writes the merged model directly.', '');
  return lines.join('\n');
}

/** Writes the PEFT adapter folder into `dir`; returns the file names written and notes. */
export function writePeft(src: ExportSource, dir: string, outPath = dir): { names: string[]; notes: string[] } {
  const model = src.model;
  const notes: string[] = [];
  const tensors: SafetensorsWriteTensor[] = [];
  const paths = [...model.lora.keys()];
  const specByName = new Map(model.specs.map((s) => [s.name, s]));

  let fanInFanOut = false;
  for (const path of paths) {
    const ad = model.lora.get(path)!;
    const ws = specByName.get(`${path}.weight`);
    if (!ws) throw new Error(`LoRA on "${path}", which has no weight`);
    if (ws.layout === 'conv1d') fanInFanOut = true;
    const [inF, r] = ad.A.shape as number[];
    const outF = (ad.B.shape as number[])[1];
    tensors.push({ name: `base_model.model.${path}.lora_A.weight`, shape: [r, inF], data: transpose2d(ad.A.dataSync() as Float32Array, inF, r) });
    tensors.push({ name: `base_model.model.${path}.lora_B.weight`, shape: [outF, r], data: transpose2d(ad.B.dataSync() as Float32Array, r, outF) });
  }
  if (fanInFanOut && paths.some((p) => specByName.get(`${p}.weight`)!.layout !== 'conv1d')) {
    throw new Error('LoRA targets mix Conv1D and Linear modules; PEFT has one fan_in_fan_out per adapter (export merged-hf instead)');
  }

  // Trained base parameters → modules_to_save: each module holding one, saved whole.
  const unfrozen = unfrozenOf(src);
  const moduleOf = (name: string) => name.slice(0, name.lastIndexOf('.'));
  const modules = [...new Set(unfrozen.map(moduleOf))];
  const clash = modules.filter((m) => model.lora.has(m));
  if (clash.length) {
    throw new Error(`${clash.join(', ')} ${clash.length > 1 ? 'have' : 'has'} both a LoRA adapter and trained base parameters, `
      + 'which PEFT cannot hold together; export merged-hf or merged-gguf instead');
  }
  for (const s of model.specs) {
    if (!modules.includes(moduleOf(s.name))) continue;
    tensors.push({ name: `base_model.model.${s.name}`, shape: s.shape.slice(), data: toHfLayout(s, model.values(s.name)) });
  }
  if (modules.length) {
    notes.push(`${unfrozen.length} trained base parameter${unfrozen.length > 1 ? 's' : ''} written as full copies of ${modules.length} module${modules.length > 1 ? 's' : ''} (PEFT modules_to_save: ${modules.join(', ')})`);
  }

  const ads = paths.map((p) => model.lora.get(p)!);
  const r = ads.length ? mostCommon(ads.map((a) => a.rank)) : 8;
  const alpha = ads.length ? mostCommon(ads.map((a) => a.alpha)) : r;
  const rankPattern: Record<string, number> = {};
  const alphaPattern: Record<string, number> = {};
  paths.forEach((p, i) => {
    if (ads[i].rank !== r) rankPattern[p] = ads[i].rank;
    if (ads[i].alpha !== alpha) alphaPattern[p] = ads[i].alpha;
  });
  const targets = paths.length ? peftTargetModules(model, paths) : undefined;
  const config: Record<string, unknown> = {
    alpha_pattern: alphaPattern,
    auto_mapping: null,
    base_model_name_or_path: src.baseModelName ?? basename(src.base.path), // a name, never a local absolute path
    bias: 'none',
    fan_in_fan_out: fanInFanOut,
    inference_mode: true,
    init_lora_weights: true,
    layers_pattern: null,
    layers_to_transform: targets?.layersToTransform ?? null,
    lora_alpha: alpha,
    lora_dropout: ads.length ? ads[0].dropout : 0,
    modules_to_save: modules.length ? modules : null,
    peft_type: 'LORA',
    r,
    rank_pattern: rankPattern,
    revision: null,
    target_modules: targets ? targets.targetModules : DUMMY_TARGET_MODULES,
    task_type: 'CAUSAL_LM',
    use_dora: false,
    use_rslora: false,
  };
  if (!paths.length) notes.push(`no LoRA adapters: target_modules is PEFT's "${DUMMY_TARGET_MODULES}" placeholder (needs a recent PEFT)`);
  writeSafetensors(join(dir, 'adapter_model.safetensors'), tensors);
  writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify(config, null, 2) + '\n');
  writeFileSync(join(dir, 'README.md'), readme(src, outPath, config));
  return { names: ['adapter_config.json', 'adapter_model.safetensors', 'README.md'], notes };
}
