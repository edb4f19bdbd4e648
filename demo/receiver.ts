/**
 * An embedded OTLP/HTTP receiver for the demo and the tests: it takes what earshot exports (and what
 * any OTLP/HTTP exporter sends), keeps it in memory, and answers queries about it.
 *
 *   POST /v1/traces, /v1/metrics, /v1/logs   OTLP/HTTP export requests, as
 *        application/x-protobuf (or application/protobuf), application/json, or text/plain holding
 *        JSON (what `navigator.sendBeacon` sends for a string); `Content-Encoding: gzip` accepted
 *   GET  /api/traces/:traceId                 { traceId, spans }: every span of the trace, by start time
 *   GET  /api/spans?name=&since=              spans with that name, received at or after `since`
 *                                             (epoch ms on this machine's clock)
 *   GET  /api/metrics?name=                   metrics (one entry per metric per export request)
 *   GET  /api/logs?traceId=                   log records
 *   GET  /api/stats                           request counters and duplicated spans
 *   POST /api/clear                           forget everything received
 *
 * Protobuf bodies are decoded with the official OTLP schema (demo/otlp-proto). JSON bodies follow the
 * OTLP/JSON rules (hex trace and span ids, lowerCamelCase keys, int64 as string or number, enums as
 * integers) and go through the same schema, so both encodings end in one stored shape.
 *
 * Storage is bounded: at most `maxItems` (default 10,000) spans, as many metric entries and as many log
 * records; past that the oldest are evicted first.
 *
 * Every response carries CORS headers that allow the requesting page's origin, and preflights are
 * answered, so a browser exporter on any local page can post here with fetch, XHR or sendBeacon.
 *
 * Standalone: `npx tsx demo/receiver.ts` listens on 127.0.0.1:$PORT (default 4318) and prints its URL.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import protobuf from 'protobufjs';

export const DEFAULT_MAX_ITEMS = 10_000;
/** As the OpenTelemetry Collector's default limit for one request body (20 MiB), decompressed. */
const MAX_BODY_BYTES = 20 * 1024 * 1024;

export type Signal = 'traces' | 'metrics' | 'logs';
const SIGNALS: readonly Signal[] = ['traces', 'metrics', 'logs'];

// ---------------------------------------------------------------------------------------------
// The stored shape

/** An attribute value: OTLP AnyValue as plain data (int64 beyond 2^53 stays a decimal string). */
export type AttributeValue =
  | string
  | number
  | boolean
  | Uint8Array
  | null
  | AttributeValue[]
  | { [key: string]: AttributeValue };
export type Attributes = Record<string, AttributeValue>;

export interface Scope {
  name: string;
  version: string;
  attributes: Attributes;
}

/** What every stored item carries about where it came from. */
interface Origin {
  /** Resource attributes (`service.name`, ...). */
  resource: Attributes;
  scope: Scope;
  /** When this receiver accepted it: epoch ms on this machine's clock. */
  receivedAtMs: number;
}

export interface SpanEvent {
  name: string;
  timeUnixNano: string;
  attributes: Attributes;
}

export interface SpanLink {
  traceId: string;
  spanId: string;
  traceState: string;
  flags: number;
  attributes: Attributes;
}

/** Ids are lowercase hex (`parentSpanId` is '' for a root span); times are decimal nanosecond strings. */
export interface ReceivedSpan extends Origin {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  traceState: string;
  flags: number;
  name: string;
  /** OTLP SpanKind: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Attributes;
  events: SpanEvent[];
  links: SpanLink[];
  /** OTLP StatusCode: 0 unset, 1 ok, 2 error. */
  status: { code: number; message: string };
}

export type MetricType = 'gauge' | 'sum' | 'histogram' | 'exponentialHistogram' | 'summary';

export interface Exemplar {
  timeUnixNano: string;
  value: number;
  traceId: string;
  spanId: string;
  filteredAttributes: Attributes;
}

export interface ExponentialBuckets {
  offset: number;
  bucketCounts: number[];
}

/** One data point. Counts and int values are numbers (exact up to 2^53). */
export interface MetricPoint {
  attributes: Attributes;
  startTimeUnixNano: string;
  timeUnixNano: string;
  flags: number;
  exemplars: Exemplar[];
  /** gauge, sum */
  value?: number;
  /** histogram, exponentialHistogram, summary */
  count?: number;
  sum?: number;
  /** histogram, exponentialHistogram */
  min?: number;
  max?: number;
  /** histogram: `bucketCounts.length === explicitBounds.length + 1` */
  bucketCounts?: number[];
  explicitBounds?: number[];
  /** exponentialHistogram */
  scale?: number;
  zeroCount?: number;
  zeroThreshold?: number;
  positive?: ExponentialBuckets;
  negative?: ExponentialBuckets;
  /** summary */
  quantiles?: Array<{ quantile: number; value: number }>;
}

/** One metric of one export request, with its data points. */
export interface ReceivedMetric extends Origin {
  name: string;
  description: string;
  unit: string;
  type: MetricType;
  /** OTLP AggregationTemporality: 1 delta, 2 cumulative; 0 for gauge and summary. */
  temporality: number;
  monotonic: boolean;
  points: MetricPoint[];
}

export interface ReceivedLog extends Origin {
  timeUnixNano: string;
  observedTimeUnixNano: string;
  severityNumber: number;
  severityText: string;
  eventName: string;
  body: AttributeValue;
  attributes: Attributes;
  /** '' when the record is not tied to a span. */
  traceId: string;
  spanId: string;
  flags: number;
}

export interface RequestCounts extends Record<Signal, number> {
  /** Requests answered by fault injection (an error status, or no answer at all). */
  failed: number;
  /** Requests refused as malformed, too large, or of an unknown content type. */
  rejected: number;
}

export interface DuplicateSpan {
  traceId: string;
  spanId: string;
  name: string;
  /** How many copies of this span were received. */
  count: number;
}

/**
 * A fault to inject: an error status (with `Retry-After` in seconds when given), `'hang'` (the request
 * is never answered), or `'refuse'` (the receiver stops listening: connections are refused until
 * `recover()`, which listens again on the same port).
 */
export type FailMode = { status: number; retryAfterS?: number } | 'hang' | 'refuse';

export interface FailOptions {
  /** Fail only the next `times` export requests, then answer normally again. Not for `'refuse'`. */
  times?: number;
}

export interface ReceiverOptions {
  /** Default 0: any free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Bound of each store (spans, metrics, log records). Default 10,000. */
  maxItems?: number;
}

export interface Receiver {
  /** Base URL, e.g. http://127.0.0.1:4318 (append /v1/traces for the traces endpoint). */
  readonly url: string;
  readonly port: number;
  /** Export requests that reached the receiver, per signal, whatever they were answered. */
  readonly requests: Readonly<RequestCounts>;
  /** Stored spans, oldest first, optionally only those named `name` and received at or after `since` (epoch ms). */
  spans(filter?: { name?: string; since?: number }): ReceivedSpan[];
  /** Every stored span of one trace, client and server, by start time. */
  trace(traceId: string): ReceivedSpan[];
  metrics(filter?: { name?: string }): ReceivedMetric[];
  logs(filter?: { traceId?: string }): ReceivedLog[];
  /** How many times a span with this id was received (among the stored spans). */
  receivedCount(spanId: string): number;
  /** Spans received more than once, e.g. after a retry of an export that had in fact arrived. */
  duplicates(): DuplicateSpan[];
  /** Forgets stored telemetry and resets the counters. */
  clear(): void;
  /** Starts failing export requests (preflights and queries still work); resolves once in effect. */
  fail(mode: FailMode, options?: FailOptions): Promise<void>;
  /** Stops failing; after `'refuse'`, listens again on the same port. */
  recover(): Promise<void>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Decoding: both encodings through the official schema

const PROTO_DIR = join(dirname(fileURLToPath(import.meta.url)), 'otlp-proto');

/**
 * The collector's Export{Trace,Metrics,Logs}ServiceRequest is field for field TracesData / MetricsData /
 * LogsData (`repeated Resource* resource_* = 1`), so the data messages decode the requests.
 */
function loadSchema(): Record<Signal, protobuf.Type> {
  const root = new protobuf.Root();
  // Imports in the .proto files are relative to the schema root, not to the importing file.
  root.resolvePath = (_origin, target) => (isAbsolute(target) ? target : join(PROTO_DIR, target));
  root.loadSync(
    ['trace/v1/trace.proto', 'metrics/v1/metrics.proto', 'logs/v1/logs.proto'].map((file) =>
      join(PROTO_DIR, 'opentelemetry/proto', file),
    ),
  );
  return {
    traces: root.lookupType('opentelemetry.proto.trace.v1.TracesData'),
    metrics: root.lookupType('opentelemetry.proto.metrics.v1.MetricsData'),
    logs: root.lookupType('opentelemetry.proto.logs.v1.LogsData'),
  };
}

const SCHEMA = loadSchema();
/** int64 as decimal strings (nothing lost), enums as numbers, bytes as they are. */
const TO_OBJECT: protobuf.IConversionOptions = { longs: String, enums: Number };

/** OTLP/JSON spells these `bytes` fields in hex, where proto3 JSON would use base64. */
const HEX_ID_KEYS = new Set(['traceId', 'spanId', 'parentSpanId']);

function hexToBytes(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new Error(`invalid hex id "${hex}"`);
  return Buffer.from(hex, 'hex');
}

type Encoding = 'json' | 'protobuf';

function decode(signal: Signal, body: Buffer, encoding: Encoding): unknown {
  const type = SCHEMA[signal];
  const message =
    encoding === 'protobuf'
      ? type.decode(body)
      : type.fromObject(
          JSON.parse(body.toString('utf8'), (key, value: unknown) =>
            HEX_ID_KEYS.has(key) && typeof value === 'string' ? hexToBytes(value) : value,
          ) as Record<string, unknown>,
        );
  return type.toObject(message, TO_OBJECT);
}

// The decoded object as `toObject(TO_OBJECT)` leaves it: absent fields are missing.
interface WireKeyValue {
  key?: string;
  value?: WireAnyValue;
}
interface WireAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string;
  doubleValue?: number;
  arrayValue?: { values?: WireAnyValue[] };
  kvlistValue?: { values?: WireKeyValue[] };
  bytesValue?: Uint8Array;
}
interface WireScope {
  name?: string;
  version?: string;
  attributes?: WireKeyValue[];
}
interface WireSpan {
  traceId?: Uint8Array;
  spanId?: Uint8Array;
  parentSpanId?: Uint8Array;
  traceState?: string;
  flags?: number;
  name?: string;
  kind?: number;
  startTimeUnixNano?: string;
  endTimeUnixNano?: string;
  attributes?: WireKeyValue[];
  events?: Array<{ timeUnixNano?: string; name?: string; attributes?: WireKeyValue[] }>;
  links?: Array<{
    traceId?: Uint8Array;
    spanId?: Uint8Array;
    traceState?: string;
    flags?: number;
    attributes?: WireKeyValue[];
  }>;
  status?: { code?: number; message?: string };
}
interface WireExemplar {
  filteredAttributes?: WireKeyValue[];
  timeUnixNano?: string;
  asDouble?: number;
  asInt?: string;
  spanId?: Uint8Array;
  traceId?: Uint8Array;
}
interface WireBuckets {
  offset?: number;
  bucketCounts?: string[];
}
interface WirePoint {
  attributes?: WireKeyValue[];
  startTimeUnixNano?: string;
  timeUnixNano?: string;
  flags?: number;
  exemplars?: WireExemplar[];
  asDouble?: number;
  asInt?: string;
  count?: string;
  sum?: number;
  min?: number;
  max?: number;
  bucketCounts?: string[];
  explicitBounds?: number[];
  scale?: number;
  zeroCount?: string;
  zeroThreshold?: number;
  positive?: WireBuckets;
  negative?: WireBuckets;
  quantileValues?: Array<{ quantile?: number; value?: number }>;
}
interface WireData {
  dataPoints?: WirePoint[];
  aggregationTemporality?: number;
  isMonotonic?: boolean;
}
interface WireMetric {
  name?: string;
  description?: string;
  unit?: string;
  gauge?: WireData;
  sum?: WireData;
  histogram?: WireData;
  exponentialHistogram?: WireData;
  summary?: WireData;
}
interface WireLog {
  timeUnixNano?: string;
  observedTimeUnixNano?: string;
  severityNumber?: number;
  severityText?: string;
  eventName?: string;
  body?: WireAnyValue;
  attributes?: WireKeyValue[];
  traceId?: Uint8Array;
  spanId?: Uint8Array;
  flags?: number;
}
/** ResourceSpans / ResourceMetrics / ResourceLogs, with their scope lists under `scopeKey`. */
type WireResourceList = Array<{ resource?: { attributes?: WireKeyValue[] } } & Record<string, unknown>>;

// ---------------------------------------------------------------------------------------------
// Normalising to the stored shape

const hex = (bytes: Uint8Array | undefined): string => (bytes ? Buffer.from(bytes).toString('hex') : '');
const nanos = (value: string | undefined): string => value ?? '0';

/** An int64 as a number when exact, else its decimal string. */
function int64(value: string): number | string {
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : value;
}

function anyValue(value: WireAnyValue | undefined): AttributeValue {
  if (!value) return null;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) return int64(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(anyValue);
  if (value.kvlistValue) return attributes(value.kvlistValue.values);
  if (value.bytesValue) return new Uint8Array(value.bytesValue);
  return null;
}

function attributes(list: WireKeyValue[] | undefined): Attributes {
  const out: Attributes = {};
  for (const { key, value } of list ?? []) out[key ?? ''] = anyValue(value);
  return out;
}

/** Walks resource → scope → items, calling `each` with every item and its origin. */
function forEachItem<T>(
  resources: WireResourceList | undefined,
  scopeKey: string,
  itemKey: string,
  each: (item: T, origin: Origin) => void,
): void {
  const receivedAtMs = Date.now();
  for (const r of resources ?? []) {
    const resource = attributes(r.resource?.attributes);
    for (const s of (r[scopeKey] as Array<{ scope?: WireScope } & Record<string, unknown>> | undefined) ?? []) {
      const scope = {
        name: s.scope?.name ?? '',
        version: s.scope?.version ?? '',
        attributes: attributes(s.scope?.attributes),
      };
      for (const item of (s[itemKey] as T[] | undefined) ?? []) each(item, { resource, scope, receivedAtMs });
    }
  }
}

function span(s: WireSpan, origin: Origin): ReceivedSpan {
  return {
    traceId: hex(s.traceId),
    spanId: hex(s.spanId),
    parentSpanId: hex(s.parentSpanId),
    traceState: s.traceState ?? '',
    flags: s.flags ?? 0,
    name: s.name ?? '',
    kind: s.kind ?? 0,
    startTimeUnixNano: nanos(s.startTimeUnixNano),
    endTimeUnixNano: nanos(s.endTimeUnixNano),
    attributes: attributes(s.attributes),
    events: (s.events ?? []).map((e) => ({
      name: e.name ?? '',
      timeUnixNano: nanos(e.timeUnixNano),
      attributes: attributes(e.attributes),
    })),
    links: (s.links ?? []).map((l) => ({
      traceId: hex(l.traceId),
      spanId: hex(l.spanId),
      traceState: l.traceState ?? '',
      flags: l.flags ?? 0,
      attributes: attributes(l.attributes),
    })),
    status: { code: s.status?.code ?? 0, message: s.status?.message ?? '' },
    ...origin,
  };
}

const count = (value: string | undefined): number => Number(value ?? 0);
const buckets = (b: WireBuckets | undefined): ExponentialBuckets => ({
  offset: b?.offset ?? 0,
  bucketCounts: (b?.bucketCounts ?? []).map(Number),
});
/** NumberDataPoint and Exemplar carry their value in a `value` oneof of double or int64. */
const numberValue = (p: { asDouble?: number; asInt?: string }): number => p.asDouble ?? Number(p.asInt ?? 0);

function point(p: WirePoint, type: MetricType): MetricPoint {
  const out: MetricPoint = {
    attributes: attributes(p.attributes),
    startTimeUnixNano: nanos(p.startTimeUnixNano),
    timeUnixNano: nanos(p.timeUnixNano),
    flags: p.flags ?? 0,
    exemplars: (p.exemplars ?? []).map((e) => ({
      timeUnixNano: nanos(e.timeUnixNano),
      value: numberValue(e),
      traceId: hex(e.traceId),
      spanId: hex(e.spanId),
      filteredAttributes: attributes(e.filteredAttributes),
    })),
  };
  if (type === 'gauge' || type === 'sum') {
    out.value = numberValue(p);
    return out;
  }
  out.count = count(p.count);
  if (p.sum !== undefined) out.sum = p.sum;
  if (type === 'summary') {
    out.quantiles = (p.quantileValues ?? []).map((q) => ({ quantile: q.quantile ?? 0, value: q.value ?? 0 }));
    return out;
  }
  if (p.min !== undefined) out.min = p.min;
  if (p.max !== undefined) out.max = p.max;
  if (type === 'histogram') {
    out.bucketCounts = (p.bucketCounts ?? []).map(Number);
    out.explicitBounds = p.explicitBounds ?? [];
  } else {
    out.scale = p.scale ?? 0;
    out.zeroCount = count(p.zeroCount);
    out.zeroThreshold = p.zeroThreshold ?? 0;
    out.positive = buckets(p.positive);
    out.negative = buckets(p.negative);
  }
  return out;
}

const METRIC_TYPES: readonly MetricType[] = ['gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary'];

function metric(m: WireMetric, origin: Origin): ReceivedMetric | undefined {
  const type = METRIC_TYPES.find((t) => m[t] !== undefined);
  if (!type) return undefined;
  const data = m[type] as WireData;
  return {
    name: m.name ?? '',
    description: m.description ?? '',
    unit: m.unit ?? '',
    type,
    temporality: data.aggregationTemporality ?? 0,
    monotonic: data.isMonotonic ?? false,
    points: (data.dataPoints ?? []).map((p) => point(p, type)),
    ...origin,
  };
}

function log(l: WireLog, origin: Origin): ReceivedLog {
  return {
    timeUnixNano: nanos(l.timeUnixNano),
    observedTimeUnixNano: nanos(l.observedTimeUnixNano),
    severityNumber: l.severityNumber ?? 0,
    severityText: l.severityText ?? '',
    eventName: l.eventName ?? '',
    body: anyValue(l.body),
    attributes: attributes(l.attributes),
    traceId: hex(l.traceId),
    spanId: hex(l.spanId),
    flags: l.flags ?? 0,
    ...origin,
  };
}

// ---------------------------------------------------------------------------------------------
// Bounded storage

/** A fixed-capacity ring: pushing past capacity overwrites the oldest item. */
class Ring<T> {
  private items: T[] = [];
  private head = 0;

  constructor(private readonly capacity: number) {}

  push(item: T): void {
    if (this.items.length < this.capacity) {
      this.items.push(item);
      return;
    }
    this.items[this.head] = item;
    this.head = (this.head + 1) % this.capacity;
  }

  /** Oldest first. */
  toArray(): T[] {
    return this.items.slice(this.head).concat(this.items.slice(0, this.head));
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }
}

const byStartTime = (a: ReceivedSpan, b: ReceivedSpan): number => {
  const d = BigInt(a.startTimeUnixNano) - BigInt(b.startTimeUnixNano);
  return d < 0n ? -1 : d > 0n ? 1 : a.spanId < b.spanId ? -1 : a.spanId > b.spanId ? 1 : 0;
};

// ---------------------------------------------------------------------------------------------
// HTTP

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function encodingOf(contentType: string | undefined): Encoding {
  const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (type === 'application/x-protobuf' || type === 'application/protobuf') return 'protobuf';
  // sendBeacon with a string body sends text/plain; its content is the same OTLP/JSON.
  if (type === 'application/json' || type === 'text/plain') return 'json';
  throw new HttpError(415, `unsupported content type "${contentType ?? ''}"`);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) {
        chunks.push(chunk);
        return;
      }
      // Discard the rest so that the 413 can still be answered on this connection.
      chunks.length = 0;
      req.removeAllListeners('data');
      req.resume();
      reject(new HttpError(413, 'request body too large'));
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function uncompress(body: Buffer, contentEncoding: string | undefined): Buffer {
  const coding = (contentEncoding ?? 'identity').trim().toLowerCase();
  if (coding === 'identity' || coding === '') return body;
  if (coding !== 'gzip') throw new HttpError(415, `unsupported content encoding "${coding}"`);
  try {
    return gunzipSync(body, { maxOutputLength: MAX_BODY_BYTES });
  } catch (error) {
    throw new HttpError((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' ? 413 : 400, 'bad gzip body');
  }
}

/** Allows the requesting page's origin: browser exporters post from wherever the app is served. */
function allowOrigin(req: IncomingMessage, res: ServerResponse): void {
  const origin = req.headers.origin;
  if (!origin) return;
  res.setHeader('access-control-allow-origin', origin);
  res.setHeader('access-control-allow-credentials', 'true');
  res.setHeader('access-control-expose-headers', 'retry-after');
  res.setHeader('vary', 'origin');
}

function preflight(req: IncomingMessage, res: ServerResponse): void {
  res.setHeader('access-control-allow-methods', 'POST, GET, OPTIONS');
  res.setHeader('access-control-allow-headers', req.headers['access-control-request-headers'] ?? 'content-type');
  res.setHeader('access-control-max-age', '600');
  // Chrome asks before a public page may reach a loopback address.
  if (req.headers['access-control-request-private-network']) res.setHeader('access-control-allow-private-network', 'true');
  res.writeHead(204).end();
}

/** Bytes attributes go out as base64, as in OTLP/JSON. */
const jsonReplacer = (_key: string, value: unknown): unknown =>
  value instanceof Uint8Array ? Buffer.from(value).toString('base64') : value;

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body, jsonReplacer));
}

const EXPORT_PATH = /^\/v1\/(traces|metrics|logs)$/;
const TRACE_PATH = /^\/api\/traces\/([0-9a-fA-F]{32})$/;

class OtlpReceiver implements Receiver {
  readonly requests: RequestCounts = { traces: 0, metrics: 0, logs: 0, failed: 0, rejected: 0 };
  private readonly spanStore: Ring<ReceivedSpan>;
  private readonly metricStore: Ring<ReceivedMetric>;
  private readonly logStore: Ring<ReceivedLog>;
  private fault: { mode: FailMode; remaining: number } | undefined;
  private readonly server = createServer((req, res) => this.handle(req, res));
  port = 0;

  constructor(
    private readonly host: string,
    maxItems: number,
  ) {
    this.spanStore = new Ring(maxItems);
    this.metricStore = new Ring(maxItems);
    this.logStore = new Ring(maxItems);
  }

  get url(): string {
    return `http://${this.host}:${this.port}`;
  }

  listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, this.host, () => {
        this.server.off('error', reject);
        const address = this.server.address();
        if (address && typeof address === 'object') this.port = address.port;
        resolve();
      });
    });
  }

  private stopListening(): Promise<void> {
    if (!this.server.listening) return Promise.resolve();
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      // Kept-alive and hanging connections would otherwise still be served.
      this.server.closeAllConnections();
    });
  }

  spans(filter: { name?: string; since?: number } = {}): ReceivedSpan[] {
    const { name, since } = filter;
    return this.spanStore
      .toArray()
      .filter((s) => (name === undefined || s.name === name) && (since === undefined || s.receivedAtMs >= since));
  }

  trace(traceId: string): ReceivedSpan[] {
    const id = traceId.toLowerCase();
    return this.spanStore
      .toArray()
      .filter((s) => s.traceId === id)
      .sort(byStartTime);
  }

  metrics(filter: { name?: string } = {}): ReceivedMetric[] {
    return this.metricStore.toArray().filter((m) => filter.name === undefined || m.name === filter.name);
  }

  logs(filter: { traceId?: string } = {}): ReceivedLog[] {
    const id = filter.traceId?.toLowerCase();
    return this.logStore.toArray().filter((l) => id === undefined || l.traceId === id);
  }

  receivedCount(spanId: string): number {
    const id = spanId.toLowerCase();
    return this.spanStore.toArray().filter((s) => s.spanId === id).length;
  }

  duplicates(): DuplicateSpan[] {
    const seen = new Map<string, DuplicateSpan>();
    for (const s of this.spanStore.toArray()) {
      const key = `${s.traceId}-${s.spanId}`;
      const entry = seen.get(key);
      if (entry) entry.count++;
      else seen.set(key, { traceId: s.traceId, spanId: s.spanId, name: s.name, count: 1 });
    }
    return [...seen.values()].filter((d) => d.count > 1);
  }

  clear(): void {
    this.spanStore.clear();
    this.metricStore.clear();
    this.logStore.clear();
    for (const key of Object.keys(this.requests) as Array<keyof RequestCounts>) this.requests[key] = 0;
  }

  async fail(mode: FailMode, options: FailOptions = {}): Promise<void> {
    this.fault = { mode, remaining: options.times ?? Infinity };
    if (mode === 'refuse') await this.stopListening();
  }

  async recover(): Promise<void> {
    this.fault = undefined;
    if (!this.server.listening) await this.listen(this.port);
  }

  close(): Promise<void> {
    this.fault = undefined;
    return this.stopListening();
  }

  private store(signal: Signal, decoded: unknown): void {
    if (signal === 'traces') {
      const { resourceSpans } = decoded as { resourceSpans?: WireResourceList };
      forEachItem<WireSpan>(resourceSpans, 'scopeSpans', 'spans', (s, origin) => this.spanStore.push(span(s, origin)));
    } else if (signal === 'metrics') {
      const { resourceMetrics } = decoded as { resourceMetrics?: WireResourceList };
      forEachItem<WireMetric>(resourceMetrics, 'scopeMetrics', 'metrics', (m, origin) => {
        const stored = metric(m, origin);
        if (stored) this.metricStore.push(stored);
      });
    } else {
      const { resourceLogs } = decoded as { resourceLogs?: WireResourceList };
      forEachItem<WireLog>(resourceLogs, 'scopeLogs', 'logRecords', (l, origin) => this.logStore.push(log(l, origin)));
    }
  }

  /** Applies an injected fault to this export request; true when the request was answered (or left hanging). */
  private injectFault(req: IncomingMessage, res: ServerResponse): boolean {
    const fault = this.fault;
    if (!fault || fault.mode === 'refuse') return false;
    this.requests.failed++;
    if (--fault.remaining <= 0) this.fault = undefined;
    if (fault.mode === 'hang') return true;
    req.resume();
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (fault.mode.retryAfterS !== undefined) headers['retry-after'] = String(fault.mode.retryAfterS);
    res.writeHead(fault.mode.status, headers).end(JSON.stringify({ message: 'injected failure' }));
    return true;
  }

  private async export(signal: Signal, req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.requests[signal]++;
    if (this.injectFault(req, res)) return;
    let encoding: Encoding = 'json';
    try {
      encoding = encodingOf(req.headers['content-type']);
      const body = uncompress(await readBody(req), req.headers['content-encoding']);
      let decoded: unknown;
      try {
        decoded = decode(signal, body, encoding);
      } catch (error) {
        throw new HttpError(400, `malformed ${encoding} body: ${(error as Error).message}`);
      }
      this.store(signal, decoded);
    } catch (error) {
      this.requests.rejected++;
      const status = error instanceof HttpError ? error.status : 400;
      if (!res.headersSent) sendJson(res, status, { message: (error as Error).message });
      return;
    }
    // An empty Export*ServiceResponse: no partial success to report.
    if (encoding === 'protobuf') res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    else sendJson(res, 200, {});
  }

  private query(url: URL, res: ServerResponse): void {
    const trace = TRACE_PATH.exec(url.pathname);
    if (trace) return sendJson(res, 200, { traceId: trace[1].toLowerCase(), spans: this.trace(trace[1]) });
    const param = (name: string) => url.searchParams.get(name) ?? undefined;
    switch (url.pathname) {
      case '/api/spans': {
        const since = param('since');
        if (since !== undefined && !Number.isFinite(Number(since)))
          return sendJson(res, 400, { message: '`since` must be epoch milliseconds' });
        const filter = { name: param('name'), since: since === undefined ? undefined : Number(since) };
        return sendJson(res, 200, this.spans(filter));
      }
      case '/api/metrics':
        return sendJson(res, 200, this.metrics({ name: param('name') }));
      case '/api/logs':
        return sendJson(res, 200, this.logs({ traceId: param('traceId') }));
      case '/api/stats':
        return sendJson(res, 200, { requests: this.requests, duplicates: this.duplicates() });
      default:
        return sendJson(res, 404, { message: 'not found' });
    }
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    allowOrigin(req, res);
    if (req.method === 'OPTIONS') return preflight(req, res);
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://receiver');
    } catch {
      return sendJson(res, 400, { message: 'bad request target' });
    }
    const exportPath = EXPORT_PATH.exec(url.pathname);
    if (exportPath && req.method === 'POST') {
      void this.export(exportPath[1] as Signal, req, res);
    } else if (url.pathname === '/api/clear' && req.method === 'POST') {
      this.clear();
      res.writeHead(204).end();
    } else if (req.method === 'GET') {
      this.query(url, res);
    } else {
      sendJson(res, exportPath ? 405 : 404, { message: exportPath ? 'use POST' : 'not found' });
    }
  }
}

export async function startReceiver(options: ReceiverOptions = {}): Promise<Receiver> {
  const receiver = new OtlpReceiver(options.host ?? '127.0.0.1', options.maxItems ?? DEFAULT_MAX_ITEMS);
  await receiver.listen(options.port ?? 0);
  return receiver;
}

// ---------------------------------------------------------------------------------------------
// Standalone

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const port = Number(process.env.PORT ?? 4318);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`PORT must be a port number, not "${process.env.PORT}"`);
    process.exit(1);
  }
  const receiver = await startReceiver({ port });
  console.log(`OTLP/HTTP receiver on ${receiver.url} (POST ${SIGNALS.map((s) => `/v1/${s}`).join(', ')})`);
  const stop = () => void receiver.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
