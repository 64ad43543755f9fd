import { parse } from '../args';
import { selectBackend } from '../../engine/backend';
import { loadModel } from '../../engine/model/loader';
import { moduleTree, renderTree, formatCount } from '../../engine/core/modules';
import { ModelInfo, parseModelInfo } from '../../protocol/inspect';
import { archOf } from '../../engine/core/model-config';
import { CausalLM } from '../../engine/model/model';
import { formatBytes, MemoryEstimate, planMemory } from '../../engine/core/memory';
import { productsOnBlas } from '../../engine/native';

/** What `inspect` assumes for its LoRA memory estimate: Adapt Model's defaults. */
const LORA_ESTIMATE = { rank: 8, batchSize: 8, maxLength: 256, threads: 1 };

/** Peak memory of LoRA (rank 8) on every linear layer but the head, batch 8 × 256 tokens, one thread. */
function loraEstimate(model: CausalLM, wasm: boolean): MemoryEstimate & { trainableParams: number; recompute: number } {
  let trainable = 0;
  for (const s of model.specs) {
    if ((s.layout !== 'linear' && s.layout !== 'conv1d') || !s.name.endsWith('.weight')) continue;
    if (s.name === `${model.family.headName}.weight`) continue;
    trainable += LORA_ESTIMATE.rank * (s.shape[0] + s.shape[1]);
  }
  // As the trainer plans it: block activations recomputed when the wasm heap would not hold them all.
  const plan = planMemory(model.config, { batchSize: LORA_ESTIMATE.batchSize, maxLength: LORA_ESTIMATE.maxLength, totalParams: model.numParams + trainable, trainableParams: trainable, firstTrainableLayer: 0, threads: LORA_ESTIMATE.threads, heapWeightBytes: model.heapWeightBytes(), externalBytes: model.externalBytes(), blas: productsOnBlas() }, wasm);
  return { ...plan.mem, trainableParams: trainable, recompute: plan.recompute };
}

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
      arch: archOf(lm.model.config), loraMemory: { ...LORA_ESTIMATE, ...loraEstimate(lm.model, backend.name === 'wasm') },
      weightLayout: { heapBytes: lm.model.heapWeightBytes(), externalBytes: lm.model.externalBytes(), blas: productsOnBlas() },
      backend: backend.name, tokenizer: lm.tokenizer ? { kind: lm.tokenizer.kind, vocabSize: lm.tokenizer.vocabSize } : null,
    };
    // The extension reads this back with parseModelInfo: print nothing it would refuse.
    console.log(JSON.stringify(parseModelInfo(info, 'inspect --json (before printing)'), null, 1));
  } else {
    const c = lm.model.config;
    console.log(`${lm.name}: ${archOf(c)}, ${lm.format.toUpperCase()}, ${c.layers} layers, hidden ${c.hidden}, ${c.heads} heads, vocab ${c.vocabSize}, context ${c.maxPositions}`);
    console.log(`${'module'.padEnd(44)} ${'shape dtype'.padEnd(22)} ${'parameters'.padStart(14)}`);
    for (const line of renderTree(tree)) console.log(line);
    console.log(`total: ${formatCount(total)} parameters in ${lm.model.specs.length} tensors`);
    const counts = new Map<string, number>();
    for (const s of lm.model.specs) { const d = lm.dtypes.get(s.name) ?? '?'; counts.set(d, (counts.get(d) ?? 0) + 1); }
    console.log(`tensor types: ${[...counts].map(([d, n]) => `${d} ×${n}`).join(', ')}`);
    const mem = loraEstimate(lm.model, backend.name === 'wasm');
    console.log(`LoRA training estimate (rank ${LORA_ESTIMATE.rank} on every linear layer but the head, ${formatCount(mem.trainableParams)} trainable; `
      + `batch ${LORA_ESTIMATE.batchSize} × ${LORA_ESTIMATE.maxLength} tokens, ${LORA_ESTIMATE.threads} thread): ${formatBytes(mem.bytes)} `
      + `(weights in the heap ${formatBytes(mem.weights)}${mem.external ? `, outside it ${formatBytes(mem.external)}` : ''}, activations ${formatBytes(mem.activations)}${mem.recompute ? ` (recomputed in ${mem.recompute} of ${lm.model.config.layers} blocks)` : ''}, optimizer ${formatBytes(mem.optimizer)}; one heap ${formatBytes(mem.heapBytes)})`);
  }
  lm.model.dispose();
  return 0;
}
