/**
 * earshot/otel in real Chromium: an app bundled by Vite (e2e/pages/otel.html, importing `earshot` and
 * `earshot/otel` as built) talks to a backend traced with the Node SDK (e2e/otel-server.ts); both
 * export to the embedded OTLP receiver, where each client turn must meet the server span it caused.
 */
import { expect, test } from '@playwright/test';
import type { ReceivedMetric, ReceivedSpan, Receiver } from '../demo/receiver';
import { SERVER_SERVICE, startOtelApp, type OtelApp, type OtelServer } from './otel-server';

let app: OtelApp;
let receiver: Receiver;
let server: OtelServer;

test.describe.configure({ mode: 'serial' });

test.beforeAll(async ({}, info) => {
  info.setTimeout(240_000);
  app = await startOtelApp('otel-app');
  ({ receiver, server } = app);
});

test.afterAll(() => app?.close());

test.beforeEach(() => receiver.clear());

// By service: a page closed by the test before may still deliver its last export after the clear.
const spansOf = (service: string, name?: string): ReceivedSpan[] =>
  receiver.spans({ name }).filter((s) => s.resource['service.name'] === service);
const metricsOf = (service: string, name: string): ReceivedMetric[] =>
  receiver.metrics({ name }).filter((m) => m.resource['service.name'] === service);

/** The spans of `service` named `name`, once `count` of them have arrived. */
async function awaitSpans(service: string, name: string, count: number): Promise<ReceivedSpan[]> {
  await expect.poll(() => spansOf(service, name).length, { timeout: 15_000 }).toBeGreaterThanOrEqual(count);
  return spansOf(service, name);
}

const byTurnId = (spans: ReceivedSpan[], id: string) => spans.find((s) => s.attributes['earshot.turn.id'] === id)!;
const byConnectionId = (spans: ReceivedSpan[], id: string) => spans.find((s) => s.attributes['earshot.connection.id'] === id)!;
/** Epoch ms of a span time, to 1 µs. */
const epochMs = (nanos: string) => Number(BigInt(nanos) / 1000n) / 1000;

/** The latest value of a metric's point whose attributes include `attributes`. */
function latestPoint(metrics: ReceivedMetric[], attributes: Record<string, unknown> = {}) {
  const points = metrics.flatMap((m) => m.points).filter((p) => Object.entries(attributes).every(([k, v]) => p.attributes[k] === v));
  return points.at(-1);
}

test('fetch/SSE: the server span is a child of the client turn span, which links back to it through Server-Timing', async ({ page }) => {
  const service = 'otel-sse';
  await app.open(page, { service });
  await page.evaluate((url) => window.app.fetchText(url), `${server.origin}/sse?n=5&gap=10&infer=30`);
  await page.evaluate(() => window.app.flush());
  const [report] = await page.evaluate(() => window.app.reports());

  const turn = (await awaitSpans(service, 'earshot.turn', 1))[0];
  const connection = (await awaitSpans(service, 'earshot.connection', 1))[0];
  const backend = (await awaitSpans(SERVER_SERVICE, 'sse turn', 1)).find((s) => s.traceId === turn.traceId);
  expect(backend, 'server span in the client trace').toBeDefined();
  expect(backend!.parentSpanId).toBe(turn.spanId);
  expect(turn.parentSpanId).toBe(connection.spanId);
  expect(connection.parentSpanId).toBe('');
  expect([turn.kind, connection.kind, backend!.kind]).toEqual([3, 3, 2]);
  expect(turn.links.map((l) => [l.traceId, l.spanId])).toEqual([[backend!.traceId, backend!.spanId]]);

  // TTFT split by the server's inference time; the span carries the turn's own times.
  expect(turn.attributes['earshot.ttft_ms']).toBe(report.ttftMs);
  expect(turn.attributes['earshot.server_timing.inference_ms']).toBe(30);
  expect(turn.attributes['earshot.ttft.server_ms']).toBe(30);
  expect(turn.attributes['earshot.ttft.network_ms']).toBeCloseTo(report.ttftMs! - 30, 9);
  expect(epochMs(turn.startTimeUnixNano)).toBeCloseTo(report.startTime, 2);
  expect(epochMs(turn.endTimeUnixNano)).toBeCloseTo(report.startTime + report.e2eMs!, 2);
  expect(turn.events.map((e) => e.name)).toEqual(['earshot.first_byte', 'earshot.first_content', 'earshot.end']);
  expect(epochMs(turn.events[1].timeUnixNano)).toBeCloseTo(report.startTime + report.ttftMs!, 2);
  expect(turn.attributes['earshot.chunks']).toBe(5);
  expect(turn.attributes['earshot.outcome']).toBe('complete');
});

for (const carrier of ['query', 'protocol'] as const) {
  test(`WebSocket, ${carrier} carrier: server connection and turn spans are children of the client's`, async ({ page }) => {
    const service = `otel-ws-${carrier}`;
    await app.open(page, { service, carrier, messageField: 'traceparent' });
    const wsUrl = `${server.origin.replace('http', 'ws')}/ws`;
    const protocol = await page.evaluate(
      ([url, protocols]) => window.app.ws(url, protocols, [{ n: 3, gap: 10 }, { n: 2, gap: 10 }]),
      [wsUrl, ['chat.v1']] as [string, string[]],
    );
    // The app's protocol was negotiated, never the trace entry.
    expect(protocol).toBe('chat.v1');
    await page.evaluate(() => window.app.flush());

    const connection = (await awaitSpans(service, 'earshot.connection', 1))[0];
    const turns = await awaitSpans(service, 'earshot.turn', 2);
    const serverConnection = (await awaitSpans(SERVER_SERVICE, 'ws connection', 1)).find((s) => s.traceId === connection.traceId);
    expect(serverConnection?.parentSpanId, 'server connection span under the client connection span').toBe(connection.spanId);
    await expect.poll(() => receiver.trace(connection.traceId).filter((s) => s.name === 'ws turn').length).toBe(2);
    const serverTurns = receiver.trace(connection.traceId).filter((s) => s.name === 'ws turn');
    for (const [i, id] of ['t1', 't2'].entries()) {
      const client = byTurnId(turns, id);
      expect(client.parentSpanId).toBe(connection.spanId);
      expect(serverTurns[i].parentSpanId, `server turn ${i + 1} under client turn ${id}`).toBe(client.spanId);
    }
    // The carrier is not part of the URL earshot reports.
    expect(connection.attributes['url.full']).toBe(wsUrl);
  });
}

test('cross-origin fetch carries traceparent only to allowed origins', async ({ page }) => {
  const echo = async (url: string) => JSON.parse(await page.evaluate((u) => window.app.fetchText(u), url)) as { traceparent: string | null };
  await app.open(page, { service: 'otel-cors' });
  expect((await echo(`${server.origin}/echo`)).traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  expect((await echo(`${server.secondOrigin}/echo`)).traceparent).toBeNull();

  const allowed = `/^${server.secondOrigin.replace(/[.:/]/g, '\\$&')}\\//`;
  await app.open(page, { service: 'otel-cors-allowed', allow: [allowed] });
  const { traceparent } = await echo(`${server.secondOrigin}/echo`);
  await page.evaluate(() => window.app.flush());
  const turn = (await awaitSpans('otel-cors-allowed', 'earshot.turn', 1))[0];
  expect(traceparent).toBe(`00-${turn.traceId}-${turn.spanId}-01`);
});

test('one resource on every signal: spans and metrics carry the same service', async ({ page }) => {
  const service = 'otel-resource';
  await app.open(page, { service });
  await page.evaluate((url) => window.app.fetchText(url), `${server.origin}/sse?n=2&gap=5`);
  await page.evaluate(() => window.app.flush());
  const [span] = await awaitSpans(service, 'earshot.turn', 1);
  await expect.poll(() => metricsOf(service, 'earshot.turns').length, { timeout: 15_000 }).toBeGreaterThan(0);
  const [metric] = metricsOf(service, 'earshot.turns');
  const expected = { 'service.name': service, 'service.version': '1.2.3', 'deployment.environment.name': 'e2e' };
  expect(span.resource).toMatchObject(expected);
  expect(metric.resource).toMatchObject(expected);
  expect(metric.points).toEqual([
    expect.objectContaining({ value: 1, attributes: { transport: 'fetch', outcome: 'complete', 'slo.good': true } }),
  ]);
});

test('collector answers 503 with Retry-After, then recovers: nothing lost, nothing twice', async ({ page }) => {
  const service = 'otel-503';
  const retryAfterS = 4;
  await app.open(page, { service });
  for (let i = 0; i < 3; i++) await page.evaluate((url) => window.app.fetchText(url), `${server.origin}/sse?n=2&gap=5`);
  // The backend exports too: the failures are for the page's requests once the backend's are in.
  await awaitSpans(SERVER_SERVICE, 'sse turn', 3);
  const armed = Date.now();
  await receiver.fail({ status: 503, retryAfterS }, { times: 2 });
  await page.evaluate(() => window.app.flush());

  expect(receiver.requests.failed).toBe(2);
  // A refused export came back no sooner than asked: the default backoff (1 s, then 1.5 s, +-20%)
  // would have retried twice within 3 s.
  const arrivals = [...receiver.spans(), ...receiver.metrics()].map((item) => item.receivedAtMs);
  expect(Math.max(...arrivals) - armed).toBeGreaterThanOrEqual(retryAfterS * 1000);
  const turns = await awaitSpans(service, 'earshot.turn', 3);
  const connections = await awaitSpans(service, 'earshot.connection', 3);
  expect(turns.map((s) => s.attributes['earshot.turn.id']).sort()).toEqual(['t1', 't2', 't3']);
  expect(connections).toHaveLength(3);
  expect(receiver.duplicates()).toEqual([]);
  expect(await page.evaluate(() => window.app.dropped())).toBe(0);
});

test('collector down for the whole page: the app works, and the drop counter says what was lost', async ({ page }) => {
  const service = 'otel-down';
  await receiver.fail('refuse');
  try {
    const errors = await app.open(page, { service, exportTimeoutMs: 1500 });
    for (let i = 0; i < 3; i++) {
      expect(await page.evaluate((url) => window.app.fetchText(url), `${server.origin}/sse?n=2&gap=5`)).toContain('[DONE]');
    }
    await page.evaluate(() => window.app.flush());
    // Three connection spans and three turn spans, each failed after its retries.
    expect(await page.evaluate(() => window.app.dropped())).toBe(6);
    expect((await page.evaluate(() => window.app.reports())).map((r) => r.outcome)).toEqual(['complete', 'complete', 'complete']);
    expect(await page.evaluate(() => window.app.internalErrors())).toBe(0);
    expect(errors).toEqual([]);
  } finally {
    await receiver.recover();
  }
  expect(spansOf(service)).toEqual([]);
});

test('page hidden mid-turn: the turn arrives, marked abandoned', async ({ page }) => {
  const service = 'otel-unload';
  await app.open(page, { service });
  await page.evaluate((url) => window.app.startStream(url), `${server.origin}/sse?n=100&gap=100`);
  await page.goto('about:blank');
  const [turn] = await awaitSpans(service, 'earshot.turn', 1);
  const [connection] = await awaitSpans(service, 'earshot.connection', 1);
  expect(turn.attributes['earshot.outcome']).toBe('abandoned');
  expect(connection.attributes['earshot.outcome']).toBe('abandoned');
  expect(turn.attributes['earshot.chunks']).toBeGreaterThanOrEqual(1);
  expect(turn.status.code).toBe(0);
});

test('peak connections of an interval with twenty 50 ms streams reads at least the true peak, never 0', async ({ page }) => {
  const service = 'otel-peak';
  await app.open(page, { service });
  const truePeak = await page.evaluate((url) => window.app.concurrent(url, 20), `${server.origin}/sse?n=1&gap=0&infer=50`);
  expect(truePeak).toBe(20);
  await page.evaluate(() => window.app.flush());
  await expect.poll(() => metricsOf(service, 'earshot.connections.peak').length, { timeout: 15_000 }).toBeGreaterThan(0);
  // Every stream ended before the collection: a point sample of the active count would read 0.
  expect(latestPoint(metricsOf(service, 'earshot.connections.active'))?.value).toBe(0);
  expect(latestPoint(metricsOf(service, 'earshot.connections.peak'))?.value).toBeGreaterThanOrEqual(truePeak);
});

test("the exporter's own requests never become turns, even through patched globals", async ({ page }) => {
  await app.open(page, { service: 'otel-patched', patch: true });
  for (let i = 0; i < 2; i++) await page.evaluate((url) => window.app.fetchText(url), `${server.origin}/sse?n=2&gap=5`);
  for (let i = 0; i < 2; i++) await page.evaluate(() => window.app.flush());
  await awaitSpans('otel-patched', 'earshot.turn', 2);
  const summary = await page.evaluate(() => window.app.summary());
  expect([summary.turns.started, summary.connections.opened]).toEqual([2, 2]);
  expect(receiver.requests.traces).toBeGreaterThanOrEqual(1);
});

for (const during of [true, false]) {
  test(`INP of an interaction ${during ? 'during' : 'outside'} a streaming turn is marked streaming=${during}`, async ({ page }) => {
    const service = `otel-inp-${during}`;
    await app.open(page, { service });
    // A 5 s stream: still streaming when a busy machine gets round to the click.
    if (during) await page.evaluate((url) => window.app.startStream(url), `${server.origin}/sse?n=50&gap=100`);
    await page.click('#busy');
    await expect(page.locator('#busy')).toHaveText('clicked');
    // web-vitals takes the interaction in when the page is next idle (or, failing that, hidden), and
    // reports INP when the page is hidden; earshot flushes after that. (Chromium grants no idle time
    // while the pointer rests where it clicked, hence the move; a saturated machine may grant none
    // for a minute, hence the timeout.) The page is hidden as when the user switches tabs: navigating
    // away instead made the export race the unload, which a busy CI machine lost. Hidden twice: when no
    // idle time came, web-vitals reports on the first hide before it takes the interaction in (which that
    // same hide triggers), so INP goes out on the second, as it would when the user next leaves the tab.
    await page.mouse.move(0, 0);
    await page.evaluate(() => new Promise((resolve) => requestIdleCallback(resolve, { timeout: 2000 })));
    await page.evaluate(async () => {
      Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
      for (let i = 0; i < 2; i++) {
        document.dispatchEvent(new Event('visibilitychange', { bubbles: true }));
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    });
    await expect.poll(() => metricsOf(service, 'earshot.web_vital.inp').length, { timeout: 15_000 }).toBeGreaterThan(0);
    const point = latestPoint(metricsOf(service, 'earshot.web_vital.inp'));
    expect(point?.attributes).toMatchObject({ streaming: during, 'interaction.type': 'pointer' });
    expect(point?.sum).toBeGreaterThanOrEqual(0.15);
  });
}
