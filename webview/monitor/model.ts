// The run on display, folded from its events: the series the charts draw and the numbers the
// header shows. No DOM: tested under plain mocha.
import type { RunStatus, TrainerEvent } from '../../src/protocol/events';
import type { MonitorRunInfo } from '../../src/protocol/webview';
import type { Point } from '../shared/charts';

/** A curve over steps. A step at or before the last one (resume from a checkpoint) replaces the tail. */
export class Series {
  readonly points: Point[] = [];
  /** Points were removed since the last `takeRewound()`: anything derived must be recomputed. */
  private rewound = false;

  add(x: number, y: number): void {
    if (!Number.isFinite(x) || !Number.isFinite(y)) return;
    const p = this.points;
    while (p.length && p[p.length - 1].x >= x) {
      p.pop();
      this.rewound = true;
    }
    p.push({ x, y });
  }

  takeRewound(): boolean {
    const r = this.rewound;
    this.rewound = false;
    return r;
  }

  get length(): number {
    return this.points.length;
  }
}

/** Step timings used for the ETA: the last few steps since the latest start/pause/resume. */
const ETA_WINDOW = 30;

export class RunModel {
  run: MonitorRunInfo | null = null;
  status: RunStatus | undefined;
  step = 0;
  epoch: number | undefined;
  totalSteps: number | undefined;
  backend: string | undefined;
  method: string | undefined;
  params: { total: number; trainable: number; percent: number } | undefined;
  bestVal: number | undefined;
  tokensPerSecond: number | undefined;
  lastLog: { level: 'info' | 'warn' | 'error'; message: string } | undefined;
  endReason: string | undefined;
  problem: string | undefined;

  readonly loss = new Series();
  readonly val = new Series();
  readonly lr = new Series();
  readonly gradNorm = new Series();
  readonly tps = new Series();
  readonly rss = new Series();

  private timings: { step: number; t: number }[] = [];

  constructor(run: MonitorRunInfo | null = null, problem?: string) {
    this.run = run;
    this.problem = problem;
    if (run) {
      this.status = run.status;
      this.totalSteps = run.totalSteps;
      this.backend = run.backend;
      this.method = run.method;
    }
  }

  apply(e: TrainerEvent): void {
    switch (e.type) {
      case 'started':
        this.status = 'running';
        this.totalSteps = e.totalSteps;
        this.backend = e.backend.name;
        this.params = e.params;
        this.endReason = undefined;
        if (e.resumedFrom !== undefined) this.step = e.resumedFrom;
        this.timings = [];
        return;
      case 'step': {
        this.step = e.step;
        this.epoch = e.epoch;
        this.loss.add(e.step, e.loss);
        this.lr.add(e.step, e.lr);
        this.gradNorm.add(e.step, e.gradNorm);
        this.tps.add(e.step, e.tokensPerSecond);
        if (e.memory) this.rss.add(e.step, e.memory.rssMiB);
        this.tokensPerSecond = e.tokensPerSecond;
        const t = Date.parse(e.time);
        if (Number.isFinite(t)) {
          while (this.timings.length && this.timings[this.timings.length - 1].step >= e.step) this.timings.pop();
          this.timings.push({ step: e.step, t });
          if (this.timings.length > ETA_WINDOW) this.timings.shift();
        }
        return;
      }
      case 'eval':
        this.val.add(e.step, e.valLoss);
        if (this.bestVal === undefined || e.valLoss < this.bestVal) this.bestVal = e.valLoss;
        return;
      case 'log':
        this.lastLog = { level: e.level, message: e.message };
        return;
      case 'paused':
        this.status = 'paused';
        this.timings = [];
        return;
      case 'resumed':
        this.status = 'running';
        this.timings = [];
        return;
      case 'finished':
        this.status = 'finished';
        this.step = e.step;
        this.endReason = e.reason;
        if (e.bestValLoss !== undefined) this.bestVal = e.bestValLoss;
        return;
      case 'stopped':
        this.status = 'stopped';
        this.step = e.step;
        this.endReason = undefined;
        return;
      case 'failed':
        this.status = 'failed';
        this.step = e.step;
        this.endReason = e.reason;
        return;
      case 'checkpoint':
        return;
    }
  }

  /** Seconds left at the recent pace, while running. */
  eta(): number | undefined {
    if (this.status !== 'running' || this.totalSteps === undefined || this.timings.length < 2) return undefined;
    const a = this.timings[0];
    const b = this.timings[this.timings.length - 1];
    if (b.step <= a.step || b.t < a.t) return undefined;
    return ((b.t - a.t) / 1000 / (b.step - a.step)) * Math.max(0, this.totalSteps - this.step);
  }

  /** 0..1, or undefined when the total is not known. */
  progress(): number | undefined {
    if (this.status === 'finished') return 1;
    if (!this.totalSteps) return undefined;
    return Math.min(1, this.step / this.totalSteps);
  }
}
