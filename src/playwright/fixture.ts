/**
 * The Playwright fixture: collects every turn the pages of a test report, shapes the network, and
 * asserts SLOs. Turns reach the test through a hook the fixture installs in every document before
 * the app's scripts run; each monitor `createMonitor` makes there registers with it, and each of
 * its turn reports is sent to the test as it ends, so turns survive navigations and popups.
 */
import { test as base, expect as baseExpect, type BrowserContext, type CDPSession, type ExpectMatcherState, type MatcherReturnType, type Page } from '@playwright/test';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Monitor, MonitorOptions } from '../monitor';
import type { Adapter, SloOptions, Summary, TurnReport } from '../core/types';
import { startShapingProxy, type ShapingProxy, type ShapingProxyOptions } from './shaping';
import { checkSlo, formatVerdict, type SloAssertion } from './slo';

/** Key of the page hook: `globalThis[Symbol.for('earshot')]`, shared with `createMonitor`. */
const HOOK_KEY = 'earshot';
/** Name of the binding through which the page hands each turn report to the test. */
const BINDING = 'earshotReport';

/**
 * The page hook, a function: `createMonitor` calls it with the app's options and uses the options it
 * returns, in which the hook listens to every turn report and learns the monitor (its sink's `attach`).
 */
export interface PageHook {
  (options: MonitorOptions): MonitorOptions;
  /** Every monitor made in this document, in order. */
  readonly monitors: Monitor[];
}

/** Adapter factories that take no argument, by name, for an injected monitor. */
export type AdapterName = 'raw' | 'sse' | 'ndjson' | 'openaiRealtime';

export interface EarshotOptions {
  /**
   * Put earshot in every page of the test: the script-tag build and `patchGlobals()`, before the
   * app's own scripts. For apps that do not use earshot themselves (one that does would be counted twice).
   */
  inject?: boolean;
  /** The injected monitor's SLO (an app's own monitor has its own). */
  slo?: SloOptions;
  /** The injected monitor's stall threshold, ms. */
  stallMs?: number;
  /** The injected monitor records this many chunk times per turn. */
  chunkTimes?: number;
  /** The injected monitor fails a turn with no reply for this long (ms) as an error. */
  deadlineMs?: number;
  /** The injected monitor's redacted query parameters. */
  redact?: string[];
  /** How the injected monitor reads the app's streams (default: SSE and NDJSON by content type, every message otherwise). */
  adapter?: AdapterName;
  /** Path of the script-tag build to inject; default the `earshot.iife.js` installed with this package. */
  script?: string;
}

/**
 * Chromium's own network emulation (CDP), for every page of the test. It delays each HTTP response's
 * headers and a WebSocket's opening handshake (not its frames), caps throughput (WebSocket frames
 * included), and loses packets on WebRTC only. Per-message jitter needs the shaping proxy.
 */
export interface NetworkConditions {
  /** Added between a request and its response headers, and to a WebSocket's handshake, ms. */
  latencyMs?: number;
  /** Download throughput cap, kilobits per second (WebSocket frames included). */
  downloadKbps?: number;
  /** Upload throughput cap, kilobits per second. */
  uploadKbps?: number;
  /** WebRTC packet loss, percent (0-100); Chromium applies it to peer connections only. */
  packetLossPercent?: number;
  /**
   * Offline: requests fail, `navigator.onLine` is false, and open WebSockets stall (frames are held,
   * not dropped) until online again. With `urlPattern`, only matching requests fail.
   */
  offline?: boolean;
  /** Only requests matching this URLPattern (absolute, e.g. `http://127.0.0.1:*\/api/*`) are shaped. */
  urlPattern?: string;
}

export interface WaitOptions {
  /** ms; default 10 000. */
  timeout?: number;
}

export interface EarshotFixture {
  /** Every turn reported so far by any page or frame of the test's context, in the order they ended. */
  turns(): Promise<TurnReport[]>;
  /** The page's monitor's own summary (the first monitor made in its current document). */
  summary(page?: Page): Promise<Summary>;
  /** Resolves with the turns once at least `count` have been reported; rejects after the timeout, listing those that were. */
  waitForTurns(count: number, options?: WaitOptions): Promise<TurnReport[]>;
  /** Replaces the network conditions of every page of the context (undefined: none). */
  shape(conditions: NetworkConditions | undefined): Promise<void>;
  /** Starts a shaping proxy (jitter per chunk and frame) that closes when the test ends. */
  shapingProxy(options: ShapingProxyOptions): Promise<ShapingProxy>;
}

/** What the script-tag build defines (`var Earshot`), as the page-side setup uses it. */
interface ScriptTagBuild {
  createMonitor(options: object): Monitor;
  adapters: Record<AdapterName, () => Adapter>;
}

/** What the page-side setup needs: everything is passed in, so the function serialises on its own. */
interface SetupArgs {
  key: string;
  binding: string;
  inject?: { options: Pick<EarshotOptions, 'slo' | 'stallMs' | 'chunkTimes' | 'deadlineMs' | 'redact'>; adapter?: AdapterName };
}

/**
 * Runs in each document before the app's scripts (an init script: serialised, so it refers to
 * nothing outside itself). The injected monitor is made before the hook exists and reports through
 * its own `onTurn`; monitors the app makes later register through the hook.
 */
function pageSetup({ key, binding, inject }: SetupArgs, earshot?: ScriptTagBuild): void {
  const g = globalThis as unknown as Record<string | symbol, unknown>;
  const symbol = Symbol.for(key);
  if (g[symbol]) return;
  const report = (turn: TurnReport): void => {
    const send = g[binding] as ((turn: TurnReport) => Promise<void>) | undefined;
    // A page that closes with a report in flight loses it: nothing to tell the app.
    send?.(turn).catch(() => undefined);
  };
  const monitors: Monitor[] = [];
  if (inject && earshot) {
    const monitor = earshot.createMonitor({ ...inject.options, onTurn: report });
    monitor.patchGlobals(inject.adapter ? { adapter: earshot.adapters[inject.adapter]() } : undefined);
    monitors.push(monitor);
  }
  // The app's callbacks run as they would without the hook, its errors included.
  const hook = (options: MonitorOptions): MonitorOptions => ({
    ...options,
    onTurn: (turn) => {
      report(turn);
      options.onTurn?.(turn);
    },
    sink: {
      ...options.sink,
      attach: (monitor) => {
        monitors.push(monitor);
        options.sink?.attach?.(monitor);
      },
    },
  });
  Object.defineProperty(g, symbol, { value: Object.assign(hook, { monitors }), configurable: true });
}

/** The script-tag build shipped next to the `earshot` entry point. */
const defaultScript = (): string => fileURLToPath(new URL('./earshot.iife.js', import.meta.resolve('earshot')));

const kbps = (v: number | undefined): number => (v ? (v * 1000) / 8 : -1);

/** Applies `conditions` to one page through its own CDP session. */
async function shapePage(session: CDPSession, conditions: NetworkConditions | undefined): Promise<void> {
  const c = conditions ?? {};
  const rule = {
    urlPattern: c.urlPattern ?? '',
    latency: c.latencyMs ?? 0,
    downloadThroughput: kbps(c.downloadKbps),
    uploadThroughput: kbps(c.uploadKbps),
    packetLoss: c.packetLossPercent ?? 0,
    // Offline for every request is the context's (navigator.onLine follows it); for a pattern, the rule's.
    ...(c.urlPattern ? { offline: !!c.offline } : {}),
  };
  const shaped = !!(rule.latency || c.downloadKbps || c.uploadKbps || rule.packetLoss || rule.offline);
  try {
    // Rules shape requests by URL and leave navigator state alone; older Chromium has only the global form.
    await session.send('Network.emulateNetworkConditionsByRule', { matchedNetworkConditions: shaped ? [rule] : [] });
  } catch (error) {
    if (c.urlPattern) throw new Error(`earshot: this Chromium cannot shape by urlPattern (${String(error)})`);
    await session.send('Network.emulateNetworkConditions', { offline: false, ...rule });
  }
}

/** The fixture's state for one test. */
class Collector implements EarshotFixture {
  readonly #turns: TurnReport[] = [];
  readonly #waiters = new Set<() => void>();
  readonly #sessions = new Map<Page, Promise<CDPSession>>();
  readonly #proxies: ShapingProxy[] = [];
  #conditions: NetworkConditions | undefined;

  constructor(
    private readonly context: BrowserContext,
    private readonly page: Page,
  ) {}

  receive(turn: TurnReport | undefined): void {
    if (!turn) return;
    this.#turns.push(turn);
    for (const wake of this.#waiters) wake();
  }

  /** Waits until every report a page sent before now has been received. */
  async #flush(): Promise<void> {
    // Binding calls are handled in order: a last, empty one returns after those before it.
    await Promise.all(
      this.context.pages().map((p) =>
        p.evaluate((name) => (globalThis as unknown as Record<string, (t?: unknown) => Promise<void>>)[name]?.(), BINDING).catch(() => undefined),
      ),
    );
  }

  async turns(): Promise<TurnReport[]> {
    await this.#flush();
    return [...this.#turns];
  }

  async summary(page: Page = this.page): Promise<Summary> {
    const summary = await page.evaluate(
      (key) => (globalThis as unknown as Record<symbol, PageHook | undefined>)[Symbol.for(key)]?.monitors[0]?.summary(),
      HOOK_KEY,
    );
    if (!summary) {
      throw new Error(
        'earshot: no monitor in this page. Set `earshotOptions: { inject: true }` for an app that does not use earshot, or have the app call createMonitor().',
      );
    }
    return summary;
  }

  async waitForTurns(count: number, { timeout = 10_000 }: WaitOptions = {}): Promise<TurnReport[]> {
    if (this.#turns.length < count) {
      await new Promise<void>((resolve, reject) => {
        const wake = (): void => {
          if (this.#turns.length < count) return;
          clearTimeout(timer);
          this.#waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(() => {
          this.#waiters.delete(wake);
          const seen = this.#turns.length ? `:\n  ${this.#turns.map((t) => `${t.id} ${t.transport} ${t.url ?? ''} ${t.outcome}`).join('\n  ')}` : '';
          reject(new Error(`earshot: waited ${timeout} ms for ${count} turns, ${this.#turns.length} reported${seen}`));
        }, timeout);
        this.#waiters.add(wake);
      });
    }
    return [...this.#turns];
  }

  async shape(conditions: NetworkConditions | undefined): Promise<void> {
    this.#conditions = conditions;
    await this.context.setOffline(!!conditions?.offline && !conditions.urlPattern);
    await Promise.all(this.context.pages().map((p) => this.shapeNew(p)));
  }

  /** Applies the current conditions to a page (a new one, or all on a change). */
  async shapeNew(page: Page): Promise<void> {
    let session = this.#sessions.get(page);
    if (!session) {
      session = this.context.newCDPSession(page).then(async (s) => {
        await s.send('Network.enable');
        return s;
      });
      // A page closing before its session opens: the failure goes to whoever awaits it, and only there.
      session.catch(() => undefined);
      this.#sessions.set(page, session);
    }
    await shapePage(await session, this.#conditions);
  }

  get shaped(): boolean {
    return this.#conditions !== undefined;
  }

  async shapingProxy(options: ShapingProxyOptions): Promise<ShapingProxy> {
    const proxy = await startShapingProxy(options);
    this.#proxies.push(proxy);
    return proxy;
  }

  async dispose(): Promise<TurnReport[]> {
    await Promise.all(this.#proxies.map((p) => p.close()));
    await Promise.all([...this.#sessions.values()].map(async (s) => (await s).detach().catch(() => undefined)));
    return this.#turns;
  }
}

export interface EarshotTestOptions {
  /** How the fixture puts earshot in the page; see `EarshotOptions`. */
  earshotOptions: EarshotOptions;
  /** Network conditions applied to every page before the test body runs. */
  network: NetworkConditions | undefined;
}

export const test = base.extend<EarshotTestOptions & { earshot: EarshotFixture }>({
  earshotOptions: [{}, { option: true }],
  network: [undefined, { option: true }],
  earshot: async ({ context, page, earshotOptions: o, network }, use, testInfo) => {
    const collector = new Collector(context, page);
    await context.exposeBinding(BINDING, (_source, turn?: TurnReport) => collector.receive(turn));
    const args: SetupArgs = {
      key: HOOK_KEY,
      binding: BINDING,
      inject: o.inject ? { options: { slo: o.slo, stallMs: o.stallMs, chunkTimes: o.chunkTimes, deadlineMs: o.deadlineMs, redact: o.redact }, adapter: o.adapter } : undefined,
    };
    // Playwright runs an init script inside a function: the build's `var Earshot` is a local there.
    const script = o.inject ? `${await readFile(o.script ?? defaultScript(), 'utf8')}\n;` : '';
    const earshotVar = o.inject ? 'Earshot' : 'undefined';
    await context.addInitScript({ content: `${script}(${pageSetup.toString()})(${JSON.stringify(args)}, ${earshotVar});` });
    const onPage = (p: Page): void => void (collector.shaped && collector.shapeNew(p).catch(() => undefined));
    context.on('page', onPage);
    if (network) await collector.shape(network);
    await use(collector);
    context.off('page', onPage);
    const turns = await collector.dispose();
    if (turns.length && testInfo.status !== testInfo.expectedStatus) {
      await testInfo.attach('earshot-turns.json', { body: JSON.stringify(turns, null, 2), contentType: 'application/json' });
    }
  },
});

/** What `expect(...).toMeetSLO()` takes: the fixture, or turns picked from it. */
export type SloSubject = EarshotFixture | readonly TurnReport[];

export const expect = baseExpect.extend({
  async toMeetSLO(this: ExpectMatcherState, received: SloSubject, slo: SloAssertion): Promise<MatcherReturnType> {
    const turns = Array.isArray(received) ? (received as readonly TurnReport[]) : await (received as EarshotFixture).turns();
    const verdict = checkSlo(turns, slo);
    const hint = this.utils.matcherHint('toMeetSLO', 'earshot', 'slo', { isNot: this.isNot });
    return {
      name: 'toMeetSLO',
      pass: verdict.pass,
      expected: slo,
      actual: verdict.checks,
      message: () => `${hint}\n\n${this.isNot ? 'Expected the SLO to be missed, but it was met.\n' : ''}${formatVerdict(verdict)}`,
    };
  },
});
