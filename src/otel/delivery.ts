import { TraceFlags } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { JsonLogsSerializer, JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { LogRecordExporter, LogRecordProcessor, ReadableLogRecord } from '@opentelemetry/sdk-logs';
import {
  AggregationType,
  InstrumentType,
  MetricReader,
  type AggregationTemporality,
  type PushMetricExporter,
  type ResourceMetrics,
  type ScopeMetrics,
} from '@opentelemetry/sdk-metrics';
import type { ReadableSpan, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-web';
import { MetricsSerializer, type Exemplars } from './exemplars';

/**
 * The largest export request body. Browsers keep at most 64 KiB of keepalive request bodies in
 * flight per page, and the OTLP fetch transport sends with `keepalive` while the bodies in flight
 * stay within 60 KiB of that: a larger request would go out without it and die with the page.
 */
export const KEEPALIVE_BYTES = 60 * 1024;

/**
 * Consecutive runs of `items` whose serialized size (`bytes`) is at most `limit`; an item larger on
 * its own goes alone. Measured by serializing, which only happens per export, never per span.
 */
export function split<T>(items: T[], bytes: (items: T[]) => number, limit: number): T[][] {
  if (items.length < 2) return items.length ? [items] : [];
  const size = bytes(items);
  if (size <= limit) return [items];
  const step = Math.ceil(items.length / Math.min(items.length, Math.ceil(size / limit)));
  const runs: T[][] = [];
  for (let i = 0; i < items.length; i += step) runs.push(...split(items.slice(i, i + step), bytes, limit));
  return runs;
}

export const spanBytes = (spans: ReadableSpan[]): number => JsonTraceSerializer.serializeRequest(spans)?.byteLength ?? 0;
export const logBytes = (records: ReadableLogRecord[]): number => JsonLogsSerializer.serializeRequest(records)?.byteLength ?? 0;
export const metricBytes = (metrics: ResourceMetrics): number => MetricsSerializer.serializeRequest(metrics)?.byteLength ?? 0;

/** Hand `items` to an OTel exporter; resolves true once it reports success. Never rejects. */
function exportTo<T>(exporter: { export(items: T, done: (result: ExportResult) => void): void }, items: T): Promise<boolean> {
  return new Promise((resolve) => {
    try {
      exporter.export(items, (result) => resolve(result.code === ExportResultCode.SUCCESS));
    } catch {
      resolve(false);
    }
  });
}

/**
 * OpenTelemetry's name for the function a wrapper wraps. Used through `Reflect` only: the build
 * mangles `_`-prefixed property names, and this one must reach the exporter as it is.
 */
const ORIGINAL = '__original';

/**
 * Keeps export requests off instrumented fetches. The OTLP fetch transport calls the global fetch,
 * or its `__original` when it is a wrapper (the convention of OpenTelemetry's own instrumentation):
 * a wrapper installed after `native` was captured, earshot's `patchGlobals` among them, is pointed
 * at `native`, so an export never becomes a turn, a span, or another export.
 */
export function bypassWrappedFetch(native: typeof fetch | undefined): () => void {
  return () => {
    const current = globalThis.fetch as typeof fetch | undefined;
    if (!native || !current || current === native || typeof Reflect.get(current, ORIGINAL) === 'function') return;
    // A frozen wrapper refuses: its requests are its own.
    Reflect.defineProperty(current, ORIGINAL, { value: native, configurable: true });
  };
}

/** Why items were lost: the full queue turned them away, or their export failed for good. */
export type Loss = 'queue_full' | 'export_failed';

export interface QueueOptions {
  /** Items waiting for export at most; past it, an item is dropped and counted. */
  maxQueue: number;
  /** How long an item may wait for more to share its request, ms. */
  delayMs: number;
  /** Largest request body, bytes. */
  limitBytes: number;
  /** Called before each export request. */
  beforeExport: () => void;
  /** Told what was lost: what the full queue turned away (once per flush, not per item), and each batch that failed. */
  lost?: (items: number, why: Loss) => void;
}

/** Bytes of OTLP/JSON an item is taken to need until an export has measured them (a turn span: ~1.5 KiB). */
const ITEM_BYTES_GUESS = 1024;
/**
 * A request's worth, as a share of the limit: well under it, so that a batch needs no second split,
 * and small enough that serializing it (twice: to measure, then to send) stays a few ms in a task.
 */
const EAGER_SHARE = 0.4;

/**
 * Delivery of spans or log records: a bounded queue exported in batches (after `delayMs`, as soon as
 * it holds about one request's worth, or on `forceFlush`), each batch split into requests that fit
 * the keepalive budget. The OTLP exporter under it retries with backoff and honours `Retry-After`;
 * what it finally fails to deliver, and what the full queue turns away, is counted in `dropped`.
 *
 * A full request's worth goes out in a task of its own (a 0 ms timer), never inside the app's event
 * that ended the span, and one request's worth per task: serializing is the only cost that grows
 * with the batch, so a burst (hundreds of spans ending at once) is sent over as many tasks as it
 * fills requests, and what waits for a page that unloads without warning is at most one keepalive
 * request's worth when turns end over time. The size is learned from each export (bytes per item).
 */
export class ExportQueue<T> {
  #queue: T[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** The timer is the 0 ms one of a full request's worth. */
  #eager = false;
  #itemBytes = ITEM_BYTES_GUESS;
  readonly #sending = new Set<Promise<boolean>>();
  #dropped = 0;
  /** Turned away since the last flush. */
  #turnedAway = 0;

  constructor(
    readonly exporter: { export(items: T[], done: (result: ExportResult) => void): void; shutdown(): Promise<void> },
    readonly bytes: (items: T[]) => number,
    readonly options: QueueOptions,
  ) {}

  /** Items that will never be delivered: turned away by the full queue, or failed for good. */
  get dropped(): number {
    return this.#dropped;
  }

  add(item: T): void {
    const queue = this.#queue;
    if (queue.length >= this.options.maxQueue) {
      this.#dropped++;
      this.#turnedAway++;
      return;
    }
    queue.push(item);
    this.#schedule();
  }

  /** Items that make about one request (EAGER_SHARE of the limit) by the size learned. */
  #perRequest(): number {
    return Math.max(1, Math.floor((EAGER_SHARE * this.options.limitBytes) / this.#itemBytes));
  }

  /** A 0 ms timer once a request's worth waits, else the delay's (kept if already running). */
  #schedule(): void {
    if (this.#eager || !this.#queue.length) return;
    if (this.#queue.length >= this.#perRequest()) {
      clearTimeout(this.#timer);
      this.#eager = true;
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#eager = false;
        this.#send(this.#queue.splice(0, this.#perRequest()));
        this.#schedule();
      }, 0);
    } else this.#timer ??= setTimeout(() => void this.forceFlush(), this.options.delayMs);
  }

  /** Sends every queued item now (its requests leave before this returns) and settles once all are answered. */
  forceFlush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#eager = false;
    const items = this.#queue;
    this.#queue = [];
    this.#send(items);
    return Promise.all(this.#sending).then(() => undefined);
  }

  /** Exports `items` in requests within the limit, counting what the full queue turned away before. */
  #send(items: T[]): void {
    const { lost } = this.options;
    if (this.#turnedAway) lost?.(this.#turnedAway, 'queue_full');
    this.#turnedAway = 0;
    const measure = (batch: T[]): number => {
      const bytes = this.bytes(batch);
      if (batch.length && bytes) this.#itemBytes = bytes / batch.length;
      return bytes;
    };
    for (const batch of split(items, measure, this.options.limitBytes)) {
      this.options.beforeExport();
      const sent = exportTo(this.exporter, batch).then((ok) => {
        if (!ok) {
          this.#dropped += batch.length;
          lost?.(batch.length, 'export_failed');
        }
        this.#sending.delete(sent);
        return ok;
      });
      this.#sending.add(sent);
    }
  }

  shutdown(): Promise<void> {
    return this.forceFlush().then(() => this.exporter.shutdown());
  }
}

/** The export queue of spans: those sampled, as they end. */
export class SpanQueue extends ExportQueue<ReadableSpan> implements SpanProcessor {
  constructor(exporter: SpanExporter, options: QueueOptions) {
    super(exporter, spanBytes, options);
  }

  onStart(): void {}

  onEnd(span: ReadableSpan): void {
    if (span.spanContext().traceFlags & TraceFlags.SAMPLED) this.add(span);
  }
}

/** The export queue of log records, as they are emitted. */
export class LogQueue extends ExportQueue<ReadableLogRecord> implements LogRecordProcessor {
  constructor(exporter: LogRecordExporter, options: QueueOptions) {
    super(exporter, logBytes, options);
  }

  onEmit(record: ReadableLogRecord): void {
    this.add(record);
  }
}

/** The metrics of `resource` restricted to some of its (scope, metric) pairs, scopes kept in order. */
function subset(resource: ResourceMetrics['resource'], pairs: Array<[ScopeMetrics['scope'], ScopeMetrics['metrics'][number]]>): ResourceMetrics {
  const scopeMetrics: ScopeMetrics[] = [];
  for (const [scope, metric] of pairs) {
    const last = scopeMetrics.at(-1);
    if (last?.scope === scope) last.metrics.push(metric);
    else scopeMetrics.push({ scope, metrics: [metric] });
  }
  return { resource, scopeMetrics };
}

export interface ReaderOptions {
  intervalMs: number;
  limitBytes: number;
  beforeExport: () => void;
  /** Exemplars to give the data points of each collection. */
  exemplars?: Exemplars;
  /** Told of each export request that failed for good, with the number of metrics it carried. */
  failed?: (metrics: number) => void;
}

/**
 * Collects and exports metrics every `intervalMs` and on `forceFlush`, in requests that fit the
 * keepalive budget. Unlike the periodic reader, a flush never waits for an export in flight: on
 * `pagehide` the one sent at `visibilitychange` is still unanswered, and waiting for it would send
 * nothing. Temporality is cumulative, so a later export carries whatever an earlier one lost.
 * Histograms aggregate exponentially (bounded memory, no bucket layout to choose). Each collection's
 * data points get the exemplars kept since the previous one.
 */
export class PageMetricReader extends MetricReader {
  #interval: ReturnType<typeof setInterval> | undefined;

  constructor(
    readonly exporter: PushMetricExporter,
    readonly options: ReaderOptions,
  ) {
    super({
      aggregationSelector: (type) =>
        type === InstrumentType.HISTOGRAM ? { type: AggregationType.EXPONENTIAL_HISTOGRAM } : { type: AggregationType.DEFAULT },
      aggregationTemporalitySelector: (type) => exporter.selectAggregationTemporality!(type) as AggregationTemporality,
    });
  }

  protected override onInitialized(): void {
    this.#interval = setInterval(() => void this.onForceFlush(), this.options.intervalMs);
  }

  protected override async onForceFlush(): Promise<void> {
    const { resourceMetrics } = await this.collect();
    this.options.exemplars?.attach(resourceMetrics);
    const pairs = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics.map((m): [typeof s.scope, typeof m] => [s.scope, m]));
    const { resource } = resourceMetrics;
    const runs = split(pairs, (run) => metricBytes(subset(resource, run)), this.options.limitBytes);
    await Promise.all(
      runs.map((run) => {
        this.options.beforeExport();
        return exportTo(this.exporter, subset(resource, run)).then((ok) => ok || this.options.failed?.(run.length));
      }),
    );
  }

  protected override async onShutdown(): Promise<void> {
    clearInterval(this.#interval);
    await this.onForceFlush();
    await this.exporter.shutdown();
  }
}

/**
 * Runs `flush` when the page is hidden and when it goes away. Listening on the window: a
 * `visibilitychange` reaches it after the document's own listeners (web-vitals reports there), and
 * a `pagehide` listener added after the monitor's runs once the monitor has ended open turns as
 * abandoned. Returns the removal.
 */
export function flushWhenHidden(flush: () => void): () => void {
  if (typeof addEventListener !== 'function' || typeof document === 'undefined') return () => {};
  const onVisibility = () => {
    if (document.visibilityState === 'hidden') flush();
  };
  addEventListener('visibilitychange', onVisibility);
  addEventListener('pagehide', flush);
  return () => {
    removeEventListener('visibilitychange', onVisibility);
    removeEventListener('pagehide', flush);
  };
}
