// Token-id shards for the PyTorch trainer, so Python needs no tokenizer: <name>.ids holds the
// examples' token ids one after the other (little-endian int32), <name>.mask their loss masks
// (uint8, 1 = a label), and <name>.json their lengths. python/adapt_lab_torch/data.py reads them.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Example } from '../data/dataset';

export function writeShard(dir: string, name: string, examples: readonly Example[]): void {
  const lengths = examples.map((e) => e.ids.length);
  const total = lengths.reduce((a, b) => a + b, 0);
  const ids = Buffer.alloc(total * 4);
  const mask = Buffer.alloc(total);
  let at = 0;
  for (const e of examples) {
    for (let i = 0; i < e.ids.length; i++) {
      ids.writeInt32LE(e.ids[i], (at + i) * 4);
      mask[at + i] = e.mask[i];
    }
    at += e.ids.length;
  }
  writeFileSync(join(dir, `${name}.ids`), ids);
  writeFileSync(join(dir, `${name}.mask`), mask);
  writeFileSync(join(dir, `${name}.json`), `${JSON.stringify({ examples: examples.length, tokens: total, lengths })}\n`);
}
