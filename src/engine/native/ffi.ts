// Loads koffi, the foreign-function interface the BLAS binding goes through. The packaged
// extension has no node_modules: scripts/build.mjs copies koffi's loader and its prebuilt
// binaries next to the bundles (dist/koffi/), and that copy is tried first.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type * as Koffi from 'koffi';

export type KoffiModule = typeof Koffi;

let koffi: KoffiModule | undefined;

/** koffi, or an error saying why it could not load (no binary for this platform, ...). */
export function loadKoffi(): KoffiModule {
  if (koffi) return koffi;
  const beside = join(__dirname, 'koffi', 'index.js');
  // A computed name: the bundler leaves it to Node (koffi's binaries cannot be bundled).
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  koffi = require(existsSync(beside) ? beside : 'koffi') as KoffiModule;
  return koffi;
}
