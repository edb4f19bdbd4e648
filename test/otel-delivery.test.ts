import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import {
  AggregationTemporality,
  DataPointType,
  MeterProvider,
  type PushMetricExporter,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startReceiver } from '../demo/receiver';
import { createMonitor } from '../src/index';
import { otel } from '../src/otel.ts';
import {
  bypassWrappedFetch,
  KEEPALIVE_BYTES,
  metricBytes,
  PageMetricReader,
  spanBytes,
  split,
  SpanQueue,
  type QueueOptions,
} from '../src/otel/delivery';

describe('split', () => {
  const bytes = (items: number[]) => items.reduce((a, b) => a + b, 0);

  it('keeps runs within the limit, in order, an item larger than the limit alone', () => {
    const items = [30, 30, 30, 30, 30, 250, 10, 10, 90];
    const runs = split(items, bytes, 100);
    expect(runs.flat()).toEqual(items);
    for (const run of runs) expect(run.length === 1 || bytes(run) <= 100).toBe(true);
    expect(runs).toContainEqual([250]);
    expect(split([1, 2], bytes, 100)).toEqual([[1, 2]]);
    expect(split([], bytes, 100)).toEqual([]);
  });
});

/** An exporter that keeps what it is given and answers as told. */
function recordingExporter(answer: () => ExportResultCode = () => ExportResultCode.SUCCESS) {
  const batches: ReadableSpan[][] = [];
  const exporter: SpanExporter = {
    export(spans, done: (result: ExportResult) => void) {
      batches.push(spans);
      done({ code: answer() });
    },
    shutdown: () => Promise.resolve(),
  };
  return { exporter, batches };
}

function queueWith(exporter: SpanExporter, options: Partial<QueueOptions> = {}) {
  const beforeExport = vi.fn();
  const queue = new SpanQueue(exporter, { maxQueue: 2048, delayMs: 1000, limitBytes: KEEPALIVE_BYTES, beforeExport, ...options });
  const tracer = new BasicTracerProvider({ spanProcessors: [queue] }).getTracer('test');
  const end = (count: number, attributes: Record<string, string> = {}) => {
    for (let i = 0; i < count; i++) tracer.startSpan(`span ${i}`, { attributes }).end();
  };
  return { queue, end, beforeExport };
}

describe('SpanQueue', () => {
  afterEach(() => vi.useRealTimers());

  it('splits what it flushes into requests under the keepalive limit', async () => {
    const { exporter, batches } = recordingExporter();
    const { queue, end, beforeExport } = queueWith(exporter);
    end(120, { payload: 'x'.repeat(1500) });
    await queue.forceFlush();
    expect(batches.length).toBeGreaterThanOrEqual(3);
    for (const batch of batches) expect(spanBytes(batch)).toBeLessThanOrEqual(KEEPALIVE_BYTES);
    expect(batches.flat().map((s) => s.name)).toEqual(Array.from({ length: 120 }, (_, i) => `span ${i}`));
    expect(beforeExport).toHaveBeenCalledTimes(batches.length);
    expect(queue.dropped).toBe(0);
  });

  it('waits delayMs for company, or sends about one request as soon as that much waits, one per task', async () => {
    vi.useFakeTimers();
    const { exporter, batches } = recordingExporter();
    const { end } = queueWith(exporter, { delayMs: 500 });
    end(3);
    vi.advanceTimersByTime(499);
    expect(batches).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(batches.map((b) => b.length)).toEqual([3]);
    // Each export measures its spans: 40 % of a request's worth of them by that size goes without
    // the delay, but never inside the call that ended the span.
    const learned = (batch: ReadableSpan[]) => Math.floor((0.4 * KEEPALIVE_BYTES) / (spanBytes(batch) / batch.length));
    const perRequest = learned(batches[0]);
    end(perRequest - 1);
    vi.advanceTimersByTime(0);
    expect(batches).toHaveLength(1);
    end(1);
    expect(batches).toHaveLength(1);
    vi.advanceTimersByTime(0);
    expect(batches.slice(1).map((b) => b.length)).toEqual([perRequest]);
    expect(spanBytes(batches[1])).toBeLessThanOrEqual(KEEPALIVE_BYTES);
    // A burst goes out one request's worth (by the size the last export learned) per task; what is
    // left under a request's worth waits for the delay. (A 0 ms timer set while fake timers run fires
    // 1 ms later.)
    const burst = 3 * learned(batches[1]) + 5;
    end(burst);
    let sent = 0;
    for (let step = 0; sent + learned(batches.at(-1)!) <= burst; step++) {
      const expected = learned(batches.at(-1)!);
      vi.advanceTimersByTime(step ? 1 : 0);
      expect(batches.at(-1)!.length).toBe(expected);
      sent += expected;
    }
    const waiting = burst - sent;
    expect(waiting).toBeGreaterThan(0);
    vi.advanceTimersByTime(499);
    expect(batches.slice(2).reduce((n, b) => n + b.length, 0)).toBe(sent);
    vi.advanceTimersByTime(1);
    expect(batches.at(-1)!.length).toBe(waiting);
  });

  it('counts what the full queue turns away and what fails for good', async () => {
    let answer = ExportResultCode.SUCCESS;
    const { exporter, batches } = recordingExporter(() => answer);
    const { queue, end } = queueWith(exporter, { maxQueue: 5 });
    end(8);
    expect(queue.dropped).toBe(3);
    answer = ExportResultCode.FAILED;
    await queue.forceFlush();
    expect(batches.map((b) => b.length)).toEqual([5]);
    expect(queue.dropped).toBe(8);
    answer = ExportResultCode.SUCCESS;
    end(2);
    await queue.forceFlush();
    expect(queue.dropped).toBe(8);
  });

  it('counts an exporter that throws as a failure, never throws itself', async () => {
    const exporter: SpanExporter = {
      export: () => {
        throw new Error('broken exporter');
      },
      shutdown: () => Promise.resolve(),
    };
    const { queue, end } = queueWith(exporter);
    end(2);
    await expect(queue.forceFlush()).resolves.toBeUndefined();
    expect(queue.dropped).toBe(2);
  });
});

describe('PageMetricReader', () => {
  it('exports cumulative metrics, histograms exponential, split under its limit', async () => {
    const exported: ResourceMetrics[] = [];
    const exporter: PushMetricExporter = {
      export(metrics, done) {
        exported.push(metrics);
        done({ code: ExportResultCode.SUCCESS });
      },
      selectAggregationTemporality: () => AggregationTemporality.CUMULATIVE,
      forceFlush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    };
    const beforeExport = vi.fn();
    const reader = new PageMetricReader(exporter, { intervalMs: 3_600_000, limitBytes: 2000, beforeExport });
    const provider = new MeterProvider({ readers: [reader] });
    const meter = provider.getMeter('test');
    const names = Array.from({ length: 20 }, (_, i) => `metric.${i}`);
    for (const name of names) meter.createHistogram(name).record(1.5, { attribute: 'a'.repeat(40) });
    await provider.forceFlush();

    expect(exported.length).toBeGreaterThan(1);
    for (const part of exported) expect(metricBytes(part)).toBeLessThanOrEqual(2000);
    const metrics = exported.flatMap((p) => p.scopeMetrics.flatMap((s) => s.metrics));
    expect(metrics.map((m) => m.descriptor.name)).toEqual(names);
    expect(new Set(metrics.map((m) => m.dataPointType))).toEqual(new Set([DataPointType.EXPONENTIAL_HISTOGRAM]));
    expect(beforeExport).toHaveBeenCalledTimes(exported.length);
    await provider.shutdown();
  });
});

describe('bypassWrappedFetch', () => {
  const original = globalThis.fetch;
  afterEach(() => {
    globalThis.fetch = original;
  });

  it("points a wrapper installed later at the captured fetch, and leaves others' conventions alone", () => {
    const native = (() => Promise.resolve(new Response())) as unknown as typeof fetch;
    globalThis.fetch = native;
    const bypass = bypassWrappedFetch(native);
    bypass();
    expect(Object.hasOwn(native, '__original')).toBe(false);

    const wrapper = ((...args: Parameters<typeof fetch>) => native(...args)) as typeof fetch & { __original?: unknown };
    globalThis.fetch = wrapper;
    bypass();
    expect(wrapper.__original).toBe(native);

    const instrumented = Object.assign(() => native, { __original: wrapper });
    globalThis.fetch = instrumented as unknown as typeof fetch;
    bypass();
    expect(instrumented.__original).toBe(wrapper);
  });
});

describe("earshot's own pipeline, to a collector", () => {
  it('sends spans and metrics under one resource', async () => {
    const receiver = await startReceiver();
    try {
      const sink = otel({ serviceName: 'checkout', serviceVersion: '2.0.1', environment: 'staging', url: receiver.url, webVitals: false });
      const monitor = createMonitor({ sink });
      monitor.turn().end();
      await sink.flush();
      const [span] = receiver.spans({ name: 'earshot.turn' });
      const [metric] = receiver.metrics({ name: 'earshot.turns' });
      const resource = { 'service.name': 'checkout', 'service.version': '2.0.1', 'deployment.environment.name': 'staging' };
      expect(span.resource).toMatchObject(resource);
      expect(metric.resource).toMatchObject(resource);
      expect(receiver.metrics({ name: 'gen_ai.client.operation.duration' })[0].type).toBe('exponentialHistogram');
      expect(sink.dropped()).toBe(0);
      await sink.shutdown();
    } finally {
      await receiver.close();
    }
  });

  it('counts the spans a collector that never answers made it lose', async () => {
    const receiver = await startReceiver();
    await receiver.fail('refuse');
    try {
      const sink = otel({ serviceName: 'checkout', url: receiver.url, webVitals: false, exportTimeoutMs: 300 });
      const monitor = createMonitor({ sink });
      monitor.turn().end();
      monitor.connection('manual').close('clean');
      await sink.flush();
      expect(sink.dropped()).toBe(2);
      await sink.shutdown();
    } finally {
      await receiver.close();
    }
  });
});
