/**
 * Transport overhead, measured in Chromium side by side in one run (`npm run bench`):
 * - messages/s through a raw WebSocket vs an instrumented one (100k small messages, loopback);
 * - chunks/s through a raw fetch body vs an instrumented one;
 * - heap growth of one session carrying 1M content chunks.
 *
 * Throughput is measured in a Chromium no DevTools client is attached to, which posts its times to
 * the bench's server. Over a DevTools connection, as Playwright drives a page, the browser reports
 * every WebSocket frame to the client: on the project's machine that was about 180 µs of CPU a
 * message, every process counted, against 70 µs for all the rest, so any cost of earshot's read a
 * third of its size. That page is cross-origin isolated, for the 5 µs clock: a block takes a few
 * milliseconds, and the 100 µs one would round it by about 1 %.
 * Throughput is read from paths taking turns block by block: two raw sockets (their ratio, the
 * control, is the machine's own spread in the same minutes), earshot's, and a raw socket whose
 * handler reads the clock once more, the least any stamp of each message can cost.
 * Beside it, in a page Playwright drives: earshot's own code per message without the network, a body
 * made in the page, allocation per message and heap growth.
 * `BASELINE=<path to an earlier build's earshot.js>` adds that build's WebSocket to the blocks and
 * its body to the page's, to set a change against the code before it in one run.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';
import { CHROMIUM_ARGS, CHROMIUM_PATH, launchChromium } from '../e2e/chromium';
import { bytesAllocated } from '../e2e/heap-sampling';

const ROUNDS = Number(process.env.ROUNDS ?? 7);
// Whole runs of 100k messages spread widely round to round (a tenth either way): more of them.
const WHOLE_ROUNDS = Number(process.env.WHOLE_ROUNDS ?? 15);
// WebSocket blocks are short and many: the rounds' ratios spread nearly as widely with 200 messages a
// block as with 2,000 (the spread is the browser's, block to block, more than the count's), so ten
// times the rounds in about the same time narrow the median's 95 % interval.
// A fetch block is a whole request: 2,000 chunks, so the request's own cost stays small beside them.
const WS_ROUNDS = Number(process.env.WS_ROUNDS ?? 3000);
const WS_BLOCK = 200;
const FETCH_ROUNDS = Number(process.env.FETCH_ROUNDS ?? 150);
const FETCH_BLOCK = 2_000;
const WS_MESSAGES = 100_000;
const PAGE_CHUNKS = 100_000;
const DISPATCHES = 1_000_000;
const HEAP_CHUNKS = 1_000_000;
const ALLOC_WARM = 50_000;
const ALLOC_MESSAGES = 300_000;
const THROUGHPUT_TIMEOUT_MS = 40 * 60_000;
const root = join(import.meta.dirname, '..');
const BASELINE = process.env.BASELINE;

// Both pages load earshot, and the baseline build when there is one.
const IMPORTS = `import { createMonitor } from '/dist/earshot.js';
const monitor = createMonitor();
const baseline = await import('/baseline/earshot.js').then((m) => m.createMonitor(), () => undefined);
const wsUrl = (n) => 'ws://' + location.host + '/ws?n=' + n;`;

/** The paths of the WebSocket blocks: their sockets, in this order. */
const WS_PATHS = ['raw', 'clock', 'inst', 'raw2', ...(BASELINE ? ['baseline'] : [])] as const;
type WsPath = (typeof WS_PATHS)[number];
const FETCH_PATHS = ['raw', 'inst', 'raw2'] as const;

// The throughput page, in the browser without DevTools: runs everything at load, posts the times.
const THROUGHPUT_PAGE = `<!doctype html><meta charset="utf-8"><script type="module">
${IMPORTS}
const open = (ws) => new Promise((resolve, reject) => { ws.onopen = () => resolve(ws); ws.onerror = reject; });
const socket = (path, n) => path === 'inst' ? monitor.websocket(wsUrl(n)) : path === 'baseline' ? baseline.websocket(wsUrl(n)) : new WebSocket(wsUrl(n));
let chars = 0, stamp = 0;
// Paths take turns block by block, each round in the next of 2k orders (each rotation forwards and
// backwards), so the shared machine's drift (other processes, CPU frequency) hits all alike and no
// path keeps a place (first, last, after a given one).
const blocks = async (paths, rounds, block) => {
  const times = paths.map(() => []);
  const k = paths.length;
  for (let r = 0; r < rounds; r++) {
    const order = paths.map((_, i) => (i + r) % k);
    if (Math.floor(r / k) % 2) order.reverse();
    for (const i of order) times[i].push(await block(i));
  }
  return times;
};
// A block is a burst the page asks for and reads to its end. Like any app, the handler reads each
// message's data; on the clock path it also reads the clock, as a stamp would.
const wsBlocks = async (paths, rounds, n) => {
  const sockets = [];
  for (const path of paths) sockets.push(await open(socket(path, 0)));
  // Each 'go' is a turn of n content messages on an instrumented socket.
  const block = (i) => new Promise((resolve) => {
    const ws = sockets[i];
    let count = 0;
    const start = performance.now();
    ws.onmessage = paths[i] === 'clock'
      ? (e) => { stamp = performance.now(); chars += e.data.length; if (++count === n) resolve(performance.now() - start); }
      : (e) => { chars += e.data.length; if (++count === n) resolve(performance.now() - start); };
    ws.send('go:' + n);
  });
  for (let i = 0; i < 20; i++) await block(i % paths.length);
  const times = await blocks(paths, rounds, block);
  for (const ws of sockets) ws.close();
  return times;
};
const fetchBlocks = async (paths, rounds, n) => {
  const reads = paths.map(() => 0);
  const block = async (i) => {
    const start = performance.now();
    const res = paths[i] === 'inst' ? await monitor.fetch('/chunks?n=' + n) : await fetch('/chunks?n=' + n);
    const reader = res.body.getReader();
    while (!(await reader.read()).done) reads[i]++;
    return performance.now() - start;
  };
  for (let i = 0; i < paths.length; i++) await block(i);
  reads.fill(0);
  return { times: await blocks(paths, rounds, block), reads };
};
// Whole runs of 100k messages, a socket each, raw and earshot alternating.
const wsRun = (path, n) => new Promise((resolve, reject) => {
  const ws = socket(path, n);
  let count = 0, start = 0;
  ws.onopen = () => { start = performance.now(); ws.send('go'); };
  ws.onmessage = (e) => { chars += e.data.length; if (++count === n) { const ms = performance.now() - start; ws.close(); resolve(ms); } };
  ws.onerror = reject;
});
const q = new URLSearchParams(location.search);
const post = (body) => fetch('/result', { method: 'POST', body: JSON.stringify(body) });
try {
  const ws = await wsBlocks(JSON.parse(q.get('ws')), +q.get('wsRounds'), +q.get('wsBlock'));
  const body = await fetchBlocks(JSON.parse(q.get('fetch')), +q.get('fetchRounds'), +q.get('fetchBlock'));
  const whole = { raw: [], inst: [] };
  for (let r = 0; r < +q.get('rounds'); r++) for (const path of r % 2 ? ['inst', 'raw'] : ['raw', 'inst']) whole[path].push(await wsRun(path, +q.get('messages')));
  await post({ ws, body, whole, isolated: crossOriginIsolated, stamp, chars });
} catch (error) {
  await post({ error: String(error) });
}
</script>`;

// The page Playwright drives: earshot's code without the network, allocation and heap.
const PAGE = `<!doctype html><meta charset="utf-8"><script type="module">
${IMPORTS}
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

interface Throughput {
  /** Block times (ms), per path of `WS_PATHS`, one a round. */
  ws: number[][];
  body: { times: number[][]; reads: number[] };
  whole: { raw: number[]; inst: number[] };
  isolated: boolean;
  error?: string;
}

function startServer() {
  let onResult: (result: Throughput) => void = () => {};
  const html = (page: string, isolated: boolean) => ({
    'content-type': 'text/html',
    ...(isolated && { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' }),
    body: page,
  });
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const page = url.pathname === '/' ? html(PAGE, false) : url.pathname === '/throughput' ? html(THROUGHPUT_PAGE, true) : undefined;
    if (page) {
      const { body, ...headers } = page;
      res.writeHead(200, headers).end(body);
    } else if (url.pathname === '/result' && req.method === 'POST') {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        res.end();
        onResult(JSON.parse(body) as Throughput);
      });
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
  const result = new Promise<Throughput>((resolve) => (onResult = resolve));
  return new Promise<{ origin: string; result: Promise<Throughput>; close: () => void }>((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, result, close: () => server.close() }),
    ),
  );
}

/** The throughput page in a Chromium of its own, with no DevTools client: its posted times. */
async function measureThroughput(origin: string, result: Promise<Throughput>): Promise<Throughput> {
  const profile = mkdtempSync(join(tmpdir(), 'earshot-bench-'));
  const query = new URLSearchParams({
    ws: JSON.stringify(WS_PATHS),
    wsRounds: String(WS_ROUNDS),
    wsBlock: String(WS_BLOCK),
    fetch: JSON.stringify(FETCH_PATHS),
    fetchRounds: String(FETCH_ROUNDS),
    fetchBlock: String(FETCH_BLOCK),
    rounds: String(WHOLE_ROUNDS),
    messages: String(WS_MESSAGES),
  });
  const browser = spawn(CHROMIUM_PATH, [...CHROMIUM_ARGS, '--headless', `--user-data-dir=${profile}`, `${origin}/throughput?${query}`], {
    stdio: 'ignore',
    // Its own process group, so that its renderer and utility processes end with it.
    detached: true,
  });
  // Exited, or never started (`error`: no such file at CHROMIUM_PATH).
  const exited = new Promise<number | null>((resolve) => browser.once('exit', resolve).once('error', () => resolve(null)));
  let timer: NodeJS.Timeout | undefined;
  try {
    const times = await Promise.race([
      result,
      exited.then((code) => Promise.reject(new Error(`Chromium exited (${code}) before the throughput page posted its times`))),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('the throughput page posted nothing in time')), THROUGHPUT_TIMEOUT_MS))),
    ]);
    if (times.error) throw new Error(`the throughput page failed: ${times.error}`);
    return times;
  } finally {
    clearTimeout(timer);
    if (browser.pid && browser.exitCode === null && browser.signalCode === null) process.kill(-browser.pid, 'SIGKILL');
    await exited;
    rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  }
}

interface BenchPage {
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

/**
 * A path's throughput against raw, from blocks of `n`: each of its blocks against the same round's
 * block of each raw path; the control, one raw path against the other.
 */
function blockRatios(times: number[][], paths: readonly string[], n: number) {
  const [raw, raw2] = [times[paths.indexOf('raw')], times[paths.indexOf('raw2')]];
  const rate = (ts: number[]) => (n * ts.length) / (sum(ts) / 1000);
  const against = (ts: number[]) => ratioStats(ts.map((t, i) => [raw[i] / t, raw2[i] / t]), (sum(raw) + sum(raw2)) / 2 / sum(ts));
  return {
    raw: rate([...raw, ...raw2]),
    control: ratioStats(raw.map((t, i) => [t / raw2[i]]), sum(raw) / sum(raw2)),
    paths: Object.fromEntries(paths.filter((p) => !p.startsWith('raw')).map((p) => [p, { rate: rate(times[paths.indexOf(p)]), ratio: against(times[paths.indexOf(p)]) }])),
  };
}

async function main() {
  const server = await startServer();
  const throughput = await measureThroughput(server.origin, server.result);

  const browser = await launchChromium();
  const page = await browser.newPage();
  await page.goto(server.origin);
  await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready);
  const cdp = await page.context().newCDPSession(page);
  const pageBody = { raw: [] as number[], inst: [] as number[], ratios: [] as number[], baseline: [] as number[] };
  const dispatch = { raw: [] as number[], inst: [] as number[] };
  for (let round = 0; round < ROUNDS; round++) {
    const rate: Record<string, number> = {};
    for (const instrumented of round % 2 === 0 ? [false, true] : [true, false]) {
      rate[String(instrumented)] = PAGE_CHUNKS / ((await page.evaluate(([i, n]) => (window as unknown as BenchPage).pageBodyRun(i, n), [instrumented, PAGE_CHUNKS] as const)) / 1000);
      const dispatchMs = await page.evaluate(([i, n]) => (window as unknown as BenchPage).dispatchRun(i, n), [instrumented, DISPATCHES] as const);
      dispatch[instrumented ? 'inst' : 'raw'].push((dispatchMs * 1000) / DISPATCHES);
    }
    if (BASELINE) pageBody.baseline.push(PAGE_CHUNKS / ((await page.evaluate((n) => (window as unknown as BenchPage).pageBodyRun('baseline', n), PAGE_CHUNKS)) / 1000) / rate.false);
    pageBody.raw.push(rate.false);
    pageBody.inst.push(rate.true);
    pageBody.ratios.push(rate.true / rate.false);
  }

  // What a message allocates, garbage included, once V8 has optimized the path (as in
  // e2e/allocation.spec.ts, which holds it to DESIGN.md's bar).
  const allocated = { raw: 0, inst: 0 };
  for (const instrumented of [false, true]) {
    await page.evaluate((i) => (window as unknown as BenchPage).dispatchOpen(i), instrumented);
    for (let k = 0; k < 4; k++) await page.evaluate((n) => (window as unknown as BenchPage).dispatch(n), ALLOC_WARM);
    const bytes = await bytesAllocated(cdp, () => page.evaluate((n) => (window as unknown as BenchPage).dispatch(n), ALLOC_MESSAGES));
    allocated[instrumented ? 'inst' : 'raw'] = bytes / ALLOC_MESSAGES;
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
  const version = browser.version();
  await browser.close();
  server.close();

  const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
  const ratio = (r: ReturnType<typeof ratioStats>) =>
    `${r.median.toFixed(3)}× (95 % ${r.low.toFixed(3)}–${r.high.toFixed(3)}; rounds' quartiles ${r.quartiles.map((q) => q.toFixed(3)).join('–')}; all blocks ${r.whole.toFixed(3)}×)`;
  const ws = blockRatios(throughput.ws, WS_PATHS, WS_BLOCK);
  const body = blockRatios(throughput.body.times, FETCH_PATHS, FETCH_BLOCK);
  const reads = (path: (typeof FETCH_PATHS)[number]) => (FETCH_ROUNDS * FETCH_BLOCK) / throughput.body.reads[FETCH_PATHS.indexOf(path)];
  const WS_NAMES: Record<Exclude<WsPath, 'raw' | 'raw2'>, string> = {
    clock: "raw, the app's handler reading `performance.now()` once more",
    inst: 'earshot',
    baseline: `the baseline build (${BASELINE})`,
  };
  console.log(
    `Chromium ${version}, no DevTools client attached, ${throughput.isolated ? 'cross-origin isolated (5 µs clock)' : 'NOT cross-origin isolated (100 µs clock)'}; ` +
      `throughput in rounds of one block a path, each round in the next of the paths' orders (WebSocket ${fmt(WS_ROUNDS)} rounds, fetch ${fmt(FETCH_ROUNDS)}); ` +
      `against raw: the median of each block's ratio to the same round's block of each raw path\n`,
  );
  console.log('| path | rate | against raw |\n| --- | --- | --- |');
  console.log(
    [
      `| WebSocket, blocks of ${fmt(WS_BLOCK)} messages, ${fmt(WS_ROUNDS * WS_BLOCK)} a path: raw (two sockets) | ${fmt(ws.raw)} msg/s | control, one raw socket against the other: ${ratio(ws.control)} |`,
      ...Object.entries(ws.paths).map(([p, r]) => `| ${WS_NAMES[p as keyof typeof WS_NAMES]} | ${fmt(r.rate)} msg/s | ${ratio(r.ratio)} |`),
      `| fetch body, bodies of ${fmt(FETCH_BLOCK)} chunks of 64 B, ${fmt(FETCH_ROUNDS * FETCH_BLOCK)} a path: raw (${fmt(reads('raw'))} chunks a read) | ${fmt(body.raw)} chunks/s | control: ${ratio(body.control)} |`,
      `| earshot (${fmt(reads('inst'))} chunks a read) | ${fmt(body.paths.inst.rate)} chunks/s | ${ratio(body.paths.inst.ratio)} |`,
    ].join('\n'),
  );
  const whole = throughput.whole;
  const wholeRatios = whole.inst.map((t, i) => whole.raw[i] / t);
  console.log(
    `\nWhole runs of ${fmt(WS_MESSAGES)} WebSocket messages, ${WHOLE_ROUNDS} rounds alternating: raw ${fmt(median(whole.raw.map((t) => WS_MESSAGES / (t / 1000))))} msg/s, ` +
      `earshot ${fmt(median(whole.inst.map((t) => WS_MESSAGES / (t / 1000))))} msg/s (medians), earshot / raw ${median(wholeRatios).toFixed(3)}× ` +
      `(per round ${wholeRatios.map((r) => r.toFixed(3)).join(' ')})`,
  );
  // What earshot adds to a message or a read, were all of it on the path that bounds throughput,
  // against what one takes over loopback: from costs the blocks' spread does not touch. earshot's
  // code alone is timed in the page without the network.
  const messageUs = 1e6 / ws.raw;
  const bound = (added: number, per: number) => `${(per / (per + added)).toFixed(3)}×`;
  const addedUs = median(dispatch.inst) - median(dispatch.raw);
  console.log(
    `\nper WebSocket message, ${messageUs.toFixed(1)} µs over loopback (the blocks' raw rate): earshot's code adds ${addedUs.toFixed(3)} µs ` +
      `(${fmt(DISPATCHES)} messages dispatched in the page Playwright drives, medians of ${ROUNDS} rounds: raw ${median(dispatch.raw).toFixed(3)} µs, instrumented ${median(dispatch.inst).toFixed(3)} µs): ` +
      `were all of it on the critical path, ${bound(addedUs, messageUs)} raw`,
  );
  const readAddedUs = 1e6 / median(pageBody.inst) - 1e6 / median(pageBody.raw);
  const readUs = (1e6 / body.raw) * reads('raw');
  console.log(
    `per body read, ${readUs.toFixed(1)} µs over loopback (${reads('raw').toFixed(1)} chunks a read): earshot adds ${readAddedUs.toFixed(3)} µs ` +
      `(a body made in the page, ${fmt(PAGE_CHUNKS)} chunks of 64 B, one a read: raw ${fmt(median(pageBody.raw))} chunks/s, earshot ${median(pageBody.ratios).toFixed(3)}× raw` +
      `${BASELINE ? `, the baseline build ${median(pageBody.baseline).toFixed(3)}× raw` : ''}): were all of it on the critical path, ${bound(readAddedUs, readUs)} raw`,
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
