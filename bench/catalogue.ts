// The model catalogue's scan time on a store of 200 entries laid out as the tools lay them out:
// 50 Ollama models (GGUF blobs with a 32,000-token vocabulary, so each header is ~0.5 MB as in
// real models), 50 Hugging Face cache repositories (config.json + safetensors + tokenizer.json,
// linked into blobs), 50 LM Studio GGUFs and 50 in llama.cpp's cache. Median of 5 scans (the
// first one too: the files were just written, so the page cache is warm either way).
//   node dist/bench.js --only catalogue [--json]
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scanCatalogue } from '../src/engine/core/catalogue';
import { hfCacheRepo, ollamaModel, tinyGguf, tinyHfFiles } from '../test/engine/core/catalogue/stores';
import { fmt, median, round } from './stats';

const PER_SOURCE = 50;

export async function benchCatalogue(opts: { json: boolean }): Promise<void> {
  const base = mkdtempSync(join(tmpdir(), 'adapt-lab-bench-catalogue-'));
  try {
    const home = join(base, 'home');
    const work = join(base, 'work');
    mkdirSync(work, { recursive: true });
    const hub = join(home, '.cache', 'huggingface', 'hub');
    const ollama = join(home, '.ollama', 'models');
    for (let i = 0; i < PER_SOURCE; i++) {
      const g = join(work, `big-${i}.gguf`);
      tinyGguf(g, { vocab: 32_000, name: `model ${i}` });
      ollamaModel(ollama, { name: `model${i}`, tag: 'latest', gguf: readFileSync(g), template: '{{ .Prompt }}', params: { stop: ['</s>'] } });
      rmSync(g);
      tinyHfFiles(join(work, `hf-${i}`), { vocab_size: 32 + i });
      hfCacheRepo(hub, `org/model-${i}`, join(work, `hf-${i}`), ['config.json', 'model.safetensors', 'tokenizer.json']);
      tinyGguf(join(home, '.lmstudio', 'models', 'pub', `repo-${i}`, `model-${i}-Q8_0.gguf`), { weightType: 'Q8_0', hidden: 32 + i % 4 * 32 });
      tinyGguf(join(home, '.cache', 'llama.cpp', `org_repo-${i}_model.gguf`), { weightType: 'F16' });
    }
    const times: number[] = [];
    const rss: number[] = [];
    let entries = 0;
    for (let r = 0; r < 5; r++) {
      const before = process.memoryUsage().rss;
      const c = await scanCatalogue({ env: {}, home, system: false });
      times.push(c.scanMs);
      rss.push(process.memoryUsage().rss - before);
      entries = c.models.length;
      if (c.models.some((m) => m.error)) throw new Error(`catalogue bench: ${c.models.find((m) => m.error)!.error}`);
    }
    const rec = {
      name: 'catalogue', entries, scanMs: round(median(times), 1), perEntryMs: round(median(times) / entries, 3),
      scansMs: times, rssGrowthMiB: round(Math.max(...rss) / 2 ** 20, 1),
    };
    if (opts.json) console.log(JSON.stringify(rec));
    else console.log(`\ncatalogue: ${entries} entries scanned in ${fmt(rec.scanMs)} ms (median of 5; ${fmt(rec.perEntryMs)} ms per entry; runs ${times.join(', ')} ms; RSS growth ≤ ${rec.rssGrowthMiB} MiB)`);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}
