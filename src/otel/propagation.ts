import { defaultTextMapSetter, ROOT_CONTEXT, trace, type Span } from '@opentelemetry/api';
import { urlMatches, W3CTraceContextPropagator } from '@opentelemetry/core';
import type { WireData } from '../core/types';

/** A URL allowed to receive trace context from another origin: exact string, or pattern. */
export type UrlPattern = string | RegExp;

/**
 * Where a WebSocket carries its connection's trace context (browsers set no headers on it):
 * `query` adds `traceparent` (and `tracestate`) to the URL query; `protocol` appends a
 * `traceparent.<value>` entry to the app's `Sec-WebSocket-Protocol` list; `none` sends nothing.
 */
export type WebSocketCarrier = 'query' | 'protocol' | 'none';

/** W3C trace context of one span: `traceparent`, and `tracestate` when it has one. */
export type TraceHeaders = Record<string, string>;

const propagator = new W3CTraceContextPropagator();

export function traceHeaders(span: Span): TraceHeaders {
  const carrier: TraceHeaders = {};
  propagator.inject(trace.setSpan(ROOT_CONTEXT, span), carrier, defaultTextMapSetter);
  return carrier;
}

/**
 * Whether trace context may go to `url`: the page's own origin (a ws(s) URL compared as http(s), so
 * `wss://host` is the origin of `https://host`), or a URL the app allowed, as OpenTelemetry's
 * `propagateTraceHeaderCorsUrls` does (a string matches the absolute URL exactly, a RegExp anywhere).
 * Never to another origin by default: a third party would learn trace ids, and a header it did not
 * expect fails its CORS preflight.
 */
export function mayPropagate(url: string, allowed: readonly UrlPattern[]): boolean {
  const page = globalThis.location as Location | undefined;
  let target: URL;
  try {
    target = new URL(url, page?.href);
  } catch {
    return false;
  }
  if (page && target.host === page.host && target.protocol.replace(/^ws/, 'http') === page.protocol) return true;
  return allowed.some((pattern) => urlMatches(target.href, pattern));
}

/** The URL and protocols a WebSocket opens with, carrying `headers` as `carrier` says. */
export function carryOnWebSocket(
  carrier: WebSocketCarrier,
  url: string,
  protocols: string[],
  headers: TraceHeaders,
): [url: string, protocols: string[]] {
  if (carrier === 'query') {
    // Edited as text, so the app's URL reaches the constructor as written (relative or not).
    const hash = url.indexOf('#');
    const base = hash < 0 ? url : url.slice(0, hash);
    const query = Object.entries(headers).map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
    return [`${base}${base.includes('?') ? '&' : '?'}${query}${hash < 0 ? '' : url.slice(hash)}`, protocols];
  }
  // A server must answer with one of the offered protocols: with none of the app's to choose, it
  // would have to pick the trace entry (and Chromium fails a handshake that offered protocols and
  // got none back), so the entry only joins a list the app offers. tracestate is not a valid token.
  if (carrier === 'protocol' && protocols.length > 0) return [url, [...protocols, `traceparent.${headers.traceparent}`]];
  return [url, protocols];
}

/**
 * A request message carrying `headers` as top-level JSON fields: `field` holds the traceparent, and
 * `tracestate` the tracestate when there is one. Anything but a JSON object in text, or an object
 * that already has the field, goes out unchanged.
 */
export function carryInMessage(data: WireData, field: string, headers: TraceHeaders): WireData {
  if (typeof data !== 'string' || !/^\s*\{/.test(data)) return data;
  let message: unknown;
  try {
    message = JSON.parse(data);
  } catch {
    return data;
  }
  if (typeof message !== 'object' || message === null || Array.isArray(message) || field in message) return data;
  const fields: Record<string, string> = { [field]: headers.traceparent };
  if (headers.tracestate) fields.tracestate = headers.tracestate;
  return JSON.stringify({ ...message, ...fields });
}
