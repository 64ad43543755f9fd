// `adapt-lab tokenize --model M TEXT [--json] [--no-bos] [--special]`: the token ids and pieces
// of a text, as training and generation see it (no weights are loaded).
import { readFileSync } from 'node:fs';
import { parse } from '../args';
import { loadTokenizer } from '../../engine/model/loader';
import type { TokenizePayload } from '../../protocol/tokenize';

export async function tokenizeCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    model: { type: 'string' }, config: { type: 'string' }, json: { type: 'boolean' },
    'no-bos': { type: 'boolean' }, special: { type: 'boolean' },
  });
  if (!values.model) throw new Error('tokenize needs --model MODEL');
  if (positionals.length !== 1) throw new Error('tokenize needs one TEXT argument (quote it; "-" reads the text from stdin)');
  const text = positionals[0] === '-' ? readFileSync(0, 'utf8') : positionals[0];
  const tok = loadTokenizer(values.model, { config: values.config });
  const addBos = values['no-bos'] ? false : tok.addBos;
  // Chat templates are encoded with special-token text recognised (--special); plain prompts and
  // dataset text are not, so "<s>" typed in a prompt stays text unless asked.
  const parseSpecial = values.special === true;
  const ids = tok.encode(text, { addBos, parseSpecial });
  const decoder = new TextDecoder();
  const payload: TokenizePayload = {
    model: values.model,
    text,
    addBos,
    parseSpecial,
    count: ids.length,
    tokens: ids.map((id) => ({ id, piece: tok.tokenToPiece(id), text: decoder.decode(tok.tokenBytes(id)), special: tok.isSpecial(id) })),
    decoded: tok.decode(ids),
  };
  if (values.json) {
    console.log(JSON.stringify(payload, null, 1));
    return 0;
  }
  const width = Math.max(...ids.map((x) => String(x).length), 2);
  for (const t of payload.tokens) {
    console.log(`${String(t.id).padStart(width)}  ${JSON.stringify(t.piece)}${t.special ? '  (special)' : ''}`);
  }
  console.log(`${ids.length} token${ids.length === 1 ? '' : 's'}${addBos ? ' (with BOS)' : ''}`);
  return 0;
}
