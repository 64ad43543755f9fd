// File access for the catalogue, confined to one scanned root: a link is followed only when it
// resolves inside the root (Hugging Face snapshot files point into ../../blobs, which is), a
// loop or a dangling link is a message, never an exception, and a shared budget bounds the
// time and the number of entries a scan may look at.
import { lstat, readdir, readlink, realpath, stat, open } from 'node:fs/promises';
import { isAbsolute, relative } from 'node:path';

/** Thrown when the scan's budget is spent; the scan reports it on the root and stops there. */
export class BudgetSpent extends Error {}

export class Budget {
  private entries = 0;
  constructor(readonly deadline: number, readonly maxEntries: number) {}
  /** Counts `n` entries looked at; throws BudgetSpent past the time or entry limit. */
  tick(n = 1): void {
    this.entries += n;
    if (this.entries > this.maxEntries) throw new BudgetSpent(`scan stopped after ${this.maxEntries} entries (the limit)`);
    if (Date.now() > this.deadline) throw new BudgetSpent('scan stopped: the time limit was reached');
  }
}

export type Resolved = { real: string; size: number; isDir: boolean } | { error: string };

function why(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'ENOENT') return 'missing';
  if (code === 'ELOOP') return 'a symlink loop';
  if (code === 'ENOTDIR') return 'not a folder';
  return (e as Error).message;
}

export class Scope {
  private constructor(readonly root: string, readonly budget: Budget) {}

  /** A scope over `path` (its real path), or a message when it cannot be one. */
  static async open(path: string, budget: Budget): Promise<Scope | { error: string; missing: boolean }> {
    try {
      const real = await realpath(path);
      if (!(await stat(real)).isDirectory()) return { error: `${path} is not a folder`, missing: false };
      return new Scope(real, budget);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return { error: `${path}: ${why(e)}`, missing: code === 'ENOENT' };
    }
  }

  contains(real: string): boolean {
    const rel = relative(this.root, real);
    return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
  }

  /** Where `p` really is, if it exists and stays inside the root. */
  async resolve(p: string): Promise<Resolved> {
    this.budget.tick();
    let real: string;
    try {
      real = await realpath(p);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        // A link whose target is gone (an interrupted download, a removed blob)?
        const target = await readlink(p).catch(() => undefined);
        if (target !== undefined) return { error: `${p} is a link to ${target}, which is missing` };
        return { error: `${p} is missing` };
      }
      if (code === 'ELOOP') return { error: `${p} is a symlink loop` };
      return { error: `${p}: ${why(e)}` };
    }
    if (!this.contains(real)) return { error: `${p} links outside ${this.root} (to ${real}); not followed` };
    try {
      const s = await stat(real);
      return { real, size: s.size, isDir: s.isDirectory() };
    } catch (e) {
      return { error: `${p}: ${why(e)}` };
    }
  }

  /** A folder's entries (names, sorted), or a message when it cannot be read. */
  async list(dir: string): Promise<string[] | { error: string }> {
    try {
      const names = await readdir(dir);
      this.budget.tick(names.length);
      return names.sort();
    } catch (e) {
      if (e instanceof BudgetSpent) throw e;
      return { error: `cannot read folder ${dir}: ${why(e)}` };
    }
  }

  /** True when `p` itself (not what it links to) is a symbolic link. */
  async isLink(p: string): Promise<boolean> {
    return (await lstat(p).catch(() => undefined))?.isSymbolicLink() ?? false;
  }

  /** A small text file inside the root, refused above `maxBytes`. */
  async readText(p: string, maxBytes: number): Promise<string | { error: string }> {
    const r = await this.resolve(p);
    if ('error' in r) return r;
    if (r.isDir) return { error: `${p} is a folder, not a file` };
    if (r.size > maxBytes) return { error: `${p} is ${r.size} bytes, more than the ${maxBytes} expected of it` };
    try {
      const fh = await open(r.real, 'r');
      try {
        const buf = Buffer.alloc(r.size);
        const { bytesRead } = await fh.read(buf, 0, r.size, 0);
        return buf.toString('utf8', 0, bytesRead);
      } finally {
        await fh.close();
      }
    } catch (e) {
      return { error: `cannot read ${p}: ${why(e)}` };
    }
  }
}
