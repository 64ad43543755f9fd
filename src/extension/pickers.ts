// Quick picks shared by Adapt Model, Choose Model for Layers and Suggest Layers: which model,
// which data file. Recently used models live in globalState; adaptLab.extraModels adds fixed ones.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import * as vscode from 'vscode';
import { extraModels } from './settings';
import { catalogueItems, catalogueName, CatalogueItem, checkPicked, machineCatalogue } from './catalogue/machine';

const RECENT_KEY = 'adaptLab.recentModels';
const MAX_RECENT = 10;

/** Models shipped inside the extension: `models/<name>/` folders with a config.json (or a .gguf). */
export function embeddedModels(extensionPath: string): string[] {
  const dir = join(extensionPath, 'models');
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    try {
      if (!statSync(p).isDirectory()) continue;
      if (existsSync(join(p, 'config.json'))) out.push(p);
      else {
        const gguf = readdirSync(p).find((f) => f.endsWith('.gguf'));
        if (gguf) out.push(join(p, gguf));
      }
    } catch {
      continue;
    }
  }
  return out;
}

export function recentModels(state: vscode.Memento): string[] {
  return (state.get<string[]>(RECENT_KEY) ?? []).filter((p) => existsSync(p));
}

export async function rememberModel(state: vscode.Memento, path: string): Promise<void> {
  const list = [path, ...(state.get<string[]>(RECENT_KEY) ?? []).filter((p) => p !== path)].slice(0, MAX_RECENT);
  await state.update(RECENT_KEY, list);
}


/** A model's display name: its catalogue name (`llama3.2:1b`), the .gguf file name, or the folder name. */
export function modelLabel(path: string): string {
  const known = catalogueName(path);
  if (known) return known;
  return path.endsWith('.gguf') ? basename(path, '.gguf') : basename(path);
}

interface PathItem extends CatalogueItem {
  browse?: 'gguf' | 'folder';
}

export interface StepTitle {
  title: string;
  step?: number;
  totalSteps?: number;
}

/**
 * A quick pick that resolves with the accepted item, or undefined when dismissed. `later`, when
 * given, replaces the items once it resolves (busy until then), keeping the active item.
 */
export function pickOne<T extends vscode.QuickPickItem>(items: T[], opts: StepTitle & { placeholder: string; activeIndex?: number; onButton?: (item: T) => void }, later?: Promise<T[]>): Promise<T | undefined> {
  return new Promise((resolve) => {
    const qp = vscode.window.createQuickPick<T>();
    qp.title = opts.title;
    qp.step = opts.step;
    qp.totalSteps = opts.totalSteps;
    qp.placeholder = opts.placeholder;
    qp.items = items;
    qp.matchOnDescription = true;
    qp.matchOnDetail = true;
    qp.ignoreFocusOut = true;
    const first = opts.activeIndex ?? items.findIndex((i) => i.kind !== vscode.QuickPickItemKind.Separator);
    if (first >= 0 && items[first]) qp.activeItems = [items[first]];
    let done = false;
    qp.onDidAccept(() => {
      const sel = qp.selectedItems[0] ?? qp.activeItems[0];
      if (!sel) return;
      done = true;
      resolve(sel);
      qp.hide();
    });
    qp.onDidHide(() => {
      if (!done) resolve(undefined);
      qp.dispose();
    });
    qp.onDidTriggerItemButton((e) => opts.onButton?.(e.item));
    if (later) {
      qp.busy = true;
      later.then((next) => {
        if (done) return;
        const active = qp.activeItems[0];
        qp.items = next;
        if (active && next.includes(active)) qp.activeItems = [active];
      }, () => undefined).finally(() => (qp.busy = false));
    }
    qp.show();
  });
}

/**
 * Model step: the embedded model, then the models already on this machine grouped by source
 * (the catalogue: filled in when its scan ends), then extra and recent ones, then Browse….
 */
export async function pickModel(extensionPath: string, state: vscode.Memento, t: StepTitle, current?: string): Promise<string | undefined> {
  const seen = new Set<string>();
  const item = (p: string, detail: string): PathItem =>
    ({ label: `$(${p.endsWith('.gguf') ? 'file-binary' : 'folder'}) ${modelLabel(p)}`, description: detail, detail: p, path: p });
  const group = (paths: string[], detail: string): PathItem[] => paths.filter((p) => !seen.has(p) && seen.add(p)).map((p) => item(p, detail));
  const top = [...group(embeddedModels(extensionPath), 'embedded'), ...group(current ? [current] : [], 'in the Layers view')];
  const rest = [...group(extraModels(), 'adaptLab.extraModels'), ...group(recentModels(state), 'recent')];
  const browse: PathItem[] = [
    { label: '', kind: vscode.QuickPickItemKind.Separator },
    { label: '$(file-binary) Browse for a GGUF File…', browse: 'gguf' },
    { label: '$(folder-opened) Browse for a Hugging Face Model Folder…', browse: 'folder' },
  ];
  // The catalogue's groups come before extra and recent models; a model in both shows in its source's group.
  const build = (found: PathItem[]): PathItem[] => {
    const shown = new Set(found.map((i) => i.path));
    const others = rest.filter((i) => !shown.has(i.path));
    return [
      ...top, ...found,
      ...(others.length && found.length ? [{ label: 'Recent', kind: vscode.QuickPickItemKind.Separator } as PathItem] : []), ...others,
      ...browse,
    ];
  };
  const topPaths = new Set(top.map((i) => i.path!));
  const later = machineCatalogue().then((cat) => build(catalogueItems(cat, topPaths)));
  // A scan usually takes milliseconds: show the whole list at once rather than rows that move.
  const first = await Promise.race([later.catch(() => undefined), new Promise<undefined>((r) => setTimeout(r, 1500))]);
  const picked = await pickOne(first ?? build([]), { ...t, placeholder: 'Which base model? (type to search the models on this machine, or browse)' }, first ? undefined : later);
  if (!picked) return undefined;
  if (picked.entry) checkPicked(picked.entry);
  let path = picked.path;
  if (picked.browse) {
    const uris = await vscode.window.showOpenDialog({
      title: picked.browse === 'gguf' ? 'Choose a GGUF model' : 'Choose a Hugging Face model folder (with config.json)',
      canSelectFiles: picked.browse === 'gguf',
      canSelectFolders: picked.browse === 'folder',
      canSelectMany: false,
      filters: picked.browse === 'gguf' ? { 'GGUF models': ['gguf'] } : undefined,
      openLabel: 'Use Model',
    });
    if (!uris?.length) return undefined;
    path = uris[0].fsPath;
    if (picked.browse === 'folder' && !existsSync(join(path, 'config.json'))) {
      throw new Error(`${path} has no config.json: choose the folder of a Hugging Face model (config.json, model.safetensors, tokenizer.json)`);
    }
  }
  if (path) await rememberModel(state, path);
  return path;
}

/** Training data candidates: .jsonl / .txt / .json files of the workspace, prompt files excluded. */
export async function findDataFiles(): Promise<vscode.Uri[]> {
  const uris = await vscode.workspace.findFiles('**/*.{jsonl,txt,json}', '{**/node_modules/**,**/.adapt-lab/**,**/.git/**,**/package.json,**/package-lock.json,**/tsconfig.json,**/adapt-lab.json,**/.vscode/**}', 500);
  return uris.filter((u) => !u.fsPath.endsWith('.prompts.jsonl')).sort((a, b) => {
    const rank = (u: vscode.Uri) => (/train/i.test(basename(u.fsPath)) ? 0 : u.fsPath.endsWith('.jsonl') ? 1 : 2);
    return rank(a) - rank(b) || a.fsPath.localeCompare(b.fsPath);
  });
}

/** Dataset step; `preview`, when given, puts a Preview button on each file (the quick pick stays open). */
export async function pickDataset(t: StepTitle, placeholder = 'Which training data? (JSONL prompt/completion or messages, or plain text)', preview?: (path: string) => void): Promise<string | undefined> {
  const files = await findDataFiles();
  const previewButton = { iconPath: new vscode.ThemeIcon('eye'), tooltip: 'Preview Training Data: this file as training tokenizes it with the chosen model' };
  const items: PathItem[] = files.map((u) => ({
    label: `$(file) ${basename(u.fsPath)}`,
    description: vscode.workspace.asRelativePath(dirname(u.fsPath), true),
    path: u.fsPath,
    ...(preview ? { buttons: [previewButton] } : {}),
  }));
  if (items.length) items.push({ label: '', kind: vscode.QuickPickItemKind.Separator });
  items.push({ label: '$(folder-opened) Browse…', browse: 'gguf' });
  const picked = await pickOne(items, { ...t, placeholder: files.length ? placeholder : 'No .jsonl or .txt files in this workspace: browse for one', onButton: (i) => i.path && preview?.(i.path) });
  if (!picked) return undefined;
  if (picked.path) return picked.path;
  const uris = await vscode.window.showOpenDialog({ title: 'Choose training data', canSelectMany: false, filters: { 'Training data': ['jsonl', 'txt', 'json'] }, openLabel: 'Use Data' });
  return uris?.[0]?.fsPath;
}

/** `train.jsonl` next to `val.jsonl` (or valid/validation/dev): the validation file to use. */
export function siblingValidation(trainPath: string): string | undefined {
  const name = basename(trainPath);
  const m = name.match(/^(.*?)(train|training)(.*)$/i);
  if (!m) return undefined;
  for (const v of ['val', 'valid', 'validation', 'dev', 'eval']) {
    const p = join(dirname(trainPath), `${m[1]}${v}${m[3]}`);
    if (p !== trainPath && existsSync(p)) return p;
  }
  return undefined;
}
