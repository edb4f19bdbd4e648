import { ROOT_CONTEXT, trace, type Context } from '@opentelemetry/api';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import {
  appendServerTiming,
  contextFromHeaders,
  contextFromMessage,
  contextFromProtocols,
  contextFromUrl,
  serverTiming,
} from '../src/server';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE_ID}-${SPAN_ID}-01`;
const TRACESTATE = 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE';

/** The remote parent a context carries, as plain data ({} when there is none). */
function parent(context: Context) {
  const sc = trace.getSpanContext(context);
  if (!sc) return {};
  return {
    traceId: sc.traceId,
    spanId: sc.spanId,
    traceFlags: sc.traceFlags,
    isRemote: sc.isRemote,
    traceState: sc.traceState?.serialize() ?? '',
  };
}

const EXPECTED = { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1, isRemote: true, traceState: '' };
const WITH_STATE = { ...EXPECTED, traceState: TRACESTATE };

/** Malformed, or well-formed in another version: none may be taken as a parent. */
const INVALID = [
  '',
  'garbage',
  `01-${TRACE_ID}-${SPAN_ID}-01`, // version 01 is not level 1
  `ff-${TRACE_ID}-${SPAN_ID}-01`,
  `00-${TRACE_ID}-${SPAN_ID}-01-extra`, // version 00 has exactly four fields
  `00-${TRACE_ID.toUpperCase()}-${SPAN_ID}-01`,
  `00-${'0'.repeat(32)}-${SPAN_ID}-01`,
  `00-${TRACE_ID}-${'0'.repeat(16)}-01`,
  `00-${TRACE_ID.slice(1)}-${SPAN_ID}-01`,
  `00-${TRACE_ID}-${SPAN_ID}-1`,
  `00_${TRACE_ID}_${SPAN_ID}_01`,
];

describe('contextFromHeaders', () => {
  it('reads traceparent and tracestate from Node headers and Fetch Headers', () => {
    expect(parent(contextFromHeaders({ traceparent: TRACEPARENT, tracestate: TRACESTATE }))).toEqual(WITH_STATE);
    expect(parent(contextFromHeaders(new Headers({ Traceparent: TRACEPARENT })))).toEqual(EXPECTED);
    // Any case of the name; tracestate split over several header lines is one list.
    const split = { TraceParent: TRACEPARENT, tracestate: ['rojo=00f067aa0ba902b7', 'congo=t61rcWkgMzE'] };
    expect(parent(contextFromHeaders(split))).toEqual(WITH_STATE);
    expect(parent(contextFromHeaders({ traceparent: ` ${TRACEPARENT} ` }))).toEqual(EXPECTED);
    const unsampled = contextFromHeaders({ traceparent: `00-${TRACE_ID}-${SPAN_ID}-00` });
    expect(parent(unsampled)).toEqual({ ...EXPECTED, traceFlags: 0 });
  });

  it('gives ROOT_CONTEXT when absent, invalid or repeated', () => {
    expect(contextFromHeaders({})).toBe(ROOT_CONTEXT);
    expect(contextFromHeaders(null)).toBe(ROOT_CONTEXT);
    expect(contextFromHeaders(undefined)).toBe(ROOT_CONTEXT);
    for (const value of INVALID) expect([value, contextFromHeaders({ traceparent: value })]).toEqual([value, ROOT_CONTEXT]);
    expect(contextFromHeaders({ traceparent: [TRACEPARENT, TRACEPARENT] })).toBe(ROOT_CONTEXT);
    const repeated = new Headers();
    repeated.append('traceparent', TRACEPARENT);
    repeated.append('traceparent', TRACEPARENT);
    expect(contextFromHeaders(repeated)).toBe(ROOT_CONTEXT);
  });
});

describe('contextFromUrl', () => {
  it('reads the query of a request path or a full URL', () => {
    expect(parent(contextFromUrl(`/realtime?model=x&traceparent=${TRACEPARENT}`))).toEqual(EXPECTED);
    const query = `traceparent=${TRACEPARENT}&tracestate=${encodeURIComponent(TRACESTATE)}`;
    const url = new URL(`wss://api.example.com/realtime?${query}`);
    expect(parent(contextFromUrl(url))).toEqual(WITH_STATE);
    expect(parent(contextFromUrl(url.href))).toEqual(WITH_STATE);
  });

  it('gives ROOT_CONTEXT when absent, invalid or repeated', () => {
    expect(contextFromUrl('/realtime')).toBe(ROOT_CONTEXT);
    expect(contextFromUrl(null)).toBe(ROOT_CONTEXT);
    expect(contextFromUrl('http://[not a url')).toBe(ROOT_CONTEXT);
    for (const value of INVALID) {
      expect([value, contextFromUrl(`/ws?traceparent=${encodeURIComponent(value)}`)]).toEqual([value, ROOT_CONTEXT]);
    }
    expect(contextFromUrl(`/ws?traceparent=${TRACEPARENT}&traceparent=${TRACEPARENT}`)).toBe(ROOT_CONTEXT);
  });
});

describe('contextFromProtocols', () => {
  it('takes the trace entry out and returns the app protocols in the order offered', () => {
    const { context, protocols } = contextFromProtocols(`chat.v2, traceparent.${TRACEPARENT}, chat.v1`);
    expect(parent(context)).toEqual(EXPECTED);
    expect(protocols).toEqual(['chat.v2', 'chat.v1']);
    // As `ws` hands them to handleProtocols, and as repeated header lines.
    const fromSet = contextFromProtocols(new Set([`traceparent.${TRACEPARENT}`, 'openai-realtime']));
    expect([parent(fromSet.context), fromSet.protocols]).toEqual([EXPECTED, ['openai-realtime']]);
    const fromList = contextFromProtocols(['a, b', `traceparent.${TRACEPARENT}`]);
    expect([parent(fromList.context), fromList.protocols]).toEqual([EXPECTED, ['a', 'b']]);
  });

  it('never returns a trace entry, and gives ROOT_CONTEXT when it is absent, invalid or repeated', () => {
    expect(contextFromProtocols('chat')).toEqual({ context: ROOT_CONTEXT, protocols: ['chat'] });
    expect(contextFromProtocols(undefined)).toEqual({ context: ROOT_CONTEXT, protocols: [] });
    expect(contextFromProtocols('')).toEqual({ context: ROOT_CONTEXT, protocols: [] });
    for (const value of INVALID) {
      expect(contextFromProtocols(`chat, traceparent.${value}`)).toEqual({ context: ROOT_CONTEXT, protocols: ['chat'] });
    }
    expect(contextFromProtocols(`traceparent.${TRACEPARENT}, traceparent.${TRACEPARENT}, chat`)).toEqual({
      context: ROOT_CONTEXT,
      protocols: ['chat'],
    });
  });
});

describe('contextFromMessage', () => {
  it('reads traceparent and tracestate at the top level of the request message', () => {
    expect(parent(contextFromMessage({ type: 'response.create', traceparent: TRACEPARENT }))).toEqual(EXPECTED);
    const message: unknown = JSON.parse(JSON.stringify({ traceparent: TRACEPARENT, tracestate: TRACESTATE }));
    expect(parent(contextFromMessage(message))).toEqual(WITH_STATE);
  });

  it('gives ROOT_CONTEXT for anything else', () => {
    const others: unknown[] = [
      null,
      undefined,
      42,
      TRACEPARENT,
      [TRACEPARENT],
      { traceparent: 42 },
      { response: { traceparent: TRACEPARENT } }, // nested: not the top level
      ...INVALID.map((traceparent) => ({ traceparent })),
    ];
    for (const message of others) expect(contextFromMessage(message)).toBe(ROOT_CONTEXT);
  });
});

describe('Server-Timing', () => {
  it('names the server span as a traceparent and appends durations', () => {
    const tracer = new BasicTracerProvider().getTracer('server');
    const span = tracer.startSpan('turn', {}, contextFromHeaders({ traceparent: TRACEPARENT }));
    const { traceId, spanId } = span.spanContext();
    expect(traceId).toBe(TRACE_ID);
    const header = serverTiming(span);
    expect(header).toBe(`traceparent;desc="00-${TRACE_ID}-${spanId}-01"`);
    expect(serverTiming(span.spanContext())).toBe(header);
    expect(appendServerTiming(header, 'inference', 123.4)).toBe(`${header}, inference;dur=123.4`);
    expect(appendServerTiming('', 'queue', 1 / 3, 'wait "in" line\\')).toBe('queue;dur=0.333;desc="wait \\"in\\" line\\\\"');
    const unsampled = { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 0 };
    expect(serverTiming(unsampled)).toBe(`traceparent;desc="00-${TRACE_ID}-${SPAN_ID}-00"`);
  });

  it('gives nothing for an untraced span and ignores invalid durations', () => {
    expect(serverTiming(trace.wrapSpanContext({ traceId: '0'.repeat(32), spanId: '0'.repeat(16), traceFlags: 0 }))).toBe('');
    expect(appendServerTiming('a;dur=1', 'bad name', 5)).toBe('a;dur=1');
    expect(appendServerTiming('a;dur=1', 'x', Number.NaN)).toBe('a;dur=1');
    expect(appendServerTiming('a;dur=1', 'x', Number.POSITIVE_INFINITY)).toBe('a;dur=1');
  });
});
