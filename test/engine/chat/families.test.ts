// Each family's real chat template: the rendered prompt is the model's own format, and the
// training tokens of a conversation are the inference prompt's tokens followed by the reply's
// (for every assistant turn), with loss on the replies only.
import { strict as assert } from 'node:assert';
import { chatFormatFor, encodeChat, encodeChatPrompt } from '../../../src/engine/chat/encode';
import type { ChatMessage } from '../../../src/engine/chat/template';
import type { Tokenizer } from '../../../src/engine/tokenizers';
import { familyTokenizer, FamilyVocab } from './vocab';
import { GEMMA2_IT, LLAMA32_INSTRUCT, MISTRAL_7B_INSTRUCT_V02, PHI35_MINI_INSTRUCT, QWEN25_INSTRUCT } from './templates';

interface Family {
  name: string;
  template: string;
  kind: 'spm' | 'bpe';
  vocab: FamilyVocab;
  system: boolean;
  /** The prompt for the first reply, exactly as the model's template writes it. */
  firstPrompt: (date: string) => string;
  turnEnd: string;
}

const FAMILIES: Family[] = [
  {
    name: 'ChatML (Qwen2.5-Instruct)', template: QWEN25_INSTRUCT, kind: 'bpe', system: true,
    vocab: { control: ['<|endoftext|>', '<|im_start|>', '<|im_end|>'], eos: '<|im_end|>', addBos: false, pre: 'qwen2' },
    firstPrompt: () => '<|im_start|>system\nAnswer in one word.<|im_end|>\n<|im_start|>user\nIs the sky blue?<|im_end|>\n<|im_start|>assistant\n',
    turnEnd: '<|im_end|>',
  },
  {
    name: 'Llama 3 (Llama-3.2-Instruct)', template: LLAMA32_INSTRUCT, kind: 'bpe', system: true,
    vocab: { control: ['<|begin_of_text|>', '<|end_of_text|>', '<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>'], bos: '<|begin_of_text|>', eos: '<|end_of_text|>', eot: '<|eot_id|>', addBos: true, pre: 'llama-bpe' },
    firstPrompt: (date) => `<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: ${date}\n\nAnswer in one word.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nIs the sky blue?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n`,
    turnEnd: '<|eot_id|>',
  },
  {
    name: 'Gemma (gemma-2-it)', template: GEMMA2_IT, kind: 'spm', system: false,
    vocab: { control: ['<start_of_turn>', '<end_of_turn>'], bos: '<s>', eos: '</s>', eot: '<end_of_turn>', addBos: true },
    firstPrompt: () => '<s><start_of_turn>user\nIs the sky blue?<end_of_turn>\n<start_of_turn>model\n',
    turnEnd: '<end_of_turn>',
  },
  {
    name: 'Phi-3 (Phi-3.5-mini-instruct)', template: PHI35_MINI_INSTRUCT, kind: 'spm', system: true,
    vocab: { control: ['<|endoftext|>', '<|assistant|>', '<|end|>', '<|system|>', '<|user|>'], bos: '<s>', eos: '<|endoftext|>', eot: '<|end|>', addBos: false },
    firstPrompt: () => '<|system|>\nAnswer in one word.<|end|>\n<|user|>\nIs the sky blue?<|end|>\n<|assistant|>\n',
    turnEnd: '<|end|>',
  },
  {
    name: 'Mistral (Mistral-7B-Instruct-v0.2)', template: MISTRAL_7B_INSTRUCT_V02, kind: 'spm', system: false,
    vocab: { control: [], bos: '<s>', eos: '</s>', addBos: true },
    firstPrompt: () => '<s>[INST] Is the sky blue? [/INST]',
    turnEnd: '</s>',
  },
];

function conversation(system: boolean): ChatMessage[] {
  return [
    ...(system ? [{ role: 'system' as const, content: 'Answer in one word.' }] : []),
    { role: 'user', content: 'Is the sky blue?' },
    { role: 'assistant', content: 'Yes.' },
    { role: 'user', content: 'And the grass, in summer?' },
    { role: 'assistant', content: 'Green, mostly.' },
  ];
}

const today = () => new Date().toLocaleDateString('en-GB', { day: '2-digit', month: 'short', year: 'numeric' }).replace(/ /g, ' ');

/** The ids of the reply starting at `from`: the run of loss tokens. */
function replyAt(mask: Uint8Array, from: number): number {
  let k = from;
  while (k < mask.length && mask[k] === 1) k++;
  return k;
}

describe('chat templates per family: training tokens = prompt tokens + reply tokens', () => {
  for (const f of FAMILIES) {
    describe(f.name, () => {
      let tok: Tokenizer;
      before(() => { tok = familyTokenizer(f.kind, f.vocab); });

      it("renders the prompt as the model's template writes it, and knows its end of turn", () => {
        const fmt = chatFormatFor(f.template, tok);
        assert.equal(fmt.source, 'model');
        const conv = conversation(f.system);
        const firstReply = conv.findIndex((m) => m.role === 'assistant');
        assert.equal(fmt.prompt(conv.slice(0, firstReply)), f.firstPrompt(today()));
        assert.equal(fmt.turnEnd(), f.turnEnd);
      });

      it('every assistant turn: the inference prompt tokens, then the reply with its end of turn as the only loss', () => {
        const fmt = chatFormatFor(f.template, tok);
        const conv = conversation(f.system);
        const enc = encodeChat(conv, tok, fmt);
        assert.equal(enc.straddling, 0);
        if (tok.bos !== undefined) assert.ok(enc.ids.filter((i) => i === tok.bos).length <= 1, 'BOS is not doubled');
        let covered = 0;
        conv.forEach((m, i) => {
          if (m.role !== 'assistant') return;
          const prompt = encodeChatPrompt(conv.slice(0, i), tok, fmt);
          assert.deepEqual(enc.ids.slice(0, prompt.length), prompt, `turn ${i}: training tokens start with the prompt's`);
          assert.equal(enc.mask.slice(covered, prompt.length).reduce((a, b) => a + b, 0), 0, `turn ${i}: no loss on the prompt`);
          const end = replyAt(enc.mask, prompt.length);
          assert.ok(end > prompt.length, `turn ${i}: the reply carries loss`);
          const reply = tok.decode(enc.ids.slice(prompt.length, end), { special: true });
          assert.ok(reply.startsWith(m.content + f.turnEnd), `turn ${i}: reply ${JSON.stringify(reply)}`);
          covered = end;
        });
        assert.equal(enc.mask.slice(covered).reduce((a, b) => a + b, 0), 0, 'no loss after the last reply');
        // the prompt's own tokens are the text tokenized whole, with chat tokens as single ids
        const p = encodeChatPrompt(conv.slice(0, 1 + (f.system ? 1 : 0)), tok, fmt);
        for (const c of f.vocab.control.filter((t) => f.firstPrompt('').includes(t))) {
          assert.ok(p.includes(tok.encode(c, { addBos: false, parseSpecial: true })[0]), `${c} is one token in the prompt`);
        }
      });
    });
  }
});
