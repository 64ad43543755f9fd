// The run on display, folded from its events: the series the charts draw and the numbers the
// header shows. No DOM: tested under plain mocha.
import type { RunStatus, TrainerEvent } from '../../src/protocol/events';
import type { MonitorRunInfo } from '../../src/protocol/webview';
import type { Point } from '../shared/charts';

/** What the charts' x-axis counts, as in W&B and TensorBoard: steps, tokens trained on, or training time. */
export type XAxis = 'step' | 'tokens' | 'time';
export const X_AXES: readonly XAxis[] = ['step', 'tokens', 'time'];

/** A point on an axis other than steps; `step` says which step it belongs to (for a resume's rewind). */
export interface StepPoint extends Point {
  step: number;
}

/** Where a step lies on the other axes, when known. */
export interface StepPosition {
  tokens?: number;
  seconds?: number;
}

/**
 * A curve, kept on each x-axis at once so switching axes costs nothing. A step at or before
 * the last one (resume from a checkpoint) replaces the tail on every axis.
 */
export class Series {
  /** x = step. */
  readonly points: Point[] = [];
  /** x = tokens seen: only points whose step has a known token count. */
  readonly byTokens: StepPoint[] = [];
  /** x = seconds of training. */
  readonly byTime: StepPoint[] = [];
  /** Points were removed since the last `takeRewound()`: anything derived must be recomputed. */
  private rewound = false;

  add(x: number, y: number, at: StepPosition = {}): void {
    if (!Number.isFinite(x) || !Number.isFinite(y)) return;
    const p = this.points;
    while (p.length && p[p.length - 1].x >= x) {
      p.pop();
      this.rewound = true;
    }
    p.push({ x, y });
    this.addOn(this.byTokens, x, y, at.tokens);
    this.addOn(this.byTime, x, y, at.seconds);
  }

  private addOn(list: StepPoint[], step: number, y: number, x: number | undefined): void {
    while (list.length && (list[list.length - 1].step >= step || (x !== undefined && list[list.length - 1].x > x))) {
      list.pop();
      this.rewound = true;
    }
    if (x !== undefined && Number.isFinite(x)) list.push({ x, y, step });
  }

  /** The curve on `axis`. */
  on(axis: XAxis): readonly Point[] {
    return axis === 'step' ? this.points : axis === 'tokens' ? this.byTokens : this.byTime;
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
  /**
   * The checkpoint the run keeps as its result: the latest one chosen by evaluation
   * (checkpointEval), else the latest best-validation-loss checkpoint.
   */
  chosen: { step: number; by: 'eval' | 'loss'; accuracy?: number; forgettingPercent?: number } | undefined;

  private timings: { step: number; t: number }[] = [];
  /** Each step's place on the tokens and time axes (eval events and the chosen checkpoint need them). */
  private positions = new Map<number, StepPosition>();
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
        const at = this.position(e.step, e.tokensSeen, e.elapsedSeconds, t);
        this.loss.add(e.step, e.loss, at);
        this.lr.add(e.step, e.lr, at);
        this.gradNorm.add(e.step, e.gradNorm, at);
        this.tps.add(e.step, e.tokensPerSecond, at);
        if (e.memory) this.rss.add(e.step, e.memory.rssMiB, at);
        if (e.stepSeconds !== undefined) this.stepTime.add(e.step, e.stepSeconds, at);
        if (e.cpuPercent !== undefined) this.cpu.add(e.step, e.cpuPercent, at);
        this.tokensPerSecond = e.tokensPerSecond;
        if (Number.isFinite(t)) {
          while (this.timings.length && this.timings[this.timings.length - 1].step >= e.step) this.timings.pop();
          this.timings.push({ step: e.step, t });
          if (this.timings.length > ETA_WINDOW) this.timings.shift();
        }
        return;
      }
      case 'eval':
        this.val.add(e.step, e.valLoss, this.at(e.step));
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

  /** Where `step` lies on the tokens and time axes (step 0, before any training, is at 0 on both). */
  at(step: number): StepPosition {
    return this.positions.get(step) ?? (step === 0 ? { tokens: 0, seconds: 0 } : {});
  }

  private startClock(t: number, resumedFrom: number | undefined): void {
    const base = resumedFrom === undefined ? 0 : this.positions.get(resumedFrom)?.seconds;
    this.clock = Number.isFinite(t) && base !== undefined ? { segStart: t, base } : undefined;
  }

  private position(step: number, tokens: number | undefined, seconds: number | undefined, t: number): StepPosition {
    if (seconds === undefined && this.clock && Number.isFinite(t)) seconds = this.clock.base + Math.max(0, t - this.clock.segStart) / 1000;
    if (tokens !== undefined) this.hasTokens = true;
    const at: StepPosition = { tokens, seconds };
    this.positions.set(step, at);
    return at;
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
