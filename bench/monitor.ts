// The Monitor webview under a live event stream: headless Chromium, the built page
// (dist/webview/monitor.js) with a stubbed VS Code API, 20 events a second for 10 s on top of
// a history of 1,000 and of 20,000 steps. Reports the page's CPU time (CDP Performance
// TaskDuration), redraws, the longest redraw and long task, and frame gaps.
//   from bench/index.ts:  await benchMonitor({ json: a.json })
//   on its own:           npx tsx bench/monitor.ts [--json]   (after node scripts/build.mjs)
import { browserUnavailable, launchChromium, openWebview, streamEvents } from '../test/webview/harness';
import { runEvents, started } from '../test/webview/fixtures';

const RUN_DIR = '/bench/.adapt-lab/runs/monitor';
const PER_SECOND = 20;
const SECONDS = 10;
const HISTORIES = [1_000, 20_000];

interface MonitorStats {
  redraws: number;
  chartUpdates: number;
  maxDrawMs: number;
  totalDrawMs: number;
  replayMs: number;
}

export interface MonitorRecord {
  name: 'monitor';
  history: number;
  events: number;
  seconds: number;
  /** Redraw ticks (at most one per 250 ms) and the chart.js updates they made (charts on screen only). */
  redraws: number;
  redrawsPerSecond: number;
  chartUpdates: number;
  /** Main-thread time of one redraw, all its tasks together. */
  drawMsPerRedraw: number;
  /** The longest single task of a redraw (each chart is updated in its own task). */
  drawTaskMaxMs: number;
  /** Main-thread busy time of the page / wall time (CDP TaskDuration). */
  cpuPercent: number;
  scriptMs: number;
  layoutMs: number;
  longTasks: number;
  longTaskMaxMs: number;
  maxFrameGapMs: number;
  /** The page's JS heap after a garbage collection. */
  heapMiB: number;
  /** In the page: the history's `reset` message received until its loss chart was drawn. */
  replayMs: number;
}

const round = (v: number, d = 1) => Math.round(v * 10 ** d) / 10 ** d;

export async function benchMonitor(opts: { json: boolean }): Promise<void> {
  const why = browserUnavailable('monitor');
  if (why) {
    if (opts.json) process.stdout.write(JSON.stringify({ name: 'monitor', skipped: why }) + '\n');
    else console.log(`monitor: skipped: ${why}`);
    return;
  }
  const browser = await launchChromium();
  const records: MonitorRecord[] = [];
  try {
    for (const history of HISTORIES) {
      process.stderr.write(`[bench] monitor: ${PER_SECOND} events/s for ${SECONDS} s over ${history} steps\n`);
      const w = await openWebview(browser, 'monitor', { width: 420, height: 1000 });
      try {
        const total = history + 1000;
        const past = runEvents(history, { totalSteps: total, evalEvery: 50 }).all;
        await w.send({ type: 'reset', run: { runDir: RUN_DIR, id: 'monitor', name: 'bench', status: 'running' }, events: [started(total, RUN_DIR), ...past] });
        await w.page.waitForSelector(`#loss-chart[data-points="${history}"]`, { state: 'attached' });
        // Steps with an eval every 10: PER_SECOND × SECONDS messages.
        const stream = runEvents(PER_SECOND * SECONDS, { start: history, totalSteps: total, evalEvery: 10, seed: 9 }).all.slice(0, PER_SECOND * SECONDS);
        const cdp = await w.page.context().newCDPSession(w.page);
        await cdp.send('Performance.enable');
        const metrics = async () => Object.fromEntries(((await cdp.send('Performance.getMetrics')).metrics).map((m) => [m.name, m.value]));
        const readStats = () => w.page.evaluate('({ ...window.__monitor.stats })') as Promise<MonitorStats>;
        await w.page.evaluate('window.__monitor.stats.maxDrawMs = 0'); // the replay's draw is reported apart
        const m0 = await metrics();
        const s0 = await readStats();
        const replayMs = round(s0.replayMs, 0);
        const r = await streamEvents(w, RUN_DIR, stream, PER_SECOND);
        const m1 = await metrics();
        // The heap after a collection: what the page keeps, not garbage waiting for the next GC.
        await cdp.send('HeapProfiler.collectGarbage');
        const heap = (await metrics()).JSHeapUsedSize;
        const s1 = await readStats();
        const redraws = s1.redraws - s0.redraws;
        records.push({
          name: 'monitor', history, events: stream.length, seconds: round(r.seconds, 2),
          redraws, redrawsPerSecond: round(redraws / r.seconds, 2), chartUpdates: s1.chartUpdates - s0.chartUpdates,
          drawMsPerRedraw: round((s1.totalDrawMs - s0.totalDrawMs) / Math.max(1, redraws), 2),
          drawTaskMaxMs: round(s1.maxDrawMs, 1),
          cpuPercent: round((100 * (m1.TaskDuration - m0.TaskDuration)) / r.seconds, 1),
          scriptMs: round(1000 * (m1.ScriptDuration - m0.ScriptDuration), 0),
          layoutMs: round(1000 * (m1.LayoutDuration - m0.LayoutDuration + m1.RecalcStyleDuration - m0.RecalcStyleDuration), 0),
          longTasks: r.longTasks.length, longTaskMaxMs: round(Math.max(0, ...r.longTasks), 0),
          maxFrameGapMs: round(r.maxFrameGapMs, 0), heapMiB: round(heap / 2 ** 20, 1), replayMs,
        });
      } finally {
        await w.close();
      }
    }
  } finally {
    await browser.close();
  }
  for (const rec of records) {
    if (opts.json) process.stdout.write(JSON.stringify(rec) + '\n');
    else {
      console.log(`monitor, ${rec.history} steps of history: ${rec.events} events in ${rec.seconds} s → ${rec.redraws} redraws `
        + `(${rec.redrawsPerSecond}/s, ${rec.chartUpdates} chart updates, ${rec.drawMsPerRedraw} ms each, longest task ${rec.drawTaskMaxMs} ms); page CPU ${rec.cpuPercent}% `
        + `(script ${rec.scriptMs} ms, layout ${rec.layoutMs} ms); ${rec.longTasks} long tasks (max ${rec.longTaskMaxMs} ms); `
        + `max frame gap ${rec.maxFrameGapMs} ms; heap ${rec.heapMiB} MiB; replay ${rec.replayMs} ms`);
    }
  }
}

if (/monitor\.ts$/.test(process.argv[1] ?? '')) {
  benchMonitor({ json: process.argv.includes('--json') }).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
