// Rendering smoothness of the dashboard under load: 8 VMs at 20 epochs/s each
// (the labelled `sim` test double, so the load is the stream, not the guests).
// In Chromium it counts frames with requestAnimationFrame, collects main-thread
// long tasks (> 50 ms) with PerformanceObserver, and reads main-thread task time
// from the DevTools Performance domain. Prints a table and writes JSON.
//
//   pnpm --filter @uckpt/e2e perf [-- --seconds 20 --vms 8 --interval-ms 50]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';
import { launch } from '../lib/browser.ts';
import { api, artifactsDir, freePort, startServer, stopServer, tokens } from '../lib/server.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    vms: { type: 'string', default: '8' },
    'interval-ms': { type: 'string', default: '50' },
    workload: { type: 'string', default: 'dirtier' },
  },
});
const seconds = Number(values.seconds);
const vmCount = Number(values.vms);
const intervalMs = Number(values['interval-ms']);

interface Sample {
  view: string;
  seconds: number;
  frames: number;
  fps: number;
  /** 5th percentile of per-second frame counts: the worst seconds. */
  fpsP5: number;
  maxFrameGapMs: number;
  longTasks: number;
  longTaskMs: number;
  maxLongTaskMs: number;
  /** Main-thread task time per wall second, in %. */
  mainThreadPct: number;
  scriptPct: number;
  epochsReceived: number;
}

async function measure(page: Page, view: string, secs: number): Promise<Sample> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  const metrics = async () => Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
  const before = await metrics();
  const r = await page.evaluate(async (ms) => {
    const w = window as unknown as { __epochs?: number };
    const epochs0 = w.__epochs ?? 0;
    const frames: number[] = [];
    const long: number[] = [];
    const po = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) long.push(e.duration);
    });
    po.observe({ type: 'longtask', buffered: false });
    const t0 = performance.now();
    await new Promise<void>((resolve) => {
      const tick = (t: number) => {
        frames.push(t);
        if (t - t0 < ms) requestAnimationFrame(tick);
        else resolve();
      };
      requestAnimationFrame(tick);
    });
    po.disconnect();
    const elapsed = performance.now() - t0;
    const perSecond = new Array(Math.ceil(elapsed / 1000)).fill(0) as number[];
    let maxGap = 0;
    for (let i = 0; i < frames.length; i++) {
      const s = Math.floor((frames[i]! - t0) / 1000);
      if (s < perSecond.length) perSecond[s]! += 1;
      if (i > 0) maxGap = Math.max(maxGap, frames[i]! - frames[i - 1]!);
    }
    const full = perSecond.slice(0, Math.floor(elapsed / 1000)).sort((a, b) => a - b);
    return { elapsed, frames: frames.length, fpsP5: full[Math.floor(full.length * 0.05)] ?? 0, maxGap, long, epochs: (w.__epochs ?? 0) - epochs0 };
  }, secs * 1000);
  const after = await metrics();
  await cdp.detach();
  const wall = r.elapsed / 1000;
  const d = (k: string) => ((after[k] ?? 0) - (before[k] ?? 0)) / wall;
  return {
    view,
    seconds: Math.round(wall * 10) / 10,
    frames: r.frames,
    fps: Math.round((r.frames / wall) * 10) / 10,
    fpsP5: r.fpsP5,
    maxFrameGapMs: Math.round(r.maxGap),
    longTasks: r.long.length,
    longTaskMs: Math.round(r.long.reduce((a, b) => a + b, 0)),
    maxLongTaskMs: Math.round(Math.max(0, ...r.long)),
    mainThreadPct: Math.round(d('TaskDuration') * 1000) / 10,
    scriptPct: Math.round(d('ScriptDuration') * 1000) / 10,
    epochsReceived: r.epochs,
  };
}

function table(rows: Sample[]): string {
  const cols: [keyof Sample, string][] = [
    ['view', 'view'],
    ['seconds', 's'],
    ['fps', 'fps'],
    ['fpsP5', 'fps p5'],
    ['maxFrameGapMs', 'max gap ms'],
    ['longTasks', 'long tasks'],
    ['longTaskMs', 'long ms'],
    ['maxLongTaskMs', 'max long ms'],
    ['mainThreadPct', 'main %'],
    ['scriptPct', 'script %'],
    ['epochsReceived', 'epochs in'],
  ];
  const cells = [cols.map((c) => c[1]), ...rows.map((r) => cols.map((c) => String(r[c[0]])))];
  const widths = cols.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  const line = (row: string[]) => row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

const stateDir = mkdtempSync(path.join(tmpdir(), 'uckpt-perf-'));
mkdirSync(artifactsDir, { recursive: true });
const server = await startServer({ port: await freePort(), stateDir, log: path.join(artifactsDir, 'perf-server.log'), demo: false, record: false });
const call = <T>(method: string, p: string, body?: unknown) => api<T>(method, p, body, tokens.operator, server.url);
const browser = await launch();
try {
  const ids: string[] = [];
  for (let i = 0; i < vmCount; i++) {
    const vm = await call<{ id: string }>('POST', '/api/vms', {
      name: `load-${i + 1}`,
      workload: values.workload,
      backend: 'sim',
      memoryMiB: 256,
      settings: { intervalMs, retention: 8 },
    });
    ids.push(vm.id);
  }
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
  // tsx compiles with keepNames: functions passed to the page call its __name helper.
  await page.addInitScript({ content: 'globalThis.__name = (f) => f;' });
  // Count epoch frames as the page receives them, without touching the app.
  await page.addInitScript(() => {
    const W = window.WebSocket;
    const w = window as unknown as { __epochs: number };
    w.__epochs = 0;
    window.WebSocket = class extends W {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols);
        this.addEventListener('message', (e) => {
          if (typeof e.data === 'string' && e.data.startsWith('{"type":"epoch"')) w.__epochs += 1;
        });
      }
    } as typeof WebSocket;
  });
  await page.goto(server.url);
  await page.getByLabel('Token').fill(tokens.operator);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('vm-table').locator('tbody tr').nth(vmCount - 1).waitFor();
  await page.waitForFunction(() => document.querySelector('[data-testid=connection]')?.getAttribute('data-status') === 'live');
  await page.waitForTimeout(5000);

  const rows: Sample[] = [];
  rows.push(await measure(page, `list, ${vmCount} VMs`, seconds));
  await page.getByRole('link', { name: 'load-1', exact: true }).click();
  await page.getByTestId('vm-detail').waitFor();
  await page.waitForTimeout(10_000); // fill the charts
  rows.push(await measure(page, 'detail, 1 min window', seconds));
  await page.screenshot({ path: path.join(artifactsDir, 'perf-detail.png'), fullPage: true });
  await page.getByText('10 min', { exact: true }).click();
  await page.waitForTimeout(2000);
  rows.push(await measure(page, 'detail, 10 min window', seconds));
  await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
  await page.getByRole('tab', { name: 'Console' }).click();
  await page.waitForTimeout(2000);
  rows.push(await measure(page, 'detail, charts scrolled away', seconds));

  const result = {
    time: new Date().toISOString(),
    chromium: browser.version(),
    load: { vms: vmCount, backend: 'sim', intervalMs, epochsPerSecond: (vmCount * 1000) / intervalMs },
    viewport: '1440x1000',
    rows,
  };
  const out = path.join(artifactsDir, 'perf.json');
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`dashboard rendering, ${vmCount} simulated VMs at ${1000 / intervalMs} epochs/s each, Chromium ${browser.version()} headless`);
  console.log(table(rows));
  console.log(`\nlong tasks: main-thread tasks over 50 ms (PerformanceObserver); main %: DevTools TaskDuration per wall second\nJSON: ${path.relative(process.cwd(), out)}`);
  for (const id of ids) await call('DELETE', `/api/vms/${id}`).catch(() => {});
} finally {
  await browser.close();
  await stopServer(server.pid, 'SIGTERM');
  rmSync(stateDir, { recursive: true, force: true });
}
