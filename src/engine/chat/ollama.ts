// The chat template as an Ollama TEMPLATE (Go text/template over .Messages), for a Modelfile.
//
// Rather than translating Jinja syntax, the model's template is rendered with stand-in messages
// and cut into the fixed text that surrounds each message: what starts the conversation (with
// and without a system message), what follows a user message (its end and the assistant's
// header) and what follows an assistant reply (its end of turn and the next user's header).
// That covers the common families (ChatML/Qwen, Llama 3, Gemma, Phi-3, Mistral, the default)
// including their fixed system headers (Qwen's default system prompt, Llama 3.1+'s dated
// header). The cut is checked by rendering conversations both ways; a template that does not
// fit this shape gets no TEMPLATE (Ollama then picks one from the GGUF's chat template itself).
import { ChatFormat, ChatMessage } from './template';

export interface OllamaTemplate {
  /** Go template text for Modelfile TEMPLATE. */
  template: string;
  /** PARAMETER stop values. */
  stop: string[];
}

/** The fixed text around messages, as the model's template writes it. */
export interface TurnPieces {
  /** Before the first user message when there is no system message. */
  head: string;
  /** Before the system message's content, and between it and the first user message; undefined: no system role. */
  systemHead?: string;
  systemToUser?: string;
  /** After a user message (the end of its turn and the assistant's header). */
  afterUser: string;
  /** After an assistant reply followed by a user message. */
  afterAssistant: string;
}

// Stand-in contents: no whitespace (templates trim), unlikely anywhere else.
const S = 'Sq7Sys', U1 = 'Uq7One', A1 = 'Aq7One', U2 = 'Uq7Two';

function between(text: string, from: string | undefined, to: string | undefined): string | undefined {
  const i = from === undefined ? 0 : text.indexOf(from);
  if (i < 0) return undefined;
  const start = from === undefined ? 0 : i + from.length;
  const j = to === undefined ? text.length : text.indexOf(to, start);
  return j < 0 ? undefined : text.slice(start, j);
}

/** Cuts the template into TurnPieces; undefined when it does not have that shape. */
export function turnPieces(fmt: ChatFormat): TurnPieces | undefined {
  const conv: ChatMessage[] = [{ role: 'user', content: U1 }, { role: 'assistant', content: A1 }, { role: 'user', content: U2 }];
  let x: string;
  try {
    x = fmt.prompt(conv);
  } catch {
    return undefined;
  }
  const head = between(x, undefined, U1);
  const afterUser = between(x, U1, A1);
  const afterAssistant = between(x, A1, U2);
  const tail = between(x, U2, undefined);
  if (head === undefined || afterUser === undefined || afterAssistant === undefined || tail !== afterUser) return undefined;
  const pieces: TurnPieces = { head: stripBos(head, fmt), afterUser, afterAssistant };
  let y: string | undefined;
  try {
    y = fmt.prompt([{ role: 'system', content: S }, ...conv]);
  } catch {
    y = undefined; // no system role (Gemma, Mistral v0.2 raise): system messages are left out
  }
  if (y !== undefined) {
    const systemHead = between(y, undefined, S);
    const systemToUser = between(y, S, U1);
    if (systemHead === undefined || systemToUser === undefined || !y.endsWith(x.slice(x.indexOf(U1)))) return undefined;
    pieces.systemHead = stripBos(systemHead, fmt);
    pieces.systemToUser = systemToUser;
  }
  return pieces;
}

/** llama.cpp/Ollama add BOS themselves when the model asks for it: the template must not write it too. */
function stripBos(s: string, fmt: ChatFormat): string {
  return fmt.bosToken && s.startsWith(fmt.bosToken) ? s.slice(fmt.bosToken.length) : s;
}

/**
 * The prompt TurnPieces give for a conversation ending with a user message (what the Go
 * template renders), BOS left out: to check the cut against the Jinja template.
 */
export function renderPieces(p: TurnPieces, messages: readonly ChatMessage[]): string {
  const system = messages.find((m) => m.role === 'system');
  let out = system && p.systemHead !== undefined ? p.systemHead + system.content + p.systemToUser : p.head;
  for (const m of messages) {
    if (m.role === 'user') out += m.content + p.afterUser;
    else if (m.role === 'assistant') out += m.content + p.afterAssistant;
  }
  return out;
}

/** A Go template string literal (text/template accepts Go's interpreted strings). */
function goString(s: string): string {
  return JSON.stringify(s);
}

/** The Go template for TurnPieces: literal text only inside {{ }} string actions, so no whitespace trimming applies. */
export function goTemplate(p: TurnPieces): string {
  const system = p.systemHead !== undefined
    ? `{{- $system := "" }}{{- range .Messages }}{{- if eq .Role "system" }}{{ $system = .Content }}{{ end }}{{ end }}` +
      `{{- if $system }}{{ ${goString(p.systemHead)} }}{{ $system }}{{ ${goString(p.systemToUser ?? '')} }}{{ else }}{{ ${goString(p.head)} }}{{ end }}`
    : `{{- ${goString(p.head)} }}`;
  return system +
    '{{- range .Messages }}' +
    `{{- if eq .Role "user" }}{{ .Content }}{{ ${goString(p.afterUser)} }}` +
    `{{- else if eq .Role "assistant" }}{{ .Content }}{{ ${goString(p.afterAssistant)} }}` +
    '{{- end }}{{- end }}';
}

const CHECKS: ChatMessage[][] = [
  [{ role: 'user', content: 'Hello there' }],
  [{ role: 'user', content: 'One' }, { role: 'assistant', content: 'Two' }, { role: 'user', content: 'Three' }],
  [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'One' }, { role: 'assistant', content: 'Two' }, { role: 'user', content: 'Three' }],
];

/** The Ollama TEMPLATE and stops for a chat format, or a reason why there is none. */
export function ollamaTemplate(fmt: ChatFormat): OllamaTemplate | { reason: string } {
  const p = turnPieces(fmt);
  if (!p) return { reason: 'the chat template does not have the plain turn shape this translation knows (one header and end per role)' };
  for (const c of CHECKS) {
    if (c[0].role === 'system' && p.systemHead === undefined) continue;
    let want: string;
    try {
      want = stripBos(fmt.prompt(c), fmt);
    } catch {
      continue;
    }
    const got = renderPieces(p, c);
    if (got !== want) return { reason: `translating the chat template changes the prompt ${JSON.stringify(got)} (the model's: ${JSON.stringify(want)})` };
  }
  const stop = [fmt.turnEnd()].filter((s) => s.length > 0);
  return { template: goTemplate(p), stop };
}
