import { metrics, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { hrTimeToMilliseconds } from '@opentelemetry/core';
import { AggregationTemporality, DataPointType, MeterProvider, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { adapters, createMonitor, type TurnReport } from '../src/index';
import { otel } from '../src/otel.ts';

/** A reader the test collects from on demand. */
class TestReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

// The app registered its own providers: earshot records into them. A fresh meter provider per
// test, so counts start from zero.
const spans = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
let reader: TestReader;
beforeAll(() => trace.setGlobalTracerProvider(tracerProvider));
afterAll(() => trace.disable());
beforeEach(() => {
  reader = new TestReader();
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
});
afterEach(() => {
  spans.reset();
  metrics.disable();
});

async function collect(): Promise<Map<string, MetricData>> {
  const { resourceMetrics } = await reader.collect();
  return new Map(resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).map((m) => [m.descriptor.name, m]));
}

/** Each data point of a metric as [attributes, value] (histograms: [attributes, count, sum]). */
function points(metric: MetricData | undefined): unknown[] {
  return (metric?.dataPoints ?? []).map((p) =>
    metric!.dataPointType === DataPointType.EXPONENTIAL_HISTOGRAM || metric!.dataPointType === DataPointType.HISTOGRAM
      ? [p.attributes, (p.value as { count: number }).count, (p.value as { sum: number }).sum]
      : [p.attributes, p.value],
  );
}

const epochMs = (span: ReadableSpan, key: 'startTime' | 'endTime') => hrTimeToMilliseconds(span[key]);
const wsAdapter = () => adapters.json({ request: ['req'], content: ['delta'], end: ['done'] });

describe('earshot/otel spans', () => {
  it('a connection span with a child span per turn, at the turn times, with its figures and events', async () => {
    const reports: TurnReport[] = [];
    const sink = otel({ serviceName: 'app', chunkEvents: 2, webVitals: false });
    const monitor = createMonitor({ sink, chunkTimes: 10, slo: { ttftMs: 40 }, onTurn: (t) => reports.push(t) });
    const connection = monitor.connection('websocket', 'wss://api.test/rt?token=secret', { adapter: wsAdapter() });
    // A whole number of ms: the figures below are differences of these times, exact only on integers.
    const t0 = Math.round(performance.now());
    connection.sent('{"type":"req"}', t0);
    for (const dt of [50, 70, 100]) connection.received('{"type":"delta"}', t0 + dt);
    connection.received('{"type":"done"}', t0 + 120);
    connection.close('dropped', t0 + 200, 'reset by peer', 1006);

    const [turn, conn] = spans.getFinishedSpans();
    const origin = performance.timeOrigin;
    expect([conn.name, turn.name, conn.kind, turn.kind]).toEqual(['earshot.connection', 'earshot.turn', SpanKind.CLIENT, SpanKind.CLIENT]);
    expect(turn.spanContext().traceId).toBe(conn.spanContext().traceId);
    expect(turn.parentSpanContext?.spanId).toBe(conn.spanContext().spanId);
    expect(conn.parentSpanContext).toBeUndefined();
    // Real times of the turn: request at t0, end at its last byte.
    expect(epochMs(turn, 'startTime')).toBeCloseTo(origin + t0, 3);
    expect(epochMs(turn, 'endTime')).toBeCloseTo(origin + t0 + 120, 3);
    expect(epochMs(conn, 'endTime')).toBeCloseTo(origin + t0 + 200, 3);
    expect(turn.events.map((e) => [e.name, Math.round(hrTimeToMilliseconds(e.time) - origin - t0), e.attributes])).toEqual([
      ['earshot.first_byte', 50, {}],
      ['earshot.first_content', 50, {}],
      ['earshot.chunk', 50, { 'earshot.chunk.index': 0 }],
      ['earshot.chunk', 70, { 'earshot.chunk.index': 1 }],
      ['earshot.end', 120, {}],
    ]);

    const [report] = reports;
    expect(turn.attributes).toEqual({
      'url.full': 'wss://api.test/rt?token=REDACTED',
      'earshot.turn.id': 't1',
      'earshot.connection.id': 'c1',
      'earshot.transport': 'websocket',
      'earshot.outcome': 'complete',
      'earshot.ttfb_ms': 50,
      'earshot.ttft_ms': 50,
      'earshot.e2e_ms': 120,
      'earshot.tpot_ms': 25,
      'earshot.tokens': 3,
      'earshot.tokens_estimated': true,
      'earshot.chunks': 3,
      'earshot.audio_ms': 0,
      'earshot.slo.good': false,
      'earshot.slo.failed': ['ttftMs'],
      'earshot.slo.category': 'latency',
      'earshot.itl.count': 2,
      'earshot.itl.mean_ms': 25,
      'earshot.itl.p50_ms': report.itl.p50,
      'earshot.itl.p90_ms': report.itl.p90,
      'earshot.itl.p95_ms': report.itl.p95,
      'earshot.itl.p99_ms': report.itl.p99,
      'earshot.itl.max_ms': 30,
      'earshot.jitter_ms': 5,
      'earshot.stalls': 0,
    });
    expect(turn.status.code).toBe(SpanStatusCode.UNSET);
    // No reason text unless asked for: it can quote the server.
    expect(conn.status).toEqual({ code: SpanStatusCode.ERROR, message: 'dropped' });
    expect(conn.attributes).toEqual({
      'url.full': 'wss://api.test/rt?token=REDACTED',
      'earshot.connection.id': 'c1',
      'earshot.transport': 'websocket',
      'earshot.outcome': 'dropped',
      'earshot.turns': 1,
      'earshot.close_code': 1006,
    });
    await sink.shutdown();
  });

  it('reasons only when asked for; a manual turn is a root span; an abandoned one is no error', async () => {
    const sink = otel({ serviceName: 'app', recordReasons: true, webVitals: false });
    const monitor = createMonitor({ sink });
    const failed = monitor.turn().start();
    failed.fail('quota exceeded');
    monitor.turn().abandon('user left');

    const [a, b] = spans.getFinishedSpans();
    expect(a.parentSpanContext).toBeUndefined();
    expect(a.spanContext().traceId).not.toBe(b.spanContext().traceId);
    expect([a.attributes['earshot.outcome'], a.attributes['earshot.reason'], a.status]).toEqual([
      'error',
      'quota exceeded',
      { code: SpanStatusCode.ERROR, message: 'quota exceeded' },
    ]);
    expect([b.attributes['earshot.outcome'], b.attributes['earshot.reason'], b.status.code]).toEqual(['abandoned', 'user left', SpanStatusCode.UNSET]);
    await sink.shutdown();
  });

  it('a fetch turn carries traceparent where allowed, and Server-Timing links the server span and splits TTFT', async () => {
    const serverSpan = { traceId: 'ab'.repeat(16), spanId: 'cd'.repeat(8) };
    const calls: Array<Headers> = [];
    const original = globalThis.fetch;
    globalThis.fetch = (async (_input: RequestInfo | URL, init?: RequestInit) => {
      calls.push(new Headers(init?.headers));
      return new Response('data: {"choices":[{"delta":{"content":"hi"}}]}\n\ndata: [DONE]\n\n', {
        headers: {
          'content-type': 'text/event-stream',
          'server-timing': `traceparent;desc="00-${serverSpan.traceId}-${serverSpan.spanId}-01", inference;dur=0.25, db;dur=0.1`,
        },
      });
    }) as typeof fetch;
    const reports: TurnReport[] = [];
    const sink = otel({ serviceName: 'app', webVitals: false, propagateTraceHeaderCorsUrls: [/^https:\/\/api\.test\//] });
    const monitor = createMonitor({ sink, onTurn: (t) => reports.push(t) });
    try {
      await (await monitor.fetch('https://api.test/chat')).text();
      await (await monitor.fetch('https://elsewhere.test/chat')).text();
    } finally {
      globalThis.fetch = original;
    }
    const turns = spans.getFinishedSpans().filter((s) => s.name === 'earshot.turn');
    const context = turns[0].spanContext();
    expect(calls[0].get('traceparent')).toBe(`00-${context.traceId}-${context.spanId}-01`);
    expect(calls[1].get('traceparent')).toBeNull();
    expect(turns[0].links).toEqual([
      { context: { ...serverSpan, traceFlags: 1, isRemote: true }, attributes: { 'earshot.link': 'server' } },
    ]);
    expect(turns[0].attributes).toMatchObject({
      'earshot.server_timing.inference_ms': 0.25,
      'earshot.server_timing.db_ms': 0.1,
      'earshot.ttft.server_ms': 0.25,
      'earshot.ttft.network_ms': reports[0].ttftMs! - 0.25,
    });
    await sink.shutdown();
  });

  it('a turn carries its trace context in its request message when asked to, and nowhere else by default', () => {
    const sink = otel({ serviceName: 'app', webVitals: false, messageField: 'traceparent' });
    const traceparent = sink.start!('t1', undefined, undefined, performance.now())!;
    expect(sink.message!('{"type":"req"}', traceparent)).toBe(`{"type":"req","traceparent":"${traceparent}"}`);
    expect(otel({ serviceName: 'app', webVitals: false }).message).toBeUndefined();
  });

  it('rejects options that would export nothing useful', () => {
    expect(() => otel({ serviceName: '' })).toThrow(/serviceName/);
    expect(() => otel({ serviceName: 'a', websocketCarrier: 'header' as 'query' })).toThrow(/websocketCarrier/);
    expect(() => otel({ serviceName: 'a', maxQueue: -1 })).toThrow(/maxQueue must be a number >= 0/);
    expect(() => otel({ serviceName: 'a', metricIntervalMs: 0 })).toThrow(/metricIntervalMs must be a number >= 1/);
    expect(() => otel({ serviceName: 'a', colour: 1 } as never)).toThrow(/unknown option "colour"/);
    expect(() => otel({ serviceName: 'a', url: 'not a url' })).toThrow(/url must be an http\(s\) URL \(got "not a url"\)/);
    expect(() => otel({ serviceName: 'a', url: 'ftp://collector' })).toThrow(/url must be an http\(s\) URL/);
    expect(() => otel({ serviceName: 'a', url: 'https://collector.test', webVitals: false })).not.toThrow();
  });
});

describe('earshot/otel metrics', () => {
  it('records every turn and connection, and reads the peak of connections per collection', async () => {
    const sink = otel({ serviceName: 'app', webVitals: false });
    const monitor = createMonitor({ sink, slo: { ttftMs: 40 } });
    // Whole milliseconds: t0 + 90 − t0 is exactly 90 however long the worker has run.
    const t0 = Math.floor(performance.now());
    const a = monitor.connection('websocket', 'wss://api.test/rt', { adapter: wsAdapter() });
    const b = monitor.connection('websocket', 'wss://api.test/rt', { adapter: wsAdapter() });
    a.sent('{"type":"req"}', t0);
    for (const dt of [30, 50, 80]) a.received('{"type":"delta"}', t0 + dt);
    a.received('{"type":"done"}', t0 + 100);
    b.sent('{"type":"req"}', t0);
    b.received('{"type":"delta"}', t0 + 60);
    a.close('clean', t0 + 150);
    b.close('dropped', t0 + 150);

    const first = await collect();
    const ws = { transport: 'websocket' };
    expect(points(first.get('gen_ai.client.operation.time_to_first_chunk'))).toEqual([[ws, 2, 0.09]]);
    expect(points(first.get('gen_ai.client.operation.time_per_output_chunk'))).toEqual([[ws, 1, 0.025]]);
    expect(points(first.get('gen_ai.client.operation.duration'))).toEqual([
      [{ ...ws, outcome: 'complete' }, 1, 0.1],
      [{ ...ws, outcome: 'dropped' }, 1, 0.06],
    ]);
    expect(points(first.get('earshot.itl.max'))).toEqual([[ws, 1, 0.03]]);
    expect(points(first.get('earshot.jitter'))).toEqual([[ws, 1, 0.005]]);
    expect(points(first.get('earshot.turns'))).toEqual([
      [{ ...ws, outcome: 'complete', 'slo.good': true }, 1],
      [{ ...ws, outcome: 'dropped', 'slo.good': false, 'slo.category': 'infrastructure' }, 1],
    ]);
    expect(points(first.get('earshot.slo.failures'))).toEqual([
      // Both from the dropped turn (TTFT 60 ms > 40 ms); the complete one met the SLO.
      [{ 'slo.criterion': 'outcome' }, 1],
      [{ 'slo.criterion': 'ttftMs' }, 1],
    ]);
    expect(points(first.get('earshot.connections'))).toEqual([
      [{ ...ws, outcome: 'clean' }, 1],
      [{ ...ws, outcome: 'dropped' }, 1],
    ]);
    expect(first.get('gen_ai.client.operation.time_to_first_chunk')?.descriptor.unit).toBe('s');
    // Both were open at once, none is now: the interval's peak is 2, the next interval's 0.
    expect(points(first.get('earshot.connections.peak'))).toEqual([[{}, 2]]);
    expect(points(first.get('earshot.connections.active'))).toEqual([[{}, 0]]);
    expect(points(first.get('earshot.telemetry.dropped'))).toEqual([[{}, 0]]);
    expect(points((await collect()).get('earshot.connections.peak'))).toEqual([[{}, 0]]);
    await sink.shutdown();
  });

  it('an abandoned turn counts, without a duration or SLO failures', async () => {
    const sink = otel({ serviceName: 'app', webVitals: false });
    const monitor = createMonitor({ sink, slo: { ttftMs: 40 } });
    monitor.turn().abandon();
    const collected = await collect();
    expect(points(collected.get('earshot.turns'))).toEqual([[{ transport: 'manual', outcome: 'abandoned', 'slo.good': false }, 1]]);
    expect(points(collected.get('gen_ai.client.operation.duration'))).toEqual([]);
    expect(points(collected.get('earshot.slo.failures'))).toEqual([]);
    await sink.shutdown();
  });
});
