// The model families by config: the one file that imports every family, so that model.ts
// (which each family imports) imports none of them and the graph has no cycle.
import { ModelConfig } from '../core/model-config';
import { Family } from './model';
import * as llama from './llama';
import * as gpt2 from './gpt2';

export function familyOf(config: ModelConfig): Family {
  return config.family === 'llama' ? llama.family : gpt2.family;
}
