// Stop / pause / resume requests reaching a running trainer (from IPC, signals or a test).
export class TrainerControl {
  stopRequested = false;
  paused = false;
  private wake?: () => void;

  stop(): void {
    this.stopRequested = true;
    this.paused = false;
    this.wake?.();
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
    this.wake?.();
  }
  /** Resolves once not paused (or a stop arrives). */
  async waitWhilePaused(): Promise<void> {
    while (this.paused && !this.stopRequested) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 200);
      });
    }
    this.wake = undefined;
  }
}
