// The model catalogue in the model pickers: the models already on this machine (Hugging Face
// cache, Ollama, LM Studio, llama.cpp's cache, adaptLab.modelFolders), grouped by source with
// QuickPick separators. The scan reads headers only, in this process (the engine's catalogue
// is free of TensorFlow.js), and is kept for a minute so reopening a picker is instant.
import * as vscode from 'vscode';
import { scanCatalogue } from '../../engine/core/catalogue';
import { describeEntry } from '../../engine/core/catalogue/describe';
import { modelFolders } from '../settings';
import { Catalogue, CatalogueEntry, MODEL_SOURCES, SOURCE_TITLES } from '../../protocol/catalogue';

const KEEP_MS = 60_000;
let cached: { at: number; key: string; value: Promise<Catalogue> } | undefined;
/** Catalogue names of the paths seen in the last scan (an Ollama blob is `sha256-…` on disk). */
const names = new Map<string, string>();


/** The catalogue, scanned at most once a minute (again at once when the folders setting changed). */
export function machineCatalogue(refresh = false): Promise<Catalogue> {
  const folders = modelFolders();
  const key = JSON.stringify(folders);
  if (!refresh && cached && cached.key === key && Date.now() - cached.at < KEEP_MS) return cached.value;
  const value = scanCatalogue({ folders, timeLimitMs: 10_000 }).then((c) => {
    for (const m of c.models) names.set(m.path, m.name);
    return c;
  });
  cached = { at: Date.now(), key, value };
  value.catch(() => (cached = undefined));
  return value;
}

/** The name the user knows a catalogue model by (`llama3.2:1b`), if the path came from the catalogue. */
export function catalogueName(path: string): string | undefined {
  return names.get(path);
}

export interface CatalogueItem extends vscode.QuickPickItem {
  path?: string;
  entry?: CatalogueEntry;
}

/** One group per source (a separator, then its models, trainable ones first); `seen` paths are skipped. */
export function catalogueItems(cat: Catalogue, seen: Set<string>): CatalogueItem[] {
  const out: CatalogueItem[] = [];
  for (const source of MODEL_SOURCES) {
    const models = cat.models.filter((m) => m.source === source && !seen.has(m.path));
    if (!models.length) continue;
    out.push({ label: SOURCE_TITLES[source], kind: vscode.QuickPickItemKind.Separator });
    const rank = (m: CatalogueEntry) => (m.error ? 2 : m.trainable ? 0 : 1);
    for (const m of [...models].sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name))) {
      seen.add(m.path);
      const icon = m.error ? 'error' : !m.trainable ? 'circle-slash' : m.format === 'gguf' ? 'file-binary' : 'folder';
      out.push({
        label: `$(${icon}) ${m.name}`,
        description: describeEntry(m),
        detail: m.error ? `Cannot be read: ${m.error}` : m.trainable ? m.path : `Not trainable: ${m.reason}`,
        path: m.path,
        entry: m,
      });
    }
  }
  return out;
}

/** Throws the reason when a picked catalogue model cannot be used. */
export function checkPicked(entry: CatalogueEntry): void {
  if (entry.error) throw new Error(`${entry.name} (${SOURCE_TITLES[entry.source]}) cannot be read: ${entry.error}`);
  if (!entry.trainable) throw new Error(`${entry.name} (${SOURCE_TITLES[entry.source]}) cannot be trained by Adapt Lab: ${entry.reason}`);
}
