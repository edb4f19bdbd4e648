import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, ValueType, trace, type HrTime } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import {
  JsonLogsSerializer,
  JsonMetricsSerializer,
  JsonTraceSerializer,
  ProtobufLogsSerializer,
  ProtobufMetricsSerializer,
  ProtobufTraceSerializer,
} from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import {
  AggregationType,
  MeterProvider,
  MetricReader,
  type ExponentialHistogram,
  type Histogram,
  type MetricData,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startReceiver, type Receiver, type ReceivedSpan, type Signal } from '../demo/receiver';

const nanos = ([s, ns]: HrTime): string => (BigInt(s) * 1_000_000_000n + BigInt(ns)).toString();

const resource = resourceFromAttributes({
  'service.name': 'voice-app',
  'service.version': '1.2.3',
  'deployment.environment.name': 'test',
});
const RESOURCE = { 'service.name': 'voice-app', 'service.version': '1.2.3', 'deployment.environment.name': 'test' };
const SCOPE = { name: 'earshot', version: '0.1.0', attributes: {} };
const LINKED = { traceId: 'a1'.repeat(16), spanId: 'b2'.repeat(8), traceFlags: 1, isRemote: true };

/** A connection span and its turn span, as the SDK makes them: explicit times, events, a link, an error status. */
function makeSpans(): { connection: ReadableSpan; turn: ReadableSpan; all: ReadableSpan[] } {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ resource, spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const tracer = provider.getTracer('earshot', '0.1.0');
  const connection = tracer.startSpan('earshot.connection', {
    kind: SpanKind.CLIENT,
    startTime: [1_700_000_000, 100_000_000],
    attributes: {
      'earshot.transport': 'websocket',
      'earshot.turns': 2,
      'earshot.ratio': 0.25,
      'earshot.clean': false,
      'earshot.close_codes': [1000, 1011],
    },
  });
  const turn = tracer.startSpan(
    'earshot.turn',
    {
      startTime: [1_700_000_000, 200_000_001],
      links: [{ context: LINKED, attributes: { 'earshot.link': 'server' } }],
    },
    trace.setSpan(ROOT_CONTEXT, connection),
  );
  turn.addEvent('earshot.first_content', { 'earshot.tokens': 3 }, [1_700_000_000, 450_000_000]);
  turn.setStatus({ code: SpanStatusCode.ERROR, message: 'dropped' });
  turn.end([1_700_000_001, 5]);
  connection.end([1_700_000_002, 0]);
  const all = exporter.getFinishedSpans();
  return { connection: all[1], turn: all[0], all };
}

class CollectingReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

async function makeMetrics(): Promise<ResourceMetrics> {
  const reader = new CollectingReader();
  const provider = new MeterProvider({
    resource,
    readers: [reader],
    views: [{ instrumentName: 'earshot.ttfa', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } }],
  });
  const meter = provider.getMeter('earshot', '0.1.0');
  meter.createCounter('earshot.turns', { unit: '{turn}', valueType: ValueType.INT }).add(3, { outcome: 'complete' });
  const ttft = meter.createHistogram('gen_ai.client.operation.time_to_first_chunk', {
    unit: 's',
    advice: { explicitBucketBoundaries: [0.1, 0.5, 1] },
  });
  for (const v of [0.05, 0.3, 0.3, 2]) ttft.record(v, { 'gen_ai.operation.name': 'chat' });
  const ttfa = meter.createHistogram('earshot.ttfa', { unit: 's' });
  for (const v of [0.2, 0.4, 0.8]) ttfa.record(v);
  meter.createGauge('earshot.connections.peak', { valueType: ValueType.INT }).record(4);
  const { resourceMetrics } = await reader.collect();
  return resourceMetrics;
}

function makeLogs(turn: ReadableSpan) {
  const exporter = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({ resource, processors: [new SimpleLogRecordProcessor({ exporter })] });
  provider.getLogger('earshot', '0.1.0').emit({
    eventName: 'earshot.turn.dropped',
    body: { reason: 'close 1006', partial: true, chunks: [1, 2.5] },
    severityNumber: SeverityNumber.WARN,
    severityText: 'WARN',
    attributes: { 'earshot.turn.id': 't1' },
    timestamp: [1_700_000_003, 7],
    observedTimestamp: [1_700_000_003, 9],
    context: trace.setSpanContext(ROOT_CONTEXT, turn.spanContext()),
  });
  return exporter.getFinishedLogRecords();
}

let receiver: Receiver;

async function post(signal: Signal, body: Uint8Array | string, contentType: string, headers: Record<string, string> = {}) {
  return fetch(`${receiver.url}/v1/${signal}`, {
    method: 'POST',
    headers: { 'content-type': contentType, ...headers },
    // A copy typed as fetch wants it (an ArrayBuffer-backed view).
    body: typeof body === 'string' ? body : new Uint8Array(body),
  });
}

async function getJson(path: string): Promise<unknown> {
  const res = await fetch(receiver.url + path);
  expect(res.status).toBe(200);
  return res.json();
}

/** A minimal OTLP/JSON traces request, with int64 as numbers and enums as integers, as the JSON rules allow. */
interface JsonSpan {
  name: string;
  traceId?: string;
  spanId: string;
  parentSpanId?: string;
  start: number;
  kind?: number;
}

function jsonSpans(spans: JsonSpan[]): string {
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'voice-server' } }] },
        scopeSpans: [
          {
            scope: { name: 'server' },
            spans: spans.map((s) => ({
              traceId: s.traceId ?? '0af7651916cd43dd8448eb211c80319c',
              spanId: s.spanId,
              parentSpanId: s.parentSpanId ?? '',
              name: s.name,
              kind: s.kind ?? 2,
              startTimeUnixNano: s.start,
              endTimeUnixNano: String(s.start + 1000),
            })),
          },
        ],
      },
    ],
  });
}

beforeAll(async () => {
  receiver = await startReceiver();
});
afterAll(() => receiver.close());
beforeEach(() => receiver.clear());

const ENCODINGS = [
  {
    name: 'json',
    contentType: 'application/json',
    traces: JsonTraceSerializer,
    metrics: JsonMetricsSerializer,
    logs: JsonLogsSerializer,
  },
  {
    name: 'protobuf',
    contentType: 'application/x-protobuf',
    traces: ProtobufTraceSerializer,
    metrics: ProtobufMetricsSerializer,
    logs: ProtobufLogsSerializer,
  },
] as const;

describe.each(ENCODINGS)('OTLP/HTTP $name from the OpenTelemetry JS serializers', (encoding) => {
  it('decodes spans exactly: ids, parent, times, attributes, events, links, status, resource, scope', async () => {
    const { connection, turn, all } = makeSpans();
    const res = await post('traces', encoding.traces.serializeRequest(all)!, encoding.contentType);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(encoding.contentType);
    if (encoding.name === 'protobuf') expect((await res.arrayBuffer()).byteLength).toBe(0);
    else expect(await res.json()).toEqual({});

    const traceId = connection.spanContext().traceId;
    const [storedConnection, storedTurn] = receiver.trace(traceId);
    const { receivedAtMs: _a, ...connectionRest } = storedConnection;
    expect(connectionRest).toEqual({
      traceId,
      spanId: connection.spanContext().spanId,
      parentSpanId: '',
      traceState: '',
      // Sampled, and bit 8: whether the parent is remote is known (it has none).
      flags: 0x101,
      name: 'earshot.connection',
      kind: 3,
      startTimeUnixNano: '1700000000100000000',
      endTimeUnixNano: '1700000002000000000',
      attributes: {
        'earshot.transport': 'websocket',
        'earshot.turns': 2,
        'earshot.ratio': 0.25,
        'earshot.clean': false,
        'earshot.close_codes': [1000, 1011],
      },
      events: [],
      links: [],
      status: { code: 0, message: '' },
      resource: RESOURCE,
      scope: SCOPE,
    });
    const { receivedAtMs: _b, ...turnRest } = storedTurn;
    expect(turnRest).toEqual({
      traceId,
      spanId: turn.spanContext().spanId,
      parentSpanId: connection.spanContext().spanId,
      traceState: '',
      flags: 0x101,
      name: 'earshot.turn',
      kind: 1,
      startTimeUnixNano: '1700000000200000001',
      endTimeUnixNano: '1700000001000000005',
      attributes: {},
      events: [{ name: 'earshot.first_content', timeUnixNano: '1700000000450000000', attributes: { 'earshot.tokens': 3 } }],
      // Bits 8 and 9: the linked span is known to be remote.
      links: [
        {
          traceId: LINKED.traceId,
          spanId: LINKED.spanId,
          traceState: '',
          flags: 0x301,
          attributes: { 'earshot.link': 'server' },
        },
      ],
      status: { code: 2, message: 'dropped' },
      resource: RESOURCE,
      scope: SCOPE,
    });
    expect(receiver.requests).toEqual({ traces: 1, metrics: 0, logs: 0, failed: 0, rejected: 0 });
  });

  it('decodes metrics: sum, gauge, explicit and exponential histograms with their buckets', async () => {
    const resourceMetrics = await makeMetrics();
    const res = await post('metrics', encoding.metrics.serializeRequest(resourceMetrics)!, encoding.contentType);
    expect(res.status).toBe(200);

    const sdk = new Map<string, MetricData>(resourceMetrics.scopeMetrics[0].metrics.map((m) => [m.descriptor.name, m]));
    const times = (name: string) => {
      const dp = sdk.get(name)!.dataPoints[0];
      return { startTimeUnixNano: nanos(dp.startTime), timeUnixNano: nanos(dp.endTime) };
    };
    const strip = (name: string) => {
      const [m] = receiver.metrics({ name });
      const { receivedAtMs: _r, ...rest } = m;
      return rest;
    };

    expect(strip('earshot.turns')).toEqual({
      name: 'earshot.turns',
      description: '',
      unit: '{turn}',
      type: 'sum',
      temporality: 2,
      monotonic: true,
      points: [{ attributes: { outcome: 'complete' }, ...times('earshot.turns'), flags: 0, exemplars: [], value: 3 }],
      resource: RESOURCE,
      scope: SCOPE,
    });
    expect(strip('earshot.connections.peak')).toMatchObject({
      type: 'gauge',
      temporality: 0,
      monotonic: false,
      points: [{ attributes: {}, ...times('earshot.connections.peak'), flags: 0, exemplars: [], value: 4 }],
    });

    const hist = sdk.get('gen_ai.client.operation.time_to_first_chunk')!.dataPoints[0].value as Histogram;
    expect(strip('gen_ai.client.operation.time_to_first_chunk')).toEqual({
      name: 'gen_ai.client.operation.time_to_first_chunk',
      description: '',
      unit: 's',
      type: 'histogram',
      temporality: 2,
      monotonic: false,
      points: [
        {
          attributes: { 'gen_ai.operation.name': 'chat' },
          ...times('gen_ai.client.operation.time_to_first_chunk'),
          flags: 0,
          exemplars: [],
          count: 4,
          sum: hist.sum,
          min: 0.05,
          max: 2,
          bucketCounts: [1, 2, 0, 1],
          explicitBounds: [0.1, 0.5, 1],
        },
      ],
      resource: RESOURCE,
      scope: SCOPE,
    });

    const exp = sdk.get('earshot.ttfa')!.dataPoints[0].value as ExponentialHistogram;
    expect(exp.positive.bucketCounts.reduce((a, b) => a + b, 0)).toBe(3);
    const [ttfa] = receiver.metrics({ name: 'earshot.ttfa' });
    expect(ttfa.type).toBe('exponentialHistogram');
    expect(ttfa.temporality).toBe(2);
    expect(ttfa.points).toEqual([
      {
        attributes: {},
        ...times('earshot.ttfa'),
        flags: 0,
        exemplars: [],
        count: 3,
        sum: exp.sum,
        min: 0.2,
        max: 0.8,
        scale: exp.scale,
        zeroCount: 0,
        zeroThreshold: 0,
        positive: { offset: exp.positive.offset, bucketCounts: exp.positive.bucketCounts },
        negative: { offset: 0, bucketCounts: [] },
      },
    ]);
    expect(receiver.metrics()).toHaveLength(4);
  });

  it('decodes log records: body, severity, event name, attributes, span context', async () => {
    const { turn } = makeSpans();
    const res = await post('logs', encoding.logs.serializeRequest(makeLogs(turn))!, encoding.contentType);
    expect(res.status).toBe(200);
    const logs = receiver.logs({ traceId: turn.spanContext().traceId });
    expect(logs).toHaveLength(1);
    const { receivedAtMs: _r, ...rest } = logs[0];
    expect(rest).toEqual({
      timeUnixNano: '1700000003000000007',
      observedTimeUnixNano: '1700000003000000009',
      severityNumber: SeverityNumber.WARN,
      severityText: 'WARN',
      eventName: 'earshot.turn.dropped',
      body: { reason: 'close 1006', partial: true, chunks: [1, 2.5] },
      attributes: { 'earshot.turn.id': 't1' },
      traceId: turn.spanContext().traceId,
      spanId: turn.spanContext().spanId,
      flags: 1,
      resource: RESOURCE,
      scope: SCOPE,
    });
    expect(receiver.logs({ traceId: 'f'.repeat(32) })).toEqual([]);
  });

  it('accepts a gzip body and counts a span received twice', async () => {
    const { turn, all } = makeSpans();
    const body = gzipSync(encoding.traces.serializeRequest(all)!);
    for (let i = 0; i < 2; i++) {
      const res = await post('traces', body, encoding.contentType, { 'content-encoding': 'gzip' });
      expect(res.status).toBe(200);
    }
    expect(receiver.spans()).toHaveLength(4);
    expect(receiver.receivedCount(turn.spanContext().spanId)).toBe(2);
    expect(receiver.duplicates().map((d) => [d.name, d.count]).sort()).toEqual([
      ['earshot.connection', 2],
      ['earshot.turn', 2],
    ]);
    expect(receiver.requests.traces).toBe(2);
  });
});

describe('OTLP/JSON rules', () => {
  it('takes int64 as numbers or strings, enums as integers, hex ids, and sendBeacon text/plain', async () => {
    const body = JSON.stringify({
      resourceMetrics: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'voice-app' } }] },
          scopeMetrics: [
            {
              scope: { name: 'earshot' },
              metrics: [
                {
                  name: 'earshot.turns.good',
                  sum: {
                    aggregationTemporality: 1,
                    isMonotonic: true,
                    dataPoints: [
                      {
                        attributes: [{ key: 'big', value: { intValue: '9007199254740993' } }],
                        startTimeUnixNano: 1700000000000000000,
                        timeUnixNano: '1700000000500000000',
                        asInt: 12,
                        exemplars: [
                          {
                            timeUnixNano: '1700000000400000000',
                            asDouble: 0.75,
                            traceId: '0af7651916cd43dd8448eb211c80319c',
                            spanId: 'b7ad6b7169203331',
                            filteredAttributes: [{ key: 'bytes', value: { bytesValue: 'AQID' } }],
                          },
                        ],
                      },
                    ],
                  },
                },
              ],
            },
          ],
        },
      ],
    });
    const res = await post('metrics', body, 'text/plain;charset=UTF-8');
    expect(res.status).toBe(200);
    const [m] = receiver.metrics({ name: 'earshot.turns.good' });
    expect(m.temporality).toBe(1);
    expect(m.points).toEqual([
      {
        attributes: { big: '9007199254740993' },
        startTimeUnixNano: '1700000000000000000',
        timeUnixNano: '1700000000500000000',
        flags: 0,
        value: 12,
        exemplars: [
          {
            timeUnixNano: '1700000000400000000',
            value: 0.75,
            traceId: '0af7651916cd43dd8448eb211c80319c',
            spanId: 'b7ad6b7169203331',
            filteredAttributes: { bytes: new Uint8Array([1, 2, 3]) },
          },
        ],
      },
    ]);
    // Over HTTP, bytes go back out as base64.
    const served = (await getJson('/api/metrics?name=earshot.turns.good')) as Array<{
      points: Array<{ exemplars: Array<{ filteredAttributes: unknown }> }>;
    }>;
    expect(served[0].points[0].exemplars[0].filteredAttributes).toEqual({ bytes: 'AQID' });
  });

  it('rejects malformed bodies, unknown content types and encodings, and counts them', async () => {
    const cases: Array<[Uint8Array | string, string, Record<string, string>, number]> = [
      ['{"resourceSpans": [', 'application/json', {}, 400],
      [jsonSpans([{ name: 'x', spanId: 'not-hex!', start: 1 }]), 'application/json', {}, 400],
      ['{"resourceSpans": [{"scopeSpans": 5}]}', 'application/json', {}, 400],
      [new Uint8Array([0x0a, 0xff, 0xff, 0xff]), 'application/x-protobuf', {}, 400],
      ['{}', 'application/xml', {}, 415],
      ['{}', 'application/json', { 'content-encoding': 'br' }, 415],
      ['not gzip', 'application/json', { 'content-encoding': 'gzip' }, 400],
    ];
    for (const [body, type, headers, status] of cases) {
      const res = await post('traces', body, type, headers);
      expect([type, res.status]).toEqual([type, status]);
    }
    expect(receiver.requests).toEqual({ traces: 7, metrics: 0, logs: 0, failed: 0, rejected: 7 });
    expect(receiver.spans()).toEqual([]);
  });
});

describe('queries', () => {
  it('joins client and server spans of a trace, sorted by start time, and filters spans by name and time', async () => {
    const { connection, turn, all } = makeSpans();
    const traceId = connection.spanContext().traceId;
    // The server span of the turn, exported by the server under another resource; it arrives first.
    const serverSpan = {
      name: 'llm.generate',
      traceId,
      spanId: 'c3'.repeat(8),
      parentSpanId: turn.spanContext().spanId,
      start: 1_700_000_000_300_000_000,
    };
    expect((await post('traces', jsonSpans([serverSpan]), 'application/json')).status).toBe(200);
    const client = ProtobufTraceSerializer.serializeRequest(all)!;
    expect((await post('traces', client, 'application/x-protobuf')).status).toBe(200);

    const served = (await getJson(`/api/traces/${traceId}`)) as { traceId: string; spans: ReceivedSpan[] };
    expect(served.traceId).toBe(traceId);
    expect(served.spans.map((s) => [s.name, s.kind, s.parentSpanId, s.resource['service.name']])).toEqual([
      ['earshot.connection', 3, '', 'voice-app'],
      ['earshot.turn', 1, connection.spanContext().spanId, 'voice-app'],
      ['llm.generate', 2, turn.spanContext().spanId, 'voice-server'],
    ]);
    expect(((await getJson(`/api/traces/${'9'.repeat(32)}`)) as { spans: unknown[] }).spans).toEqual([]);

    const turns = (await getJson('/api/spans?name=earshot.turn')) as ReceivedSpan[];
    expect(turns.map((s) => s.spanId)).toEqual([turn.spanContext().spanId]);
    const since = receiver.spans()[0].receivedAtMs;
    expect(((await getJson(`/api/spans?since=${since}`)) as unknown[]).length).toBe(3);
    expect(await getJson(`/api/spans?since=${Date.now() + 60_000}`)).toEqual([]);
    expect((await fetch(`${receiver.url}/api/spans?since=yesterday`)).status).toBe(400);

    const stats = (await getJson('/api/stats')) as { requests: Record<string, number>; duplicates: unknown[] };
    expect(stats).toEqual({ requests: { traces: 2, metrics: 0, logs: 0, failed: 0, rejected: 0 }, duplicates: [] });
    expect((await fetch(`${receiver.url}/api/clear`, { method: 'POST' })).status).toBe(204);
    expect(receiver.spans()).toEqual([]);
  });

  it('answers CORS preflights and allows the page origin on exports', async () => {
    const origin = 'http://localhost:5173';
    const preflight = await fetch(`${receiver.url}/v1/traces`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(origin);
    expect(preflight.headers.get('access-control-allow-methods')).toBe('POST, GET, OPTIONS');
    expect(preflight.headers.get('access-control-allow-headers')).toBe('content-type');

    const body = jsonSpans([{ name: 'a', spanId: '00f067aa0ba902b7', start: 1 }]);
    const res = await post('traces', body, 'application/json', { origin });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(origin);
    expect(res.headers.get('access-control-expose-headers')).toBe('retry-after');
  });
});

describe('fault injection', () => {
  const body = () => jsonSpans([{ name: 'turn', spanId: '00f067aa0ba902b7', start: 1 }]);
  afterEach(() => receiver.recover());

  it('answers 500 until recovered, storing nothing', async () => {
    await receiver.fail({ status: 500 });
    expect((await post('traces', body(), 'application/json')).status).toBe(500);
    expect((await post('traces', body(), 'application/json')).status).toBe(500);
    expect(receiver.spans()).toEqual([]);
    await receiver.recover();
    expect((await post('traces', body(), 'application/json')).status).toBe(200);
    expect(receiver.requests).toEqual({ traces: 3, metrics: 0, logs: 0, failed: 2, rejected: 0 });
    expect(receiver.spans()).toHaveLength(1);
  });

  it('answers 503 with Retry-After for the next N requests only', async () => {
    await receiver.fail({ status: 503, retryAfterS: 7 }, { times: 2 });
    const origin = 'http://localhost:5173';
    for (let i = 0; i < 2; i++) {
      const res = await post('logs', '{}', 'application/json', { origin });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('7');
      // The page can read the header: CORS exposes it.
      expect(res.headers.get('access-control-expose-headers')).toBe('retry-after');
    }
    expect((await post('logs', '{}', 'application/json')).status).toBe(200);
    expect(receiver.requests).toEqual({ traces: 0, metrics: 0, logs: 3, failed: 2, rejected: 0 });
  });

  it('leaves a request unanswered when hanging, so the client times out', async () => {
    await receiver.fail('hang', { times: 1 });
    const hung = fetch(`${receiver.url}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: body(),
      signal: AbortSignal.timeout(250),
    });
    await expect(hung).rejects.toMatchObject({ name: 'TimeoutError' });
    // The next request is answered again.
    expect((await post('traces', body(), 'application/json')).status).toBe(200);
    expect(receiver.requests).toEqual({ traces: 2, metrics: 0, logs: 0, failed: 1, rejected: 0 });
  });

  it('refuses connections, then listens again on the same port', async () => {
    const url = receiver.url;
    await receiver.fail('refuse');
    const refused = await new Promise<string>((resolve) => {
      const socket = connect(receiver.port, '127.0.0.1');
      socket.on('connect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
    await expect(post('traces', body(), 'application/json')).rejects.toThrow();
    await receiver.recover();
    expect(receiver.url).toBe(url);
    expect((await post('traces', body(), 'application/json')).status).toBe(200);
  });
});

describe('bounded storage', () => {
  it('keeps the newest maxItems per store, evicting the oldest', async () => {
    const small = await startReceiver({ maxItems: 3 });
    try {
      const spans = [0, 1, 2, 3, 4].map((i) => ({ name: `s${i}`, spanId: `00f067aa0ba902b${i}`, start: 1000 + i }));
      for (const batch of [spans.slice(0, 2), spans.slice(2)]) {
        const headers = { 'content-type': 'application/json' };
        await fetch(`${small.url}/v1/traces`, { method: 'POST', headers, body: jsonSpans(batch) });
      }
      expect(small.spans().map((s) => s.name)).toEqual(['s2', 's3', 's4']);
      expect(small.trace('0af7651916cd43dd8448eb211c80319c').map((s) => s.name)).toEqual(['s2', 's3', 's4']);
      expect(small.requests.traces).toBe(2);
    } finally {
      await small.close();
    }
  });
});
