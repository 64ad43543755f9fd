// A chat template's family, named from the turn markers it writes, so a user can see at a glance
// which format their data is rendered in ("ChatML" for Qwen and SmolLM, "Llama 3", ...). Only a
// label: the rendering itself always runs the template (template.ts).
import { DEFAULT_CHAT_TEMPLATE } from './template';

const FAMILIES: [name: string, marker: RegExp][] = [
  ['ChatML', /<\|im_start\|>/],
  ['Llama 3', /<\|start_header_id\|>/],
  ['Gemma', /<start_of_turn>/],
  ['Phi-3', /<\|assistant\|>[\s\S]*<\|end\|>|<\|end\|>[\s\S]*<\|assistant\|>/],
  ['Mistral', /\[INST\]/],
];

export function templateName(template: string): string {
  if (template === DEFAULT_CHAT_TEMPLATE) return 'Adapt Lab default';
  for (const [name, marker] of FAMILIES) if (marker.test(template)) return name;
  return 'custom';
}
