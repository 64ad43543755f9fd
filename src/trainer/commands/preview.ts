// `adapt-lab preview-data --model M --data F [--examples N] [--json]`: the first examples of a
// data file as training sees them (the model's chat template, its tokenizer), each token marked
// trained (loss) or context, with counts. No weights are loaded.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse } from '../args';
import { chatFormatFor } from '../../engine/chat/encode';
import { isGgufPath, loadTokenizer } from '../../engine/model/loader';
import { readGguf } from '../../engine/core/formats/gguf';
import { loadDataset } from '../../engine/train/data';

/** The model's own chat template, read without loading weights. */
function chatTemplateOf(model: string): string | undefined {
  if (isGgufPath(model)) {
    const t = readGguf(model).metadata.get('tokenizer.chat_template');
    return typeof t === 'string' ? t : undefined;
  }
  const dir = statSync(model).isDirectory() ? model : dirname(model);
  const tc = join(dir, 'tokenizer_config.json');
  if (!existsSync(tc)) return undefined;
  const t = (JSON.parse(readFileSync(tc, 'utf8')) as Record<string, unknown>).chat_template;
  return typeof t === 'string' ? t : undefined;
}

export interface PreviewPayload {
  model: string;
  data: string;
  format: string;
  chatTemplate?: 'model' | 'default';
  examples: { tokens: { text: string; loss: boolean; special: boolean }[]; count: number; lossTokens: number }[];
  totalExamples: number;
  warnings: string[];
}

export async function previewCommand(args: string[]): Promise<number> {
  const { values } = parse(args, {
    model: { type: 'string' }, data: { type: 'string' }, examples: { type: 'string' }, 'max-length': { type: 'string' }, json: { type: 'boolean' },
  });
  if (!values.model || !values.data) throw new Error('preview-data needs --model MODEL and --data FILE');
  const n = values.examples === undefined ? 3 : Number(values.examples);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--examples must be a positive integer, got "${values.examples}"`);
  const maxLength = values['max-length'] === undefined ? 4096 : Number(values['max-length']);
  const tok = loadTokenizer(values.model);
  const ds = loadDataset(values.data, tok, { maxLength, chat: chatFormatFor(chatTemplateOf(values.model), tok) });
  const decoder = new TextDecoder();
  const payload: PreviewPayload = {
    model: values.model, data: ds.file, format: ds.format, ...(ds.chat ? { chatTemplate: ds.chat.source } : {}),
    examples: ds.examples.slice(0, n).map((e) => ({
      tokens: e.ids.map((id, i) => ({ text: tok.isSpecial(id) ? tok.tokenToPiece(id) : decoder.decode(tok.tokenBytes(id)), loss: e.mask[i] === 1, special: tok.isSpecial(id) })),
      count: e.ids.length,
      lossTokens: e.mask.reduce((a, b) => a + b, 0),
    })),
    totalExamples: ds.examples.length,
    warnings: ds.warnings,
  };
  if (values.json) {
    console.log(JSON.stringify(payload, null, 1));
    return 0;
  }
  console.log(`${payload.format} data, ${payload.totalExamples} examples${payload.chatTemplate ? `, rendered with the ${payload.chatTemplate === 'model' ? "model's chat template" : 'default chat template'}` : ''}; trained tokens are in [[ ]]`);
  payload.examples.forEach((e, k) => {
    let s = '';
    let open = false;
    for (const t of e.tokens) {
      if (t.loss !== open) { s += t.loss ? '[[' : ']]'; open = t.loss; }
      s += t.text;
    }
    if (open) s += ']]';
    console.log(`\n-- example ${k + 1}: ${e.count} tokens, ${e.lossTokens} trained\n${s}`);
  });
  for (const w of payload.warnings) console.error(`warning: ${w}`);
  return 0;
}
