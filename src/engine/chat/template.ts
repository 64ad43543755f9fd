// The chat template: renders a conversation ({"messages": [...]}) as text, and finds which
// characters of it are the assistant's replies (the part training puts loss on).
//
// The model's own Jinja `chat_template` (tokenizer_config.json, or GGUF tokenizer.chat_template)
// is used through @huggingface/jinja, the implementation transformers.js uses; a model without
// one gets DEFAULT_CHAT_TEMPLATE. Training, evaluation, inline prompts and exports all render
// through this module, so the text a model was trained on is the text it is prompted with.
//
// Finding the replies: templates with `{% generation %}…{% endgeneration %}` mark them
// themselves (as transformers' return_assistant_tokens_mask reads them); for the others each
// assistant turn is found by rendering the conversation up to it with add_generation_prompt
// (the prompt an inference server would send) and up to its end: the reply is what the second
// adds to the first. A template for which the first is not a prefix of the second (one that
// rewrites earlier turns) is refused, naming the turn, since no inference prompt could then
// reproduce the training text.
import { Template } from '@huggingface/jinja';
import { ChatTemplateInfo, ChatTemplateSource } from '../core/chat-info';

export type ChatRole = 'system' | 'user' | 'assistant';
export interface ChatMessage {
  role: ChatRole;
  content: string;
}

export const CHAT_ROLES: readonly ChatRole[] = ['system', 'user', 'assistant'];

/**
 * For models that ship no chat template: plain-text role markers, the reply followed by EOS.
 *   <|system|>\n{content}\n  <|user|>\n{content}\n  <|assistant|>\n{content}{eos}\n
 */
export const DEFAULT_CHAT_TEMPLATE =
  "{% for message in messages %}{{ '<|' + message['role'] + '|>\\n' + message['content'] }}" +
  "{% if message['role'] == 'assistant' %}{{ eos_token }}{% endif %}{{ '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}";


/** A span of the rendered text, [start, end) in UTF-16 code units. */
export interface Span {
  start: number;
  end: number;
}

export interface RenderedChat {
  text: string;
  /** The assistant replies, in order (each reply with its end-of-turn marker, without trailing whitespace). */
  replies: Span[];
}

// Private-use characters that no template or message is expected to contain; they carry the
// positions of {% generation %} blocks through rendering.
const GEN_START = '\uE000';
const GEN_END = '\uE001';

/** `{%- generation -%}` becomes an expression printing a marker, with the same whitespace control. */
function markGenerationBlocks(template: string): string {
  return template.replace(/{%(-?)\s*(end)?generation\s*(-?)%}/g, (_m, l: string, end: string | undefined, r: string) =>
    `{{${l} '${end ? GEN_END : GEN_START}' ${r}}}`);
}

export class ChatFormat {
  readonly template: string;
  readonly source: ChatTemplateSource;
  /** The text of BOS / EOS as the template sees them (bos_token, eos_token). */
  readonly bosToken: string;
  readonly eosToken: string;
  private readonly compiled: Template;
  private readonly marked?: Template;

  constructor(template: string, source: ChatTemplateSource, special: { bosToken?: string; eosToken?: string } = {}) {
    this.template = template;
    this.source = source;
    this.bosToken = special.bosToken ?? '';
    this.eosToken = special.eosToken ?? '';
    this.compiled = compile(template, source);
    if (/{%-?\s*generation\s*-?%}/.test(template)) this.marked = compile(markGenerationBlocks(template), source);
  }

  get info(): ChatTemplateInfo {
    return { source: this.source, template: this.template };
  }

  /** Whether the template marks the replies itself ({% generation %}). */
  get hasGenerationMarkers(): boolean {
    return this.marked !== undefined;
  }

  /** The conversation as the template renders it (transformers' apply_chat_template(tokenize=False)). */
  render(messages: readonly ChatMessage[], addGenerationPrompt: boolean): string {
    return this.run(this.compiled, messages, addGenerationPrompt);
  }

  /** The prompt for the next assistant reply: the conversation so far with add_generation_prompt. */
  prompt(messages: readonly ChatMessage[]): string {
    return this.render(messages, true);
  }

  /** The whole conversation (for training) and where each assistant reply is in it. */
  renderWithReplies(messages: readonly ChatMessage[]): RenderedChat {
    return this.marked ? this.fromMarkers(messages) : this.fromPrefixes(messages);
  }

  /**
   * What the template writes after a reply to end the turn (e.g. "<|im_end|>", "<|eot_id|>",
   * "</s>"), trimmed: the stop sequence for runtimes that stop on text (Ollama's PARAMETER stop).
   * Falls back to the EOS text for templates that cannot render a plain user/assistant exchange.
   */
  turnEnd(): string {
    const probe = 'Xq7Zv';
    const turn: ChatMessage[] = [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: probe }];
    let last: string, more: string;
    try {
      last = this.render(turn, false);
      more = this.render([...turn, { role: 'user', content: 'Ok' }], false);
    } catch {
      return this.eosToken;
    }
    const at = last.lastIndexOf(probe);
    if (at < 0 || !more.startsWith(last.slice(0, at + probe.length))) return this.eosToken;
    // What follows the reply both when the conversation ends there and when it goes on: the end
    // of the turn, without what a template writes only at the end (Phi-3.5 adds EOS there).
    let n = at + probe.length;
    while (n < last.length && last[n] === more[n]) n++;
    if (n < last.length) n = backOff(last, n, at + probe.length);
    return last.slice(at + probe.length, n).trim() || this.eosToken;
  }

  private run(t: Template, messages: readonly ChatMessage[], addGenerationPrompt: boolean): string {
    try {
      return t.render({
        messages: messages.map((m) => ({ role: m.role, content: m.content })),
        bos_token: this.bosToken,
        eos_token: this.eosToken,
        add_generation_prompt: addGenerationPrompt,
      });
    } catch (e) {
      throw new Error(`the ${this.describe()} fails on this conversation: ${(e as Error).message}`);
    }
  }

  private describe(): string {
    return this.source === 'model' ? "model's chat template" : 'default chat template';
  }

  private fromMarkers(messages: readonly ChatMessage[]): RenderedChat {
    const raw = this.run(this.marked!, messages, false);
    let text = '';
    const replies: Span[] = [];
    let open = -1;
    for (const ch of raw) {
      if (ch === GEN_START) open = text.length;
      else if (ch === GEN_END) {
        if (open >= 0) replies.push(trimmedSpan(text, open, text.length));
        open = -1;
      } else text += ch;
    }
    if (text !== this.render(messages, false)) throw new Error(`the ${this.describe()} renders differently with its {% generation %} markers read; report this template`);
    return { text, replies: replies.filter((s) => s.end > s.start) };
  }

  private fromPrefixes(messages: readonly ChatMessage[]): RenderedChat {
    const text = this.render(messages, false);
    const replies: Span[] = [];
    for (let i = 0; i < messages.length; i++) {
      if (messages[i].role !== 'assistant') continue;
      const before = this.render(messages.slice(0, i), true);
      const through = this.render(messages.slice(0, i + 1), false);
      let end = before.length;
      while (end < through.length && through[end] === text[end]) end++;
      // The whole conversation must carry the reply as rendering through it does: at least up to
      // the end of its content.
      const replyEnd = before.length + contentEnd(through.slice(before.length), messages[i].content);
      if (!through.startsWith(before) || !text.startsWith(before) || end < replyEnd) {
        throw new Error(
          `the ${this.describe()} does not render the conversation up to assistant message ${i + 1} as the prompt for it followed by the reply ` +
          '(it rewrites earlier turns), so the trained text could not be prompted for; put {% generation %}…{% endgeneration %} around the reply in the template, or train on one reply per line');
      }
      // The reply is what rendering through it adds to the prompt, as far as the whole
      // conversation agrees (a template may write something only after the last turn).
      if (end < through.length) end = backOff(text, end, replyEnd);
      replies.push(trimmedSpan(text, before.length, end));
    }
    return { text, replies: replies.filter((s) => s.end > s.start) };
  }
}

/** Where the reply's content ends in `rest` (the text from the reply's start), 0 when it is not there verbatim. */
function contentEnd(rest: string, content: string): number {
  const trimmed = content.trim();
  const at = trimmed ? rest.indexOf(trimmed) : -1;
  return at < 0 ? 0 : at + trimmed.length;
}

/**
 * The two renderings part ways at `end` by chance in the middle of a marker ("<|end|>\n<|" is
 * shared by "<|endoftext|>" and "<|user|>"): back off to the end of the last whole marker or
 * whitespace, never into the reply's content (`floor`).
 */
function backOff(text: string, end: number, floor: number): number {
  let e = end;
  while (e > floor && !/[\s>\]]/.test(text[e - 1])) e--;
  return e;
}

/** [start, end) with the trailing whitespace cut: the newline after an end-of-turn marker is context. */
function trimmedSpan(text: string, start: number, end: number): Span {
  while (end > start && /\s/.test(text[end - 1])) end--;
  return { start, end };
}

function compile(template: string, source: ChatTemplateSource): Template {
  try {
    return new Template(template);
  } catch (e) {
    throw new Error(`the ${source === 'model' ? "model's chat template" : 'default chat template'} is not valid Jinja as @huggingface/jinja reads it: ${(e as Error).message}`);
  }
}
