// The Hugging Face hub cache as huggingface_hub lays it out:
//   <cache>/models--ORG--NAME/refs/main             the current revision (a commit hash)
//   <cache>/models--ORG--NAME/snapshots/<rev>/...   files, symlinks into ../../blobs/
//   <cache>/models--ORG--NAME/blobs/<hash>
// One entry per model repository, for the revision refs/main names (else the newest snapshot).
// A repository of GGUF files (…-GGUF) gives one entry per .gguf file in the snapshot.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CatalogueEntry } from '../../../protocol/catalogue';
import { probeHfFolder } from './probe';
import { Scope } from './scope';
import { ggufEntry } from './gguf-files';

const PREFIX = 'models--';

/** `models--Qwen--Qwen2.5-0.5B` → `Qwen/Qwen2.5-0.5B` (as huggingface_hub's scan_cache_dir). */
export function repoIdOf(folder: string): string {
  return folder.slice(PREFIX.length).replace(/--/g, '/');
}

async function newestSnapshot(scope: Scope, snapshots: string): Promise<string | undefined> {
  const names = await scope.list(snapshots);
  if (!Array.isArray(names)) return undefined;
  let best: { name: string; t: number } | undefined;
  for (const n of names) {
    const t = (await stat(join(snapshots, n)).catch(() => undefined))?.mtimeMs ?? -1;
    if (!best || t > best.t) best = { name: n, t };
  }
  return best?.name;
}

export async function scanHuggingFace(scope: Scope): Promise<CatalogueEntry[]> {
  const out: CatalogueEntry[] = [];
  const names = await scope.list(scope.root);
  if (!Array.isArray(names)) throw new Error(names.error);
  for (const folder of names.filter((n) => n.startsWith(PREFIX))) {
    const name = repoIdOf(folder);
    const repo = join(scope.root, folder);
    const broken = (path: string, error: string): CatalogueEntry =>
      ({ name, source: 'huggingface', path, format: 'hf', sizeBytes: 0, trainable: false, reason: error, error });
    const listed = await scope.list(repo);
    if (!Array.isArray(listed)) { out.push(broken(repo, listed.error)); continue; }
    const snapshots = join(repo, 'snapshots');
    let revision: string | undefined;
    const ref = await scope.readText(join(repo, 'refs', 'main'), 1024);
    if (typeof ref === 'string') revision = ref.trim();
    else revision = await newestSnapshot(scope, snapshots);
    if (!revision) { out.push(broken(repo, `${repo} has no snapshot (an interrupted download?)`)); continue; }
    if (!/^[A-Za-z0-9._-]+$/.test(revision)) { out.push(broken(repo, `refs/main holds ${JSON.stringify(revision.slice(0, 60))}, not a revision`)); continue; }
    const snap = join(snapshots, revision);
    const files = await scope.list(snap);
    if (!Array.isArray(files)) {
      out.push(broken(snap, typeof ref === 'string' ? `refs/main names revision ${revision}, but ${files.error}` : files.error));
      continue;
    }
    const ggufs = files.filter((f) => f.toLowerCase().endsWith('.gguf'));
    if (!files.includes('config.json') && ggufs.length) {
      for (const f of ggufs) {
        const e = await ggufEntry(scope, join(snap, f), `${name}/${f}`, 'huggingface');
        out.push({ ...e, revision });
      }
      continue;
    }
    out.push({ name, source: 'huggingface', path: snap, format: 'hf', revision, ...await probeHfFolder(snap, scope) });
  }
  return out;
}
