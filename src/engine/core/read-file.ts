// Reading a file the user named (a run config, data, prompts, a probe, an experiment): a failure
// is one error that names the file and says why in words, and text loses a UTF-8 byte-order mark
// (Windows editors write one), so every reader reports and reads alike.
import { readFileSync } from 'node:fs';

/** "no such file" for a missing file, else the system's reason. */
function why(e: unknown): string {
  return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
}

/** The bytes of `file`, or an Error "`source`: cannot read [`what` ]`file` (why)". */
export function readFileBytes(file: string, source: string, what?: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new Error(`${source}: cannot read ${what ? `${what} ` : ''}${file} (${why(e)})`);
  }
}

/** Text without a leading byte-order mark. */
export function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** The text of `file` as UTF-8, without a byte-order mark; errors as readFileBytes. */
export function readTextFile(file: string, source: string, what?: string): string {
  return stripBom(readFileBytes(file, source, what).toString('utf8'));
}
