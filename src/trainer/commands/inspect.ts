import { parse } from '../args';
import { selectBackend } from '../../engine/backend';
import { loadModel } from '../../engine/model/loader';
import { moduleTree, renderTree, formatCount } from '../../engine/core/modules';
import { ModelInfo, parseModelInfo } from '../../protocol/inspect';

export async function inspectCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { json: { type: 'boolean' }, config: { type: 'string' } });
  const path = positionals[0];
  if (!path) throw new Error('inspect needs a MODEL (a .gguf file, an HF folder or a .safetensors file)');
  const backend = await selectBackend({ backend: values.backend, log: values.verbose ? (l) => console.error(l) : undefined });
  const lm = await loadModel(path, { config: values.config });
  const tree = moduleTree(lm.model.specs, lm.dtypes);
  const total = lm.model.numParams;
  if (values.json) {
    const tensors = lm.model.specs.map((s) => ({ name: s.name, shape: s.shape, layout: s.layout, dtype: lm.dtypes.get(s.name), params: s.shape.reduce((a, b) => a * b, 1) }));
    const info: ModelInfo = {
      name: lm.name, path, format: lm.format, family: lm.model.config.family, config: lm.model.config, totalParams: total, tensors, tree,
      embeddingName: lm.model.family.embeddingName, headName: lm.model.family.headName,
      backend: backend.name, tokenizer: lm.tokenizer ? { kind: lm.tokenizer.kind, vocabSize: lm.tokenizer.vocabSize } : null,
    };
    // The extension reads this back with parseModelInfo: print nothing it would refuse.
    console.log(JSON.stringify(parseModelInfo(info, 'inspect --json (before printing)'), null, 1));
  } else {
    const c = lm.model.config;
    console.log(`${lm.name}: ${c.family}, ${lm.format.toUpperCase()}, ${c.layers} layers, hidden ${c.hidden}, ${c.heads} heads, vocab ${c.vocabSize}, context ${c.maxPositions}`);
    console.log(`${'module'.padEnd(44)} ${'shape dtype'.padEnd(22)} ${'parameters'.padStart(14)}`);
    for (const line of renderTree(tree)) console.log(line);
    console.log(`total: ${formatCount(total)} parameters in ${lm.model.specs.length} tensors`);
  }
  lm.model.dispose();
  return 0;
}
