// The model catalogue: every model already on the machine, from headers only, in bounded time.
// A broken entry is listed with its error and never stops the scan; a root that cannot be
// read, or that the time or entry limit cut short, says so on the root.
import { realpath } from 'node:fs/promises';
import { basename, relative, sep } from 'node:path';
import { Catalogue, CATALOGUE_VERSION, CatalogueEntry, CatalogueRoot, ModelSource } from '../../../protocol/catalogue';
import { scanHuggingFace } from './huggingface';
import { walkModels } from './gguf-files';
import { Location, LocationOptions, modelLocations } from './locations';
import { scanOllama } from './ollama';
import { Budget, BudgetSpent, Scope } from './scope';

export { modelLocations } from './locations';

export interface ScanOptions extends LocationOptions {
  /** Give up after this long (the entries found so far are kept). Default 20 s. */
  timeLimitMs?: number;
  /** Give up after looking at this many folder entries. Default 100,000. */
  maxEntries?: number;
  /** Scan these instead of modelLocations(options). */
  locations?: Location[];
}

const gguf = (rel: string) => rel.replace(/\.gguf$/i, '');

async function scanOne(scope: Scope, l: Location): Promise<CatalogueEntry[]> {
  switch (l.source) {
    case 'huggingface': return scanHuggingFace(scope);
    case 'ollama': return scanOllama(scope);
    // LM Studio: <publisher>/<repo>/<file>.gguf, named as LM Studio's model keys are.
    case 'lmstudio': return walkModels(scope, { source: 'lmstudio', maxDepth: 3, nameOf: (r) => r, hfFolders: false });
    case 'llamacpp': return walkModels(scope, { source: 'llamacpp', maxDepth: 2, nameOf: gguf, hfFolders: false });
    case 'folder': return walkModels(scope, { source: 'folder', maxDepth: 4, nameOf: (r) => (r === '.' ? basename(l.path) : `${basename(l.path)}/${gguf(r)}`), hfFolders: true });
  }
}

export async function scanCatalogue(o: ScanOptions = {}): Promise<Catalogue> {
  const t0 = Date.now();
  const budget = new Budget(t0 + (o.timeLimitMs ?? 20_000), o.maxEntries ?? 100_000);
  const roots: CatalogueRoot[] = [];
  const models: CatalogueEntry[] = [];
  const seenRoots = new Set<string>();
  for (const l of o.locations ?? modelLocations(o)) {
    const root: CatalogueRoot = { source: l.source, path: l.path, via: l.via, exists: false };
    roots.push(root);
    const scope = await Scope.open(l.path, budget);
    if (!(scope instanceof Scope)) {
      if (!scope.missing) { root.exists = true; root.error = scope.error; }
      continue;
    }
    root.exists = true;
    if (seenRoots.has(scope.root)) continue; // the same folder named twice (a link, a setting)
    seenRoots.add(scope.root);
    try {
      models.push(...await scanOne(scope, l));
    } catch (e) {
      root.error = e instanceof BudgetSpent ? e.message : `cannot scan ${l.path}: ${(e as Error).message}`;
      if (e instanceof BudgetSpent) break;
    }
  }
  return { version: CATALOGUE_VERSION, roots, models, scanMs: Date.now() - t0 };
}

/** Where a model path came from, as a run records it: source and name, or a plain file. */
export interface ModelOrigin { source: ModelSource | 'file'; name: string }

/**
 * The catalogue name of `path` when it lies in one of the known stores (an Ollama blob is
 * named by the manifest that points at it), else `{ source: 'file' }` with its file name.
 */
export async function identifyModel(path: string, o: ScanOptions = {}): Promise<ModelOrigin> {
  const real = await realpath(path).catch(() => path);
  for (const l of o.locations ?? modelLocations(o)) {
    const root = await realpath(l.path).catch(() => undefined);
    if (!root) continue;
    const rel = relative(root, real);
    if (rel === '' || rel.startsWith('..') || rel.startsWith(sep) || /^[A-Za-z]:/.test(rel)) continue;
    const cat = await scanCatalogue({ ...o, locations: [l], timeLimitMs: o.timeLimitMs ?? 10_000 });
    const names: string[] = [];
    for (const m of cat.models) if ((await realpath(m.path).catch(() => m.path)) === real) names.push(m.name);
    // Tags sharing one blob (`llama3.2:1b`, `llama3.2:latest`): the shortest name is the one people type.
    names.sort((a, b) => a.length - b.length || a.localeCompare(b));
    if (names.length) return { source: l.source, name: names[0] };
  }
  return { source: 'file', name: basename(path).replace(/\.gguf$/i, '') };
}

/** identifyModel that never fails: a run starts even when a store cannot be read. */
export async function modelOrigin(path: string, o: ScanOptions = {}): Promise<ModelOrigin> {
  try {
    return await identifyModel(path, o);
  } catch {
    return { source: 'file', name: basename(path).replace(/\.gguf$/i, '') };
  }
}
