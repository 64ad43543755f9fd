#!/usr/bin/env node
// `npm run demo`: the README's main command. On the embedded base model (models/adapt-lab-tiny):
//   1. builds dist/cli.js if it is missing or older than the sources
//   2. adapts the model with LoRA on samples/train.jsonl (adapt-lab train samples/demo.config.json)
//   3. evaluates base against adapted on samples/demo.prompts.jsonl, with samples/probe.txt as
//      the forgetting check (adapt-lab eval)
//   4. exports the adapter in the Hugging Face PEFT layout (adapt-lab export --format peft)
// and says where everything is. Reads nothing outside the project; runs go to .adapt-lab/runs/.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { ensureBuilt } from './ensure-built.mjs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist', 'cli.js');
const CONFIG = join(ROOT, 'samples', 'demo.config.json');
const PROMPTS = join(ROOT, 'samples', 'demo.prompts.jsonl');
const PROBE = join(ROOT, 'samples', 'probe.txt');
const t0 = Date.now();
const rel = (p) => relative(ROOT, p) || '.';
const secs = () => `${((Date.now() - t0) / 1000).toFixed(0)}s`;
const bold = (s) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const title = (s) => console.log(`\n${bold(`== ${s}`)} ${process.stdout.isTTY ? '\x1b[2m' : ''}(${secs()})${process.stdout.isTTY ? '\x1b[0m' : ''}`);

function fail(msg) {
  console.error(`demo: ${msg}`);
  process.exit(1);
}

/** Runs `adapt-lab ...` with the terminal attached (progress bar, tables); throws on failure. */
function cli(args, { capture = false } = {}) {
  const shown = `adapt-lab ${args.map((a) => (/[\s"]/.test(a) ? JSON.stringify(a) : a)).join(' ')}`;
  console.log(`$ ${shown}`);
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: capture ? ['ignore', 'pipe', 'inherit'] : 'inherit', encoding: 'utf8' });
  if (r.status !== 0) fail(`${shown} failed (exit ${r.status ?? r.signal})`);
  return r.stdout;
}

function runIds(runsDir) {
  return existsSync(runsDir) ? readdirSync(runsDir).filter((n) => existsSync(join(runsDir, n, 'run.json'))) : [];
}

/**
 * Whether node-llama-cpp (a devDependency: a checkout has it, the packaged extension does not)
 * can be found: then the evaluation also runs base and adapted in llama.cpp, as they would be
 * served, for a few seconds more on this tiny model.
 */
function hasLlamaCpp() {
  try {
    createRequire(join(ROOT, 'package.json')).resolve('node-llama-cpp');
    return true;
  } catch {
    return false;
  }
}

const pct = (x) => (x === null || x === undefined ? '–' : `${(100 * x).toFixed(0)}%`);

function main() {
  process.chdir(ROOT);
  try {
    ensureBuilt(ROOT, title);
  } catch (e) {
    fail(e.message);
  }
  const config = JSON.parse(readFileSync(CONFIG, 'utf8'));
  const model = resolve(dirname(CONFIG), config.model);
  const runsDir = resolve(dirname(CONFIG), config.runsDir);
  if (!existsSync(join(model, 'config.json'))) fail(`the embedded model ${rel(model)} is missing (rebuild it with "npm run pretrain-base")`);
  for (const f of [PROMPTS, PROBE, resolve(dirname(CONFIG), config.data.train)]) if (!existsSync(f)) fail(`${rel(f)} is missing`);

  title(`the task: ${rel(PROMPTS)}`);
  const first = JSON.parse(readFileSync(PROMPTS, 'utf8').split('\n')[0]);
  console.log(`Say how the character of a one-line story feels, as " happy." or " sad.". A case:\n  prompt   ${JSON.stringify(first.prompt)}\n  expected ${JSON.stringify(first.expected)}`);
  console.log(`The base model, asked as it is:`);
  cli(['generate', '--model', rel(model), '--prompt', first.prompt, '--max-tokens', '12', '--temperature', '0']);

  title(`LoRA adaptation of ${rel(model)} (${rel(CONFIG)})`);
  const before = new Set(runIds(runsDir));
  const tTrain = Date.now();
  cli(['train', rel(CONFIG)]);
  const trainSeconds = (Date.now() - tTrain) / 1000;
  const created = runIds(runsDir).filter((id) => !before.has(id)).sort();
  if (created.length !== 1) fail(`expected one new run in ${rel(runsDir)}, found ${created.length}`);
  const runDir = join(runsDir, created[0]);

  const llamacpp = hasLlamaCpp();
  title(`evaluation: base against adapted${llamacpp ? ', in our engine and in llama.cpp' : ''}`);
  if (!llamacpp) console.log('(node-llama-cpp is not installed: llama.cpp\'s columns are left out; `npm install node-llama-cpp@3.21.1` adds them)');
  cli(['eval', '--model', rel(model), '--adapter', rel(runDir), '--prompts', rel(PROMPTS), '--probe', rel(PROBE), '--max-tokens', '8', '--samples', '2',
    ...(llamacpp ? ['--runtime', 'llamacpp'] : [])]);
  const report = JSON.parse(readFileSync(join(runDir, 'eval.json'), 'utf8'));
  const acc = { base: report.base.accuracy, adapted: report.adapted.accuracy, forgetting: report.forgetting, llamacpp: report.llamacpp };

  title('export: the adapter in the Hugging Face PEFT layout');
  const peftDir = join(ROOT, '.adapt-lab', 'exports', `${created[0]}-peft`);
  cli(['export', rel(runDir), '--format', 'peft', '--out', rel(peftDir), '--force']);

  title('done');
  console.log(`accuracy on ${rel(PROMPTS)}: ${bold(`${pct(acc.base)} (base) → ${pct(acc.adapted)} (adapted)`)}`
    + (acc.forgetting ? `; probe perplexity ${acc.forgetting.basePerplexity.toFixed(1)} → ${acc.forgetting.adaptedPerplexity.toFixed(1)}` : ''));
  if (acc.llamacpp) {
    const ms = (sec) => `${sec.latency.perTokenMs.p50?.toFixed(1) ?? '–'} ms/token`;
    console.log(`in llama.cpp ${acc.llamacpp.version}: ${pct(acc.llamacpp.base.accuracy)} → ${pct(acc.llamacpp.adapted?.accuracy)}; `
      + `same answers as our engine ${pct(acc.llamacpp.sameAnswers.adapted)} (adapted); adapted per token ${ms(acc.llamacpp.adapted)} vs ours ${ms(report.adapted)}`);
  }
  console.log(`training took ${trainSeconds.toFixed(0)} s; the whole demo ${secs()}`);
  console.log(`run folder:    ${rel(runDir)}/  (run.json, metrics.jsonl, checkpoints/${existsSync(join(runDir, 'eval.json')) ? ', eval.json' : ''})`);
  console.log(`PEFT adapter:  ${rel(peftDir)}/  (adapter_config.json, adapter_model.safetensors)`);
  console.log(`try it:        node dist/cli.js generate --model ${rel(model)} --adapter ${rel(runDir)} --prompt "Anne lost a dear friend. Anne was" --temperature 0 --max-tokens 4`);
  if (!(acc.adapted > acc.base)) fail('the adapted model is not better than the base model on the demo prompts');
}

main();
