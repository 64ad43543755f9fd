// Which file and model Preview Training Data shows, and the `adapt-lab preview-data` call for
// them. No vscode import (tested under plain mocha).
import { extname } from 'node:path';

/** Files the trainer reads as data (src/engine/data/dataset.ts); prompts files are not data. */
export function isDataFile(path: string): boolean {
  if (path.endsWith('.prompts.jsonl')) return false;
  return ['.jsonl', '.txt', '.json'].includes(extname(path).toLowerCase());
}

/** Examples shown at first, and added by each Show More Examples. */
export const FIRST_EXAMPLES = 5;
export const MORE_EXAMPLES = 10;

/** What the command was given: a file from the Explorer or an editor, or {model, data} from code. */
export interface PreviewTarget {
  model?: string;
  data?: string;
  /** Open beside what has the focus without taking it (from Adapt Model's data step). */
  preserveFocus?: boolean;
}

export function targetOf(arg: unknown): PreviewTarget {
  if (!arg || typeof arg !== 'object') return {};
  const o = arg as Record<string, unknown>;
  // A vscode.Uri (Explorer context menu, editor title): only file URIs name data.
  if (typeof o.scheme === 'string' && typeof o.fsPath === 'string') return o.scheme === 'file' ? { data: o.fsPath } : {};
  return {
    ...(typeof o.model === 'string' && o.model ? { model: o.model } : {}),
    ...(typeof o.data === 'string' && o.data ? { data: o.data } : {}),
    ...(o.preserveFocus === true ? { preserveFocus: true } : {}),
  };
}

/** `adapt-lab preview-data …` arguments: the first `examples`, cut at `maxLength` tokens as training cuts them. */
export function previewArgs(model: string, data: string, examples: number, maxLength: number): string[] {
  return ['preview-data', '--model', model, '--data', data, '--examples', String(examples), '--max-length', String(maxLength), '--json'];
}
