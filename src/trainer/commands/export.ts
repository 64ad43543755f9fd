// `adapt-lab export RUN_DIR --format peft|merged-hf|merged-gguf|gguf-lora|ollama --out DIR [--checkpoint best|latest|N]
// [--dtype f32|f16] [--force]`: writes a run's adapter (or the merged model) and lists the files.
import { relative } from 'node:path';
import { parse } from '../args';
import { selectBackend } from '../../engine/backend';
import { EXPORT_FORMATS, ExportFormat, exportRun } from '../../engine/export';
import { formatBytes } from '../../engine/core/memory';

function checkpointArg(v: string | undefined): 'best' | 'latest' | number {
  if (v === undefined || v === 'best' || v === 'latest') return v ?? 'best';
  if (!/^\d+$/.test(v)) throw new Error(`--checkpoint must be best, latest or a step number, got "${v}"`);
  return Number(v);
}

export async function exportCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    format: { type: 'string' }, out: { type: 'string' }, checkpoint: { type: 'string' }, dtype: { type: 'string' }, force: { type: 'boolean' },
  });
  const runDir = positionals[0];
  if (!runDir) throw new Error('export needs a RUN_DIR (a run folder under the runs folder)');
  if (positionals.length > 1) throw new Error(`export takes one RUN_DIR, got ${positionals.length} (${positionals.join(' ')})`);
  const format = values.format;
  if (!format) throw new Error(`export needs --format (${EXPORT_FORMATS.join(', ')})`);
  if (!(EXPORT_FORMATS as readonly string[]).includes(format)) {
    throw new Error(`unknown export format "${format}" (use one of: ${EXPORT_FORMATS.join(', ')})`);
  }
  if (!values.out) throw new Error('export needs --out DIR (the folder to create)');
  const dtype = values.dtype;
  if (dtype !== undefined && dtype !== 'f32' && dtype !== 'f16') throw new Error(`--dtype must be f32 or f16, got "${dtype}"`);
  const which = checkpointArg(values.checkpoint);
  await selectBackend({ backend: values.backend, log: values.verbose ? (l) => console.error(l) : undefined });
  const res = await exportRun(runDir, { format: format as ExportFormat, out: values.out, which, dtype, force: values.force });
  const total = res.files.reduce((n, f) => n + f.bytes, 0);
  console.log(`exported run ${res.runId} (checkpoint step ${res.step}) as ${res.format} to ${res.out}`);
  for (const f of res.files) console.log(`  ${relative(res.out, f.path).padEnd(28)} ${formatBytes(f.bytes).padStart(10)}`);
  console.log(`  ${'total'.padEnd(28)} ${formatBytes(total).padStart(10)}`);
  for (const n of res.notes) console.log(`note: ${n}`);
  return 0;
}
