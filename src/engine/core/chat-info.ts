// What run.json records about the chat template a run was trained with (see chat/template.ts):
// in the core so the run store, which the extension reads, names it without the renderer.
export type ChatTemplateSource = 'model' | 'default';

/** What run.json records about the template a run was trained with. */
export interface ChatTemplateInfo {
  source: ChatTemplateSource;
  template: string;
}
