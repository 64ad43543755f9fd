import { strict as assert } from 'node:assert';
import { hfToGgufName, ggufToHfName } from '../../../src/engine/model/loader';
import { familyOf } from '../../../src/engine/model/families';
import { ModelConfig } from '../../../src/engine/core/model-config';

describe('GGUF ↔ Hugging Face tensor names', () => {
  const configs: ModelConfig[] = [
    { family: 'llama', vocabSize: 10, hidden: 8, intermediate: 12, layers: 12, heads: 2, kvHeads: 1, headDim: 4, maxPositions: 8, normEps: 1e-5, ropeTheta: 1e4, attentionBias: true, tiedHead: false },
    { family: 'gpt2', vocabSize: 10, hidden: 8, layers: 12, heads: 2, headDim: 4, maxPositions: 8, normEps: 1e-5, tiedHead: false },
  ];
  for (const c of configs) {
    it(`every ${c.family} parameter maps to GGUF and back`, () => {
      for (const s of familyOf(c).paramSpecs(c)) {
        const g = hfToGgufName(c.family, s.name);
        assert.ok(g, `${s.name} has no GGUF name`);
        assert.equal(ggufToHfName(c.family, g!), s.name);
      }
    });
  }
});
