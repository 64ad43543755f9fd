// Each family's template cut into the fixed text around messages (the Ollama TEMPLATE): the
// cut renders the same prompts as the model's Jinja template, system or not, one turn or more.
import { strict as assert } from 'node:assert';
import { chatFormatFor } from '../../../src/engine/chat/encode';
import { goTemplate, ollamaTemplate, renderPieces, turnPieces } from '../../../src/engine/chat/ollama';
import { ChatFormat, ChatMessage, DEFAULT_CHAT_TEMPLATE } from '../../../src/engine/chat/template';
import { GEMMA2_IT, LLAMA32_INSTRUCT, MISTRAL_7B_INSTRUCT_V02, PHI35_MINI_INSTRUCT, QWEN25_INSTRUCT } from './templates';

const special = { bosToken: '<s>', eosToken: '</s>' };
const FAMILIES: [string, ChatFormat, boolean, string][] = [
  ['ChatML (Qwen2.5-Instruct)', new ChatFormat(QWEN25_INSTRUCT, 'model', { eosToken: '<|im_end|>' }), true, '<|im_end|>'],
  ['Llama 3 (Llama-3.2-Instruct)', new ChatFormat(LLAMA32_INSTRUCT, 'model', { bosToken: '<|begin_of_text|>', eosToken: '<|eot_id|>' }), true, '<|eot_id|>'],
  ['Gemma (gemma-2-it)', new ChatFormat(GEMMA2_IT, 'model', special), false, '<end_of_turn>'],
  ['Phi-3 (Phi-3.5-mini-instruct)', new ChatFormat(PHI35_MINI_INSTRUCT, 'model', { eosToken: '<|endoftext|>' }), true, '<|end|>'],
  ['Mistral (Mistral-7B-Instruct-v0.2)', new ChatFormat(MISTRAL_7B_INSTRUCT_V02, 'model', special), false, '</s>'],
  ['the default template', new ChatFormat(DEFAULT_CHAT_TEMPLATE, 'default', special), true, '</s>'],
];

const CONVERSATIONS: ChatMessage[][] = [
  [{ role: 'user', content: 'Why is the sky blue?' }],
  [{ role: 'user', content: 'Hi!' }, { role: 'assistant', content: 'Hello. How can I help?' }, { role: 'user', content: 'Say "yes".\nThen stop.' }],
  [{ role: 'system', content: 'You answer in French.' }, { role: 'user', content: 'One' }, { role: 'assistant', content: 'Un' }, { role: 'user', content: 'Two' }],
];

describe('chat/ollama: the chat template as an Ollama TEMPLATE', () => {
  for (const [name, fmt, system, stop] of FAMILIES) {
    it(`${name}: the cut renders the model's prompts (BOS left to the runtime), and stops at ${stop}`, () => {
      const t = ollamaTemplate(fmt);
      assert.ok('template' in t, 'reason' in t ? t.reason : '');
      assert.deepEqual(t.stop, [stop]);
      const p = turnPieces(fmt)!;
      assert.equal(p.systemHead !== undefined, system);
      assert.equal(t.template, goTemplate(p));
      for (const c of CONVERSATIONS) {
        if (c[0].role === 'system' && !system) continue;
        const want = fmt.prompt(c);
        assert.equal(fmt.bosToken && want.startsWith(fmt.bosToken) ? fmt.bosToken + renderPieces(p, c) : renderPieces(p, c), want);
      }
    });
  }

  it('ChatML: the Go template text', () => {
    const chatml = "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
    const t = ollamaTemplate(new ChatFormat(chatml, 'model'));
    assert.ok('template' in t);
    assert.equal(t.template,
      '{{- $system := "" }}{{- range .Messages }}{{- if eq .Role "system" }}{{ $system = .Content }}{{ end }}{{ end }}' +
      '{{- if $system }}{{ "<|im_start|>system\\n" }}{{ $system }}{{ "<|im_end|>\\n<|im_start|>user\\n" }}{{ else }}{{ "<|im_start|>user\\n" }}{{ end }}' +
      '{{- range .Messages }}{{- if eq .Role "user" }}{{ .Content }}{{ "<|im_end|>\\n<|im_start|>assistant\\n" }}' +
      '{{- else if eq .Role "assistant" }}{{ .Content }}{{ "<|im_end|>\\n<|im_start|>user\\n" }}{{- end }}{{- end }}');
  });

  it('says why when a template does not have the plain turn shape', () => {
    const odd = "{% for m in messages %}{{ m['content'] | upper }}{% if loop.index0 % 2 == 0 %} / {% else %} ; {% endif %}{% endfor %}";
    const t = ollamaTemplate(new ChatFormat(odd, 'model'));
    assert.ok('reason' in t);
  });

  it('chatFormatFor gives the Ollama stop from the template, not the tokenizer', () => {
    const tok = { bos: 1, eos: 2, tokenToPiece: (i: number) => (i === 1 ? '<s>' : '</s>') } as never;
    assert.deepEqual((ollamaTemplate(chatFormatFor(GEMMA2_IT, tok)) as { stop: string[] }).stop, ['<end_of_turn>']);
  });
});
