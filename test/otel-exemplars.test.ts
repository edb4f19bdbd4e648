import { metrics, trace, TraceFlags, type Context, type SpanContext } from '@opentelemetry/api';
import { JsonMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { AggregationTemporality, MeterProvider, MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { startReceiver } from '../demo/receiver';
import { adapters, createMonitor, type TurnReport } from '../src/index';
import { otel } from '../src/otel.ts';
import { Exemplars, MetricsSerializer } from '../src/otel/exemplars';

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

const span = (n: number, sampled = true): SpanContext => ({
  traceId: n.toString(16).padStart(32, '0'),
  spanId: n.toString(16).padStart(16, '0'),
  traceFlags: sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
});

/** Histograms `a` and `b` of two scopes, recorded as given, collected once. */
async function collected(record: (a: (v: number, attrs: object) => void, b: (v: number) => void) => void): Promise<ResourceMetrics> {
  const reader = new TestReader();
  const provider = new MeterProvider({ readers: [reader] });
  const a = provider.getMeter('one').createHistogram('a');
  const b = provider.getMeter('two').createHistogram('b');
  provider.getMeter('two').createCounter('c').add(1);
  record((v, attrs) => a.record(v, attrs as never), (v) => b.record(v));
  return (await reader.collect()).resourceMetrics;
}

type Json = { resourceMetrics: Array<{ scopeMetrics: Array<{ metrics: Array<Record<string, { dataPoints: Array<Record<string, unknown>> }>> }> }> };
const decode = (bytes: Uint8Array | undefined) => JSON.parse(new TextDecoder().decode(bytes)) as Json;

describe('Exemplars', () => {
  it('keeps the largest measurements of each data point, sampled only, and starts over after each collection', async () => {
    const exemplars = new Exemplars(2);
    const metrics = await collected((a, b) => {
      a(1, { transport: 'fetch', outcome: 'complete' });
      a(1, { transport: 'websocket' });
      b(1);
    });
    const offers: Array<[string, object, number, SpanContext]> = [
      ['a', { transport: 'fetch', outcome: 'complete' }, 0.3, span(1)],
      // The same attribute set in another key order.
      ['a', { outcome: 'complete', transport: 'fetch' }, 0.9, span(2)],
      ['a', { transport: 'fetch', outcome: 'complete' }, 0.1, span(3)],
      ['a', { transport: 'fetch', outcome: 'complete' }, 0.5, span(4)],
      ['a', { transport: 'fetch', outcome: 'complete' }, 5, span(5, false)],
      ['a', { transport: 'websocket' }, 0.2, span(6)],
    ];
    for (const [name, attributes, value, context] of offers) exemplars.offer(name, attributes as never, value, context);
    exemplars.attach(metrics);

    const kept = (metric: number, point: number, scope = 0) =>
      (metrics.scopeMetrics[scope].metrics[metric].dataPoints[point] as { exemplars?: Array<{ asDouble: number; spanId: string }> }).exemplars?.map(
        (e) => [e.asDouble, e.spanId],
      );
    expect(kept(0, 0)).toEqual([
      [0.5, span(4).spanId],
      [0.9, span(2).spanId],
    ]);
    expect(kept(0, 1)).toEqual([[0.2, span(6).spanId]]);
    expect(kept(0, 0, 1)).toBeUndefined();

    // The next collection has none until more are offered.
    const next = await collected((a) => a(1, { transport: 'websocket' }));
    exemplars.attach(next);
    expect((next.scopeMetrics[0].metrics[0].dataPoints[0] as { exemplars?: unknown }).exemplars).toBeUndefined();
  });

  it('keeps none with size 0', async () => {
    const exemplars = new Exemplars(0);
    const metrics = await collected((a) => a(1, {}));
    exemplars.offer('a', {}, 1, span(1));
    exemplars.attach(metrics);
    expect((metrics.scopeMetrics[0].metrics[0].dataPoints[0] as { exemplars?: unknown }).exemplars).toBeUndefined();
  });
});

describe('MetricsSerializer', () => {
  it("writes exactly OpenTelemetry's request without exemplars, and each exemplar on its own point with them", async () => {
    const metrics = await collected((a, b) => {
      a(1, { transport: 'fetch' });
      a(2, { transport: 'websocket' });
      b(3);
    });
    expect(MetricsSerializer.serializeRequest(metrics)).toEqual(JsonMetricsSerializer.serializeRequest(metrics));

    const exemplars = new Exemplars(1);
    exemplars.offer('a', { transport: 'websocket' }, 2, span(7));
    exemplars.offer('b', {}, 3, span(8));
    exemplars.attach(metrics);
    const request = decode(MetricsSerializer.serializeRequest(metrics));
    const [one, two] = request.resourceMetrics[0].scopeMetrics;
    const points = (metric: Record<string, { dataPoints: Array<Record<string, unknown>> }>) =>
      (metric.histogram ?? metric.exponentialHistogram ?? metric.sum).dataPoints.map((p) => p.exemplars);
    const at = expect.stringMatching(/^\d{19}$/);
    expect(points(one.metrics[0])).toEqual([
      undefined,
      [{ timeUnixNano: at, asDouble: 2, traceId: span(7).traceId, spanId: span(7).spanId }],
    ]);
    expect(points(two.metrics[0])).toEqual([[{ timeUnixNano: at, asDouble: 3, traceId: span(8).traceId, spanId: span(8).spanId }]]);
    expect(points(two.metrics[1])).toEqual([undefined]);
    // Everything else as OpenTelemetry wrote it.
    const plain = decode(JsonMetricsSerializer.serializeRequest(metrics));
    delete (request.resourceMetrics[0].scopeMetrics[0].metrics[0].histogram.dataPoints[1] as { exemplars?: unknown }).exemplars;
    delete (request.resourceMetrics[0].scopeMetrics[1].metrics[0].histogram.dataPoints[0] as { exemplars?: unknown }).exemplars;
    expect(request).toEqual(plain);
  });
});

const wsAdapter = () => adapters.json({ request: ['req'], content: ['delta'], end: ['done'] });

describe("earshot's own pipeline: from a slow turn's exemplar to its trace and its logs", () => {
  it('the TTFT exemplar names the violating turn, whose trace has its span and its SLO violation record', async () => {
    const receiver = await startReceiver();
    try {
      const reports: TurnReport[] = [];
      const sink = otel({ serviceName: 'checkout', url: receiver.url, webVitals: false, logs: true });
      const monitor = createMonitor({ sink, slo: { ttftMs: 40 }, onTurn: (t) => reports.push(t) });
      const connection = monitor.connection('websocket', 'wss://api.test/rt', { adapter: wsAdapter() });
      // Whole milliseconds: t0 + 90 − t0 is exactly 90 however long the worker has run.
      const t0 = Math.floor(performance.now());
      // A turn within its SLO, then one that misses it (TTFT 90 ms), its reply displayed at 100 ms.
      connection.sent('{"type":"req"}', t0);
      connection.received('{"type":"delta"}', t0 + 20);
      connection.received('{"type":"done"}', t0 + 30);
      connection.sent('{"type":"req"}', t0 + 40);
      connection.received('{"type":"delta"}', t0 + 130);
      monitor.activeTurn()!.displayed(t0 + 140);
      connection.received('{"type":"done"}', t0 + 150);
      connection.close('clean', t0 + 160);
      await sink.flush();

      const [ttft] = receiver.metrics({ name: 'gen_ai.client.operation.time_to_first_chunk' });
      const [point] = ttft.points;
      expect(point.exemplars.map((e) => e.value)).toEqual([0.02, 0.09]);
      const slowest = point.exemplars[1];

      const trace = receiver.trace(slowest.traceId);
      const turn = trace.find((s) => s.spanId === slowest.spanId)!;
      expect(turn.name).toBe('earshot.turn');
      expect(turn.attributes).toMatchObject({ 'earshot.turn.id': 't2', 'earshot.ttft_ms': 90, 'earshot.ttfd_ms': 100, 'earshot.slo.good': false });
      expect(trace.map((s) => s.name).sort()).toEqual(['earshot.connection', 'earshot.turn', 'earshot.turn']);

      const records = receiver.logs({ traceId: slowest.traceId });
      expect(records).toHaveLength(1);
      const [record] = records;
      expect([record.eventName, record.spanId, record.severityNumber, record.severityText]).toEqual(['earshot.slo.violation', turn.spanId, 13, 'WARN']);
      expect(record.body).toBe('turn t2 missed its SLO: ttftMs');
      expect(record.attributes).toEqual({
        'earshot.turn.id': 't2',
        'earshot.connection.id': 'c1',
        'earshot.transport': 'websocket',
        'earshot.outcome': 'complete',
        'earshot.slo.failed': ['ttftMs'],
        'earshot.slo.category': 'latency',
        'earshot.ttft_ms': 90,
      });
      // At the turn's end, on the resource of its span and metrics.
      expect(record.timeUnixNano).toBe(turn.endTimeUnixNano);
      expect(record.resource).toEqual(turn.resource);
      expect(ttft.resource).toEqual(turn.resource);

      // Time to first display: an attribute (above) and a histogram with its exemplar.
      const [ttfd] = receiver.metrics({ name: 'earshot.ttfd' });
      expect(ttfd.points.map((p) => [p.count, p.sum, p.exemplars.map((e) => e.spanId)])).toEqual([[1, 0.1, [turn.spanId]]]);
      expect(reports.map((r) => r.ttfdMs)).toEqual([undefined, 100]);
      expect(sink.dropped()).toBe(0);
      await sink.shutdown();
    } finally {
      await receiver.close();
    }
  });
});

describe("with the app's meter provider", () => {
  afterEach(() => {
    metrics.disable();
    trace.disable();
  });

  it("records each turn's histograms in its span's context, where a provider with exemplars finds the span", async () => {
    const spans = new InMemorySpanExporter();
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }));
    // sdk-metrics 2.12 hands a measurement's context to attribute processors only: one stands in
    // for the exemplar reservoir it does not have.
    const seen: Array<[string, string | undefined]> = [];
    const reader = new TestReader();
    metrics.setGlobalMeterProvider(
      new MeterProvider({
        readers: [reader],
        views: [
          {
            instrumentName: 'gen_ai.client.operation.time_to_first_chunk',
            attributesProcessors: [
              {
                process: (attributes, context?: Context) => {
                  seen.push(['ttft', context && trace.getSpanContext(context)?.spanId]);
                  return attributes;
                },
              },
            ],
          },
        ],
      }),
    );
    const sink = otel({ serviceName: 'app', webVitals: false });
    const monitor = createMonitor({ sink });
    const connection = monitor.connection('websocket', 'wss://api.test/rt', { adapter: wsAdapter() });
    connection.sent('{"type":"req"}');
    connection.received('{"type":"delta"}');
    connection.received('{"type":"done"}');
    const turn = spans.getFinishedSpans().find((s) => s.name === 'earshot.turn')!;
    expect(seen).toEqual([['ttft', turn.spanContext().spanId]]);
    await sink.shutdown();
  });
});
