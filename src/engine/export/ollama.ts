// An Ollama model folder: `ollama create NAME -f <out>/Modelfile`.
//   FROM       the base: its Ollama name when it came from Ollama's store, else the base GGUF's
//              path relative to the Modelfile (Ollama resolves it there; an export never writes
//              a local absolute path); ./model.gguf (the merged model) when the base is not a GGUF file or the
//              run trained base parameters, which an adapter cannot carry
//   ADAPTER    ./adapter.gguf, the GGUF LoRA adapter (gguf-lora.ts)
//   TEMPLATE   the chat template the run trained with, translated (chat/ollama.ts)
//   PARAMETER  stop at the template's end of turn
import { writeFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { chatFormatFor } from '../chat/encode';
import { ollamaTemplate } from '../chat/ollama';
import type { ExportSource } from './source';
import { writeGgufLora } from './gguf-lora';
import { writeMergedGguf } from './merged';

export const MODELFILE = 'Modelfile';

/** `path` relative to the folder `from`, with forward slashes, starting with ./ or ../. */
function relativeTo(from: string, path: string): string {
  const rel = relative(resolve(from), resolve(path)).split(sep).join('/');
  return rel.startsWith('../') ? rel : `./${rel}`;
}

function quoted(s: string): string {
  return JSON.stringify(s);
}

export function writeOllama(src: ExportSource, dir: string, outPath: string, dtype: 'f32' | 'f16'): { names: string[]; notes: string[] } {
  const unfrozen = src.unfrozen ?? [];
  const asAdapter = src.base.format === 'gguf' && src.model.lora.size > 0 && unfrozen.length === 0;
  const lines: string[] = [`# Ollama model: in this folder, ollama create NAME -f ${MODELFILE}`];
  const notes: string[] = [];
  let names: string[];
  if (asAdapter) {
    names = writeGgufLora(src, dir, dtype).names;
    lines.push(`FROM ${src.ollamaName ?? relativeTo(outPath, src.base.path)}`, `ADAPTER ./${names[0]}`);
  } else {
    names = writeMergedGguf(src, dir, dtype).names;
    lines.push(`FROM ./${names[0]}`);
    notes.push(src.base.format === 'gguf'
      ? 'the run trained base parameters (or no LoRA adapters), which a GGUF adapter cannot carry: the folder holds the merged model'
      : 'the base is not a GGUF file: the folder holds the merged model as GGUF');
  }
  if (src.chatTemplate && src.tokenizer) {
    const t = ollamaTemplate(chatFormatFor(src.chatTemplate, src.tokenizer));
    if ('template' in t) {
      if (t.template.includes('"""')) throw new Error('the translated chat template contains """, which a Modelfile cannot quote');
      lines.push(`TEMPLATE """${t.template}"""`);
      for (const s of t.stop) lines.push(`PARAMETER stop ${quoted(s)}`);
    } else {
      notes.push(`no TEMPLATE: ${t.reason}; Ollama picks one from the GGUF's chat template`);
    }
  } else {
    notes.push('no chat template: the Modelfile has no TEMPLATE (prompts are sent as they are)');
  }
  writeFileSync(join(dir, MODELFILE), lines.join('\n') + '\n');
  return { names: [...names, MODELFILE], notes };
}
