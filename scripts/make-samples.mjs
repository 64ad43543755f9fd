#!/usr/bin/env node
// Writes the demo adaptation task into samples/: a one-line story in the base model's own
// domain (Jane Austen's novels) and the character's mood, answered in a fixed format:
//
//   {"prompt": "Elinor received a kind letter. Elinor was", "completion": " happy."}
//
// The base model continues such a prompt as a novel would ("... not at all ..."), never with
// exactly " happy." or " sad."; a LoRA run learns the format and the mapping in a couple of
// minutes. Deterministic (a seeded generator): `node scripts/make-samples.mjs` rewrites
//   samples/train.jsonl         200 examples
//   samples/validation.jsonl     40 examples
//   samples/demo.prompts.jsonl   40 evaluation cases, stories whose name and event never
//                                appear together in the training data
// samples/probe.txt (a held-out chapter of the corpus) is written by `npm run pretrain-base`.
// `--check` only compares (the tests run it).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const OUT = join(resolve(dirname(fileURLToPath(import.meta.url)), '..'), 'samples');

export const NAMES = ['Elizabeth', 'Jane', 'Emma', 'Anne', 'Marianne', 'Elinor', 'Catherine', 'Fanny', 'Harriet', 'Lydia', 'Edmund', 'Henry', 'Edward', 'Frederick', 'Charles', 'Robert'];
export const HAPPY = [
  'received a kind letter',
  'danced all the evening',
  'heard the good news',
  'laughed with a dear friend',
  'was praised by everybody at the ball',
  'walked in the garden on a fine morning',
  'was welcomed home by the whole family',
  'found a friend in perfect health',
  'was told that the marriage would take place',
  'won every game of cards',
];
export const SAD = [
  'received a cruel letter',
  'heard the bad news',
  'lost a dear friend',
  'was left alone in the cold room',
  'was scolded by the whole family',
  'cried all the evening',
  'was not asked to dance',
  'could not sleep for grief',
  'was told that the marriage would not take place',
  'lost every game of cards',
];

/** mulberry32: a small seeded generator, so the files are the same on every machine. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Every (name, event, mood) story; `heldOut` marks the pairs kept for the evaluation cases. */
function stories() {
  const all = [];
  NAMES.forEach((name, n) => {
    for (const [mood, events] of [['happy', HAPPY], ['sad', SAD]]) {
      events.forEach((event, e) => all.push({ name, event, mood, heldOut: (n + e + (mood === 'sad' ? 3 : 0)) % 8 === 0 }));
    }
  });
  return all;
}

const prompt = (s) => `${s.name} ${s.event}. ${s.name} was`;

function shuffle(list, next) {
  const a = list.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

export function makeSamples() {
  const next = rng(20240607);
  const all = stories();
  const seen = shuffle(all.filter((s) => !s.heldOut), next);
  const held = shuffle(all.filter((s) => s.heldOut), next);
  const row = (s) => ({ prompt: prompt(s), completion: ` ${s.mood}.` });
  const train = seen.slice(0, 200).map(row);
  const validation = seen.slice(200, 240).map(row);
  // Balanced cases: 20 happy and 20 sad among the held-out pairs.
  const cases = [...held.filter((s) => s.mood === 'happy').slice(0, 20), ...held.filter((s) => s.mood === 'sad').slice(0, 20)];
  const prompts = shuffle(cases, next).map((s, i) => ({
    id: `mood-${String(i + 1).padStart(2, '0')}`,
    prompt: prompt(s),
    expected: `${s.mood}.`,
    // Mostly exact answers; every fifth case only needs to contain the mood word.
    match: i % 5 === 4 ? 'contains' : 'exact',
  }));
  return { train, validation, prompts };
}

const jsonl = (rows) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  // --check: compare with the files in samples/ instead of writing them (exit 1 if they differ).
  const check = process.argv.includes('--check');
  const { train, validation, prompts } = makeSamples();
  const files = { 'train.jsonl': jsonl(train), 'validation.jsonl': jsonl(validation), 'demo.prompts.jsonl': jsonl(prompts) };
  let stale = 0;
  for (const [name, text] of Object.entries(files)) {
    const path = join(OUT, name);
    if (!check) writeFileSync(path, text);
    else if (!existsSync(path) || readFileSync(path, 'utf8') !== text) { console.error(`samples/${name} differs from what scripts/make-samples.mjs makes`); stale++; }
  }
  if (check) process.exitCode = stale ? 1 : 0;
  else console.log(`samples/: train.jsonl ${train.length}, validation.jsonl ${validation.length}, demo.prompts.jsonl ${prompts.length} cases`);
}
