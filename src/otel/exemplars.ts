import { TraceFlags, type Attributes, type SpanContext } from '@opentelemetry/api';
import { JsonMetricsSerializer, type IExportMetricsServiceResponse, type ISerializer } from '@opentelemetry/otlp-transformer';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';

/**
 * A measurement kept as an exemplar, already in its OTLP/JSON shape (ids in hex, time in ns).
 *
 * OpenTelemetry JS 2.12 records no exemplars: sdk-metrics has exemplar filters and reservoirs in its
 * source but neither exports nor calls them (a measurement's context only reaches attribute
 * processors), its data points have no `exemplars`, and the OTLP serializers (JSON and protobuf)
 * never write the field. earshot keeps them itself, for its own pipeline.
 */
export interface OtlpExemplar {
  timeUnixNano: string;
  asDouble: number;
  traceId: string;
  spanId: string;
}

type WithExemplars = { exemplars?: OtlpExemplar[] };

/** A data point's identity: its instrument and attribute set, whatever the attributes' key order. */
const pointKey = (instrument: string, attributes: Attributes) =>
  instrument + JSON.stringify(Object.entries(attributes).sort(([a], [b]) => (a < b ? -1 : 1)));

/**
 * The exemplars of earshot's histograms: per data point, the `size` largest measurements since the
 * previous collection, each with the trace and span ids of the turn it measured. Every histogram
 * earshot records is a latency or a ratio where more is worse, so the largest are the turns someone
 * following a slow percentile wants to open. Only sampled spans are kept (OpenTelemetry's
 * `trace_based` filter): an exemplar must lead to a trace that exists. Memory: `size` per data point.
 */
export class Exemplars {
  readonly #points = new Map<string, OtlpExemplar[]>();

  constructor(readonly size: number) {}

  offer(instrument: string, attributes: Attributes, value: number, span: SpanContext): void {
    if (this.size === 0 || !(span.traceFlags & TraceFlags.SAMPLED)) return;
    const key = pointKey(instrument, attributes);
    let kept = this.#points.get(key);
    if (!kept) this.#points.set(key, (kept = []));
    const exemplar = { timeUnixNano: `${Date.now()}000000`, asDouble: value, traceId: span.traceId, spanId: span.spanId };
    if (kept.length < this.size) return void kept.push(exemplar);
    let least = 0;
    for (let i = 1; i < kept.length; i++) if (kept[i].asDouble < kept[least].asDouble) least = i;
    if (value > kept[least].asDouble) kept[least] = exemplar;
  }

  /** Gives the collected data points their exemplars, and starts the next interval empty. */
  attach(metrics: ResourceMetrics): void {
    if (this.#points.size === 0) return;
    for (const scope of metrics.scopeMetrics) {
      for (const metric of scope.metrics) {
        for (const point of metric.dataPoints) {
          const kept = this.#points.get(pointKey(metric.descriptor.name, point.attributes));
          if (kept) (point as WithExemplars).exemplars = kept;
        }
      }
    }
    this.#points.clear();
  }
}

type JsonData = { dataPoints: WithExemplars[] } | undefined;
interface JsonRequest {
  resourceMetrics: Array<{
    scopeMetrics: Array<{ metrics: Array<{ gauge: JsonData; sum: JsonData; histogram: JsonData; exponentialHistogram: JsonData }> }>;
  }>;
}

/**
 * OTLP/JSON metrics with the data points' exemplars. OpenTelemetry's serializer writes everything
 * else; its request has the resource's scopes, metrics and points in the order given, so the
 * exemplars go to the same places in it. Re-encoding happens per export, and only when there are
 * exemplars.
 */
export const MetricsSerializer: ISerializer<ResourceMetrics, IExportMetricsServiceResponse> = {
  serializeRequest(metrics) {
    const bytes = JsonMetricsSerializer.serializeRequest(metrics);
    const points = metrics.scopeMetrics.flatMap((s) => s.metrics.flatMap((m) => m.dataPoints as WithExemplars[]));
    if (!bytes || !points.some((p) => p.exemplars)) return bytes;
    const request = JSON.parse(new TextDecoder().decode(bytes)) as JsonRequest;
    let i = 0;
    for (const scope of request.resourceMetrics[0].scopeMetrics) {
      for (const metric of scope.metrics) {
        const data = metric.gauge ?? metric.sum ?? metric.histogram ?? metric.exponentialHistogram;
        for (const point of data?.dataPoints ?? []) {
          const { exemplars } = points[i++];
          if (exemplars) point.exemplars = exemplars;
        }
      }
    }
    return new TextEncoder().encode(JSON.stringify(request));
  },
  deserializeResponse: (response) => JsonMetricsSerializer.deserializeResponse(response),
};
