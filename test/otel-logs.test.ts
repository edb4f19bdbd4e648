import { trace } from '@opentelemetry/api';
import { logs } from '@opentelemetry/api-logs';
import { hrTimeToMilliseconds } from '@opentelemetry/core';
import { AggregationTemporality, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor, type ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { metrics } from '@opentelemetry/api';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { startReceiver, type Receiver } from '../demo/receiver';
import { adapters, createMonitor } from '../src/index';
import { LOG_EVENTS, otel } from '../src/otel.ts';

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

// The app registered its own providers: earshot records into them.
const spans = new InMemorySpanExporter();
const records = new InMemoryLogRecordExporter();
let reader: TestReader;
beforeAll(() => {
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }));
  logs.setGlobalLoggerProvider(new LoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter: records })] }));
});
afterAll(() => {
  trace.disable();
  logs.disable();
});
beforeEach(() => {
  reader = new TestReader();
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
});
afterEach(() => {
  spans.reset();
  records.reset();
  metrics.disable();
  vi.restoreAllMocks();
});

const wsAdapter = () => adapters.json({ request: ['req'], content: ['delta'], end: ['done'] });
const finished = (name: string) => spans.getFinishedSpans().filter((s) => s.name === name);
const epochMs = (record: ReadableLogRecord) => hrTimeToMilliseconds(record.hrTime);
/** A record as [event, severity, body, attributes, span id]. */
const summary = (r: ReadableLogRecord) => [r.eventName, r.severityText, r.body, r.attributes, r.spanContext?.spanId];
const spanId = (span: ReadableSpan) => span.spanContext().spanId;

describe('earshot/otel log records', () => {
  it('an SLO violation, on its turn span, when the turn ended; a good turn and an abandoned one log nothing', () => {
    const sink = otel({ serviceName: 'app', webVitals: false, logs: true });
    const monitor = createMonitor({ sink, slo: { ttftMs: 40, maxGapMs: 30 } });
    const connection = monitor.connection('websocket', 'wss://api.test/rt', { adapter: wsAdapter() });
    // Whole milliseconds: t0 + 90 − t0 is exactly 90 however long the worker has run.
    const t0 = Math.floor(performance.now());
    connection.sent('{"type":"req"}', t0);
    connection.received('{"type":"delta"}', t0 + 10);
    connection.received('{"type":"done"}', t0 + 20);
    connection.sent('{"type":"req"}', t0 + 30);
    connection.received('{"type":"delta"}', t0 + 90);
    connection.received('{"type":"delta"}', t0 + 140);
    connection.received('{"type":"done"}', t0 + 150);
    monitor.turn().abandon();

    const [, slow] = finished('earshot.turn');
    expect(records.getFinishedLogRecords().map(summary)).toEqual([
      [
        'earshot.slo.violation',
        'WARN',
        'turn t2 missed its SLO: ttftMs, maxGapMs',
        {
          'earshot.turn.id': 't2',
          'earshot.connection.id': 'c1',
          'earshot.transport': 'websocket',
          'earshot.outcome': 'complete',
          'earshot.slo.failed': ['ttftMs', 'maxGapMs'],
          'earshot.slo.category': 'latency',
          'earshot.ttft_ms': 60,
          'earshot.itl.max_ms': 50,
        },
        spanId(slow),
      ],
    ]);
    const [record] = records.getFinishedLogRecords();
    expect(record.severityNumber).toBe(13);
    expect(record.spanContext?.traceId).toBe(slow.spanContext().traceId);
    expect(epochMs(record)).toBeCloseTo(performance.timeOrigin + t0 + 150, 3);
  });

  it('a dropped connection with its close code, on its span; its reason only with recordReasons', () => {
    for (const recordReasons of [false, true]) {
      const sink = otel({ serviceName: 'app', webVitals: false, logs: true, recordReasons });
      const monitor = createMonitor({ sink });
      const t0 = Math.floor(performance.now());
      monitor.connection('websocket', 'wss://api.test/rt?token=secret').close('clean', t0);
      monitor.connection('websocket', 'wss://api.test/rt?token=secret').close('dropped', t0 + 5, 'going away', 1006);
      const [, dropped] = finished('earshot.connection');
      const [record] = records.getFinishedLogRecords();
      expect(records.getFinishedLogRecords()).toHaveLength(1);
      expect(summary(record)).toEqual([
        'earshot.connection.dropped',
        'WARN',
        'connection c2 dropped (close code 1006)',
        {
          'url.full': 'wss://api.test/rt?token=REDACTED',
          'earshot.connection.id': 'c2',
          'earshot.transport': 'websocket',
          'earshot.outcome': 'dropped',
          'earshot.turns': 0,
          'earshot.close_code': 1006,
          ...(recordReasons ? { 'earshot.reason': 'going away' } : {}),
        },
        spanId(dropped),
      ]);
      expect(epochMs(record)).toBeCloseTo(performance.timeOrigin + t0 + 5, 3);
      spans.reset();
      records.reset();
    }
  });

  it('at most logsPerMinute records a minute; the rest are counted, and the next record says how many', async () => {
    let now = 1_000_000;
    vi.spyOn(performance, 'now').mockImplementation(() => now);
    const sink = otel({ serviceName: 'app', webVitals: false, logs: true, logsPerMinute: 2 });
    createMonitor({ sink });
    for (let i = 0; i < 5; i++) sink.log('app.event', { i });
    now += 59_999;
    sink.log('app.event', { i: 5 });
    now += 1;
    sink.log('app.event', { i: 6 });
    expect(records.getFinishedLogRecords().map((r) => r.attributes)).toEqual([{ i: 0 }, { i: 1 }, { i: 6, 'earshot.logs.suppressed': 4 }]);
    const { resourceMetrics } = await reader.collect();
    const suppressed = resourceMetrics.scopeMetrics[0].metrics.find((m) => m.descriptor.name === 'earshot.logs.suppressed');
    expect(suppressed?.dataPoints.map((p) => p.value)).toEqual([4]);
  });

  it('each event name has its own allowance: a storm of underruns never hides the SLO violation of the turn it spoiled', () => {
    const sink = otel({ serviceName: 'app', webVitals: false, logs: true, logsPerMinute: 3 });
    const monitor = createMonitor({ sink, slo: { ttftMs: 40 } });
    for (let i = 0; i < 10; i++) sink.log('app.storm', { i });
    const connection = monitor.connection('websocket', 'wss://api.test/rt', { adapter: wsAdapter() });
    const t0 = Math.floor(performance.now());
    connection.sent('{"type":"req"}', t0);
    connection.received('{"type":"delta"}', t0 + 90);
    connection.received('{"type":"done"}', t0 + 100);
    const names = records.getFinishedLogRecords().map((r) => r.eventName);
    expect(names).toEqual(['app.storm', 'app.storm', 'app.storm', LOG_EVENTS.slo]);
    // Past the names with an allowance of their own, the app's further names share one.
    records.reset();
    for (let i = 0; i < 40; i++) sink.log(`app.name${i}`);
    expect(records.getFinishedLogRecords().length).toBeLessThan(40);
  });

  it("the app's own records: on the trace of a turn, open or ended, by its id; nowhere for an unknown id; never thrown", () => {
    const sink = otel({ serviceName: 'app', webVitals: false, logs: true });
    const monitor = createMonitor({ sink });
    const turn = monitor.turn().start();
    turn.end();
    sink.log('earshot.text.display', { 'display_jitter_ms': 3.5, units: 12 }, turn.id);
    sink.log('app.other', undefined, 't99');
    sink.log(42 as unknown as string, {});
    sink.log('app.bad', 'not attributes' as never);
    const [span] = finished('earshot.turn');
    expect(records.getFinishedLogRecords().map(summary)).toEqual([
      ['earshot.text.display', 'INFO', undefined, { 'display_jitter_ms': 3.5, units: 12 }, spanId(span)],
      ['app.other', 'INFO', undefined, {}, undefined],
      ['app.bad', 'INFO', undefined, {}, undefined],
    ]);
  });

  it("forwards a player's underruns on the trace of the turn in flight, else the last turn, until undone", () => {
    const sink = otel({ serviceName: 'app', webVitals: false, logs: true });
    const monitor = createMonitor({ sink });
    const player = new EventTarget();
    const undo = sink.observePlayer(player);
    const underrun = (turn: number, time: number) => player.dispatchEvent(new CustomEvent('underrun', { detail: { time, contextTime: 0, turn } }));
    const connection = monitor.connection('websocket', 'wss://api.test/rt', { adapter: wsAdapter() });
    const t0 = Math.floor(performance.now());
    connection.sent('{"type":"req"}', t0);
    connection.received('{"type":"delta"}', t0 + 10);
    underrun(1, t0 + 50);
    connection.received('{"type":"done"}', t0 + 60);
    underrun(1, t0 + 70);
    undo();
    underrun(1, t0 + 80);
    const [turn] = finished('earshot.turn');
    const expected = ['earshot.player.underrun', 'WARN', 'audio ran out: the player is concealing silence', { 'earshot.turn.id': 't1', 'earshot.player.turn': 1 }, spanId(turn)];
    expect(records.getFinishedLogRecords().map(summary)).toEqual([expected, expected]);
    expect(records.getFinishedLogRecords().map((r) => epochMs(r) - performance.timeOrigin - t0).map(Math.round)).toEqual([50, 70]);
  });

  it('nothing without logs', () => {
    const sink = otel({ serviceName: 'app', webVitals: false });
    const monitor = createMonitor({ sink, slo: { ttftMs: 0 } });
    const player = new EventTarget();
    sink.observePlayer(player);
    monitor.turn().fail('boom');
    sink.log('app.event');
    player.dispatchEvent(new CustomEvent('underrun', { detail: { time: 1, contextTime: 0, turn: 1 } }));
    expect(records.getFinishedLogRecords()).toEqual([]);
    expect(() => otel({ serviceName: 'a', logs: 'yes' as never })).toThrow(/logs must be a boolean/);
    expect(() => otel({ serviceName: 'a', logsPerMinute: 0 })).toThrow(/logsPerMinute must be a number >= 1/);
    expect(() => otel({ serviceName: 'a', exemplars: -1 })).toThrow(/exemplars must be a number >= 0/);
  });
});

describe("earshot's own pipeline: export failures are logged with the drop counter", () => {
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = await startReceiver();
    // Spans and metrics go through earshot's own pipeline (metrics too, below); records to the app's provider.
    trace.disable();
  });
  afterAll(() => receiver.close());

  it('spans turned away by the full queue, and spans and metrics a collector refused', async () => {
    metrics.disable();
    const sink = otel({ serviceName: 'app', url: receiver.url, webVitals: false, logs: true, maxQueue: 1 });
    const monitor = createMonitor({ sink });
    monitor.turn().end();
    monitor.turn().end();
    await sink.flush();
    await receiver.fail({ status: 400 });
    monitor.turn().end();
    await sink.flush();
    await receiver.recover();
    expect(sink.dropped()).toBe(2);
    expect(records.getFinishedLogRecords().map((r) => [r.eventName, r.severityText, r.body, r.attributes, r.spanContext])).toEqual([
      [
        'earshot.export.failed',
        'ERROR',
        'traces export queue full (items turned away: 1)',
        { 'earshot.signal': 'traces', 'earshot.export.items': 1, 'earshot.export.reason': 'queue_full', 'earshot.telemetry.dropped': 1 },
        undefined,
      ],
      [
        'earshot.export.failed',
        'ERROR',
        'traces export failed (items: 1)',
        { 'earshot.signal': 'traces', 'earshot.export.items': 1, 'earshot.export.reason': 'export_failed', 'earshot.telemetry.dropped': 2 },
        undefined,
      ],
      [
        'earshot.export.failed',
        'ERROR',
        expect.stringMatching(/^metrics export failed \(items: \d+\)$/),
        expect.objectContaining({ 'earshot.signal': 'metrics', 'earshot.export.reason': 'export_failed', 'earshot.telemetry.dropped': 2 }),
        undefined,
      ],
    ]);
    await sink.shutdown();
  });
});
