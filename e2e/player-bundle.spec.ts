/**
 * The player through an app's bundler: Vite builds an app that imports `earshot/jitter-buffer`
 * (resolved to the built entry, as from node_modules). The bundler must ship the worklet as its own
 * file, found through `new URL('./jitter-buffer-worklet.js', import.meta.url)`, and the app must play
 * under a strict CSP (script-src 'self': no blob:, no data:).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect, test } from '@playwright/test';
import { build } from 'vite';

const ROOT = resolve(import.meta.dirname, '..');
const OUT = join(ROOT, 'e2e/artifacts/player-app');

test('an app bundled by Vite ships the worklet file and plays under a strict CSP', async ({ page }) => {
  test.setTimeout(60_000);
  await build({
    configFile: false,
    logLevel: 'warn',
    root: join(ROOT, 'e2e/pages'),
    base: './',
    resolve: { alias: { 'earshot/jitter-buffer': join(ROOT, 'dist/jitter-buffer.js') } },
    build: { outDir: OUT, emptyOutDir: true, rollupOptions: { input: join(ROOT, 'e2e/pages/player-app.html') } },
  });
  const assets = readdirSync(join(OUT, 'assets'));
  const worklet = assets.find((f) => /^jitter-buffer-worklet-.*\.js$/.test(f));
  expect(worklet, assets.join(', ')).toBeDefined();
  // Copied as is, not inlined: the same bytes as the built worklet.
  expect(readFileSync(join(OUT, 'assets', worklet!)).equals(readFileSync(join(ROOT, 'dist/jitter-buffer-worklet.js')))).toBe(true);

  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/e2e/artifacts/player-app/player-app.html');
  await page.waitForFunction(() => typeof (window as { appPlay?: unknown }).appPlay === 'function');
  expect(await page.evaluate(() => (window as unknown as { appPlay(): Promise<number> }).appPlay())).toBe(2400);
  expect(errors).toEqual([]);
});
