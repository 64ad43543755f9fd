// A small adaptation task stories260K cannot do out of the box: say whether a one-line story
// is happy or sad, in a fixed format ("<name> was happy." / "... sad.").
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../../src/engine/random';

const NAMES = ['Tom', 'Lily', 'Sam', 'Mia', 'Ben', 'Sue', 'Max', 'Anna'];
const HAPPY = ['smiled at the sun', 'laughed with a friend', 'played in the park', 'got a new toy', 'ate a big cake', 'sang a song'];
const SAD = ['lost the red ball', 'fell and hurt a knee', 'cried all day', 'broke the toy car', 'missed the bus', 'saw the rain'];

export interface MoodCase {
  prompt: string;
  completion: string;
  mood: 'happy' | 'sad';
}

export function moodCases(n: number, seed: number): MoodCase[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => {
    const name = NAMES[rng.int(NAMES.length)];
    const happy = rng.next() < 0.5;
    const what = (happy ? HAPPY : SAD)[rng.int(6)];
    return { prompt: `${name} ${what}. ${name} was`, completion: happy ? ' happy.' : ' sad.', mood: happy ? 'happy' : 'sad' };
  });
}

export function writeJsonl(path: string, rows: object[]): string {
  writeFileSync(path, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return path;
}

/** A temp folder with train.jsonl (n examples) and val.jsonl (40). */
export function moodTask(n = 160): { dir: string; train: string; validation: string } {
  const dir = mkdtempSync(join(tmpdir(), 'adapt-lab-task-'));
  const strip = (c: MoodCase) => ({ prompt: c.prompt, completion: c.completion });
  return {
    dir,
    train: writeJsonl(join(dir, 'train.jsonl'), moodCases(n, 1).map(strip)),
    validation: writeJsonl(join(dir, 'val.jsonl'), moodCases(40, 2).map(strip)),
  };
}
