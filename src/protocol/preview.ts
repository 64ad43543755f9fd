// What `adapt-lab preview-data --json` prints and the extension's Preview Training Data shows:
// the first examples of a data file as training tokenizes them, each token marked trained
// (carries loss) or context, with counts. The CLI checks it before printing and the extension
// on reading, so a change on one side fails there, naming the field. Also the messages
// between the host and the preview page.

export type PreviewFormat = 'prompt-completion' | 'messages' | 'text';
export const PREVIEW_FORMATS: readonly PreviewFormat[] = ['prompt-completion', 'messages', 'text'];

export interface PreviewToken {
  id: number;
  /** The text this token decodes to on its own (special tokens as their piece, e.g. "<|im_end|>"). */
  text: string;
  /** Whether training puts loss on this token. */
  loss: boolean;
  /** A control token, or the model's BOS / EOS / padding. */
  special: boolean;
}

export interface PreviewExample {
  /** 1-based line of the data file the example comes from. */
  line: number;
  tokens: PreviewToken[];
  /** tokens.length. */
  count: number;
  /** Tokens with loss. */
  lossTokens: number;
}

/** The chat template conversations were rendered with ({"messages"} data only). */
export interface PreviewTemplate {
  /** The model's own (tokenizer_config.json / GGUF tokenizer.chat_template) or Adapt Lab's default. */
  source: 'model' | 'default';
  /** The family its markers look like: "ChatML", "Llama 3", "Gemma", "Phi-3", "Mistral", "Adapt Lab default", or "custom". */
  name: string;
}

export interface PreviewPayload {
  model: string;
  /** The data file, absolute. */
  data: string;
  format: PreviewFormat;
  template?: PreviewTemplate;
  /** The first examples, in file order. */
  examples: PreviewExample[];
  /** Over every example of the file that training keeps, not only those shown. */
  totals: { examples: number; tokens: number; lossTokens: number };
  /** Longer examples are cut to this many tokens, as training cuts them. */
  maxLength: number;
  warnings: string[];
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function validateExample(e: unknown, at: string, out: string[]): void {
  if (!isObj(e)) { out.push(`${at}: not an object`); return; }
  if (!isCount(e.line) || (e.line as number) < 1) out.push(`${at}.line: not a line number`);
  if (!Array.isArray(e.tokens)) { out.push(`${at}.tokens: not a list`); return; }
  let loss = 0;
  e.tokens.forEach((t, j) => {
    const tat = `${at}.tokens[${j}]`;
    if (!isObj(t) || !isCount(t.id) || typeof t.text !== 'string' || typeof t.loss !== 'boolean' || typeof t.special !== 'boolean') {
      out.push(`${tat}: not {id, text, loss, special}`);
      return;
    }
    if (t.loss) loss++;
  });
  if (e.count !== e.tokens.length) out.push(`${at}.count: ${JSON.stringify(e.count)} but there are ${e.tokens.length} tokens`);
  if (e.lossTokens !== loss) out.push(`${at}.lossTokens: ${JSON.stringify(e.lossTokens)} but ${loss} tokens carry loss`);
}

/** Every problem with `value` as a PreviewPayload, one line each (empty when valid). */
export function validatePreviewPayload(value: unknown): string[] {
  if (!isObj(value)) return ['preview: not an object'];
  const out: string[] = [];
  for (const f of ['model', 'data'] as const) if (typeof value[f] !== 'string') out.push(`preview.${f}: not a string`);
  if (!PREVIEW_FORMATS.includes(value.format as PreviewFormat)) out.push(`preview.format: ${JSON.stringify(value.format)} is not one of ${PREVIEW_FORMATS.join(', ')}`);
  if (value.template !== undefined) {
    const t = value.template;
    if (!isObj(t)) out.push('preview.template: not an object');
    else {
      if (t.source !== 'model' && t.source !== 'default') out.push(`preview.template.source: ${JSON.stringify(t.source)} is not model or default`);
      if (typeof t.name !== 'string' || !t.name) out.push('preview.template.name: not a non-empty string');
    }
  }
  if (value.format === 'messages' && value.template === undefined) out.push('preview.template: missing for messages data');
  if (!isCount(value.maxLength) || (value.maxLength as number) < 1) out.push('preview.maxLength: not a positive integer');
  if (!Array.isArray(value.warnings) || !value.warnings.every((w) => typeof w === 'string')) out.push('preview.warnings: not a list of strings');
  const totals = value.totals;
  if (!isObj(totals) || !isCount(totals.examples) || !isCount(totals.tokens) || !isCount(totals.lossTokens)) {
    out.push('preview.totals: not {examples, tokens, lossTokens} counts');
  } else if ((totals.lossTokens as number) > (totals.tokens as number)) out.push('preview.totals.lossTokens: more than the tokens');
  if (!Array.isArray(value.examples)) return [...out, 'preview.examples: not a list'];
  value.examples.forEach((e, i) => validateExample(e, `preview.examples[${i}]`, out));
  if (isObj(totals) && isCount(totals.examples) && value.examples.length > (totals.examples as number)) {
    out.push(`preview.totals.examples: ${String(totals.examples)} but ${value.examples.length} are shown`);
  }
  return out;
}

/** The value as a PreviewPayload, or an Error listing its problems (one per line, at most 20). */
export function parsePreviewPayload(value: unknown, source = 'adapt-lab preview-data --json'): PreviewPayload {
  const problems = validatePreviewPayload(value);
  if (problems.length) throw new Error(problems.slice(0, 20).map((p) => `${source}: ${p}`).join('\n'));
  return value as PreviewPayload;
}

// ------------------------------------------------------------------------- host ↔ page

/** Host → preview page: the payload to show, or why there is none. */
export type PreviewHostMessage =
  | { type: 'preview'; payload: PreviewPayload }
  | { type: 'loading'; model: string; data: string }
  | { type: 'error'; message: string };

/** Preview page → host: it has loaded (send what to show), or the user asks for more examples. */
export type PreviewWebviewMessage = { type: 'ready' } | { type: 'more' };

export function parsePreviewHostMessage(value: unknown): PreviewHostMessage {
  if (!isObj(value)) throw new Error('preview message: not an object');
  if (value.type === 'preview') return { type: 'preview', payload: parsePreviewPayload(value.payload, 'preview message') };
  if (value.type === 'loading' && typeof value.model === 'string' && typeof value.data === 'string') return { type: 'loading', model: value.model, data: value.data };
  if (value.type === 'error' && typeof value.message === 'string') return { type: 'error', message: value.message };
  throw new Error(`preview message: unknown or incomplete ${JSON.stringify(value.type)}`);
}

export function parsePreviewWebviewMessage(value: unknown): PreviewWebviewMessage {
  if (isObj(value) && (value.type === 'ready' || value.type === 'more')) return { type: value.type };
  throw new Error(`preview page message: ${isObj(value) ? `unknown type ${JSON.stringify(value.type)}` : 'not an object'}`);
}
