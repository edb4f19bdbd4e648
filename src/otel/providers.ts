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
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider as SdkMeterProvider } from '@opentelemetry/sdk-metrics';
import { WebTracerProvider } from '@opentelemetry/sdk-trace-web';
import { bypassWrappedFetch, KEEPALIVE_BYTES, PageMetricReader, SpanQueue } from './delivery';

/** The instrumentation scope of every span and instrument earshot makes. */
export const SCOPE = 'earshot';

export interface ExportOptions {
  /** Collector base URL: signals go to `<url>/v1/traces` and `<url>/v1/metrics`. */
  url: string;
  headers: Record<string, string> | undefined;
  /** Resource attributes, `service.name` among them. */
  resource: Attributes;
  delayMs: number;
  intervalMs: number;
  maxQueue: number;
  timeoutMs: number;
}

/** Where earshot's spans and metrics go, and how to push them out. */
export interface Telemetry {
  tracer: Tracer;
  meter: Meter;
  /** Spans earshot could not deliver (its own pipeline only: an app's provider delivers its own). */
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

type Flushable = { forceFlush?: () => Promise<void>; shutdown?: () => Promise<void> };

const settle = (work: Array<Promise<unknown> | undefined>) => Promise.allSettled(work).then(() => undefined);

/**
 * earshot's tracer and meter: from the providers the app registered globally, or else from its own
 * pair, built once on one resource and exporting OTLP/HTTP JSON to the collector. The exporters'
 * requests never go through an instrumented fetch.
 */
export function createTelemetry(options: ExportOptions): Telemetry {
  const beforeExport = bypassWrappedFetch(globalThis.fetch);
  const resource = defaultResource().merge(resourceFromAttributes(options.resource));
  const base = options.url.replace(/\/+$/, '');
  const exporter = (signal: string) => ({ url: `${base}/v1/${signal}`, headers: options.headers, timeoutMillis: options.timeoutMs });

  let queue: SpanQueue | undefined;
  /** The providers earshot made: shut down with it, where an app's are the app's to shut down. */
  const own: Flushable[] = [];
  let tracerProvider: TracerProvider & Flushable | undefined = registeredTracerProvider();
  if (!tracerProvider) {
    queue = new SpanQueue(new OTLPTraceExporter(exporter('traces')), {
      maxQueue: options.maxQueue,
      delayMs: options.delayMs,
      limitBytes: KEEPALIVE_BYTES,
      beforeExport,
    });
    own.push((tracerProvider = new WebTracerProvider({ resource, spanProcessors: [queue] })));
  }
  let meterProvider: MeterProvider & Flushable | undefined = registeredMeterProvider();
  if (!meterProvider) {
    const reader = new PageMetricReader(new OTLPMetricExporter(exporter('metrics')), {
      intervalMs: options.intervalMs,
      limitBytes: KEEPALIVE_BYTES,
      beforeExport,
    });
    own.push((meterProvider = new SdkMeterProvider({ resource, readers: [reader] })));
  }
  const providers: Flushable[] = [tracerProvider, meterProvider];
  return {
    tracer: tracerProvider.getTracer(SCOPE),
    meter: meterProvider.getMeter(SCOPE),
    dropped: () => queue?.dropped ?? 0,
    // Spans first: on page hide they carry the turns just abandoned, and the keepalive budget is shared.
    flush: () => settle(providers.map((p) => p.forceFlush?.())),
    shutdown: () => settle(own.map((p) => p.shutdown?.())),
  };
}
