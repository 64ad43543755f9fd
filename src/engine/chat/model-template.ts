// A model's own chat template, read without loading its weights: GGUF `tokenizer.chat_template`,
// or `chat_template` in the tokenizer_config.json of a Hugging Face folder (or beside a
// .safetensors file). Undefined when it has none.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readGguf } from '../core/formats/gguf';
import { isGgufPath } from '../model/loader';

export function chatTemplateOf(model: string): string | undefined {
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
