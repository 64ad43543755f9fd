// Errors reach the user as notifications with something to do about them: Open Log always,
// and Open Dataset / Open Config when the message names a file and line (`train.jsonl:17: ...`,
// `adapt-lab.json:3:5: ...`), revealing that line.
import { existsSync } from 'node:fs';
import { basename, isAbsolute } from 'node:path';
import * as vscode from 'vscode';
import { isRestrictedMessage, MANAGE_TRUST, manageTrust } from './trust';

export interface FileLocation {
  file: string;
  line: number;
  column?: number;
}

/**
 * The first `<file>:<line>:` in a message whose file is one of `candidates` (matched by full
 * path or by base name, as the engine's messages use base names).
 */
export function locateInMessage(message: string, candidates: string[]): FileLocation | undefined {
  const re = /(^|[\s"'(])([^\s"'():]+?\.(?:jsonl|json|txt)):(\d+)(?::(\d+))?:/gm;
  for (const m of message.matchAll(re)) {
    const named = m[2];
    const file = candidates.find((c) => c === named || basename(c) === basename(named)) ?? (isAbsolute(named) && existsSync(named) ? named : undefined);
    if (file) return { file, line: Number(m[3]), column: m[4] ? Number(m[4]) : undefined };
  }
  return undefined;
}

export async function revealLocation(loc: FileLocation): Promise<void> {
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(loc.file));
  const line = Math.max(0, Math.min(doc.lineCount - 1, loc.line - 1));
  const col = Math.max(0, (loc.column ?? 1) - 1);
  const pos = new vscode.Position(line, col);
  await vscode.window.showTextDocument(doc, { selection: new vscode.Range(pos, doc.lineAt(line).range.end), preview: false });
}

/**
 * Shows `message` (first line in the notification, the rest in the log) with Open Log and, when
 * the message points into one of `files`, Open Dataset (or Open Config for a .json config).
 */
export async function showError(message: string, log: vscode.OutputChannel, files: string[] = [], extra: string[] = []): Promise<string | undefined> {
  const lines = message.split('\n').filter(Boolean);
  if (lines.length > 1) for (const l of lines) log.appendLine(`  ${l}`);
  const loc = locateInMessage(message, files);
  const isConfig = (f: string) => /adapt-lab[^/\\]*\.json$/.test(f) || /[/\\]\.pending[/\\]/.test(f);
  const openLabel = loc ? (isConfig(loc.file) ? 'Open Config' : 'Open Dataset') : undefined;
  const shown = lines.length > 1 ? `${lines[0]} (and ${lines.length - 1} more: see the log)` : lines[0] ?? 'unknown error';
  const restricted = isRestrictedMessage(message);
  const actions = [...(restricted ? [MANAGE_TRUST] : []), ...(openLabel ? [openLabel] : []), ...extra, 'Open Log'];
  const choice = await vscode.window.showErrorMessage(`Adapt Lab: ${shown}`, ...actions);
  if (choice === MANAGE_TRUST) await manageTrust();
  else if (choice === 'Open Log') log.show(true);
  else if (choice && choice === openLabel && loc) await revealLocation(loc);
  return choice;
}
