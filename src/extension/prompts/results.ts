// Inline results: the answer after the prompt (an `after` decoration), and a hover on the same
// lines with the full answer, per-token probabilities and, after ⇄ Compare, how base and
// adapted differ. A result belongs to a range of lines (a case's line, or the lines of an
// evaluated selection) and is dropped as soon as an edit touches them.
import * as vscode from 'vscode';
import { GenerateDone } from '../../protocol/worker';
import { MatchKind } from '../../protocol/eval';
import { shorten } from './cases';

export type Which = 'base' | 'adapted';

export interface Answer {
  which: Which;
  /** "Base" or "Adapted (<run name>)". */
  label: string;
  model: string;
  adapter?: string;
  /** The answer so far (all of it once done). */
  text: string;
  state: 'waiting' | 'streaming' | 'done' | 'cancelled' | 'error';
  error?: string;
  /** Against `expected`, once done. */
  correct?: boolean;
  done?: GenerateDone;
}

export interface LineResult {
  /** First and last line (0-based) the result belongs to; the decoration follows `anchor`. */
  startLine: number;
  endLine: number;
  anchor: vscode.Position;
  prompt: string;
  expected?: string;
  match?: MatchKind;
  caseId?: string;
  /** In the order they were asked for. */
  answers: Answer[];
}

const INLINE_MAX = 60;

const mark = (a: Answer) => (a.correct === undefined ? '' : a.correct ? ' ✓' : ' ✗');
const ms = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '–' : x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : `${Math.round(x)} ms`);

function answerInline(a: Answer, max: number): string {
  switch (a.state) {
    case 'waiting':
      return `${a.label}: …`;
    case 'error':
      return `${a.label}: ⚠ ${shorten(a.error ?? 'failed', max)}`;
    default: {
      const text = `"${shorten(a.text, max)}"`;
      if (a.state === 'streaming') return `${text} ⋯`;
      const tail = a.state === 'cancelled' ? ' (cancelled)' : `${mark(a)} ${ms(a.done?.totalMs)}`;
      return `${text}${tail}`;
    }
  }
}

/** The `after` text of a result. */
export function inlineText(r: LineResult): string {
  if (r.answers.length === 1) {
    const a = r.answers[0];
    const body = answerInline(a, INLINE_MAX);
    return a.state === 'waiting' || a.state === 'error' ? `  ${body}` : `  → ${body}  · ${a.label}`;
  }
  const each = Math.max(16, Math.floor(INLINE_MAX / r.answers.length));
  return '  ' + r.answers.map((a) => (a.state === 'waiting' || a.state === 'error' ? answerInline(a, each) : `${a.which === 'base' ? 'base' : 'adapted'} → ${answerInline(a, each)}`)).join('  │  ');
}

function verdictColor(r: LineResult): vscode.ThemeColor {
  const last = r.answers[r.answers.length - 1];
  if (last?.correct === true) return new vscode.ThemeColor('testing.iconPassed');
  if (last?.correct === false) return new vscode.ThemeColor('testing.iconFailed');
  if (last?.state === 'error') return new vscode.ThemeColor('editorError.foreground');
  return new vscode.ThemeColor('editorCodeLens.foreground');
}

// ------------------------------------------------------------------------------------ hover

/** Text in a Markdown code span, with line breaks and pipes visible and table-safe. */
function code(s: string): string {
  const shown = s.replace(/\r/g, '\\r').replace(/\n/g, '\\n').replace(/\t/g, '\\t');
  const body = shown === '' ? '∅' : shown;
  const fence = body.includes('`') ? '``' : '`';
  const pad = body.startsWith('`') || body.endsWith('`') || body.startsWith(' ') || body.endsWith(' ') ? ' ' : '';
  return `${fence}${pad}${body}${pad}${fence}`.replace(/\|/g, '\\|');
}

const p2 = (p: number) => (Number.isFinite(p) ? p.toFixed(p >= 0.995 || p < 0.01 ? 3 : 2) : '–');

function meanProb(d: GenerateDone | undefined): number {
  const ps = (d?.tokens ?? []).map((t) => t.prob).filter((p) => Number.isFinite(p));
  return ps.length ? ps.reduce((a, b) => a + b, 0) / ps.length : NaN;
}

function answerMarkdown(r: LineResult, a: Answer, md: vscode.MarkdownString, tokens: boolean): void {
  const verdict = a.correct === undefined ? '' : a.correct ? ' — ✓ correct' : ` — ✗ expected ${code(r.expected ?? '')}${r.match && r.match !== 'exact' ? ` (${r.match})` : ''}`;
  md.appendMarkdown(`**${escapeMd(a.label)}**${verdict}\n\n`);
  if (a.state === 'error') {
    md.appendMarkdown(`⚠ ${escapeMd(a.error ?? 'failed')}\n\n`);
    return;
  }
  md.appendCodeblock(a.text || '(empty answer)', 'text');
  const d = a.done;
  if (d) {
    const load = d.warm ? 'model already loaded' : `model loaded in ${ms(d.loadMs)}`;
    md.appendMarkdown(`${ms(d.totalMs)} · first token ${ms(d.firstTokenMs)} · ${d.tokens.length > 1 ? `${ms(d.perTokenMs)}/token · ` : ''}${d.tokens.length} tokens · stop: ${escapeMd(d.stopReason)} · ${load}\n\n`);
  } else if (a.state === 'streaming') md.appendMarkdown('*generating…*\n\n');
  else if (a.state === 'cancelled') md.appendMarkdown('*cancelled*\n\n');
  if (!tokens || !d?.tokens.length) return;
  md.appendMarkdown('| token | p | top alternatives |\n|---|--:|---|\n');
  for (const t of d.tokens.slice(0, 40)) {
    const alts = t.top.filter((x) => x.text !== t.text).slice(0, 3).map((x) => `${code(x.text)} ${p2(x.prob)}`).join(', ');
    md.appendMarkdown(`| ${code(t.text)} | ${p2(t.prob)} | ${alts || '–'} |\n`);
  }
  if (d.tokens.length > 40) md.appendMarkdown(`| … ${d.tokens.length - 40} more | | |\n`);
  md.appendMarkdown('\n');
}

/** One line saying how base and adapted differ, or undefined without both answers. */
export function comparison(r: LineResult): string | undefined {
  const base = r.answers.find((a) => a.which === 'base' && a.state === 'done');
  const adapted = r.answers.find((a) => a.which === 'adapted' && a.state === 'done');
  if (!base || !adapted) return undefined;
  const same = base.text.trim() === adapted.text.trim();
  let judged = '';
  if (base.correct !== undefined && adapted.correct !== undefined) {
    judged = base.correct === adapted.correct
      ? (base.correct ? 'both correct' : 'both wrong')
      : adapted.correct ? '**improvement**: the adapted model fixes this case' : '**regression**: the base model was right';
  }
  const parts = [same ? 'same answer' : 'different answers'];
  if (judged) parts.push(judged);
  const pb = meanProb(base.done);
  const pa = meanProb(adapted.done);
  if (Number.isFinite(pb) && Number.isFinite(pa)) parts.push(`mean token p ${p2(pb)} → ${p2(pa)}`);
  if (base.done && adapted.done) parts.push(`latency ${ms(base.done.totalMs)} → ${ms(adapted.done.totalMs)}`);
  return parts.join(' · ');
}

function firstDifference(base: string, adapted: string): number {
  let i = 0;
  while (i < base.length && i < adapted.length && base[i] === adapted[i]) i++;
  return i;
}

export function hoverMarkdown(r: LineResult): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, true);
  md.supportHtml = false;
  const cmp = comparison(r);
  if (cmp) {
    const base = r.answers.find((a) => a.which === 'base')!;
    const adapted = r.answers.find((a) => a.which === 'adapted')!;
    md.appendMarkdown(`**Base vs adapted**: ${cmp}\n\n`);
    md.appendMarkdown(`| | answer | | latency | mean p |\n|---|---|---|--:|--:|\n`);
    for (const a of [base, adapted]) md.appendMarkdown(`| ${escapeMd(a.label)} | ${code(shorten(a.text, 80))} | ${mark(a).trim() || '–'} | ${ms(a.done?.totalMs)} | ${p2(meanProb(a.done))} |\n`);
    const at = firstDifference(base.text, adapted.text);
    if (base.text !== adapted.text) md.appendMarkdown(`\nThey part after ${code(base.text.slice(0, at))}: base goes on ${code(shorten(base.text.slice(at), 30))}, adapted ${code(shorten(adapted.text.slice(at), 30))}.\n`);
    md.appendMarkdown('\n---\n\n');
  }
  r.answers.forEach((a, i) => {
    if (i > 0) md.appendMarkdown('\n---\n\n');
    answerMarkdown(r, a, md, true);
  });
  return md;
}

function escapeMd(s: string): string {
  return s.replace(/[\\`*_{}[\]<>|#]/g, (c) => `\\${c}`);
}

// ------------------------------------------------------------------------------------ store

export class ResultStore implements vscode.Disposable {
  private readonly byDoc = new Map<string, LineResult[]>();
  private readonly type = vscode.window.createTextEditorDecorationType({
    after: { margin: '0 0 0 1em', fontStyle: 'italic' },
    rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
  });
  /** What was last handed to setDecorations per document (tests read it). */
  private readonly rendered = new Map<string, { line: number; text: string }[]>();
  private readonly subs: vscode.Disposable[] = [];
  private pendingRender = new Set<string>();
  private renderTimer?: NodeJS.Timeout;

  constructor() {
    this.subs.push(
      vscode.workspace.onDidChangeTextDocument((e) => this.onEdit(e)),
      vscode.workspace.onDidCloseTextDocument((d) => this.clear(d.uri)),
      vscode.window.onDidChangeVisibleTextEditors(() => this.renderAll()),
      vscode.languages.registerHoverProvider([{ scheme: 'file' }, { scheme: 'untitled' }], {
        provideHover: (doc, pos) => {
          const r = this.at(doc.uri, pos.line);
          if (!r) return undefined;
          const end = Math.min(r.endLine, doc.lineCount - 1);
          return new vscode.Hover(hoverMarkdown(r), new vscode.Range(r.startLine, 0, end, doc.lineAt(end).text.length));
        },
      }),
    );
  }

  /** The result covering a 0-based line. */
  at(uri: vscode.Uri, line: number): LineResult | undefined {
    return this.byDoc.get(uri.toString())?.find((r) => line >= r.startLine && line <= r.endLine);
  }

  /** Replaces whatever result touches the same lines, and shows it. */
  put(uri: vscode.Uri, r: LineResult): LineResult {
    const key = uri.toString();
    const list = (this.byDoc.get(key) ?? []).filter((x) => x.endLine < r.startLine || x.startLine > r.endLine);
    list.push(r);
    this.byDoc.set(key, list);
    this.render(uri);
    return r;
  }

  /** Redraws after `r` changed; coalesced (streaming tokens come fast) unless `now`. */
  changed(uri: vscode.Uri, r: LineResult, now = false): void {
    if (!this.byDoc.get(uri.toString())?.includes(r)) return; // cleared meanwhile
    this.pendingRender.add(uri.toString());
    if (now) return this.flush();
    this.renderTimer ??= setTimeout(() => this.flush(), 30);
  }

  private flush(): void {
    if (this.renderTimer) clearTimeout(this.renderTimer);
    this.renderTimer = undefined;
    const keys = [...this.pendingRender];
    this.pendingRender.clear();
    for (const k of keys) this.render(vscode.Uri.parse(k));
  }

  /** Whether `r` is still shown (not cleared by an edit). */
  has(uri: vscode.Uri, r: LineResult): boolean {
    return !!this.byDoc.get(uri.toString())?.includes(r);
  }

  clear(uri?: vscode.Uri): void {
    if (uri) {
      this.byDoc.delete(uri.toString());
      this.render(uri);
    } else {
      const keys = [...this.byDoc.keys()];
      this.byDoc.clear();
      for (const k of keys) this.render(vscode.Uri.parse(k));
    }
  }

  /** The after-text shown on a 0-based line of a visible editor (for tests). */
  renderedText(uri: vscode.Uri, line: number): string | undefined {
    return this.rendered.get(uri.toString())?.find((x) => x.line === line)?.text;
  }

  private onEdit(e: vscode.TextDocumentChangeEvent): void {
    const key = e.document.uri.toString();
    const list = this.byDoc.get(key);
    if (!list?.length || !e.contentChanges.length) return;
    const kept: LineResult[] = [];
    let changed = false;
    for (const r of list) {
      let delta = 0;
      let touched = false;
      for (const c of e.contentChanges) {
        if (c.range.end.line < r.startLine) delta += (c.text.match(/\n/g)?.length ?? 0) - (c.range.end.line - c.range.start.line);
        else if (c.range.start.line <= r.endLine) touched = true;
      }
      if (touched) {
        changed = true;
        continue;
      }
      if (delta) {
        changed = true;
        r.startLine += delta;
        r.endLine += delta;
        r.anchor = r.anchor.with(r.anchor.line + delta);
      }
      kept.push(r);
    }
    if (!changed) return;
    this.byDoc.set(key, kept);
    this.render(e.document.uri);
  }

  private renderAll(): void {
    for (const k of new Set([...this.byDoc.keys(), ...this.rendered.keys()])) this.render(vscode.Uri.parse(k));
  }

  private render(uri: vscode.Uri): void {
    const key = uri.toString();
    const list = this.byDoc.get(key) ?? [];
    const opts: vscode.DecorationOptions[] = list.map((r) => ({
      range: new vscode.Range(r.anchor, r.anchor),
      renderOptions: { after: { contentText: inlineText(r), color: verdictColor(r) } },
    }));
    if (list.length) this.rendered.set(key, list.map((r) => ({ line: r.anchor.line, text: inlineText(r) })));
    else this.rendered.delete(key);
    for (const ed of vscode.window.visibleTextEditors) if (ed.document.uri.toString() === key) ed.setDecorations(this.type, opts);
    if (!list.length) this.byDoc.delete(key);
  }

  dispose(): void {
    if (this.renderTimer) clearTimeout(this.renderTimer);
    this.subs.forEach((d) => d.dispose());
    this.type.dispose();
  }
}
