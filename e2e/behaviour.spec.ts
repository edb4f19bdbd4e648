/**
 * Transports observe, they do not change behaviour: the same app run natively and through earshot
 * sees the same objects, events in the same order with the same data, the same exceptions (its own
 * handlers' included, as uncaught page errors), and cancellation reaches the server the same way.
 * Earshot itself never throws into the page.
 */
import { expect, test, type Page } from '@playwright/test';
import { SECOND_ORIGIN } from './env';
import { httpUrl, pageErrors, openHarness, scripted, serverLog, uniqueId, wsUrl } from './helpers';
import type { FetchRunOptions, FetchRunResult, ResponseShape, WsRunOptions, WsRunResult } from './pages/harness';

interface Compared<T> {
  native: T;
  earshot: T;
  nativeErrors: string[];
  earshotErrors: string[];
}

/** Runs the same app natively, then through earshot, collecting each run's uncaught page errors. */
async function both<T>(page: Page, run: (instrument: boolean) => Promise<T>): Promise<Compared<T>> {
  const errors = pageErrors(page);
  const native = await run(false);
  const nativeErrors = errors.splice(0);
  const earshot = await run(true);
  const earshotErrors = errors.splice(0);
  expect(await page.evaluate(() => window.harness.internalErrors()), 'errors inside earshot').toBe(0);
  return { native, earshot, nativeErrors, earshotErrors };
}

/** What the app saw of a WebSocket session, without timing. */
const wsView = (r: WsRunResult) => ({ events: r.events, props: r.props, content: r.content.map((c) => c.length), timedOut: r.timedOut });

async function compareWs(page: Page, options: Omit<WsRunOptions, 'instrument'>, expectedReports: number) {
  const c = await both(page, (instrument) =>
    page.evaluate((o) => window.harness.ws(o), { ...options, instrument, reports: instrument ? expectedReports : 0 }),
  );
  expect(wsView(c.earshot), 'app-visible WebSocket behaviour, earshot vs native').toEqual(wsView(c.native));
  expect(c.earshotErrors, 'uncaught page errors, earshot vs native').toEqual(c.nativeErrors);
  expect(c.earshot.turns.length, 'turn reports').toBe(expectedReports);
  return c;
}

test.describe('WebSocket behaves as without earshot', () => {
  test.beforeEach(async ({ page }) => openHarness(page));

  test('text frames over two turns, subprotocol, normal close with a reason, early send', async ({ page }) => {
    const c = await compareWs(
      page,
      {
        url: wsUrl(),
        protocols: ['earshot.v1', 'other.v1'],
        sendWhileConnecting: true,
        turns: [
          { send: scripted({ gaps: '5x3' }), expect: 3 },
          { send: scripted({ gaps: '5x2', close: 1000, reason: 'bye' }), expect: 2 },
        ],
        finish: 'server',
      },
      2,
    );
    const { events, props } = c.native;
    expect(props).toMatchObject({ isWebSocket: true, protocol: 'earshot.v1', binaryType: 'blob' });
    expect(events[0]).toMatchObject({ via: 'call', type: 'send', detail: expect.stringMatching(/^InvalidStateError/) });
    expect(events.filter((e) => e.type === 'message')).toHaveLength(2 * 5);
    expect(events.at(-1)).toMatchObject({ type: 'close', detail: '1000 "bye" true', readyState: 3 });
    expect(c.nativeErrors).toEqual([]);
  });

  test("the app's listeners as earshot wraps them: added twice, handleEvent, onmessage read back, removed", async ({ page }) => {
    const send = scripted({ gaps: '5x3', close: 1000 });
    const c = await both(page, (instrument) => page.evaluate(([u, s, i]) => window.harness.listeners(u, s, i), [wsUrl(), send, instrument] as const));
    expect(c.earshot.seen, 'what the listeners saw, earshot vs native').toEqual(c.native.seen);
    expect(c.native.seen.filter((x) => x.startsWith('function'))).toHaveLength(1);
    expect(c.native.seen.filter((x) => x.startsWith('object'))).toHaveLength(3);
    // Read once per message whichever listeners the app has left.
    expect(c.earshot.chunks).toBe(3);
    expect(c.earshotErrors).toEqual(c.nativeErrors);
  });

  for (const binaryType of ['arraybuffer', 'blob'] as const) {
    test(`binary frames with binaryType '${binaryType}'`, async ({ page }) => {
      const c = await compareWs(
        page,
        {
          url: wsUrl({ format: 'binary', bytes: 48 }),
          binaryType,
          turns: [{ send: scripted({ gaps: '5x4', close: 1000 }), expect: 4 }],
          finish: 'server',
        },
        1,
      );
      const messages = c.native.events.filter((e) => e.type === 'message');
      expect(messages[0].detail).toMatch(new RegExp(`^${binaryType}:48:`));
      expect(c.native.props.binaryType).toBe(binaryType);
    });
  }

  test('OpenAI Realtime adapter over the Realtime protocol', async ({ page }) => {
    await compareWs(
      page,
      {
        url: wsUrl({ format: 'realtime' }),
        adapter: 'openaiRealtime',
        content: 'openai-realtime',
        turns: [{ send: scripted({ gaps: '5x3' }, { type: 'response.create' }), expect: 3, awaitText: 'response.done' }],
        finish: 'app',
      },
      1,
    );
  });

  test('server closes with 1011 mid-turn', async ({ page }) => {
    const c = await compareWs(
      page,
      { url: wsUrl(), turns: [{ send: scripted({ gaps: '5x6', close: 1011, after: 2, reason: 'overloaded' }), expect: 6 }], finish: 'server' },
      1,
    );
    expect(c.native.events.at(-1)).toMatchObject({ type: 'close', detail: '1011 "overloaded" true' });
  });

  test('connection reset mid-turn: close 1006, not clean', async ({ page }) => {
    const c = await compareWs(
      page,
      { url: wsUrl(), turns: [{ send: scripted({ gaps: '5x6', destroy: 2 }), expect: 6 }], finish: 'server' },
      1,
    );
    // Chromium fires no error event when the peer drops TCP without a close frame.
    expect(c.native.events.slice(-2).map((e) => `${e.via} ${e.type} ${e.detail}`)).toEqual([
      'listener close 1006 "" false',
      'property close 1006 "" false',
    ]);
  });

  test('app closes mid-turn', async ({ page }) => {
    // The app closes after the second message; the third is 200 ms behind it.
    const c = await compareWs(page, { url: wsUrl(), turns: [{ send: scripted({ gaps: '10,10,200x4' }), expect: 2 }], finish: 'app' }, 1);
    expect(c.native.events.filter((e) => e.type === 'message')).toHaveLength(2 * 2);
    expect(c.native.events.at(-1)).toMatchObject({ type: 'close', detail: '1000 "app done" true' });
  });

  test('connection refused', async ({ page }) => {
    const c = await compareWs(page, { url: 'ws://127.0.0.1:1/', sendWhileConnecting: true, turns: [], finish: 'server' }, 0);
    expect(c.native.events.map((e) => `${e.via} ${e.type}`)).toEqual([
      'call send',
      'listener error',
      'property error',
      'listener close',
      'property close',
    ]);
  });

  test("exceptions thrown by the app's own handlers surface as before", async ({ page }) => {
    const c = await compareWs(
      page,
      { url: wsUrl(), throwing: true, turns: [{ send: scripted({ gaps: '5x4', close: 1000 }), expect: 4 }], finish: 'server' },
      1,
    );
    // Both of the app's handlers throw on each of 4 messages; each is an uncaught error, as natively.
    expect(c.nativeErrors).toHaveLength(8);
    expect(c.nativeErrors[0]).toBe('app listener handler failed on message 0');
  });
});

/** What the app saw of a fetch, without timing (header mutability has a test of its own). */
const shapeView = (shape: ResponseShape | undefined) => shape && { ...shape, headerSet: undefined };

/**
 * The app-visible outcome of a fetch. How many writes one read() returns depends on scheduling, so
 * the number of reads is left out, and so is the text when the app stops reading part-way.
 */
function fetchView(r: FetchRunResult, options: Omit<FetchRunOptions, 'instrument' | 'url'>) {
  const partial = options.cancelAfter !== undefined || options.abortAfter !== undefined;
  return {
    shape: shapeView(r.shape),
    cloneShape: shapeView(r.cloneShape),
    text: partial ? undefined : r.text,
    json: r.json,
    error: r.error,
    afterCancel: r.afterCancel,
    bodyUsedAfter: r.bodyUsedAfter,
    content: (options.content ?? 'every') === 'every' ? undefined : r.content.length,
    timedOut: r.timedOut,
  };
}

async function compareFetch(
  page: Page,
  options: Omit<FetchRunOptions, 'instrument' | 'url'>,
  query: (id: string) => string,
) {
  const ids = { native: uniqueId('native'), earshot: uniqueId('earshot') };
  const c = await both(page, (instrument) =>
    page.evaluate((o) => window.harness.fetch(o), {
      ...options,
      url: query(instrument ? ids.earshot : ids.native),
      instrument,
      reports: instrument ? 1 : 0,
    }),
  );
  // The URLs differ only in their id.
  const view = (r: FetchRunResult, id: string) =>
    JSON.parse(JSON.stringify(fetchView(r, options)).replaceAll(id, '<id>')) as unknown;
  expect(view(c.earshot, ids.earshot), 'app-visible fetch behaviour, earshot vs native').toEqual(view(c.native, ids.native));
  expect(c.earshotErrors, 'uncaught page errors').toEqual(c.nativeErrors);
  expect(c.nativeErrors).toEqual([]);
  return { ...c, ids };
}

/** The body the server sends for `n` messages of /chunks. */
const chunksBody = (n: number): string => Array.from({ length: n }, (_, i) => `tok${i} `).join('');

test.describe('fetch behaves as without earshot', () => {
  test.beforeEach(async ({ page }) => openHarness(page));

  test('Response shape and text()', async ({ page }) => {
    const c = await compareFetch(page, { read: 'text' }, (id) => httpUrl('chunks', { gaps: '5x4', id }));
    expect(c.native.text).toBe('tok0 tok1 tok2 tok3 ');
    expect(c.native.shape).toMatchObject({ isResponse: true, status: 200, ok: true, type: 'basic', bodyIsStream: true });
    expect(c.earshot.turns[0].outcome).toBe('complete');
  });

  test('headers of the Response stay immutable', async ({ page }) => {
    const c = await compareFetch(page, { read: 'none' }, (id) => httpUrl('chunks', { gaps: '5x2', id }));
    expect(c.native.shape?.headerSet).toMatch(/^TypeError: .*immutable/);
    expect(c.earshot.shape?.headerSet, 'headers.set() on the Response earshot returns').toBe(c.native.shape?.headerSet);
  });

  test('json()', async ({ page }) => {
    const c = await compareFetch(page, { read: 'json' }, (id) => httpUrl('chunks', { format: 'json', gaps: '5x3', id }));
    expect(c.native.json).toEqual(['tok0 ', 'tok1 ', 'tok2 ']);
  });

  test('getReader() over SSE', async ({ page }) => {
    const c = await compareFetch(page, { read: 'reader', content: 'sse-openai' }, (id) =>
      httpUrl('sse', { format: 'openai', gaps: '5x5', usage: 1, id }),
    );
    expect(c.native.content).toHaveLength(5);
    expect(c.native.text).toContain('data: [DONE]');
  });

  test('for await over the body (NDJSON)', async ({ page }) => {
    const c = await compareFetch(page, { read: 'iterate', content: 'ndjson' }, (id) => httpUrl('ndjson', { gaps: '5x4', id }));
    expect(c.native.content).toHaveLength(4);
  });

  test('clone() reads the same body twice', async ({ page }) => {
    const c = await compareFetch(page, { read: 'clone' }, (id) => httpUrl('chunks', { gaps: '5x3', id }));
    expect(c.native.text).toBe('tok0 tok1 tok2 ');
  });

  test('HTTP error status with a body', async ({ page }) => {
    const c = await compareFetch(page, { read: 'text' }, (id) => httpUrl('chunks', { status: 503, gaps: '5x2', id }));
    expect(c.native.shape).toMatchObject({ status: 503, ok: false });
    expect(c.earshot.turns[0].outcome).toBe('error');
  });

  test('POST with headers and a body', async ({ page }) => {
    const init = { method: 'POST', headers: { 'content-type': 'application/json', 'x-app': 'e2e' }, body: '{"prompt":"hi"}' };
    const c = await compareFetch(page, { read: 'reader', content: 'sse-anthropic', init }, (id) =>
      httpUrl('sse', { format: 'anthropic', gaps: '5x3', id }),
    );
    expect(c.native.content).toHaveLength(3);
  });

  test('cross-origin request with CORS', async ({ page }) => {
    const c = await compareFetch(page, { read: 'text' }, (id) => httpUrl('chunks', { gaps: '5x3', id }, SECOND_ORIGIN));
    expect(c.native.shape).toMatchObject({ type: 'cors', status: 200 });
  });

  // These streams run for 3 s: the cancel or abort reaches the server long before they end.
  test('reader.cancel() mid-body reaches the server', async ({ page }) => {
    const c = await compareFetch(page, { read: 'reader', cancelAfter: 2 }, (id) => httpUrl('chunks', { gaps: '10x300', id }));
    expect(c.native.afterCancel).toBe('done=true');
    for (const r of [c.native, c.earshot]) {
      expect(chunksBody(300).startsWith(r.text) && r.text.startsWith(chunksBody(2)), `text read: ${r.text}`).toBe(true);
    }
    for (const id of [c.ids.native, c.ids.earshot]) {
      await expect.poll(async () => (await serverLog(page, id)).map((e) => e.what), { message: `server log of ${id}` })
        .toContain('client-closed');
    }
  });

  test('AbortController mid-body rejects the read and reaches the server', async ({ page }) => {
    const c = await compareFetch(page, { read: 'reader', abortAfter: 2 }, (id) => httpUrl('chunks', { gaps: '10x300', id }));
    expect(c.native.error).toMatch(/^AbortError/);
    for (const r of [c.native, c.earshot]) {
      expect(chunksBody(300).startsWith(r.text) && r.text.startsWith(chunksBody(2)), `text read: ${r.text}`).toBe(true);
    }
    for (const id of [c.ids.native, c.ids.earshot]) {
      await expect.poll(async () => (await serverLog(page, id)).map((e) => e.what), { message: `server log of ${id}` })
        .toContain('client-closed');
    }
  });

  test('AbortController before the response', async ({ page }) => {
    const c = await compareFetch(page, { read: 'text', abortAfter: 0 }, (id) => httpUrl('chunks', { gaps: '5x2', id }));
    expect(c.native.error).toMatch(/^AbortError/);
  });

  test('connection reset mid-body rejects the read', async ({ page }) => {
    // The reset comes 1 s after the third message: an errored stream discards what the app has
    // not read yet, so the app must have read it all for the text to be comparable (with 150 ms,
    // a page slowed by the other worker's load tests once read none of it before the reset).
    const c = await compareFetch(page, { read: 'reader' }, (id) =>
      httpUrl('chunks', { gaps: '5,5,5,1000', error: 'reset-after:3', id }),
    );
    expect(c.native.error).toMatch(/^TypeError/);
    expect(c.native.text).toBe('tok0 tok1 tok2 ');
  });

  test('network error before the response', async ({ page }) => {
    const c = await compareFetch(page, { read: 'text' }, () => 'http://127.0.0.1:1/');
    expect(c.native.error).toMatch(/^TypeError/);
  });
});
