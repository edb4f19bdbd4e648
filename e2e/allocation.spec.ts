/**
 * DESIGN.md's overhead bar, "no allocation per message beyond the app's own", in real Chromium. The
 * same MessageEvents are dispatched on an open raw WebSocket and on one earshot observes inside a
 * turn (so each is stamped, read and recorded as content), each socket with an app listener that
 * reads the data; V8's sampling heap profiler counts every byte allocated, garbage included. A time
 * boxed on its way into a call V8 does not inline is 12 B a message: the bar is well under that.
 * The page is fresh: after thousands of sockets and turns (the bench's page), or after fetch bodies
 * read through earshot, V8 optimizes the path otherwise and one boxed number a message is still
 * allocated: the stamp, where the connection's record passes it to `received` (BENCHMARKS.md).
 */
import { expect, test } from '@playwright/test';
import { bytesAllocated } from './heap-sampling';
import { openHarness, wsUrl } from './helpers';

declare global {
  interface Window {
    dispatchMessages(n: number): void;
  }
}

const MESSAGES = 300_000;

test("earshot allocates nothing per WebSocket message beyond the app's own", async ({ page }) => {
  await openHarness(page);
  const cdp = await page.context().newCDPSession(page);
  const bytesPerMessage = async (instrument: boolean): Promise<number> => {
    // One message from the app starts a turn; the server's one reply is far off.
    await page.evaluate(
      ([instrument, url]) =>
        new Promise<void>((resolve, reject) => {
          const dist: string = '/dist/earshot.js';
          void (import(dist) as Promise<typeof import('../src/index')>).then(({ createMonitor }) => {
            const ws = instrument ? createMonitor().websocket(url) : new WebSocket(url);
            let chars = 0;
            ws.onerror = reject;
            ws.onopen = () => {
              ws.send('go');
              ws.onmessage = (e) => void (chars += (e.data as string).length);
              const init = { data: '{"i":12345}' };
              window.dispatchMessages = (n) => {
                for (let i = 0; i < n; i++) ws.dispatchEvent(new MessageEvent('message', init));
              };
              resolve();
            };
          }, reject);
        }),
      [instrument, wsUrl({ gaps: '600000' })] as const,
    );
    // Warm, so that V8 has optimized the path that is measured.
    for (let i = 0; i < 4; i++) await page.evaluate((n) => window.dispatchMessages(n), 50_000);
    return (await bytesAllocated(cdp, () => page.evaluate((n) => window.dispatchMessages(n), MESSAGES))) / MESSAGES;
  };
  const raw = await bytesPerMessage(false);
  const observed = await bytesPerMessage(true);
  console.log(`allocated per message: raw ${raw.toFixed(1)} B, through earshot ${observed.toFixed(1)} B`);
  expect(observed - raw, `bytes per message, earshot (${observed.toFixed(1)}) over raw (${raw.toFixed(1)})`).toBeLessThan(2);
});
