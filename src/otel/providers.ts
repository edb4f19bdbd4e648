import {
  createNoopMeter,
  metrics,
  trace,
  type Attributes,
  type Meter,
  type MeterProvider,
  type ProxyTracerProvider,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import { logs, type Logger, type LoggerProvider } from '@opentelemetry/api-logs';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPMetricExporterBase } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { createLegacyOtlpBrowserExportDelegate } from '@opentelemetry/otlp-exporter-base/browser-http';
import { MetricsExporterMetricsHelper } from '@opentelemetry/otlp-transformer';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { LoggerProvider as SdkLoggerProvider } from '@opentelemetry/sdk-logs';
import { MeterProvider as SdkMeterProvider } from '@opentelemetry/sdk-metrics';
import { WebTracerProvider } from '@opentelemetry/sdk-trace-web';
import { bypassWrappedFetch, KEEPALIVE_BYTES, LogQueue, PageMetricReader, SpanQueue, type Loss } from './delivery';
import { Exemplars, MetricsSerializer } from './exemplars';

/** The instrumentation scope of every span and instrument earshot makes. */
export const SCOPE = 'earshot';

export interface ExportOptions {
  /** Collector base URL: signals go to `<url>/v1/traces`, `<url>/v1/metrics` and `<url>/v1/logs`. */
  url: string;
  headers: Record<string, string> | undefined;
  /** Resource attributes, `service.name` among them. */
  resource: Attributes;
  delayMs: number;
  intervalMs: number;
  maxQueue: number;
  timeoutMs: number;
  /** Make a logger (else there is none). */
  logs: boolean;
  /** Exemplars per histogram data point and collection (earshot's own meter provider only). */
  exemplars: number;
  /** Told what earshot's own pipeline lost or failed to export, of spans or metrics. */
  lost: (signal: 'traces' | 'metrics', items: number, why: Loss) => void;
}

/** Where earshot's spans, metrics and log records go, and how to push them out. */
export interface Telemetry {
  tracer: Tracer;
  meter: Meter;
  /** With `logs` only. */
  logger: Logger | undefined;
  /** With earshot's own meter provider only: an app's records none (see exemplars.ts). */
  exemplars: Exemplars | undefined;
  /** Spans and log records earshot could not deliver (its own pipeline only: an app's provider delivers its own). */
  dropped(): number;
  /** Exports what is waiting; the requests leave before this returns. Never rejects. */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

/** The provider an app registered, or undefined while the API still hands out its no-op proxy. */
function registeredTracerProvider(): TracerProvider | undefined {
  const provider: TracerProvider & Partial<ProxyTracerProvider> = trace.getTracerProvider();
  if (typeof provider.getDelegateTracer !== 'function') return provider;
  return provider.getDelegateTracer(SCOPE) ? provider.getDelegate!() : undefined;
}

function registeredMeterProvider(): MeterProvider | undefined {
  const provider = metrics.getMeterProvider();
  return provider.getMeter(SCOPE) === createNoopMeter() ? undefined : provider;
}

function registeredLoggerProvider(): LoggerProvider | undefined {
  const provider = logs.getLoggerProvider();
  // Until the app registers one, the API hands out its proxy, known by a method of its own (read
  // through Reflect: the build mangles `_`-prefixed property names).
  return typeof Reflect.get(provider, '_getDelegateLogger') === 'function' ? undefined : provider;
}

type Flushable = { forceFlush?: () => Promise<void>; shutdown?: () => Promise<void> };

const settle = (work: Array<Promise<unknown> | undefined>) => Promise.allSettled(work).then(() => undefined);

/**
 * earshot's tracer, meter and logger: from the providers the app registered globally, or else from
 * its own, built once on one resource and exporting OTLP/HTTP JSON to the collector. The exporters'
 * requests never go through an instrumented fetch.
 */
export function createTelemetry(options: ExportOptions): Telemetry {
  const beforeExport = bypassWrappedFetch(globalThis.fetch);
  const resource = defaultResource().merge(resourceFromAttributes(options.resource));
  const base = options.url.replace(/\/+$/, '');
  const exporter = (signal: string) => ({ url: `${base}/v1/${signal}`, headers: options.headers, timeoutMillis: options.timeoutMs });

  const queueOptions = { maxQueue: options.maxQueue, delayMs: options.delayMs, limitBytes: KEEPALIVE_BYTES, beforeExport };
  let spanQueue: SpanQueue | undefined;
  let logQueue: LogQueue | undefined;
  let exemplars: Exemplars | undefined;
  /** The providers earshot made: shut down with it, where an app's are the app's to shut down. */
  const own: Flushable[] = [];
  let tracerProvider: TracerProvider & Flushable | undefined = registeredTracerProvider();
  if (!tracerProvider) {
    spanQueue = new SpanQueue(new OTLPTraceExporter(exporter('traces')), {
      ...queueOptions,
      lost: (items, why) => options.lost('traces', items, why),
    });
    own.push((tracerProvider = new WebTracerProvider({ resource, spanProcessors: [spanQueue] })));
  }
  let meterProvider: MeterProvider & Flushable | undefined = registeredMeterProvider();
  if (!meterProvider) {
    exemplars = new Exemplars(options.exemplars);
    // OpenTelemetry's OTLP/HTTP metric exporter (fetch, retries, Retry-After, keepalive budget) with
    // a serializer that writes exemplars: the browser delegate is the one public way to give it one.
    const metricExporter = new OTLPMetricExporterBase(
      createLegacyOtlpBrowserExportDelegate(
        exporter('metrics'),
        MetricsSerializer,
        'otlp_http_metric_exporter',
        MetricsExporterMetricsHelper,
        undefined,
        'v1/metrics',
        { 'Content-Type': 'application/json' },
      ),
    );
    const reader = new PageMetricReader(metricExporter, {
      intervalMs: options.intervalMs,
      limitBytes: KEEPALIVE_BYTES,
      beforeExport,
      exemplars,
      failed: (metrics) => options.lost('metrics', metrics, 'export_failed'),
    });
    own.push((meterProvider = new SdkMeterProvider({ resource, readers: [reader] })));
  }
  let loggerProvider: LoggerProvider & Flushable | undefined;
  if (options.logs) {
    loggerProvider = registeredLoggerProvider();
    if (!loggerProvider) {
      // Its own losses are counted, not logged: a record of them would take the same road.
      logQueue = new LogQueue(new OTLPLogExporter(exporter('logs')), queueOptions);
      own.push((loggerProvider = new SdkLoggerProvider({ resource, processors: [logQueue] })));
    }
  }
  // Spans first: on page hide they carry the turns just abandoned, and the keepalive budget is shared.
  const providers: Array<Flushable | undefined> = [tracerProvider, meterProvider, loggerProvider];
  return {
    tracer: tracerProvider.getTracer(SCOPE),
    meter: meterProvider.getMeter(SCOPE),
    logger: loggerProvider?.getLogger(SCOPE),
    exemplars,
    dropped: () => (spanQueue?.dropped ?? 0) + (logQueue?.dropped ?? 0),
    flush: () => settle(providers.map((p) => p?.forceFlush?.())),
    shutdown: () => settle(own.map((p) => p.shutdown?.())),
  };
}
