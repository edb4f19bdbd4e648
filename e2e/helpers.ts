import { expect, type Page, type Request, type Response } from '@playwright/test';
import { ORIGIN, WS_ORIGIN } from './env';
import type { TurnReport } from '../src/core/types';
// For the `window.harness` typing the harness page declares.
import type {} from './pages/harness';

export type Query = Record<string, string | number | boolean | undefined>;

function query(params: Query): string {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) search.set(k, String(v));
  return search.toString();
}

export const wsUrl = (params: Query = {}): string => `${WS_ORIGIN}/ws?${query(params)}`;
export const httpUrl = (path: string, params: Query = {}, origin = ORIGIN): string =>
  `${origin}/${path}?${query(params)}`;

/** A per-turn WebSocket request carrying its own reply script. */
export const scripted = (script: Query, extra: Record<string, string> = {}): string =>
  JSON.stringify({ ...extra, script });

let ids = 0;
/** A tag for the server's send log, unique within this worker. */
export const uniqueId = (label: string): string => `${label}-${process.pid}-${++ids}`;

/** Opens the harness page; `coi` serves it cross-origin isolated (5 µs clock instead of 100 µs). */
export async function openHarness(page: Page, { coi = false } = {}): Promise<void> {
  // Why the page did not come up, if it does not: a failed module load is otherwise silent.
  const problems: string[] = [];
  const onError = (e: Error): void => void problems.push(e.message);
  const onFailed = (r: Request): void => void problems.push(`${r.url()}: ${r.failure()?.errorText}`);
  const onResponse = (r: Response): void => {
    if (r.status() >= 400) problems.push(`${r.url()}: HTTP ${r.status()}`);
  };
  page.on('pageerror', onError).on('requestfailed', onFailed).on('response', onResponse);
  await page.goto(`/e2e/pages/harness.html${coi ? '?coi=1' : ''}`);
  try {
    await page.waitForFunction(() => window.harness?.ready === true, undefined, { timeout: 25_000 });
  } catch {
    throw new Error(`the harness page did not load (is dist/ built?): ${problems.join('; ') || 'no error reported'}`);
  } finally {
    page.off('pageerror', onError).off('requestfailed', onFailed).off('response', onResponse);
  }
  expect(await page.evaluate(() => window.harness.crossOriginIsolated)).toBe(coi);
}

/** Collects uncaught page errors (what a user's error tracker would see). */
export function pageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  return errors;
}

export interface LogEntry {
  t: number;
  what: string;
}

/** What the server logged for requests tagged `id` (times in ms from the first entry, server clock). */
export async function serverLog(page: Page, id: string): Promise<LogEntry[]> {
  const res = await page.request.get(httpUrl('log', { id }));
  return (await res.json()) as LogEntry[];
}

/** Server send times of the content messages of one stream (`prefix` selects a WebSocket turn). */
export function sendTimes(log: readonly LogEntry[], prefix = ''): number[] {
  const re = new RegExp(`^${prefix}message \\d+$`);
  return log.filter((e) => re.test(e.what)).map((e) => e.t);
}

/** The server's worst event-loop delay since the last call: how late its sends could have been. */
export async function serverLoopDelayMs(page: Page): Promise<number> {
  const res = await page.request.get(httpUrl('health'));
  return ((await res.json()) as { maxMs: number }).maxMs;
}

export function diffs(times: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 1; i < times.length; i++) out.push(times[i] - times[i - 1]);
  return out;
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Population standard deviation, as the SDK reports jitter. */
export function stddev(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / values.length);
}

const fmt = (v: number | undefined): string => (v === undefined ? '-' : v.toFixed(3)).padStart(11);

/** Side-by-side table of two series and their differences. */
export function table(names: [string, string], a: readonly number[], b: readonly number[]): string {
  const rows = [`${'#'.padStart(4)}${names[0].padStart(11)}${names[1].padStart(11)}${'diff'.padStart(11)}`];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = a[i] !== undefined && b[i] !== undefined ? a[i] - b[i] : undefined;
    rows.push(`${String(i).padStart(4)}${fmt(a[i])}${fmt(b[i])}${fmt(d)}`);
  }
  return rows.join('\n');
}

/** Floating-point slack for values the SDK derives from its own chunk times. */
export const EXACT = 1e-9;

/** One line per turn for the log: what was measured, so a run's figures can be read off. */
export function describeTurn(turn: TurnReport): string {
  return `${turn.transport} ${turn.outcome} chunks=${turn.chunks} tokens=${turn.tokens}${turn.tokensEstimated ? '~' : ''} ttft=${turn.ttftMs?.toFixed(3)} tpot=${turn.tpotMs?.toFixed(3)} itl.max=${turn.itl.max.toFixed(3)}${turn.reason ? ` (${turn.reason})` : ''}`;
}
