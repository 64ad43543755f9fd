// What `adapt-lab suggest --json` prints and Suggest Layers reads back: the linear modules
// ranked by gradient norm on a few batches of the user's data. The CLI checks it before
// printing and the extension on reading, so a change on one side fails there, naming the field.

export interface ModuleScore {
  /** Module path, e.g. `model.layers.3.mlp.down_proj`. */
  path: string;
  /** Mean over batches of the Frobenius norm of the weight's gradient (higher: the data pulls harder). */
  score: number;
  params: number;
}

export interface SuggestResult {
  /** Strongest first. */
  modules: ModuleScore[];
  ms: number;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every problem with `value` as a SuggestResult, one line each (empty when valid). */
export function validateSuggestResult(value: unknown): string[] {
  if (!isObj(value)) return ['suggest: not an object'];
  const out: string[] = [];
  if (typeof value.ms !== 'number' || !(value.ms >= 0)) out.push('suggest.ms: not a non-negative number');
  if (!Array.isArray(value.modules)) return [...out, 'suggest.modules: not a list'];
  value.modules.forEach((m, i) => {
    const at = `suggest.modules[${i}]`;
    if (!isObj(m)) { out.push(`${at}: not an object`); return; }
    if (typeof m.path !== 'string') out.push(`${at}.path: not a string`);
    if (typeof m.score !== 'number' || !Number.isFinite(m.score)) out.push(`${at}.score: not a finite number`);
    if (typeof m.params !== 'number' || !Number.isSafeInteger(m.params) || m.params < 0) out.push(`${at}.params: not a non-negative integer`);
  });
  return out;
}

/** The value as a SuggestResult, or an Error listing its problems (one per line, at most 20). */
export function parseSuggestResult(value: unknown, source = 'adapt-lab suggest --json'): SuggestResult {
  const problems = validateSuggestResult(value);
  if (problems.length) throw new Error(problems.slice(0, 20).map((p) => `${source}: ${p}`).join('\n'));
  return value as SuggestResult;
}
