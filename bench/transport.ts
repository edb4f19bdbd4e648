/**
 * Transport overhead, measured in Chromium side by side in one run (`npm run bench`):
 * - messages/s through a raw WebSocket vs an instrumented one (100k small messages, loopback);
 * - chunks/s through a raw fetch body vs an instrumented one;
 * - heap growth of one session carrying 1M content chunks.
 * Raw and instrumented runs alternate, so drift on a shared machine hits both; the ratio is the
 * median of per-round ratios. `BASELINE=<path to an earlier build's earshot.js>` adds that build's
 * WebSocket and in-page body to each round, to set a change against the code before it in one run.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';
import { launchChromium } from '../e2e/chromium';

const ROUNDS = Number(process.env.ROUNDS ?? 7);
const WS_MESSAGES = 100_000;
const FETCH_CHUNKS = 20_000;
const PAGE_CHUNKS = 100_000;
const DISPATCHES = 1_000_000;
const HEAP_CHUNKS = 1_000_000;
const root = join(import.meta.dirname, '..');
const BASELINE = process.env.BASELINE;

const PAGE = `<!doctype html><meta charset="utf-8"><script type="module">
import { createMonitor } from '/dist/earshot.js';
const monitor = createMonitor();
const baseline = await import('/baseline/earshot.js').then((m) => m.createMonitor(), () => undefined);
const wsUrl = (n) => 'ws://' + location.host + '/ws?n=' + n;
window.wsRun = (instrumented, n) => new Promise((resolve, reject) => {
  const ws = instrumented === 'baseline' ? baseline.websocket(wsUrl(n)) : instrumented ? monitor.websocket(wsUrl(n)) : new WebSocket(wsUrl(n));
  let count = 0, start = 0, chars = 0;
  ws.onopen = () => { start = performance.now(); ws.send('go'); };
  // Like any app, the handler reads each message's data.
  ws.onmessage = (e) => { chars += e.data.length; if (++count === n) { const ms = performance.now() - start; ws.close(); resolve(ms); } };
  ws.onerror = reject;
});
window.fetchRun = async (instrumented, n) => {
  const start = performance.now();
  const res = instrumented ? await monitor.fetch('/chunks?n=' + n) : await fetch('/chunks?n=' + n);
  const reader = res.body.getReader();
  let reads = 0;
  for (;;) { const { done } = await reader.read(); if (done) break; reads++; }
  return { ms: performance.now() - start, reads };
};
// A body produced in the page, one 64-byte chunk per read: no network, so this is the wrapper's
// own per-chunk cost, its worst case. The page's fetch answers it for both paths.
window.pageBodyRun = async (instrumented, n) => {
  const chunk = new Uint8Array(64);
  const pageFetch = window.fetch;
  let i = 0;
  window.fetch = async () => new Response(new ReadableStream({ pull(c) { if (i++ < n) c.enqueue(chunk); else c.close(); } }));
  try {
    const start = performance.now();
    const res = instrumented === 'baseline' ? await baseline.fetch('/page-body') : instrumented ? await monitor.fetch('/page-body') : await fetch('/page-body');
    const reader = res.body.getReader();
    while (!(await reader.read()).done);
    return performance.now() - start;
  } finally {
    window.fetch = pageFetch;
  }
};
// earshot's own cost per WebSocket message, without the network: the same MessageEvent dispatched
// on an instrumented and on a raw socket, each with an app listener that reads the data.
window.dispatchRun = (instrumented, n) => {
  const ws = instrumented ? monitor.websocket(wsUrl(0)) : new WebSocket(wsUrl(0));
  let chars = 0;
  ws.onmessage = (e) => { chars += e.data.length; };
  ws.send = () => {};
  const event = new MessageEvent('message', { data: '{"i":12345}' });
  const start = performance.now();
  for (let i = 0; i < n; i++) ws.dispatchEvent(event);
  const ms = performance.now() - start;
  ws.close();
  return ms;
};
// One session, one turn: 'go' starts the turn; 'more' (noise) asks for the rest after the warm mark.
const oneTurn = (data, direction) => direction === 'in' ? 'content' : data.startsWith('go') ? 'request' : 'noise';
let heapSocket;
window.heapWarm = (n) => new Promise((resolve) => {
  heapSocket = monitor.websocket(wsUrl(0), undefined, { adapter: oneTurn });
  let count = 0;
  heapSocket.onopen = () => heapSocket.send('go:' + n);
  heapSocket.onmessage = () => { if (++count === n) resolve(count); };
});
window.heapRest = (n) => new Promise((resolve) => {
  let count = 0;
  heapSocket.onmessage = () => { if (++count === n) resolve(count); };
  heapSocket.send('more:' + n);
});
window.ready = true;
</script>`;

function startServer() {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
    } else if (url.pathname === '/baseline/earshot.js' && BASELINE) {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(BASELINE));
    } else if (url.pathname === '/dist/earshot.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(join(root, 'dist/earshot.js')));
    } else if (url.pathname === '/chunks') {
      // Small writes, one per event-loop turn, so the browser sees many separate body chunks.
      const n = Number(url.searchParams.get('n'));
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.socket?.setNoDelay(true);
      let i = 0;
      const pump = () => {
        while (i < n) {
          i++;
          if (!res.write('x'.repeat(64))) return res.once('drain', pump);
          return setImmediate(pump);
        }
        res.end();
      };
      pump();
    } else res.writeHead(404).end();
  });
  const wss = new WebSocketServer({ server, path: '/ws', perMessageDeflate: false });
  wss.on('connection', (socket, req) => {
    const fixed = Number(new URL(req.url ?? '', 'http://x').searchParams.get('n'));
    // Each message from the page asks for a burst: `n` from the URL, or the count after a colon.
    socket.on('message', (data) => {
      const n = fixed || Number(String(data).split(':')[1]);
      let i = 0;
      const pump = () => {
        // Respect backpressure so the server's buffer, not the browser, is the queue.
        while (i < n && socket.bufferedAmount < 1 << 20) socket.send(`{"i":${i++}}`);
        if (i < n) setImmediate(pump);
      };
      pump();
    });
  });
  return new Promise<{ origin: string; close: () => void }>((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() }),
    ),
  );
}

interface BenchPage {
  wsRun(instrumented: boolean | 'baseline', n: number): Promise<number>;
  fetchRun(instrumented: boolean, n: number): Promise<{ ms: number; reads: number }>;
  pageBodyRun(instrumented: boolean | 'baseline', n: number): Promise<number>;
  dispatchRun(instrumented: boolean, n: number): number;
  heapWarm(n: number): Promise<number>;
  heapRest(n: number): Promise<number>;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const server = await startServer();
  const browser = await launchChromium();
  const page = await browser.newPage();
  await page.goto(server.origin);
  await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready);

  // The renderer's CPU time (main thread, and the whole process at 10 ms resolution), which the
  // machine's other load does not stretch as it stretches wall time.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable', { timeDomain: 'threadTicks' });
  const cpu = async () => {
    const { metrics } = await cdp.send('Performance.getMetrics');
    const value = (name: string) => metrics.find((m) => m.name === name)!.value;
    return { thread: value('ThreadTime'), process: value('ProcessTime'), script: value('ScriptDuration') };
  };
  const ws = { raw: [] as number[], inst: [] as number[], ratios: [] as number[] };
  const wsCpu = { raw: [] as number[], inst: [] as number[], ratios: [] as number[], process: [] as number[], scriptRaw: [] as number[], scriptInst: [] as number[] };
  const body = { raw: [] as number[], inst: [] as number[], ratios: [] as number[] };
  // The renderer's main-thread CPU to read the whole body, which the server's pacing does not stretch.
  const bodyCpu = { raw: [] as number[], inst: [] as number[], ratios: [] as number[], readsRaw: [] as number[], readsInst: [] as number[] };
  const reads: number[] = [];
  const pageBody = { raw: [] as number[], inst: [] as number[], ratios: [] as number[] };
  const dispatch = { raw: [] as number[], inst: [] as number[] };
  const base = { rate: [] as number[], ratios: [] as number[], thread: [] as number[], script: [] as number[], pageBody: [] as number[] };
  /** One WebSocket run: its messages/s and the renderer's CPU per message. */
  const measureWs = async (mode: boolean | 'baseline') => {
    const before = await cpu();
    const ms = await page.evaluate(([i, n]) => (window as unknown as BenchPage).wsRun(i, n), [mode, WS_MESSAGES] as const);
    const after = await cpu();
    const perMessage = (key: keyof typeof after) => ((after[key] - before[key]) * 1e6) / WS_MESSAGES;
    return { rate: WS_MESSAGES / (ms / 1000), thread: perMessage('thread'), process: perMessage('process'), script: perMessage('script') };
  };
  // One untimed warm-up of each path.
  await page.evaluate((n) => Promise.all([(window as unknown as BenchPage).wsRun(false, n), (window as unknown as BenchPage).wsRun(true, n)]), 10_000);
  if (BASELINE) await page.evaluate((n) => (window as unknown as BenchPage).wsRun('baseline', n), 10_000);
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? [false, true] : [true, false];
    const pageRate: Record<string, number> = {};
    const wsRate: Record<string, number> = {};
    const bodyRate: Record<string, number> = {};
    const bodyCpuMs: Record<string, number> = {};
    const wsCpuUs: Record<string, { thread: number; process: number; script: number }> = {};
    for (const instrumented of order) {
      const w = await measureWs(instrumented);
      wsRate[String(instrumented)] = w.rate;
      wsCpuUs[String(instrumented)] = w;
      const cpuBefore = await cpu();
      const f = await page.evaluate(([i, n]) => (window as unknown as BenchPage).fetchRun(i, n), [instrumented, FETCH_CHUNKS] as const);
      bodyCpuMs[String(instrumented)] = ((await cpu()).thread - cpuBefore.thread) * 1000;
      (instrumented ? bodyCpu.readsInst : bodyCpu.readsRaw).push(f.reads);
      // Reads coalesce differently run to run; the body is the same, so time it whole.
      bodyRate[String(instrumented)] = FETCH_CHUNKS / (f.ms / 1000);
      reads.push(f.reads);
      const pageMs = await page.evaluate(([i, n]) => (window as unknown as BenchPage).pageBodyRun(i, n), [instrumented, PAGE_CHUNKS] as const);
      pageRate[String(instrumented)] = PAGE_CHUNKS / (pageMs / 1000);
      const dispatchMs = await page.evaluate(([i, n]) => (window as unknown as BenchPage).dispatchRun(i, n), [instrumented, DISPATCHES] as const);
      dispatch[instrumented ? 'inst' : 'raw'].push((dispatchMs * 1000) / DISPATCHES);
    }
    if (BASELINE) {
      const b = await measureWs('baseline');
      base.rate.push(b.rate);
      base.ratios.push(b.rate / wsRate.false);
      base.thread.push(b.thread);
      base.script.push(b.script);
      const pageMs = await page.evaluate(([n]) => (window as unknown as BenchPage).pageBodyRun('baseline', n), [PAGE_CHUNKS] as const);
      base.pageBody.push(PAGE_CHUNKS / (pageMs / 1000) / pageRate.false);
    }
    ws.raw.push(wsRate.false);
    ws.inst.push(wsRate.true);
    ws.ratios.push(wsRate.true / wsRate.false);
    wsCpu.raw.push(wsCpuUs.false.thread);
    wsCpu.inst.push(wsCpuUs.true.thread);
    wsCpu.ratios.push(wsCpuUs.false.thread / wsCpuUs.true.thread);
    wsCpu.process.push(wsCpuUs.false.process / wsCpuUs.true.process);
    wsCpu.scriptRaw.push(wsCpuUs.false.script);
    wsCpu.scriptInst.push(wsCpuUs.true.script);
    body.raw.push(bodyRate.false);
    body.inst.push(bodyRate.true);
    body.ratios.push(bodyRate.true / bodyRate.false);
    bodyCpu.raw.push(bodyCpuMs.false);
    bodyCpu.inst.push(bodyCpuMs.true);
    bodyCpu.ratios.push(bodyCpuMs.false / bodyCpuMs.true);
    pageBody.raw.push(pageRate.false);
    pageBody.inst.push(pageRate.true);
    pageBody.ratios.push(pageRate.true / pageRate.false);
  }

  // Heap: one turn of 1M content chunks; GC'd heap after the first 1000 vs after all of them.
  const heapUsed = async () => {
    await cdp.send('HeapProfiler.collectGarbage');
    return (await cdp.send('Runtime.getHeapUsage')).usedSize;
  };
  await page.evaluate((n) => (window as unknown as BenchPage).heapWarm(n), 1000);
  const warm = await heapUsed();
  await page.evaluate((n) => (window as unknown as BenchPage).heapRest(n), HEAP_CHUNKS - 1000);
  const end = await heapUsed();
  await browser.close();
  server.close();

  const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
  const rows = [
    `| WebSocket, ${fmt(WS_MESSAGES)} messages | ${fmt(median(ws.raw))} msg/s | ${fmt(median(ws.inst))} msg/s | ${median(ws.ratios).toFixed(3)}× |`,
    `| fetch body, ${fmt(FETCH_CHUNKS)} chunks of 64 B (${fmt(median(reads))} reads) | ${fmt(median(body.raw))} chunks/s | ${fmt(median(body.inst))} chunks/s | ${median(body.ratios).toFixed(3)}× |`,
    `| fetch body made in the page, ${fmt(PAGE_CHUNKS)} chunks of 64 B | ${fmt(median(pageBody.raw))} chunks/s | ${fmt(median(pageBody.inst))} chunks/s | ${median(pageBody.ratios).toFixed(3)}× |`,
  ];
  console.log(`Chromium ${browser.version()}, ${ROUNDS} alternating rounds, medians\n`);
  console.log('| path | raw | instrumented | instrumented / raw |\n| --- | --- | --- | --- |');
  console.log(rows.join('\n'));
  if (BASELINE) {
    console.log(
      `\nWebSocket through the baseline build (${BASELINE}): ${fmt(median(base.rate))} msg/s, ${median(base.ratios).toFixed(3)}× raw ` +
        `(per round ${base.ratios.map((r) => r.toFixed(3)).join(' ')}); main thread ${median(base.thread).toFixed(2)} µs, script ${median(base.script).toFixed(2)} µs per message; ` +
        `fetch body made in the page ${median(base.pageBody).toFixed(3)}× raw (per round ${base.pageBody.map((r) => r.toFixed(3)).join(' ')})`,
    );
  }
  console.log(
    `\nWebSocket, the renderer's CPU per message: main thread ${median(wsCpu.raw).toFixed(2)} µs raw, ${median(wsCpu.inst).toFixed(2)} µs instrumented: ` +
      `the page can read ${median(wsCpu.ratios).toFixed(3)}× as many messages a second through earshot (per round ${wsCpu.ratios.map((r) => r.toFixed(3)).join(' ')}); ` +
      `whole renderer process ${median(wsCpu.process).toFixed(3)}×; script ${median(wsCpu.scriptRaw).toFixed(2)} µs raw, ${median(wsCpu.scriptInst).toFixed(2)} µs instrumented`,
  );
  console.log(
    `\nfetch body over loopback, the renderer's main-thread CPU to read it all: ${median(bodyCpu.raw).toFixed(1)} ms raw, ` +
      `${median(bodyCpu.inst).toFixed(1)} ms instrumented (${fmt(median(bodyCpu.readsRaw))} and ${fmt(median(bodyCpu.readsInst))} reads): the page can read ${median(bodyCpu.ratios).toFixed(3)}× as fast ` +
      `through earshot (per round ${bodyCpu.ratios.map((r) => r.toFixed(3)).join(' ')})`,
  );
  console.log(`\nper-round ratios: ws ${ws.ratios.map((r) => r.toFixed(3)).join(' ')}; fetch ${body.ratios.map((r) => r.toFixed(3)).join(' ')}; page body ${pageBody.ratios.map((r) => r.toFixed(3)).join(' ')}`);
  // What earshot adds to each message, against what a message costs the page over loopback.
  const addedUs = median(dispatch.inst) - median(dispatch.raw);
  const rawUs = 1e6 / median(ws.raw);
  console.log(
    `\nper WebSocket message, dispatched in the page (${fmt(DISPATCHES)}): raw ${median(dispatch.raw).toFixed(3)} µs, ` +
      `instrumented ${median(dispatch.inst).toFixed(3)} µs: earshot adds ${addedUs.toFixed(3)} µs to a message that costs the ` +
      `page ${rawUs.toFixed(1)} µs over loopback (${(rawUs / (rawUs + addedUs)).toFixed(3)}× raw)`,
  );
  console.log(
    `heap: ${fmt(HEAP_CHUNKS)} content chunks in one turn; GC'd heap after 1,000 chunks ${fmt(warm)} B, after all ${fmt(end)} B: growth ${fmt(end - warm)} B (budget 65,536 B)`,
  );
}

await main();
