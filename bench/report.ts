// Where results go: one JSON object per line with --json, otherwise human-readable tables
// (and notes) printed as each section finishes. Progress goes to stderr so stdout stays clean.
import { appendFileSync, writeFileSync } from 'node:fs';

export type Record_ = { name: string };

export class Reporter {
  readonly records: Record_[] = [];

  /** `jsonOut`: also append every record as a JSON line to this file (tables still print). */
  constructor(readonly json: boolean, readonly jsonOut?: string) {
    if (jsonOut) writeFileSync(jsonOut, '');
  }

  /** A result record: printed at once as a JSON line in --json mode, kept for tables otherwise. */
  emit<T extends Record_>(rec: T): void {
    const clean = JSON.parse(JSON.stringify(rec, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v)));
    this.records.push(clean);
    if (this.json) process.stdout.write(JSON.stringify(clean) + '\n');
    if (this.jsonOut) appendFileSync(this.jsonOut, JSON.stringify(clean) + '\n');
  }

  /** A human-readable line (a table, a note); in --json mode it becomes a `note` record on stderr. */
  print(text: string): void {
    if (this.json) return;
    process.stdout.write(text + '\n');
  }

  /** A note worth keeping in both modes (skips, warnings). */
  note(section: string, text: string): void {
    this.emit({ name: 'note', section, text });
    if (!this.json) process.stdout.write(`note (${section}): ${text}\n`);
  }

  warn(section: string, text: string): void {
    this.emit({ name: 'warning', section, text });
    if (!this.json) process.stdout.write(`WARNING (${section}): ${text}\n`);
  }

  progress(text: string): void {
    process.stderr.write(`[bench] ${text}\n`);
  }
}
