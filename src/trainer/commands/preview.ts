// `adapt-lab preview-data --model M --data F [--examples N] [--max-length N] [--json]`: the first examples of a
// data file as training sees them (the model's chat template, its tokenizer), each token marked
// trained (loss) or context, with counts. No weights are loaded.
import { parse } from '../args';
import { chatFormatFor } from '../../engine/chat/encode';
import { chatTemplateOf } from '../../engine/chat/model-template';
import { loadTokenizer } from '../../engine/model/loader';
import { loadDataset } from '../../engine/data/dataset';
import { templateName } from '../../engine/chat/template-name';
import { parsePreviewPayload, PreviewPayload } from '../../protocol/preview';

/** The payload for the first `n` examples (see src/protocol/preview.ts). */
export function previewPayload(model: string, data: string, n: number, maxLength: number): PreviewPayload {
  const tok = loadTokenizer(model);
  const chat = chatFormatFor(chatTemplateOf(model), tok);
  const ds = loadDataset(data, tok, { maxLength, chat });
  const decoder = new TextDecoder();
  const tokenText = (id: number) => (tok.isSpecial(id) ? tok.tokenToPiece(id) : decoder.decode(tok.tokenBytes(id)));
  const lossOf = (mask: Uint8Array) => mask.reduce((a, b) => a + b, 0);
  return {
    model, data: ds.file, format: ds.format,
    ...(ds.chat ? { template: { source: ds.chat.source, name: templateName(ds.chat.template) } } : {}),
    examples: ds.examples.slice(0, n).map((e) => ({
      line: e.line ?? 1,
      tokens: e.ids.map((id, i) => ({ id, text: tokenText(id), loss: e.mask[i] === 1, special: tok.isSpecial(id) })),
      count: e.ids.length,
      lossTokens: lossOf(e.mask),
    })),
    totals: {
      examples: ds.examples.length,
      tokens: ds.examples.reduce((a, e) => a + e.ids.length, 0),
      lossTokens: ds.examples.reduce((a, e) => a + lossOf(e.mask), 0),
    },
    maxLength,
    warnings: ds.warnings,
  };
}

export async function previewCommand(args: string[]): Promise<number> {
  const { values } = parse(args, {
    model: { type: 'string' }, data: { type: 'string' }, examples: { type: 'string' }, 'max-length': { type: 'string' }, json: { type: 'boolean' },
  });
  if (!values.model || !values.data) throw new Error('preview-data needs --model MODEL and --data FILE');
  const n = values.examples === undefined ? 3 : Number(values.examples);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--examples must be a positive integer, got "${values.examples}"`);
  const maxLength = values['max-length'] === undefined ? 4096 : Number(values['max-length']);
  if (!Number.isInteger(maxLength) || maxLength < 1) throw new Error(`--max-length must be a positive integer, got "${values['max-length']}"`);
  // Checked as the extension checks it: a payload this side cannot describe fails here, naming the field.
  const payload = parsePreviewPayload(previewPayload(values.model, values.data, n, maxLength), 'preview-data');
  if (values.json) {
    console.log(JSON.stringify(payload, null, 1));
    return 0;
  }
  const t = payload.totals;
  const how = payload.template ? `, rendered with the ${payload.template.source === 'model' ? "model's chat template" : 'default chat template'} (${payload.template.name})` : '';
  console.log(`${payload.format} data, ${t.examples} examples, ${t.tokens} tokens of which ${t.lossTokens} trained${how}; trained tokens are in [[ ]]`);
  payload.examples.forEach((e, k) => {
    let s = '';
    let open = false;
    for (const t of e.tokens) {
      if (t.loss !== open) { s += t.loss ? '[[' : ']]'; open = t.loss; }
      s += t.text;
    }
    if (open) s += ']]';
    console.log(`\n-- example ${k + 1} (line ${e.line}): ${e.count} tokens, ${e.lossTokens} trained\n${s}`);
  });
  for (const w of payload.warnings) console.error(`warning: ${w}`);
  return 0;
}
