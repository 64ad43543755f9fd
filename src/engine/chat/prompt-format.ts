// How a prompt written as messages is rendered for a model: with the template a run was trained
// with (run.json `chatTemplate`), so inline prompts and evaluation prompt an adapted model as it
// was trained; the base model alone (or a PEFT adapter) with the model's own template, else the
// default — the rule training follows for a new run.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Tokenizer } from '../tokenizers';
import { readRunRecord, RUN_FILE } from '../core/runs/store';
import { chatFormatFor, chatFormatFromInfo } from './encode';
import { chatTemplateOf } from './model-template';
import type { ChatFormat } from './template';

export function promptChatFormat(model: string, tok: Tokenizer, adapter?: string): ChatFormat {
  if (adapter && existsSync(join(adapter, RUN_FILE))) {
    const trained = readRunRecord(adapter).chatTemplate;
    if (trained) return chatFormatFromInfo(trained, tok);
  }
  return chatFormatFor(chatTemplateOf(model), tok);
}
