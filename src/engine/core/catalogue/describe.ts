// One-line descriptions of catalogue entries, shared by `adapt-lab models` and the extension's
// model pickers so both say the same thing.
import { CatalogueEntry } from '../../../protocol/catalogue';
import { formatBytes } from '../memory';

/** 1234567 → "1.2M", 494032768 → "494M", 1235814400 → "1.24B". */
export function shortCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(n >= 1e10 ? 0 : 2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e8 ? 0 : 1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(n >= 1e5 ? 0 : 1)}K`;
  return String(n);
}

/** "llama · 1.24B params · Q4_K_M · 770 MiB" (what is known of it). */
export function describeEntry(e: CatalogueEntry): string {
  return [e.family, e.params !== undefined ? `${shortCount(e.params)} params` : undefined, e.dtype, e.sizeBytes ? formatBytes(e.sizeBytes) : undefined]
    .filter(Boolean).join(' · ');
}

/** "trainable", or why not. */
export function verdictOf(e: CatalogueEntry): string {
  if (e.error) return `unreadable: ${e.error}`;
  return e.trainable ? 'trainable' : `not trainable: ${e.reason}`;
}
