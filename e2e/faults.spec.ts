/**
 * The fault and bad-input matrix, in real Chromium, against the whole stack: an app (built by Vite
 * with the shipped entries, served under a strict CSP by e2e/faults-server.ts) streams over
 * WebSocket, fetch/SSE and WebRTC, plays PCM through the jitter-buffer player, and exports earshot's
 * telemetry through `earshot/otel` to the embedded OTLP receiver (demo/receiver.ts).
 *
 * Each row injects one fault and shows that:
 * - the app's own handlers see what they see without earshot (a native run of the same scenario in
 *   the same page, where there is one), and no exception of earshot's reaches the page;
 * - every turn that started is reported exactly once with the right outcome, in `onTurn`, in
 *   `monitor.summary()` and at the receiver (spans, and the `earshot.turns` counter);
 * - what could not be delivered is counted by `otel(...).dropped()`: delivered + dropped = produced;
 * - the page's JS heap, after a full GC, grew by no more than HEAP_BOUND_BYTES over the row.
 *
 * The matrix is printed and written to RELIABILITY.md when every row ran:
 *   npx playwright test e2e/faults.spec.ts --project=chromium --workers=1
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect, test, type BrowserContext, type CDPSession, type ConsoleMessage, type Page } from '@playwright/test';
import { build, type Plugin } from 'vite';
import { startReceiver, type ReceivedSpan, type Receiver } from '../demo/receiver';
import type { ConnectionReport, Outcome } from '../src/core/types';
import { SECRETS, startFaultsServer, type FaultsServer } from './faults-server';
import type { AppView, ConfigCase, FetchRun, Frame, LoadWindow, Mode, PageState, PlayerResult, PlayerScenario, Setup, WsRun } from './pages/faults';

const ROOT = resolve(import.meta.dirname, '..');
const OUT = join(ROOT, 'e2e/artifacts/faults-app');
const COMMAND = 'npx playwright test e2e/faults.spec.ts --project=chromium --workers=1';

/** The app's deadline for a turn the server never answers, and when it gives up waiting itself. */
const DEADLINE_MS = 1500;
const GIVE_UP_MS = 2500;
/** Heap growth allowed over a row, after a full GC at both ends. */
const HEAP_BOUND_BYTES = 4 << 20;
/** Load: 10k content messages a second, in alternating native and earshot windows of 5 s (30 s). */
const LOAD_RATE = 10_000;
const LOAD_WINDOW_S = 5;
const LOAD_MODES: Array<LoadWindow['mode']> = ['native', 'earshot', 'native', 'earshot', 'native', 'earshot'];
const CONCURRENT = 200;
/** A long animation frame's script longer than this is a long task of its own. */
const LONG_TASK_MS = 50;

// ---------------------------------------------------------------------------------------------
// The matrix

type Verdict = 'PASS' | 'FAIL' | 'GAP' | 'NOT RUN';
type Group = 'transport' | 'telemetry' | 'bad input' | 'configuration' | 'load' | 'security';

interface Row {
  group: Group;
  name: string;
  fault: string;
  /** started / reported by onTurn / turn spans at the receiver. */
  turns: string;
  outcomes: string;
  appErrors: string;
  telemetry: string;
  /** JS heap growth over the row, after a full GC at both ends. */
  heap: string;
  verdict: Verdict;
  note?: string;
}

/**
 * Rows of this run, one file per test: a failed test restarts the worker (and its module state),
 * and the rows must outlive it. Workers are children of one runner: its pid names the run.
 */
const RUN_DIR = join(ROOT, 'e2e/artifacts/faults-rows', String(process.ppid));
/** The rows of the test running now. */
let rows: Row[] = [];
let declared = 0;

function allRows(): Row[] {
  if (!existsSync(RUN_DIR)) return [];
  const files = readdirSync(RUN_DIR).sort((a, b) => parseInt(a) - parseInt(b));
  return files.flatMap((f) => JSON.parse(readFileSync(join(RUN_DIR, f), 'utf8')) as Row[]);
}

/** Checks of one row: each failure is named, so the row's verdict and the test's failure agree. */
class Checks {
  readonly failed: string[] = [];
  check(label: string, ok: boolean): boolean {
    if (!ok) this.failed.push(label);
    return ok;
  }
  equal(label: string, actual: unknown, expected: unknown): boolean {
    const a = JSON.stringify(actual);
    const e = JSON.stringify(expected);
    return this.check(`${label}: ${a.length > 300 ? `${a.slice(0, 300)}...` : a} (expected ${e.length > 300 ? `${e.slice(0, 300)}...` : e})`, a === e);
  }
}

/** Records the row (FAIL if a check failed; GAP rows document a known gap and pass) and fails the test on a failed check. */
function finish(checks: Checks, row: Omit<Row, 'verdict' | 'heap'> & { heap?: string; gap?: string; tasks?: string }): void {
  const { group, name, fault, turns, outcomes, appErrors, telemetry, heap = '-', gap, tasks } = row;
  const verdict: Verdict = checks.failed.length ? 'FAIL' : gap ? 'GAP' : 'PASS';
  const note = [gap, ...checks.failed, row.note, tasks].filter(Boolean).join('; ') || undefined;
  rows.push({ group, name, fault, turns, outcomes, appErrors, telemetry, heap, verdict, note });
  expect(checks.failed, name).toEqual([]);
}

const count = (items: readonly string[]) => {
  const out = new Map<string, number>();
  for (const item of items) out.set(item, (out.get(item) ?? 0) + 1);
  return [...out].map(([k, n]) => (n > 1 ? `${k}×${n}` : k)).join(', ') || '-';
};

function matrix(rows: Row[]): string {
  const head = ['#', 'group', 'row', 'injected fault', 'turns started / reported / at receiver', 'outcomes (turns; connections)', 'app errors (uncaught, console)', 'telemetry delivered / dropped-counted', 'heap Δ', 'verdict'];
  const esc = (s: string) => s.replaceAll('|', '\\|');
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  rows.forEach((r, i) => lines.push(`| ${[String(i + 1), r.group, r.name, r.fault, r.turns, r.outcomes, r.appErrors, r.telemetry, r.heap, r.verdict].map(esc).join(' | ')} |`));
  return lines.join('\n');
}

function writeReport(rows: Row[]): void {
  const notes = rows.flatMap((r, i) => (r.note ? [`${i + 1}. **${r.name}** (${r.verdict}): ${r.note}`] : []));
  const text = `# Reliability: the fault and bad-input matrix

Generated by \`${COMMAND}\` (\`npm run test:faults\`) on ${new Date().toISOString().slice(0, 10)}, in
Chromium ${browserVersion}. Do not edit: run the command again.

Every row injects one fault into an app built with the shipped entries (\`earshot\`, \`earshot/otel\`,
\`earshot/jitter-buffer\`, and \`earshot/webrtc\` from source), served under
\`script-src 'self'\` (no \`unsafe-eval\`, no \`blob:\`), exporting to an embedded OTLP receiver. A row
passes when the app's handlers see what they see natively (a native run of the same scenario in the
same page, where there is one; "native → earshot" below), nothing of earshot's reaches the page as an
uncaught exception or a console error, every started turn is reported exactly once with the right
outcome (\`onTurn\`, \`monitor.summary()\`, and the receiver's spans and \`earshot.turns\` counter),
spans delivered + spans counted by \`otel(...).dropped()\` = spans produced, and the page's heap
after a full GC grew by at most ${HEAP_BOUND_BYTES >> 20} MiB over the row ("heap Δ"). **GAP** rows pass
as written but document a gap, with the fix proposed in the notes. The notes also list earshot's own
long tasks in each row: scripts from earshot's chunk that ran ${LONG_TASK_MS} ms or more in a long
animation frame, WebSocket message batches aside (Blink dispatches a backlog of messages in one task,
natively too; the load row compares those with native windows).

Bounds: spans waiting for export ≤ \`maxQueue\` (2,048; past it a span is dropped and counted);
export requests ≤ 60 KiB each (the keepalive budget); an SSE or NDJSON line ≤ 16 MiB (a longer one is
skipped and reported through \`onError\`); the jitter buffer holds ≤ \`maxBufferMs\` of audio (60 s; the rest is dropped and
counted in \`discardedSamples\`); a turn's chunk times ≤ \`chunkTimes\`; the receiver keeps ≤ 10,000
items per signal.

${matrix(rows)}

## Notes

${notes.join('\n')}
`;
  writeFileSync(join(ROOT, 'RELIABILITY.md'), text);
}

// ---------------------------------------------------------------------------------------------
// Setup

/** The app, built by Vite as an app would be: the shipped entries from dist/, in a chunk named `earshot`. */
async function buildApp(): Promise<void> {
  const shipped: Record<string, string> = {
    [join(ROOT, 'src/index.ts')]: join(ROOT, 'dist/earshot.js'),
    [join(ROOT, 'src/otel.ts')]: join(ROOT, 'dist/otel.js'),
    [join(ROOT, 'src/jitter-buffer.ts')]: join(ROOT, 'dist/jitter-buffer.js'),
  };
  // The page imports the sources (for their types); the build takes the shipped files instead.
  const shippedEntries: Plugin = {
    name: 'faults:shipped-entries',
    enforce: 'pre',
    async resolveId(source, importer, options) {
      if (!importer?.endsWith('/e2e/pages/faults.ts')) return null;
      const id = (await this.resolve(source, importer, { ...options, skipSelf: true }))?.id;
      return id && shipped[id] ? shipped[id] : null;
    },
  };
  // dist/ is rebuilt now and then while others work: wait for it, and build again if it moved.
  for (let attempt = 1; ; attempt++) {
    try {
      for (const file of [...Object.values(shipped), join(ROOT, 'dist/jitter-buffer-worklet.js')]) {
        if (!existsSync(file)) throw new Error(`${file} is missing: run npm run build`);
      }
      await build({
        configFile: false,
        logLevel: 'warn',
        root: join(ROOT, 'e2e/pages'),
        base: './',
        plugins: [shippedEntries],
        build: {
          outDir: OUT,
          emptyOutDir: true,
          minify: false,
          target: 'es2022',
          rollupOptions: {
            input: join(ROOT, 'e2e/pages/faults.html'),
            output: { manualChunks: (id: string) => (id.includes('/e2e/pages/') ? undefined : 'earshot') },
          },
        },
      });
      return;
    } catch (error) {
      if (attempt === 6) throw error;
      await new Promise((r) => setTimeout(r, 5000));
    }
  }
}

let receiver: Receiver;
let server: FaultsServer;
let browserVersion = '';
/**
 * One page for every row (loading the app is what takes long on a busy machine): each row sets a
 * fresh monitor and sink up in it, and a row that navigates away leaves the next to load it again.
 */
let context: BrowserContext;
let page: Page;
let cdp: CDPSession;
const errors: Errors = { uncaught: [], console: [], telemetry: [] };

// In order, in one worker; a failed row does not stop the others.
test.describe.configure({ mode: 'default' });
test.use({ trace: 'off' });

test.beforeAll(async ({ browser }, info) => {
  info.setTimeout(120_000);
  browserVersion = browser.version();
  await buildApp();
  receiver = await startReceiver();
  server = await startFaultsServer({ root: OUT });
  context = await browser.newContext();
  page = await context.newPage();
  page.on('pageerror', (e) => errors.uncaught.push(e.message));
  page.on('console', (m: ConsoleMessage) => {
    if (m.type() !== 'error') return;
    // With the default carrier a WebSocket's URL carries its traceparent, and so does the browser's line about it.
    const text = m.text().replace(/[?&]traceparent=[^&'"\s]*/, '');
    (m.location().url.startsWith(receiver.url) ? errors.telemetry : errors.console).push(text);
  });
  cdp = await context.newCDPSession(page);
});

test.beforeEach(() => receiver.clear());

test.afterAll(async () => {
  await context?.close();
  await server?.close();
  await receiver?.close();
  const done = existsSync(RUN_DIR) ? readdirSync(RUN_DIR).length : 0;
  // The last worker of the run sees every test's rows.
  if (done < declared) return;
  const all = allRows();
  console.log(`\n${matrix(all)}\n`);
  writeReport(all);
  rmSync(RUN_DIR, { recursive: true, force: true });
});

/** A test that adds rows to the matrix; one that fails before adding its row adds a FAIL row. */
function row(title: string, body: () => Promise<void>, timeoutMs = 60_000): void {
  const index = declared++;
  test(title, async () => {
    test.setTimeout(timeoutMs);
    rows = [];
    try {
      await body();
    } catch (error) {
      if (!rows.length) {
        const [group, name] = title.split(': ');
        rows.push({ group: group as Group, name, fault: '-', turns: '-', outcomes: '-', appErrors: '-', telemetry: '-', heap: '-', verdict: 'FAIL', note: String(error).split('\n')[0].slice(0, 300) });
      }
      throw error;
    } finally {
      mkdirSync(RUN_DIR, { recursive: true });
      writeFileSync(join(RUN_DIR, `${index}.json`), JSON.stringify(rows));
    }
  });
}

// ---------------------------------------------------------------------------------------------
// The page and what it reports

interface Errors {
  uncaught: string[];
  console: string[];
  /** Console errors about export requests (the browser logs each failed request). */
  telemetry: string[];
}

interface Ctx {
  service: string;
  heapBefore: number;
  /** Page time when the row began. */
  since: number;
  /** Errors since the last call. */
  take(): Errors;
}

/**
 * Scripts of earshot's (from its chunk) that ran 5 ms or more in long animation frames between
 * `from` and `to`. Blink dispatches a backlog of WebSocket messages in one task, natively too, and
 * a frame's script entry for it names the first listener that ran: the app's, inside earshot's
 * wrapper (earshot reads each message there). Those batches are left out (`batches` counts them);
 * the rest are earshot's own tasks.
 */
async function earshotTasks(from: number, to = Infinity): Promise<{ own: Frame['scripts']; batches: number }> {
  const { frames } = await page.evaluate(() => window.faults.timeline());
  const scripts = frames.filter((f) => f.start >= from && f.start < to).flatMap((f) => f.scripts).filter((x) => x.sourceURL.includes('/assets/earshot-'));
  const own = scripts.filter((x) => !/WebSocket\.onmessage/.test(x.invoker));
  return { own, batches: scripts.length - own.length };
}

const describeTasks = (own: Frame['scripts']) =>
  own.length ? `${own.length}, longest ${Math.max(...own.map((x) => x.duration)).toFixed(0)} ms (${[...new Set(own.map((x) => x.invoker))].join(', ')})` : 'none';

async function heap(): Promise<number> {
  await cdp.send('HeapProfiler.collectGarbage');
  return (await cdp.send('Runtime.getHeapUsage')).usedSize;
}

/** Errors since the last call. */
const take = (): Errors => ({ uncaught: errors.uncaught.splice(0), console: errors.console.splice(0), telemetry: errors.telemetry.splice(0) });

/** Sets earshot up afresh for row `name` in the app (loading it if a row navigated away). */
async function open(name: string, setup: Omit<Setup, 'row' | 'collector'> = {}): Promise<Ctx> {
  if (!(await page.evaluate(() => window.faults?.ready === true))) {
    await page.goto(`${server.origins[0]}/faults.html`);
    await page.waitForFunction(() => window.faults?.ready === true, undefined, { timeout: 20_000 });
  }
  const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
  await page.evaluate((o) => window.faults.setup(o), { ...setup, row: slug, collector: receiver.url });
  // What earlier rows left behind is theirs.
  take();
  return { service: `faults-${slug}`, heapBefore: await heap(), since: await page.evaluate(() => window.faults.now()), take };
}

const wsOrigin = (i = 0) => server.origins[i].replace('http', 'ws');
const state = (page: Page) => page.evaluate(() => window.faults.state());
const settle = (page: Page, n: number, timeoutMs = 8000) => page.evaluate(([c, t]) => window.faults.settle(c, t), [n, timeoutMs] as const);
const flush = (page: Page) => page.evaluate(() => window.faults.flush());
const runWs = (page: Page, o: WsRun) => page.evaluate((r) => window.faults.ws(r), o);
const runFetch = (page: Page, o: FetchRun) => page.evaluate((r) => window.faults.fetch(r), o);

interface Received {
  spans: ReceivedSpan[];
  turns: ReceivedSpan[];
  connections: ReceivedSpan[];
  duplicates: number;
  /** The receiver's `earshot.turns` counter by outcome, from the latest export; undefined when none arrived. */
  turnCounter?: Record<string, number>;
  droppedCounter?: number;
  peak?: number;
}

function received(service: string): Received {
  const spans = receiver.spans().filter((s) => s.resource['service.name'] === service);
  const metrics = receiver.metrics().filter((m) => m.resource['service.name'] === service);
  const latest = (name: string) => metrics.filter((m) => m.name === name).at(-1);
  const turnMetric = latest('earshot.turns');
  let turnCounter: Record<string, number> | undefined;
  if (turnMetric) {
    turnCounter = {};
    for (const p of turnMetric.points) turnCounter[String(p.attributes.outcome)] = (turnCounter[String(p.attributes.outcome)] ?? 0) + (p.value ?? 0);
  }
  const peaks = metrics.filter((m) => m.name === 'earshot.connections.peak').flatMap((m) => m.points.map((p) => p.value ?? 0));
  return {
    spans,
    turns: spans.filter((s) => s.name === 'earshot.turn'),
    connections: spans.filter((s) => s.name === 'earshot.connection'),
    duplicates: spans.length - new Set(spans.map((s) => s.spanId)).size,
    turnCounter,
    droppedCounter: latest('earshot.telemetry.dropped')?.points[0]?.value,
    peak: peaks.length ? Math.max(...peaks) : undefined,
  };
}

interface Expected {
  turns: Outcome[];
  connections: Array<ConnectionReport['outcome']>;
  /** Each turn's reason (a RegExp or exact text), where it matters. */
  reasons?: Array<RegExp | string | undefined>;
  /** Content chunks of each turn. */
  chunks?: number[];
  /** What earshot says it could not measure, through `onError` (each also an internal error). Default none. */
  unmeasured?: RegExp[];
}

/**
 * The accounting every row shares: turns reported exactly once with the expected outcomes, in the
 * page and at the receiver; spans delivered + counted as dropped = produced; no internal error but
 * what the row expects earshot to say it could not measure, no policy violation; heap bounded. Returns the matrix columns it fills.
 */
async function account(
  ctx: Ctx,
  checks: Checks,
  s: PageState,
  expected: Expected,
  options: { mayDrop?: boolean; unordered?: boolean } = {},
): Promise<Pick<Row, 'turns' | 'outcomes' | 'telemetry' | 'heap'> & { rec: Received; tasks?: string }> {
  const { reports, connections, summary } = s;
  checks.equal('turns started = reported', summary.turns.started, reports.length);
  checks.equal('turns still open', summary.turns.open, 0);
  checks.equal('report ids unique', new Set(reports.map((r) => r.id)).size, reports.length);
  // Reports come in the order turns end; where that depends on timing, only the counts are compared.
  const order = <T,>(list: T[]) => (options.unordered ? [...list].sort() : list);
  checks.equal('turn outcomes', order(reports.map((r) => r.outcome)), order(expected.turns));
  checks.equal('connection outcomes', order(connections.map((c) => c.outcome)), order(expected.connections));
  expected.reasons?.forEach((reason, i) => {
    const actual = reports[i]?.reason;
    if (reason !== undefined) checks.check(`turn ${i + 1} reason ${JSON.stringify(actual)} matches ${String(reason)}`, typeof reason === 'string' ? actual === reason : reason.test(actual ?? ''));
  });
  if (expected.chunks) checks.equal('content chunks', reports.map((r) => r.chunks), expected.chunks);
  const counted = { complete: summary.turns.complete, error: summary.turns.error, dropped: summary.turns.dropped, abandoned: summary.turns.abandoned };
  checks.equal('summary outcome counts', counted, {
    complete: reports.filter((r) => r.outcome === 'complete').length,
    error: reports.filter((r) => r.outcome === 'error').length,
    dropped: reports.filter((r) => r.outcome === 'dropped').length,
    abandoned: reports.filter((r) => r.outcome === 'abandoned').length,
  });
  const unmeasured = expected.unmeasured ?? [];
  checks.equal('internal errors', s.internalErrors, unmeasured.length);
  checks.check(`onError calls ${JSON.stringify(s.onErrors)} match ${unmeasured.map(String).join(', ') || 'none'}`, s.onErrors.length === unmeasured.length && unmeasured.every((re, i) => re.test(s.onErrors[i]!)));
  checks.equal('CSP violations', s.violations, []);

  const produced = reports.length + connections.length;
  const rec = received(ctx.service);
  const delivered = rec.spans.length - rec.duplicates;
  checks.equal('spans received twice', rec.duplicates, 0);
  checks.equal('delivered + dropped-counted = produced', delivered + s.dropped, produced);
  if (!options.mayDrop) checks.equal('spans dropped', s.dropped, 0);
  // Every delivered turn span is one report's, with its outcome.
  for (const span of rec.turns) {
    const report = reports.find((r) => r.id === span.attributes['earshot.turn.id']);
    checks.check(`turn span ${String(span.attributes['earshot.turn.id'])} matches a report with its outcome`, report?.outcome === span.attributes['earshot.outcome']);
  }
  if (rec.turnCounter) {
    const nonzero = (c: Record<string, number>) => Object.fromEntries(Object.entries(c).filter(([, n]) => n > 0).sort());
    checks.equal("receiver's earshot.turns by outcome", nonzero(rec.turnCounter), nonzero(counted));
  } else checks.check('earshot.turns counter at the receiver', reports.length === 0);
  const heapAfter = await heap();
  const growth = heapAfter - ctx.heapBefore;
  const heapDelta = `${growth < 0 ? '−' : '+'}${Math.abs(growth / 1024).toFixed(0)} KiB`;
  checks.check(`heap grew ${heapDelta} (bound ${HEAP_BOUND_BYTES >> 10} KiB)`, growth <= HEAP_BOUND_BYTES);
  const turnOutcomes = count(reports.map((r) => r.outcome));
  const { own } = await earshotTasks(ctx.since);
  const long = own.filter((x) => x.duration >= LONG_TASK_MS);
  return {
    rec,
    heap: heapDelta,
    tasks: long.length ? `earshot's own long tasks: ${describeTasks(long)}` : undefined,
    turns: `${summary.turns.started} / ${reports.length} / ${rec.turns.length}`,
    outcomes: `${turnOutcomes}; ${count(connections.map((c) => c.outcome))}`,
    telemetry: `${delivered} of ${produced} spans / ${s.dropped}${rec.turnCounter ? '; turn counter ok' : ''}`,
  };
}

/** "native → earshot" error counts; checks that earshot added none. */
function compareErrors(checks: Checks, native: Errors | undefined, earshot: Errors): string {
  const sorted = (a: string[]) => [...a].sort();
  if (native) {
    checks.equal('uncaught errors, earshot vs native', sorted(earshot.uncaught), sorted(native.uncaught));
    checks.equal('console errors, earshot vs native', sorted(earshot.console), sorted(native.console));
    return `${native.uncaught.length}, ${native.console.length} → ${earshot.uncaught.length}, ${earshot.console.length}`;
  }
  checks.equal('uncaught errors', earshot.uncaught, []);
  checks.equal('console errors', earshot.console, []);
  return `${earshot.uncaught.length}, ${earshot.console.length}`;
}

/** What the app saw: its events and whether it stopped waiting (a player's counters are timing, not events). */
const view = (v: AppView) => ({ events: v.events, timedOut: v.timedOut });

interface Scenario {
  group: Group;
  name: string;
  fault: string;
  setup?: Omit<Setup, 'row' | 'collector'>;
  /** The instrumented mode: `earshot` (monitor.websocket / monitor.fetch) or `observed`. */
  mode?: Mode;
  app: (page: Page, mode: Mode) => Promise<AppView>;
  expected: Expected;
  gap?: string;
  /** More checks; may return a note. */
  more?: (checks: Checks, s: PageState, earshot: AppView) => string | undefined;
}

/** A row: the app natively, then through earshot, in the same page; then the accounting. */
async function scenario(page: Page, sc: Scenario): Promise<void> {
  const ctx = await open(sc.name, sc.setup);
  const checks = new Checks();
  const native = await sc.app(page, 'native');
  const nativeErrors = ctx.take();
  const earshot = await sc.app(page, sc.mode ?? 'earshot');
  const s = await settle(page, sc.expected.turns.length);
  await flush(page);
  const earshotErrors = ctx.take();
  checks.equal('what the app saw, earshot vs native', view(earshot), view(native));
  checks.check('the app finished', !earshot.timedOut);
  const appErrors = compareErrors(checks, nativeErrors, earshotErrors);
  checks.equal('failed export requests logged', earshotErrors.telemetry, []);
  const cols = await account(ctx, checks, await state(page), sc.expected);
  const note = sc.more?.(checks, s, earshot);
  finish(checks, { group: sc.group, name: sc.name, fault: sc.fault, ...cols, appErrors, gap: sc.gap, note });
}

// ---------------------------------------------------------------------------------------------
// Transport faults

const chatSse = (query: string) => `${server.origins[0]}/sse?${query}`;

row('transport: server closes with 1011 mid-turn', () =>
  scenario(page, {
    group: 'transport',
    name: 'server closes with 1011 mid-turn',
    fault: 'WebSocket: 3 deltas, then close 1011 "overloaded"',
    app: (p, mode) => runWs(p, { url: `${wsOrigin()}/ws`, mode, scripts: [{ kind: 'close', after: 3, code: 1011, reason: 'overloaded' }] }),
    expected: { turns: ['dropped'], connections: ['dropped'], reasons: ['overloaded'], chunks: [3] },
  }),
);

row('transport: TCP reset mid-turn (WebSocket)', () =>
  scenario(page, {
    group: 'transport',
    name: 'TCP reset mid-turn (WebSocket)',
    fault: 'WebSocket: 3 deltas, then the server resets the TCP socket',
    app: (p, mode) => runWs(p, { url: `${wsOrigin()}/ws`, mode, scripts: [{ kind: 'reset', after: 3 }] }),
    expected: { turns: ['dropped'], connections: ['dropped'], reasons: ['close 1006'], chunks: [3] },
  }),
);

row('transport: TCP reset mid-turn (fetch)', () =>
  scenario(page, {
    group: 'transport',
    name: 'TCP reset mid-turn (fetch/SSE)',
    fault: 'SSE: 3 events, then the server resets the TCP socket',
    app: (p, mode) => runFetch(p, { url: chatSse('kind=reset&after=3'), mode: mode as FetchRun['mode'] }),
    expected: { turns: ['dropped'], connections: ['dropped'], reasons: [/TypeError/], chunks: [3] },
  }),
);

row('transport: server never answers (deadline)', () =>
  scenario(page, {
    group: 'transport',
    name: 'server never answers (monitor.connection, deadlineMs)',
    fault: `WebSocket request never answered; the app reports its socket to monitor.connection() of createMonitor({ deadlineMs: ${DEADLINE_MS} }) and gives up after ${GIVE_UP_MS} ms`,
    mode: 'observed',
    setup: { deadlineMs: DEADLINE_MS },
    app: (p, mode) => runWs(p, { url: `${wsOrigin()}/ws`, mode, scripts: [{ kind: 'hang' }], giveUpMs: GIVE_UP_MS }),
    expected: { turns: ['error'], connections: ['abandoned'], reasons: [`deadline: no reply for ${DEADLINE_MS} ms`] },
  }),
);

row('transport: server never answers (manual voice turn, deadline)', async () => {
  const name = 'server never answers (manual turn, deadlineMs)';
  const ctx = await open(name, { deadlineMs: DEADLINE_MS });
  const checks = new Checks();
  // A voice turn the app drives itself: it starts at the end of the user's speech, and no reply comes.
  await page.evaluate(() => window.faults.manualHang());
  const s = await settle(page, 1, DEADLINE_MS + 5000);
  await flush(page);
  const appErrors = compareErrors(checks, undefined, ctx.take());
  const cols = await account(ctx, checks, s, { turns: ['error'], connections: [], reasons: [`deadline: no reply for ${DEADLINE_MS} ms`] });
  finish(checks, { group: 'transport', name, fault: `a manual turn of createMonitor({ deadlineMs: ${DEADLINE_MS} }).turn() started; nothing arrives`, ...cols, appErrors });
});

row('transport: server never answers (monitor.websocket)', () =>
  scenario(page, {
    group: 'transport',
    name: 'server never answers (monitor.websocket, deadlineMs)',
    fault: `WebSocket request never answered under createMonitor({ deadlineMs: ${DEADLINE_MS} }); the app gives up after ${GIVE_UP_MS} ms and closes`,
    setup: { deadlineMs: DEADLINE_MS },
    app: (p, mode) => runWs(p, { url: `${wsOrigin()}/ws`, mode, scripts: [{ kind: 'hang' }], giveUpMs: GIVE_UP_MS }),
    expected: { turns: ['error'], connections: ['abandoned'], reasons: [`deadline: no reply for ${DEADLINE_MS} ms`] },
  }),
);

row('transport: server never answers (fetch + AbortSignal.timeout)', () =>
  scenario(page, {
    group: 'transport',
    name: 'server never answers (fetch + AbortSignal.timeout)',
    fault: `SSE request never answered; the app's AbortSignal.timeout(${DEADLINE_MS}) fires`,
    app: (p, mode) => runFetch(p, { url: chatSse('kind=hang'), mode: mode as FetchRun['mode'], timeoutMs: DEADLINE_MS }),
    expected: { turns: ['error'], connections: ['abandoned'], reasons: [/TimeoutError/] },
  }),
);

row('transport: network offline then online', async () => {
  const ctx = await open('network offline then online');
  const checks = new Checks();
  const offline = (on: boolean) => cdp.send('Network.emulateNetworkConditions', { offline: on, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  /** A stream under way when the network goes (DevTools keeps it), a request and a socket while offline, a request after. */
  const run = async (mode: 'native' | 'earshot') => {
    await page.evaluate((o) => window.faults.begin('long', 'ws', o), { url: `${wsOrigin()}/ws`, mode, scripts: [{ kind: 'chat', n: 20, gap: 50 }] } satisfies WsRun);
    await page.waitForTimeout(300);
    await offline(true);
    const during = await runFetch(page, { url: chatSse('kind=chat'), mode });
    const socket = await runWs(page, { url: `${wsOrigin()}/ws`, mode, scripts: [{ kind: 'chat' }] });
    // An export while offline fails; its retry (about 1 s later) goes out once the network is back.
    if (mode === 'earshot') await page.evaluate(() => window.faults.startFlush());
    await page.waitForTimeout(300);
    await offline(false);
    const after = await runFetch(page, { url: chatSse('kind=chat'), mode });
    const long = (await page.evaluate(() => window.faults.result('long'))) as AppView;
    return { events: [...long.events, '|', ...during.events, '|', ...socket.events, '|', ...after.events], timedOut: long.timedOut };
  };
  const native = await run('native');
  const nativeErrors = ctx.take();
  const earshot = await run('earshot');
  const s = await settle(page, 3);
  await page.evaluate(() => window.faults.flushed());
  await flush(page);
  const earshotErrors = ctx.take();
  checks.equal('what the app saw, earshot vs native', earshot, native);
  checks.check(`an export failed while offline (${earshotErrors.telemetry.length} logged by the browser)`, earshotErrors.telemetry.length >= 1);
  const appErrors = compareErrors(checks, nativeErrors, earshotErrors);
  const cols = await account(ctx, checks, s, {
    // The stream under way completes; the fetch while offline fails before a response; the socket
    // opened while offline never opens (a connection without a turn); the fetch after completes.
    turns: ['complete', 'dropped', 'complete'],
    connections: ['abandoned', 'dropped', 'dropped', 'clean'],
  }, { unordered: true });
  finish(checks, {
    group: 'transport',
    name: 'network offline then online',
    fault: 'DevTools offline for ~1 s during a WebSocket stream: a fetch and a new socket while offline, a fetch after',
    ...cols,
    appErrors,
    note: `DevTools offline leaves established streams alone; only new requests fail. The export made while offline failed (${earshotErrors.telemetry.length} attempts logged by the browser), was retried and delivered once online: nothing dropped.`,
  });
});

row('transport: fetch aborted by the app', () =>
  scenario(page, {
    group: 'transport',
    name: 'fetch aborted by the app',
    fault: 'SSE of 50 events; the app aborts its AbortController after 3 reads',
    app: (p, mode) => runFetch(p, { url: chatSse('kind=chat&n=50&gap=20'), mode: mode as FetchRun['mode'], abortAfterReads: 3 }),
    expected: { turns: ['abandoned'], connections: ['abandoned'], reasons: [/AbortError/] },
  }),
);

row('transport: body read error', () =>
  scenario(page, {
    group: 'transport',
    name: 'body read error',
    fault: 'SSE whose Content-Length promises 1 MiB more than the 3 events sent; the server ends the socket',
    app: (p, mode) => runFetch(p, { url: chatSse('kind=short&after=3'), mode: mode as FetchRun['mode'] }),
    expected: { turns: ['dropped'], connections: ['dropped'], reasons: [/TypeError/], chunks: [3] },
  }),
);

row('transport: SSE stream that stops without [DONE]', () =>
  scenario(page, {
    group: 'transport',
    name: 'SSE stream that stops without [DONE]',
    fault: 'OpenAI chat-completion SSE, 5 events, clean end without data: [DONE]',
    app: (p, mode) => runFetch(p, { url: chatSse('kind=chat&done=0'), mode: mode as FetchRun['mode'] }),
    expected: { turns: ['dropped'], connections: ['dropped'], reasons: ['ended before the end of the turn'], chunks: [5] },
  }),
);

interface Peer {
  url: string;
  process: ChildProcess;
}

/** The WebRTC voice agent in a process of its own, so that it can vanish. */
async function startPeer(): Promise<Peer> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'e2e/webrtc-peer.ts'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((ok, fail) => {
    child.once('error', fail);
    child.once('exit', (code) => fail(new Error(`the peer exited (${code})`)));
    child.stdout!.once('data', (d: Buffer) => ok((JSON.parse(String(d)) as { port: number }).port));
  });
  return { url: `http://127.0.0.1:${port}`, process: child };
}

row(
  'transport: WebRTC peer vanishes',
  async () => {
    const name = 'WebRTC peer vanishes';
    const fault = 'the agent process is killed (SIGKILL) mid-turn; the app hangs up 1.5 s after its peer connection leaves `connected`';
    if (!existsSync(join(ROOT, 'src/webrtc.ts')) || !existsSync(join(ROOT, 'e2e/webrtc-peer.ts'))) {
      rows.push({ group: 'transport', name, fault, turns: '-', outcomes: '-', appErrors: '-', telemetry: '-', heap: '-', verdict: 'NOT RUN', note: 'earshot/webrtc (src/webrtc.ts) or its e2e peer is not there yet' });
      return;
    }
    const ctx = await open(name);
    const checks = new Checks();
    // Both agents start at once (each takes a while to come up); each run kills its own.
    const peers = await Promise.all([startPeer(), startPeer()]);
    const run = async (mode: 'native' | 'earshot') => {
      const peer = peers[mode === 'native' ? 0 : 1];
      await page.evaluate(([u, id, m]) => window.faults.rtcStart(u, id, m), [peer.url, `vanish-${mode}`, mode] as const);
      peer.process.kill('SIGKILL');
      return page.evaluate(() => window.faults.rtcFinish(1500, 30_000));
    };
    let native: AppView;
    let nativeErrors: Errors;
    let earshot: AppView;
    try {
      native = await run('native');
      nativeErrors = ctx.take();
      earshot = await run('earshot');
    } finally {
      for (const peer of peers) peer.process.kill();
    }
    const s = await settle(page, 1);
    await flush(page);
    const earshotErrors = ctx.take();
    // Each object's events in order: the peer connection's `connected` and the channel's `open` are
    // signalled by different parts of Chromium and race (a clean-clone run saw `dc open` first
    // natively and `pc connected` first through earshot); their interleaving is not earshot's.
    const bySource = ({ events, timedOut }: AppView) => ({
      pc: events.filter((e) => e.startsWith('pc ')),
      dc: events.filter((e) => e.startsWith('dc ')),
      timedOut,
    });
    checks.equal('what the app saw, earshot vs native', bySource(earshot), bySource(native));
    const appErrors = compareErrors(checks, nativeErrors, earshotErrors);
    const cols = await account(ctx, checks, s, { turns: ['dropped'], connections: ['dropped', 'dropped'] });
    finish(checks, { group: 'transport', name, fault, ...cols, appErrors, note: `data channel and peer connection dropped: ${s.connections.map((c) => `${c.url} ${c.reason}`).join(', ')}` });
  },
  120_000,
);

// ---------------------------------------------------------------------------------------------
// Telemetry faults. The app: two turns on a WebSocket, one fetch turn. Spans wait for a flush.

const TELEMETRY = { exportDelayMs: 60_000 };
const telemetryTurns = { turns: ['complete', 'complete', 'complete'] as Outcome[], connections: ['abandoned', 'clean'] as Expected['connections'] };

async function telemetryApp(page: Page, mode: 'native' | 'earshot'): Promise<AppView> {
  const a = await runWs(page, { url: `${wsOrigin()}/ws`, mode, scripts: [{ kind: 'chat', n: 3 }, { kind: 'chat', n: 3 }] });
  const b = await runFetch(page, { url: chatSse('kind=chat&n=3'), mode });
  return { events: [...a.events, '|', ...b.events], timedOut: a.timedOut || b.timedOut };
}

const twice = <T,>(a: T[]): T[] => [...a, ...a];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  for (const end = Date.now() + timeoutMs; !cond(); await sleep(50)) if (Date.now() > end) return false;
  return true;
}

row('telemetry: receiver down for the whole page', async () => {
  const name = 'receiver down for the whole page';
  const checks = new Checks();
  await receiver.fail('refuse');
  let ctx: Ctx;
  let native: AppView;
  let nativeErrors: Errors;
  let earshot: AppView;
  let earshotErrors: Errors;
  let whileDown: PageState;
  try {
    ctx = await open(name, { ...TELEMETRY, exportTimeoutMs: 1500 });
    native = await telemetryApp(page, 'native');
    nativeErrors = ctx.take();
    earshot = await telemetryApp(page, 'earshot');
    await settle(page, 3);
    await flush(page);
    whileDown = await state(page);
    earshotErrors = ctx.take();
  } finally {
    await receiver.recover();
  }
  // Metrics are cumulative: the first export that gets through carries the turns and what was lost.
  await flush(page);
  checks.equal('what the app saw, earshot vs native', earshot, native);
  const appErrors = compareErrors(checks, nativeErrors, earshotErrors);
  checks.equal('spans counted as dropped while the receiver was down', whileDown.dropped, 5);
  const cols = await account(ctx, checks, await state(page), telemetryTurns, { mayDrop: true });
  checks.equal("receiver's earshot.telemetry.dropped after recovery", cols.rec.droppedCounter, 5);
  finish(checks, {
    group: 'telemetry',
    name,
    fault: 'the receiver refuses connections from before the page loads until after the last flush (export timeout 1.5 s)',
    ...cols,
    appErrors,
    note: `every span counted as dropped; after recovery the metrics export carries earshot.turns and earshot.telemetry.dropped = 5. The browser logs each failed export request (${earshotErrors.telemetry.length} lines), as for any failed fetch.`,
  });
});

row('telemetry: receiver answers 500', async () => {
  const name = 'receiver answers 500';
  const ctx = await open(name, TELEMETRY);
  const checks = new Checks();
  const native = await telemetryApp(page, 'native');
  const nativeErrors = ctx.take();
  const earshot = await telemetryApp(page, 'earshot');
  await settle(page, 3);
  await receiver.fail({ status: 500 });
  await flush(page);
  const refused = (await state(page)).dropped;
  await receiver.recover();
  const again = await telemetryApp(page, 'earshot');
  await settle(page, 6);
  await flush(page);
  const earshotErrors = ctx.take();
  checks.equal('what the app saw, earshot vs native', [earshot, again], [native, native]);
  const appErrors = compareErrors(checks, nativeErrors, earshotErrors);
  // 500 is not retryable (OTLP/HTTP): the batch is dropped and counted; the next one gets through.
  checks.equal('spans counted as dropped by the 500', refused, 5);
  const cols = await account(ctx, checks, await state(page), { turns: twice(telemetryTurns.turns), connections: twice(telemetryTurns.connections) }, { mayDrop: true });
  finish(checks, { group: 'telemetry', name, fault: 'every export request of one flush answered 500, then the receiver recovers', ...cols, appErrors });
});

row('telemetry: receiver answers 503 with Retry-After', async () => {
  const name = 'receiver answers 503 with Retry-After';
  const ctx = await open(name, { ...TELEMETRY, exportTimeoutMs: 8000 });
  const checks = new Checks();
  const native = await telemetryApp(page, 'native');
  const nativeErrors = ctx.take();
  const earshot = await telemetryApp(page, 'earshot');
  await settle(page, 3);
  await receiver.fail({ status: 503, retryAfterS: 1 });
  const started = Date.now();
  await page.evaluate(() => window.faults.startFlush());
  await sleep(1500);
  await receiver.recover();
  await page.evaluate(() => window.faults.flushed());
  const took = Date.now() - started;
  const earshotErrors = ctx.take();
  checks.equal('what the app saw, earshot vs native', earshot, native);
  const appErrors = compareErrors(checks, nativeErrors, earshotErrors);
  checks.check(`delivered no sooner than Retry-After (${took} ms)`, took >= 1000);
  checks.check(`requests answered 503: ${receiver.requests.failed}`, receiver.requests.failed >= 2);
  const cols = await account(ctx, checks, await state(page), telemetryTurns);
  finish(checks, { group: 'telemetry', name, fault: 'every export request answered 503 Retry-After: 1 for 1.5 s (export timeout 8 s)', ...cols, appErrors, note: `retried after Retry-After; delivered ${took} ms after the flush, each span once` });
});

row('telemetry: receiver hangs', async () => {
  const name = 'receiver hangs';
  const ctx = await open(name, { ...TELEMETRY, exportTimeoutMs: 2000 });
  const checks = new Checks();
  const native = await telemetryApp(page, 'native');
  const nativeErrors = ctx.take();
  const earshot = await telemetryApp(page, 'earshot');
  await settle(page, 3);
  await receiver.fail('hang');
  await page.evaluate(() => window.faults.startFlush());
  // The app streams on while its telemetry hangs.
  const during = await telemetryApp(page, 'earshot');
  await receiver.recover();
  await page.evaluate(() => window.faults.flushed());
  const timedOut = (await state(page)).dropped;
  await flush(page);
  const earshotErrors = ctx.take();
  checks.equal('what the app saw, earshot vs native (before and during the hang)', [earshot, during], [native, native]);
  const appErrors = compareErrors(checks, nativeErrors, earshotErrors);
  checks.equal('spans counted as dropped when the hung export timed out', timedOut, 5);
  const cols = await account(ctx, checks, await state(page), { turns: twice(telemetryTurns.turns), connections: twice(telemetryTurns.connections) }, { mayDrop: true });
  finish(checks, { group: 'telemetry', name, fault: 'export requests of one flush never answered (export timeout 2 s); the app streams meanwhile', ...cols, appErrors, note: 'the hung requests are aborted at the export timeout and their spans counted; the app is never blocked' });
});

row('telemetry: over 64 KB of spans at page hide', async () => {
  const name = 'over 64 KB of spans at page hide';
  const ctx = await open(name, TELEMETRY);
  const checks = new Checks();
  await page.evaluate(() => window.faults.manualTurns(200));
  await page.evaluate(() => window.faults.hide());
  checks.check('all 200 turn spans arrived', await until(() => received(ctx.service).turns.length >= 200, 10_000));
  const requests = receiver.requests.traces;
  checks.check(`split into requests within the keepalive budget: ${requests} trace requests`, requests >= 3);
  const errors = ctx.take();
  const appErrors = compareErrors(checks, undefined, errors);
  const cols = await account(ctx, checks, await state(page), { turns: Array(200).fill('complete'), connections: [] });
  finish(checks, { group: 'telemetry', name, fault: '200 turn spans (~300 KB of OTLP/JSON) waiting when the page is hidden', ...cols, appErrors, note: `flushed on visibilitychange in ${requests} requests of at most 60 KiB` });
});

row('telemetry: over 64 KB of spans at unload', async () => {
  const name = 'over 64 KB of spans at unload';
  const ctx = await open(name, TELEMETRY);
  const checks = new Checks();
  await page.evaluate(() => window.faults.manualTurns(200));
  const before = await state(page);
  const errors = ctx.take();
  await page.goto('about:blank');
  await until(() => received(ctx.service).turns.length >= 200, 5000);
  await sleep(500);
  const rec = received(ctx.service);
  checks.equal('spans received twice', rec.duplicates, 0);
  checks.equal('turns reported before unload', before.reports.length, 200);
  const lost = 200 - rec.turns.length;
  finish(checks, {
    group: 'telemetry',
    name,
    fault: '200 turn spans (~300 KB) waiting when the page unloads (no hide before)',
    turns: `${before.summary.turns.started} / ${before.reports.length} / ${rec.turns.length}`,
    outcomes: `${count(before.reports.map((r) => r.outcome))}; -`,
    appErrors: compareErrors(checks, undefined, errors),
    telemetry: `${rec.turns.length} of 200 spans / page gone`,
    ...(lost
      ? {
          gap: `the 200 spans end in the one task before the page unloads: only what fits the 64 KiB keepalive budget a page has can outlive it, and what the other requests carry is lost uncounted (this run: ${lost} of 200 spans lost). A burst this size right before an unload without a hide has no way out of the page (sendBeacon shares the same 64 KiB)`,
        }
      : {
          note: 'the spans left in requests of about 24 KiB, one per task, as soon as that much waited, before the unload; a burst ending in the very task that unloads the page could still lose what is over the 64 KiB keepalive budget, uncounted',
        }),
  });
});

row('telemetry: page hidden, then unloaded, mid-turn', async () => {
  const name = 'page hidden, then unloaded, mid-turn';
  const ctx = await open(name);
  const checks = new Checks();
  await page.evaluate((o) => window.faults.begin('long', 'ws', o), { url: `${wsOrigin()}/ws`, mode: 'earshot', scripts: [{ kind: 'chat', n: 100, gap: 50 }] } satisfies WsRun);
  await page.waitForTimeout(400);
  const before = await state(page);
  await page.evaluate(() => window.faults.hide());
  const errors = ctx.take();
  await page.goto('about:blank');
  await until(() => received(ctx.service).spans.length >= 2, 5000);
  await sleep(500);
  const rec = received(ctx.service);
  checks.equal('turns open before unload', before.summary.turns.open, 1);
  checks.equal('turn spans at the receiver', rec.turns.map((s) => s.attributes['earshot.outcome']), ['abandoned']);
  checks.equal('connection spans at the receiver', rec.connections.map((s) => s.attributes['earshot.outcome']), ['abandoned']);
  checks.check('the turn span carries the chunks read before unload', Number(rec.turns[0]?.attributes['earshot.chunks']) >= 1);
  checks.equal('spans received twice', rec.duplicates, 0);
  finish(checks, {
    group: 'telemetry',
    name,
    fault: 'a WebSocket turn streaming; the page is hidden, then navigates away',
    turns: `${before.summary.turns.started} / (unload) / ${rec.turns.length}`,
    outcomes: `${count(rec.turns.map((s) => String(s.attributes['earshot.outcome'])))}; ${count(rec.connections.map((s) => String(s.attributes['earshot.outcome'])))}`,
    appErrors: compareErrors(checks, undefined, errors),
    telemetry: `${rec.spans.length} of 2 spans / page gone`,
    note: 'the open turn and its connection are ended as abandoned on pagehide and sent with keepalive',
  });
});

// ---------------------------------------------------------------------------------------------
// Bad input

const sseRow = (name: string, fault: string, query: string, chunks: number, unmeasured?: RegExp[]) =>
  row(`bad input: ${name}`, () =>
    scenario(page, {
      group: 'bad input',
      name,
      fault,
      app: (p, mode) => runFetch(p, { url: chatSse(query), mode: mode as FetchRun['mode'] }),
      expected: { turns: ['complete'], connections: ['clean'], chunks: [chunks], unmeasured },
    }),
  );

sseRow('malformed SSE: no blank line', 'SSE of 5 `data:` lines and no blank line between events', 'kind=noblank', 1);
sseRow('malformed SSE: garbage bytes', 'chat SSE with invalid UTF-8, NULs, lone CRs, nameless fields and truncated JSON between events', 'kind=garbage', 5);
sseRow('malformed SSE: 1 MB line', 'one chat event of 1 MiB of content in a single line', 'kind=longline', 2);
sseRow(
  'SSE line over 16 MiB',
  'one chat event of 16 MiB + 60 bytes in a single line, then a short one',
  `kind=longline&bytes=${16 << 20}`,
  1,
  // The app reads the line whole; earshot skips it and says so.
  [/^RangeError: earshot: a line of 16777\d\d\d bytes, over the cap, was not measured$/],
);
sseRow('UTF-8 split mid-character', 'chat SSE of é, 😀, €, ü, every 7-byte write cut inside a character', 'kind=utf8&n=20', 20);
sseRow('chunk storm: 10k SSE events in one write', '10,000 chat events in one write (~560 KB)', 'kind=storm&n=10000', 10_000);

const wsRow = (name: string, fault: string, script: Record<string, unknown>, chunks: number, binaryType?: BinaryType) =>
  row(`bad input: ${name}`, () =>
    scenario(page, {
      group: 'bad input',
      name,
      fault,
      app: (p, mode) => runWs(p, { url: `${wsOrigin()}/ws`, mode, scripts: [script], binaryType }),
      expected: { turns: ['complete'], connections: ['abandoned'], chunks: [chunks] },
    }),
  );

wsRow('invalid JSON in a JSON adapter', 'WebSocket: 5 deltas among truncated, unquoted, unbalanced and non-object JSON texts', { kind: 'invalidjson' }, 5);
wsRow('binary frames where text is expected (arraybuffer)', 'WebSocket, binaryType arraybuffer: 5 text deltas among JSON-as-bytes, random, empty and truncated binary frames', { kind: 'binary' }, 7, 'arraybuffer');
wsRow('binary frames where text is expected (blob)', 'the same frames with binaryType blob (a Blob has no text to read synchronously: noise)', { kind: 'binary' }, 5, 'blob');
wsRow('a 16 MB message', 'WebSocket: one 16 MiB text message (a JSON delta)', { kind: 'big' }, 1);
wsRow('chunk storm: 10k WebSocket messages in a burst', 'WebSocket: 10,000 deltas sent back to back', { kind: 'storm', n: 10_000 }, 10_000);

row('bad input: PCM odd byte counts over WebSocket', () =>
  scenario(page, {
    group: 'bad input',
    name: 'PCM odd byte counts over WebSocket',
    fault: 'binary PCM16 frames of 961, 959, 1, 3, 1917 and 959 bytes (100 ms), played through the player',
    app: (p, mode) => runWs(p, { url: `${wsOrigin()}/ws`, mode, binaryType: 'arraybuffer', play: true, scripts: [{ kind: 'pcm', sizes: [961, 959, 1, 3, 1917, 959] }] }),
    expected: { turns: ['complete'], connections: ['clean'], chunks: [6] },
    more: (checks, s, earshot) => {
      const [turn] = s.reports;
      checks.check(`audio ms of the turn: ${turn?.audioMs} (4,800 bytes of 24 kHz PCM16: 100)`, Math.abs((turn?.audioMs ?? 0) - 100) < 1e-9);
      checks.check(`time to first audio heard: ${turn?.ttfaMs?.toFixed(1)} ms`, (turn?.ttfaMs ?? -1) > 0);
      const stats = (earshot as AppView & { player?: { jitterBufferEmittedCount: number } }).player;
      return `the player played it out (${stats?.jitterBufferEmittedCount ?? '?'} samples at the context's rate); TTFA ${turn?.ttfaMs?.toFixed(1)} ms`;
    },
  }),
);

/** A player row: the app pushes a stream's chunks in one task (offline: on the render clock, output checked). */
async function playerRow(
  page: Page,
  o: { name: string; fault: string; scenario: PlayerScenario; offline: boolean; gap?: string; check: (checks: Checks, r: PlayerResult) => string },
): Promise<void> {
  const ctx = await open(o.name);
  const checks = new Checks();
  const r: PlayerResult = await page.evaluate(([sc, off]) => window.faults.play(sc, off), [o.scenario, o.offline] as const);
  await flush(page);
  const errors = ctx.take();
  const appErrors = compareErrors(checks, undefined, errors);
  checks.check('the turn played out (stats event)', r.stats !== undefined);
  checks.equal('events', r.events.filter((e) => e !== 'underrun'), ['playing', 'stats']);
  if (o.offline) checks.equal('output samples that are not finite', r.nonFinite, 0);
  const note = o.check(checks, r);
  const cols = await account(ctx, checks, await state(page), o.offline ? { turns: [], connections: [] } : { turns: ['complete'], connections: [] });
  if (!o.offline) checks.check(`TTFA of the attached turn: ${r.turn?.ttfaMs?.toFixed(1)} ms`, (r.turn?.ttfaMs ?? -1) > 0);
  finish(checks, { group: 'bad input', name: o.name, fault: o.fault, ...cols, appErrors, gap: o.gap, note: `${note}; pushes took ${r.pushMs.toFixed(1)} ms` });
}

for (const offline of [true, false]) {
  row(`bad input: PCM with NaN/Inf (${offline ? 'offline' : 'live'})`, () =>
    playerRow(page, {
      name: `PCM with NaN/Inf (${offline ? 'offline render' : 'live, with a monitor turn'})`,
      fault: '10 Float32 chunks of 20 ms, each with NaN, +Inf, -Inf, +1e30 and -1e30',
      scenario: 'nan',
      offline,
      check: (checks, r) => {
        checks.equal('invalid samples counted', r.stats?.invalidSamples, 30);
        return `30 invalid samples replaced by silence and counted, ±1e30 clamped${offline ? `; ${r.nonSilent} samples of sound, none non-finite` : ''}`;
      },
    }),
  );
}

row('bad input: PCM odd byte counts (offline)', () =>
  playerRow(page, {
    name: 'PCM odd byte counts (offline render)',
    fault: '9,600 bytes of PCM16 pushed in chunks of 481, 479, 1, 3, 957, 2000, 1, 1, 4677 and 1000 bytes',
    scenario: 'odd',
    offline: true,
    check: (checks, r) => {
      checks.equal('samples emitted (every frame, none lost at a cut)', r.stats?.jitterBufferEmittedCount, r.frames);
      return `${r.frames} frames in, ${r.stats?.jitterBufferEmittedCount} out`;
    },
  }),
);

row('bad input: PCM at another sample rate', () =>
  playerRow(page, {
    name: 'PCM at another sample rate (16 kHz on a 24 kHz context)',
    fault: '10 chunks of 20 ms at 16 kHz into a 24 kHz context',
    scenario: 'resample',
    offline: true,
    check: (checks, r) => {
      const out = r.stats?.jitterBufferEmittedCount ?? 0;
      checks.check(`resampled to 24 kHz: ${out} samples out of ${r.frames} (x1.5 = ${r.frames * 1.5})`, Math.abs(out - r.frames * 1.5) <= 2);
      return `${r.frames} frames at 16 kHz played as ${out} at 24 kHz`;
    },
  }),
);

row('bad input: duplicate and out-of-order chunks', () =>
  playerRow(page, {
    name: 'duplicate and out-of-order chunks',
    fault: 'chunks with sequence numbers 0, 1, 2, 3, 3, 4, 5, 5, 6, 8, 7, 9',
    scenario: 'dup',
    offline: true,
    check: (checks, r) => {
      checks.equal('duplicates counted', r.stats?.packetsDuplicated, 2);
      checks.equal('late chunks discarded', r.stats?.packetsDiscarded, 1);
      checks.equal('samples emitted (10 chunks less the late one)', r.stats?.jitterBufferEmittedCount, 9 * 480);
      return '2 duplicates and 1 late chunk discarded and counted';
    },
  }),
);

row('bad input: chunk storm into the player', () =>
  playerRow(page, {
    name: 'chunk storm: 10k chunks into the player in one task',
    fault: '10,000 Float32 chunks of 12 samples (0.5 ms each) pushed in one task',
    scenario: 'storm',
    offline: true,
    check: (checks, r) => {
      checks.equal('pushes', r.pushes, 10_000);
      checks.equal('samples emitted', r.stats?.jitterBufferEmittedCount, r.frames);
      return `${r.frames} frames, all played`;
    },
  }),
);

// ---------------------------------------------------------------------------------------------
// Bad configuration: a clear error at init naming the option, a documented fallback, or a gap.

/** For each case: the option its error must name, or what happens today (exactly) and the gap it leaves. */
const CONFIG: Record<string, { names: string } | { today: RegExp; gap: string }> = {
  'createMonitor: unknown option `bogus`': { names: '"bogus"' },
  'createMonitor: slo.ttftMs -1': { names: 'slo.ttftMs' },
  'createMonitor: slo.tpotMs NaN': { names: 'slo.tpotMs' },
  'createMonitor: slo.objective 1.5': { names: 'slo.objective' },
  'createMonitor: slo.ttft (misspelt ttftMs) 300': { names: '"ttft"' },
  'createMonitor: stallMs -5': { names: 'stallMs' },
  'otel: unknown option `bogus`': { names: '"bogus"' },
  'otel: url "not a url"': { names: 'url' },
  'otel: url "ftp://collector"': { names: 'url' },
  'otel: exportTimeoutMs NaN': { names: 'exportTimeoutMs' },
  'otel: maxQueue -1': { names: 'maxQueue' },
  'otel: serviceName missing': { names: 'serviceName' },
  'createPlayer: workletUrl that 404s': { names: 'workletUrl ./missing-worklet.js' },
  'createPlayer: unknown option `bogus`': { names: '"bogus"' },
  'createPlayer: sampleRate NaN': { names: 'sampleRate' },
  'createPlayer: maxDelayMs -100': { names: 'maxDelayMs' },
  'adapters.pcm: sampleRate 0': { names: 'sampleRate' },
  'adapters.json: unknown option `contents`': { names: '"contents"' },
  'createMonitor: deadlineMs -5': { names: 'deadlineMs' },
};

row('configuration: each mistake at init', async () => {
  await open('configuration');
  const cases: ConfigCase[] = await page.evaluate(() => window.faults.config());
  const errors = take();
  const outer = new Checks();
  outer.equal('cases', cases.map((c) => c.name), Object.keys(CONFIG));
  for (const c of cases) {
    const want = CONFIG[c.name];
    if (!want) continue;
    const ok =
      'names' in want
        ? outer.check(`${c.name}: a clear error naming ${want.names} (${c.result})`, c.result.startsWith('threw') && c.result.includes(want.names))
        : outer.check(`${c.name}: as documented (${c.result})`, want.today.test(c.result));
    rows.push({
      group: 'configuration',
      name: c.name,
      fault: 'at init',
      turns: '-',
      outcomes: c.result,
      appErrors: '-',
      telemetry: '-',
      heap: '-',
      verdict: !ok ? 'FAIL' : 'gap' in want ? 'GAP' : 'PASS',
      note: 'gap' in want ? want.gap : undefined,
    });
  }
  outer.equal('uncaught errors', errors.uncaught, []);
  // The 404 of the missing worklet module is the only console error the browser may log.
  outer.check(`console errors: ${errors.console.join(' | ')}`, errors.console.every((e) => e.includes('404')));
  expect(outer.failed).toEqual([]);
});

// ---------------------------------------------------------------------------------------------
// Load

row('load: 200 concurrent streams', async () => {
  const name = `${CONCURRENT} concurrent streams`;
  const ctx = await open(name, TELEMETRY);
  const checks = new Checks();
  const from = await page.evaluate(() => performance.now());
  const r = await page.evaluate(([u, n]) => window.faults.concurrent(u, n, { kind: 'chat', n: 10, gap: 100 }), [`${wsOrigin()}/ws?id=concurrent`, CONCURRENT] as const);
  const s = await settle(page, CONCURRENT);
  const { own } = await earshotTasks(from);
  await flush(page);
  const errors = ctx.take();
  const appErrors = compareErrors(checks, undefined, errors);
  // Their 400 spans leave a request's worth per task as they accumulate, never all at once in the
  // app's event that ended the last. What one such task costs is wall time, which a saturated
  // machine stretches: over LONG_TASK_MS the row says so (GAP) rather than fail the accounting.
  const longest = Math.max(0, ...own.map((x) => x.duration));
  checks.equal('streams done', r.done, CONCURRENT);
  checks.equal("the app's own peak of open sockets", r.peak, CONCURRENT);
  checks.equal('summary peak', s.summary.connections.peak, r.peak);
  const cols = await account(ctx, checks, await state(page), { turns: Array(CONCURRENT).fill('complete'), connections: Array(CONCURRENT).fill('abandoned') });
  checks.equal("receiver's earshot.connections.peak", cols.rec.peak, r.peak);
  finish(checks, {
    group: 'load',
    name,
    fault: `${CONCURRENT} WebSockets opened at once in one page, each streaming 10 deltas 100 ms apart`,
    ...cols,
    appErrors,
    note: `peak ${r.peak} in the app, in summary() and at the receiver (earshot.connections.peak); earshot's own tasks over 5 ms in long frames: ${describeTasks(own)}`,
    ...(longest >= LONG_TASK_MS && {
      gap: `a task of earshot's ran ${longest.toFixed(0)} ms: an export of one request's worth of spans (about 24 KiB, serialized twice: to measure, then to send) stretched by the machine's load; on an idle machine none reaches 5 ms in a long frame`,
    }),
  });
});

row(
  'load: 10k content chunks/s for 30 s',
  async () => {
    const name = '10k content chunks/s for 30 s';
    const ctx = await open(name, TELEMETRY);
    const checks = new Checks();
    const windows: LoadWindow[] = await page.evaluate(([u, m, sec, rate]) => window.faults.load(u, m, sec, rate), [`${wsOrigin()}/ws`, LOAD_MODES, LOAD_WINDOW_S, LOAD_RATE] as const);
    const s = await settle(page, 3);
    await flush(page);
    const errors = ctx.take();
    const appErrors = compareErrors(checks, undefined, errors);
    const { longTasks } = await page.evaluate(() => window.faults.timeline());
    for (const w of windows) checks.equal(`${w.mode} window: content counted by the app = sent`, w.counted, w.sent);
    const earshotWindows = windows.filter((w) => w.mode === 'earshot');
    checks.equal('chunks in the turn reports = sent', s.reports.map((t) => t.chunks), earshotWindows.map((w) => w.sent));
    // Long tasks by window (native ones are the control), and earshot's own tasks in them.
    const inWindows = (mode: string) => longTasks.filter((t) => windows.some((w) => w.mode === mode && t.start >= w.start && t.start < w.end));
    const { own, batches } = await earshotTasks(windows[0].start, windows.at(-1)!.end);
    const max = (t: Array<{ duration: number }>) => Math.max(0, ...t.map((x) => x.duration));
    const native = inWindows('native');
    const instrumented = inWindows('earshot');
    const cols = await account(ctx, checks, await state(page), { turns: ['complete', 'complete', 'complete'], connections: ['abandoned', 'abandoned', 'abandoned'] });
    // A task the machine stretched past the bar (a GC or the OS preempting the page: seen once in
    // CI, 73 ms on a socket's close handler that otherwise never reaches 5 ms) is measured again in
    // one more window of earshot's, socket close included. A cost of earshot's recurs there.
    let again = '';
    let longest = max(own);
    if (longest >= LONG_TASK_MS) {
      await open(`${name} again`, TELEMETRY);
      const [w] = await page.evaluate(([u, sec, rate]) => window.faults.load(u, ['earshot'], sec, rate), [`${wsOrigin()}/ws`, LOAD_WINDOW_S, LOAD_RATE] as const);
      await settle(page, 1);
      const retry = await earshotTasks(w.start);
      again = `; measured again over one more window: ${describeTasks(retry.own)}`;
      longest = max(retry.own);
    }
    checks.check(`no task of earshot's own ran ${LONG_TASK_MS} ms or more: ${describeTasks(own)}${again}`, longest < LONG_TASK_MS);
    const rate = (w: LoadWindow) => (w.sent / ((w.end - w.start) / 1000)).toFixed(0);
    finish(checks, {
      group: 'load',
      name,
      fault: `${LOAD_RATE} WebSocket deltas/s in 6 alternating windows of ${LOAD_WINDOW_S} s: native, earshot (${windows.reduce((n, w) => n + w.sent, 0)} messages)`,
      ...cols,
      appErrors,
      note: `long tasks (all of them WebSocket message batches): native windows ${native.length} (longest ${max(native).toFixed(0)} ms), earshot windows ${instrumented.length} (longest ${max(instrumented).toFixed(0)} ms); earshot's own tasks over 5 ms in long frames: ${describeTasks(own)}${again}; message batches whose first listener was earshot's: ${batches}. Delivered rates/s: ${windows.map((w) => `${w.mode} ${rate(w)}`).join(', ')} (the page reads slower than 10k/s when the machine is busy, natively too)`,
    });
  },
  180_000,
);

// ---------------------------------------------------------------------------------------------
// Security and privacy

row('security: trace context only to allowed origins', async () => {
  const name = 'trace context only to allowed origins';
  const [, allowed, third] = server.origins;
  const ctx = await open(name, { allow: [allowed] });
  const checks = new Checks();
  for (const [i, origin] of server.origins.entries()) await runFetch(page, { url: `${origin}/echo?id=tp-fetch-${i}`, mode: 'earshot' });
  for (const i of [1, 2]) await runWs(page, { url: `${wsOrigin(i)}/ws?id=tp-ws-${i}`, mode: 'earshot', scripts: [{ kind: 'chat', n: 2 }] });
  const s = await settle(page, 5);
  await flush(page);
  const errors = ctx.take();
  const traceparent = (id: string) => server.seen(id).map((r) => String(r.headers.traceparent ?? (/[?&]traceparent=/.test(r.url) ? 'in url' : r.headers['access-control-request-headers']?.includes('traceparent') ? 'preflight' : 'none')));
  checks.check(`same origin fetch carries it: ${traceparent('tp-fetch-0')}`, /^00-/.test(traceparent('tp-fetch-0')[0] ?? ''));
  checks.check(`allowed origin ${allowed} fetch carries it: ${traceparent('tp-fetch-1')}`, traceparent('tp-fetch-1').some((t) => /^00-/.test(t)));
  checks.equal(`third party ${third} fetch`, traceparent('tp-fetch-2'), ['none']);
  checks.equal('allowed origin WebSocket', traceparent('tp-ws-1'), ['in url']);
  checks.equal('third party WebSocket', traceparent('tp-ws-2'), ['none']);
  const appErrors = compareErrors(checks, undefined, errors);
  const cols = await account(ctx, checks, s, { turns: ['complete', 'complete', 'complete', 'complete', 'complete'], connections: ['clean', 'clean', 'clean', 'abandoned', 'abandoned'] });
  finish(checks, { group: 'security', name, fault: `fetch to the page's origin, an allowed origin and a third party; WebSockets to the latter two`, ...cols, appErrors, note: 'traceparent on same-origin and allowed requests (header; WebSocket: URL query), none to the third party, not even in a preflight' });
});

row('security: secrets and payloads stay out of telemetry', async () => {
  const name = 'secrets and payloads stay out of telemetry';
  const ctx = await open(name);
  const checks = new Checks();
  const tokens = ['TOK-token-1', 'TOK-apikey-2', 'TOK-sig-3', 'TOK-fragment-4', 'TOK-key-5', 'TOK-authorization-6', 'TOK-password-7'];
  const fetchUrl = `${server.origins[0]}/sse?kind=secret&id=sec-fetch&token=${tokens[0]}&api_key=${tokens[1]}&sig=${tokens[2]}#access_token=${tokens[3]}`;
  const wsUrl = `${wsOrigin()}/ws?id=sec-ws&key=${tokens[4]}&authorization=${tokens[5]}&password=${tokens[6]}`;
  await runFetch(page, { url: fetchUrl, mode: 'earshot' });
  await runWs(page, { url: wsUrl, mode: 'earshot', scripts: [{ kind: 'secret' }], giveUpMs: 1000 });
  const s = await settle(page, 2);
  await flush(page);
  const errors = ctx.take();
  // Everything the receiver holds, all services: spans, metrics, logs.
  const stored = JSON.stringify([receiver.spans(), receiver.metrics(), receiver.logs()]);
  const audio = Buffer.from(SECRETS.audio.repeat(4)).toString('base64');
  const leaks = [...tokens, SECRETS.payload, SECRETS.error, SECRETS.audio, audio.slice(0, 24)].filter((secret) => stored.includes(secret));
  checks.equal('secrets found in stored telemetry', leaks, []);
  const urls = received(ctx.service).spans.map((x) => String(x.attributes['url.full'] ?? '')).filter(Boolean);
  checks.check(`URLs redacted: ${urls.join(' ')}`, urls.length === 4 && urls.every((u) => u.includes('REDACTED')));
  checks.check('the app still sees the error text in its own report', s.reports[1]?.reason === SECRETS.error);
  const appErrors = compareErrors(checks, undefined, errors);
  const cols = await account(ctx, checks, s, { turns: ['complete', 'error'], connections: ['clean', 'abandoned'] });
  finish(checks, {
    group: 'security',
    name,
    fault: 'secrets in URL queries and fragments (token, api_key, sig, access_token, key, authorization, password); payload text, base64 audio and an error message carrying secrets',
    ...cols,
    appErrors,
    note: `none of ${tokens.length} URL secrets, the payload, the audio or the error text in ${stored.length} bytes of stored telemetry`,
  });
});

row('security: strict CSP', async () => {
  const name = 'strict CSP';
  const ctx = await open(name);
  const checks = new Checks();
  const probe = await page.evaluate(() => window.faults.cspProbe());
  checks.check(`eval refused: ${probe.eval}`, probe.eval.startsWith('refused'));
  checks.check(`blob: worklet refused: ${probe.blobWorklet}`, probe.blobWorklet.startsWith('refused'));
  const r: PlayerResult = await page.evaluate(() => window.faults.play('nan', false));
  checks.check('the worklet played (from its file)', r.events.includes('playing'));
  await flush(page);
  const errors = ctx.take();
  const appErrors = compareErrors(checks, undefined, errors);
  const cols = await account(ctx, checks, await state(page), { turns: ['complete'], connections: [] });
  checks.equal('the exporter delivered the turn', cols.rec.turns.length, 1);
  finish(checks, {
    group: 'security',
    name,
    fault: "default-src 'self'; script-src 'self' (no unsafe-eval, no blob:) as a response header",
    ...cols,
    appErrors,
    note: `policy enforced (eval ${probe.eval}, blob: worklet ${probe.blobWorklet}); earshot, the worklet and the exporter ran with no violation in any row`,
  });
});
