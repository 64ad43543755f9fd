// What a step event says about the run's pace and the machine, for the Monitor's x-axes and
// system panels: tokens trained on so far, training time, the step's own time, and the trainer
// process's CPU use. Tokens and time continue across a resume (the checkpoint carries them) and
// training time leaves pauses out, so a resumed run's curves join up on every axis.

/** The part of a checkpoint's meta that a resumed run's meter starts from. */
export interface MeterState {
  tokensSeen?: number;
  elapsedSeconds?: number;
}

export interface StepMeasure {
  tokensSeen?: number;
  elapsedSeconds?: number;
  stepSeconds: number;
  cpuPercent?: number;
}

const finite = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined);

export class RunMeter {
  /** Undefined when resumed from a checkpoint written before tokens were counted: then left out, never guessed. */
  private tokens: number | undefined;
  private readonly base: number | undefined;
  private startedAt = performance.now();
  private pausedMs = 0;
  private cpu = process.cpuUsage();
  private cpuAt = performance.now();

  /** `from`: a resumed run's checkpoint meta; nothing for a new run. */
  constructor(from?: Record<string, unknown>) {
    this.tokens = from ? finite(from.tokensSeen) : 0;
    this.base = from ? finite(from.elapsedSeconds) : 0;
  }

  /** Training time starts now (when the run says `started`). */
  start(): void {
    this.startedAt = performance.now();
    this.pausedMs = 0;
    this.markCpu();
  }

  /** A pause of `ms` is not training time, and its idle CPU is not the step's. */
  paused(ms: number): void {
    this.pausedMs += ms;
    this.markCpu();
  }

  elapsedSeconds(): number | undefined {
    return this.base === undefined ? undefined : this.base + (performance.now() - this.startedAt - this.pausedMs) / 1000;
  }

  /** After a step of `tokens` tokens that took `stepSeconds`. */
  step(tokens: number, stepSeconds: number): StepMeasure {
    if (this.tokens !== undefined) this.tokens += tokens;
    const now = performance.now();
    const used = process.cpuUsage(this.cpu);
    const wallUs = (now - this.cpuAt) * 1000;
    this.markCpu();
    const out: StepMeasure = { stepSeconds };
    if (this.tokens !== undefined) out.tokensSeen = this.tokens;
    const elapsed = this.elapsedSeconds();
    if (elapsed !== undefined) out.elapsedSeconds = elapsed;
    if (wallUs > 0) out.cpuPercent = (100 * (used.user + used.system)) / wallUs;
    return out;
  }

  /** What a checkpoint records so that a resume continues the axes. */
  state(): MeterState {
    const out: MeterState = {};
    if (this.tokens !== undefined) out.tokensSeen = this.tokens;
    const elapsed = this.elapsedSeconds();
    if (elapsed !== undefined) out.elapsedSeconds = elapsed;
    return out;
  }

  private markCpu(): void {
    this.cpu = process.cpuUsage();
    this.cpuAt = performance.now();
  }
}
