// The model families by config: the one file that imports every family, so that model.ts
// (which each family imports) imports none of them and the graph has no cycle.
import { archOf, ModelConfig } from '../core/model-config';
import { Family } from './model';
import * as llama from './llama';
import * as gpt2 from './gpt2';
import * as gemma from './gemma';
import * as phi3 from './phi3';

export function familyOf(config: ModelConfig): Family {
  const arch = archOf(config);
  if (arch === 'gpt2') return gpt2.family;
  if (arch === 'gemma2' || arch === 'gemma3') return gemma.family;
  if (arch === 'phi3') return phi3.family;
  return llama.family;
}
