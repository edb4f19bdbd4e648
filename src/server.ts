/**
 * earshot/server: the server's half of earshot's trace context. The browser sends a W3C `traceparent`
 * (and optionally `tracestate`) in whichever carrier its transport allows; these helpers read it back
 * as an OpenTelemetry `Context`, so the server span of a connection or turn becomes a child of the
 * client span, and `serverTiming` hands the server span back to the page in `Server-Timing`.
 *
 * Carriers:
 *   fetch / WebRTC signalling   `traceparent` / `tracestate` request headers
 *   WebSocket, per connection   `?traceparent=...&tracestate=...` in the upgrade request's URL, or an
 *                               extra `Sec-WebSocket-Protocol` entry `traceparent.<traceparent>`
 *   WebSocket / data channel,   a `traceparent` (and `tracestate`) field at the top level of the JSON
 *   per turn                    request message
 *
 * Only a well-formed version-00 traceparent with non-zero ids is accepted; anything else (absent,
 * malformed, repeated) gives `ROOT_CONTEXT`, so the server starts a new trace. Nothing here throws.
 * No runtime-specific imports: it runs in Node, Deno, Bun and edge workers alike.
 */
import {
  ROOT_CONTEXT,
  defaultTextMapGetter,
  trace,
  type Context,
  type Span,
  type SpanContext,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';

// Used directly rather than through the global propagation API, so extraction works whether or not
// the app registered a propagator.
const propagator = new W3CTraceContextPropagator();

/** Level 1, version 00: exactly four dash-separated fields of lowercase hex. */
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;
const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_SPAN_ID = '0'.repeat(16);

/** The `Sec-WebSocket-Protocol` entry that carries the traceparent: `traceparent.00-<trace>-<span>-<flags>`. */
const PROTOCOL_PREFIX = 'traceparent.';

/** A Server-Timing metric name is an HTTP token (RFC 9110). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Headers as Node (`IncomingHttpHeaders`) or the Fetch API (`Headers`) present them. */
export type HeaderCarrier =
  | { get(name: string): string | null }
  | Readonly<Record<string, string | readonly string[] | undefined>>;

function isValidTraceparent(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const match = TRACEPARENT.exec(value);
  return match !== null && match[1] !== ZERO_TRACE_ID && match[2] !== ZERO_SPAN_ID;
}

/** The remote span context of a valid traceparent, with its tracestate when one came along. */
function extract(traceparent: unknown, tracestate?: unknown): Context {
  if (!isValidTraceparent(traceparent)) return ROOT_CONTEXT;
  const carrier: Record<string, string> = { traceparent };
  if (typeof tracestate === 'string' && tracestate !== '') carrier.tracestate = tracestate;
  return propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);
}

/** Every value of a header, whatever the carrier's shape and the name's case. */
function headerValues(headers: HeaderCarrier, name: string): readonly string[] {
  if (typeof headers.get === 'function') {
    const value = (headers as { get(name: string): string | null }).get(name);
    return value === null ? [] : [value];
  }
  const record = headers as Readonly<Record<string, string | readonly string[] | undefined>>;
  const key = name in record ? name : Object.keys(record).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : record[key];
  return value === undefined ? [] : typeof value === 'string' ? [value] : value;
}

/** From the `traceparent` / `tracestate` headers of a request (fetch, WebRTC signalling, HTTP). */
export function contextFromHeaders(headers: HeaderCarrier | null | undefined): Context {
  if (!headers || typeof headers !== 'object') return ROOT_CONTEXT;
  // A repeated traceparent is ambiguous, so invalid (a Fetch `Headers` joins repeats with ", ").
  const traceparents = headerValues(headers, 'traceparent');
  if (traceparents.length !== 1) return ROOT_CONTEXT;
  return extract(traceparents[0].trim(), headerValues(headers, 'tracestate').join(','));
}

/**
 * From the query of a WebSocket upgrade request: `?traceparent=...` and optionally `&tracestate=...`.
 * Takes a full URL or a request path such as Node's `req.url` (`/realtime?traceparent=...`).
 */
export function contextFromUrl(url: string | URL | null | undefined): Context {
  let params: URLSearchParams;
  try {
    params = (typeof url === 'string' ? new URL(url, 'http://localhost') : (url as URL)).searchParams;
  } catch {
    return ROOT_CONTEXT;
  }
  const traceparents = params.getAll('traceparent');
  if (traceparents.length !== 1) return ROOT_CONTEXT;
  return extract(traceparents[0], params.getAll('tracestate').join(','));
}

/**
 * From the protocols a WebSocket client offered: the `Sec-WebSocket-Protocol` header as a string
 * (comma-separated) or list, or the `Set` that `ws`'s `handleProtocols` receives. Returns the context
 * and the app's own protocols in the order offered, without the trace entry: the server must answer
 * with one of those, never with the trace entry.
 */
export function contextFromProtocols(
  offered: string | readonly string[] | ReadonlySet<string> | null | undefined,
): { context: Context; protocols: string[] } {
  const protocols: string[] = [];
  const traceparents: string[] = [];
  const items: Iterable<unknown> = typeof offered === 'string' ? [offered] : (offered ?? []);
  for (const item of items) {
    if (typeof item !== 'string') continue;
    for (const entry of item.split(',')) {
      const protocol = entry.trim();
      if (protocol.startsWith(PROTOCOL_PREFIX)) traceparents.push(protocol.slice(PROTOCOL_PREFIX.length));
      else if (protocol !== '') protocols.push(protocol);
    }
  }
  return { context: traceparents.length === 1 ? extract(traceparents[0]) : ROOT_CONTEXT, protocols };
}

/** From a per-turn request message: `traceparent` (and `tracestate`) at the top level of the parsed JSON. */
export function contextFromMessage(message: unknown): Context {
  if (typeof message !== 'object' || message === null || Array.isArray(message)) return ROOT_CONTEXT;
  const { traceparent, tracestate } = message as { traceparent?: unknown; tracestate?: unknown };
  return extract(traceparent, tracestate);
}

/**
 * A `Server-Timing` header value naming the server span, `traceparent;desc="00-<trace>-<span>-<flags>"`,
 * so the page can link its client span to it. '' when the span has no valid context (not traced).
 * Append durations with `appendServerTiming`.
 */
export function serverTiming(span: Span | SpanContext): string {
  const candidate = span as Partial<Span> | undefined;
  const spanContext =
    typeof candidate?.spanContext === 'function' ? candidate.spanContext() : (span as SpanContext | undefined);
  if (!spanContext || !trace.isSpanContextValid(spanContext)) return '';
  const flags = (spanContext.traceFlags & 0xff).toString(16).padStart(2, '0');
  return `traceparent;desc="00-${spanContext.traceId}-${spanContext.spanId}-${flags}"`;
}

/**
 * Appends a duration metric to a `Server-Timing` value: `appendServerTiming(value, 'inference', 123.4)`
 * gives `<value>, inference;dur=123.4`. Lets the page split TTFT into network and server time.
 * A name that is not an HTTP token or a duration that is not finite leaves `header` unchanged.
 */
export function appendServerTiming(header: string, name: string, durationMs: number, description?: string): string {
  if (typeof name !== 'string' || !TOKEN.test(name) || !Number.isFinite(durationMs)) return header;
  let entry = `${name};dur=${Math.round(durationMs * 1000) / 1000}`;
  if (typeof description === 'string') {
    // A quoted-string: no control characters, backslash-escape quotes and backslashes.
    entry += `;desc="${description.replace(/[\x00-\x08\x0a-\x1f\x7f]/g, '').replace(/["\\]/g, '\\$&')}"`;
  }
  return header ? `${header}, ${entry}` : entry;
}
