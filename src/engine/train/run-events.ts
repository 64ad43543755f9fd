// Where a training run's events go: the caller's listener at once, and the run folder's
// metrics.jsonl once the run exists (events from before it was created are kept until then).
import { RunHandle } from '../core/runs/store';
import { TrainerEvent } from '../../protocol/events';

export const now = () => new Date().toISOString();

export class RunEvents {
  private run: RunHandle | undefined;
  private readonly pending: TrainerEvent[] = [];

  constructor(private readonly listener?: (e: TrainerEvent) => void) {}

  /** From now on events are appended to `run`, starting with those held back so far. */
  attach(run: RunHandle): void {
    this.run = run;
    for (const e of this.pending.splice(0)) run.appendEvent(e);
  }

  emit(e: TrainerEvent): void {
    if (this.run) this.run.appendEvent(e);
    else this.pending.push(e);
    this.listener?.(e);
  }

  log(message: string, level: 'info' | 'warn' | 'error' = 'info'): void {
    this.emit({ type: 'log', time: now(), level, message });
  }
}
