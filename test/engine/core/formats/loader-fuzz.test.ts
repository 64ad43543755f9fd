// The whole loader (loadModel: format parser, metadata checks, model build, tokenizer) under
// hostile count, length, offset and dimension fields: GGUF header / key-value / tensor-info fields
// of stories260K, the safetensors header, config.json counts and floats, tokenizer.json ids and
// merges of a tiny Llama folder. Every case must load (and encode) or throw a one-line error that
// names the file. The cases run in a child process, whose peak RSS (process.resourceUsage().maxRSS)
// is measured after setup and after the cases: the growth is what the hostile files cost.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { selectBackend } from '../../../../src/engine/backend';
import { loadModel } from '../../../../src/engine/model/loader';
import { STORIES, tinyLlamaFolder } from '../../model/hostile';
import { prng } from './fixtures';

const OUT = process.env.ADAPT_LOADER_FUZZ_OUT;
/** Peak RSS the hostile cases may add over the child's own (backend, bundle, base files loaded). */
const GROWTH_LIMIT_MB = 150;

interface FuzzResult {
  cases: number;
  byGroup: Record<string, { ok: number; error: number }>;
  failures: string[];
  baselineMaxRssKb: number;
  finalMaxRssKb: number;
  slowest: { name: string; ms: number };
  totalMs: number;
}

describe('loader fuzz: hostile counts, lengths, offsets and dimensions (memory-bounded)', function () {
  this.timeout(600000);

  it('every case loads or names the file in a one-line error; peak RSS grows by less than 150 MB', () => {
    const dir = mkdtempSync(join(tmpdir(), 'adapt-lfuzz-'));
    try {
      const out = join(dir, 'result.json');
      // A heap cap, so that a regression aborts the child at 1 GB instead of taking the machine's memory.
      const r = spawnSync(process.execPath, ['--max-old-space-size=1024', resolve('node_modules/mocha/bin/mocha.js'), '--grep', '^loader fuzz child'], {
        env: { ...process.env, ADAPT_LOADER_FUZZ_OUT: out }, encoding: 'utf8', timeout: 540000,
      });
      assert.equal(r.status, 0, `child failed:\n${r.stdout}\n${r.stderr}`);
      const res = JSON.parse(readFileSync(out, 'utf8')) as FuzzResult;
      const mb = (kb: number) => (kb / 1024).toFixed(0);
      console.log(`      ${res.cases} cases in ${(res.totalMs / 1000).toFixed(1)} s (${Object.entries(res.byGroup)
        .map(([g, t]) => `${g} ${t.ok} ok / ${t.error} refused`).join(', ')}); peak RSS ${mb(res.baselineMaxRssKb)} MB after setup, `
        + `${mb(res.finalMaxRssKb)} MB after the cases; slowest ${res.slowest.name} ${res.slowest.ms.toFixed(0)} ms`);
      assert.deepEqual(res.failures, []);
      assert.ok(res.cases >= 400, `only ${res.cases} cases`);
      for (const [g, t] of Object.entries(res.byGroup)) assert.ok(t.error > 0, `${g}: ${JSON.stringify(t)}`);
      assert.ok(Object.values(res.byGroup).reduce((a, t) => a + t.ok, 0) > 50, 'harmless edits still load');
      const growth = (res.finalMaxRssKb - res.baselineMaxRssKb) / 1024;
      assert.ok(growth < GROWTH_LIMIT_MB, `peak RSS grew by ${growth.toFixed(0)} MB`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ------------------------------------------------------------------------------ the child

/** A field of the stories260K GGUF: where it is, how wide, what it is. */
interface Field { at: number; size: 4 | 8; float?: boolean; label: string; group: 'header' | 'kv' | 'array item' | 'tensor info' }

/** Walks a GGUF's header, recording every count, length, type, offset and dimension field. */
function ggufFields(b: Buffer): Field[] {
  const f: Field[] = [];
  let o = 8;
  const u64 = (label: string, group: Field['group']) => { f.push({ at: o, size: 8, label, group }); const v = Number(b.readBigUInt64LE(o)); o += 8; return v; };
  const u32 = (label: string, group: Field['group'], float = false) => { f.push({ at: o, size: 4, label, group, float }); const v = b.readUInt32LE(o); o += 4; return v; };
  const str = (label: string, group: Field['group']) => { const n = u64(`${label} length`, group); const s = b.toString('utf8', o, o + n); o += n; return s; };
  const nTensors = u64('tensor count', 'header');
  const nKv = u64('metadata count', 'header');
  const SIZE = [1, 1, 2, 2, 4, 4, 4, 1];
  for (let i = 0; i < nKv; i++) {
    const key = str(`key #${i}`, 'kv');
    const type = u32(`${key} type`, 'kv');
    if (type === 8) str(key, 'kv');
    else if (type === 9) {
      const item = u32(`${key} item type`, 'kv');
      const n = u64(`${key} array length`, 'kv');
      for (let j = 0; j < n; j++) {
        if (item === 8) str(`${key}[${j}]`, 'array item');
        else o += SIZE[item] ?? 8;
      }
    } else if (type === 4 || type === 5) u32(key, 'kv');
    else if (type === 6) u32(key, 'kv', true);
    else if (type === 10 || type === 11) u64(key, 'kv');
    else o += SIZE[type] ?? 8;
  }
  for (let i = 0; i < nTensors; i++) {
    const name = str(`tensor #${i} name`, 'tensor info');
    const nd = u32(`${name} n_dims`, 'tensor info');
    for (let d = 0; d < nd; d++) u64(`${name} dim ${d}`, 'tensor info');
    u32(`${name} type`, 'tensor info');
    u64(`${name} offset`, 'tensor info');
  }
  return f;
}

const U64_VALUES = [0n, 1n, 2n ** 31n, 2n ** 32n - 1n, 2n ** 32n, 4000000000n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n];
const U32_VALUES = [0, 1, 2, 7, 9, 13, 255, 2 ** 31, 2 ** 32 - 1];
const F32_VALUES = [NaN, Infinity, -Infinity, -1, 0, 1e30];
/** Hostile JSON numbers (text, so 1e999 stays 1e999 until JSON.parse makes it Infinity). */
const JSON_VALUES = ['0', '-1', '1.5', '1000000000', '4000000000', '9007199254740993', '1e308', '1e999', '-1e999', 'null', '"64"', 'true', '[]'];

type Case = { group: string; name: string; file: string; names: string[]; write: () => void; path: string };

if (OUT) {
  describe('loader fuzz child', function () {
    this.timeout(600000);
    it('runs every case and writes the result', async () => {
      await selectBackend({ backend: 'wasm' });
      const dir = mkdtempSync(join(tmpdir(), 'adapt-lfuzz-child-'));
      const rand = prng(0x10ad);
      const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)];
      const cases: Case[] = [];

      // GGUF: every header, key/value and tensor-info field, two hostile values each; 40 string lengths inside the vocabulary arrays
      const gguf = readFileSync(STORIES);
      const ggufPath = join(dir, 'fuzz.gguf');
      const fields = ggufFields(gguf);
      const items = fields.filter((x) => x.group === 'array item');
      const chosen = [...fields.filter((x) => x.group !== 'array item'), ...Array.from({ length: 40 }, () => pick(items))];
      for (const fld of chosen) {
        for (let k = 0; k < 2; k++) {
          // the value is chosen now, the bytes made when the case runs (a copy per case would be the memory measured)
          const v = fld.size === 8 ? pick(U64_VALUES) : fld.float ? pick(F32_VALUES) : pick(U32_VALUES);
          const write = () => {
            const b = Buffer.from(gguf);
            if (fld.size === 8) b.writeBigUInt64LE(v as bigint, fld.at);
            else if (fld.float) b.writeFloatLE(v as number, fld.at);
            else b.writeUInt32LE((v as number) >>> 0, fld.at);
            writeFileSync(ggufPath, b);
          };
          cases.push({ group: `GGUF ${fld.group}`, name: `${fld.label} = ${String(v)}`, file: 'fuzz.gguf', names: ['fuzz.gguf'], path: ggufPath, write });
        }
      }

      // Hugging Face folder: config.json, model.safetensors header, tokenizer.json, tokenizer_config.json
      const base = tinyLlamaFolder(join(dir, 'base'));
      const hfPath = join(dir, 'hf');
      const orig = Object.fromEntries(['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']
        .map((n) => [n, readFileSync(join(base, n))])) as Record<string, Buffer>;
      const hfCase = (group: string, name: string, file: string, bytes: Buffer | string) => cases.push({
        group, name, file, names: [file, basename(hfPath)], path: hfPath,
        write: () => {
          tinyLlamaFiles(hfPath, orig);
          writeFileSync(join(hfPath, file), bytes);
        },
      });

      const config = orig['config.json'].toString('utf8');
      const cfgFields = ['hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'head_dim',
        'max_position_embeddings', 'vocab_size', 'rms_norm_eps', 'rope_theta', 'bos_token_id', 'eos_token_id'];
      for (const f of cfgFields) {
        for (const v of JSON_VALUES) {
          const text = config.includes(`"${f}":`) ? config.replace(new RegExp(`"${f}":[^,}]+`), `"${f}":${v}`) : config.replace('{', `{"${f}":${v},`);
          hfCase('config.json', `${f} = ${v}`, 'config.json', text);
        }
      }

      const st = orig['model.safetensors'];
      const headerLen = Number(st.readBigUInt64LE(0));
      const header = JSON.parse(st.toString('utf8', 8, 8 + headerLen)) as Record<string, { dtype: string; shape: number[]; data_offsets: number[] }>;
      const data = st.subarray(8 + headerLen);
      const names = Object.keys(header).filter((n) => n !== '__metadata__');
      const withHeader = (h: unknown) => {
        const json = Buffer.from(JSON.stringify(h), 'utf8');
        const len = Buffer.alloc(8);
        len.writeBigUInt64LE(BigInt(json.length));
        return Buffer.concat([len, json, data]);
      };
      for (let i = 0; i < 60; i++) {
        const h = JSON.parse(JSON.stringify(header)) as typeof header;
        const name = pick(names);
        const t = h[name];
        const r = rand();
        let what: string;
        if (r < 0.35) {
          const d = Math.floor(rand() * t.shape.length);
          t.shape[d] = pick([0, 1, 1e9, 4e9, 2 ** 53 - 1, t.shape[d] + 1]);
          what = `shape[${d}] = ${t.shape[d]}`;
        } else if (r < 0.75) {
          const k = rand() < 0.5 ? 0 : 1;
          const other = h[pick(names)].data_offsets[0];
          t.data_offsets[k] = pick([0, other, t.data_offsets[k] + 4, data.length, data.length + 4, 2 ** 40, 2 ** 53 - 1]);
          what = `data_offsets[${k}] = ${t.data_offsets[k]}`;
        } else {
          t.dtype = pick(['F16', 'BF16', 'U8', 'I64', 'F64']);
          what = `dtype = ${t.dtype}`;
        }
        hfCase('model.safetensors', `${name} ${what}`, 'model.safetensors', withHeader(h));
      }
      for (const len of [0n, 7n, BigInt(headerLen) + 8n, 2n ** 32n, 2n ** 63n, 2n ** 64n - 1n]) {
        const b = Buffer.from(st);
        b.writeBigUInt64LE(len, 0);
        hfCase('model.safetensors', `header length = ${len}`, 'model.safetensors', b);
      }
      hfCase('model.safetensors', 'all header, no data', 'model.safetensors', st.subarray(0, 8 + headerLen));

      const tokJson = JSON.parse(orig['tokenizer.json'].toString('utf8')) as { model: { vocab: Record<string, number>; merges: unknown[] }; added_tokens: { id: number }[] };
      const tokens = Object.keys(tokJson.model.vocab);
      const tokCase = (name: string, edit: (t: typeof tokJson) => void) => {
        const t = JSON.parse(JSON.stringify(tokJson)) as typeof tokJson;
        edit(t);
        hfCase('tokenizer.json', name, 'tokenizer.json', JSON.stringify(t));
      };
      for (const v of [5e8, 2 ** 31, 2 ** 53, -1, 1.5, 511, 512, 514, 515, 600, 1e9]) {
        for (let k = 0; k < 3; k++) {
          const tok = pick(tokens);
          tokCase(`vocab[${JSON.stringify(tok)}] = ${v}`, (t) => { t.model.vocab[tok] = v; });
        }
        tokCase(`added_tokens[0].id = ${v}`, (t) => { t.added_tokens[0].id = v; });
      }
      for (const m of ['', 'a', ' ', '▁ ▁ ▁', 'x'.repeat(100000), 42, null, ['a'], ['a', 'b', 'c'], [1, 2], {}]) {
        for (let k = 0; k < 2; k++) {
          const at = Math.floor(rand() * tokJson.model.merges.length);
          tokCase(`merges[${at}] = ${JSON.stringify(m).slice(0, 20)}`, (t) => { t.model.merges[at] = m; });
        }
      }
      tokCase('merges = 12345', (t) => { (t.model as unknown as Record<string, unknown>).merges = 12345; });
      tokCase('vocab = []', (t) => { (t.model as unknown as Record<string, unknown>).vocab = []; });
      tokCase('added_tokens = {}', (t) => { (t as unknown as Record<string, unknown>).added_tokens = {}; });
      for (const text of ['', '{', 'null', '[]', '{"model": null}', '\u0000\u00ff']) hfCase('tokenizer.json', `text ${JSON.stringify(text)}`, 'tokenizer.json', text);
      for (const text of ['', '{', 'null', '[]', '{"chat_template": 1}', '{"chat_template": []}']) {
        hfCase('tokenizer_config.json', `text ${JSON.stringify(text)}`, 'tokenizer_config.json', text);
      }

      // warm-up: one load of each base, so the baseline holds what any load needs
      tinyLlamaFiles(hfPath, orig);
      for (const p of [STORIES, hfPath]) (await loadModel(p)).model.dispose();
      const baselineMaxRssKb = process.resourceUsage().maxRSS;

      const byGroup: FuzzResult['byGroup'] = {};
      const failures: string[] = [];
      let slowest = { name: '', ms: 0 };
      const t0 = performance.now();
      for (const c of cases) {
        c.write();
        const g = (byGroup[c.group] ??= { ok: 0, error: 0 });
        const t = performance.now();
        try {
          const lm = await loadModel(c.path);
          try {
            lm.tokenizer?.encode('Once upon a time, <s> 123 ünïcode');
          } finally {
            lm.model.dispose();
          }
          g.ok++;
        } catch (e) {
          const msg = e instanceof Error ? e.message : String(e);
          if (!(e instanceof Error)) failures.push(`${c.group} ${c.name}: threw ${msg}`);
          else if (!c.names.some((n) => msg.includes(n))) failures.push(`${c.group} ${c.name}: ${e.constructor.name} does not name ${c.file}: ${msg.slice(0, 200)}`);
          else if (msg.includes('\n')) failures.push(`${c.group} ${c.name}: more than one line: ${msg.slice(0, 200)}`);
          else g.error++;
        }
        const ms = performance.now() - t;
        if (ms > slowest.ms) slowest = { name: `${c.group} ${c.name}`, ms };
      }
      const result: FuzzResult = {
        cases: cases.length, byGroup, failures, baselineMaxRssKb, finalMaxRssKb: process.resourceUsage().maxRSS, slowest, totalMs: performance.now() - t0,
      };
      writeFileSync(OUT, JSON.stringify(result));
      rmSync(dir, { recursive: true, force: true });
    });
  });
}

/** Restores the tiny Llama folder's four files. */
function tinyLlamaFiles(dir: string, files: Record<string, Buffer>): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const [n, b] of Object.entries(files)) writeFileSync(join(dir, n), b);
}

