/**
 * earshot/otel: OTLP export with W3C trace context, so every client turn joins the server spans that
 * served it. A sink for `createMonitor({ sink: otel({...}) })`: a span per connection, a child span
 * per turn, streaming metrics with exemplars, log records, web vitals, and trace context on fetch
 * headers, the WebSocket URL or protocols, and request messages. See docs/otel.md for every span
 * attribute, instrument and record.
 */
import type { Attributes } from '@opentelemetry/api';
import type { LogAttributes } from '@opentelemetry/api-logs';
import type { PlayerEventDetail } from './audio/player';
import { rejectUnknown } from './core/options';
import type { Monitor, Sink } from './monitor';
import { flushWhenHidden } from './otel/delivery';
import { TurnLogs } from './otel/logs';
import { TurnMetrics } from './otel/metrics';
import { carryInMessage, carryOnWebSocket, mayPropagate, type UrlPattern, type WebSocketCarrier } from './otel/propagation';
import { createTelemetry } from './otel/providers';
import { isTurnId, SpanBook, turnEnd } from './otel/spans';
import { observeWebVitals, TurnTimeline } from './otel/web-vitals';

export type { UrlPattern, WebSocketCarrier } from './otel/propagation';
export { INSTRUMENTS } from './otel/metrics';
export { LOG_EVENTS } from './otel/logs';
export { WEB_VITALS } from './otel/web-vitals';

export interface OtelOptions {
  /** `service.name` of every span and metric. */
  serviceName: string;
  /** `service.version`. */
  serviceVersion?: string;
  /** `deployment.environment.name`, e.g. `production`. */
  environment?: string;
  /** More resource attributes, set once for every signal. */
  resource?: Attributes;
  /** Collector base URL: spans go to `<url>/v1/traces`, metrics to `<url>/v1/metrics`, logs to `<url>/v1/logs`. Default `http://localhost:4318`. */
  url?: string;
  /** Headers of every export request, e.g. an API key. */
  headers?: Record<string, string>;
  /**
   * Other origins that may receive trace context, as OpenTelemetry's fetch instrumentation takes
   * them: a string matches an absolute URL exactly, a RegExp anywhere in it. The page's own origin
   * always may; no other does by default.
   */
  propagateTraceHeaderCorsUrls?: UrlPattern | UrlPattern[];
  /** Where a WebSocket carries its connection's trace context. Default `query`. */
  websocketCarrier?: WebSocketCarrier;
  /** Carry each turn's trace context in its request message, as this top-level JSON field (e.g. `traceparent`). Default: not carried. */
  messageField?: string;
  /** Per-chunk events on a turn span, at most this many (needs the monitor's `chunkTimes`). Default 0. */
  chunkEvents?: number;
  /** Record error and close reasons, which can quote what the server sent. Default false. */
  recordReasons?: boolean;
  /** Report LCP, INP, CLS, FCP and TTFB. Default true. */
  webVitals?: boolean;
  /** How long an ended span waits to share its export request, ms. Default 1000. */
  exportDelayMs?: number;
  /** Metrics export interval (and the peak-connections window), ms. Default 30000. */
  metricIntervalMs?: number;
  /** Most spans waiting for export; past it they are dropped and counted. Default 2048. */
  maxQueue?: number;
  /** Time an export may take, retries included, ms. Default 30000. */
  exportTimeoutMs?: number;
  /**
   * Exemplars per histogram data point and export: the largest measurements of the interval, each
   * with the trace and span ids of its turn. Default 2; 0 for none.
   */
  exemplars?: number;
  /**
   * Log records over OTLP: SLO violations, dropped connections, export failures, player underruns
   * (`observePlayer`) and the app's own (`log`), each on the trace of its turn. Default false.
   */
  logs?: boolean;
  /** Most log records per minute; past it they are held back and counted. Default 60. */
  logsPerMinute?: number;
}

/** A jitter-buffer player (`earshot/jitter-buffer`), or anything that dispatches its `underrun` events. */
export type UnderrunSource = Pick<EventTarget, 'addEventListener' | 'removeEventListener'>;

export interface OtelSink extends Sink {
  /** Exports every waiting span and the metrics now (requests leave before it returns); never rejects. */
  flush(): Promise<void>;
  /** Spans and log records that could not be delivered: turned away by the full queue, or failed after retries. */
  dropped(): number;
  /**
   * A log record of the app's own (e.g. display smoothness from `earshot/text`'s `onDisplayEnd`),
   * on the trace of turn or connection `id` (open, or among the last 64 ended) when given, under
   * the same resource and rate limit as earshot's records. Nothing without `logs`.
   */
  log(event: string, attributes?: LogAttributes, id?: string): void;
  /**
   * Logs the player's underruns (`earshot.player.underrun`), each on the trace of the turn in
   * flight, else the turn that started last. Returns the undo. Nothing without `logs`.
   */
  observePlayer(player: UnderrunSource): () => void;
  /** Stops listening to the page, exports what is left and shuts earshot's own providers down. */
  shutdown(): Promise<void>;
}

const OPTION_NAMES = [
  'serviceName',
  'serviceVersion',
  'environment',
  'resource',
  'url',
  'headers',
  'propagateTraceHeaderCorsUrls',
  'websocketCarrier',
  'messageField',
  'chunkEvents',
  'recordReasons',
  'webVitals',
  'exportDelayMs',
  'metricIntervalMs',
  'maxQueue',
  'exportTimeoutMs',
  'exemplars',
  'logs',
  'logsPerMinute',
];
const CARRIERS: readonly WebSocketCarrier[] = ['query', 'protocol', 'none'];

/** Reject options that would silently export nothing useful, naming the option. */
function validate(options: OtelOptions): void {
  rejectUnknown(options, OPTION_NAMES, 'earshot/otel');
  if (typeof options.serviceName !== 'string' || options.serviceName === '') {
    throw new TypeError('earshot/otel: serviceName must be a non-empty string');
  }
  if (options.url !== undefined) {
    // The exporters post to absolute http(s) URLs only; anything else would fail every export.
    let protocol = '';
    try {
      protocol = new URL(options.url).protocol;
    } catch {}
    if (protocol !== 'http:' && protocol !== 'https:') throw new TypeError(`earshot/otel: url must be an http(s) URL (got "${String(options.url)}")`);
  }
  if (options.logs !== undefined && typeof options.logs !== 'boolean') throw new TypeError('earshot/otel: logs must be a boolean');
  if (options.websocketCarrier !== undefined && !CARRIERS.includes(options.websocketCarrier)) {
    throw new TypeError(`earshot/otel: websocketCarrier must be one of ${CARRIERS.join(', ')}`);
  }
  // An interval or timeout of 0 would export in a busy loop, or never successfully.
  const bounds = { chunkEvents: 0, exportDelayMs: 0, maxQueue: 0, metricIntervalMs: 1, exportTimeoutMs: 1, exemplars: 0, logsPerMinute: 1 } as const;
  for (const [key, min] of Object.entries(bounds) as Array<[keyof typeof bounds, number]>) {
    const value = options[key];
    if (value !== undefined && !(typeof value === 'number' && value >= min)) {
      throw new RangeError(`earshot/otel: ${key} must be a number >= ${min} (got ${String(value)})`);
    }
  }
}

export function otel(options: OtelOptions): OtelSink {
  validate(options);
  const resource: Attributes = { ...options.resource, 'service.name': options.serviceName };
  if (options.serviceVersion !== undefined) resource['service.version'] = options.serviceVersion;
  if (options.environment !== undefined) resource['deployment.environment.name'] = options.environment;
  const telemetry = createTelemetry({
    url: options.url ?? 'http://localhost:4318',
    headers: options.headers,
    resource,
    delayMs: options.exportDelayMs ?? 1000,
    intervalMs: options.metricIntervalMs ?? 30_000,
    maxQueue: options.maxQueue ?? 2048,
    timeoutMs: options.exportTimeoutMs ?? 30_000,
    logs: options.logs === true,
    exemplars: options.exemplars ?? 2,
    lost: (signal, items, why) => logs?.lost(signal, items, why, telemetry.dropped()),
  });
  const reasons = options.recordReasons === true;
  const spans = new SpanBook(telemetry.tracer, { chunkEvents: options.chunkEvents ?? 0, reasons });
  const logs = telemetry.logger && new TurnLogs(telemetry.logger, options.logsPerMinute ?? 60, reasons);
  let monitor: Monitor | undefined;
  const metrics = new TurnMetrics(telemetry.meter, () => monitor, telemetry.dropped, logs && (() => logs.suppressed), telemetry.exemplars);
  const timeline = options.webVitals !== false && typeof document !== 'undefined' ? new TurnTimeline() : undefined;
  if (timeline) observeWebVitals(telemetry.meter, timeline);

  const allowed = [options.propagateTraceHeaderCorsUrls ?? []].flat();
  const carrier = options.websocketCarrier ?? 'query';
  const field = options.messageField;
  /** The trace headers of an open span, when they may go to `url` (no URL: the app's own channel). */
  const headersFor = (traceparent: string, url: string | undefined) =>
    url === undefined || mayPropagate(url, allowed) ? (spans.byTraceparent(traceparent)?.headers ?? { traceparent }) : undefined;
  let unlisten: (() => void) | undefined;

  return {
    attach(m) {
      monitor = m;
      // Added after the monitor's own `pagehide` listener: its flush carries the turns that one abandons.
      unlisten ??= flushWhenHidden(() => void telemetry.flush());
    },
    start(id, parentId, url, at) {
      if (timeline && isTurnId(id)) timeline.start(id, at);
      return spans.start(id, parentId, url, at);
    },
    // The span and its log record first: a failure in what follows (caught and counted by the monitor
    // as an internal error) cannot take the record of the turn with it.
    turn(report) {
      const span = spans.turn(report);
      logs?.turn(report, span?.spanContext());
      metrics.turn(report, span);
      timeline?.end(report.id, report.t0, turnEnd(report));
    },
    connection(report) {
      const span = spans.connection(report);
      logs?.connection(report, span?.spanContext());
      metrics.connection(report);
    },
    headers: (url, traceparent) => headersFor(traceparent, url),
    websocket(url, protocols, traceparent) {
      const headers = headersFor(traceparent, url);
      return headers ? carryOnWebSocket(carrier, url, protocols, headers) : [url, protocols];
    },
    message: field
      ? (data, traceparent) => {
          const headers = headersFor(traceparent, spans.byTraceparent(traceparent)?.url);
          return headers ? carryInMessage(data, field, headers) : data;
        }
      : undefined,
    response: (turnId, headers) => spans.response(turnId, headers.get('server-timing')),
    flush: () => telemetry.flush(),
    dropped: () => telemetry.dropped(),
    log(event, attributes, id) {
      // Called by the app: whatever it passes, nothing is thrown back.
      try {
        const valid = typeof attributes === 'object' && attributes !== null ? attributes : {};
        if (typeof event === 'string') logs?.emit(event, 'INFO', undefined, valid, spans.context(id));
      } catch {}
    },
    observePlayer(player) {
      if (!logs) return () => {};
      const onUnderrun = (event: Event) => {
        try {
          const { time, turn } = (event as CustomEvent<PlayerEventDetail>).detail;
          const id = monitor?.activeTurn()?.id ?? spans.lastTurn;
          logs.underrun(turn, time, id, spans.context(id));
        } catch {}
      };
      player.addEventListener('underrun', onUnderrun);
      return () => player.removeEventListener('underrun', onUnderrun);
    },
    shutdown() {
      unlisten?.();
      return telemetry.shutdown();
    },
  };
}
