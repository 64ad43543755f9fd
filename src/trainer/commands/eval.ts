// `adapt-lab eval`: the base model against the adapted one on a prompts file; a table (or the
// JSON with --json) on stdout, eval.json written to --out (default <run dir>/eval.json for a
// run folder, else ./eval.json).
import { basename, join, resolve } from 'node:path';
import { parse } from '../args';
import { runEval, writeEvalReport, formatMs } from '../../engine/eval/report';
import { adapterKind } from '../../engine/core/adapter-folder';
import { openRun } from '../../engine/core/runs/store';
import { CaseRef, EvalReport, EvalSection } from '../../protocol/eval';

function num(v: string | undefined, name: string, opts: { int?: boolean; min?: number } = {}): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new Error(`--${name} must be a number, got "${v}"`);
  if (opts.int && !Number.isInteger(n)) throw new Error(`--${name} must be an integer, got "${v}"`);
  if (opts.min !== undefined && n < opts.min) throw new Error(`--${name} must be at least ${opts.min}, got "${v}"`);
  return n;
}

const pct = (x: number | null) => (x === null ? '–' : `${(100 * x).toFixed(1)}%`);
const fix = (x: number | undefined | null, d: number) => (x === undefined || x === null || !Number.isFinite(x) ? '–' : x.toFixed(d));
const quote = (s: string, n = 40) => JSON.stringify(s.length > n ? `${s.slice(0, n - 1)}…` : s);

function rows(s: EvalSection): [string, string][] {
  const r: [string, string][] = [
    ['accuracy', pct(s.accuracy)],
    ['weighted error', fix(s.weightedError, 3)],
    ['first token p50/p95', `${formatMs(s.latency.firstTokenMs.p50)} / ${formatMs(s.latency.firstTokenMs.p95)}`],
    ['per token p50/p95', `${formatMs(s.latency.perTokenMs.p50)} / ${formatMs(s.latency.perTokenMs.p95)}`],
    ['tokens/s', fix(s.tokensPerSecond, 0)],
    ['load', formatMs(s.loadMs)],
    ['peak memory', `${fix(s.peakMemoryMiB, 0)} MiB`],
    ['stability', fix(s.stability.mean, 2)],
  ];
  if (s.perplexity !== undefined) r.push(['probe perplexity', fix(s.perplexity, 2)]);
  if (s.valLoss !== undefined) r.push(['data loss / ppl / acc', `${fix(s.valLoss, 4)} / ${fix(s.valPerplexity, 2)} / ${pct(s.tokenAccuracy ?? null)}`]);
  return r;
}

function caseLines(title: string, refs: CaseRef[]): string[] {
  if (!refs.length) return [`${title}: none`];
  const out = [`${title} (${refs.length}):`];
  for (const c of refs.slice(0, 10)) out.push(`  ${c.id} (line ${c.line}${c.weight !== 1 ? `, weight ${c.weight}` : ''}): expected ${quote(c.expected)}; base ${quote(c.base.trim())}; adapted ${quote(c.adapted.trim())}`);
  if (refs.length > 10) out.push(`  ... and ${refs.length - 10} more (see eval.json)`);
  return out;
}

export function renderEvalTable(r: EvalReport, path?: string): string {
  const lines: string[] = [];
  const head = `${r.prompts.cases} cases from ${r.prompts.file} · model ${r.model.name} (${basename(r.model.path)})`
    + (r.adapter ? ` · adapter ${r.adapter.kind === 'run' ? `run ${r.adapter.runId} (step ${r.adapter.step})` : r.adapter.path}` : '')
    + ` · ${r.settings.backend}`;
  lines.push(head, '');
  const b = rows(r.base);
  const a = r.adapted ? rows(r.adapted) : undefined;
  // With --runtime llamacpp, llama.cpp's figures in two more columns beside ours, row by row.
  const rt = r.llamacpp;
  if (rt) b.push(['same answers as ours', '–']), a?.push(['same answers as ours', '–']);
  const byKey = (sec: EvalSection, same: number | null) => {
    const m = new Map([...rows(sec), ['same answers as ours', pct(same)] as [string, string]]);
    return b.map(([k]) => m.get(k) ?? '–');
  };
  const cols: string[][] = [b.map(([, v]) => v), ...(a ? [a.map(([, v]) => v)] : [])];
  const heads = ['base', ...(a ? ['adapted'] : [])];
  if (rt) { cols.push(byKey(rt.base, rt.sameAnswers.base)); heads.push('llama.cpp base'); }
  if (rt?.adapted) { cols.push(byKey(rt.adapted, rt.sameAnswers.adapted ?? null)); heads.push('llama.cpp adapted'); }
  const w0 = Math.max(...b.map(([k]) => k.length)) + 2;
  const ws = cols.map((c, j) => Math.max(heads[j].length, ...c.map((v) => v.length)) + 2);
  lines.push(`${''.padEnd(w0)}${heads.map((h, j) => h.padEnd(ws[j])).join('')}`.trimEnd());
  b.forEach(([k], i) => lines.push(`${k.padEnd(w0)}${cols.map((c, j) => c[i].padEnd(ws[j])).join('')}`.trimEnd()));
  if (rt) lines.push('', `llama.cpp ${rt.version} (node-llama-cpp, CPU, ${rt.threads} thread${rt.threads === 1 ? '' : 's'}): ${basename(rt.model)}${rt.adapter ? ' with the run\'s adapter as a GGUF LoRA adapter' : ''}; its peak memory is weights + KV cache`);
  const least = (k: string, sec?: EvalSection) => (sec && sec.stability.leastStable.length ? [`${k} ${sec.stability.leastStable.map((l) => `${l.id} ${fix(l.agreement, 2)}`).join(', ')}`] : []);
  const ls = [...least('base', r.base), ...least('adapted', r.adapted)];
  if (ls.length) lines.push('', `least stable (agreement of ${r.settings.samples} samples at T=${r.settings.temperature} with the greedy answer): ${ls.join('; ')}`);
  if (r.forgetting) lines.push('', `forgetting: probe perplexity ${fix(r.forgetting.basePerplexity, 2)} → ${fix(r.forgetting.adaptedPerplexity, 2)} (${r.forgetting.changePercent >= 0 ? '+' : ''}${fix(r.forgetting.changePercent, 1)}%)`);
  if (r.adapted) lines.push('', ...caseLines('regressions', r.regressions), ...caseLines('improvements', r.improvements));
  lines.push('', `verdict: ${r.verdict}`);
  if (path) lines.push(`wrote ${path}`);
  return lines.join('\n');
}

export async function evalCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    model: { type: 'string' }, config: { type: 'string' }, adapter: { type: 'string' }, prompts: { type: 'string' },
    probe: { type: 'string' }, data: { type: 'string' }, samples: { type: 'string' }, temperature: { type: 'string' },
    'max-tokens': { type: 'string' }, seed: { type: 'string' }, out: { type: 'string' }, json: { type: 'boolean' },
    runtime: { type: 'string' }, 'llamacpp-threads': { type: 'string' },
  });
  const runtime = values.runtime ?? 'engine';
  if (runtime !== 'engine' && runtime !== 'llamacpp') throw new Error(`--runtime must be engine or llamacpp, got "${runtime}"`);
  if (positionals.length) throw new Error(`eval takes no positional arguments (got ${positionals.map((p) => `"${p}"`).join(', ')}); use --model, --adapter, --prompts`);
  if (!values.prompts) throw new Error('eval needs --prompts FILE (JSON Lines: {"prompt", "expected"?, "match"?, "weight"?, "id"?, "stop"?})');
  const isRun = values.adapter ? adapterKind(values.adapter) === 'run' : false;
  if (!values.model && !isRun) throw new Error('eval needs --model MODEL');
  const out = resolve(values.out ?? (isRun ? join(values.adapter!, 'eval.json') : 'eval.json'));
  const tty = !!process.stderr.isTTY;
  const report = await runEval({
    model: values.model,
    modelConfig: values.config,
    adapter: values.adapter,
    prompts: values.prompts,
    probe: values.probe,
    data: values.data,
    maxTokens: num(values['max-tokens'], 'max-tokens', { int: true, min: 1 }),
    samples: num(values.samples, 'samples', { int: true, min: 0 }),
    temperature: num(values.temperature, 'temperature', { min: 0 }),
    seed: num(values.seed, 'seed', { int: true }),
    backend: values.backend,
    runtime,
    runtimeThreads: num(values['llamacpp-threads'], 'llamacpp-threads', { int: true, min: 1 }),
    log: (l) => console.error(l),
    onProgress: tty ? ({ model, done, total }) => {
      process.stderr.write(`\r\x1b[K${model}: case ${done}/${total}`);
      if (done === total) process.stderr.write('\r\x1b[K');
    } : undefined,
  });
  const path = writeEvalReport(out, report);
  // Reading a run's checkpoints to evaluate it is an action on the run: one audit line, with the
  // SHA-256 of the report written.
  if (isRun) openRun(values.adapter!).audit('evaluated', `${basename(values.prompts)}: ${report.verdict}`, undefined, [path]);
  if (values.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else process.stdout.write(renderEvalTable(report, path) + '\n');
  return 0;
}
