// The model catalogue: models already on the machine (Hugging Face cache, Ollama, LM Studio,
// llama.cpp's cache, folders from settings), as `adapt-lab models --json` prints it and the
// extension's model pickers show it. `validateCatalogue` checks a value read from a process.

export const CATALOGUE_VERSION = 1;

export type ModelSource = 'huggingface' | 'ollama' | 'lmstudio' | 'llamacpp' | 'folder';
export const MODEL_SOURCES: readonly ModelSource[] = ['huggingface', 'ollama', 'lmstudio', 'llamacpp', 'folder'];

/** How each source is shown to people. */
export const SOURCE_TITLES: Record<ModelSource, string> = {
  huggingface: 'Hugging Face cache', ollama: 'Ollama', lmstudio: 'LM Studio', llamacpp: 'llama.cpp cache', folder: 'Model folders',
};

export interface CatalogueEntry {
  /** The name as the user knows it: `llama3.2:1b`, `Qwen/Qwen2.5-0.5B-Instruct`, `publisher/repo/file.gguf`. */
  name: string;
  source: ModelSource;
  /** What to load: a .gguf file (an Ollama blob included) or a Hugging Face folder. */
  path: string;
  format: 'gguf' | 'hf';
  /** Architecture (`general.architecture` or config.json's model_type), when readable. */
  family?: string;
  params?: number;
  /** `Q4_K_M`, `F16`, `BF16`…: the file type of a GGUF, the dominant dtype of safetensors. */
  dtype?: string;
  /** Bytes on disk of the files the model is made of. */
  sizeBytes: number;
  trainable: boolean;
  /** Why Adapt Lab cannot train it (set when trainable is false). */
  reason?: string;
  /** The entry could not be read (broken manifest, dangling blob, symlink loop, unreadable folder). */
  error?: string;
  /** Hugging Face cache: the snapshot revision listed (refs/main). */
  revision?: string;
  /** Ollama: the manifest's template and parameters layers. */
  template?: string;
  stop?: string[];
  parameters?: Record<string, unknown>;
}

export interface CatalogueRoot {
  source: ModelSource;
  path: string;
  /** Why this root is scanned: the env variable, setting, or "default". */
  via: string;
  exists: boolean;
  /** A problem with the root itself (unreadable, not a folder, scan stopped by the time limit). */
  error?: string;
}

export interface Catalogue {
  version: typeof CATALOGUE_VERSION;
  roots: CatalogueRoot[];
  models: CatalogueEntry[];
  scanMs: number;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function entry(v: unknown, at: string, out: string[]): void {
  if (!isObj(v)) { out.push(`${at}: not an object`); return; }
  const str = (k: string, required: boolean) => {
    if (v[k] === undefined) { if (required) out.push(`${at}.${k}: missing`); return; }
    if (typeof v[k] !== 'string') out.push(`${at}.${k}: not a string`);
  };
  str('name', true);
  str('path', true);
  for (const k of ['family', 'dtype', 'reason', 'error', 'revision', 'template']) str(k, false);
  if (!MODEL_SOURCES.includes(v.source as ModelSource)) out.push(`${at}.source: ${JSON.stringify(v.source)} is not one of ${MODEL_SOURCES.join(', ')}`);
  if (v.format !== 'gguf' && v.format !== 'hf') out.push(`${at}.format: ${JSON.stringify(v.format)} is not gguf or hf`);
  if (!isCount(v.sizeBytes)) out.push(`${at}.sizeBytes: not a non-negative integer`);
  if (v.params !== undefined && !isCount(v.params)) out.push(`${at}.params: not a non-negative integer`);
  if (typeof v.trainable !== 'boolean') out.push(`${at}.trainable: not a boolean`);
  else if (!v.trainable && typeof v.reason !== 'string') out.push(`${at}.reason: missing for an entry that cannot be trained`);
  if (v.stop !== undefined && !(Array.isArray(v.stop) && v.stop.every((s) => typeof s === 'string'))) out.push(`${at}.stop: not a list of strings`);
  if (v.parameters !== undefined && !isObj(v.parameters)) out.push(`${at}.parameters: not an object`);
}

/** Every problem with `value` as a Catalogue, one line each (empty when valid). */
export function validateCatalogue(value: unknown): string[] {
  const out: string[] = [];
  if (!isObj(value)) return ['catalogue: not an object'];
  if (value.version !== CATALOGUE_VERSION) out.push(`catalogue.version: ${JSON.stringify(value.version)}, expected ${CATALOGUE_VERSION}`);
  if (typeof value.scanMs !== 'number' || !(value.scanMs >= 0)) out.push('catalogue.scanMs: not a non-negative number');
  if (!Array.isArray(value.roots)) out.push('catalogue.roots: not a list');
  else {
    value.roots.forEach((r, i) => {
      const at = `catalogue.roots[${i}]`;
      if (!isObj(r)) { out.push(`${at}: not an object`); return; }
      if (!MODEL_SOURCES.includes(r.source as ModelSource)) out.push(`${at}.source: ${JSON.stringify(r.source)} is not a source`);
      if (typeof r.path !== 'string' || typeof r.via !== 'string') out.push(`${at}: path and via must be strings`);
      if (typeof r.exists !== 'boolean') out.push(`${at}.exists: not a boolean`);
      if (r.error !== undefined && typeof r.error !== 'string') out.push(`${at}.error: not a string`);
    });
  }
  if (!Array.isArray(value.models)) out.push('catalogue.models: not a list');
  else value.models.forEach((m, i) => entry(m, `catalogue.models[${i}]`, out));
  return out;
}

/** The value as a Catalogue, or an Error listing its problems (one per line). */
export function parseCatalogue(value: unknown, source = 'adapt-lab models --json'): Catalogue {
  const problems = validateCatalogue(value);
  if (problems.length) throw new Error(problems.slice(0, 20).map((p) => `${source}: ${p}`).join('\n'));
  return value as Catalogue;
}
