// The Preview Training Data page: the first examples of a data file as training tokenizes them
// with the chosen model (its chat template and tokenizer). Every token is its own box; the
// tokens that carry loss (the replies, the completions) are highlighted, the prompt tokens are
// not; counts per example and for the whole file; which template rendered the conversations.
import '@vscode-elements/elements/dist/vscode-button/index.js';
import type { VscodeButton } from '@vscode-elements/elements/dist/vscode-button/vscode-button.js';
import { parsePreviewHostMessage, PreviewExample, PreviewPayload, PreviewWebviewMessage } from '../../src/protocol/preview';
import { adoptCss, h } from '../shared/dom';
import { vscodeApi } from '../shared/vscode';
import { share, tokenFace } from './tokens';
import baseCss from '../shared/base.css';
import previewCss from './preview.css';

const vscode = vscodeApi<PreviewWebviewMessage, undefined>();
adoptCss(baseCss + previewCss);

const FORMAT_LABEL: Record<string, string> = {
  messages: 'conversations ({"messages"})', 'prompt-completion': 'prompt / completion', text: 'plain text',
};
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const base = (p: string) => p.split(/[\\/]/).filter(Boolean).pop() ?? p;

const titleEl = h('h1', {}, 'Training Data Preview');
const sourceEl = h('span', { class: 'muted', id: 'source' });
const factsEl = h('div', { class: 'facts', id: 'facts' });
const statusEl = h('div', { class: 'status muted', id: 'status' }, 'Waiting for the data…');
const problemsEl = h('div', { id: 'warnings' });
const examplesEl = h('div', { id: 'examples', 'data-examples': 0 });
const moreButton = h('vscode-button', { id: 'more', secondary: true, icon: 'add' }, 'Show More Examples') as VscodeButton;
const moreNote = h('span', { class: 'muted', id: 'more-note' });
const moreEl = h('div', { class: 'more', hidden: true }, moreButton, moreNote);

const legend = h('div', { class: 'legend', id: 'legend' },
  h('span', {}, h('span', { class: 'tok loss' }, 'trained'), ' carries loss'),
  h('span', {}, h('span', { class: 'tok' }, 'prompt'), ' context only'),
  h('span', {}, h('span', { class: 'tok special' }, '<special>'), ' special token'),
  h('span', { class: 'muted' }, 'one box per token · ↵ newline · · space · hover a token for its id'));

const app = document.getElementById('app') ?? document.body;
app.append(h('header', { class: 'page' }, titleEl, sourceEl), factsEl, legend, problemsEl, statusEl, examplesEl, moreEl);

function fact(icon: string, text: string, attrs: Record<string, string | number> = {}): HTMLElement {
  return h('span', attrs, h('span', { class: `codicon codicon-${icon}` }), text);
}

function templateFact(p: PreviewPayload): HTMLElement | undefined {
  if (!p.template) return undefined;
  const own = p.template.source === 'model';
  const text = own ? `${p.template.name} — the model's own chat template` : `${p.template.name} template — the model has no chat template`;
  return h('span', { class: `template ${p.template.source}`, id: 'template', 'data-source': p.template.source, 'data-name': p.template.name },
    h('span', { class: `codicon codicon-${own ? 'pass' : 'warning'}` }), text);
}

function tokenSpan(t: PreviewExample['tokens'][number], i: number): HTMLElement {
  const face = tokenFace(t.text);
  const cls = ['tok', t.loss ? 'loss' : 'ctx', i % 2 ? 'alt' : '', t.special ? 'special' : '', face.shown !== t.text && !t.special ? 'ws' : ''].filter(Boolean).join(' ');
  return h('span', { class: cls, title: `#${i} · id ${t.id} · ${t.loss ? 'trained' : 'prompt'}${t.special ? ' · special' : ''} · ${JSON.stringify(t.text)}` }, face.shown);
}

function renderExample(e: PreviewExample, k: number): HTMLElement {
  const body = h('div', { class: 'tokens' });
  e.tokens.forEach((t, i) => {
    body.append(tokenSpan(t, i));
    if (tokenFace(t.text).breaks) body.append('\n');
  });
  return h('section', { class: 'card example', 'data-line': e.line, 'data-count': e.count, 'data-loss': e.lossTokens },
    h('div', { class: 'card-head' },
      h('h3', {}, `Example ${k + 1}`),
      h('span', { class: 'muted counts' }, `line ${e.line} · ${plural(e.count, 'token')} · ${e.lossTokens} trained (${share(e.lossTokens, e.count)})`)),
    body);
}

function render(p: PreviewPayload): void {
  statusEl.hidden = true;
  sourceEl.textContent = `${base(p.data)} with ${base(p.model)}`;
  sourceEl.title = `${p.data}\n${p.model}`;
  const t = p.totals;
  const shownTokens = p.examples.reduce((a, e) => a + e.count, 0);
  const shownLoss = p.examples.reduce((a, e) => a + e.lossTokens, 0);
  factsEl.replaceChildren(...[
    templateFact(p),
    fact('file', FORMAT_LABEL[p.format] ?? p.format, { id: 'format', 'data-format': p.format }),
    fact('symbol-number', `${plural(t.examples, 'example')} · ${plural(t.tokens, 'token')} · ${t.lossTokens} trained (${share(t.lossTokens, t.tokens)}) in the file`,
      { id: 'totals', 'data-examples': t.examples, 'data-tokens': t.tokens, 'data-loss-tokens': t.lossTokens }),
    fact('eye', `shown: ${plural(p.examples.length, 'example')} · ${plural(shownTokens, 'token')} · ${shownLoss} trained`,
      { id: 'shown', 'data-tokens': shownTokens, 'data-loss-tokens': shownLoss }),
  ].filter((x): x is HTMLElement => !!x));
  problemsEl.replaceChildren(...p.warnings.map((w) => h('div', { class: 'problem' }, w)));
  examplesEl.replaceChildren(...p.examples.map(renderExample));
  examplesEl.dataset.examples = String(p.examples.length);
  const left = t.examples - p.examples.length;
  moreEl.hidden = left <= 0;
  moreButton.disabled = false;
  moreNote.textContent = left > 0 ? `${left} more in the file` : '';
}

window.addEventListener('message', (ev: MessageEvent) => {
  let msg;
  try {
    msg = parsePreviewHostMessage(ev.data);
  } catch (e) {
    console.error(`Adapt Lab Preview: ignored a message: ${(e as Error).message}`);
    return;
  }
  if (msg.type === 'preview') render(msg.payload);
  else if (msg.type === 'loading') {
    statusEl.hidden = false;
    statusEl.className = 'status muted';
    statusEl.textContent = `Tokenizing ${base(msg.data)} with ${base(msg.model)}…`;
  } else {
    statusEl.hidden = false;
    statusEl.className = 'status problem error';
    statusEl.textContent = msg.message;
    moreButton.disabled = false;
  }
});

moreButton.addEventListener('click', () => {
  moreButton.disabled = true;
  vscode.postMessage({ type: 'more' });
});

vscode.postMessage({ type: 'ready' });
