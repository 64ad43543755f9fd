// What `export --force` may replace. An export folder carries a marker file; --force replaces
// a non-empty --out only when it has that marker (an earlier export made it), and never a
// folder that holds a run, a runs folder, an audit log, the base model or the data, nor an
// ancestor of any of them — whatever the marker says. Paths are compared after resolving
// symbolic links, so a link to the runs folder is the runs folder.
import { existsSync, readdirSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { AUDIT_FILE, CHECKPOINTS_DIR, RUN_FILE } from './runs/store';
import { TOOL_VERSION } from './version';

/** The marker file every export folder holds. */
export const EXPORT_MARKER = '.adapt-lab-export';

/** Writes the marker into a (temporary) export folder. */
export function writeExportMarker(dir: string, info: { format: string; runId?: string }): void {
  writeFileSync(join(dir, EXPORT_MARKER), JSON.stringify({ tool: 'adapt-lab', version: TOOL_VERSION, time: new Date().toISOString(), ...info }) + '\n');
}

function real(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return resolve(p);
  }
}

function contains(dir: string, p: string): boolean {
  const rel = relative(dir, p);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** A file or folder inside `dir` (depth-first, up to `limit` entries) that marks a run or runs folder. */
function findRunData(dir: string, limit = 10000): string | undefined {
  const stack = [dir];
  let seen = 0;
  while (stack.length) {
    const d = stack.pop()!;
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      if (++seen > limit) return `${dir} (more than ${limit} files: not an export)`;
      const p = join(d, e.name);
      if (e.name === RUN_FILE || e.name === AUDIT_FILE || (e.name === CHECKPOINTS_DIR && e.isDirectory())) return p;
      if (e.isDirectory()) stack.push(p);
    }
  }
  return undefined;
}

/**
 * Throws when writing the export to `out` could destroy anything but an earlier export.
 * `protect` lists paths that must survive (the run folder, the runs folder, the base model,
 * the data files); `force` allows replacing a non-empty `out` that an earlier export made.
 */
export function checkExportTarget(out: string, force: boolean, protect: string[] = []): void {
  const target = real(out);
  for (const p of protect) {
    if (p && contains(target, real(p))) {
      throw new Error(`--out ${out} holds ${p}, which an export must never replace: choose a new folder for the export`);
    }
  }
  if (!existsSync(out)) return;
  if (!statSync(out).isDirectory()) throw new Error(`${out} exists and is not a folder`);
  if (readdirSync(out).length === 0) return;
  if (!force) throw new Error(`${out} already exists and is not empty (pass --force to replace an earlier export there)`);
  const runData = findRunData(out);
  if (runData) throw new Error(`--out ${out} holds run data (${runData}): --force never replaces a run, a runs folder or an audit log; choose a new folder`);
  if (!existsSync(join(out, EXPORT_MARKER))) {
    throw new Error(`${out} was not made by an Adapt Lab export (it has no ${EXPORT_MARKER} file): --force replaces only an earlier export; choose a new folder or empty this one yourself`);
  }
}
