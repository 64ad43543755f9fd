// The run on display, folded from its events: the series the charts draw and the numbers the
// header shows. No DOM: tested under plain mocha.
import type { RunStatus, TrainerEvent } from '../../src/protocol/events';
import type { MonitorRunInfo } from '../../src/protocol/webview';
import type { Point } from '../shared/charts';

/** What the charts' x-axis counts, as in W&B and TensorBoard: steps, tokens trained on, or training time. */
export type XAxis = 'step' | 'tokens' | 'time';
export const X_AXES: readonly XAxis[] = ['step', 'tokens', 'time'];

/** Where a step lies on the other axes, when known. */
export interface StepPosition {
  tokens?: number;
  seconds?: number;
}

/**
 * A curve over steps. A step at or before the last one (resume from a checkpoint) replaces the
 * tail. Other x-axes are a mapping of steps (RunModel.xOf), kept once for the run rather than
 * once per curve (copies per axis would triple the points eight curves keep), and applied only
 * to the thinned points a chart draws.
 */
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
  readonly stepTime = new Series();
  readonly cpu = new Series();
  /** Some step of this run carried tokensSeen (runs recorded before it have no tokens axis). */
  hasTokens = false;
  /** Some step has a place in training time (from elapsedSeconds or the events' times). */
  hasTime = false;
  /**
   * The checkpoint the run keeps as its result: the latest one chosen by evaluation
   * (checkpointEval), else the latest best-validation-loss checkpoint.
   */
  chosen: { step: number; by: 'eval' | 'loss'; accuracy?: number; forgettingPercent?: number } | undefined;

  private timings: { step: number; t: number }[] = [];
  /** Each step's place on the tokens and time axes, indexed by step (NaN: not known). */
  private tokensAt: number[] = [];
  private secondsAt: number[] = [];
  /**
   * Training time for runs recorded without elapsedSeconds, from the events' times as the
   * trainer counts it: from `started`, pauses left out, continued from the resumed step.
   */
  private clock: { segStart: number; base: number; pausedAt?: number } | undefined;

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
        this.startClock(Date.parse(e.time), e.resumedFrom);
        return;
      case 'step': {
        this.step = e.step;
        this.epoch = e.epoch;
        const t = Date.parse(e.time);
        this.place(e.step, e.tokensSeen, e.elapsedSeconds, t);
        this.loss.add(e.step, e.loss);
        this.lr.add(e.step, e.lr);
        this.gradNorm.add(e.step, e.gradNorm);
        this.tps.add(e.step, e.tokensPerSecond);
        if (e.memory) this.rss.add(e.step, e.memory.rssMiB);
        if (e.stepSeconds !== undefined) this.stepTime.add(e.step, e.stepSeconds);
        if (e.cpuPercent !== undefined) this.cpu.add(e.step, e.cpuPercent);
        this.tokensPerSecond = e.tokensPerSecond;
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
      case 'checkpoint':
        if (e.best && this.chosen?.by !== 'eval') this.chosen = { step: e.step, by: 'loss' };
        return;
      case 'checkpointEval':
        if (e.chosen) this.chosen = { step: e.step, by: 'eval', accuracy: e.accuracy, forgettingPercent: e.forgettingPercent };
        return;
      case 'log':
        this.lastLog = { level: e.level, message: e.message };
        return;
      case 'paused':
        this.status = 'paused';
        this.timings = [];
        if (this.clock) this.clock.pausedAt = Date.parse(e.time);
        return;
      case 'resumed': {
        this.status = 'running';
        this.timings = [];
        const t = Date.parse(e.time);
        if (this.clock?.pausedAt !== undefined && Number.isFinite(t) && Number.isFinite(this.clock.pausedAt)) this.clock.segStart += t - this.clock.pausedAt;
        if (this.clock) this.clock.pausedAt = undefined;
        return;
      }
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
    }
  }

  /** Where `step` lies on `axis` (step 0, before any training, is at 0 on every axis); undefined when not known. */
  xOf(step: number, axis: XAxis): number | undefined {
    if (axis === 'step') return step;
    if (step === 0) return 0;
    const v = (axis === 'tokens' ? this.tokensAt : this.secondsAt)[step];
    return v === undefined || Number.isNaN(v) ? undefined : v;
  }

  /** `series` on `axis`: a new array, points whose step has no place on the axis left out. */
  on(series: Series, axis: XAxis): Point[] {
    const out: Point[] = [];
    mapPoints(series.points, this, axis, out);
    return out;
  }

  private startClock(t: number, resumedFrom: number | undefined): void {
    const base = resumedFrom === undefined ? 0 : this.xOf(resumedFrom, 'time');
    this.clock = Number.isFinite(t) && base !== undefined ? { segStart: t, base } : undefined;
  }

  private place(step: number, tokens: number | undefined, seconds: number | undefined, t: number): void {
    if (seconds === undefined && this.clock && Number.isFinite(t)) seconds = this.clock.base + Math.max(0, t - this.clock.segStart) / 1000;
    if (tokens !== undefined) this.hasTokens = true;
    if (seconds !== undefined) this.hasTime = true;
    setAt(this.tokensAt, step, tokens);
    setAt(this.secondsAt, step, seconds);
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

/** Stores `v` at index `i`, filling any gap with NaN so the array stays one of plain doubles. */
function setAt(a: number[], i: number, v: number | undefined): void {
  if (!Number.isInteger(i) || i < 0) return;
  while (a.length < i) a.push(NaN);
  a[i] = v ?? NaN;
}

/**
 * Writes `src` (x = step) into `out` (in place, by index, as fillView does) with x on `axis`;
 * points whose step has no place on it are left out. On the step axis the points themselves.
 */
export function mapPoints(src: readonly Point[], m: Pick<RunModel, 'xOf'>, axis: XAxis, out: Point[]): void {
  let k = 0;
  for (const p of src) {
    if (axis === 'step') {
      out[k++] = p;
      continue;
    }
    const x = m.xOf(p.x, axis);
    if (x !== undefined) out[k++] = { x, y: p.y };
  }
  out.length = k;
}
