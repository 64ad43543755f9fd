// Folders of model files: LM Studio (`<models>/<publisher>/<repo>/*.gguf`), llama.cpp's cache
// (`*.gguf`), and folders the user names in settings (any .gguf file, and any folder with a
// config.json, at any depth up to a limit). Walks stay inside the root; a folder reached twice
// (a link back up the tree) is walked once.
import { join, relative, sep } from 'node:path';
import { CatalogueEntry, ModelSource } from '../../../protocol/catalogue';
import { probeGguf, probeHfFolder } from './probe';
import { Scope } from './scope';

/** One .gguf file as an entry (errors become the entry's error, never exceptions). */
export async function ggufEntry(scope: Scope, path: string, name: string, source: ModelSource): Promise<CatalogueEntry> {
  const r = await scope.resolve(path);
  if ('error' in r) return { name, source, path, format: 'gguf', sizeBytes: 0, trainable: false, reason: r.error, error: r.error };
  if (r.isDir) {
    const error = `${path} is a folder, not a GGUF file`;
    return { name, source, path, format: 'gguf', sizeBytes: 0, trainable: false, reason: error, error };
  }
  try {
    const { chatTemplate: _t, ...facts } = await probeGguf(r.real);
    return { name, source, path, format: 'gguf', ...facts };
  } catch (e) {
    const error = (e as Error).message;
    return { name, source, path, format: 'gguf', sizeBytes: r.size, trainable: false, reason: error, error };
  }
}

export interface WalkOptions {
  source: ModelSource;
  /** Folder depth below the root to look at (the root is 0). */
  maxDepth: number;
  /** The entry's name from its path relative to the root (`/`-separated). */
  nameOf: (rel: string) => string;
  /** Also list Hugging Face folders (a folder with config.json). */
  hfFolders: boolean;
}

/** Every model under the root. Folders that cannot be read become entries with an error. */
export async function walkModels(scope: Scope, o: WalkOptions): Promise<CatalogueEntry[]> {
  const out: CatalogueEntry[] = [];
  const seen = new Set<string>();
  const rel = (p: string) => relative(scope.root, p).split(sep).join('/');
  const walk = async (dir: string, real: string, depth: number): Promise<void> => {
    if (seen.has(real)) return;
    seen.add(real);
    const names = await scope.list(real);
    if (!Array.isArray(names)) {
      const name = o.nameOf(rel(dir) || '.');
      out.push({ name, source: o.source, path: dir, format: 'gguf', sizeBytes: 0, trainable: false, reason: names.error, error: names.error });
      return;
    }
    if (o.hfFolders && depth > 0 && names.includes('config.json')) {
      out.push({ name: o.nameOf(rel(dir)), source: o.source, path: dir, format: 'hf', ...await probeHfFolder(real, scope) });
      return;
    }
    for (const n of names) {
      if (n.startsWith('.')) continue;
      const p = join(dir, n);
      if (n.toLowerCase().endsWith('.gguf')) {
        out.push(await ggufEntry(scope, p, o.nameOf(rel(p)), o.source));
        continue;
      }
      if (depth >= o.maxDepth) continue;
      const r = await scope.resolve(p);
      if ('error' in r) {
        // Only links can be dangling, looping or outside: plain files that vanished are not worth a line.
        if (await scope.isLink(p)) out.push({ name: o.nameOf(rel(p)), source: o.source, path: p, format: 'gguf', sizeBytes: 0, trainable: false, reason: r.error, error: r.error });
        continue;
      }
      if (r.isDir) await walk(p, r.real, depth + 1);
    }
  };
  await walk(scope.root, scope.root, 0);
  return out;
}
