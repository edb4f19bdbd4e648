/**
 * The vocabulary of earshot (see DESIGN.md): connections carry turns, turns carry content chunks.
 * Every time is a `performance.now()` reading in milliseconds on one clock.
 */

export type Transport = 'websocket' | 'fetch' | 'webrtc' | 'manual';

/** How a turn ended. `abandoned` (app close, abort, page unload) is never good and never dropped. */
export type Outcome = 'complete' | 'error' | 'dropped' | 'abandoned';

/** The latency criteria of the SLO; every value is an inclusive upper bound, in ms unless named otherwise. */
export interface SloCriteria {
  ttftMs?: number;
  ttfaMs?: number;
  tpotMs?: number;
  e2eMs?: number;
  maxGapMs?: number;
  /** Bound on the turn's real-time factor `rtf` (no unit), judged on turns that carried audio. */
  rtf?: number;
}
export type SloCriterion = keyof SloCriteria;

/**
 * Why a bad turn spent error budget. `infrastructure`: it did not complete (drop, error, timeout);
 * `latency`: it missed a latency criterion; `quality`: the app judged its result bad;
 * `configuration`: the app marked its failure as a configuration fault.
 */
export type SloCategory = 'infrastructure' | 'latency' | 'quality' | 'configuration';

/** What a turn failed: a criterion, `outcome` when it did not complete, or the app's verdict. */
export type SloFailure = SloCriterion | 'outcome' | 'quality' | 'configuration';

/** A long/short window pair and the burn-rate factor over which it alerts (SRE workbook, table 5-8). */
export interface BurnWindow {
  longMs: number;
  shortMs: number;
  factor: number;
  /** How a generated alert on this pair notifies. Default: `page` for a long window of 6 h or less, else `ticket`. */
  severity?: 'page' | 'ticket';
}

export interface SloOptions extends SloCriteria {
  /** Share of valid turns that must be good, e.g. 0.99. Default 0.99. */
  objective?: number;
  /** Burn-rate alert windows (for `earshot/slo`). Default: 1h/5m x14.4, 6h/30m x6, 3d/6h x1. */
  windows?: BurnWindow[];
  /** A burn-rate window with fewer valid turns than this never fires. Default 10. */
  minEvents?: number;
}

/** Distribution of one quantity: exact count/mean/min/max, percentiles within 1.1% relative error. */
export interface Distribution {
  count: number;
  mean: number;
  min: number;
  max: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
}

/** Inter-token latency of one turn: gaps between consecutive content chunks after the first. */
export interface ItlReport extends Distribution {
  /** Standard deviation of the gaps: the turn's jitter. */
  stddev: number;
  /** Gaps longer than the stall threshold. */
  stalls: number;
}

export interface SloResult {
  good: boolean;
  /** Criteria the turn failed, `outcome` when it did not complete, and the app's verdict when it judged the turn bad. */
  failed: SloFailure[];
  /**
   * The category of budget a bad turn spent; undefined for a good or an abandoned turn. One per bad
   * turn: the app's verdict (`quality` or `configuration`) when it gave one, else `infrastructure` when
   * the turn did not complete (it also misses its latency bounds), else `latency`.
   */
  category?: SloCategory;
}

export interface TurnReport {
  id: string;
  connectionId: string;
  transport: Transport;
  /** Redacted URL of the connection, when there is one. */
  url?: string;
  /** performance.now() when the request left the client. */
  t0: number;
  /** Absolute epoch ms of t0 (performance.timeOrigin + t0). */
  startTime: number;
  ttfbMs?: number;
  ttftMs?: number;
  ttfaMs?: number;
  /** Time to first display: the reply's first text shown to the reader (e.g. by `earshot/text`) − t0. */
  ttfdMs?: number;
  e2eMs?: number;
  tpotMs?: number;
  /** Output tokens: from `usage` when the server reported it, otherwise the adapter's count. */
  tokens: number;
  /** True when `tokens` is an estimate (no usage report, adapter counted chunks). */
  tokensEstimated: boolean;
  /** Content chunks received. */
  chunks: number;
  /** Audio received in this turn, ms of media. */
  audioMs: number;
  /** (last audio arrival - t0) / audio received; >= 1 means the stream falls behind real time. */
  rtf?: number;
  itl: ItlReport;
  outcome: Outcome;
  /** Why the turn failed, was dropped or abandoned. */
  reason?: string;
  slo: SloResult;
  /** performance.now() of each content chunk, when `chunkTimes` was asked for (capped). */
  chunkTimes?: number[];
}

export interface ConnectionReport {
  id: string;
  transport: Transport;
  url?: string;
  openedAt: number;
  closedAt: number;
  outcome: 'clean' | 'dropped' | 'abandoned';
  reason?: string;
  /** WebSocket close code, when there was one. */
  code?: number;
  turns: number;
}

export interface BurnReport extends BurnWindow {
  longBurn: number;
  shortBurn: number;
  longValid: number;
  shortValid: number;
  /** Both windows over the factor and each with at least `minEvents` valid turns. */
  firing: boolean;
}

export interface Summary {
  turns: {
    started: number;
    open: number;
    complete: number;
    error: number;
    dropped: number;
    abandoned: number;
    /** Ended turns that count toward goodput: all but abandoned. */
    valid: number;
    good: number;
  };
  /** good / valid, undefined before the first valid turn. */
  goodput?: number;
  /** Exact count of turns that failed each criterion (a turn may fail several). */
  failedBy: Record<SloFailure, number>;
  connections: {
    opened: number;
    active: number;
    /** High-water mark of active connections since the last `takePeak()`. */
    peak: number;
    clean: number;
    dropped: number;
    abandoned: number;
  };
  /** dropped / (dropped + clean) connections, undefined before the first ended connection. */
  dropRate?: number;
  objective: number;
  /** 1 - (bad / valid) / (1 - objective) over the whole session: share of error budget left. */
  budgetRemaining?: number;
  /**
   * Share of the error budget each category spent: its bad turns / valid / (1 - objective). The shares
   * sum to 1 - budgetRemaining. Undefined before the first valid turn.
   */
  budgetSpent?: Record<SloCategory, number>;
  ttfb: Distribution;
  ttft: Distribution;
  ttfa: Distribution;
  e2e: Distribution;
  tpot: Distribution;
  /** Every ITL sample of every turn. */
  itl: Distribution;
  /** Per-turn jitter (stddev of ITL). */
  jitter: Distribution;
  rtf: Distribution;
}

/** Data as a transport carries it. */
export type WireData = string | ArrayBufferLike | ArrayBufferView | Blob;

/** What a message means to the turn model. */
export type MessageKind = 'request' | 'content' | 'end' | 'error' | 'noise';

export interface MessageInfo {
  kind: MessageKind;
  /** Output tokens in a content message (default 1 per content message, flagged as an estimate). */
  tokens?: number;
  /** Audio in a content message, ms of media. */
  audioMs?: number;
  /** Output tokens of the whole turn as reported by the server (`usage`): exact, replaces the count. */
  usageTokens?: number;
  /** Error text for `error` messages. */
  error?: string;
}

/** An adapter's verdict on one message: a bare kind, or a kind with counts. */
export type Classification = MessageKind | MessageInfo | undefined;

/**
 * Per-stream scratch shared by the transport and its adapter; one object per connection so the
 * per-message path allocates nothing of its own.
 */
export interface StreamContext {
  /** SSE `event:` field of the message being classified, if any. */
  event?: string;
  /** Set by an adapter once it recognises a wire format whose turns end with a terminal message. */
  requireEnd?: boolean;
  /** Free slot for an adapter's own per-stream state. */
  state?: unknown;
}

/** How a fetch body is split into messages before classification. */
export type Framing = 'sse' | 'ndjson' | 'chunk';

/**
 * Decides what is a request, content, the end of a turn, an error, or noise.
 * A plain function `(data, direction, ctx) => Classification` is accepted wherever an Adapter is.
 */
export interface Adapter {
  readonly name: string;
  /** Framing of fetch bodies; default `chunk` (each body chunk is one message). */
  readonly framing?: Framing;
  /** Classify a message received from the server. */
  received(data: WireData, ctx: StreamContext): Classification;
  /** Classify a message the app sends. Default: every sent message is a request. */
  sent?(data: WireData, ctx: StreamContext): Classification;
}

export type AdapterFunction = (
  data: WireData,
  direction: 'in' | 'out',
  ctx: StreamContext,
) => Classification;

export type AdapterLike = Adapter | AdapterFunction;

/**
 * A telemetry sink, such as `otel()` from `earshot/otel`: it sees every report, starts a span for each
 * connection and turn, and says how requests carry that span's W3C `traceparent`. Hooks are plain
 * functions; a failure in one is counted as earshot's own error, never thrown into the app.
 */
export interface SinkHooks {
  /** A connection (no parent) or a turn of connection `parentId` starts at `at`: its traceparent, if any. */
  start?: (id: string, parentId: string | undefined, url: string | undefined, at: number) => string | undefined;
  turn?: (report: TurnReport) => void;
  connection?: (report: ConnectionReport) => void;
  /** Headers a fetch to `url` carries for `traceparent`; none (undefined) e.g. for another origin. */
  headers?: (url: string, traceparent: string) => Record<string, string> | undefined;
  /** The URL and protocols a WebSocket opens with, carrying its connection's `traceparent`. */
  websocket?: (url: string, protocols: string[], traceparent: string) => [url: string, protocols: string[]];
  /** A request message carrying its turn's `traceparent`, e.g. as a JSON field. */
  message?: (data: WireData, traceparent: string) => WireData;
  /** The response headers of a fetch turn arrived (e.g. `Server-Timing`). */
  response?: (turnId: string, headers: Headers) => void;
}
