/**
 * Drops and abandons: how each way a stream can end is classified, and the session counts.
 * A drop is the network or server ending a stream early; an abandon is the app or the user.
 */
import { expect, test, type Page } from '@playwright/test';
import type { Outcome, TurnReport } from '../src/core/types';
import { describeTurn, httpUrl, openHarness, scripted, serverLog, uniqueId, wsUrl } from './helpers';
import type { FetchRunOptions, WsRunOptions } from './pages/harness';

interface Expected {
  outcome: Outcome;
  /** Content chunks received before the end. */
  chunks: number;
  reason?: string | RegExp;
}

function expectTurn(label: string, turns: TurnReport[], expected: Expected): void {
  expect(turns, `${label}: turn reports\n${turns.map(describeTurn).join('\n')}`).toHaveLength(1);
  const [turn] = turns;
  expect({ outcome: turn.outcome, chunks: turn.chunks }, `${label}: ${describeTurn(turn)}`).toEqual({
    outcome: expected.outcome,
    chunks: expected.chunks,
  });
  if (expected.reason !== undefined) expect(turn.reason, `${label}: reason`).toMatch(expected.reason);
  expect(turn.slo.good, `${label}: good`).toBe(expected.outcome === 'complete');
}

const ws = (page: Page, o: Omit<WsRunOptions, 'instrument'>) =>
  page.evaluate((options) => window.harness.ws(options), { ...o, instrument: true });
const fetchRun = (page: Page, o: Omit<FetchRunOptions, 'instrument'>) =>
  page.evaluate((options) => window.harness.fetch(options), { ...o, instrument: true });

test('each way a stream ends is classified, and the session counts are exact', async ({ page }) => {
  await openHarness(page);
  await page.evaluate(() => window.harness.newMonitor());
  const one = (send: string, expect: number): WsRunOptions['turns'] => [{ send, expect }];

  let r = await ws(page, { url: wsUrl(), turns: one(scripted({ gaps: '5x4', close: 1000 }), 4), finish: 'server' });
  expectTurn('WebSocket, server closes 1000 after the turn', r.turns, { outcome: 'complete', chunks: 4 });

  r = await ws(page, {
    url: wsUrl(),
    turns: one(scripted({ gaps: '5x6', close: 1011, after: 3, reason: 'overloaded' }), 6),
    finish: 'server',
  });
  expectTurn('WebSocket, server closes 1011 mid-turn', r.turns, { outcome: 'dropped', chunks: 3, reason: 'overloaded' });

  // Each fault comes well after the last message before it, so the app has read everything first.
  r = await ws(page, { url: wsUrl(), turns: one(scripted({ gaps: '5,5,5,100,5,5', destroy: 3 }), 6), finish: 'server' });
  expectTurn('WebSocket, TCP reset mid-turn', r.turns, { outcome: 'dropped', chunks: 3, reason: /1006/ });

  r = await ws(page, { url: wsUrl(), turns: one(scripted({ gaps: '10,10,200x4' }), 2), finish: 'app' });
  expectTurn('WebSocket, app close() mid-turn', r.turns, { outcome: 'abandoned', chunks: 2, reason: /app/ });

  r = await ws(page, {
    url: wsUrl({ format: 'realtime' }),
    adapter: 'openaiRealtime',
    content: 'openai-realtime',
    turns: one(scripted({ gaps: '5x3', done: 0, close: 1000 }, { type: 'response.create' }), 3),
    finish: 'server',
  });
  expectTurn('Realtime, normal close before response.done', r.turns, { outcome: 'dropped', chunks: 3 });

  let f = await fetchRun(page, { url: httpUrl('sse', { gaps: '5x4' }), read: 'reader', content: 'sse-openai' });
  expectTurn('SSE OpenAI with [DONE]', f.turns, { outcome: 'complete', chunks: 4 });

  f = await fetchRun(page, { url: httpUrl('sse', { gaps: '5x4', done: 0 }), read: 'reader', content: 'sse-openai' });
  expectTurn('SSE OpenAI ending without [DONE]', f.turns, { outcome: 'dropped', chunks: 4 });

  // An errored body discards what the app has not read: 1 s for the app to read the three chunks.
  f = await fetchRun(page, { url: httpUrl('sse', { format: 'generic', gaps: '5,5,5,1000', error: 'reset-after:3' }), read: 'reader' });
  expectTurn('fetch, connection reset mid-body', f.turns, { outcome: 'dropped', chunks: 3 });

  f = await fetchRun(page, { url: httpUrl('sse', { format: 'generic', gaps: '5,5,5,150', error: 'fin-after:3' }), read: 'reader' });
  expectTurn('fetch, connection closed mid-body', f.turns, { outcome: 'dropped', chunks: 3 });

  f = await fetchRun(page, { url: 'http://127.0.0.1:1/', read: 'text' });
  expectTurn('fetch, connection refused', f.turns, { outcome: 'dropped', chunks: 0 });

  f = await fetchRun(page, { url: httpUrl('chunks', { gaps: '10x6' }), read: 'reader', abortAfter: 2 });
  expectTurn('fetch, AbortController mid-body', f.turns, { outcome: 'abandoned', chunks: 2 });

  f = await fetchRun(page, { url: httpUrl('chunks', { gaps: '10x6' }), read: 'reader', cancelAfter: 2 });
  expectTurn('fetch, reader.cancel() mid-body', f.turns, { outcome: 'abandoned', chunks: 2 });

  f = await fetchRun(page, { url: httpUrl('chunks', { gaps: '5x2', status: 500 }), read: 'text' });
  expectTurn('fetch, HTTP 500', f.turns, { outcome: 'error', chunks: 0, reason: 'HTTP 500' });

  const summary = await page.evaluate(() => window.harness.summary());
  expect(summary.turns).toEqual({
    started: 13,
    open: 0,
    complete: 2,
    error: 1,
    dropped: 7,
    abandoned: 3,
    valid: 10,
    good: 2,
  });
  expect(summary.goodput).toBe(2 / 10);
  expect(summary.failedBy.outcome).toBe(8);
  // Connections: the HTTP 500 response ended cleanly; the turn on it failed.
  expect(summary.connections).toMatchObject({ opened: 13, active: 0, clean: 3, dropped: 7, abandoned: 3 });
  expect(summary.dropRate).toBe(7 / 10);
  expect(await page.evaluate(() => window.harness.internalErrors())).toBe(0);
});

test('leaving the page abandons the turns still streaming', async ({ page }) => {
  await openHarness(page);
  const beaconId = uniqueId('unload');
  await page.evaluate((id) => window.harness.newMonitor({ beaconId: id }), beaconId);
  const wsId = uniqueId('unload-ws');
  const fetchId = uniqueId('unload-fetch');
  // Both streams run for seconds; neither run is awaited: the page goes away under them.
  await page.evaluate(
    ({ ws, fetch }) => {
      void window.harness.ws({ url: ws, instrument: true, turns: [{ send: 'go', expect: 50 }], finish: 'server' });
      void window.harness.fetch({ url: fetch, instrument: true, read: 'reader' });
    },
    { ws: wsUrl({ id: wsId, gaps: '20x100' }), fetch: httpUrl('chunks', { id: fetchId, gaps: '20x100' }) },
  );
  for (const id of [wsId, fetchId]) {
    await expect.poll(async () => (await serverLog(page, id)).some((e) => /message 2$/.test(e.what))).toBe(true);
  }
  await page.goto('about:blank');
  await expect
    .poll(async () => (await serverLog(page, beaconId)).map((e) => JSON.parse(e.what) as Record<string, unknown>), {
      message: 'turn reports sent from pagehide',
    })
    .toEqual(
      expect.arrayContaining([
        expect.objectContaining({ transport: 'websocket', outcome: 'abandoned', reason: 'page unload' }),
        expect.objectContaining({ transport: 'fetch', outcome: 'abandoned', reason: 'page unload' }),
      ]),
    );
  expect(await serverLog(page, beaconId)).toHaveLength(2);
});
