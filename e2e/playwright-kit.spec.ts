/**
 * earshot/playwright as a user runs it: the fixture collects the turns of apps that do not use
 * earshot (injected) and of apps that do (their own monitor), shapes the network through CDP and
 * through the shaping proxy, and `toMeetSLO` passes, or fails with the turns that missed.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, test, type ShapedMessage, type SloAssertion } from '../src/playwright';
import type { TurnReport } from '../src/core/types';
import { ORIGIN } from './env';
import { pageErrors } from './helpers';

declare global {
  interface Window {
    chatApp: {
      chat(path: string): Promise<string>;
      talk(path: string, turns: number, replies: number): Promise<string[]>;
    };
  }
}

const PLAIN_APP = '/e2e/pages/plain-app.html';

// The fixture injects dist/earshot.iife.js; a rebuild empties dist/ for a moment: wait for it.
test.beforeAll(async () => {
  const iife = fileURLToPath(new URL('../dist/earshot.iife.js', import.meta.url));
  for (const end = Date.now() + 20_000; !existsSync(iife) && Date.now() < end; ) await new Promise((r) => setTimeout(r, 250));
});
/** An OpenAI chat stream of `n` tokens, `gap` ms apart. */
const chat = (n: number, gap: number, extra = '') => `/sse?format=openai&gaps=${gap}x${n}${extra}`;

/** What an assertion reported when it failed (it must fail). */
async function failure(assertion: Promise<unknown>): Promise<string> {
  try {
    await assertion;
  } catch (error) {
    // The matcher's message, without the colours of a terminal.
    return String((error as Error).message).replace(/\u001b\[\d+m/g, '');
  }
  throw new Error('the assertion passed, and it was meant to fail');
}

/**
 * When the shaping proxy delivered each of a stream's messages that end at the byte offsets `ends`,
 * from the chunks it carried of that stream (one carried chunk may hold several messages).
 */
function deliveredAt(chunks: ShapedMessage[], ends: number[]): number[] {
  let i = 0;
  let carried = 0;
  return ends.map((end) => {
    while (carried < end) carried += chunks[i++].bytes;
    return chunks[i - 1].deliverAt;
  });
}

/** The gaps between consecutive times, ms. */
const gaps = (times: number[]): number[] => times.slice(1).map((t, i) => t - times[i]);

test.describe('an app that does not use earshot', () => {
  test.use({ earshotOptions: { inject: true, slo: { ttftMs: 2000 } } });

  test('its turns are collected across navigations, and its SLO is met', async ({ page, earshot }) => {
    const errors = pageErrors(page);
    await page.goto(PLAIN_APP);
    const text = await page.evaluate((p) => window.chatApp.chat(p), chat(5, 10));
    expect(text).toContain('data: [DONE]');
    const messages = await page.evaluate(() => window.chatApp.talk('/ws?format=text&gaps=10x3', 2, 3));
    expect(messages).toEqual(['tok0 ', 'tok1 ', 'tok2 ', 'tok0 ', 'tok1 ', 'tok2 ']);

    const turns = await earshot.waitForTurns(3);
    expect(turns.map((t) => [t.transport, t.outcome, t.chunks])).toEqual([
      ['fetch', 'complete', 5],
      ['websocket', 'complete', 3],
      ['websocket', 'abandoned', 3],
    ]);
    const summary = await earshot.summary();
    expect(summary.turns).toMatchObject({ started: 3, complete: 2, abandoned: 1, good: 2 });

    // A new document has a new monitor; the turns reported before it stay with the test.
    await page.reload();
    await page.evaluate((p) => window.chatApp.chat(p), chat(3, 10));
    await earshot.waitForTurns(4);
    expect((await earshot.turns()).map((t) => t.id)).toEqual(['t1', 't2', 't3', 't1']);
    expect((await earshot.summary()).turns.started).toBe(1);

    await expect(earshot).toMeetSLO({ ttftMs: { p95: 1500 }, e2eMs: 3000, goodput: 1, minTurns: 3 });
    expect(errors).toEqual([]);
  });

  test('waitForTurns says what it saw when the turns do not come', async ({ page, earshot }) => {
    await page.goto(PLAIN_APP);
    await page.evaluate((p) => window.chatApp.chat(p), chat(2, 5));
    const message = await failure(earshot.waitForTurns(2, { timeout: 300 }));
    expect(message).toBe('earshot: waited 300 ms for 2 turns, 1 reported:\n  t1 fetch /sse?format=openai&gaps=5x2 complete');
  });
});

test.describe('Chromium network emulation (CDP)', () => {
  test.use({ earshotOptions: { inject: true }, network: { latencyMs: 250 } });

  test('added latency shows in TTFT, and an SLO it breaks fails with the offending turns', async ({ page, earshot }) => {
    await page.goto(PLAIN_APP);
    for (let i = 0; i < 3; i++) await page.evaluate((p) => window.chatApp.chat(p), chat(4, 5));
    const turns = await earshot.waitForTurns(3);
    for (const t of turns) expect(t.ttftMs).toBeGreaterThanOrEqual(250);

    // Run the assertion a latency test would make, and read what it reports.
    const message = await failure(expect(earshot).toMeetSLO({ ttftMs: { p95: 200 }, e2eMs: 5000 }));
    expect(message).toContain('SLO not met over 3 turns (3 valid):');
    expect(message).toMatch(/MISSED ttftMs p95: \d+\.\d ms over 200 ms \(3 of 3 turns over\)/);
    expect(message).toMatch(/ok {5}goodput: 1\.0000 \(3 good of 3 valid\), at least 1/);
    expect(message).toContain('Offending turns (3), worst first:');
    for (const t of turns) expect(message).toContain(`${t.id} fetch ${t.url} complete: ttft ${t.ttftMs!.toFixed(1)} ms`);
    expect(message).toMatch(/missed: ttftMs \d+\.\d ms > 200 ms/);

    // Lifting the emulation mid-test: while it applies, 250 ms is a floor under every TTFT, so one turn
    // under it shows it gone. The fastest of three is read: beside the load rows of another worker, a
    // turn with no emulation took up to 343 ms in CI (and up to 197 ms here, in 40 runs).
    await earshot.shape(undefined);
    for (let i = 0; i < 3; i++) await page.evaluate((p) => window.chatApp.chat(p), chat(4, 5));
    const after = (await earshot.waitForTurns(6)).slice(3);
    expect(Math.min(...after.map((t) => t.ttftMs!))).toBeLessThan(250);
  });

  test('offline drops the turn; back online, the next one completes', async ({ page, earshot }) => {
    await page.goto(PLAIN_APP);
    await earshot.shape({ offline: true });
    expect(await page.evaluate(() => navigator.onLine)).toBe(false);
    expect(await page.evaluate((p) => window.chatApp.chat(p), chat(3, 5))).toMatch(/TypeError/);
    await earshot.shape(undefined);
    await page.evaluate((p) => window.chatApp.chat(p), chat(3, 5));
    const turns = await earshot.waitForTurns(2);
    expect(turns.map((t) => t.outcome)).toEqual(['dropped', 'complete']);

    const message = await failure(expect(earshot).toMeetSLO({ goodput: 0.9 }));
    expect(message).toMatch(/MISSED goodput: 0\.5000 \(1 good of 2 valid\), under 0\.9/);
    expect(message).toMatch(/t1 fetch \S+ dropped: ttft -, .*\n {6}missed: outcome dropped \(TypeError: Failed to fetch\)/);
    await expect(earshot).toMeetSLO({ goodput: 0.5 });
  });
});

test.describe('the shaping proxy (jitter per chunk and per frame)', () => {
  test.use({ earshotOptions: { inject: true, chunkTimes: 100 } });

  test('jitter reaches the app chunk by chunk, in order, and shows in the turn', async ({ page, earshot }) => {
    const carried: ShapedMessage[] = [];
    const proxy = await earshot.shapingProxy({ target: ORIGIN, latencyMs: 40, jitterMs: 35, seed: 11, onMessage: (m) => carried.push(m) });
    await page.goto(`${proxy.url}${PLAIN_APP}`);
    // 20 tokens 30 ms apart: the proxy delays each by 5-75 ms, never out of order.
    const chatStart = carried.length;
    const text = await page.evaluate((p) => window.chatApp.chat(p), chat(20, 30));
    const chatBody = carried.slice(chatStart).filter((m) => m.direction === 'down' && m.kind === 'chunk');
    const tokenEvents = [...text.matchAll(/"content":"(tok\d+) "/g)];
    expect(tokenEvents.map((m) => m[1])).toEqual(Array.from({ length: 20 }, (_, i) => `tok${i}`));
    const messages = await page.evaluate(() => window.chatApp.talk('/ws?format=text&gaps=30x10', 1, 10));
    expect(messages).toEqual(Array.from({ length: 10 }, (_, i) => `tok${i} `));

    const [sse, ws] = await earshot.waitForTurns(2);
    // Every token came through the proxy: 20 SSE chunks (and more), 10 WebSocket frames and the request's.
    expect(carried.filter((m) => m.direction === 'down' && m.kind === 'chunk').length).toBeGreaterThanOrEqual(20);
    // Each token frame is 7 bytes ("tokN " and a 2-byte header); the close handshake adds its own frames.
    const tokenFrames = carried.filter((m) => m.direction === 'down' && m.kind === 'frame' && m.bytes === 7);
    expect(tokenFrames).toHaveLength(10);
    expect(carried.filter((m) => m.direction === 'up' && m.kind === 'frame').length).toBeGreaterThanOrEqual(1);
    expect([sse.chunks, ws.chunks]).toEqual([20, 10]);
    // Unshaped, these gaps are 30 ms give or take a few. The proxy spreads them out (its own record of
    // when it delivered each token), and each turn shows it: the SLO below finds jitter over 5 ms in
    // both. Holding each ITL sample to the proxy's schedule, or the turn to a fixed spread, failed in
    // CI: on a loaded machine the proxy or the page stalls and a dozen chunks reach the app at once
    // (11 gaps of 0.0 ms against 0.0-209.8 ms scheduled), which the turn then rightly shows.
    const sseDelivered = deliveredAt(chatBody, tokenEvents.map((m) => text.indexOf('\n\n', m.index) + 2));
    for (const delivered of [sseDelivered, tokenFrames.map((m) => m.deliverAt)]) {
      const scheduled = gaps(delivered);
      expect(Math.max(...scheduled) - Math.min(...scheduled)).toBeGreaterThan(25);
    }

    const message = await failure(expect(earshot).toMeetSLO({ jitterMs: { max: 5 }, maxGapMs: { max: 40 } }));
    expect(message).toMatch(/MISSED jitterMs max: \d+\.\d ms over 5 ms \(2 of 2 turns over\)/);
    expect(message).toContain(`${sse.id} fetch /sse?format=openai&gaps=30x20 complete`);
    expect(message).toMatch(/missed: maxGapMs \d+\.\d ms > 40 ms; jitterMs \d+\.\d ms > 5 ms/);
  });

  test('a test may expect to fail its SLO under a shaped network', async ({ page, earshot }) => {
    test.fail(true, 'TTFT over 200 ms through a 150 ms each-way proxy');
    const proxy = await earshot.shapingProxy({ target: ORIGIN, latencyMs: 150, seed: 2 });
    await page.goto(`${proxy.url}${PLAIN_APP}`);
    await page.evaluate((p) => window.chatApp.chat(p), chat(3, 5));
    await earshot.waitForTurns(1);
    await expect(earshot).toMeetSLO({ ttftMs: 200 });
  });
});

test('an app with its own monitor reports through the page hook', async ({ page, earshot }) => {
  await page.goto('/e2e/pages/earshot-app.html');
  await page.waitForFunction(() => typeof window.chatApp?.chat === 'function');
  await page.evaluate((p) => window.chatApp.chat(p), chat(4, 5));
  const [turn] = await earshot.waitForTurns(1);
  expect(turn).toMatchObject({ transport: 'fetch', outcome: 'complete', chunks: 4, slo: { good: true } });
  expect((await earshot.summary()).turns.good).toBe(1);
  await expect(earshot).toMeetSLO({ ttftMs: 1000 });
});

/** A complete turn with these values; the rest as a fast, good turn. */
function turn(id: string, values: Partial<TurnReport> = {}, itl: Partial<TurnReport['itl']> = {}): TurnReport {
  return {
    id,
    connectionId: 'c1',
    transport: 'fetch',
    url: 'http://app/chat',
    t0: 0,
    startTime: 0,
    ttfbMs: 10,
    ttftMs: 100,
    e2eMs: 500,
    tokens: 10,
    tokensEstimated: false,
    chunks: 10,
    audioMs: 0,
    itl: { count: 9, mean: 40, min: 30, max: 50, p50: 40, p90: 50, p95: 50, p99: 50, stddev: 5, stalls: 0, ...itl },
    outcome: 'complete',
    slo: { good: true, failed: [] },
    ...values,
  };
}

test.describe('toMeetSLO on turns', () => {
  const turns = [
    turn('t1'),
    turn('t2', { ttftMs: 420 }),
    turn('t3', { ttftMs: 120 }),
    turn('t4', { outcome: 'dropped', reason: 'connection reset', slo: { good: false, failed: ['outcome'] } }),
    turn('t5', { outcome: 'abandoned', ttftMs: 900, slo: { good: false, failed: ['outcome'] } }),
  ];

  test('passes when every objective is met', async () => {
    await expect(turns.slice(0, 3)).toMeetSLO({ ttftMs: 500, goodput: 1, e2eMs: { p50: 500 } });
    await expect(turns).not.toMeetSLO({ goodput: 1 });
  });

  test('per-turn bounds decide goodput; bad turns within the allowed share are not offending', async () => {
    const slo: SloAssertion = { ttftMs: 300, goodput: 0.5 };
    await expect(turns).toMeetSLO(slo);
    const message = await failure(expect(turns).toMeetSLO({ ...slo, goodput: 0.75 }));
    expect(message).toContain(
      [
        'SLO not met over 5 turns (4 valid):',
        '  MISSED goodput: 0.5000 (2 good of 4 valid), under 0.75',
        'Offending turns (2), worst first:',
        '  t4 fetch http://app/chat dropped: ttft 100.0 ms, e2e 500.0 ms, max gap 50.0 ms, 10 chunks',
        '      missed: outcome dropped (connection reset)',
        '  t2 fetch http://app/chat complete: ttft 420.0 ms, e2e 500.0 ms, max gap 50.0 ms, 10 chunks',
        '      missed: ttftMs 420.0 ms > 300 ms',
      ].join('\n'),
    );
  });

  test('distribution bounds use the summary sketch and list the turns over the bound', async () => {
    // p50 of 100, 420, 120, 100, 900 (abandoned turns count, as in the summary) is 120.
    const message = await failure(expect(turns).toMeetSLO({ ttftMs: { p50: 110, max: 1000 } }));
    expect(message).toMatch(/MISSED ttftMs p50: 12\d\.\d ms over 110 ms \(3 of 5 turns over\)/);
    expect(message).toMatch(/ok {5}ttftMs max: 900\.0 ms within 1000 ms \(0 of 5 turns over\)/);
    expect(message).toContain('Offending turns (3), worst first:\n  t5 fetch');
    expect(message).toMatch(/missed: ttftMs 420\.0 ms > 110 ms/);
  });

  test('never passes on too few turns, or on a metric no turn has', async () => {
    expect(await failure(expect([]).toMeetSLO({ ttftMs: { p95: 100 } }))).toMatch(
      /MISSED turns: 0 turns reported, fewer than the 1 needed[\s\S]*MISSED ttftMs p95: no turn has a value for ttftMs/,
    );
    expect(await failure(expect(turns).toMeetSLO({ ttfaMs: { p95: 100 } }))).toContain('no turn has a value for ttfaMs');
    expect(await failure(expect(turns).not.toMeetSLO({ minTurns: 2 }))).toContain('Expected the SLO to be missed, but it was met.');
  });
});
