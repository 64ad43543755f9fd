// Activation recomputation (gradient checkpointing) per transformer block: the forward pass keeps
// only each block's input; the backward pass runs the block again, on the tape this time, and
// takes its gradients from that. One block's activations are alive at a time instead of every
// block's, for one more forward pass of the blocks. Used when a step's activations would not fit
// the wasm heap otherwise (train/setup.ts decides; core/memory.ts estimates both ways).
import { tf, Tensor } from '../tf';
import { CausalLM, ForwardContext } from '../model/model';
import { TrainParam } from '../adapt/methods';

/** The trainable variables block `layer` reads: its LoRA adapters and unfrozen weights (by module path). */
function blockVariables(model: CausalLM, layer: number, params: TrainParam[]): tf.Variable[] {
  const prefix = `${model.family.blockPrefix(layer)}.`;
  // Names are `param:<HF name>` or `lora:<module path>.A|B`.
  return params.filter((p) => p.name.slice(p.name.indexOf(':') + 1).startsWith(prefix)).map((p) => p.variable);
}

/** Block `layer` as one differentiable op in h and the block's variables, its inner activations recomputed in backward. */
function recomputedBlock(model: CausalLM, layer: number, h: Tensor, ctx: ForwardContext, vars: tf.Variable[]): Tensor {
  // The recomputation draws the same dropout masks: the same seed counter as the forward pass.
  const start = ctx.seedCounter;
  const op = tf.customGrad((...args: (Tensor | tf.GradSaveFunc)[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const x = args[0] as Tensor;
    save([x]);
    // Ops inside a custom op's forward pass are not taped: the block's activations are freed by its tidy.
    const value = model.family.block(model, layer, x, ctx);
    return {
      value,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const again = { ...ctx, seedCounter: start };
        // A gradient inside a backward pass: tfjs 4.22's engine starts a fresh tape for it and,
        // finishing, drops the tape of the gradient being computed (whose saved tensors it must
        // still free). Keep that one aside and put it back.
        const state = (tf.engine() as unknown as { state: { activeTape: unknown } }).state;
        const outer = state.activeTape;
        let y: Tensor, grads: (Tensor | null)[];
        try {
          ({ value: y, grads } = tf.engine().gradients(() => model.family.block(model, layer, saved[0], again), [saved[0], ...vars], dy, true));
        } finally {
          state.activeTape = outer;
        }
        y.dispose();
        return grads.map((g, i) => g ?? tf.zerosLike(i === 0 ? saved[0] : vars[i - 1]));
      },
    };
  });
  return op(h, ...vars);
}

/** Blocks [from, to) on h, each recomputed in the backward pass (call inside the gradient's function). */
export function recomputedBlocks(model: CausalLM, h: Tensor, from: number, to: number, ctx: ForwardContext, params: TrainParam[]): Tensor {
  for (let i = from; i < to; i++) h = recomputedBlock(model, i, h, ctx, blockVariables(model, i, params));
  return h;
}
