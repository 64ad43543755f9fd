// `adapt-lab models [--json] [--folder DIR]...`: the models already on this machine (Hugging Face
// cache, Ollama, LM Studio, llama.cpp's cache, extra folders), from their headers only.
import { parse } from '../args';
import { scanCatalogue } from '../../engine/core/catalogue';
import { describeEntry, verdictOf } from '../../engine/core/catalogue/describe';
import { SOURCE_TITLES, MODEL_SOURCES } from '../../protocol/catalogue';

export async function modelsCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { json: { type: 'boolean' }, folder: { type: 'string', multiple: true } });
  const cat = await scanCatalogue({ folders: values.folder ?? [] });
  if (values.json) {
    console.log(JSON.stringify(cat, null, 1));
    return 0;
  }
  for (const source of MODEL_SOURCES) {
    const roots = cat.roots.filter((r) => r.source === source);
    const models = cat.models.filter((m) => m.source === source);
    const where = roots.map((r) => `${r.path}${r.exists ? '' : ' (absent)'}`).join(', ');
    if (!models.length && !roots.some((r) => r.exists)) continue;
    console.log(`${SOURCE_TITLES[source]} — ${where}`);
    for (const r of roots) if (r.error) console.log(`  ! ${r.error}`);
    if (!models.length) console.log('  (no models)');
    for (const m of models) {
      console.log(`  ${m.name}`);
      console.log(`      ${[describeEntry(m), verdictOf(m)].filter(Boolean).join(' · ')}`);
      console.log(`      ${m.path}`);
      if (m.stop?.length) console.log(`      stop ${m.stop.map((s) => JSON.stringify(s)).join(' ')}`);
    }
  }
  const usable = cat.models.filter((m) => m.trainable).length;
  console.log(`${cat.models.length} models, ${usable} trainable by Adapt Lab (scanned in ${cat.scanMs} ms)`);
  return 0;
}
