// Locates the read-only shared/ folder (models, fixtures) that sits next to the repository
// (/work/shared for the checkout /work/main), or inside it on machines that copy it there.
// Tests run from the repository root (mocha's cwd); ADAPT_LAB_SHARED overrides.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

let root: string | undefined;

/** shared/ for a checkout at `base`: ADAPT_LAB_SHARED, `<base>/shared` or `<base>/../shared`. */
export function sharedRootFrom(base: string): string {
  const candidates = [process.env.ADAPT_LAB_SHARED, resolve(base, 'shared'), resolve(base, '../shared')]
    .filter((p): p is string => !!p);
  const found = candidates.find((p) => existsSync(resolve(p, 'models')));
  if (!found) throw new Error(`shared/ not found (looked in ${candidates.join(', ')})`);
  return found;
}

export function sharedRoot(): string {
  return (root ??= sharedRootFrom(process.cwd()));
}

/** Absolute path of a file under shared/, e.g. sharedPath('models', 'stories260K', 'stories260K.gguf'). */
export function sharedPath(...parts: string[]): string {
  return resolve(sharedRoot(), ...parts);
}
