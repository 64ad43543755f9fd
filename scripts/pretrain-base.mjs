#!/usr/bin/env node
// `npm run pretrain-base`: rebuilds the embedded base model models/adapt-lab-tiny/ from nothing
// but a Debian package and this project's own trainer.
//
//   a. corpus      Jane Austen's six novels from Debian's r-cran-janeaustenr (public domain
//                  texts; the package is MIT), cleaned into chapters; a few chapters held out
//                  for validation and one for samples/probe.txt
//   b. tokenizer   a byte-level BPE (vocabulary 2048, <|endoftext|> as BOS/EOS) trained here,
//                  written as a Hugging Face tokenizer.json and read back by the engine
//   c. init        a Llama-architecture Hugging Face folder with initModel's random weights
//   d. pretrain    `adapt-lab train` with every parameter unfrozen (warmup + cosine)
//   e. export      `adapt-lab export --format merged-hf --dtype f16` into models/<name>/
//   f. model card  models/<name>/README.md with the losses and sample generations
//
// Options: --out DIR (default models/adapt-lab-tiny), --steps N (override the step count, for
// a quick check), --from-run RUN_DIR (skip a-d's training and export that finished run),
// --backend NAME. Work files go to .adapt-lab/pretrain/ (git-ignored). Deterministic given the
// same package version and backend (seeded init, data order and sampling).
import { spawnSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { readAusten, DEBIAN_PACKAGE, NOVELS } from './pretrain/austen.mjs';
import { trainByteLevelBpe, hfTokenizerJson } from './pretrain/bpe.mjs';
import { ensureBuilt } from './ensure-built.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const WORK = join(ROOT, '.adapt-lab', 'pretrain');
const CLI = join(ROOT, 'dist', 'cli.js');
const require = createRequire(import.meta.url);

// ------------------------------------------------------------------------------ the recipe

export const NAME = 'adapt-lab-tiny';
const SEED = 1234;
const VOCAB_SIZE = 2048;
const EOT = '<|endoftext|>';
/** Hugging Face config.json of the model (Llama architecture, tied embeddings). */
const MODEL = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  vocab_size: VOCAB_SIZE,
  hidden_size: 128,
  intermediate_size: 384,
  num_hidden_layers: 4,
  num_attention_heads: 4,
  num_key_value_heads: 4,
  head_dim: 32,
  hidden_act: 'silu',
  max_position_embeddings: 256,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  attention_bias: false,
  mlp_bias: false,
  tie_word_embeddings: true,
  bos_token_id: 0,
  eos_token_id: 0,
  torch_dtype: 'float32',
};
const TRAINING = {
  maxSteps: 1000,
  // Micro-batches of 4 sequences: on the wasm backend a step's time grows faster than its batch.
  batchSize: 4,
  gradAccumulation: 1,
  learningRate: 2e-3,
  schedule: 'cosine',
  warmupSteps: 50,
  weightDecay: 0.1,
  gradClip: 1.0,
  maxLength: 256,
  evalEvery: 250,
  checkpointEvery: 250,
};
/** Chapters held out (by their index in the corpus order): validation, and the probe. */
const isValidation = (i) => i % 80 === 40;
const PROBE_CHAPTER = 133; // Mansfield Park, chapter 23 (never trained on)
const PROBE_CHARS = 6000;
const SAMPLE_PROMPTS = ['It is a truth universally acknowledged', 'Elizabeth', '"My dear', 'The weather was', 'Mr. Darcy'];

// ------------------------------------------------------------------------------ helpers

const t0 = Date.now();
const say = (s) => console.log(`[pretrain-base ${((Date.now() - t0) / 1000).toFixed(0).padStart(5)}s] ${s}`);
const rel = (p) => relative(ROOT, p) || '.';
const writeJson = (p, v) => writeFileSync(p, `${JSON.stringify(v, null, 2)}\n`);

function run(args, opts = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.status !== 0) throw new Error(`adapt-lab ${args.join(' ')} failed (${r.status}):\n${r.stderr || r.stdout}`);
  return r.stdout;
}

/** Bundles scripts/pretrain/engine-tools.ts (it imports the TypeScript engine) and loads it. */
async function engineTools() {
  const esbuild = await import('esbuild');
  const out = join(WORK, 'engine-tools.cjs');
  await esbuild.build({
    entryPoints: [join(ROOT, 'scripts/pretrain/engine-tools.ts')], outfile: out, bundle: true, platform: 'node', target: 'node20',
    format: 'cjs', mainFields: ['module', 'main'], logLevel: 'warning',
    external: ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-backend-wasm/package.json'],
  });
  return require(out);
}

function dirBytes(dir) {
  return readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}

const fmtMiB = (n) => `${(n / 2 ** 20).toFixed(2)} MiB`;
const fmtCount = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : `${(n / 1e3).toFixed(1)}K`);

// ------------------------------------------------------------------------------ a. corpus

function buildCorpus() {
  const dir = join(WORK, 'corpus');
  mkdirSync(dir, { recursive: true });
  const austen = readAusten(join(WORK, 'cache'), say);
  const train = [];
  const validation = [];
  let probe;
  austen.chapters.forEach((c, i) => {
    if (i === PROBE_CHAPTER) probe = c;
    else if (isValidation(i)) validation.push(c);
    else train.push(c);
  });
  // Chapters are separated by <|endoftext|> (the tokenizer reads it as the special token).
  writeFileSync(join(dir, 'train.txt'), train.map((c) => c.text).join(EOT));
  writeFileSync(join(dir, 'validation.txt'), validation.map((c) => c.text).join(EOT));
  let probeText = '';
  for (const p of probe.text.split('\n')) {
    if (probeText.length + p.length + 1 > PROBE_CHARS && probeText) break;
    probeText += `${p}\n`;
  }
  say(`corpus: ${austen.chapters.length} chapters of ${NOVELS.length} novels from ${austen.source} (janeaustenr ${austen.version}); `
    + `train ${train.length} chapters, validation ${validation.length}, probe: ${probe.novel} chapter ${probe.index}`);
  return {
    dir, train, validation, probe: { novel: probe.novel, chapter: probe.index, text: probeText },
    sha256: austen.sha256, version: austen.version,
    trainChars: train.reduce((n, c) => n + c.text.length, 0), validationChars: validation.reduce((n, c) => n + c.text.length, 0),
  };
}

// ------------------------------------------------------------------------------ b. tokenizer

function buildTokenizer(corpus, tools) {
  say(`training a byte-level BPE tokenizer (vocabulary ${VOCAB_SIZE}) on the training chapters`);
  const bpe = trainByteLevelBpe(corpus.train.map((c) => c.text), { vocabSize: VOCAB_SIZE, specials: [EOT] });
  if (bpe.symbols.length !== VOCAB_SIZE) throw new Error(`the tokenizer has ${bpe.symbols.length} tokens, expected ${VOCAB_SIZE}`);
  const json = hfTokenizerJson(bpe, { bos: EOT });
  // Read it back with the engine: every chapter, and a few texts outside the corpus, must round-trip.
  const extra = ['Tom smiled at the sun. Tom was happy.', 'naïve café — “quotes”, tabs\tand\n\nnewlines, 日本語, emoji 🎉', '  leading and trailing  '];
  const check = tools.checkTokenizer(json, { bos_token_id: 0, eos_token_id: 0 }, [...corpus.train, ...corpus.validation].map((c) => c.text).concat(extra));
  if (check.failures.length) throw new Error(`the tokenizer does not round-trip: ${JSON.stringify(check.failures[0])}`);
  if (check.bos !== 0 || check.eos !== 0 || !check.addBos) throw new Error(`tokenizer: expected BOS = EOS = 0 added at the start, got ${JSON.stringify(check)}`);
  say(`tokenizer round-trips every chapter; ${(check.chars / check.tokens).toFixed(2)} characters per token`);
  return { json, charsPerToken: check.chars / check.tokens, tokens: check.tokens };
}

// ------------------------------------------------------------------------------ c. initial folder

function tokenizerConfig() {
  return {
    tokenizer_class: 'PreTrainedTokenizerFast',
    add_bos_token: true,
    add_eos_token: false,
    bos_token: EOT,
    eos_token: EOT,
    pad_token: EOT,
    unk_token: null,
    model_max_length: MODEL.max_position_embeddings,
    clean_up_tokenization_spaces: false,
    added_tokens_decoder: { 0: { content: EOT, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true } },
  };
}

function buildInit(tok, tools) {
  const dir = join(WORK, 'init');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeJson(join(dir, 'config.json'), MODEL);
  writeJson(join(dir, 'tokenizer.json'), tok.json);
  writeJson(join(dir, 'tokenizer_config.json'), tokenizerConfig());
  writeJson(join(dir, 'special_tokens_map.json'), { bos_token: EOT, eos_token: EOT, pad_token: EOT });
  writeJson(join(dir, 'generation_config.json'), { bos_token_id: 0, eos_token_id: 0, do_sample: true, temperature: 0.8, top_k: 40, max_length: MODEL.max_position_embeddings });
  const params = tools.writeInitialWeights(dir, MODEL, SEED);
  say(`initial model: ${params.toLocaleString('en-US')} parameters (Llama, hidden ${MODEL.hidden_size}, ${MODEL.num_hidden_layers} layers) in ${rel(dir)}`);
  return { dir, params };
}

// ------------------------------------------------------------------------------ d. pretraining

function trainRun(corpus, init, steps, backend) {
  const config = {
    name: `${NAME}-pretrain`,
    model: init.dir,
    data: { train: join(corpus.dir, 'train.txt'), validation: join(corpus.dir, 'validation.txt') },
    adapt: { unfreeze: ['*'] },
    training: { ...TRAINING, maxSteps: steps },
    seed: SEED,
    backend,
    runsDir: join(WORK, 'runs'),
  };
  const cfgPath = join(WORK, 'pretrain.config.json');
  writeJson(cfgPath, config);
  say(`pretraining: ${steps} steps of ${TRAINING.batchSize} × ${TRAINING.maxLength} tokens (adapt-lab train ${rel(cfgPath)})`);
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [CLI, 'train', cfgPath, '--jsonl'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    let runDir;
    let last;
    const every = Math.max(1, Math.floor(steps / 40));
    child.stdout.on('data', (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let e;
        try { e = JSON.parse(line); } catch { continue; }
        if (e.type === 'started') { runDir = e.runDir; say(`run ${e.runId} on ${e.backend.name}: ${e.train.examples} chunks, ${e.train.tokens.toLocaleString('en-US')} tokens; ${e.stepsPerEpoch} steps per epoch`); }
        if (e.type === 'step') {
          last = e;
          if (e.step % every === 0 || e.step === steps) say(`step ${e.step}/${steps} loss ${e.loss.toFixed(3)} lr ${e.lr.toExponential(2)} ${Math.round(e.tokensPerSecond)} tok/s`);
        }
        if (e.type === 'eval') say(`  eval at step ${e.step}: val loss ${e.valLoss.toFixed(3)} (perplexity ${e.perplexity.toFixed(1)})`);
        if (e.type === 'log' && e.level !== 'info') say(`  ${e.level}: ${e.message}`);
        if (e.type === 'failed') say(`failed at step ${e.step}: ${e.reason}`);
      }
    });
    child.on('exit', (code) => {
      if (code === 0 && runDir) resolveRun(runDir);
      else reject(new Error(`pretraining failed (exit ${code}${last ? `, last step ${last.step}` : ''})`));
    });
  });
}

// ------------------------------------------------------------------------------ e/f. export + card

function runSummary(runDir) {
  const events = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const started = events.find((e) => e.type === 'started');
  const steps = events.filter((e) => e.type === 'step');
  const evals = events.filter((e) => e.type === 'eval');
  const end = events.filter((e) => e.type === 'finished' || e.type === 'stopped' || e.type === 'failed').pop();
  if (!started || !end || end.type !== 'finished') throw new Error(`${runDir}: the run did not finish`);
  const lastN = steps.slice(-Math.min(50, steps.length));
  const trainLoss = lastN.reduce((a, e) => a + e.loss, 0) / lastN.length;
  const best = evals.reduce((b, e) => (e.valLoss < b.valLoss ? e : b), evals[0]);
  const finalEval = evals[evals.length - 1];
  const seconds = (Date.parse(end.time) - Date.parse(started.time)) / 1000;
  const tokensSeen = Math.round((started.train.tokens * end.step) / started.stepsPerEpoch);
  const medianTps = steps.map((e) => e.tokensPerSecond).sort((a, b) => a - b)[Math.floor(steps.length / 2)];
  return { started, end, steps: end.step, trainLoss, best, finalEval, firstEval: evals[0], seconds, tokensSeen, medianTps, runId: started.runId };
}

function exportModel(runDir, out) {
  const tmp = join(WORK, 'export');
  rmSync(tmp, { recursive: true, force: true });
  say(`exporting the run as a merged Hugging Face folder in F16 (adapt-lab export --format merged-hf --dtype f16)`);
  process.stdout.write(run(['export', runDir, '--format', 'merged-hf', '--dtype', 'f16', '--out', tmp, '--checkpoint', 'best']));
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json']) {
    if (!existsSync(join(tmp, f))) throw new Error(`the export has no ${f}`);
    copyFileSync(join(tmp, f), join(out, f));
  }
  const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
  if (cfg.torch_dtype !== 'float16') throw new Error(`exported config.json says torch_dtype ${cfg.torch_dtype}`);
}

function samples(out) {
  const list = [];
  SAMPLE_PROMPTS.forEach((prompt, i) => {
    const args = ['generate', '--model', out, '--prompt', prompt, '--max-tokens', '48', '--temperature', '0.8', '--top-k', '40', '--seed', String(i + 1)];
    list.push({ cmd: `adapt-lab ${args.slice(0, 3).join(' ')} --prompt ${JSON.stringify(prompt)} ${args.slice(5).join(' ')}`.replace(out, `models/${NAME}`), text: run(args).trim() });
  });
  const greedy = ['generate', '--model', out, '--prompt', 'Emma', '--max-tokens', '40', '--temperature', '0'];
  list.push({ cmd: `adapt-lab generate --model models/${NAME} --prompt "Emma" --max-tokens 40 --temperature 0`, text: run(greedy).trim() });
  return list;
}

function modelCard({ corpus, tok, sum, samples: gens, bytes, params, out }) {
  const m = MODEL;
  const hours = (s) => (s >= 3600 ? `${(s / 3600).toFixed(1)} h` : `${Math.round(s / 60)} min`);
  const files = readdirSync(out).filter((f) => f !== 'README.md').sort().map((f) => `| \`${f}\` | ${(statSync(join(out, f)).size / 1024).toFixed(1)} KiB |`).join('\n');
  const env = sum.started.backend;
  return `# ${NAME}

A tiny Llama-architecture language model pretrained from scratch by Adapt Lab's own trainer
(TensorFlow.js, ${env.name} backend, on a 2-core CPU), on Jane Austen's six completed novels. It is
the embedded default base model of Adapt Lab: small enough that a LoRA adaptation runs in a minute
or two on a laptop CPU, trained enough to write Austen-flavoured English (grammatical in
stretches, not sensible). It is a demonstration model, not a useful one.

## Corpus and licence

- Text: *${NOVELS.map((n) => n[1]).join('*, *')}* by Jane Austen (1775–1817), from the
  Debian package \`${DEBIAN_PACKAGE}\` (janeaustenr ${corpus.version} by Julia Silge, MIT licence;
  the novels themselves are in the public domain). \`Rdata.rdb\` SHA-256 \`${corpus.sha256}\`.
- Cleaning: Project Gutenberg line-wrapping undone (one paragraph per line), chapter and volume
  headings dropped, \`_italics_\` marks removed, curly quotes straightened; chapters separated by
  \`${EOT}\`.
- Split by chapter: ${corpus.train.length} chapters (${(corpus.trainChars / 1e6).toFixed(2)} M characters,
  ${fmtCount(sum.started.train.tokens)} tokens) for training, ${corpus.validation.length} chapters
  (${(corpus.validationChars / 1e3).toFixed(0)} K characters) for validation, and ${corpus.probe.novel}
  chapter ${corpus.probe.chapter} held out entirely (its start is Adapt Lab's \`samples/probe.txt\`).
- This model's weights and files: MIT, like Adapt Lab.

## Model

| | |
|---|---|
| architecture | Llama (\`LlamaForCausalLM\`): RMSNorm, rotary positions (θ ${m.rope_theta}), SwiGLU MLP, tied input/output embeddings |
| parameters | ${params.toLocaleString('en-US')} (${fmtCount(params)}) |
| layers × hidden | ${m.num_hidden_layers} × ${m.hidden_size}, MLP ${m.intermediate_size} |
| attention | ${m.num_attention_heads} heads of ${m.head_dim} (${m.num_key_value_heads} key/value heads) |
| context | ${m.max_position_embeddings} tokens |
| tokenizer | byte-level BPE (GPT-2 style pre-tokenizer), vocabulary ${m.vocab_size}, trained on the training chapters; \`${EOT}\` (id 0) is BOS, EOS and padding, and is added at the start of every text; ${tok.charsPerToken.toFixed(2)} characters per token on the corpus |
| weights | F16 safetensors, ${fmtMiB(bytes)} for the whole folder |

Files:

| file | size |
|---|---|
${files}

## Training

\`adapt-lab train\` with every parameter unfrozen (\`"adapt": {"unfreeze": ["*"]}\`), AdamW
(weight decay ${TRAINING.weightDecay} on matrices), learning rate ${TRAINING.learningRate} with ${TRAINING.warmupSteps} warmup steps then
cosine decay, gradient clipping ${TRAINING.gradClip}, batches of ${TRAINING.batchSize} chunks of ${TRAINING.maxLength} tokens, seed ${SEED}.

| | |
|---|---|
| steps | ${sum.steps} |
| tokens seen | ${sum.tokensSeen.toLocaleString('en-US')} (${(sum.tokensSeen / sum.started.train.tokens).toFixed(2)} epochs) |
| time | ${hours(sum.seconds)} on ${env.name} (median ${Math.round(sum.medianTps)} tokens/s, a shared 2-core machine) |
| train loss (mean of the last 50 steps) | ${sum.trainLoss.toFixed(3)} |
| validation loss | ${sum.firstEval.valLoss.toFixed(3)} at step 0 → ${sum.finalEval.valLoss.toFixed(3)} at step ${sum.finalEval.step} (perplexity ${sum.finalEval.perplexity.toFixed(1)}, next-token accuracy ${(100 * sum.finalEval.tokenAccuracy).toFixed(1)} %) |
| exported checkpoint | step ${sum.best.step} (best validation loss ${sum.best.valLoss.toFixed(3)}) |

## Sample generations

Produced by \`adapt-lab generate\` on the files in this folder (the prompt, then the completion):

${gens.map((g) => `\`\`\`sh\n${g.cmd}\n\`\`\`\n\n> ${g.text.replace(/\n/g, '\n> ')}\n`).join('\n')}
## Reproduce

\`\`\`sh
npm ci
apt-get update   # the corpus comes from Debian's ${DEBIAN_PACKAGE} (fetched with apt-get download)
npm run pretrain-base
\`\`\`

\`scripts/pretrain-base.mjs\` holds the whole recipe (corpus cleaning and split, tokenizer, model
shape, training settings) and rewrites this folder and \`samples/probe.txt\`, README included.
This build took ${hours(sum.seconds + 120)} on a 2-core machine shared with other work (wasm
backend, one thread); an idle machine is faster. Initialisation, data order and sampling are
seeded, so a rebuild from the same package version on the same backend should give the same
weights (bit-exactness across machines is not checked).

## Use

\`\`\`sh
adapt-lab inspect models/${NAME}
adapt-lab generate --model models/${NAME} --prompt "Elizabeth" --max-tokens 60
npm run demo   # a LoRA adaptation of this model on samples/, then base vs adapted
\`\`\`
`;
}

// ------------------------------------------------------------------------------ main

async function main() {
  const { values } = parseArgs({
    options: { out: { type: 'string' }, steps: { type: 'string' }, 'from-run': { type: 'string' }, backend: { type: 'string' } },
  });
  const out = resolve(ROOT, values.out ?? join('models', NAME));
  const steps = values.steps ? Number(values.steps) : TRAINING.maxSteps;
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`--steps must be a positive integer, got ${values.steps}`);
  ensureBuilt(ROOT, say);
  mkdirSync(WORK, { recursive: true });
  const tools = await engineTools();
  const backend = values.backend ?? 'auto';
  await tools.useBackend(backend);

  const corpus = buildCorpus();
  const tok = buildTokenizer(corpus, tools);
  const init = buildInit(tok, tools);
  const runDir = values['from-run'] ? resolve(values['from-run']) : await trainRun(corpus, init, steps, backend);
  const sum = runSummary(runDir);
  say(`pretraining done: ${sum.steps} steps in ${(sum.seconds / 60).toFixed(1)} min; train loss ${sum.trainLoss.toFixed(3)}, val loss ${sum.finalEval.valLoss.toFixed(3)}`);

  exportModel(runDir, out);
  const loaded = await tools.inspectFolder(out);
  if (loaded.params !== init.params) throw new Error(`the exported model has ${loaded.params} parameters, expected ${init.params}`);
  if (loaded.dtypes.join() !== 'F16') throw new Error(`the exported tensors are ${loaded.dtypes.join(', ')}, expected F16`);
  writeFileSync(join(ROOT, 'samples', 'probe.txt'), corpus.probe.text);
  say(`samples/probe.txt: ${corpus.probe.text.length} characters of ${corpus.probe.novel}, chapter ${corpus.probe.chapter}`);

  say('sample generations');
  const gens = samples(out);
  for (const g of gens) console.log(`  ${g.text.replace(/\n/g, ' ')}`);
  const bytesNoCard = dirBytes(out);
  writeFileSync(join(out, 'README.md'), modelCard({ corpus, tok, sum, samples: gens, bytes: bytesNoCard, params: init.params, out }));
  const bytes = dirBytes(out);
  if (bytes > 10 * 2 ** 20) throw new Error(`${rel(out)} is ${fmtMiB(bytes)}, over the 10 MiB budget`);
  say(`wrote ${rel(out)}/ (${fmtMiB(bytes)}, ${init.params.toLocaleString('en-US')} parameters) from run ${rel(runDir)}`);
}

main().catch((e) => {
  console.error(`pretrain-base: ${e.message}`);
  process.exitCode = 1;
});
