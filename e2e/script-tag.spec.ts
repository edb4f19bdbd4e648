/** The script-tag build: one classic <script> tag, `window.Earshot`, no modules or bundler. */
import { expect, test } from '@playwright/test';
import type { Summary, TurnReport } from '../src/core/types';
import { httpUrl, pageErrors, wsUrl } from './helpers';

declare global {
  interface Window {
    scriptTagRun(url: string): Promise<{ text: string; turns: TurnReport[]; summary: Summary }>;
    patchedRun(
      httpUrl: string,
      wsUrl: string,
    ): Promise<{
      text: string;
      messages: string[];
      shape: { isWebSocket: boolean; isNative: boolean; OPEN: number };
      sameUndo: boolean;
      restored: boolean;
      turns: TurnReport[];
    }>;
  }
}

test('window.Earshot.createMonitor measures a turn', async ({ page }) => {
  const errors = pageErrors(page);
  // A rebuild empties dist/ for a moment: wait for the file rather than fail on a build in progress.
  await expect
    .poll(async () => (await page.request.get(httpUrl('dist/earshot.iife.js'))).status(), {
      message: 'dist/earshot.iife.js (built by `npm run build`)',
      timeout: 20_000,
    })
    .toBe(200);
  await page.goto('/e2e/pages/script-tag.html');
  expect(await page.evaluate(() => Object.keys(window.Earshot ?? {}))).toEqual(
    expect.arrayContaining(['adapters', 'createMonitor']),
  );
  // SSE: earshot counts events, however the reads that carry them are split.
  const r = await page.evaluate((url) => window.scriptTagRun(url), httpUrl('sse', { format: 'generic', gaps: '10x3' }));
  expect(r.text).toBe('data: tok0 \n\ndata: tok1 \n\ndata: tok2 \n\n');
  expect(r.turns).toHaveLength(1);
  expect(r.turns[0]).toMatchObject({ transport: 'fetch', outcome: 'complete', chunks: 3, tokens: 3, tokensEstimated: true });
  expect(r.turns[0].ttftMs).toBeGreaterThanOrEqual(9);
  expect(r.summary.turns).toMatchObject({ started: 1, complete: 1, good: 1 });
  expect(errors).toEqual([]);
});

test('patchGlobals measures an app that never mentions earshot, and undoes cleanly', async ({ page }) => {
  const errors = pageErrors(page);
  await expect
    .poll(async () => (await page.request.get(httpUrl('dist/earshot.iife.js'))).status(), { timeout: 20_000 })
    .toBe(200);
  await page.goto('/e2e/pages/script-tag.html');
  const r = await page.evaluate(
    ([h, w]) => window.patchedRun(h, w),
    [httpUrl('sse', { format: 'generic', gaps: '10x3' }), wsUrl({ format: 'text', gaps: '10x3' })] as const,
  );
  expect(r.sameUndo).toBe(true);
  expect(r.restored).toBe(true);
  expect(r.shape).toEqual({ isWebSocket: true, isNative: true, OPEN: 1 });
  expect(r.messages).toHaveLength(3);
  expect(r.turns.map((t) => [t.transport, t.outcome, t.chunks])).toEqual([
    ['fetch', 'complete', 3],
    ['websocket', 'abandoned', 3],
  ]);
  expect(errors).toEqual([]);
});
