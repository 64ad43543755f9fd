// Ollama's store as Ollama lays it out:
//   <models>/manifests/<registry>/<namespace>/<name>/<tag>   a JSON manifest (OCI image style)
//   <models>/blobs/sha256-<hex>                               layers, named by their digest
// The layer of mediaType application/vnd.ollama.image.model is the GGUF; ...image.template holds
// the Go template and ...image.params a JSON object (stop, temperature, …).
import { join } from 'node:path';
import { CatalogueEntry } from '../../../protocol/catalogue';
import { ggufEntry } from './gguf-files';
import { Scope } from './scope';

const DEFAULT_REGISTRY = 'registry.ollama.ai';
const MEDIA = 'application/vnd.ollama.image.';
const MAX_MANIFEST = 1024 * 1024;
const MAX_TEXT_LAYER = 1024 * 1024;

/** The name `ollama run` takes: `llama3.2:1b`, `ns/name:tag`, or `host/ns/name:tag` for other registries. */
export function ollamaName(registry: string, namespace: string, name: string, tag: string): string {
  if (registry === DEFAULT_REGISTRY) return namespace === 'library' ? `${name}:${tag}` : `${namespace}/${name}:${tag}`;
  return `${registry}/${namespace}/${name}:${tag}`;
}

/** `sha256:<hex>` → `blobs/sha256-<hex>` under the root, or undefined for a malformed digest. */
export function blobPath(root: string, digest: unknown): string | undefined {
  if (typeof digest !== 'string') return undefined;
  const m = digest.match(/^sha256[:-]([0-9a-f]{64})$/);
  return m ? join(root, 'blobs', `sha256-${m[1]}`) : undefined;
}

interface Layer { mediaType?: unknown; digest?: unknown; size?: unknown }

export async function scanOllama(scope: Scope): Promise<CatalogueEntry[]> {
  const out: CatalogueEntry[] = [];
  const manifests = join(scope.root, 'manifests');
  const levels = async (dir: string): Promise<string[] | { error: string }> => scope.list(dir);
  const registries = await levels(manifests);
  if (!Array.isArray(registries)) {
    if (registries.error.includes('missing')) return out; // an empty store: nothing pulled yet
    throw new Error(registries.error);
  }
  for (const registry of registries) {
    const namespaces = await levels(join(manifests, registry));
    if (!Array.isArray(namespaces)) { out.push(brokenFolder(`${registry}/*`, join(manifests, registry), namespaces.error)); continue; }
    for (const ns of namespaces) {
      const models = await levels(join(manifests, registry, ns));
      if (!Array.isArray(models)) { out.push(brokenFolder(`${ns}/*`, join(manifests, registry, ns), models.error)); continue; }
      for (const model of models) {
        const tags = await levels(join(manifests, registry, ns, model));
        if (!Array.isArray(tags)) { out.push(brokenFolder(ollamaName(registry, ns, model, '*'), join(manifests, registry, ns, model), tags.error)); continue; }
        for (const tag of tags) {
          out.push(await manifestEntry(scope, join(manifests, registry, ns, model, tag), ollamaName(registry, ns, model, tag)));
        }
      }
    }
  }
  return out;
}

function brokenFolder(name: string, path: string, error: string): CatalogueEntry {
  return { name, source: 'ollama', path, format: 'gguf', sizeBytes: 0, trainable: false, reason: error, error };
}

async function manifestEntry(scope: Scope, manifestPath: string, name: string): Promise<CatalogueEntry> {
  const broken = (error: string, path = manifestPath) => brokenFolder(name, path, error);
  const text = await scope.readText(manifestPath, MAX_MANIFEST);
  if (typeof text !== 'string') return broken(text.error);
  let manifest: { layers?: unknown };
  try {
    manifest = JSON.parse(text);
  } catch (e) {
    return broken(`manifest ${manifestPath} is not valid JSON (${(e as Error).message})`);
  }
  if (!manifest || typeof manifest !== 'object' || !Array.isArray(manifest.layers)) return broken(`manifest ${manifestPath} has no "layers" list`);
  const layers = manifest.layers as Layer[];
  const layer = (kind: string) => layers.find((l) => l && l.mediaType === MEDIA + kind);
  const modelLayer = layer('model');
  if (!modelLayer) return broken(`manifest ${manifestPath} has no ${MEDIA}model layer`);
  const blob = blobPath(scope.root, modelLayer.digest);
  if (!blob) return broken(`manifest ${manifestPath}: model layer digest ${JSON.stringify(modelLayer.digest)?.slice(0, 80)} is not sha256:<64 hex>`);

  const entry = await ggufEntry(scope, blob, name, 'ollama');
  if (entry.error && entry.error.includes('missing')) {
    entry.error = entry.reason = `model blob ${blob} named by ${manifestPath} is missing (a removed or interrupted pull?)`;
  }
  // Template and parameters: small text layers; a problem with them is reported, the model still listed.
  const problems: string[] = [];
  const textLayer = async (kind: string): Promise<string | undefined> => {
    const l = layer(kind);
    if (!l) return undefined;
    const p = blobPath(scope.root, l.digest);
    if (!p) { problems.push(`${kind} layer digest is malformed`); return undefined; }
    const t = await scope.readText(p, MAX_TEXT_LAYER);
    if (typeof t !== 'string') { problems.push(`${kind} layer: ${t.error}`); return undefined; }
    entry.sizeBytes += Buffer.byteLength(t, 'utf8');
    return t;
  };
  const template = await textLayer('template');
  if (template !== undefined) entry.template = template;
  const params = await textLayer('params');
  if (params !== undefined) {
    try {
      const p = JSON.parse(params) as Record<string, unknown>;
      if (!p || typeof p !== 'object' || Array.isArray(p)) throw new Error('not a JSON object');
      entry.parameters = p;
      const stop = p.stop;
      if (Array.isArray(stop) && stop.every((s) => typeof s === 'string')) entry.stop = stop;
      else if (typeof stop === 'string') entry.stop = [stop];
    } catch (e) {
      problems.push(`params layer is not a JSON object (${(e as Error).message})`);
    }
  }
  if (problems.length) entry.error = [entry.error, ...problems].filter(Boolean).join('; ');
  return entry;
}
