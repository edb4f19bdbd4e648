/**
 * From a slow turn to its cause, in real Chromium: the app (e2e/pages/otel.html, built) exports with
 * logs on and a TTFT objective that one turn misses. Following the TTFT histogram's exemplar at the
 * embedded receiver, over its HTTP API as the demo does, leads to that turn's trace (the client
 * turn span and the server span it caused) and to its SLO-violation record on the same span.
 */
import { expect, test } from '@playwright/test';
import type { ReceivedLog, ReceivedMetric, ReceivedSpan } from '../demo/receiver';
import { SERVER_SERVICE, startOtelApp, type OtelApp } from './otel-server';

let app: OtelApp;

test.describe.configure({ mode: 'serial' });

test.beforeAll(async ({}, info) => {
  info.setTimeout(240_000);
  app = await startOtelApp('exemplars-app');
});

test.afterAll(() => app?.close());

/** A query to the receiver's HTTP API. */
async function query<T>(path: string): Promise<T> {
  const response = await fetch(`${app.receiver.url}${path}`);
  expect(response.status, path).toBe(200);
  return (await response.json()) as T;
}

test('the TTFT exemplar of a turn that missed its SLO leads to its trace and its SLO-violation record', async ({ page }) => {
  const service = 'otel-exemplars';
  const errors = await app.open(page, { service, logs: true, slo: { ttftMs: 1000 } });
  const sse = (infer: number) => page.evaluate((url) => window.app.fetchText(url), `${app.server.origin}/sse?n=3&gap=5&infer=${infer}`);
  // One turn well within the objective, then one whose server takes 1.2 s to answer.
  await sse(0);
  await sse(1200);
  await page.evaluate(() => window.app.flush());
  const reports = await page.evaluate(() => window.app.reports());
  expect(reports.map((r) => r.slo.good)).toEqual([true, false]);

  // 1. The metric: the TTFT histogram's exemplars, the slowest first to look at.
  const ttft = 'gen_ai.client.operation.time_to_first_chunk';
  await expect.poll(async () => (await query<ReceivedMetric[]>(`/api/metrics?name=${ttft}`)).length, { timeout: 15_000 }).toBeGreaterThan(0);
  const [metric] = (await query<ReceivedMetric[]>(`/api/metrics?name=${ttft}`)).filter((m) => m.resource['service.name'] === service);
  const [point] = metric.points;
  expect(point.exemplars).toHaveLength(2);
  const slowest = point.exemplars.reduce((a, b) => (b.value > a.value ? b : a));
  expect(slowest.value).toBeCloseTo(reports[1].ttftMs! / 1000, 9);
  expect(slowest.value).toBeGreaterThanOrEqual(1.2);

  // 2. Its trace: the turn span it names, and the server span the turn caused, with its inference time.
  const { spans } = await query<{ spans: ReceivedSpan[] }>(`/api/traces/${slowest.traceId}`);
  const turn = spans.find((s) => s.spanId === slowest.spanId);
  expect(turn?.name).toBe('earshot.turn');
  expect(turn?.attributes).toMatchObject({ 'earshot.turn.id': 't2', 'earshot.slo.good': false, 'earshot.ttft_ms': reports[1].ttftMs });
  const backend = spans.find((s) => s.resource['service.name'] === SERVER_SERVICE);
  expect(backend?.parentSpanId).toBe(turn!.spanId);
  expect(turn?.attributes['earshot.server_timing.inference_ms']).toBe(1200);

  // 3. Its logs: the SLO violation, on the same span, under the same resource.
  const records = await query<ReceivedLog[]>(`/api/logs?traceId=${slowest.traceId}`);
  expect(records.map((r) => [r.eventName, r.spanId, r.severityText])).toEqual([['earshot.slo.violation', turn!.spanId, 'WARN']]);
  expect(records[0].attributes).toMatchObject({ 'earshot.slo.failed': ['ttftMs'], 'earshot.ttft_ms': reports[1].ttftMs, 'earshot.turn.id': 't2' });
  expect(records[0].resource).toEqual(turn!.resource);
  expect(metric.resource).toEqual(turn!.resource);
  expect(errors).toEqual([]);
});
