// Chat text to token ids, the way an inference server tokenizes a rendered prompt: the whole
// text in one go, special-token strings ("<|im_start|>", "<|eot_id|>") parsed as the tokens they
// name, BOS added only when the model asks for it and the template did not write it already.
//
// Training tokenizes the whole conversation the same way and puts loss on the tokens of the
// replies. A reply starts at the token where the prompt for it (rendered with
// add_generation_prompt and tokenized alone) stops agreeing with the conversation's tokens, so
// the training tokens of a conversation are the inference prompt's tokens followed by the
// reply's. Where a tokenizer merges the prompt's last characters with the reply's first into
// one token, that token is trained (it holds reply text) and the example is counted as
// `straddling`: no prompt could produce it exactly.
import type { Tokenizer } from '../tokenizers';
import { ChatFormat, ChatMessage, DEFAULT_CHAT_TEMPLATE, RenderedChat } from './template';
import type { ChatTemplateInfo } from '../core/chat-info';

export interface ChatEncoding {
  ids: number[];
  /** mask[i] === 1: ids[i] is a reply token (a label). */
  mask: Uint8Array;
  /** Replies whose first or last token also holds prompt / following text. */
  straddling: number;
}

function specialTexts(tok: Tokenizer): { bosToken?: string; eosToken?: string } {
  return {
    bosToken: tok.bos !== undefined ? tok.tokenToPiece(tok.bos) : undefined,
    eosToken: tok.eos !== undefined ? tok.tokenToPiece(tok.eos) : undefined,
  };
}

/** The ChatFormat for a model: its own template when it has one, else the default. */
export function chatFormatFor(chatTemplate: string | undefined, tok: Tokenizer): ChatFormat {
  const special = specialTexts(tok);
  return chatTemplate && chatTemplate.trim() ? new ChatFormat(chatTemplate, 'model', special) : new ChatFormat(DEFAULT_CHAT_TEMPLATE, 'default', special);
}

/** The ChatFormat a run recorded in run.json (`chatTemplate`): what it was trained with. */
export function chatFormatFromInfo(info: ChatTemplateInfo, tok: Tokenizer): ChatFormat {
  return new ChatFormat(info.template, info.source, specialTexts(tok));
}

/** Token ids of rendered chat text (see the top of this file). */
export function encodeChatText(text: string, tok: Tokenizer, fmt: ChatFormat): number[] {
  const templateWroteBos = fmt.bosToken !== '' && text.startsWith(fmt.bosToken);
  return tok.encode(text, { addBos: tok.addBos && !templateWroteBos, addEos: false, parseSpecial: true });
}

/** Token ids of the prompt for the next assistant reply. */
export function encodeChatPrompt(messages: readonly ChatMessage[], tok: Tokenizer, fmt: ChatFormat): number[] {
  return encodeChatText(fmt.prompt(messages), tok, fmt);
}

function commonPrefix(a: readonly number[], b: readonly number[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

/** A whole conversation as training tokens with loss on the replies. */
export function encodeChat(messages: readonly ChatMessage[], tok: Tokenizer, fmt: ChatFormat): ChatEncoding {
  return encodeRendered(fmt.renderWithReplies(messages), tok, fmt);
}

export function encodeRendered(r: RenderedChat, tok: Tokenizer, fmt: ChatFormat): ChatEncoding {
  const templateWroteBos = fmt.bosToken !== '' && r.text.startsWith(fmt.bosToken);
  const encode = (s: string) => tok.encode(s, { addBos: tok.addBos && !templateWroteBos, addEos: false, parseSpecial: true });
  const ids = encode(r.text);
  const mask = new Uint8Array(ids.length);
  let straddling = 0;
  for (const span of r.replies) {
    const head = encode(r.text.slice(0, span.start));
    const start = commonPrefix(ids, head);
    const upto = encode(r.text.slice(0, span.end));
    const agreed = commonPrefix(ids, upto);
    // Aligned: the tokens of the text through the reply are a prefix of the whole; otherwise
    // the token at `agreed` holds the reply's last characters and what follows.
    const end = agreed === upto.length ? agreed : Math.min(ids.length, agreed + 1);
    if (start !== head.length || agreed !== upto.length) straddling++;
    for (let i = start; i < end; i++) mask[i] = 1;
  }
  if (mask.length) mask[0] = 0;
  return { ids, mask, straddling };
}
