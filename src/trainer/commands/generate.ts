import { writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { parse } from '../args';
import { selectBackend } from '../../engine/backend';
import { loadModel } from '../../engine/model/loader';
import { generate } from '../../engine/generate';
import { applyRunAdapter } from '../../engine/runs/adapter';

function num(v: string | undefined, name: string, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, got "${v}"`);
  return n;
}

export async function generateCommand(args: string[]): Promise<number> {
  const { values } = parse(args, {
    model: { type: 'string' }, prompt: { type: 'string' }, 'max-tokens': { type: 'string' },
    temperature: { type: 'string' }, 'top-k': { type: 'string' }, 'top-p': { type: 'string' },
    seed: { type: 'string' }, stop: { type: 'string', multiple: true }, 'logits-out': { type: 'string' },
    config: { type: 'string' }, adapter: { type: 'string' },
  });
  if (!values.model) throw new Error('generate needs --model MODEL');
  if (values.prompt === undefined) throw new Error('generate needs --prompt TEXT');
  const maxTokens = num(values['max-tokens'], 'max-tokens', 128);
  if (!Number.isInteger(maxTokens) || maxTokens < 0) throw new Error('--max-tokens must be a non-negative integer');
  await selectBackend({ backend: values.backend, log: values.verbose ? (l) => console.error(l) : undefined });
  const lm = await loadModel(values.model, { config: values.config });
  if (values.adapter) {
    const a = applyRunAdapter(lm, values.adapter);
    if (values.verbose) console.error(`adapter: run ${a.runId} (${a.method}), checkpoint step ${a.step}`);
  }
  if (!lm.tokenizer) throw new Error(`${values.model}: the model has no tokenizer (GGUF vocabulary or tokenizer.json)`);
  let fd: number | undefined;
  if (values['logits-out']) {
    writeFileSync(values['logits-out'], '');
    fd = openSync(values['logits-out'], 'w');
  }
  try {
    process.stdout.write(values.prompt);
    const res = generate(lm.model, lm.tokenizer, values.prompt, {
      maxTokens,
      temperature: num(values.temperature, 'temperature', 0.8),
      topK: values['top-k'] ? num(values['top-k'], 'top-k', 0) : undefined,
      topP: values['top-p'] ? num(values['top-p'], 'top-p', 1) : undefined,
      seed: num(values.seed, 'seed', 0),
      stop: values.stop,
      onText: (t) => process.stdout.write(t),
      onLogits: fd !== undefined ? (row) => writeSync(fd!, Buffer.from(row.buffer, row.byteOffset, row.byteLength)) : undefined,
    });
    process.stdout.write('\n');
    if (values.verbose) {
      const perTok = res.tokens.length > 1 ? (res.totalMs - res.firstTokenMs) / (res.tokens.length - 1) : 0;
      console.error(`${res.promptTokens.length} prompt tokens, ${res.tokens.length} generated (${res.stopReason}); first token ${res.firstTokenMs.toFixed(1)} ms, ${perTok.toFixed(2)} ms/token`);
    }
  } finally {
    if (fd !== undefined) closeSync(fd);
    lm.model.dispose();
  }
  return 0;
}
