// AdamW with decoupled weight decay on matrices only, optional L2-SP (a pull toward the
// pretrained values), global-norm gradient clipping and per-parameter LR scales (layer-wise
// decay). Only trainable parameters have state here.
import { tf, Tensor } from '../tf';
import { TrainParam } from '../adapt/methods';

export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
}

export class AdamW {
  private m = new Map<string, tf.Variable>();
  private v = new Map<string, tf.Variable>();
  t = 0;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;

  constructor(readonly params: TrainParam[], opts: AdamWOptions = {}) {
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    for (const p of params) {
      // tidy frees the zeros the variables were made from (variables survive a tidy).
      this.m.set(p.name, tf.tidy(() => tf.variable(tf.zerosLike(p.variable), false)));
      this.v.set(p.name, tf.tidy(() => tf.variable(tf.zerosLike(p.variable), false)));
    }
  }

  /**
   * Adds the L2-SP gradient, clips by global norm and applies one update. Returns the global
   * gradient norm before clipping.
   */
  step(grads: Map<string, Tensor>, lr: number, o: { weightDecay: number; l2sp: number; gradClip: number }): number {
    this.t++;
    const { beta1: b1, beta2: b2, eps } = this;
    return tf.tidy(() => {
      const gs = new Map<string, Tensor>();
      for (const p of this.params) {
        let g = grads.get(p.name);
        if (!g) throw new Error(`no gradient for ${p.name}`);
        if (o.l2sp > 0 && p.anchor) g = tf.add(g, tf.mul(tf.sub(p.variable, p.anchor), o.l2sp));
        gs.set(p.name, g);
      }
      const sq = [...gs.values()].map((g) => tf.sum(tf.square(g)));
      const norm = Math.sqrt(tf.addN(sq).dataSync()[0]);
      const scale = o.gradClip > 0 && norm > o.gradClip ? o.gradClip / (norm + 1e-6) : 1;
      const c1 = 1 - Math.pow(b1, this.t);
      const c2 = 1 - Math.pow(b2, this.t);
      for (const p of this.params) {
        const g = scale === 1 ? gs.get(p.name)! : tf.mul(gs.get(p.name)!, scale);
        const m = this.m.get(p.name)!;
        const v = this.v.get(p.name)!;
        m.assign(tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1)));
        v.assign(tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2)));
        const plr = lr * p.lrScale;
        let update = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(v, c2)), eps));
        if (p.decay && o.weightDecay > 0) update = tf.add(update, tf.mul(p.variable, o.weightDecay));
        p.variable.assign(tf.sub(p.variable, tf.mul(update, plr)));
      }
      return norm;
    });
  }

  /** Moments as named arrays, for checkpoints. */
  state(): { name: string; shape: number[]; data: Float32Array }[] {
    const out: { name: string; shape: number[]; data: Float32Array }[] = [];
    for (const p of this.params) {
      out.push({ name: `m:${p.name}`, shape: p.variable.shape, data: this.m.get(p.name)!.dataSync() as Float32Array });
      out.push({ name: `v:${p.name}`, shape: p.variable.shape, data: this.v.get(p.name)!.dataSync() as Float32Array });
    }
    return out;
  }

  load(state: { name: string; shape: number[]; data: Float32Array }[], t: number): void {
    const byName = new Map(state.map((s) => [s.name, s]));
    for (const p of this.params) {
      for (const [kind, store] of [['m', this.m], ['v', this.v]] as const) {
        const s = byName.get(`${kind}:${p.name}`);
        if (!s) throw new Error(`checkpoint has no optimizer state "${kind}:${p.name}"`);
        if (s.shape.join() !== p.variable.shape.join()) throw new Error(`optimizer state "${kind}:${p.name}" has shape [${s.shape}], expected [${p.variable.shape}]`);
        tf.tidy(() => store.get(p.name)!.assign(tf.tensor(s.data, s.shape)));
      }
    }
    this.t = t;
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
    for (const p of this.params) p.anchor?.dispose();
  }
}
