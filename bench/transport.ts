/**
 * Transport overhead, measured in Chromium side by side in one run (`npm run bench`):
 * - messages/s through a raw WebSocket vs an instrumented one (100k small messages, loopback);
 * - chunks/s through a raw fetch body vs an instrumented one;
 * - heap growth of one session carrying 1M content chunks.
 * Throughput is read from two raw paths and an instrumented one taking turns block by block, the two
 * raw paths' ratio (the control) giving the machine's own spread in the same minutes. Beside it,
 * what earshot adds per message and per body read, from measures that spread does not touch (its
 * code in the page without the network; the renderer's CPU in whole runs, which alternate over
 * `ROUNDS`), as the ratio it would give were all of it on the path that bounds throughput.
 * `BASELINE=<path to an earlier build's earshot.js>` adds that build's WebSocket and in-page body to
 * each round, to set a change against the code before it in one run.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';
import { launchChromium } from '../e2e/chromium';
import { bytesAllocated } from '../e2e/heap-sampling';

const ROUNDS = Number(process.env.ROUNDS ?? 7);
// WebSocket blocks are short and many: the rounds' ratios spread nearly as widely with 200 messages a
// block as with 2,000 (quartiles about 0.80–1.21 against 0.81–1.13: the spread is the browser's,
// block to block, more than the count's), so ten times the rounds in about the same time narrow the
// median's 95 % interval from about ±5 % to ±2 %.
// A fetch block is a whole request: 2,000 chunks, so the request's own cost stays small beside them.
const WS_ROUNDS = Number(process.env.WS_ROUNDS ?? 1300);
const WS_BLOCK = 200;
const FETCH_ROUNDS = Number(process.env.FETCH_ROUNDS ?? 130);
const FETCH_BLOCK = 2_000;
const WS_MESSAGES = 100_000;
const PAGE_CHUNKS = 100_000;
const DISPATCHES = 1_000_000;
const HEAP_CHUNKS = 1_000_000;
const ALLOC_WARM = 50_000;
const ALLOC_MESSAGES = 300_000;
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
// Throughput, block by block: two raw paths and an instrumented one take turns every few tens (a
// WebSocket block) or hundreds (a fetch body) of milliseconds, each round in the next of the six
// orders, so the shared machine's drift (other processes, CPU frequency) hits all alike and no path
// keeps a place (first, last, the socket opened first). Each round gives two ratios of the
// instrumented path to a raw one, and the control: one raw path to the other, whose spread is the
// machine's, not earshot's. A block is a burst the page asks for and reads to its end.
const PATHS = ['raw', 'inst', 'raw2'];
const ORDERS = [[0, 1, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0], [0, 2, 1], [1, 0, 2]];
const blocks = async (rounds, block) => {
  const times = { raw: [], inst: [], raw2: [], rawReads: 0, instReads: 0 };
  for (let i = 0; i < rounds; i++) for (const path of ORDERS[i % 6]) times[PATHS[path]].push(await block(path, times));
  return times;
};
window.wsBlocks = async (rounds, n) => {
  const open = (ws) => new Promise((resolve, reject) => { ws.onopen = () => resolve(ws); ws.onerror = reject; });
  const sockets = [await open(new WebSocket(wsUrl(0))), await open(monitor.websocket(wsUrl(0))), await open(new WebSocket(wsUrl(0)))];
  // Each 'go' is a turn of n content messages on the instrumented socket.
  const times = await blocks(rounds, (path) => new Promise((resolve) => {
    const ws = sockets[path];
    let count = 0, chars = 0;
    const start = performance.now();
    ws.onmessage = (e) => { chars += e.data.length; if (++count === n) resolve(performance.now() - start); };
    ws.send('go:' + n);
  }));
  for (const ws of sockets) ws.close();
  return times;
};
window.fetchBlocks = (rounds, n) => blocks(rounds, async (path, times) => {
  const start = performance.now();
  const res = path === 1 ? await monitor.fetch('/chunks?n=' + n) : await fetch('/chunks?n=' + n);
  const reader = res.body.getReader();
  while (!(await reader.read()).done) times[path === 1 ? 'instReads' : 'rawReads']++;
  return performance.now() - start;
});
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
// on an open raw socket and on an open instrumented one inside a turn (so each is stamped and
// recorded as content), each with an app listener that reads the data.
let dispatchSocket;
window.dispatchOpen = (instrumented) => new Promise((resolve, reject) => {
  const ws = (dispatchSocket = instrumented ? monitor.websocket(wsUrl(0)) : new WebSocket(wsUrl(0)));
  let chars = 0;
  ws.onerror = reject;
  ws.onopen = () => {
    ws.send('go:0'); // a turn; the server answers 'go:0' with no message
    ws.onmessage = (e) => { chars += e.data.length; };
    resolve();
  };
});
// A new event each time, as the browser makes (earshot reads each event once).
window.dispatch = (n) => {
  const init = { data: '{"i":12345}' };
  const start = performance.now();
  for (let i = 0; i < n; i++) dispatchSocket.dispatchEvent(new MessageEvent('message', init));
  return performance.now() - start;
};
window.dispatchRun = async (instrumented, n) => {
  await window.dispatchOpen(instrumented);
  const ms = window.dispatch(n);
  dispatchSocket.close();
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
        // Respect backpressure so the server's buffer, not the browser, is the queue; wait for it
        // to drain rather than poll, which would take a core from the browser it measures.
        while (i < n && socket.bufferedAmount < 1 << 20) socket.send(`{"i":${i++}}`);
        if (i < n) req.socket.once('drain', pump);
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

interface Blocks {
  raw: number[];
  inst: number[];
  raw2: number[];
  /** Over both raw paths. */
  rawReads: number;
  instReads: number;
}

interface BenchPage {
  wsBlocks(rounds: number, n: number): Promise<Blocks>;
  fetchBlocks(rounds: number, n: number): Promise<Blocks>;
  wsRun(instrumented: boolean | 'baseline', n: number): Promise<number>;
  pageBodyRun(instrumented: boolean | 'baseline', n: number): Promise<number>;
  dispatchOpen(instrumented: boolean): Promise<void>;
  dispatch(n: number): number;
  dispatchRun(instrumented: boolean, n: number): Promise<number>;
  heapWarm(n: number): Promise<number>;
  heapRest(n: number): Promise<number>;
}

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * q + 0.5)];
const median = (xs: number[]) => quantile(xs, 0.5);

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/**
 * Throughput ratios, each one block's time over another's, grouped by round; `whole`, the ratio of
 * all blocks' times. One block against one: against the mean of two, whose spread is narrower,
 * the median of skewed block times would move.
 */
function ratioStats(rounds: number[][], whole: number) {
  const ratios = rounds.flat();
  // The median's 95 % interval, by resampling the rounds (percentile bootstrap).
  const resampled = () => median(rounds.flatMap(() => rounds[Math.floor(Math.random() * rounds.length)]));
  const medians = Array.from({ length: 2000 }, resampled);
  return {
    median: median(ratios),
    low: quantile(medians, 0.025),
    high: quantile(medians, 0.975),
    quartiles: [quantile(ratios, 0.25), quantile(ratios, 0.75)],
    whole,
  };
}

/** Instrumented against each raw path, and the control (one raw path against the other), from blocks of `n`. */
function blockRatios(times: Blocks, n: number) {
  const { raw, raw2, inst } = times;
  return {
    raw: (n * 2 * raw.length) / ((sum(raw) + sum(raw2)) / 1000),
    inst: (n * inst.length) / (sum(inst) / 1000),
    ratio: ratioStats(inst.map((t, i) => [raw[i] / t, raw2[i] / t]), (sum(raw) + sum(raw2)) / 2 / sum(inst)),
    control: ratioStats(raw.map((t, i) => [t / raw2[i]]), sum(raw) / sum(raw2)),
  };
}

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
  // And the whole machine's busy and idle CPU (Linux, in s), every process of the bench included.
  const machine = () => {
    if (!existsSync('/proc/stat')) return { busy: NaN, idle: NaN };
    const [user, nice, system, idle, iowait, irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/\s+/).slice(1).map(Number);
    return { busy: (user + nice + system + irq + softirq + steal) / 100, idle: (idle + iowait) / 100 };
  };
  const cpu = async () => {
    const { metrics } = await cdp.send('Performance.getMetrics');
    const value = (name: string) => metrics.find((m) => m.name === name)!.value;
    return { thread: value('ThreadTime'), process: value('ProcessTime'), script: value('ScriptDuration'), ...machine() };
  };
  const ws = { raw: [] as number[], inst: [] as number[], ratios: [] as number[] };
  const wsCpu = {
    raw: [] as number[],
    inst: [] as number[],
    ratios: [] as number[],
    process: [] as number[],
    scriptRaw: [] as number[],
    scriptInst: [] as number[],
    machineRaw: [] as number[],
    machineInst: [] as number[],
    busyShare: [] as number[],
  };
  const pageBody = { raw: [] as number[], inst: [] as number[], ratios: [] as number[] };
  const dispatch = { raw: [] as number[], inst: [] as number[] };
  const base = { rate: [] as number[], ratios: [] as number[], thread: [] as number[], script: [] as number[], pageBody: [] as number[] };
  /** One WebSocket run: its messages/s and the renderer's CPU per message. */
  const measureWs = async (mode: boolean | 'baseline') => {
    const before = await cpu();
    const ms = await page.evaluate(([i, n]) => (window as unknown as BenchPage).wsRun(i, n), [mode, WS_MESSAGES] as const);
    const after = await cpu();
    const perMessage = (key: keyof typeof after) => ((after[key] - before[key]) * 1e6) / WS_MESSAGES;
    return {
      rate: WS_MESSAGES / (ms / 1000),
      thread: perMessage('thread'),
      process: perMessage('process'),
      script: perMessage('script'),
      machine: perMessage('busy'),
      busyShare: (after.busy - before.busy) / (after.busy - before.busy + after.idle - before.idle),
    };
  };
  // One untimed warm-up of each path.
  await page.evaluate((n) => Promise.all([(window as unknown as BenchPage).wsRun(false, n), (window as unknown as BenchPage).wsRun(true, n)]), 10_000);
  await page.evaluate((n) => (window as unknown as BenchPage).fetchBlocks(2, n), FETCH_BLOCK);
  const inBlocks = async (path: 'wsBlocks' | 'fetchBlocks', rounds: number, n: number) => {
    const times = await page.evaluate(([path, r, n]) => (window as unknown as BenchPage)[path](r, n), [path, rounds, n] as const);
    return { ...blockRatios(times, n), reads: [times.rawReads / (2 * rounds), times.instReads / rounds] };
  };
  const wsBlocks = await inBlocks('wsBlocks', WS_ROUNDS, WS_BLOCK);
  const fetchBlocks = await inBlocks('fetchBlocks', FETCH_ROUNDS, FETCH_BLOCK);
  if (BASELINE) await page.evaluate((n) => (window as unknown as BenchPage).wsRun('baseline', n), 10_000);
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? [false, true] : [true, false];
    const pageRate: Record<string, number> = {};
    const wsRate: Record<string, number> = {};
    const wsCpuUs: Record<string, Awaited<ReturnType<typeof measureWs>>> = {};
    for (const instrumented of order) {
      const w = await measureWs(instrumented);
      wsRate[String(instrumented)] = w.rate;
      wsCpuUs[String(instrumented)] = w;
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
    wsCpu.machineRaw.push(wsCpuUs.false.machine);
    wsCpu.machineInst.push(wsCpuUs.true.machine);
    wsCpu.busyShare.push(wsCpuUs.false.busyShare, wsCpuUs.true.busyShare);
    pageBody.raw.push(pageRate.false);
    pageBody.inst.push(pageRate.true);
    pageBody.ratios.push(pageRate.true / pageRate.false);
  }

  // Heap: one turn of 1M content chunks; GC'd heap after the first 1000 vs after all of them.
  const heapUsed = async (collect = true) => {
    if (collect) await cdp.send('HeapProfiler.collectGarbage');
    return (await cdp.send('Runtime.getHeapUsage')).usedSize;
  };
  // What a message allocates, garbage included, once V8 has optimized the path (as in
  // e2e/allocation.spec.ts, which holds it to DESIGN.md's bar).
  const allocated = { raw: 0, inst: 0 };
  for (const instrumented of [false, true]) {
    await page.evaluate((i) => (window as unknown as BenchPage).dispatchOpen(i), instrumented);
    for (let k = 0; k < 4; k++) await page.evaluate((n) => (window as unknown as BenchPage).dispatch(n), ALLOC_WARM);
    const bytes = await bytesAllocated(cdp, () => page.evaluate((n) => (window as unknown as BenchPage).dispatch(n), ALLOC_MESSAGES));
    allocated[instrumented ? 'inst' : 'raw'] = bytes / ALLOC_MESSAGES;
  }
  await page.evaluate((n) => (window as unknown as BenchPage).heapWarm(n), 1000);
  const warm = await heapUsed();
  await page.evaluate((n) => (window as unknown as BenchPage).heapRest(n), HEAP_CHUNKS - 1000);
  const end = await heapUsed();
  await browser.close();
  server.close();

  const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
  const ratio = (r: ReturnType<typeof ratioStats>) =>
    `${r.median.toFixed(3)}× (95 % ${r.low.toFixed(3)}–${r.high.toFixed(3)}; rounds' quartiles ${r.quartiles.map((q) => q.toFixed(3)).join('–')}; all blocks ${r.whole.toFixed(3)}×)`;
  const blockRow = (path: string, unit: string, r: ReturnType<typeof blockRatios>) =>
    `| ${path} | ${fmt(r.raw)} ${unit} | ${fmt(r.inst)} ${unit} | ${ratio(r.ratio)} | ${ratio(r.control)} |`;
  console.log(
    `Chromium ${browser.version()}, throughput in rounds of three blocks, two raw paths and an instrumented one in the six orders (WebSocket ${WS_ROUNDS}, fetch ${FETCH_ROUNDS}), median of the rounds' ratios\n`,
  );
  console.log('| path | raw | instrumented | instrumented / raw | control: raw / raw |\n| --- | --- | --- | --- | --- |');
  console.log(
    [
      blockRow(`WebSocket, ${fmt(WS_ROUNDS * WS_BLOCK)} messages a path in blocks of ${fmt(WS_BLOCK)}`, 'msg/s', wsBlocks),
      blockRow(
        `fetch body, ${fmt(FETCH_ROUNDS * FETCH_BLOCK)} chunks of 64 B a path in bodies of ${fmt(FETCH_BLOCK)} (${fmt(fetchBlocks.reads[0])} and ${fmt(fetchBlocks.reads[1])} reads a body)`,
        'chunks/s',
        fetchBlocks,
      ),
    ].join('\n'),
  );
  const rows = [
    `| WebSocket, ${fmt(WS_MESSAGES)} messages | ${fmt(median(ws.raw))} msg/s | ${fmt(median(ws.inst))} msg/s | ${median(ws.ratios).toFixed(3)}× |`,
    `| fetch body made in the page, ${fmt(PAGE_CHUNKS)} chunks of 64 B | ${fmt(median(pageBody.raw))} chunks/s | ${fmt(median(pageBody.inst))} chunks/s | ${median(pageBody.ratios).toFixed(3)}× |`,
  ];
  console.log(`\nWhole runs, ${ROUNDS} alternating rounds, medians\n`);
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
    `\nWebSocket, CPU per message in the whole runs: the renderer's main thread ${median(wsCpu.raw).toFixed(2)} µs raw, ${median(wsCpu.inst).toFixed(2)} µs instrumented ` +
      `(raw / instrumented per round ${wsCpu.ratios.map((r) => r.toFixed(3)).join(' ')}: it moves with how the browser batches delivery); ` +
      `whole renderer process ${median(wsCpu.process).toFixed(3)}×; script ${median(wsCpu.scriptRaw).toFixed(2)} µs raw, ${median(wsCpu.scriptInst).toFixed(2)} µs instrumented; ` +
      `the machine, every process of the bench, ${median(wsCpu.machineRaw).toFixed(0)} µs raw and ${median(wsCpu.machineInst).toFixed(0)} µs instrumented, ` +
      `busy ${(median(wsCpu.busyShare) * 100).toFixed(0)} % of the time`,
  );
  console.log(`\nper-round ratios: ws ${ws.ratios.map((r) => r.toFixed(3)).join(' ')}; page body ${pageBody.ratios.map((r) => r.toFixed(3)).join(' ')}`);
  // What earshot adds to a message or a read, were all of it on the path that bounds throughput,
  // against what one takes over loopback: a ratio the blocks' spread cannot resolve, from costs it
  // does not touch. earshot's code alone is timed in the page without the network.
  const messageUs = 1e6 / wsBlocks.raw;
  const bound = (added: number, per: number) => `${(per / (per + added)).toFixed(3)}×`;
  const addedUs = median(dispatch.inst) - median(dispatch.raw);
  const threadUs = median(wsCpu.inst) - median(wsCpu.raw);
  const scriptUs = median(wsCpu.scriptInst) - median(wsCpu.scriptRaw);
  console.log(
    `\nper WebSocket message, ${messageUs.toFixed(1)} µs over loopback (the blocks' raw rate): earshot's code adds ${addedUs.toFixed(3)} µs ` +
      `(${fmt(DISPATCHES)} messages dispatched in the page: raw ${median(dispatch.raw).toFixed(3)} µs, instrumented ${median(dispatch.inst).toFixed(3)} µs), ` +
      `the streams above ${scriptUs.toFixed(2)} µs of script and ${threadUs.toFixed(2)} µs of main thread: ` +
      `were all of it on the critical path, ${bound(addedUs, messageUs)}, ${bound(scriptUs, messageUs)} and ${bound(threadUs, messageUs)} raw`,
  );
  const readAddedUs = 1e6 / median(pageBody.inst) - 1e6 / median(pageBody.raw);
  const readUs = (1e6 / fetchBlocks.raw) * (FETCH_BLOCK / fetchBlocks.reads[0]);
  console.log(
    `per body read, ${readUs.toFixed(1)} µs over loopback (${(FETCH_BLOCK / fetchBlocks.reads[0]).toFixed(1)} chunks a read): earshot adds ` +
      `${readAddedUs.toFixed(3)} µs (the body made in the page): were all of it on the critical path, ${bound(readAddedUs, readUs)} raw`,
  );
  console.log(
    `allocated per WebSocket message dispatched in the page, garbage included: ${allocated.raw.toFixed(1)} B raw, ` +
      `${allocated.inst.toFixed(1)} B instrumented`,
  );
  console.log(
    `heap: ${fmt(HEAP_CHUNKS)} content chunks in one turn; GC'd heap after 1,000 chunks ${fmt(warm)} B, after all ${fmt(end)} B: growth ${fmt(end - warm)} B (budget 65,536 B)`,
  );
}

await main();
