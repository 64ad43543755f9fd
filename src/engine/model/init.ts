// Fresh weights for a config: GPT-2-style initialisation (normal σ=0.02, residual projections
// scaled by 1/√(2·layers), norms at one, biases at zero). Used to pretrain the embedded base
// model and to build benchmark models of real shapes in memory.
import { tf, Tensor } from '../tf';
import { ModelConfig } from '../core/model-config';
import { CausalLM } from './model';
import { familyOf } from './families';
import { internalShape } from '../core/params';
import { Rng } from '../random';

function gaussian(rng: Rng, n: number, std: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(rng.next(), 1e-12);
    const v = rng.next();
    const r = Math.sqrt(-2 * Math.log(u)) * std;
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

export function initModel(config: ModelConfig, seed = 0): CausalLM {
  const rng = new Rng(seed);
  const params = new Map<string, Tensor>();
  const residualStd = 0.02 / Math.sqrt(2 * config.layers);
  for (const s of familyOf(config).paramSpecs(config)) {
    const shape = internalShape(s);
    const n = shape.reduce((a, b) => a * b, 1);
    let data: Float32Array;
    if (s.layout === 'vector') data = /(norm|ln_\w+)\.weight$|layernorm\.weight$/.test(s.name) ? new Float32Array(n).fill(1) : new Float32Array(n);
    else data = gaussian(rng, n, /(o_proj|down_proj|c_proj)\.weight$/.test(s.name) ? residualStd : 0.02);
    params.set(s.name, tf.tensor(data, shape, 'float32'));
  }
  return new CausalLM(config, params, familyOf(config));
}
