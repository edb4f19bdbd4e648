import { ROOT_CONTEXT, trace, TraceFlags, type SpanContext } from '@opentelemetry/api';
import { SeverityNumber, type LogAttributes, type Logger } from '@opentelemetry/api-logs';
import type { ConnectionReport, SloFailure, TurnReport } from '../core/types';
import type { Loss } from './delivery';
import { connectionAttributes, turnAttributes, turnEnd } from './spans';

/** The log records earshot emits, by event name. */
export const LOG_EVENTS = {
  slo: 'earshot.slo.violation',
  drop: 'earshot.connection.dropped',
  exportFailed: 'earshot.export.failed',
  underrun: 'earshot.player.underrun',
} as const;

const SEVERITY = { INFO: SeverityNumber.INFO, WARN: SeverityNumber.WARN, ERROR: SeverityNumber.ERROR } as const;
type Severity = keyof typeof SEVERITY;

/** The turn span attribute holding the figure each latency criterion bounds. */
const FIGURE: Partial<Record<SloFailure, string>> = {
  ttftMs: 'earshot.ttft_ms',
  ttfaMs: 'earshot.ttfa_ms',
  tpotMs: 'earshot.tpot_ms',
  e2eMs: 'earshot.e2e_ms',
  maxGapMs: 'earshot.itl.max_ms',
  rtf: 'earshot.rtf',
};
/** What an SLO violation record tells of its turn, besides the figures that failed. */
const VIOLATION = ['earshot.turn.id', 'earshot.connection.id', 'earshot.transport', 'earshot.outcome', 'earshot.slo.failed', 'earshot.slo.category', 'earshot.reason'];

/** The rate limit's window. */
const WINDOW_MS = 60_000;
/** Event names with an allowance of their own; past these, the app's further names share one. */
const NAMED_ALLOWANCES = 32;

/** One event name's share of the rate limit: its window, the records it emitted, those it held back since. */
interface Allowance {
  windowEnd: number;
  used: number;
  held: number;
}

/**
 * earshot's log records: each on the trace of its turn or connection (the span's context, so a
 * backend shows it beside the span), at the time it describes, under the rate limit of `perMinute`
 * records per minute of each event name, so that a storm of one kind (underruns on a bad network)
 * never hides another (the SLO violation of the turn it spoiled). What the limit holds back is
 * counted (`suppressed`), and the next record of that name says how many came before it unsent
 * (`earshot.logs.suppressed`). Records of spans that are not sampled are not emitted, as
 * OpenTelemetry's `trace_based` filter does.
 */
export class TurnLogs {
  /** By event name, at most NAMED_ALLOWANCES of them and the one the rest share. */
  #allowances = new Map<string, Allowance>();
  /** Held back in all. */
  suppressed = 0;

  constructor(
    readonly logger: Logger,
    readonly perMinute: number,
    /** Record reasons, which may quote what the server sent. */
    readonly reasons: boolean,
  ) {}

  /** A record on the trace of `span` (none: on no trace), at `at` (performance.now(); default now). Undefined attributes are left out. */
  emit(eventName: string, severity: Severity, body: string | undefined, attributes: LogAttributes, span?: SpanContext, at?: number): void {
    if (span && !(span.traceFlags & TraceFlags.SAMPLED)) return;
    const now = performance.now();
    const key = this.#allowances.has(eventName) || this.#allowances.size < NAMED_ALLOWANCES ? eventName : '';
    let allowance = this.#allowances.get(key);
    if (!allowance) this.#allowances.set(key, (allowance = { windowEnd: -Infinity, used: 0, held: 0 }));
    if (now >= allowance.windowEnd) {
      allowance.windowEnd = now + WINDOW_MS;
      allowance.used = 0;
    }
    if (allowance.used >= this.perMinute) {
      this.suppressed++;
      allowance.held++;
      return;
    }
    allowance.used++;
    const defined: LogAttributes = {};
    for (const key in attributes) if (attributes[key] !== undefined) defined[key] = attributes[key];
    if (allowance.held) defined['earshot.logs.suppressed'] = allowance.held;
    allowance.held = 0;
    this.logger.emit({
      eventName,
      severityNumber: SEVERITY[severity],
      severityText: severity,
      body,
      attributes: defined,
      timestamp: at === undefined ? undefined : performance.timeOrigin + at,
      // Never the app's active span: the record belongs to the turn it names, or to none.
      context: span ? trace.setSpanContext(ROOT_CONTEXT, span) : ROOT_CONTEXT,
    });
  }

  /** A turn that missed its SLO: the criteria it failed and its figures for them, when it ended. */
  turn(report: TurnReport, span: SpanContext | undefined): void {
    const { good, failed } = report.slo;
    if (good || report.outcome === 'abandoned') return;
    const all = turnAttributes(report, this.reasons);
    const attributes: LogAttributes = {};
    for (const key of VIOLATION) attributes[key] = all[key];
    for (const failure of failed) {
      const key = FIGURE[failure];
      if (key) attributes[key] = all[key];
    }
    this.emit(LOG_EVENTS.slo, 'WARN', `turn ${report.id} missed its SLO: ${failed.join(', ')}`, attributes, span, turnEnd(report));
  }

  /** A dropped connection, with its close code, when it closed. */
  connection(report: ConnectionReport, span: SpanContext | undefined): void {
    if (report.outcome !== 'dropped') return;
    const code = report.code === undefined ? '' : ` (close code ${report.code})`;
    const attributes = { 'url.full': report.url, ...connectionAttributes(report, this.reasons) };
    this.emit(LOG_EVENTS.drop, 'WARN', `connection ${report.id} dropped${code}`, attributes, span, report.closedAt);
  }

  /** Telemetry earshot could not export, and its drop counter (`dropped`: all items lost so far). */
  lost(signal: string, items: number, why: Loss, dropped: number): void {
    const what = why === 'queue_full' ? 'export queue full (items turned away' : 'export failed (items';
    this.emit(LOG_EVENTS.exportFailed, 'ERROR', `${signal} ${what}: ${items})`, {
      'earshot.signal': signal,
      'earshot.export.items': items,
      'earshot.export.reason': why,
      'earshot.telemetry.dropped': dropped,
    });
  }

  /** The jitter buffer ran out of audio at `at` during player turn `playerTurn`, in turn `turnId`. */
  underrun(playerTurn: number, at: number, turnId: string | undefined, span: SpanContext | undefined): void {
    const attributes = { 'earshot.turn.id': turnId, 'earshot.player.turn': playerTurn };
    this.emit(LOG_EVENTS.underrun, 'WARN', 'audio ran out: the player is concealing silence', attributes, span, at);
  }
}
