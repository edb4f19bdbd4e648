import {
  context,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Span,
  type SpanContext,
  type Tracer,
} from '@opentelemetry/api';
import type { ConnectionReport, TurnReport } from '../core/types';
import { traceHeaders, type TraceHeaders } from './propagation';
import { readServerTiming } from './server-timing';

export interface SpanOptions {
  /** Per-chunk events on a turn span, at most this many (from `report.chunkTimes`). */
  chunkEvents: number;
  /** Record reasons (error messages, close reasons), which may quote what the server sent. */
  reasons: boolean;
}

/** An open connection or turn span, and what the hooks learn about it before its report. */
export interface OpenSpan {
  readonly span: Span;
  /** Redacted URL of its connection. */
  readonly url: string | undefined;
  readonly headers: TraceHeaders;
  /** The server's part of TTFT, from `Server-Timing`. */
  serverMs?: number;
}

const CONNECTION_SPAN = 'earshot.connection';
const TURN_SPAN = 'earshot.turn';
/** Ended spans whose context is kept for records that come after them (a display's end, an underrun). */
const ENDED_KEPT = 64;

/** Ids count up per kind: connections `c<n>`, turns `t<n>` (a manual turn has no parent either). */
export const isTurnId = (id: string): boolean => id[0] === 't';

/** When a turn ended as a user saw it: its last byte, or its first audio if that played later. */
export const turnEnd = (report: TurnReport): number =>
  report.t0 + Math.max(report.e2eMs ?? 0, report.ttfaMs ?? 0);

/** The attributes of a turn span: every measured figure in ms, named as in `TurnReport` (undefined ones are left out). */
export function turnAttributes(report: TurnReport, reasons: boolean): Attributes {
  const { itl, slo } = report;
  const attributes: Attributes = {
    'earshot.turn.id': report.id,
    'earshot.connection.id': report.connectionId,
    'earshot.transport': report.transport,
    'earshot.outcome': report.outcome,
    'earshot.ttfb_ms': report.ttfbMs,
    'earshot.ttft_ms': report.ttftMs,
    'earshot.ttfa_ms': report.ttfaMs,
    'earshot.ttfd_ms': report.ttfdMs,
    'earshot.e2e_ms': report.e2eMs,
    'earshot.tpot_ms': report.tpotMs,
    'earshot.tokens': report.tokens,
    'earshot.tokens_estimated': report.tokensEstimated,
    'earshot.chunks': report.chunks,
    'earshot.audio_ms': report.audioMs,
    'earshot.rtf': report.rtf,
    'earshot.slo.good': slo.good,
    'earshot.slo.failed': slo.failed,
    'earshot.slo.category': slo.category,
  };
  if (itl.count > 0) {
    Object.assign(attributes, {
      'earshot.itl.count': itl.count,
      'earshot.itl.mean_ms': itl.mean,
      'earshot.itl.p50_ms': itl.p50,
      'earshot.itl.p90_ms': itl.p90,
      'earshot.itl.p95_ms': itl.p95,
      'earshot.itl.p99_ms': itl.p99,
      'earshot.itl.max_ms': itl.max,
      'earshot.jitter_ms': itl.stddev,
      'earshot.stalls': itl.stalls,
    });
  }
  if (reasons) attributes['earshot.reason'] = report.reason;
  return attributes;
}

export const connectionAttributes = (report: ConnectionReport, reasons: boolean): Attributes => ({
  'earshot.connection.id': report.id,
  'earshot.transport': report.transport,
  'earshot.outcome': report.outcome,
  'earshot.turns': report.turns,
  'earshot.close_code': report.code,
  'earshot.reason': reasons ? report.reason : undefined,
});

/**
 * The spans of connections and turns: one CLIENT span per connection, a child CLIENT span per turn,
 * started when the recorder starts them and ended from their reports at the times they describe
 * (`performance.timeOrigin + t`), whenever the report comes.
 */
export class SpanBook {
  readonly #open = new Map<string, OpenSpan>();
  readonly #byTraceparent = new Map<string, OpenSpan>();
  /** The contexts of the last ENDED_KEPT spans ended, oldest first. */
  readonly #ended = new Map<string, SpanContext>();
  readonly #origin = performance.timeOrigin;
  /** The turn that started last. */
  lastTurn: string | undefined;

  constructor(
    readonly tracer: Tracer,
    readonly options: SpanOptions,
  ) {}

  /** A connection (no parent) or a turn starts at `at`: its span, returning its traceparent. */
  start(id: string, parentId: string | undefined, url: string | undefined, at: number): string | undefined {
    const parent = parentId === undefined ? undefined : this.#open.get(parentId);
    const turn = isTurnId(id);
    const span = this.tracer.startSpan(
      turn ? TURN_SPAN : CONNECTION_SPAN,
      { kind: SpanKind.CLIENT, startTime: this.#origin + at, attributes: url === undefined ? undefined : { 'url.full': url } },
      // A connection, or a turn of no connection, joins whatever the app has active.
      parent ? trace.setSpan(ROOT_CONTEXT, parent.span) : context.active(),
    );
    const open: OpenSpan = { span, url, headers: traceHeaders(span) };
    this.#open.set(id, open);
    if (turn) this.lastTurn = id;
    const { traceparent } = open.headers;
    if (traceparent) this.#byTraceparent.set(traceparent, open);
    return traceparent;
  }

  /** The span context of a connection or turn, open or among the last ended. */
  context(id: string | undefined): SpanContext | undefined {
    return id === undefined ? undefined : (this.#open.get(id)?.span.spanContext() ?? this.#ended.get(id));
  }

  /** The open span whose traceparent this is (the hooks that carry it are given only that). */
  byTraceparent(traceparent: string): OpenSpan | undefined {
    return this.#byTraceparent.get(traceparent);
  }

  /** A fetch turn's response headers: its `Server-Timing` links the server span and splits TTFT. */
  response(turnId: string, serverTiming: string | null): void {
    const open = this.#open.get(turnId);
    if (!open || !serverTiming) return;
    const timing = readServerTiming(serverTiming);
    if (timing.span) open.span.addLink({ context: timing.span, attributes: { 'earshot.link': 'server' } });
    for (const [name, dur] of timing.durations) open.span.setAttribute(`earshot.server_timing.${name}_ms`, dur);
    open.serverMs = timing.serverMs;
  }

  /** Ends a turn's span; returns it. */
  turn(report: TurnReport): Span | undefined {
    const open = this.#take(report.id);
    if (!open) return;
    const { span } = open;
    const at = (offset: number | undefined) => this.#origin + report.t0 + offset!;
    span.setAttributes(turnAttributes(report, this.options.reasons));
    if (open.serverMs !== undefined) {
      span.setAttribute('earshot.ttft.server_ms', open.serverMs);
      if (report.ttftMs !== undefined) span.setAttribute('earshot.ttft.network_ms', report.ttftMs - open.serverMs);
    }
    if (report.ttfbMs !== undefined) span.addEvent('earshot.first_byte', at(report.ttfbMs));
    if (report.ttftMs !== undefined) span.addEvent('earshot.first_content', at(report.ttftMs));
    if (report.ttfaMs !== undefined) span.addEvent('earshot.first_audio', at(report.ttfaMs));
    const chunks = report.chunkTimes;
    for (let i = 0; chunks && i < chunks.length && i < this.options.chunkEvents; i++) {
      span.addEvent('earshot.chunk', { 'earshot.chunk.index': i }, this.#origin + chunks[i]);
    }
    span.addEvent('earshot.end', at(report.e2eMs ?? 0));
    this.#status(span, report.outcome === 'error' || report.outcome === 'dropped', report.outcome, report.reason);
    span.end(this.#origin + turnEnd(report));
    return span;
  }

  /** Ends a connection's span; returns it. */
  connection(report: ConnectionReport): Span | undefined {
    const open = this.#take(report.id);
    if (!open) return;
    const { span } = open;
    span.setAttributes(connectionAttributes(report, this.options.reasons));
    this.#status(span, report.outcome === 'dropped', report.outcome, report.reason);
    span.end(this.#origin + report.closedAt);
    return span;
  }

  #status(span: Span, failed: boolean, outcome: string, reason: string | undefined): void {
    if (failed) span.setStatus({ code: SpanStatusCode.ERROR, message: this.options.reasons && reason ? reason : outcome });
  }

  #take(id: string): OpenSpan | undefined {
    const open = this.#open.get(id);
    if (open) {
      this.#open.delete(id);
      if (open.headers.traceparent) this.#byTraceparent.delete(open.headers.traceparent);
      const ended = this.#ended;
      ended.set(id, open.span.spanContext());
      if (ended.size > ENDED_KEPT) ended.delete(ended.keys().next().value!);
    }
    return open;
  }
}
