// Locates the read-only shared/ folder (models, fixtures) that sits next to the repository
// (/work/shared for the checkout /work/main), or inside it on machines that copy it there.
// Tests run from the repository root (mocha's cwd); ADAPT_LAB_SHARED overrides.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

let root: string | undefined;

export function sharedRoot(): string {
  if (root) return root;
  const candidates = [process.env.ADAPT_LAB_SHARED, resolve(process.cwd(), 'shared'), resolve(process.cwd(), '../shared')]
    .filter((p): p is string => !!p);
  root = candidates.find((p) => existsSync(p));
  if (!root) throw new Error(`shared/ not found (looked in ${candidates.join(', ')})`);
  return root;
}

/** Absolute path of a file under shared/, e.g. sharedPath('models', 'stories260K', 'stories260K.gguf'). */
export function sharedPath(...parts: string[]): string {
  return resolve(sharedRoot(), ...parts);
}
