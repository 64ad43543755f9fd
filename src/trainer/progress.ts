// A one-line progress bar with ETA for terminals (the default output of `adapt-lab train`).
import { checkpointEvalLine, TrainerEvent } from '../protocol/events';

export function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.round(s)}s`;
}

export class ProgressPrinter {
  private total = 0;
  private start = 0;
  private startStep = 0;
  private lastVal = '';
  constructor(private out: NodeJS.WriteStream = process.stderr) {}

  private line(text: string, final = false): void {
    if (this.out.isTTY) this.out.write(`\r\x1b[K${text}${final ? '\n' : ''}`);
    else if (final) this.out.write(`${text}\n`);
  }

  handle(e: TrainerEvent): void {
    switch (e.type) {
      case 'started':
        this.total = e.totalSteps;
        this.start = Date.now();
        this.startStep = e.resumedFrom ?? 0;
        this.out.write(`run ${e.runId} (${e.backend.name}) — ${e.params.trainable.toLocaleString('en-US')} trainable of ${e.params.total.toLocaleString('en-US')} (${e.params.percent.toFixed(2)}%)\n`);
        this.out.write(`train: ${e.train.examples} examples, ${e.train.tokens} tokens (length p50 ${e.train.p50Length}, p95 ${e.train.p95Length}, max ${e.train.maxLength}; ${e.train.truncated} truncated)\n`);
        break;
      case 'step': {
        const done = e.step / Math.max(1, this.total);
        const width = 24;
        const bar = '█'.repeat(Math.round(done * width)).padEnd(width, '░');
        const elapsed = (Date.now() - this.start) / 1000;
        const rate = (e.step - this.startStep) / Math.max(elapsed, 1e-3);
        const eta = (this.total - e.step) / rate;
        const text = `${bar} ${e.step}/${this.total} loss ${e.loss.toFixed(4)}${this.lastVal} lr ${e.lr.toExponential(2)} ${Math.round(e.tokensPerSecond)} tok/s ETA ${formatDuration(eta)}`;
        if (this.out.isTTY) this.line(text);
        else if (e.step % Math.max(1, Math.floor(this.total / 20)) === 0 || e.step === this.total) this.out.write(`${text}\n`);
        break;
      }
      case 'eval':
        this.lastVal = ` val ${e.valLoss.toFixed(4)}`;
        if (!this.out.isTTY) this.out.write(`eval at step ${e.step}: val loss ${e.valLoss.toFixed(4)}, perplexity ${e.perplexity.toFixed(2)}, token accuracy ${(100 * e.tokenAccuracy).toFixed(1)}%${e.best ? ' (best)' : ''}\n`);
        break;
      case 'checkpointEval':
        if (!this.out.isTTY || e.chosen) {
          this.line('');
          this.out.write(`${checkpointEvalLine(e)}\n`);
        }
        break;
      case 'log':
        this.line('');
        this.out.write(`${e.level === 'info' ? '' : `${e.level}: `}${e.message}\n`);
        break;
      case 'evalReport':
        this.line('');
        this.out.write(`evaluation (${e.path}): ${e.verdict}\n`);
        break;
      case 'finished':
        this.line('', true);
        this.out.write(`finished at step ${e.step} (${e.reason})${e.bestValLoss !== undefined ? `, best val loss ${e.bestValLoss.toFixed(4)}` : ''}\n`);
        break;
      case 'stopped':
        this.line('', true);
        this.out.write(`stopped at step ${e.step}\n`);
        break;
      case 'failed':
        this.line('', true);
        this.out.write(`failed at step ${e.step}: ${e.reason}\n`);
        break;
      default:
        break;
    }
  }
}
