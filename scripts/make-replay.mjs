#!/usr/bin/env node
// Writes samples/replay.txt: general text in the base model's own domain, for the replay mix
// (`data.replay`) that keeps an adaptation from forgetting ordinary text. The openings of a few
// chapters the embedded model was pretrained on (never the probe's held-out chapter, never a
// validation chapter: see scripts/pretrain-base.mjs), from Debian's r-cran-janeaustenr.
// Deterministic; `--check` compares with the committed file instead of writing.
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readAusten } from './pretrain/austen.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'samples', 'replay.txt');
const CHAPTERS = [3, 57, 101, 171, 210, 250]; // corpus indices; none is 133 (probe) or i % 80 === 40 (validation)
const CHARS_EACH = 1500;

const austen = readAusten(join(tmpdir(), 'adapt-lab-austen-cache'), (s) => console.log(s));
let text = '';
for (const i of CHAPTERS) {
  if (i === 133 || i % 80 === 40) throw new Error(`chapter ${i} is held out of pretraining`);
  let part = '';
  for (const p of austen.chapters[i].text.split('\n')) {
    if (part.length + p.length + 1 > CHARS_EACH && part) break;
    part += `${p}\n`;
  }
  text += part;
}
if (process.argv.includes('--check')) {
  if (readFileSync(OUT, 'utf8') !== text) { console.error('samples/replay.txt differs from what this script writes'); process.exit(1); }
  console.log('samples/replay.txt is up to date');
} else {
  writeFileSync(OUT, text);
  console.log(`wrote samples/replay.txt (${text.length} characters from ${CHAPTERS.length} chapters)`);
}
